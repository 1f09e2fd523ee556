package placement

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// This file is the in-process API of the scheduler and the compute service.

// ResourceCapacity is one resource class of a provider as the scheduler
// sees it: Capacity is (total − reserved) × allocation_ratio rounded down,
// Used what consumers hold; one allocation takes MinUnit to MaxUnit in
// multiples of StepSize.
type ResourceCapacity struct {
	Capacity, Used             int64
	MinUnit, MaxUnit, StepSize int64
}

// Free is what may still be allocated (never negative, even when an
// inventory shrank below its usage).
func (r ResourceCapacity) Free() int64 { return max(r.Capacity-r.Used, 0) }

// Fits reports whether one allocation of n fits: enough free, and n within
// the units of the inventory.
func (r ResourceCapacity) Fits(n int64) bool {
	return n <= r.Free() && n >= r.MinUnit && n <= r.MaxUnit && n%r.StepSize == 0
}

// ProviderCapacity is a resource provider with its capacity per resource
// class, its traits and its aggregates.
type ProviderCapacity struct {
	UUID, Name           string
	ParentUUID, RootUUID string
	Generation           int64
	Resources            map[string]ResourceCapacity
	Traits               []string
	Aggregates           []string
}

func capacityOf(t store.ProviderTree) ProviderCapacity {
	pc := ProviderCapacity{UUID: t.UUID, Name: t.Name, ParentUUID: t.ParentUUID, RootUUID: t.RootUUID, Generation: t.Generation,
		Resources: make(map[string]ResourceCapacity, len(t.Inventories)), Traits: t.Traits, Aggregates: t.Aggregates}
	for _, i := range t.Inventories {
		pc.Resources[i.ResourceClass] = ResourceCapacity{
			Capacity: int64(math.Floor(capacity(i.Total, i.Reserved, i.AllocationRatio))), Used: i.Used,
			MinUnit: i.MinUnit, MaxUnit: i.MaxUnit, StepSize: i.StepSize,
		}
	}
	return pc
}

// Snapshot returns every resource provider with its capacity, usage,
// traits and aggregates, read in one transaction with a constant number of
// queries (three), whatever the number of providers. Decide from it, then
// Claim: the claim re-checks capacity, so a stale snapshot costs a retry on
// another host, never an over-commit.
func (s *Service) Snapshot(ctx context.Context) ([]ProviderCapacity, error) {
	var trees []store.ProviderTree
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		trees, err = tx.LoadProviders(ctx, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("placement snapshot: %w", err)
	}
	out := make([]ProviderCapacity, len(trees))
	for i, t := range trees {
		out[i] = capacityOf(t)
	}
	return out, nil
}

// withDefaults fills the zero fields of an inventory with Placement's
// defaults: min_unit 1, max_unit the total, step_size 1, ratio 1.
func withDefaults(i Inventory) Inventory {
	if i.MinUnit == 0 {
		i.MinUnit = 1
	}
	if i.MaxUnit == 0 {
		i.MaxUnit = max(i.Total, 1)
	}
	if i.StepSize == 0 {
		i.StepSize = 1
	}
	if i.AllocationRatio == 0 {
		i.AllocationRatio = 1
	}
	return i
}

