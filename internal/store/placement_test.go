package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

const (
	rpA   = "aaaaaaaa-0000-0000-0000-000000000001"
	rpB   = "bbbbbbbb-0000-0000-0000-000000000002"
	rpKid = "cccccccc-0000-0000-0000-000000000003"
	agg1  = "11111111-1111-1111-1111-111111111111"
	agg2  = "22222222-2222-2222-2222-222222222222"
)

// placementSeed makes two roots (A with a child) with inventories, traits
// and aggregates.
func placementSeed(t *testing.T, db *store.DB) {
	t.Helper()
	write(t, db, func(ctx context.Context, tx *store.Tx) error {
		for _, rc := range []string{"VCPU", "MEMORY_MB", "CUSTOM_GPU"} {
			if _, err := tx.EnsureResourceClass(ctx, store.ResourceClass{Name: rc, Standard: rc != "CUSTOM_GPU", CreatedAt: at}); err != nil {
				return err
			}
		}
		for _, tr := range []string{"HW_CPU_X86_AVX2", "CUSTOM_FAST", "STORAGE_DISK_SSD"} {
			if _, err := tx.EnsureTrait(ctx, store.Trait{Name: tr, CreatedAt: at}); err != nil {
				return err
			}
		}
		return errors.Join(
			tx.CreateProvider(ctx, store.Provider{UUID: rpA, Name: "host-a", RootUUID: rpA, CreatedAt: at, UpdatedAt: at}),
			tx.CreateProvider(ctx, store.Provider{UUID: rpB, Name: "host-b", RootUUID: rpB, CreatedAt: at, UpdatedAt: at}),
			tx.CreateProvider(ctx, store.Provider{UUID: rpKid, Name: "host-a-gpu", ParentUUID: rpA, RootUUID: rpA, CreatedAt: at, UpdatedAt: at}),
			tx.PutInventory(ctx, store.Inventory{ProviderUUID: rpA, ResourceClass: "VCPU", Total: 8, MinUnit: 1, MaxUnit: 8, StepSize: 1, AllocationRatio: 2, UpdatedAt: at}),
			tx.PutInventory(ctx, store.Inventory{ProviderUUID: rpA, ResourceClass: "MEMORY_MB", Total: 4096, Reserved: 512, MinUnit: 1, MaxUnit: 4096, StepSize: 256, AllocationRatio: 1, UpdatedAt: at}),
			tx.PutInventory(ctx, store.Inventory{ProviderUUID: rpB, ResourceClass: "VCPU", Total: 4, MinUnit: 1, MaxUnit: 4, StepSize: 1, AllocationRatio: 1, UpdatedAt: at}),
			tx.PutInventory(ctx, store.Inventory{ProviderUUID: rpKid, ResourceClass: "CUSTOM_GPU", Total: 2, MinUnit: 1, MaxUnit: 1, StepSize: 1, AllocationRatio: 1, UpdatedAt: at}),
			tx.SetProviderTraits(ctx, rpA, []string{"HW_CPU_X86_AVX2", "CUSTOM_FAST"}),
			tx.SetProviderTraits(ctx, rpB, []string{"STORAGE_DISK_SSD"}),
			tx.SetProviderAggregates(ctx, rpA, []string{agg1}),
			tx.SetProviderAggregates(ctx, rpB, []string{agg1, agg2}),
		)
	})
}

func uuids(ps []store.Provider) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.UUID)
	}
	return out
}

