package placement_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/service/placement"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func newService(t testing.TB, db *store.DB) *placement.Service {
	t.Helper()
	s := placement.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func uuidN(prefix string, i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", prefix[0], i)
}

const (
	host1 = "11111111-0000-4000-8000-000000000001"
	host2 = "22222222-0000-4000-8000-000000000002"
)

func hostInventory(vcpu, memMB int64) map[string]placement.Inventory {
	return map[string]placement.Inventory{"VCPU": {Total: vcpu}, "MEMORY_MB": {Total: memMB}}
}

func snapshotOf(t *testing.T, s *placement.Service, uuid string) placement.ProviderCapacity {
	t.Helper()
	snap, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap {
		if p.UUID == uuid {
			return p
		}
	}
	t.Fatalf("provider %s not in snapshot", uuid)
	return placement.ProviderCapacity{}
}

func checkNoDrift(t *testing.T, db *store.DB) {
	t.Helper()
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		drift, err := tx.UsageDrift(context.Background())
		if len(drift) > 0 {
			t.Errorf("inventory usage differs from the sum of allocations: %+v", drift)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnsureProviderIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, ctx := newService(t, db), context.Background()
		if err := s.EnsureProvider(ctx, host1, "compute-1", hostInventory(8, 16384), []string{"CUSTOM_RACK_A", "HW_CPU_X86_AVX2"}); err != nil {
			t.Fatal(err)
		}
		p := snapshotOf(t, s, host1)
		want := placement.ResourceCapacity{Capacity: 8, MinUnit: 1, MaxUnit: 8, StepSize: 1}
		if diff := cmp.Diff(want, p.Resources["VCPU"]); diff != "" {
			t.Errorf("VCPU (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"CUSTOM_RACK_A", "HW_CPU_X86_AVX2"}, p.Traits); diff != "" {
			t.Errorf("traits (-want +got):\n%s", diff)
		}
		// The same registration again writes nothing.
		if err := s.EnsureProvider(ctx, host1, "compute-1", hostInventory(8, 16384), []string{"HW_CPU_X86_AVX2", "CUSTOM_RACK_A"}); err != nil {
			t.Fatal(err)
		}
		if g := snapshotOf(t, s, host1).Generation; g != p.Generation {
			t.Errorf("generation moved from %d to %d on an unchanged registration", p.Generation, g)
		}
		// A changed one updates in place and keeps what is allocated.
		if err := s.Claim(ctx, placement.Consumer{ID: uuidN("c", 1), ProjectID: "p", UserID: "u"}, host1, map[string]int64{"VCPU": 2}); err != nil {
			t.Fatal(err)
		}
		inv := hostInventory(16, 16384)
		inv["VCPU"] = placement.Inventory{Total: 16, AllocationRatio: 4, MaxUnit: 16}
		if err := s.EnsureProvider(ctx, host1, "compute-1-renamed", inv, nil); err != nil {
			t.Fatal(err)
		}
		p = snapshotOf(t, s, host1)
		if p.Name != "compute-1-renamed" || p.Resources["VCPU"].Capacity != 64 || p.Resources["VCPU"].Used != 2 || len(p.Traits) != 0 {
			t.Errorf("after update: %+v", p)
		}
		// An inventory in use cannot go.
		err := s.EnsureProvider(ctx, host1, "compute-1-renamed", map[string]placement.Inventory{"MEMORY_MB": {Total: 1}}, nil)
		if !oserr.Is(err, 409) {
			t.Errorf("dropping VCPU in use: %v, want a 409", err)
		}
		checkNoDrift(t, db)
	})
}

