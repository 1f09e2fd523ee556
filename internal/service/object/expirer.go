package object

import (
	"context"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// reap removes every object whose X-Delete-At has passed (Swift's
// object-expirer). Reads hide such objects already; this frees their
// space and takes them out of listings and counters.
func (s *Service) reap(ctx context.Context) error {
	for range 100 {
		var due []store.Object
		err := s.db.Read(ctx, func(tx *store.Tx) (err error) {
			due, err = tx.ExpiredObjects(ctx, s.now().Unix(), 100)
			return err
		})
		if err != nil || len(due) == 0 {
			return err
		}
		for _, o := range due {
			if err := s.remove(ctx, o.Account, o.Container, o.Name, true); err != nil && !oserr.Is(err, 404) {
				return err
			}
		}
		if len(due) < 100 {
			return nil
		}
	}
	return nil
}
