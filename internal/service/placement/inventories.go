package placement

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Inventory is the amount of one resource class a provider offers.
// Capacity is (Total − Reserved) × AllocationRatio; one allocation takes
// between MinUnit and MaxUnit, in multiples of StepSize.
type Inventory struct {
	Total, Reserved, MinUnit, MaxUnit, StepSize int64
	AllocationRatio                             float64
}

// DefaultInventory returns an inventory of total with Placement's defaults
// for every other field.
func DefaultInventory(total int64) Inventory {
	return Inventory{Total: total, MinUnit: 1, MaxUnit: MaxInt, StepSize: 1, AllocationRatio: 1}
}

// capacity is how much of an inventory may be allocated.
func capacity(total, reserved int64, ratio float64) float64 {
	return float64(total-reserved) * ratio
}

// Capacity is (Total − Reserved) × AllocationRatio, rounded down.
func (i Inventory) Capacity() int64 {
	return int64(math.Floor(capacity(i.Total, i.Reserved, i.AllocationRatio)))
}

// validate checks the fields a JSON schema cannot; reservedMayEqualTotal
// is microversion 1.26's relaxation.
func (i Inventory) validate(provider, class string, reservedMayEqualTotal bool) error {
	bad := func(format string, args ...any) error {
		return oserr.BadRequest("Unable to update inventory for resource provider %s: Invalid inventory for %s: "+format, append([]any{provider, class}, args...)...)
	}
	switch {
	case i.Total < 1 || i.Total > MaxInt:
		return bad("total must be between 1 and %d, got %d.", MaxInt, i.Total)
	case i.Reserved < 0 || i.Reserved > MaxInt:
		return bad("reserved must be between 0 and %d, got %d.", MaxInt, i.Reserved)
	case i.MinUnit < 1 || i.MinUnit > MaxInt, i.MaxUnit < 1 || i.MaxUnit > MaxInt, i.StepSize < 1 || i.StepSize > MaxInt:
		return bad("min_unit, max_unit and step_size must be between 1 and %d.", MaxInt)
	case i.AllocationRatio <= 0 || math.IsNaN(i.AllocationRatio) || i.AllocationRatio > math.MaxFloat32:
		return bad("allocation_ratio must be a positive number, got %g.", i.AllocationRatio)
	}
	c := capacity(i.Total, i.Reserved, i.AllocationRatio)
	if reservedMayEqualTotal {
		if c < 0 {
			return bad("capacity (total - reserved) * allocation_ratio is negative: reserved (%d) must not exceed total (%d).", i.Reserved, i.Total)
		}
	} else if c <= 0 {
		return bad("capacity (total - reserved) * allocation_ratio must be positive: reserved (%d) must be less than total (%d); from microversion 1.26 it may equal it.", i.Reserved, i.Total)
	}
	return nil
}

func toStore(provider, class string, i Inventory) store.Inventory {
	return store.Inventory{ProviderUUID: provider, ResourceClass: class, Total: i.Total, Reserved: i.Reserved,
		MinUnit: i.MinUnit, MaxUnit: i.MaxUnit, StepSize: i.StepSize, AllocationRatio: i.AllocationRatio}
}

// Inventories reads a provider and its inventories.
func (s *Service) Inventories(ctx context.Context, id string) (p store.Provider, invs []store.Inventory, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		invs, err = tx.ListInventories(ctx, id)
		return err
	})
	return p, invs, err
}

// SetInventories replaces every inventory of a provider at generation gen.
// Removing an inventory that has allocations is a 409; a smaller capacity
// than what is allocated is allowed (the provider is then over-committed
// until allocations are freed), as in Placement.
func (s *Service) SetInventories(ctx context.Context, id string, gen int64, invs map[string]Inventory, reservedMayEqualTotal bool) (p store.Provider, out []store.Inventory, err error) {
	for rc, inv := range invs {
		if err := inv.validate(id, rc, reservedMayEqualTotal); err != nil {
			return p, nil, err
		}
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		if p.Generation, err = s.bump(ctx, tx, id, &gen); err != nil {
			return err
		}
		return s.setInventories(ctx, tx, id, invs)
	})
	if err != nil {
		return p, nil, err
	}
	_, out, err = s.Inventories(ctx, id)
	return p, out, err
}