func TestClaimReleaseMove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, ctx := newService(t, db), context.Background()
		for _, h := range []string{host1, host2} {
			if err := s.EnsureProvider(ctx, h, "host-"+h[:2], hostInventory(4, 4096), nil); err != nil {
				t.Fatal(err)
			}
		}
		vm := placement.Consumer{ID: uuidN("v", 1), ProjectID: "shop", UserID: "ops", Type: "INSTANCE"}
		if err := s.Claim(ctx, vm, host1, map[string]int64{"VCPU": 3, "MEMORY_MB": 2048}); err != nil {
			t.Fatal(err)
		}
		// The next claim no longer fits: a typed error names the class.
		other := placement.Consumer{ID: uuidN("v", 2), ProjectID: "shop", UserID: "ops"}
		err := s.Claim(ctx, other, host1, map[string]int64{"VCPU": 2, "MEMORY_MB": 512})
		var ce *placement.CapacityError
		if !errors.As(err, &ce) {
			t.Fatalf("over-commit: %v, want a *CapacityError", err)
		}
		if ce.Provider != host1 || ce.Class != "VCPU" || ce.Requested != 2 || ce.Free != 1 {
			t.Errorf("CapacityError = %+v, want VCPU requested 2 free 1 on host1", ce)
		}
		if !oserr.Is(err, 409) {
			t.Errorf("CapacityError does not render as a 409: %v", err)
		}
		// Units are checked too.
		err = s.Claim(ctx, other, host2, map[string]int64{"VCPU": 5})
		if !errors.As(err, &ce) || ce.Reason == "" {
			t.Errorf("above max_unit: %v, want a CapacityError with a reason", err)
		}
		err = s.Claim(ctx, other, host2, map[string]int64{"DISK_GB": 1})
		if !errors.As(err, &ce) || ce.Class != "DISK_GB" {
			t.Errorf("no inventory: %v, want a CapacityError for DISK_GB", err)
		}

		// Resize/migrate: the migration record takes the source, the server claims the destination.
		migration := placement.Consumer{ID: uuidN("m", 1)}
		if err := s.MoveAllocations(ctx, vm.ID, migration); err != nil {
			t.Fatal(err)
		}
		if err := s.Claim(ctx, vm, host2, map[string]int64{"VCPU": 4, "MEMORY_MB": 1024}); err != nil {
			t.Fatal(err)
		}
		h1, h2 := snapshotOf(t, s, host1), snapshotOf(t, s, host2)
		if h1.Resources["VCPU"].Used != 3 || h2.Resources["VCPU"].Used != 4 {
			t.Errorf("during migration: host1 VCPU used %d (want 3, the migration's), host2 %d (want 4)", h1.Resources["VCPU"].Used, h2.Resources["VCPU"].Used)
		}
		ca, err := s.GetConsumerAllocations(ctx, migration.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ca.Consumer == nil || ca.Consumer.ProjectID != "shop" || len(ca.Allocations) != 2 {
			t.Errorf("migration consumer = %+v, want the server's project and its 2 allocations", ca)
		}
		// Confirm: drop the migration's; releasing twice is fine.
		for range 2 {
			if err := s.Release(ctx, migration.ID); err != nil {
				t.Fatal(err)
			}
		}
		if u := snapshotOf(t, s, host1).Resources["VCPU"].Used; u != 0 {
			t.Errorf("host1 VCPU used after confirm = %d, want 0", u)
		}
		// A claim inside a transaction that fails later leaves nothing behind.
		boom := errors.New("boom")
		err = db.Write(ctx, func(tx *store.Tx) error {
			if err := s.ClaimTx(ctx, tx, other, host1, map[string]int64{"VCPU": 1}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if u := snapshotOf(t, s, host1).Resources["VCPU"].Used; u != 0 {
			t.Errorf("host1 VCPU used after a rolled back claim = %d, want 0", u)
		}
		checkNoDrift(t, db)
	})
}

// TestClaimRace races many claims for the last free slots of one host:
// exactly as many succeed as fit, on SQLite and on PostgreSQL.
func TestClaimRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, ctx := newService(t, db), context.Background()
		if err := s.EnsureProvider(ctx, host1, "busy-host", hostInventory(10, 100000), nil); err != nil {
			t.Fatal(err)
		}
		// Fill all but 3 slots.
		for i := range 7 {
			if err := s.Claim(ctx, placement.Consumer{ID: uuidN("f", i), ProjectID: "p", UserID: "u"}, host1, map[string]int64{"VCPU": 1}); err != nil {
				t.Fatal(err)
			}
		}
		const racers = 24
		var ok, full atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				err := s.Claim(ctx, placement.Consumer{ID: uuidN("r", i), ProjectID: "p", UserID: "u"}, host1, map[string]int64{"VCPU": 1, "MEMORY_MB": 100})
				var ce *placement.CapacityError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ce):
					full.Add(1)
				default:
					t.Errorf("racer %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok.Load() != 3 || full.Load() != racers-3 {
			t.Errorf("%d claims succeeded and %d were refused, want 3 and %d", ok.Load(), full.Load(), racers-3)
		}
		if p := snapshotOf(t, s, host1); p.Resources["VCPU"].Used != 10 || p.Resources["MEMORY_MB"].Used != 300 {
			t.Errorf("usage after the race: %+v, want VCPU 10 and MEMORY_MB 300", p.Resources)
		}
		checkNoDrift(t, db)
	})
}

