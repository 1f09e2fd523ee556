package placement

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Consumer is whoever holds allocations: a server, or a migration holding
// the source host's resources while the server holds the destination's.
type Consumer struct {
	ID, ProjectID, UserID string
	// Type is the consumer type (microversion 1.38), e.g. INSTANCE or
	// MIGRATION; "" keeps the type a consumer already has.
	Type string
}

// CapacityError says an allocation no longer fits a provider: the scheduler
// tries the next host when it gets one. Free is what the provider could
// still give of Class besides what this request already held there.
type CapacityError struct {
	Provider  string
	Class     string
	Requested int64
	Free      int64
	// Reason is set when the amount breaks the inventory's rules rather
	// than its capacity, e.g. "no MEMORY_MB inventory" or "max_unit is 16".
	Reason string
}

func (e *CapacityError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("resource provider %s cannot allocate %d %s: %s", e.Provider, e.Requested, e.Class, e.Reason)
	}
	return fmt.Sprintf("resource provider %s has %d %s free, %d requested", e.Provider, e.Free, e.Class, e.Requested)
}

// Unwrap returns the error the placement API shows for e: a 409.
func (e *CapacityError) Unwrap() error {
	return oserr.Conflict("Unable to allocate inventory: %s; choose another resource provider or request less.", e.Error())
}

// AllocationRequest is the whole allocation set of one consumer, as PUT
// /allocations/{consumer_uuid} and each entry of POST /allocations send it.
type AllocationRequest struct {
	Consumer Consumer
	// Resources is provider UUID → resource class → amount; empty removes
	// every allocation of the consumer.
	Resources map[string]map[string]int64
	// CheckGeneration asks for the consumer generation check of
	// microversion 1.28: Generation must be the consumer's current one, or
	// nil when the consumer must not exist yet.
	CheckGeneration bool
	Generation      *int64
}

// SetAllocations replaces the allocations of every consumer in reqs in one
// transaction, re-checking capacity there: all of them are written or none.
func (s *Service) SetAllocations(ctx context.Context, reqs []AllocationRequest) error {
	return s.write(ctx, func(tx *store.Tx) error { return s.replace(ctx, tx, reqs) })
}

// key is one resource class of one provider.
type key struct{ provider, class string }

