package identity

import (
	"context"
	"time"

	"github.com/onestack/onestack/internal/store"
)

// revocations is the in-memory copy of the revocation table, indexed by kind
// and value, so checking a token costs map lookups only.
type revocations map[string]map[string]time.Time

func (r revocations) revoked(kind, value string, issuedAt time.Time) bool {
	if value == "" {
		return false
	}
	before, ok := r[kind][value]
	return ok && !issuedAt.After(before)
}

// refresh makes sure the caches reflect the store: at most every
// cfg.EpochCheck it reads the identity epoch (one indexed row) and, when it
// moved, reloads the revocations and drops the derived authorisations.
// Writes through this process reset checkedAt, so they are seen at once.
func (s *Service) refresh(ctx context.Context) error {
	now := s.now()
	s.mu.RLock()
	fresh := now.Sub(s.checkedAt) < s.cfg.EpochCheck
	gen := s.gen
	s.mu.RUnlock()
	if fresh {
		return nil
	}
	var epoch int64
	var revs revocations
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		if epoch, err = tx.Epoch(ctx, "identity"); err != nil {
			return err
		}
		s.mu.RLock()
		same := epoch == s.epoch && s.revs != nil
		s.mu.RUnlock()
		if same {
			return nil
		}
		list, err := tx.ListRevocations(ctx, now)
		if err != nil {
			return err
		}
		revs = revocations{}
		for _, r := range list {
			if revs[r.Kind] == nil {
				revs[r.Kind] = map[string]time.Time{}
			}
			revs[r.Kind][r.Value] = r.IssuedBefore
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		// Otherwise a local write landed after the read above: leave
		// checkedAt as the write set it, so the next call looks again.
		s.checkedAt = now
	}
	// A slower refresh that read an older epoch must not replace a newer one.
	if revs != nil && (s.revs == nil || epoch > s.epoch) {
		s.epoch, s.revs = epoch, revs
		s.authz = map[authzKey]*authzEntry{}
		s.catalog = nil
		s.gen++
	}
	return nil
}