func TestPlacementProviders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		placementSeed(t, db)
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			f    store.ProviderFilter
			want []string
		}{
			{"all by name", store.ProviderFilter{}, []string{rpA, rpKid, rpB}},
			{"name", store.ProviderFilter{Name: "host-b"}, []string{rpB}},
			{"in tree of child", store.ProviderFilter{InTree: rpKid}, []string{rpA, rpKid}},
			{"member of agg2", store.ProviderFilter{MemberOf: [][]string{{agg2}}}, []string{rpB}},
			{"member of agg1 and any of agg1/agg2", store.ProviderFilter{MemberOf: [][]string{{agg1}, {agg1, agg2}}}, []string{rpA, rpB}},
			{"not in agg2", store.ProviderFilter{ForbiddenAggregates: []string{agg2}}, []string{rpA, rpKid}},
			{"required trait", store.ProviderFilter{RequiredTraits: [][]string{{"CUSTOM_FAST"}}}, []string{rpA}},
			{"any of traits", store.ProviderFilter{RequiredTraits: [][]string{{"CUSTOM_FAST", "STORAGE_DISK_SSD"}}}, []string{rpA, rpB}},
			{"forbidden trait", store.ProviderFilter{ForbiddenTraits: []string{"CUSTOM_FAST"}}, []string{rpKid, rpB}},
			// A: (8-0)*2 = 16 VCPU but max_unit 8; B: 4.
			{"resources fit", store.ProviderFilter{Resources: map[string]int64{"VCPU": 6}}, []string{rpA}},
			{"resources above max_unit", store.ProviderFilter{Resources: map[string]int64{"VCPU": 9}}, []string{}},
			// MEMORY_MB: step 256, capacity 3584.
			{"resources off step", store.ProviderFilter{Resources: map[string]int64{"MEMORY_MB": 300}}, []string{}},
			{"resources on step", store.ProviderFilter{Resources: map[string]int64{"MEMORY_MB": 3584}}, []string{rpA}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []store.Provider
				read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
					got, err = tx.ListProviders(ctx, tc.f)
					return err
				})
				if diff := cmp.Diff(tc.want, uuids(got)); diff != "" {
					t.Errorf("ListProviders (-want +got):\n%s", diff)
				}
			})
		}

		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			for _, tc := range []struct {
				f    store.TraitFilter
				want []string
			}{
				{store.TraitFilter{Prefix: "CUSTOM_"}, []string{"CUSTOM_FAST"}},
				{store.TraitFilter{NameIn: []string{"STORAGE_DISK_SSD", "NOPE"}}, []string{"STORAGE_DISK_SSD"}},
				{store.TraitFilter{Associated: new(false)}, []string{}},
			} {
				ts, err := tx.ListTraits(ctx, tc.f)
				if err != nil {
					return err
				}
				got := []string{}
				for _, tr := range ts {
					got = append(got, tr.Name)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("ListTraits(%+v) (-want +got):\n%s", tc.f, diff)
				}
			}
			return nil
		})

		// Names are unique; generations move only through BumpGeneration.
		err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateProvider(ctx, store.Provider{UUID: "dddddddd-0000-0000-0000-000000000004", Name: "host-a", RootUUID: "x", CreatedAt: at, UpdatedAt: at})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate name: %v, want ErrConflict", err)
		}
		var g int64
		write(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			g, err = tx.BumpGeneration(ctx, rpA, new(int64(0)), at)
			return err
		})
		if g != 1 {
			t.Errorf("generation after bump = %d, want 1", g)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.BumpGeneration(ctx, rpA, new(int64(0)), at)
			return err
		})
		if !errors.Is(err, store.ErrGeneration) {
			t.Errorf("stale generation: %v, want ErrGeneration", err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.BumpGeneration(ctx, "nope", new(int64(0)), at)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing provider: %v, want ErrNotFound", err)
		}
	})
}

