package identity

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// MaxRedelegationCount is how long a chain of redelegated trusts may grow
// below the first trust (Keystone's [trust] max_redelegation_count default).
const MaxRedelegationCount = 3

// TrustRole names a role to delegate: by id, or by the name of a global role.
type TrustRole struct{ ID, Name string }

// TrustInput is a trust to create, as POST /v3/OS-TRUST/trusts carries it.
type TrustInput struct {
	TrustorUserID, TrusteeUserID string
	// ProjectID is "" for a trust that delegates no project (and so no role).
	ProjectID     string
	Impersonation bool
	ExpiresAt     *time.Time
	// RemainingUses limits how many tokens the trust issues; nil: no limit.
	RemainingUses *int
	// AllowRedelegation lets the trustee redelegate the trust with a token
	// scoped to it, at most RedelegationCount (default MaxRedelegationCount)
	// times down a chain.
	AllowRedelegation bool
	RedelegationCount *int
	// RedelegatedTrustID is read-only: a redelegated trust's parent is the
	// trust of the token that creates it. When given it must name that trust.
	RedelegatedTrustID string
	Roles              []TrustRole
	// Extra holds attributes Keystone keeps and echoes without meaning.
	Extra map[string]any
}

// Trust is a trust with its delegated roles resolved. Roles leaves out a
// role deleted since the trust was made (the trust then issues no token).
type Trust struct {
	store.Trust
	Roles []store.Role
}

// errTrustAppCred refuses every trust operation to a token issued for an
// application credential: such a credential is confined to one project and
// must not reach further through trusts (Keystone, CVE-2026-43000).
var errTrustAppCred = oserr.Forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing trusts; use a token from a password.")

// CheckTrustCaller refuses trust operations to application credential tokens.
func CheckTrustCaller(c *auth.Credentials) error {
	if c.AppCred != nil || slices.Contains(c.Methods, "application_credential") {
		return errTrustAppCred
	}
	return nil
}

// CreateTrust creates a trust from caller, who must be its trustor, as
// Keystone does: the trustee must exist, each role must be held by the
// trustor on the project (directly, through a group, inherited or implied),
// and a trust created with a trust-scoped token is a redelegation of that
// trust, bounded by it.
func (s *Service) CreateTrust(ctx context.Context, caller *auth.Credentials, in TrustInput) (Trust, error) {
	if err := CheckTrustCaller(caller); err != nil {
		return Trust{}, err
	}
	if caller.User.ID != in.TrustorUserID {
		return Trust{}, oserr.Forbidden("You are not authorized to perform the requested action: identity:create_trust; trustor_user_id must be your own user id (%s): a user can only delegate its own roles.", caller.User.ID)
	}
	if in.ProjectID != "" && len(in.Roles) == 0 {
		return Trust{}, oserr.Forbidden("You are not authorized to perform the requested action: At least one role should be specified; a trust on project %s needs the roles it delegates.", in.ProjectID)
	}
	if in.RemainingUses != nil && *in.RemainingUses < 1 {
		return Trust{}, oserr.BadRequest("Invalid input for field 'remaining_uses': %d is less than the minimum of 1; leave it out (or null) for a trust without a limit.", *in.RemainingUses)
	}
	if in.RedelegationCount != nil && *in.RedelegationCount < 0 {
		return Trust{}, oserr.BadRequest("Invalid input for field 'redelegation_count': %d is less than the minimum of 0.", *in.RedelegationCount)
	}
	now := s.now()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return Trust{}, oserr.BadRequest("The 'expires_at' must not be before now: %s has passed; give a future time or leave it out.", in.ExpiresAt.UTC().Format(time.RFC3339))
	}
	tr := store.Trust{
		ID: newID(), TrustorUserID: in.TrustorUserID, TrusteeUserID: in.TrusteeUserID, ProjectID: in.ProjectID,
		Impersonation: in.Impersonation, ExpiresAt: in.ExpiresAt, RemainingUses: in.RemainingUses,
		Extra: in.Extra, CreatedAt: now,
	}
	if tr.Extra == nil {
		tr.Extra = map[string]any{}
	}
	var out Trust
	// No epoch bump: nothing cached depends on a trust that did not exist.
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetUser(ctx, in.TrusteeUserID); err != nil {
			return notFound(err, "user", in.TrusteeUserID)
		}
		roleIDs, err := trustRoleIDs(ctx, tx, in.Roles)
		if err != nil {
			return err
		}
		tr.RoleIDs = roleIDs
		held := map[string]bool{}
		if in.ProjectID != "" {
			if _, err := tx.GetProject(ctx, in.ProjectID); err != nil {
				return notFound(err, "project", in.ProjectID)
			}
			ids, err := heldRoleIDs(ctx, tx, in.TrustorUserID, store.TargetProject, in.ProjectID)
			if err != nil {
				return err
			}
			for _, id := range ids {
				held[id] = true
			}
		}
		for _, id := range roleIDs {
			if !held[id] {
				if in.ProjectID == "" {
					return oserr.NotFound("Could not find role: %s; a trust without a project delegates no role, give project_id.", id)
				}
				return oserr.NotFound("Could not find role: %s; user %s holds no such role on project %s, and a trust delegates only roles its trustor holds there.", id, in.TrustorUserID, in.ProjectID)
			}
		}
		var chain []store.Trust
		if caller.Trust != nil {
			if chain, err = trustChain(ctx, tx, caller.Trust.ID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return oserr.NotFound("Could not find trust: %s; the trust of your token, or one it was redelegated from, was deleted.", caller.Trust.ID)
				}
				return err
			}
		}
		if in.RedelegatedTrustID != "" && (chain == nil || chain[0].ID != in.RedelegatedTrustID) {
			return oserr.BadRequest("Invalid input for field 'redelegated_trust_id': it is set from the trust-scoped token a redelegated trust is created with; leave it out.")
		}
		if err := applyRedelegation(&tr, in, chain); err != nil {
			return err
		}
		if err := tx.CreateTrust(ctx, tr); err != nil {
			return conflict(err, "trust: the trustor already trusts user %s on this project with the same impersonation and expiry", tr.TrusteeUserID)
		}
		out, err = withRoles(ctx, tx, tr)
		return err
	})
	return out, err
}

