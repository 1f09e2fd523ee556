package placement

import (
	"context"

	"github.com/onestack/onestack/internal/store"
)

// ProviderInventories is the whole new inventory of one provider in a
// reshape, at the generation the caller read.
type ProviderInventories struct {
	Provider    string
	Generation  int64
	Inventories map[string]Inventory
}

// Reshape atomically replaces the inventories of some providers and the
// allocations of some consumers (POST /reshaper, microversion 1.30): for
// moving inventory that is in use, e.g. from a compute node to a new child
// provider, with its allocations. Inventories are written first (new and
// changed ones), then allocations (re-checked against them), and only then
// are inventories the request drops removed, so an inventory is in use
// only if an allocation still needs it afterwards.
func (s *Service) Reshape(ctx context.Context, invs []ProviderInventories, allocs []AllocationRequest) error {
	for _, pi := range invs {
		for rc, inv := range pi.Inventories {
			if err := inv.validate(pi.Provider, rc, true); err != nil {
				return err
			}
		}
	}
	return s.write(ctx, func(tx *store.Tx) error {
		for _, pi := range invs {
			gen := pi.Generation
			if _, err := s.bump(ctx, tx, pi.Provider, &gen); err != nil {
				return err
			}
			cur, err := tx.ListInventories(ctx, pi.Provider)
			if err != nil {
				return err
			}
			// Keep the inventories being dropped for now: allocations may
			// still stand on them until the replace below.
			keep := make(map[string]Inventory, len(pi.Inventories)+len(cur))
			for _, c := range cur {
				keep[c.ResourceClass] = Inventory{Total: c.Total, Reserved: c.Reserved, MinUnit: c.MinUnit, MaxUnit: c.MaxUnit,
					StepSize: c.StepSize, AllocationRatio: c.AllocationRatio}
			}
			for rc, inv := range pi.Inventories {
				keep[rc] = inv
			}
			if err := s.setInventories(ctx, tx, pi.Provider, keep); err != nil {
				return err
			}
		}
		if err := s.replace(ctx, tx, allocs); err != nil {
			return err
		}
		for _, pi := range invs {
			if err := s.setInventories(ctx, tx, pi.Provider, pi.Inventories); err != nil {
				return err
			}
		}
		return nil
	})
}
