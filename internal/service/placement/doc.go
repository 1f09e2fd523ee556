// Package placement is OpenStack Placement's domain logic: resource
// providers and their trees, inventories, resource classes, traits,
// aggregates, consumers and their allocations, usages and allocation
// candidates — and the small Go API the scheduler and the compute service
// use in-process (EnsureProvider, Snapshot, Claim, Release,
// MoveAllocations).
//
// Every allocation write re-checks capacity in the transaction that writes
// it, after taking each touched provider's row (by bumping its generation),
// so racing claims can never over-commit a provider, on SQLite or on
// PostgreSQL.
//
// It sits in the service layer: it uses store and is used by api/placement
// and, in-process, by the compute service.
package placement
