package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// TestFlavorKeysetEverySortKey pages through flavors one at a time on
// every sortable column, both directions, and checks that the pages add up
// to the whole list in order: the keyset condition must work for text,
// integer, float and boolean columns on both backends.
func TestFlavorKeysetEverySortKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for i, f := range []store.Flavor{
				{ID: "a", Name: "zeta", RAM: 512, VCPUs: 2, Disk: 1, RxTxFactor: 1, IsPublic: true},
				{ID: "b", Name: "eta", RAM: 512, VCPUs: 1, Disk: 5, RxTxFactor: 2, IsPublic: false, Disabled: true},
				{ID: "c", Name: "theta", RAM: 2048, VCPUs: 1, Disk: 5, Swap: 10, RxTxFactor: 1, IsPublic: true, Description: "x"},
				{ID: "d", Name: "iota", RAM: 128, VCPUs: 8, Disk: 0, Ephemeral: 4, RxTxFactor: 0.5, IsPublic: false},
			} {
				f.CreatedAt, f.UpdatedAt = at.Add(-timeStep(i)), at.Add(timeStep(i))
				if err := tx.CreateFlavor(ctx, f); err != nil {
					return err
				}
			}
			return nil
		})
		for _, key := range []string{"created_at", "description", "disabled", "ephemeral_gb", "id", "is_public",
			"ram_mb", "name", "disk_gb", "rxtx_factor", "swap_mb", "updated_at", "vcpus"} {
			for _, desc := range []bool{false, true} {
				var all, paged []string
				read(t, db, func(ctx context.Context, tx *store.Tx) error {
					fs, err := tx.ListFlavorsBy(ctx, store.FlavorQuery{SortColumn: key, Desc: desc})
					for _, f := range fs {
						all = append(all, f.ID)
					}
					if err != nil {
						return err
					}
					marker := ""
					for i := 0; i < 10; i++ {
						page, err := tx.ListFlavorsBy(ctx, store.FlavorQuery{SortColumn: key, Desc: desc, Page: store.Page{Limit: 1, Marker: marker}})
						if err != nil || len(page) == 0 {
							return err
						}
						paged = append(paged, page[0].ID)
						marker = page[0].ID
					}
					return nil
				})
				if len(all) != 4 {
					t.Fatalf("%s: listed %v", key, all)
				}
				if key == "name" && !desc && !cmp.Equal(all, []string{"b", "d", "c", "a"}) {
					t.Errorf("sorted by name: %v, want b d c a (eta, iota, theta, zeta)", all)
				}
				if diff := cmp.Diff(all, paged); diff != "" {
					t.Errorf("sort %s desc=%v: pages differ from the list (-list +pages):\n%s", key, desc, diff)
				}
			}
		}
		// Filters: is_public tri-state with access, hidden disabled, minimums.
		yes, no := true, false
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.AddFlavorAccess(ctx, "d", "p1") })
		for _, tc := range []struct {
			name string
			q    store.FlavorQuery
			want []string
		}{
			{"all", store.FlavorQuery{}, []string{"a", "b", "c", "d"}},
			{"public", store.FlavorQuery{IsPublic: &yes}, []string{"a", "c"}},
			{"public or shared", store.FlavorQuery{IsPublic: &yes, AccessProject: "p1"}, []string{"a", "c", "d"}},
			{"private", store.FlavorQuery{IsPublic: &no}, []string{"b", "d"}},
			{"enabled", store.FlavorQuery{HideDisabled: true}, []string{"a", "c", "d"}},
			{"min ram and disk", store.FlavorQuery{MinRAM: 512, MinDisk: 5}, []string{"b", "c"}},
		} {
			var got []string
			read(t, db, func(ctx context.Context, tx *store.Tx) error {
				fs, err := tx.ListFlavorsBy(ctx, tc.q)
				for _, f := range fs {
					got = append(got, f.ID)
				}
				return err
			})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

func timeStep(i int) time.Duration { return time.Duration(i) * time.Minute }
