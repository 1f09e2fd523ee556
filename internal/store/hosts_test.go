package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

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
