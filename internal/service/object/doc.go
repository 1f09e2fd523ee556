// Package object is Swift's object storage domain: accounts, containers
// and objects with their metadata, listings, ACLs and quotas, large objects
// (static and dynamic manifests), versioned writes, expiry, bulk
// operations and signed URLs, over files under DATA/objects and rows in
// the store.
//
// It sits between internal/api/object (HTTP and Swift's wire format) and
// internal/store. An object's data is a file named by its row's id: written
// under this process's journal directory, fsynced, linked to its final name
// and only then recorded, in one transaction that also moves the
// container's counters; a replaced or deleted file is journaled before the
// transaction that drops its row and unlinked after it. A crash at any
// point leaves the old object or the new one, and the next start settles
// what the dead process's journal names (see files.go).
//
// Authorisation follows Swift's keystoneauth: the project's operators
// (member, admin) own its account AUTH_<project id>, the reseller admin
// role owns every account, container ACLs admit other projects' users and
// referrers, and TempURL/FormPost signatures stand in for a token.
package object
