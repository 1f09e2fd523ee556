package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// BenchmarkStoreRoundTrip measures one transaction on each backend: a Read
// that fetches a user by id and a Write that updates it.
func BenchmarkStoreRoundTrip(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			db := storetest.Open(b, backend)
			f := seed(b, db)
			ctx := context.Background()
			b.Run("read", func(b *testing.B) {
				for b.Loop() {
					err := db.Read(ctx, func(tx *store.Tx) error {
						_, err := tx.GetUser(ctx, f.user.ID)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "us/tx")
			})
			b.Run("write", func(b *testing.B) {
				u := f.user
				for b.Loop() {
					u.Enabled = !u.Enabled
					if err := db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateUser(ctx, u) }); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "us/tx")
			})
		})
	}
}

// BenchmarkConcurrentServerWrites measures what the fleet bench's writers
// do at once: 32 transactions, each updating one server and then reading a
// few more rows (as the API's create, the scheduler's placements and an
// agent's report do), on each backend. Every server write takes a revision
// from the one compute epoch row, which stays locked until COMMIT; how long
// a transaction holds it decides how many commit per second on PostgreSQL.
func BenchmarkConcurrentServerWrites(b *testing.B) {
	const writers, after = 32, 4
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			db := storetest.Open(b, backend)
			ctx := context.Background()
			ids := make([]string, writers)
			err := db.Write(ctx, func(tx *store.Tx) error {
				for i := range ids {
					ids[i] = fmt.Sprintf("server-%02d", i)
					now := time.Now()
					v := store.Server{ID: ids[i], Name: "bench", Host: fmt.Sprintf("host-%d", i), VMState: "building", CreatedAt: now, UpdatedAt: now}
					if err := tx.CreateServer(ctx, &v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				var g errgroup.Group
				for i := range writers {
					g.Go(func() error {
						return db.Write(ctx, func(tx *store.Tx) error {
							v, err := tx.GetServer(ctx, ids[i])
							if err != nil {
								return err
							}
							v.PowerState++
							if err := tx.UpdateServer(ctx, &v, 0); err != nil {
								return err
							}
							for j := range after {
								if _, err := tx.GetServer(ctx, ids[(i+j+1)%writers]); err != nil {
									return err
								}
							}
							return nil
						})
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*writers), "us/tx")
		})
	}
}
