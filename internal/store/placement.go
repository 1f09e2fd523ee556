package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrGeneration is returned when a write names a resource provider
// generation that is no longer current: another writer changed the provider.
var ErrGeneration error = &sentinel{msg: "resource provider generation conflict", conflict: true}

// Provider is a placement resource provider row. ParentUUID is "" for a
// root, whose RootUUID is its own UUID.
type Provider struct {
	UUID, Name           string
	ParentUUID, RootUUID string
	Generation           int64
	CreatedAt, UpdatedAt time.Time
}

// Inventory is one resource class of a provider, with the sum of what is
// allocated against it.
type Inventory struct {
	ProviderUUID, ResourceClass       string
	Total, Reserved, MinUnit, MaxUnit int64
	StepSize                          int64
	AllocationRatio                   float64
	Used                              int64
	UpdatedAt                         time.Time
}

// ResourceClass is a placement resource class row.
type ResourceClass struct {
	Name                 string
	Standard             bool
	CreatedAt, UpdatedAt time.Time
}

// Trait is a placement trait row.
type Trait struct {
	Name      string
	Standard  bool
	CreatedAt time.Time
}

// Consumer is whoever holds allocations: an instance, a migration. Type is
// "" when unknown (written before microversion 1.38).
type Consumer struct {
	UUID, ProjectID, UserID, Type string
	Generation                    int64
	CreatedAt, UpdatedAt          time.Time
}

// Allocation is an amount of one resource class a consumer holds on a provider.
type Allocation struct {
	ConsumerUUID, ProviderUUID, ResourceClass string
	Used                                      int64
	CreatedAt                                 time.Time
}

// inClause returns "(?, ?, …)" for n placeholders.
func inClause(n int) string {
	return "(?" + strings.Repeat(", ?", n-1) + ")"
}

func anys(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// ---- resource classes

const rcCols = `name, standard, created_at, updated_at`

func scanRC(s scanner) (ResourceClass, error) {
	var rc ResourceClass
	var c, u int64
	err := s.Scan(&rc.Name, &rc.Standard, &c, &u)
	rc.CreatedAt, rc.UpdatedAt = fromMicros(c), fromMicros(u)
	return rc, err
}

// EnsureResourceClass inserts rc unless a class of that name exists; it
// reports whether it inserted.
func (t *Tx) EnsureResourceClass(ctx context.Context, rc ResourceClass) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO placement_resource_classes (`+rcCols+`) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		rc.Name, rc.Standard, micros(rc.CreatedAt), micros(rc.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CreateResourceClass inserts rc; ErrConflict when the name is taken.
func (t *Tx) CreateResourceClass(ctx context.Context, rc ResourceClass) error {
	_, err := t.exec(ctx, `INSERT INTO placement_resource_classes (`+rcCols+`) VALUES (?, ?, ?, ?)`,
		rc.Name, rc.Standard, micros(rc.CreatedAt), micros(rc.CreatedAt))
	return t.mapErr(err)
}

// GetResourceClass reads one resource class.
func (t *Tx) GetResourceClass(ctx context.Context, name string) (ResourceClass, error) {
	return one(ctx, t, scanRC, `SELECT `+rcCols+` FROM placement_resource_classes WHERE name = ?`, name)
}

// ListResourceClasses lists every resource class by name.
func (t *Tx) ListResourceClasses(ctx context.Context) ([]ResourceClass, error) {
	return list(ctx, t, scanRC, `SELECT `+rcCols+` FROM placement_resource_classes ORDER BY name`)
}

// MissingResourceClasses returns those of names that do not exist.
func (t *Tx) MissingResourceClasses(ctx context.Context, names []string) ([]string, error) {
	return t.missing(ctx, "placement_resource_classes", names)
}

func (t *Tx) missing(ctx context.Context, table string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT name FROM `+table+` WHERE name IN `+inClause(len(names)), anys(names)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		found[n] = true
	}
	var out []string
	for _, n := range names {
		if !found[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}

// RenameResourceClass renames a custom class; inventories follow.
func (t *Tx) RenameResourceClass(ctx context.Context, from, to string, at time.Time) error {
	if err := t.CreateResourceClass(ctx, ResourceClass{Name: to, CreatedAt: at}); err != nil {
		return err
	}
	for _, q := range []string{
		`UPDATE placement_inventories SET resource_class = ? WHERE resource_class = ?`,
		`UPDATE placement_allocations SET resource_class = ? WHERE resource_class = ?`,
	} {
		if _, err := t.exec(ctx, q, to, from); err != nil {
			return err
		}
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM placement_resource_classes WHERE name = ?`, from)))
}