// setInventories writes invs as the provider's whole inventory; the caller
// holds the provider (bumped its generation).
func (s *Service) setInventories(ctx context.Context, tx *store.Tx, id string, invs map[string]Inventory) error {
	classes := make([]string, 0, len(invs))
	for rc := range invs {
		classes = append(classes, rc)
	}
	slices.Sort(classes)
	missing, err := tx.MissingResourceClasses(ctx, classes)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return oserr.BadRequest("Unknown resource class in inventory for resource provider %s: No such resource class %s; create it with PUT /resource_classes/{name} first.", id, strings.Join(missing, ", "))
	}
	cur, err := tx.ListInventories(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range cur {
		if _, keep := invs[c.ResourceClass]; keep {
			continue
		}
		if c.Used > 0 {
			return oserr.Conflict("update conflict: Inventory for '%s' on resource provider '%s' in use: %d allocated; free the allocations before removing the inventory.",
				c.ResourceClass, id, c.Used).WithType(CodeInventoryInUse)
		}
		if err := tx.DeleteInventory(ctx, id, c.ResourceClass); err != nil {
			return err
		}
	}
	now := s.now()
	for _, rc := range classes {
		si := toStore(id, rc, invs[rc])
		si.UpdatedAt = now
		if err := tx.PutInventory(ctx, si); err != nil {
			return err
		}
	}
	for _, c := range cur {
		if inv, ok := invs[c.ResourceClass]; ok && float64(c.Used) > capacity(inv.Total, inv.Reserved, inv.AllocationRatio) {
			s.log.WarnContext(ctx, "resource provider over capacity after inventory update",
				"provider_id", id, "resource_class", c.ResourceClass, "used", c.Used, "capacity", inv.Capacity())
		}
	}
	return nil
}

// PutInventory creates (create true: POST) or updates one inventory. gen,
// when not nil, must be the provider's generation.
func (s *Service) PutInventory(ctx context.Context, id, class string, gen *int64, inv Inventory, create, reservedMayEqualTotal bool) (p store.Provider, out store.Inventory, err error) {
	if err := inv.validate(id, class, reservedMayEqualTotal); err != nil {
		return p, out, err
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		if p.Generation, err = s.bump(ctx, tx, id, gen); err != nil {
			return err
		}
		cur, err := tx.ListInventories(ctx, id)
		if err != nil {
			return err
		}
		exists := slices.ContainsFunc(cur, func(i store.Inventory) bool { return i.ResourceClass == class })
		switch {
		case create && exists:
			return concurrentUpdate("Update conflict: resource provider %s already has inventory of %s; update it with PUT .../inventories/%s.", id, class, class)
		case !create && !exists:
			return oserr.BadRequest("No inventory record with resource class for resource provider %s: there is no %s inventory to update; create it with POST .../inventories.", id, class)
		}
		if missing, err := tx.MissingResourceClasses(ctx, []string{class}); err != nil {
			return err
		} else if len(missing) > 0 {
			return oserr.BadRequest("Unable to create inventory for resource provider %s: No such resource class %s.", id, class)
		}
		out = toStore(id, class, inv)
		out.UpdatedAt = s.now()
		if err := tx.PutInventory(ctx, out); err != nil {
			return err
		}
		for _, c := range cur {
			if c.ResourceClass == class {
				out.Used = c.Used
			}
		}
		return nil
	})
	return p, out, err
}

// DeleteInventory removes one unused inventory of a provider.
func (s *Service) DeleteInventory(ctx context.Context, id, class string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := s.bump(ctx, tx, id, nil); err != nil {
			return err
		}
		cur, err := tx.ListInventories(ctx, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cur, func(i store.Inventory) bool { return i.ResourceClass == class })
		if i < 0 {
			return oserr.NotFound("No inventory of class %s found for delete on resource provider %s.", class, id)
		}
		if cur[i].Used > 0 {
			return concurrentUpdate("Unable to delete inventory of class %s: Inventory for '%s' on resource provider '%s' in use: %d allocated; free the allocations first.",
				class, class, id, cur[i].Used)
		}
		return tx.DeleteInventory(ctx, id, class)
	})
}

// DeleteInventories removes every inventory of a provider; a 409 when any
// has allocations.
func (s *Service) DeleteInventories(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := s.bump(ctx, tx, id, nil); err != nil {
			return err
		}
		return s.setInventories(ctx, tx, id, nil)
	})
}
