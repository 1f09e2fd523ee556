package placement

import (
	"context"

	"github.com/onestack/onestack/internal/store"
)

// ProviderUsages reads a provider and its usage per resource class of its
// inventory (0 for a class nothing is allocated from).
func (s *Service) ProviderUsages(ctx context.Context, id string) (p store.Provider, usages map[string]int64, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		invs, err := tx.ListInventories(ctx, id)
		usages = make(map[string]int64, len(invs))
		for _, i := range invs {
			usages[i.ResourceClass] = i.Used
		}
		return err
	})
	return p, usages, err
}

// TypeUsage is the usage of one consumer type (microversion 1.38).
type TypeUsage struct {
	Resources map[string]int64
	Consumers int64
}

// TotalUsages sums a project's (and, when f.UserID is set, a user's)
// allocations per resource class, and per consumer type: "unknown" for
// consumers without one. With f.ConsumerType "all" every type is summed
// under "all"; with a type, only that type's consumers count.
func (s *Service) TotalUsages(ctx context.Context, f UsageFilter) (byType map[string]TypeUsage, total map[string]int64, err error) {
	all := f.ConsumerType == "all"
	if all {
		f.ConsumerType = ""
	}
	err = s.read(ctx, func(tx *store.Tx) error {
		us, err := tx.TotalUsages(ctx, store.UsageFilter(f))
		if err != nil {
			return err
		}
		counts, err := tx.ConsumerCounts(ctx, store.UsageFilter(f))
		if err != nil {
			return err
		}
		byType, total = map[string]TypeUsage{}, map[string]int64{}
		name := func(t string) string {
			switch {
			case all:
				return "all"
			case t == "":
				return "unknown"
			}
			return t
		}
		for _, u := range us {
			total[u.ResourceClass] += u.Used
			n := name(u.ConsumerType)
			tu, ok := byType[n]
			if !ok {
				tu = TypeUsage{Resources: map[string]int64{}}
			}
			tu.Resources[u.ResourceClass] += u.Used
			byType[n] = tu
		}
		for t, c := range counts {
			n := name(t)
			if tu, ok := byType[n]; ok {
				tu.Consumers += c
				byType[n] = tu
			}
		}
		return nil
	})
	return byType, total, err
}