// TestConsumerGeneration checks microversion 1.28's rules on the shared
// write path.
func TestConsumerGeneration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, ctx := newService(t, db), context.Background()
		if err := s.EnsureProvider(ctx, host1, "h", hostInventory(8, 8192), nil); err != nil {
			t.Fatal(err)
		}
		c := placement.Consumer{ID: uuidN("g", 1), ProjectID: "p", UserID: "u"}
		req := func(gen *int64, vcpu int64) []placement.AllocationRequest {
			r := placement.AllocationRequest{Consumer: c, CheckGeneration: true, Generation: gen, Resources: map[string]map[string]int64{}}
			if vcpu > 0 {
				r.Resources[host1] = map[string]int64{"VCPU": vcpu}
			}
			return []placement.AllocationRequest{r}
		}
		if err := s.SetAllocations(ctx, req(new(int64(3)), 1)); !oserr.Is(err, 409) {
			t.Errorf("generation for a new consumer: %v, want 409", err)
		}
		if err := s.SetAllocations(ctx, req(nil, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAllocations(ctx, req(nil, 2)); !oserr.Is(err, 409) {
			t.Errorf("null generation for an existing consumer: %v, want 409", err)
		}
		if err := s.SetAllocations(ctx, req(new(int64(1)), 2)); err != nil {
			t.Fatal(err)
		}
		ca, _ := s.GetConsumerAllocations(ctx, c.ID)
		if ca.Consumer.Generation != 2 {
			t.Errorf("generation = %d, want 2", ca.Consumer.Generation)
		}
		if err := s.SetAllocations(ctx, req(new(int64(2)), 0)); err != nil {
			t.Fatal(err)
		}
		if ca, _ := s.GetConsumerAllocations(ctx, c.ID); ca.Consumer != nil {
			t.Errorf("a consumer without allocations still exists: %+v", ca.Consumer)
		}
		checkNoDrift(t, db)
	})
}

