package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// TestFlavorKeysetEverySortKey pages through flavors one at a time on
// every Nova sort key, both directions, and checks that the pages add up
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
		for _, key := range store.FlavorSortKeyNames() {
			for _, desc := range []bool{false, true} {
				var all, paged []string
				read(t, db, func(ctx context.Context, tx *store.Tx) error {
					fs, err := tx.ListFlavorsBy(ctx, store.FlavorQuery{SortKey: key, Desc: desc})
					for _, f := range fs {
						all = append(all, f.ID)
					}
					if err != nil {
						return err
					}
					marker := ""
					for i := 0; i < 10; i++ {
						page, err := tx.ListFlavorsBy(ctx, store.FlavorQuery{SortKey: key, Desc: desc, Page: store.Page{Limit: 1, Marker: marker}})
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

// TestConcurrentHostRegistration registers many hosts at once, as 1,000
// in-process agents do at start: each must get a distinct number on the
// first attempt (PostgreSQL once failed them on compute_hosts_seq), and a
// deleted host's number is not handed out again.
func TestConcurrentHostRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const n = 48
		seqs := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				name := fmt.Sprintf("host-%d", i)
				errs[i] = db.Write(ctx, func(tx *store.Tx) error {
					h, err := tx.UpsertHost(ctx, store.ComputeHost{ID: "id-" + name, Host: name, Enabled: true, HypervisorType: "fake", CPUInfo: "{}"})
					seqs[i] = h.Seq
					return err
				})
			})
		}
		wg.Wait()
		seen := map[int]bool{}
		for i, err := range errs {
			if err != nil {
				t.Errorf("register host-%d: %v", i, err)
			}
			if seen[seqs[i]] {
				t.Errorf("host-%d got seq %d twice", i, seqs[i])
			}
			seen[seqs[i]] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct numbers for %d hosts", len(seen), n)
		}
		last := 0
		for s := range seen {
			last = max(last, s)
		}
		// Delete the newest host, register another: it gets a new number.
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			h, err := tx.GetHostBySeq(ctx, last)
			if err != nil {
				return err
			}
			if err := tx.DeleteHost(ctx, h.ID); err != nil {
				return err
			}
			h, err = tx.UpsertHost(ctx, store.ComputeHost{ID: "id-new", Host: "new", Enabled: true, HypervisorType: "fake", CPUInfo: "{}"})
			if err != nil {
				return err
			}
			if h.Seq != last+1 {
				t.Errorf("host registered after deleting seq %d got seq %d, want %d", last, h.Seq, last+1)
			}
			return nil
		})
	})
}

func TestHostQueriesAndLoads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for _, h := range []string{"rack_1-a", "rack11-b", "edge"} {
				if _, err := tx.UpsertHost(ctx, store.ComputeHost{ID: "id-" + h, Host: h, Enabled: true, HypervisorType: "QEMU", CPUInfo: "{}"}); err != nil {
					return err
				}
			}
			f := store.Flavor{ID: "1", RAM: 1024, VCPUs: 2, Disk: 10, Ephemeral: 1, Swap: 1500}
			for _, v := range []store.Server{
				{ID: "s1", Name: "one", Host: "rack_1-a", Flavor: f, VMState: "active", CreatedAt: at, UpdatedAt: at},
				{ID: "s2", Name: "two", Host: "edge", SourceHost: "rack_1-a", Flavor: f, VMState: "active", CreatedAt: at, UpdatedAt: at},
				{ID: "s3", Name: "gone", Host: "rack_1-a", Flavor: f, VMState: "deleted", Deleted: true, CreatedAt: at, UpdatedAt: at},
			} {
				v := v
				if err := tx.CreateServer(ctx, &v); err != nil {
					return err
				}
			}
			return nil
		})
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			// "_" is literal in the pattern, not a LIKE wildcard.
			hs, err := tx.ListHostsBy(ctx, store.HostQuery{Pattern: "k_1"})
			if err != nil {
				return err
			}
			if len(hs) != 1 || hs[0].Host != "rack_1-a" {
				t.Errorf("pattern k_1: %v", hs)
			}
			hs, _ = tx.ListHostsBy(ctx, store.HostQuery{AfterSeq: 1, Limit: 1})
			if len(hs) != 1 || hs[0].Seq != 2 {
				t.Errorf("after seq 1: %v", hs)
			}
			loads, err := tx.ServerLoads(ctx, []string{"rack_1-a"})
			if err != nil {
				return err
			}
			if len(loads) != 2 || loads[0].DiskGB != 13 || loads[1].SourceHost != "rack_1-a" {
				t.Errorf("loads: %+v", loads)
			}
			all, _ := tx.ServerLoads(ctx, nil)
			n, _ := tx.CountServersOnHost(ctx, "rack_1-a")
			if len(all) != 2 || n != 2 {
				t.Errorf("all loads %d, on rack_1-a %d", len(all), n)
			}
			m, err := tx.GroupMembersOf(ctx, nil)
			if err != nil || len(m) != 0 {
				t.Errorf("members of no group: %v %v", m, err)
			}
			return nil
		})
	})
}

func timeStep(i int) time.Duration { return time.Duration(i) * time.Minute }
