// Package identity is Keystone's domain logic: domains, projects, users,
// groups, roles and their assignments, application credentials, trusts
// (OS-TRUST, and TrustCredentials for services acting for a user), the
// service catalog, and tokens — issued as signed, encrypted Fernet tokens that are
// never stored, validated without a database round trip on the hot path, and
// revocable through revocation events.
//
// It sits in the service layer: it uses store and is used by api/identity
// (and, through auth.Validator, by every other API).
package identity