// ResourceClassInUse reports whether any provider has inventory of name.
func (t *Tx) ResourceClassInUse(ctx context.Context, name string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM placement_inventories WHERE resource_class = ?`, name).Scan(&n)
	return n > 0, err
}

// DeleteResourceClass removes a resource class.
func (t *Tx) DeleteResourceClass(ctx context.Context, name string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM placement_resource_classes WHERE name = ?`, name)))
}

// ---- traits

const traitCols = `name, standard, created_at`

func scanTrait(s scanner) (Trait, error) {
	var tr Trait
	var c int64
	err := s.Scan(&tr.Name, &tr.Standard, &c)
	tr.CreatedAt = fromMicros(c)
	return tr, err
}

// EnsureTrait inserts tr unless it exists; it reports whether it inserted.
func (t *Tx) EnsureTrait(ctx context.Context, tr Trait) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO placement_traits (`+traitCols+`) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		tr.Name, tr.Standard, micros(tr.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// GetTrait reads one trait.
func (t *Tx) GetTrait(ctx context.Context, name string) (Trait, error) {
	return one(ctx, t, scanTrait, `SELECT `+traitCols+` FROM placement_traits WHERE name = ?`, name)
}

// TraitFilter narrows ListTraits; zero fields match all.
type TraitFilter struct {
	NameIn     []string // nil: any
	Prefix     string
	Associated *bool // with at least one provider, or with none
}

// ListTraits lists traits by name.
func (t *Tx) ListTraits(ctx context.Context, f TraitFilter) ([]Trait, error) {
	w := &where{}
	if f.NameIn != nil {
		w.in("name", f.NameIn)
	}
	if f.Prefix != "" {
		// Trait names are [A-Z0-9_], so no LIKE escaping is needed beyond '_'.
		w.clauses = append(w.clauses, "substr(name, 1, ?) = ?")
		w.args = append(w.args, len(f.Prefix), f.Prefix)
	}
	if f.Associated != nil {
		op := "IN"
		if !*f.Associated {
			op = "NOT IN"
		}
		w.clauses = append(w.clauses, "name "+op+" (SELECT trait FROM placement_provider_traits)")
	}
	return list(ctx, t, scanTrait, `SELECT `+traitCols+` FROM placement_traits`+w.sql()+` ORDER BY name`, w.args...)
}

// MissingTraits returns those of names that do not exist.
func (t *Tx) MissingTraits(ctx context.Context, names []string) ([]string, error) {
	return t.missing(ctx, "placement_traits", names)
}

// TraitInUse reports whether any provider has the trait.
func (t *Tx) TraitInUse(ctx context.Context, name string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM placement_provider_traits WHERE trait = ?`, name).Scan(&n)
	return n > 0, err
}

// DeleteTrait removes a trait.
func (t *Tx) DeleteTrait(ctx context.Context, name string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM placement_traits WHERE name = ?`, name)))
}

// ProviderTraits lists a provider's traits by name.
func (t *Tx) ProviderTraits(ctx context.Context, uuid string) ([]Trait, error) {
	return list(ctx, t, scanTrait, `SELECT `+traitCols+` FROM placement_traits
		WHERE name IN (SELECT trait FROM placement_provider_traits WHERE provider_uuid = ?) ORDER BY name`, uuid)
}

// SetProviderTraits replaces a provider's traits; every trait must exist.
func (t *Tx) SetProviderTraits(ctx context.Context, uuid string, traits []string) error {
	if _, err := t.exec(ctx, `DELETE FROM placement_provider_traits WHERE provider_uuid = ?`, uuid); err != nil {
		return err
	}
	for _, tr := range dedup(traits) {
		if _, err := t.exec(ctx, `INSERT INTO placement_provider_traits (provider_uuid, trait) VALUES (?, ?)`, uuid, tr); err != nil {
			return t.mapErr(err)
		}
	}
	return nil
}

func dedup(vs []string) []string {
	out := slices.Clone(vs)
	slices.Sort(out)
	return slices.Compact(out)
}

// ---- aggregates

