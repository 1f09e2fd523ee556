package placement

import (
	"context"
	"errors"
	"slices"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

func traitNotFound(name string) error { return oserr.NotFound("No such trait(s): %s.", name) }

// ListTraits lists traits matching f.
func (s *Service) ListTraits(ctx context.Context, f TraitFilter) (ts []store.Trait, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ts, err = tx.ListTraits(ctx, store.TraitFilter(f))
		return err
	})
	return ts, err
}

// GetTrait reads one trait.
func (s *Service) GetTrait(ctx context.Context, name string) (t store.Trait, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		t, err = tx.GetTrait(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return traitNotFound(name)
		}
		return err
	})
	return t, err
}

// EnsureTrait creates a custom trait unless it exists and reports whether
// it created it.
func (s *Service) EnsureTrait(ctx context.Context, name string) (created bool, err error) {
	if !ValidCustomName(name) {
		return false, oserr.BadRequest("The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\".")
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		created, err = tx.EnsureTrait(ctx, store.Trait{Name: name, CreatedAt: s.now()})
		return err
	})
	return created, err
}

// DeleteTrait deletes a custom trait no provider has.
func (s *Service) DeleteTrait(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		t, err := tx.GetTrait(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return traitNotFound(name)
		} else if err != nil {
			return err
		}
		if t.Standard {
			return oserr.BadRequest("Cannot delete standard trait %s.", name)
		}
		inUse, err := tx.TraitInUse(ctx, name)
		if err != nil {
			return err
		}
		if inUse {
			return oserr.Conflict("The trait %s is in use by a resource provider; remove it from the providers first.", name)
		}
		return tx.DeleteTrait(ctx, name)
	})
}

// ProviderTraits reads a provider and its traits.
func (s *Service) ProviderTraits(ctx context.Context, id string) (p store.Provider, ts []store.Trait, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		ts, err = tx.ProviderTraits(ctx, id)
		return err
	})
	return p, ts, err
}

// SetProviderTraits replaces a provider's traits at generation gen; every
// trait must exist.
func (s *Service) SetProviderTraits(ctx context.Context, id string, gen int64, traits []string) (p store.Provider, ts []store.Trait, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		if p.Generation, err = s.bump(ctx, tx, id, &gen); err != nil {
			return err
		}
		if err := s.setTraits(ctx, tx, id, traits); err != nil {
			return err
		}
		ts, err = tx.ProviderTraits(ctx, id)
		return err
	})
	return p, ts, err
}

func (s *Service) setTraits(ctx context.Context, tx *store.Tx, id string, traits []string) error {
	missing, err := tx.MissingTraits(ctx, traits)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return oserr.BadRequest("No such trait %s; create custom traits with PUT /traits/{name} first.", joinComma(missing))
	}
	return tx.SetProviderTraits(ctx, id, traits)
}

// DeleteProviderTraits removes every trait of a provider.
func (s *Service) DeleteProviderTraits(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := s.bump(ctx, tx, id, nil); err != nil {
			return err
		}
		return tx.SetProviderTraits(ctx, id, nil)
	})
}

// ProviderAggregates reads a provider and its aggregate UUIDs.
func (s *Service) ProviderAggregates(ctx context.Context, id string) (p store.Provider, aggs []string, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		aggs, err = tx.ProviderAggregates(ctx, id)
		return err
	})
	return p, aggs, err
}

// SetProviderAggregates replaces a provider's aggregates. With gen (from
// microversion 1.19) the provider must be at that generation, which then
// advances; without it the generation stays, as before 1.19.
func (s *Service) SetProviderAggregates(ctx context.Context, id string, gen *int64, aggs []string) (p store.Provider, out []string, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		if gen != nil {
			if p.Generation, err = s.bump(ctx, tx, id, gen); err != nil {
				return err
			}
		}
		if err := tx.SetProviderAggregates(ctx, id, aggs); err != nil {
			return err
		}
		out, err = tx.ProviderAggregates(ctx, id)
		return err
	})
	return p, out, err
}

func joinComma(vs []string) string {
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}