// trustRoleIDs resolves roles given by id or global role name, in order,
// without duplicates.
func trustRoleIDs(ctx context.Context, tx *store.Tx, roles []TrustRole) ([]string, error) {
	ids := []string{}
	for _, r := range roles {
		id := r.ID
		if id == "" {
			rs, err := tx.ListRoles(ctx, store.RoleFilter{Name: r.Name, DomainID: new(string)})
			if err != nil {
				return nil, err
			}
			if len(rs) != 1 {
				return nil, oserr.NotFound("Could not find role: %s; no global role has this name (list them with 'openstack role list').", r.Name)
			}
			id = rs[0].ID
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// applyRedelegation applies Keystone's rules on allow_redelegation,
// redelegation_count and remaining_uses to tr and, for a redelegation (chain
// is the parent trust, then its own parents up to the first trust), checks
// tr against every trust of the chain: each must still allow redelegating,
// tr may not outlive it, delegate a role it does not, or impersonate when it
// does not. tr also stays on the parent's project (Keystone does not check
// this; without it a redelegation could carry the first trustor's roles to
// another project of theirs).
func applyRedelegation(tr *store.Trust, in TrustInput, chain []store.Trust) error {
	requested := in.RedelegationCount
	redelegatable := in.AllowRedelegation && (requested == nil || *requested != 0)
	if redelegatable {
		if requested != nil && *requested > MaxRedelegationCount {
			return oserr.Forbidden("You are not authorized to perform the requested action: Requested redelegation depth of %d is greater than allowed %d.", *requested, MaxRedelegationCount)
		}
		if in.RemainingUses != nil {
			return oserr.BadRequest("Invalid input for field 'remaining_uses': remaining_uses must not be set if redelegation is allowed; drop one of them.")
		}
	}
	switch {
	case !redelegatable:
		tr.RedelegationCount = 0
	case len(chain) > 0:
		remaining := chain[0].RedelegationCount - 1
		if requested != nil && *requested != remaining {
			return oserr.Forbidden("You are not authorized to perform the requested action: Modifying \"redelegation_count\" upon redelegation is forbidden (it becomes %d, one less than trust %s has). Omitting this parameter is advised.", remaining, chain[0].ID)
		}
		tr.RedelegationCount = remaining
	case requested != nil:
		tr.RedelegationCount = *requested
	default:
		tr.RedelegationCount = MaxRedelegationCount
	}
	if len(chain) == 0 {
		return nil
	}
	tr.RedelegatedTrustID = chain[0].ID
	for _, t := range chain {
		if t.RedelegationCount <= 0 || t.RedelegationCount > MaxRedelegationCount {
			return oserr.Forbidden("You are not authorized to perform the requested action: trust %s cannot be redelegated: its remaining redelegation depth is %d (allowed 1..%d); the trustor must create a trust with allow_redelegation.", t.ID, t.RedelegationCount, MaxRedelegationCount)
		}
		if in.RemainingUses != nil {
			return oserr.Forbidden("You are not authorized to perform the requested action: Field \"remaining_uses\" is set to %d while it must not be set in order to redelegate a trust.", *in.RemainingUses)
		}
		if tr.ExpiresAt == nil {
			tr.ExpiresAt = t.ExpiresAt
		} else if t.ExpiresAt != nil && t.ExpiresAt.Before(*tr.ExpiresAt) {
			return oserr.Forbidden("You are not authorized to perform the requested action: Requested expiration time is more than redelegated trust can provide: trust %s expires at %s.", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
		}
		for _, id := range tr.RoleIDs {
			if !slices.Contains(t.RoleIDs, id) {
				return oserr.Forbidden("You are not authorized to perform the requested action: Some of requested roles are not in redelegated trust %s (role %s).", t.ID, id)
			}
		}
		if tr.Impersonation && !t.Impersonation {
			return oserr.Forbidden("You are not authorized to perform the requested action: Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: %s.", t.ID)
		}
		if tr.ProjectID != t.ProjectID {
			return oserr.Forbidden("You are not authorized to perform the requested action: a redelegated trust stays on the project of trust %s (%s); use that project_id.", t.ID, t.ProjectID)
		}
	}
	return nil
}

// trustChain returns the trust with id, then the trust it was redelegated
// from, up to the first trust of the chain. ErrNotFound when any is gone.
func trustChain(ctx context.Context, tx *store.Tx, id string) ([]store.Trust, error) {
	var chain []store.Trust
	for id != "" {
		if len(chain) > MaxRedelegationCount+1 {
			return nil, errors.New("trust chain longer than the redelegation limit")
		}
		t, err := tx.GetTrust(ctx, id)
		if err != nil {
			return nil, err
		}
		chain = append(chain, t)
		id = t.RedelegatedTrustID
	}
	return chain, nil
}

func withRoles(ctx context.Context, tx *store.Tx, t store.Trust) (Trust, error) {
	rs, err := tx.ListRoles(ctx, store.RoleFilter{IDs: t.RoleIDs})
	if err != nil {
		return Trust{}, err
	}
	out := Trust{Trust: t, Roles: []store.Role{}}
	for _, id := range t.RoleIDs { // in the trust's order
		if i := slices.IndexFunc(rs, func(r store.Role) bool { return r.ID == id }); i >= 0 {
			out.Roles = append(out.Roles, rs[i])
		}
	}
	return out, nil
}

// trustGone reports whether a trust is hidden from GET and cannot issue
// tokens: Keystone treats expired and used-up trusts as if deleted.
func (s *Service) trustGone(t store.Trust) bool {
	if t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt) {
		return true
	}
	return t.RemainingUses != nil && *t.RemainingUses <= 0
}

// GetTrust reads a trust with its roles; an expired or used-up trust is
// 404, as in Keystone.
func (s *Service) GetTrust(ctx context.Context, id string) (t Trust, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		st, err := tx.GetTrust(ctx, id)
		if err == nil && s.trustGone(st) {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "trust", id)
		}
		t, err = withRoles(ctx, tx, st)
		return err
	})
	return t, err
}