// ProviderAggregates lists a provider's aggregate UUIDs, sorted.
func (t *Tx) ProviderAggregates(ctx context.Context, uuid string) ([]string, error) {
	return list(ctx, t, scanString, `SELECT aggregate_uuid FROM placement_provider_aggregates WHERE provider_uuid = ? ORDER BY aggregate_uuid`, uuid)
}

func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// SetProviderAggregates replaces a provider's aggregates.
func (t *Tx) SetProviderAggregates(ctx context.Context, uuid string, aggs []string) error {
	if _, err := t.exec(ctx, `DELETE FROM placement_provider_aggregates WHERE provider_uuid = ?`, uuid); err != nil {
		return err
	}
	for _, a := range dedup(aggs) {
		if _, err := t.exec(ctx, `INSERT INTO placement_provider_aggregates (provider_uuid, aggregate_uuid) VALUES (?, ?)`, uuid, a); err != nil {
			return t.mapErr(err)
		}
	}
	return nil
}

// ---- providers

const providerCols = `uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at`

func scanProvider(s scanner) (Provider, error) {
	var p Provider
	var parent sql.NullString
	var c, u int64
	err := s.Scan(&p.UUID, &p.Name, &p.Generation, &parent, &p.RootUUID, &c, &u)
	p.ParentUUID, p.CreatedAt, p.UpdatedAt = parent.String, fromMicros(c), fromMicros(u)
	return p, err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateProvider inserts p; ErrConflict when its UUID or name is taken.
func (t *Tx) CreateProvider(ctx context.Context, p Provider) error {
	_, err := t.exec(ctx, `INSERT INTO placement_providers (`+providerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.UUID, p.Name, p.Generation, nullString(p.ParentUUID), p.RootUUID, micros(p.CreatedAt), micros(p.UpdatedAt))
	return t.mapErr(err)
}

// UpdateProvider writes p's name, parent and root (not its generation);
// ErrConflict when the name is taken.
func (t *Tx) UpdateProvider(ctx context.Context, p Provider) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE placement_providers SET name = ?, parent_uuid = ?, root_uuid = ?, updated_at = ? WHERE uuid = ?`,
		p.Name, nullString(p.ParentUUID), p.RootUUID, micros(p.UpdatedAt), p.UUID)))
}

// SetRoot moves every provider in uuids to the tree rooted at root.
func (t *Tx) SetRoot(ctx context.Context, uuids []string, root string) error {
	if len(uuids) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `UPDATE placement_providers SET root_uuid = ? WHERE uuid IN `+inClause(len(uuids)), append([]any{root}, anys(uuids)...)...)
	return err
}

// GetProvider reads one provider.
func (t *Tx) GetProvider(ctx context.Context, uuid string) (Provider, error) {
	return one(ctx, t, scanProvider, `SELECT `+providerCols+` FROM placement_providers WHERE uuid = ?`, uuid)
}

// BumpGeneration advances a provider's generation and returns the new one.
// When expect is not nil the provider must be at that generation
// (ErrGeneration otherwise). On PostgreSQL the update holds the provider's
// row lock until the transaction ends, so writers that touch the same
// provider (allocations, inventories) run one after the other, and reads
// after it in the same transaction see what the previous writer committed.
func (t *Tx) BumpGeneration(ctx context.Context, uuid string, expect *int64, at time.Time) (int64, error) {
	q := `UPDATE placement_providers SET generation = generation + 1, updated_at = ? WHERE uuid = ?`
	args := []any{micros(at), uuid}
	if expect != nil {
		q += ` AND generation = ?`
		args = append(args, *expect)
	}
	err := affected(t.exec(ctx, q, args...))
	if errors.Is(err, ErrNotFound) && expect != nil {
		if _, gerr := t.GetProvider(ctx, uuid); gerr == nil {
			return 0, ErrGeneration
		}
	}
	if err != nil {
		return 0, err
	}
	var g int64
	err = t.queryRow(ctx, `SELECT generation FROM placement_providers WHERE uuid = ?`, uuid).Scan(&g)
	return g, t.mapErr(err)
}

// ProviderFilter narrows ListProviders; zero fields match all.
type ProviderFilter struct {
	UUID, Name string
	// InTree selects the providers in the same tree as this provider.
	InTree string
	// UUIDs, when not nil, limits the list to these providers.
	UUIDs []string
	// MemberOf: the provider is in at least one aggregate of every list.
	MemberOf [][]string
	// ForbiddenAggregates: the provider is in none of these.
	ForbiddenAggregates []string
	// RequiredTraits: the provider has at least one trait of every list.
	RequiredTraits [][]string
	// ForbiddenTraits: the provider has none of these.
	ForbiddenTraits []string
	// Resources: the provider has inventory of each class with room for the amount.
	Resources map[string]int64
}

// ListProviders lists providers by name.
func (t *Tx) ListProviders(ctx context.Context, f ProviderFilter) ([]Provider, error) {
	w := &where{}
	w.eq("uuid", f.UUID, f.UUID != "").eq("name", f.Name, f.Name != "")
	if f.InTree != "" {
		w.clauses = append(w.clauses, "root_uuid = (SELECT root_uuid FROM placement_providers WHERE uuid = ?)")
		w.args = append(w.args, f.InTree)
	}
	if f.UUIDs != nil {
		w.in("uuid", f.UUIDs)
	}
	for _, set := range f.MemberOf {
		w.clauses = append(w.clauses, "uuid IN (SELECT provider_uuid FROM placement_provider_aggregates WHERE aggregate_uuid IN "+inClause(len(set))+")")
		w.args = append(w.args, anys(set)...)
	}
	if len(f.ForbiddenAggregates) > 0 {
		w.clauses = append(w.clauses, "uuid NOT IN (SELECT provider_uuid FROM placement_provider_aggregates WHERE aggregate_uuid IN "+inClause(len(f.ForbiddenAggregates))+")")
		w.args = append(w.args, anys(f.ForbiddenAggregates)...)
	}
	for _, set := range f.RequiredTraits {
		w.clauses = append(w.clauses, "uuid IN (SELECT provider_uuid FROM placement_provider_traits WHERE trait IN "+inClause(len(set))+")")
		w.args = append(w.args, anys(set)...)
	}
	if len(f.ForbiddenTraits) > 0 {
		w.clauses = append(w.clauses, "uuid NOT IN (SELECT provider_uuid FROM placement_provider_traits WHERE trait IN "+inClause(len(f.ForbiddenTraits))+")")
		w.args = append(w.args, anys(f.ForbiddenTraits)...)
	}
	classes := make([]string, 0, len(f.Resources))
	for rc := range f.Resources {
		classes = append(classes, rc)
	}
	slices.Sort(classes)
	for _, rc := range classes {
		n := f.Resources[rc]
		w.clauses = append(w.clauses, "uuid IN (SELECT provider_uuid FROM placement_inventories WHERE resource_class = ? AND "+fitsSQL+")")
		w.args = append(w.args, rc, n, n, n, n)
	}
	return list(ctx, t, scanProvider, `SELECT `+providerCols+` FROM placement_providers`+w.sql()+` ORDER BY name, uuid`, w.args...)
}

// fitsSQL is true for an inventory row with room for one more allocation
// of the amount bound to its four placeholders: the capacity rule
// used + n ≤ (total − reserved) × allocation_ratio, and
// min_unit ≤ n ≤ max_unit with n a multiple of step_size.
const fitsSQL = `used + ? <= (total - reserved) * allocation_ratio AND ? >= min_unit AND ? <= max_unit AND ? % step_size = 0`

// RootsWithRoom returns the roots of the trees in which some provider has
// inventory of class with room for n (see fitsSQL).
func (t *Tx) RootsWithRoom(ctx context.Context, class string, n int64) ([]string, error) {
	return list(ctx, t, scanString, `SELECT DISTINCT p.root_uuid FROM placement_inventories i
		JOIN placement_providers p ON p.uuid = i.provider_uuid
		WHERE i.resource_class = ? AND `+fitsSQL, class, n, n, n, n)
}

// CountChildProviders counts the providers whose parent is uuid.
func (t *Tx) CountChildProviders(ctx context.Context, uuid string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM placement_providers WHERE parent_uuid = ?`, uuid).Scan(&n)
	return n, err
}