func TestPlacementAllocationsAndUsage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		placementSeed(t, db)
		const c1, c2 = "c1000000-0000-0000-0000-000000000001", "c2000000-0000-0000-0000-000000000002"
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return errors.Join(
				tx.PutConsumer(ctx, store.Consumer{UUID: c1, ProjectID: "p1", UserID: "u1", Type: "INSTANCE", Generation: 1, CreatedAt: at, UpdatedAt: at}),
				tx.PutConsumer(ctx, store.Consumer{UUID: c2, ProjectID: "p1", UserID: "u2", Generation: 1, CreatedAt: at, UpdatedAt: at}),
				tx.InsertAllocation(ctx, store.Allocation{ConsumerUUID: c1, ProviderUUID: rpA, ResourceClass: "VCPU", Used: 2, CreatedAt: at}),
				tx.InsertAllocation(ctx, store.Allocation{ConsumerUUID: c1, ProviderUUID: rpA, ResourceClass: "MEMORY_MB", Used: 512, CreatedAt: at}),
				tx.InsertAllocation(ctx, store.Allocation{ConsumerUUID: c2, ProviderUUID: rpA, ResourceClass: "VCPU", Used: 1, CreatedAt: at}),
				tx.AddUsed(ctx, rpA, "VCPU", 3),
				tx.AddUsed(ctx, rpA, "MEMORY_MB", 512),
			)
		})
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			drift, err := tx.UsageDrift(ctx)
			if err != nil {
				return err
			}
			if len(drift) != 0 {
				t.Errorf("usage drift: %+v", drift)
			}
			us, err := tx.TotalUsages(ctx, store.UsageFilter{ProjectID: "p1"})
			if err != nil {
				return err
			}
			want := []store.Usage{
				{ConsumerType: "", ResourceClass: "VCPU", Used: 1, Consumers: 1},
				{ConsumerType: "INSTANCE", ResourceClass: "MEMORY_MB", Used: 512, Consumers: 1},
				{ConsumerType: "INSTANCE", ResourceClass: "VCPU", Used: 2, Consumers: 1},
			}
			if diff := cmp.Diff(want, us); diff != "" {
				t.Errorf("TotalUsages (-want +got):\n%s", diff)
			}
			us, err = tx.TotalUsages(ctx, store.UsageFilter{ProjectID: "p1", UserID: "u2"})
			if err != nil {
				return err
			}
			if len(us) != 1 || us[0].Used != 1 {
				t.Errorf("TotalUsages for u2 = %+v, want 1 VCPU", us)
			}
			// A provider's inventory update keeps its usage.
			return nil
		})
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return tx.PutInventory(ctx, store.Inventory{ProviderUUID: rpA, ResourceClass: "VCPU", Total: 2, MinUnit: 1, MaxUnit: 2, StepSize: 1, AllocationRatio: 1, UpdatedAt: at})
		})
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			invs, err := tx.ListInventories(ctx, rpA)
			if err != nil {
				return err
			}
			if invs[1].ResourceClass != "VCPU" || invs[1].Used != 3 || invs[1].Total != 2 {
				t.Errorf("VCPU inventory after update = %+v, want total 2 used 3", invs[1])
			}
			return nil
		})
		// A drifted usage is reported.
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.AddUsed(ctx, rpA, "VCPU", 5) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			drift, err := tx.UsageDrift(ctx)
			if err != nil {
				return err
			}
			if len(drift) != 1 || drift[0].Used != 3 {
				t.Errorf("UsageDrift = %+v, want VCPU of A whose allocations sum to 3", drift)
			}
			return nil
		})
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteConsumer(ctx, c1) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			as, err := tx.ProviderAllocations(ctx, rpA)
			if err != nil {
				return err
			}
			if len(as) != 1 || as[0].ConsumerUUID != c2 {
				t.Errorf("allocations after deleting c1 = %+v, want only c2's", as)
			}
			return nil
		})
	})
}

func TestPlacementLoadProviders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		placementSeed(t, db)
		var all, treeA []store.ProviderTree
		read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			if all, err = tx.LoadProviders(ctx, nil); err != nil {
				return err
			}
			treeA, err = tx.LoadProviders(ctx, []string{rpA})
			return err
		})
		if len(all) != 3 || len(treeA) != 2 {
			t.Fatalf("LoadProviders: %d providers, tree A %d; want 3 and 2", len(all), len(treeA))
		}
		a := treeA[0]
		if a.UUID != rpA || len(a.Inventories) != 2 || len(a.Traits) != 2 || len(a.Aggregates) != 1 {
			t.Errorf("provider A = %+v, want 2 inventories, 2 traits, 1 aggregate", a)
		}
		if kid := treeA[1]; kid.ParentUUID != rpA || kid.RootUUID != rpA || kid.Inventories[0].ResourceClass != "CUSTOM_GPU" {
			t.Errorf("child = %+v", kid)
		}
		var roots []string
		read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			roots, err = tx.RootsWithRoom(ctx, "CUSTOM_GPU", 1)
			return err
		})
		if diff := cmp.Diff([]string{rpA}, roots); diff != "" {
			t.Errorf("RootsWithRoom (-want +got):\n%s", diff)
		}
	})
}
