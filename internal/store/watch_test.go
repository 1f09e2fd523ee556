package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// TestWatchSeesEveryWrite follows a host as an agent's watch does (the
// epoch, then the servers after a revision, in small pages) while many
// writers update its servers, one to three per transaction. When the
// writers stop, the watcher must hold every server's committed state:
// revisions have to become visible in order, or a page would move the
// watcher past a row that commits later with a smaller revision. Every
// row it is handed has a revision of its own, after the previous one.
func TestWatchSeesEveryWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const servers, writers, writes = 12, 8, 25
		ids := make([]string, servers)
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for i := range ids {
				ids[i] = fmt.Sprintf("s%02d", i)
				v := store.Server{ID: ids[i], Name: "0", Host: "h", VMState: "active", CreatedAt: at, UpdatedAt: at}
				if err := tx.CreateServer(ctx, &v); err != nil {
					return err
				}
			}
			return nil
		})

		var version atomic.Int64
		var done atomic.Bool
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range writes {
					err := db.Write(ctx, func(tx *store.Tx) error {
						for _, i := range rand.Perm(servers)[:1+rand.IntN(3)] {
							v, err := tx.GetServer(ctx, ids[i])
							if err != nil {
								return err
							}
							v.Name = fmt.Sprint(version.Add(1))
							if err := tx.UpdateServer(ctx, &v, 0); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						t.Errorf("write: %v", err)
						return
					}
				}
			})
		}
		go func() { wg.Wait(); done.Store(true) }()

		seen := map[string]string{}
		var since int64
		for {
			finished := done.Load() // read before the pass: a pass after the last commit must follow
			var epoch int64
			var page []store.Server
			read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
				if epoch, err = tx.Epoch(ctx, "compute"); err != nil {
					return err
				}
				page, err = tx.ServersChangedOnHost(ctx, "h", since, 5)
				return err
			})
			next := since
			for _, v := range page {
				if v.Revision <= next {
					t.Fatalf("watch after %d handed %s at revision %d", next, v.ID, v.Revision)
				}
				next = v.Revision
				seen[v.ID] = v.Name
			}
			if len(page) < 5 && epoch > next {
				next = epoch
			}
			since = next
			if finished && len(page) == 0 {
				break
			}
		}

		want := map[string]string{}
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			for _, id := range ids {
				v, err := tx.GetServer(ctx, id)
				if err != nil {
					return err
				}
				want[id] = v.Name
			}
			return nil
		})
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("watcher's view after the writers stopped (-committed +seen):\n%s", diff)
		}
	})
}
