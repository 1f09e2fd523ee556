// Package auth carries the identity behind a request (the validated token)
// through the context, and answers the policy questions every handler asks:
// is this caller an admin, a member of this project, the owner of that user.
//
// It sits below the API packages and beside the services: the identity
// service produces Credentials, every API consumes them.
package auth

import (
	"context"
	"slices"
	"time"
)

// Role names with fixed meaning in policy. admin implies member implies reader.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleReader = "reader"
)

// Ref is an id with its name, as tokens show users, projects and domains.
type Ref struct {
	ID   string
	Name string
}

// Credentials is what a validated token says about its bearer.
type Credentials struct {
	Token    string
	AuditIDs []string
	Methods  []string
	IssuedAt time.Time
	Expires  time.Time

	User       Ref
	UserDomain Ref
	// PasswordExpiresAt is nil when the password never expires.
	PasswordExpiresAt *time.Time

	// Exactly one scope is set, or none for an unscoped token.
	Project       *Ref
	ProjectDomain Ref
	Domain        *Ref
	System        bool

	// Roles are the effective role names, implied roles included.
	Roles   []Ref
	AppCred *AppCredRef
	// Trust is set for a trust-scoped token: the bearer is the trustee,
	// acting on the trust's project with the trust's roles. User is the
	// trustor when the trust allows impersonation, else the trustee.
	Trust *TrustRef
	// IsAdminProject is true for tokens scoped to the cloud's admin project.
	IsAdminProject bool
}

// AppCredRef names the application credential a token was issued for.
type AppCredRef struct {
	ID           string
	Name         string
	ProjectID    string
	Unrestricted bool
}

// TrustRef names the trust a token was issued for (OS-TRUST).
type TrustRef struct {
	ID                   string
	TrustorID, TrusteeID string
	Impersonation        bool
	RedelegatedTrustID   string
	RedelegationCount    int
}

// HasRole reports whether the token carries the named role.
func (c *Credentials) HasRole(name string) bool {
	return slices.ContainsFunc(c.Roles, func(r Ref) bool { return r.Name == name })
}

// IsAdmin reports whether the bearer is a cloud admin: Keystone's default
// policy ("role:admin", with scope enforcement off as in a stock Zed cloud).
func (c *Credentials) IsAdmin() bool { return c.HasRole(RoleAdmin) }

// ProjectID returns the scoped project's id, or "".
func (c *Credentials) ProjectID() string {
	if c.Project == nil {
		return ""
	}
	return c.Project.ID
}

// DomainID returns the scoped domain's id, or "".
func (c *Credentials) DomainID() string {
	if c.Domain == nil {
		return ""
	}
	return c.Domain.ID
}

// CanRead reports whether the bearer may read resources of project id.
func (c *Credentials) CanRead(projectID string) bool {
	return c.IsAdmin() || (c.ProjectID() == projectID && c.HasRole(RoleReader))
}

// CanWrite reports whether the bearer may change resources of project id.
func (c *Credentials) CanWrite(projectID string) bool {
	return c.IsAdmin() || (c.ProjectID() == projectID && c.HasRole(RoleMember))
}

type ctxKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Credentials) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// From returns the credentials in ctx, or nil for an unauthenticated request.
func From(ctx context.Context) *Credentials {
	c, _ := ctx.Value(ctxKey{}).(*Credentials)
	return c
}

// Validator turns a token into Credentials, or returns an *oserr.Error
// (401 for a bad, expired or revoked token).
type Validator interface {
	Validate(ctx context.Context, token string) (*Credentials, error)
}