func TestAllocationCandidatesNested(t *testing.T) {
	s, ctx := newService(t, storetest.New(t)), context.Background()
	// host1 with two NUMA children that hold VCPU and memory; host2 flat.
	numa := []string{uuidN("n", 1), uuidN("n", 2)}
	if err := s.EnsureProvider(ctx, host1, "nested-host", map[string]placement.Inventory{"DISK_GB": {Total: 100}}, []string{"CUSTOM_GOLD"}); err != nil {
		t.Fatal(err)
	}
	for i, n := range numa {
		if _, err := s.CreateProvider(ctx, n, fmt.Sprintf("nested-host-numa%d", i), host1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SetInventories(ctx, n, 0, map[string]placement.Inventory{"VCPU": placement.DefaultInventory(4), "MEMORY_MB": placement.DefaultInventory(4096)}, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.SetProviderTraits(ctx, numa[1], 1, []string{"HW_NUMA_ROOT"}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureProvider(ctx, host2, "flat-host", map[string]placement.Inventory{"VCPU": {Total: 8}, "MEMORY_MB": {Total: 8192}, "DISK_GB": {Total: 10}}, nil); err != nil {
		t.Fatal(err)
	}
	count := func(q placement.CandidateQuery) (int, placement.Candidates) {
		t.Helper()
		res, err := s.AllocationCandidates(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Candidates), res
	}
	base := placement.RequestGroup{Resources: map[string]int64{"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 5}}
	// Unsuffixed: nested host gives 2 NUMA choices × 2 for memory = 4; the flat host 1.
	if n, _ := count(placement.CandidateQuery{Groups: []placement.RequestGroup{base}, Nested: true}); n != 5 {
		t.Errorf("nested-aware candidates = %d, want 5", n)
	}
	// Before 1.29 only single-provider trees answer.
	if n, res := count(placement.CandidateQuery{Groups: []placement.RequestGroup{base}}); n != 1 || len(res.Providers) != 1 {
		t.Errorf("legacy candidates = %d from %d providers, want 1 from the flat host", n, len(res.Providers))
	}
	// The flat host has only 10 GB of disk.
	big := base
	big.Resources = map[string]int64{"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 50}
	if n, res := count(placement.CandidateQuery{Groups: []placement.RequestGroup{big}, Nested: true}); n != 4 || len(res.Providers) != 3 {
		t.Errorf("candidates for 50 GB = %d from %d providers, want 4 from the nested tree", n, len(res.Providers))
	}
	// Granular: VCPU and memory from one NUMA node with HW_NUMA_ROOT, disk from anywhere.
	q := placement.CandidateQuery{Nested: true, Groups: []placement.RequestGroup{
		{Resources: map[string]int64{"DISK_GB": 5}},
		{Suffix: "1", Resources: map[string]int64{"VCPU": 2, "MEMORY_MB": 1024}, RequiredTraits: [][]string{{"HW_NUMA_ROOT"}}},
	}}
	n, res := count(q)
	if n != 1 {
		t.Fatalf("granular candidates = %d, want 1", n)
	}
	want := map[string]map[string]int64{host1: {"DISK_GB": 5}, numa[1]: {"VCPU": 2, "MEMORY_MB": 1024}}
	if diff := cmp.Diff(want, res.Candidates[0].Resources); diff != "" {
		t.Errorf("granular candidate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"": {host1}, "1": {numa[1]}}, res.Candidates[0].Mappings); diff != "" {
		t.Errorf("mappings (-want +got):\n%s", diff)
	}
	// Two groups of 3 VCPU each: isolated, only the two NUMA nodes of host1
	// serve (a 4-VCPU node cannot hold both); without isolation the flat
	// 8-VCPU host serves both groups too.
	two := placement.CandidateQuery{Nested: true, Isolate: true, Groups: []placement.RequestGroup{
		{Suffix: "a", Resources: map[string]int64{"VCPU": 3}},
		{Suffix: "b", Resources: map[string]int64{"VCPU": 3}},
	}}
	if n, _ := count(two); n != 2 {
		t.Errorf("isolated 2×3 VCPU = %d candidates, want 2 (a/b on the two NUMA nodes)", n)
	}
	two.Isolate = false
	if n, _ := count(two); n != 3 {
		t.Errorf("2×3 VCPU = %d candidates, want 3", n)
	}
	// The unsuffixed group's traits may come from any provider it uses;
	// root_required looks at the root only.
	gold := base
	gold.RequiredTraits = [][]string{{"CUSTOM_GOLD"}}
	if n, _ := count(placement.CandidateQuery{Groups: []placement.RequestGroup{gold}, Nested: true}); n != 4 {
		t.Errorf("CUSTOM_GOLD candidates = %d, want 4", n)
	}
	if n, _ := count(placement.CandidateQuery{Groups: []placement.RequestGroup{base}, Nested: true, RootForbidden: []string{"CUSTOM_GOLD"}}); n != 1 {
		t.Errorf("root_required=!CUSTOM_GOLD candidates = %d, want 1", n)
	}
	if n, _ := count(placement.CandidateQuery{Groups: []placement.RequestGroup{base}, Nested: true, Limit: 2}); n != 2 {
		t.Errorf("limit 2 gave %d candidates", n)
	}
	// same_subtree: a resourceless group anchored on HW_NUMA_ROOT must be
	// above the VCPU group's provider.
	sub := placement.CandidateQuery{Nested: true, Groups: []placement.RequestGroup{
		{Suffix: "cpu", Resources: map[string]int64{"VCPU": 1}},
		{Suffix: "anchor", RequiredTraits: [][]string{{"HW_NUMA_ROOT"}}},
	}, SameSubtree: [][]string{{"cpu", "anchor"}}}
	n, res = count(sub)
	if n != 1 || res.Candidates[0].Mappings["cpu"][0] != numa[1] {
		t.Errorf("same_subtree candidates = %d (%+v), want 1 on %s", n, res.Candidates, numa[1])
	}
}

func benchHosts(b *testing.B, backend string, n int) (*placement.Service, []string) {
	b.Helper()
	db := storetest.Open(b, backend)
	s, ctx := newService(b, db), context.Background()
	hosts := make([]string, n)
	for i := range n {
		hosts[i] = uuidN("h", i)
		if err := s.EnsureProvider(ctx, hosts[i], fmt.Sprintf("host-%05d", i), map[string]placement.Inventory{
			"VCPU": {Total: 64, AllocationRatio: 4}, "MEMORY_MB": {Total: 262144}, "DISK_GB": {Total: 2000},
		}, []string{"HW_CPU_X86_AVX2", "COMPUTE_NODE"}); err != nil {
			b.Fatal(err)
		}
	}
	// Some load: one server on every tenth host.
	for i := 0; i < n; i += 10 {
		if err := s.Claim(ctx, placement.Consumer{ID: uuidN("s", i), ProjectID: "p", UserID: "u"}, hosts[i],
			map[string]int64{"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 40}); err != nil {
			b.Fatal(err)
		}
	}
	return s, hosts
}

// BenchmarkSnapshot measures the scheduler's full read of the fleet.
func BenchmarkSnapshot(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/providers=%d", backend, n), func(b *testing.B) {
				s, _ := benchHosts(b, backend, n)
				ctx := context.Background()
				b.ResetTimer()
				for b.Loop() {
					snap, err := s.Snapshot(ctx)
					if err != nil || len(snap) != n {
						b.Fatalf("snapshot: %d providers, %v", len(snap), err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/snapshot")
			})
		}
	}
}

// BenchmarkClaim measures claims (each followed by its release, so the
// hosts never fill) spread over 1,000 hosts.
func BenchmarkClaim(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s, hosts := benchHosts(b, backend, 1000)
			ctx := context.Background()
			i := 0
			b.ResetTimer()
			for b.Loop() {
				c := placement.Consumer{ID: uuidN("b", i), ProjectID: "p", UserID: "u"}
				if err := s.Claim(ctx, c, hosts[i%len(hosts)], map[string]int64{"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 20}); err != nil {
					b.Fatal(err)
				}
				if err := s.Release(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims+releases/s")
		})
	}
}