// ProviderHasAllocations reports whether any consumer holds resources of uuid.
func (t *Tx) ProviderHasAllocations(ctx context.Context, uuid string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM placement_allocations WHERE provider_uuid = ?`, uuid).Scan(&n)
	return n > 0, err
}

// DeleteProvider removes a provider with its inventories, traits and
// aggregates. The caller checks it has no children and no allocations.
func (t *Tx) DeleteProvider(ctx context.Context, uuid string) error {
	for _, q := range []string{
		`DELETE FROM placement_inventories WHERE provider_uuid = ?`,
		`DELETE FROM placement_provider_traits WHERE provider_uuid = ?`,
		`DELETE FROM placement_provider_aggregates WHERE provider_uuid = ?`,
	} {
		if _, err := t.exec(ctx, q, uuid); err != nil {
			return err
		}
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM placement_providers WHERE uuid = ?`, uuid)))
}

// ---- inventories

const invCols = `provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, used, updated_at`

func scanInventory(s scanner) (Inventory, error) {
	var i Inventory
	var u int64
	err := s.Scan(&i.ProviderUUID, &i.ResourceClass, &i.Total, &i.Reserved, &i.MinUnit, &i.MaxUnit, &i.StepSize, &i.AllocationRatio, &i.Used, &u)
	i.UpdatedAt = fromMicros(u)
	return i, err
}