// FindTrust reads a trust whatever its expiry and remaining uses; 404 only
// when there is no such trust.
func (s *Service) FindTrust(ctx context.Context, id string) (t store.Trust, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		t, err = tx.GetTrust(ctx, id)
		return notFound(err, "trust", id)
	})
	return t, err
}

// TrustFilter narrows ListTrusts; empty fields match all.
type TrustFilter struct{ TrustorUserID, TrusteeUserID string }

// ListTrusts lists trusts (without their roles, as Keystone lists them).
func (s *Service) ListTrusts(ctx context.Context, f TrustFilter) (ts []store.Trust, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ts, err = tx.ListTrusts(ctx, store.TrustFilter{TrustorUserID: f.TrustorUserID, TrusteeUserID: f.TrusteeUserID})
		return err
	})
	return ts, err
}

// DeleteTrust deletes a trust and every trust redelegated from it; their
// tokens stop validating at once. Unlike GET, it also finds an expired or
// used-up trust, so a trustor can always end the tokens a trust issued.
func (s *Service) DeleteTrust(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetTrust(ctx, id); err != nil {
			return notFound(err, "trust", id)
		}
		// The trusts redelegated from it form a tree (a child is always
		// created after its parent), so each is visited once.
		queue := []string{id}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			children, err := tx.ListTrusts(ctx, store.TrustFilter{RedelegatedTrustID: cur})
			if err != nil {
				return err
			}
			for _, c := range children {
				queue = append(queue, c.ID)
			}
			if err := tx.DeleteTrust(ctx, cur); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// TrustCredentials issues a trust-scoped token for trustID to its trustee,
// trusteeUserID, without a password: it is how services inside onestack
// (Mistral's cron triggers, Magnum's cluster builds) act for a user after
// the user's own token expired. The service authenticates as itself by
// being in-process and names the service user the trust was given to; the
// same rules as POST /v3/auth/tokens with an OS-TRUST:trust scope apply
// (the trust exists, has not expired and has uses left, the trustor still
// holds every delegated role, both users are enabled), and a use of a
// limited trust is taken. The returned credentials carry the token (for
// HTTP calls, or auth.With for calls into the service layer); the token's
// user is the trustor when the trust allows impersonation. The token's
// methods are ["password"], what a service user authenticating to Keystone
// with its password and the trust would get.
func (s *Service) TrustCredentials(ctx context.Context, trustID, trusteeUserID string) (*auth.Credentials, error) {
	if trustID == "" || trusteeUserID == "" {
		return nil, oserr.BadRequest("TrustCredentials needs a trust id and the trustee's user id.")
	}
	u, err := s.GetUser(ctx, trusteeUserID)
	if err != nil {
		return nil, err
	}
	if !u.Enabled {
		return nil, oserr.Unauthorized("User %s is disabled; ask an administrator to enable it.", u.Name)
	}
	p := s.newPayload()
	p.methods, p.userID = methodBit("password"), u.ID
	return s.issue(ctx, p, Scope{TrustID: trustID}, "")
}