// EnsureProvider makes the root provider uuid exist with the given name,
// exactly the inventories inv and exactly the traits traits, creating the
// CUSTOM_ resource classes and traits it names. A compute host calls it
// whenever it registers; when nothing changed it writes nothing and the
// provider's generation stays. Zero fields of an inventory take defaults
// (min_unit 1, max_unit the total, step_size 1, allocation_ratio 1).
// Removing an inventory that still has allocations fails with a 409.
func (s *Service) EnsureProvider(ctx context.Context, uuid, name string, inv map[string]Inventory, traits []string) error {
	if err := checkProviderName(name); err != nil {
		return err
	}
	want := make(map[string]Inventory, len(inv))
	for rc, i := range inv {
		i = withDefaults(i)
		if !ValidClassName(rc) {
			return oserr.BadRequest("Resource class name %q is invalid: use upper-case letters, digits and underscores.", rc)
		}
		if err := i.validate(uuid, rc, true); err != nil {
			return err
		}
		want[rc] = i
	}
	traits = dedupSorted(traits)
	for _, t := range traits {
		if !ValidClassName(t) {
			return oserr.BadRequest("Trait name %q is invalid: use upper-case letters, digits and underscores.", t)
		}
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		now := s.now()
		for rc := range want {
			if strings.HasPrefix(rc, "CUSTOM_") {
				if _, err := tx.EnsureResourceClass(ctx, store.ResourceClass{Name: rc, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		for _, t := range traits {
			if strings.HasPrefix(t, "CUSTOM_") {
				if _, err := tx.EnsureTrait(ctx, store.Trait{Name: t, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		p, err := tx.GetProvider(ctx, uuid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = store.Provider{UUID: uuid, Name: name, RootUUID: uuid, CreatedAt: now, UpdatedAt: now}
			if err := duplicateProvider(tx.CreateProvider(ctx, p), "name: "+name); err != nil {
				return err
			}
		case err != nil:
			return err
		case p.Name != name:
			p.Name, p.UpdatedAt = name, now
			if err := duplicateProvider(tx.UpdateProvider(ctx, p), "name: "+name); err != nil {
				return err
			}
		}
		cur, err := tx.ListInventories(ctx, uuid)
		if err != nil {
			return err
		}
		have := make(map[string]Inventory, len(cur))
		for _, c := range cur {
			have[c.ResourceClass] = Inventory{Total: c.Total, Reserved: c.Reserved, MinUnit: c.MinUnit, MaxUnit: c.MaxUnit,
				StepSize: c.StepSize, AllocationRatio: c.AllocationRatio}
		}
		curTraits, err := tx.ProviderTraits(ctx, uuid)
		if err != nil {
			return err
		}
		haveTraits := make([]string, len(curTraits))
		for i, t := range curTraits {
			haveTraits[i] = t.Name
		}
		invChanged, traitsChanged := !maps.Equal(have, want), !slices.Equal(haveTraits, traits)
		if !invChanged && !traitsChanged {
			return nil
		}
		if _, err := s.bump(ctx, tx, uuid, nil); err != nil {
			return err
		}
		if invChanged {
			if err := s.setInventories(ctx, tx, uuid, want); err != nil {
				return err
			}
		}
		if traitsChanged {
			return s.setTraits(ctx, tx, uuid, traits)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure resource provider %s (%s): %w", name, uuid, err)
	}
	return nil
}

func dedupSorted(vs []string) []string {
	out := slices.Clone(vs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Claim sets what consumer c holds on providerUUID to resources (an empty
// map drops it), leaving its allocations on other providers alone, in one
// transaction that re-checks capacity. When the resources no longer fit it
// returns a *CapacityError naming the class, and nothing is written.
func (s *Service) Claim(ctx context.Context, c Consumer, providerUUID string, resources map[string]int64) error {
	return s.write(ctx, func(tx *store.Tx) error { return s.ClaimTx(ctx, tx, c, providerUUID, resources) })
}

// ClaimTx is Claim inside the caller's transaction, so the compute service
// can claim and record the server's host in one commit. Like every
// store.Write closure it may run again when the transaction is retried.
func (s *Service) ClaimTx(ctx context.Context, tx *store.Tx, c Consumer, providerUUID string, resources map[string]int64) error {
	if c.ID == "" || providerUUID == "" {
		return errors.New("placement claim: consumer id and provider uuid are required")
	}
	old, err := tx.ConsumerAllocations(ctx, c.ID)
	if err != nil {
		return err
	}
	all := map[string]map[string]int64{}
	for _, a := range old {
		if a.ProviderUUID == providerUUID {
			continue
		}
		if all[a.ProviderUUID] == nil {
			all[a.ProviderUUID] = map[string]int64{}
		}
		all[a.ProviderUUID][a.ResourceClass] = a.Used
	}
	if len(resources) > 0 {
		all[providerUUID] = maps.Clone(resources)
	}
	return s.replace(ctx, tx, []AllocationRequest{{Consumer: c, Resources: all}})
}

// Release drops every allocation of a consumer. Releasing a consumer that
// holds nothing is not an error, so callers may retry it.
func (s *Service) Release(ctx context.Context, consumerID string) error {
	return s.write(ctx, func(tx *store.Tx) error { return s.ReleaseTx(ctx, tx, consumerID) })
}

// ReleaseTx is Release inside the caller's transaction.
func (s *Service) ReleaseTx(ctx context.Context, tx *store.Tx, consumerID string) error {
	return s.replace(ctx, tx, []AllocationRequest{{Consumer: Consumer{ID: consumerID}}})
}

// MoveAllocations hands everything consumer from holds to consumer to
// (replacing what to held) and leaves from with nothing, in one
// transaction. For a resize or migration, move the server's allocations to
// the migration record, then Claim the destination for the server; confirm
// with Release(migration), revert with Release(server) and a move back.
// to's project and user default to from's.
func (s *Service) MoveAllocations(ctx context.Context, from string, to Consumer) error {
	return s.write(ctx, func(tx *store.Tx) error { return s.MoveAllocationsTx(ctx, tx, from, to) })
}

// MoveAllocationsTx is MoveAllocations inside the caller's transaction.
func (s *Service) MoveAllocationsTx(ctx context.Context, tx *store.Tx, from string, to Consumer) error {
	if from == to.ID {
		return nil
	}
	old, err := tx.ConsumerAllocations(ctx, from)
	if err != nil {
		return err
	}
	if to.ProjectID == "" {
		cs, err := tx.GetConsumers(ctx, from)
		if err != nil {
			return err
		}
		to.ProjectID, to.UserID = cs[from].ProjectID, cs[from].UserID
	}
	res := map[string]map[string]int64{}
	for _, a := range old {
		if res[a.ProviderUUID] == nil {
			res[a.ProviderUUID] = map[string]int64{}
		}
		res[a.ProviderUUID][a.ResourceClass] = a.Used
	}
	return s.replace(ctx, tx, []AllocationRequest{{Consumer: to, Resources: res}, {Consumer: Consumer{ID: from}}})
}
