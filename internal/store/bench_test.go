package store_test

import (
	"context"
	"testing"

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