// ListInventories lists the inventories of the given providers by provider
// and class.
func (t *Tx) ListInventories(ctx context.Context, providers ...string) ([]Inventory, error) {
	if len(providers) == 0 {
		return nil, nil
	}
	return list(ctx, t, scanInventory, `SELECT `+invCols+` FROM placement_inventories WHERE provider_uuid IN `+inClause(len(providers))+
		` ORDER BY provider_uuid, resource_class`, anys(providers)...)
}

// PutInventory creates or updates an inventory, keeping its Used.
func (t *Tx) PutInventory(ctx context.Context, i Inventory) error {
	_, err := t.exec(ctx, `INSERT INTO placement_inventories (`+invCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (provider_uuid, resource_class) DO UPDATE SET total = excluded.total, reserved = excluded.reserved,
		min_unit = excluded.min_unit, max_unit = excluded.max_unit, step_size = excluded.step_size,
		allocation_ratio = excluded.allocation_ratio, updated_at = excluded.updated_at`,
		i.ProviderUUID, i.ResourceClass, i.Total, i.Reserved, i.MinUnit, i.MaxUnit, i.StepSize, i.AllocationRatio, micros(i.UpdatedAt))
	return t.mapErr(err)
}

// DeleteInventory removes one inventory. The caller checks it is unused.
func (t *Tx) DeleteInventory(ctx context.Context, provider, class string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM placement_inventories WHERE provider_uuid = ? AND resource_class = ?`, provider, class)))
}

// AddUsed adds delta (which may be negative) to an inventory's usage.
func (t *Tx) AddUsed(ctx context.Context, provider, class string, delta int64) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE placement_inventories SET used = used + ? WHERE provider_uuid = ? AND resource_class = ?`,
		delta, provider, class)))
}

// ---- consumers and allocations

const consumerCols = `uuid, project_id, user_id, consumer_type, generation, created_at, updated_at`

func scanConsumer(s scanner) (Consumer, error) {
	var c Consumer
	var cr, u int64
	err := s.Scan(&c.UUID, &c.ProjectID, &c.UserID, &c.Type, &c.Generation, &cr, &u)
	c.CreatedAt, c.UpdatedAt = fromMicros(cr), fromMicros(u)
	return c, err
}

// GetConsumers reads the consumers that exist among uuids, by uuid.
func (t *Tx) GetConsumers(ctx context.Context, uuids ...string) (map[string]Consumer, error) {
	out := map[string]Consumer{}
	if len(uuids) == 0 {
		return out, nil
	}
	cs, err := list(ctx, t, scanConsumer, `SELECT `+consumerCols+` FROM placement_consumers WHERE uuid IN `+inClause(len(uuids)), anys(uuids)...)
	for _, c := range cs {
		out[c.UUID] = c
	}
	return out, err
}

// PutConsumer creates or updates a consumer, generation included.
func (t *Tx) PutConsumer(ctx context.Context, c Consumer) error {
	_, err := t.exec(ctx, `INSERT INTO placement_consumers (`+consumerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (uuid) DO UPDATE SET project_id = excluded.project_id, user_id = excluded.user_id,
		consumer_type = excluded.consumer_type, generation = excluded.generation, updated_at = excluded.updated_at`,
		c.UUID, c.ProjectID, c.UserID, c.Type, c.Generation, micros(c.CreatedAt), micros(c.UpdatedAt))
	return t.mapErr(err)
}