// replace is the one path every allocation write takes. It bumps (so, on
// PostgreSQL, locks) every provider it touches in UUID order, then reads
// their inventories and usage, checks the new amounts and writes them. Two
// transactions claiming the same provider run one after the other, and the
// second sees what the first committed, so they can never over-commit.
func (s *Service) replace(ctx context.Context, tx *store.Tx, reqs []AllocationRequest) error {
	now := s.now()
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if slices.Contains(ids, r.Consumer.ID) {
			return oserr.BadRequest("Consumer %s appears twice in the request; send each consumer once.", r.Consumer.ID)
		}
		ids = append(ids, r.Consumer.ID)
	}
	existing, err := tx.GetConsumers(ctx, ids...)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if !r.CheckGeneration {
			continue
		}
		cur, ok := existing[r.Consumer.ID]
		switch {
		case !ok && r.Generation != nil:
			return concurrentUpdate("consumer generation conflict - expected null but got %d: consumer %s has no allocations; send \"consumer_generation\": null to create them.", *r.Generation, r.Consumer.ID)
		case ok && r.Generation == nil:
			return concurrentUpdate("consumer generation conflict - expected %d but got None: consumer %s already has allocations; read them (GET /allocations/%s) and send its consumer_generation.", cur.Generation, r.Consumer.ID, r.Consumer.ID)
		case ok && *r.Generation != cur.Generation:
			return concurrentUpdate("consumer generation conflict - expected %d but got %d: consumer %s changed since it was read; read it again and retry.", cur.Generation, *r.Generation, r.Consumer.ID)
		}
	}
	old, err := tx.ConsumerAllocations(ctx, ids...)
	if err != nil {
		return err
	}

	delta := map[key]int64{}   // new − old usage per (provider, class)
	heldOld := map[key]int64{} // what these consumers held before
	wanted := map[key]int64{}  // what they ask for now
	var providers []string
	addProvider := func(p string) {
		if !slices.Contains(providers, p) {
			providers = append(providers, p)
		}
	}
	for _, a := range old {
		k := key{a.ProviderUUID, a.ResourceClass}
		delta[k] -= a.Used
		heldOld[k] += a.Used
		addProvider(a.ProviderUUID)
	}
	for _, r := range reqs {
		for p, res := range r.Resources {
			addProvider(p)
			for rc, n := range res {
				if n < 1 || n > MaxInt {
					return oserr.BadRequest("Invalid allocation of %d %s on resource provider %s: amounts are integers between 1 and %d.", n, rc, p, MaxInt)
				}
				k := key{p, rc}
				delta[k] += n
				wanted[k] += n
			}
		}
	}
	slices.Sort(providers)
	for _, p := range providers {
		_, err := tx.BumpGeneration(ctx, p, nil, now)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.BadRequest("Allocation for resource provider '%s' that does not exist; create it first or choose another provider.", p)
		} else if err != nil {
			return err
		}
	}
	invs, err := tx.ListInventories(ctx, providers...)
	if err != nil {
		return err
	}
	inv := make(map[key]store.Inventory, len(invs))
	for _, i := range invs {
		inv[key{i.ProviderUUID, i.ResourceClass}] = i
	}
	for _, r := range reqs {
		for _, p := range sortedKeys(r.Resources) {
			for _, rc := range sortedKeys(r.Resources[p]) {
				if err := checkUnits(inv, p, rc, r.Resources[p][rc]); err != nil {
					return err
				}
			}
		}
	}
	for _, k := range sortedPairs(delta) {
		d := delta[k]
		if d <= 0 {
			continue // never worse than before, even on an over-committed provider
		}
		i := inv[k]
		c := capacity(i.Total, i.Reserved, i.AllocationRatio)
		if float64(i.Used+d) > c {
			free := int64(math.Floor(c)) - (i.Used - heldOld[k])
			return &CapacityError{Provider: k.provider, Class: k.class, Requested: wanted[k], Free: max(free, 0)}
		}
	}

	// Write: drop the old rows, apply the usage deltas, insert the new ones.
	for _, id := range ids {
		if err := tx.DeleteAllocations(ctx, id); err != nil {
			return err
		}
	}
	for _, k := range sortedPairs(delta) {
		if d := delta[k]; d != 0 {
			if err := tx.AddUsed(ctx, k.provider, k.class, d); err != nil {
				return fmt.Errorf("update usage of %s on %s: %w", k.class, k.provider, err)
			}
		}
	}
	for _, r := range reqs {
		cur, had := existing[r.Consumer.ID]
		if len(r.Resources) == 0 {
			if had {
				if err := tx.DeleteConsumer(ctx, r.Consumer.ID); err != nil {
					return err
				}
			}
			continue
		}
		c := store.Consumer{UUID: r.Consumer.ID, ProjectID: r.Consumer.ProjectID, UserID: r.Consumer.UserID,
			Type: r.Consumer.Type, Generation: 1, CreatedAt: now, UpdatedAt: now}
		if had {
			c.Generation, c.CreatedAt = cur.Generation+1, cur.CreatedAt
			if c.Type == "" {
				c.Type = cur.Type
			}
			if c.ProjectID == "" {
				c.ProjectID, c.UserID = cur.ProjectID, cur.UserID
			}
		}
		if c.ProjectID == "" {
			c.ProjectID, c.UserID = IncompleteConsumer, IncompleteConsumer
		}
		if err := tx.PutConsumer(ctx, c); err != nil {
			return err
		}
		for _, p := range sortedKeys(r.Resources) {
			for _, rc := range sortedKeys(r.Resources[p]) {
				if err := tx.InsertAllocation(ctx, store.Allocation{ConsumerUUID: c.UUID, ProviderUUID: p, ResourceClass: rc,
					Used: r.Resources[p][rc], CreatedAt: now}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkUnits checks one amount against its inventory's existence and units.
func checkUnits(inv map[key]store.Inventory, p, rc string, n int64) error {
	i, ok := inv[key{p, rc}]
	if !ok {
		return &CapacityError{Provider: p, Class: rc, Requested: n, Reason: "the provider has no " + rc + " inventory"}
	}
	switch {
	case n < i.MinUnit:
		return &CapacityError{Provider: p, Class: rc, Requested: n, Reason: fmt.Sprintf("below min_unit %d", i.MinUnit)}
	case n > i.MaxUnit:
		return &CapacityError{Provider: p, Class: rc, Requested: n, Reason: fmt.Sprintf("above max_unit %d", i.MaxUnit)}
	case n%i.StepSize != 0:
		return &CapacityError{Provider: p, Class: rc, Requested: n, Reason: fmt.Sprintf("not a multiple of step_size %d", i.StepSize)}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedPairs(m map[key]int64) []key {
	ks := make([]key, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b key) int {
		if a.provider != b.provider {
			return cmpString(a.provider, b.provider)
		}
		return cmpString(a.class, b.class)
	})
	return ks
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ConsumerAllocations is what GET /allocations/{consumer_uuid} shows.
type ConsumerAllocations struct {
	// Consumer is nil when the consumer holds nothing.
	Consumer    *store.Consumer
	Allocations []store.Allocation
	// Generations of the providers the allocations are against.
	Generations map[string]int64
}

// GetConsumerAllocations reads a consumer's allocations; a consumer that
// holds nothing is not an error.
func (s *Service) GetConsumerAllocations(ctx context.Context, id string) (out ConsumerAllocations, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		cs, err := tx.GetConsumers(ctx, id)
		if err != nil {
			return err
		}
		if c, ok := cs[id]; ok {
			out.Consumer = &c
		}
		if out.Allocations, err = tx.ConsumerAllocations(ctx, id); err != nil {
			return err
		}
		out.Generations = map[string]int64{}
		for _, a := range out.Allocations {
			if _, ok := out.Generations[a.ProviderUUID]; ok {
				continue
			}
			p, err := tx.GetProvider(ctx, a.ProviderUUID)
			if err != nil {
				return err
			}
			out.Generations[p.UUID] = p.Generation
		}
		return nil
	})
	return out, err
}

// ProviderAllocations reads a provider, the allocations against it and
// their consumers by UUID.
func (s *Service) ProviderAllocations(ctx context.Context, id string) (p store.Provider, as []store.Allocation, cs map[string]store.Consumer, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if p, err = getProvider(ctx, tx, id); err != nil {
			return err
		}
		if as, err = tx.ProviderAllocations(ctx, id); err != nil {
			return err
		}
		var ids []string
		for _, a := range as {
			if !slices.Contains(ids, a.ConsumerUUID) {
				ids = append(ids, a.ConsumerUUID)
			}
		}
		cs, err = tx.GetConsumers(ctx, ids...)
		return err
	})
	return p, as, cs, err
}

// DeleteAllocations removes every allocation of a consumer; 404 when it
// holds none (DELETE /allocations/{consumer_uuid}).
func (s *Service) DeleteAllocations(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		cs, err := tx.GetConsumers(ctx, id)
		if err != nil {
			return err
		}
		if _, ok := cs[id]; !ok {
			return oserr.NotFound("No allocations for consumer '%s'.", id)
		}
		return s.replace(ctx, tx, []AllocationRequest{{Consumer: Consumer{ID: id}}})
	})
}