// DeleteConsumer removes a consumer and its allocations (without touching
// inventory usage: callers subtract first).
func (t *Tx) DeleteConsumer(ctx context.Context, uuid string) error {
	if _, err := t.exec(ctx, `DELETE FROM placement_allocations WHERE consumer_uuid = ?`, uuid); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM placement_consumers WHERE uuid = ?`, uuid)
	return err
}

const allocCols = `consumer_uuid, provider_uuid, resource_class, used, created_at`

func scanAllocation(s scanner) (Allocation, error) {
	var a Allocation
	var c int64
	err := s.Scan(&a.ConsumerUUID, &a.ProviderUUID, &a.ResourceClass, &a.Used, &c)
	a.CreatedAt = fromMicros(c)
	return a, err
}

// ConsumerAllocations lists the allocations of the given consumers.
func (t *Tx) ConsumerAllocations(ctx context.Context, consumers ...string) ([]Allocation, error) {
	if len(consumers) == 0 {
		return nil, nil
	}
	return list(ctx, t, scanAllocation, `SELECT `+allocCols+` FROM placement_allocations WHERE consumer_uuid IN `+inClause(len(consumers))+
		` ORDER BY consumer_uuid, provider_uuid, resource_class`, anys(consumers)...)
}

// ProviderAllocations lists the allocations against a provider.
func (t *Tx) ProviderAllocations(ctx context.Context, provider string) ([]Allocation, error) {
	return list(ctx, t, scanAllocation, `SELECT `+allocCols+` FROM placement_allocations WHERE provider_uuid = ?
		ORDER BY consumer_uuid, resource_class`, provider)
}

// DeleteAllocations removes a consumer's allocations (without touching
// inventory usage: callers subtract first).
func (t *Tx) DeleteAllocations(ctx context.Context, consumer string) error {
	_, err := t.exec(ctx, `DELETE FROM placement_allocations WHERE consumer_uuid = ?`, consumer)
	return err
}

// InsertAllocation writes one allocation (without touching inventory usage).
func (t *Tx) InsertAllocation(ctx context.Context, a Allocation) error {
	_, err := t.exec(ctx, `INSERT INTO placement_allocations (`+allocCols+`) VALUES (?, ?, ?, ?, ?)`,
		a.ConsumerUUID, a.ProviderUUID, a.ResourceClass, a.Used, micros(a.CreatedAt))
	return t.mapErr(err)
}

// ---- usages

// Usage is an amount of a resource class, and for usages by consumer type
// how many consumers hold it.
type Usage struct {
	ConsumerType  string
	ResourceClass string
	Used          int64
	Consumers     int64
}

// UsageFilter selects the consumers whose allocations TotalUsages sums.
type UsageFilter struct {
	ProjectID, UserID string
	// ConsumerType: "" any; "unknown" those without a type; else that type.
	ConsumerType string
}

// TotalUsages sums the allocations of a project's (and user's) consumers
// per consumer type and resource class.
func (t *Tx) TotalUsages(ctx context.Context, f UsageFilter) ([]Usage, error) {
	w := &where{}
	w.eq("c.project_id", f.ProjectID, true).eq("c.user_id", f.UserID, f.UserID != "")
	switch f.ConsumerType {
	case "":
	case "unknown":
		w.eq("c.consumer_type", "", true)
	default:
		w.eq("c.consumer_type", f.ConsumerType, true)
	}
	return list(ctx, t, func(s scanner) (Usage, error) {
		var u Usage
		err := s.Scan(&u.ConsumerType, &u.ResourceClass, &u.Used, &u.Consumers)
		return u, err
	}, `SELECT c.consumer_type, a.resource_class, CAST(SUM(a.used) AS BIGINT), COUNT(DISTINCT c.uuid)
		FROM placement_allocations a JOIN placement_consumers c ON c.uuid = a.consumer_uuid`+w.sql()+`
		GROUP BY c.consumer_type, a.resource_class ORDER BY c.consumer_type, a.resource_class`, w.args...)
}

// ConsumerCounts counts a project's (and user's) consumers per consumer type.
func (t *Tx) ConsumerCounts(ctx context.Context, f UsageFilter) (map[string]int64, error) {
	w := &where{}
	w.eq("project_id", f.ProjectID, true).eq("user_id", f.UserID, f.UserID != "")
	rows, err := t.query(ctx, `SELECT consumer_type, COUNT(*) FROM placement_consumers`+w.sql()+` GROUP BY consumer_type`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, err
		}
		out[typ] = n
	}
	return out, rows.Err()
}

// ---- whole trees, for the scheduler and allocation candidates

// ProviderTree is a provider with everything a scheduling decision reads.
type ProviderTree struct {
	Provider
	Inventories []Inventory
	Traits      []string
	Aggregates  []string
}

// LoadProviders reads the providers of the trees rooted at roots (every
// provider when roots is nil), ordered by root then UUID, with their
// inventories, traits and aggregates, in three queries whatever their number.
func (t *Tx) LoadProviders(ctx context.Context, roots []string) ([]ProviderTree, error) {
	if roots != nil && len(roots) == 0 {
		return nil, nil
	}
	// Without roots every table is read whole, without joins or sorts (the
	// scheduler's snapshot of the fleet); with roots through the root index.
	from := map[string]string{
		"p": `placement_providers p`,
		"i": `placement_inventories i`,
		"t": `placement_provider_traits x`,
		"a": `placement_provider_aggregates x`,
	}
	cond, args := "", []any(nil)
	if roots != nil {
		cond, args = " WHERE p.root_uuid IN "+inClause(len(roots)), anys(roots)
		from["i"] += ` JOIN placement_providers p ON p.uuid = i.provider_uuid`
		from["t"] += ` JOIN placement_providers p ON p.uuid = x.provider_uuid`
		from["a"] += ` JOIN placement_providers p ON p.uuid = x.provider_uuid`
	}
	ps, err := list(ctx, t, scanProvider, `SELECT p.uuid, p.name, p.generation, p.parent_uuid, p.root_uuid, p.created_at, p.updated_at
		FROM `+from["p"]+cond, args...)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ps, func(a, b Provider) int {
		if c := strings.Compare(a.RootUUID, b.RootUUID); c != 0 {
			return c
		}
		return strings.Compare(a.UUID, b.UUID)
	})
	out := make([]ProviderTree, len(ps))
	idx := make(map[string]int, len(ps))
	for i, p := range ps {
		out[i].Provider = p
		idx[p.UUID] = i
	}
	invs, err := list(ctx, t, scanInventory, `SELECT i.provider_uuid, i.resource_class, i.total, i.reserved, i.min_unit, i.max_unit,
		i.step_size, i.allocation_ratio, i.used, i.updated_at FROM `+from["i"]+cond, args...)
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		if i, ok := idx[inv.ProviderUUID]; ok {
			out[i].Inventories = append(out[i].Inventories, inv)
		}
	}
	for _, q := range []struct {
		sql string
		add func(*ProviderTree, string)
	}{
		{`SELECT x.provider_uuid, x.trait FROM ` + from["t"] + cond, func(p *ProviderTree, v string) { p.Traits = append(p.Traits, v) }},
		{`SELECT x.provider_uuid, x.aggregate_uuid FROM ` + from["a"] + cond, func(p *ProviderTree, v string) { p.Aggregates = append(p.Aggregates, v) }},
	} {
		rows, err := t.query(ctx, q.sql, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var puuid, v string
			if err := rows.Scan(&puuid, &v); err != nil {
				rows.Close()
				return nil, err
			}
			if i, ok := idx[puuid]; ok {
				q.add(&out[i], v)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Inventories, func(a, b Inventory) int { return strings.Compare(a.ResourceClass, b.ResourceClass) })
		slices.Sort(out[i].Traits)
		slices.Sort(out[i].Aggregates)
	}
	return out, nil
}

// UsageDrift lists the inventories whose Used differs from the sum of their
// allocations (Used is then the sum): a check for doctor and tests.
func (t *Tx) UsageDrift(ctx context.Context) ([]Inventory, error) {
	return list(ctx, t, scanInventory, `SELECT i.provider_uuid, i.resource_class, i.total, i.reserved, i.min_unit, i.max_unit,
		i.step_size, i.allocation_ratio, CAST(COALESCE(s.used, 0) AS BIGINT), i.updated_at
		FROM placement_inventories i LEFT JOIN (
			SELECT provider_uuid, resource_class, SUM(used) AS used FROM placement_allocations GROUP BY provider_uuid, resource_class
		) s ON s.provider_uuid = i.provider_uuid AND s.resource_class = i.resource_class
		WHERE i.used <> COALESCE(s.used, 0)
		ORDER BY i.provider_uuid, i.resource_class`)
}
