package identity

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// authzKey names what a token's authorisation depends on.
type authzKey struct {
	userID    string
	scope     byte
	scopeID   string
	appCredID string
	trustID   string
}

// authzEntry is the derived, cacheable part of a validated token.
type authzEntry struct {
	user              auth.Ref
	userDomain        auth.Ref
	passwordExpiresAt *time.Time
	project           *auth.Ref
	projectDomain     auth.Ref
	domain            *auth.Ref
	roles             []auth.Ref
	appCred           *auth.AppCredRef
	trust             *auth.TrustRef
	// trustExpires is the earliest expiry along a trust's chain: the
	// entry is cached, so the time is checked at each validation.
	trustExpires   *time.Time
	isAdminProject bool
	err            error // the token is unusable, and why
}

// authorize returns the authorisation for key from the cache, computing it
// from the store on a miss.
func (s *Service) authorize(ctx context.Context, key authzKey) (*authzEntry, error) {
	s.mu.RLock()
	e := s.authz[key]
	gen := s.gen
	s.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	e = &authzEntry{}
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		e, err = s.computeAuthz(ctx, tx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen { // else the store changed while computing: e may be stale
		if len(s.authz) > 100_000 { // bound memory; entries are cheap to recompute
			s.authz = map[authzKey]*authzEntry{}
		}
		s.authz[key] = e
	}
	s.mu.Unlock()
	return e, nil
}

// unusable records why a token no longer authorises anything; it is an
// entry, not an error, so it is cached like any other answer.
func unusable(format string, args ...any) (*authzEntry, error) {
	return &authzEntry{err: oserr.Unauthorized(format, args...)}, nil
}

func (s *Service) computeAuthz(ctx context.Context, tx *store.Tx, key authzKey) (*authzEntry, error) {
	u, err := tx.GetUser(ctx, key.userID)
	if errors.Is(err, store.ErrNotFound) {
		return unusable("The token's user no longer exists; authenticate again.")
	}
	if err != nil {
		return nil, err
	}
	if !u.Enabled {
		return unusable("User %s is disabled; ask an administrator to enable it.", u.ID)
	}
	ud, err := tx.GetDomain(ctx, u.DomainID)
	if err != nil {
		return nil, err
	}
	if !ud.Enabled {
		return unusable("The domain %s of user %s is disabled.", ud.Name, u.Name)
	}
	e := &authzEntry{user: auth.Ref{ID: u.ID, Name: u.Name}, userDomain: auth.Ref{ID: ud.ID, Name: ud.Name}}
	e.passwordExpiresAt = u.PasswordExpiresAt
	if key.trustID != "" {
		return s.trustAuthz(ctx, tx, key, e)
	}
	var roleIDs []string
	switch key.scope {
	case scopeNone:
		return e, nil
	case scopeProject:
		if bad, err := s.scopeProjectEntry(ctx, tx, e, key.scopeID); bad != nil || err != nil {
			return bad, err
		}
		if roleIDs, err = effectiveRoleIDs(ctx, tx, u.ID, store.TargetProject, key.scopeID); err != nil {
			return nil, err
		}
	case scopeDomain:
		d, err := tx.GetDomain(ctx, key.scopeID)
		if errors.Is(err, store.ErrNotFound) {
			return unusable("The token's domain %s no longer exists.", key.scopeID)
		}
		if err != nil {
			return nil, err
		}
		if !d.Enabled {
			return unusable("Domain %s is disabled.", d.Name)
		}
		e.domain = &auth.Ref{ID: d.ID, Name: d.Name}
		if roleIDs, err = effectiveRoleIDs(ctx, tx, u.ID, store.TargetDomain, d.ID); err != nil {
			return nil, err
		}
	case scopeSystem:
		if roleIDs, err = effectiveRoleIDs(ctx, tx, u.ID, store.TargetSystem, store.SystemAll); err != nil {
			return nil, err
		}
	}
	if key.appCredID != "" {
		ac, err := tx.GetAppCred(ctx, key.appCredID)
		if errors.Is(err, store.ErrNotFound) {
			return unusable("The application credential %s behind this token was deleted.", key.appCredID)
		}
		if err != nil {
			return nil, err
		}
		expanded, err := expandImplied(ctx, tx, ac.RoleIDs)
		if err != nil {
			return nil, err
		}
		roleIDs = slices.DeleteFunc(roleIDs, func(id string) bool { return !slices.Contains(expanded, id) })
		e.appCred = &auth.AppCredRef{ID: ac.ID, Name: ac.Name, ProjectID: ac.ProjectID, Unrestricted: ac.Unrestricted}
	}
	if len(roleIDs) == 0 {
		return unusable("User %s has no role on the token's scope any more; ask an administrator for a role assignment.", u.Name)
	}
	if e.roles, err = roleRefs(ctx, tx, roleIDs); err != nil {
		return nil, err
	}
	return e, nil
}

func roleRefs(ctx context.Context, tx *store.Tx, ids []string) ([]auth.Ref, error) {
	roles, err := tx.ListRoles(ctx, store.RoleFilter{IDs: ids})
	if err != nil {
		return nil, err
	}
	refs := make([]auth.Ref, 0, len(roles))
	for _, r := range roles {
		refs = append(refs, auth.Ref{ID: r.ID, Name: r.Name})
	}
	return refs, nil
}

// scopeProjectEntry fills e's project scope, or says why the project is unusable.
func (s *Service) scopeProjectEntry(ctx context.Context, tx *store.Tx, e *authzEntry, projectID string) (*authzEntry, error) {
	p, err := tx.GetProject(ctx, projectID)
	if errors.Is(err, store.ErrNotFound) {
		return unusable("The token's project %s no longer exists; authenticate with another scope.", projectID)
	}
	if err != nil {
		return nil, err
	}
	pd, err := tx.GetDomain(ctx, p.DomainID)
	if err != nil {
		return nil, err
	}
	if !p.Enabled || !pd.Enabled {
		return unusable("Project %s is disabled; ask an administrator to enable it or scope to another project.", p.Name)
	}
	e.project = &auth.Ref{ID: p.ID, Name: p.Name}
	e.projectDomain = auth.Ref{ID: pd.ID, Name: pd.Name}
	e.isAdminProject = p.Name == s.cfg.AdminProjectName && p.DomainID == DefaultDomainID
	return nil, nil
}

// trustAuthz is what a trust-scoped token grants, checked at every
// validation (as Keystone does) so that deleting the trust, disabling or
// deleting the trustor or trustee, or the trustor losing a delegated role
// on the project ends the trust's tokens: the trust and every trust up its
// redelegation chain exist and have not expired, the users along the chain
// are enabled, and the first trustor still holds each delegated role (and
// the roles they imply) on the project. The token carries those roles,
// without the domain-specific ones; its user is the trustor when the
// trust allows impersonation. Uses left do not matter here: a limited
// trust's tokens stay good while the trust lasts.
func (s *Service) trustAuthz(ctx context.Context, tx *store.Tx, key authzKey, e *authzEntry) (*authzEntry, error) {
	chain, err := trustChain(ctx, tx, key.trustID)
	if errors.Is(err, store.ErrNotFound) {
		return unusable("The trust %s behind this token (or one it was redelegated from) was deleted; ask the trustor for a new trust.", key.trustID)
	}
	if err != nil {
		return nil, err
	}
	t := chain[0]
	if t.TrusteeUserID != key.userID || t.ProjectID != key.scopeID {
		return unusable("The token does not match trust %s; authenticate again.", t.ID)
	}
	for _, c := range chain {
		if c.ExpiresAt != nil && (e.trustExpires == nil || c.ExpiresAt.Before(*e.trustExpires)) {
			e.trustExpires = c.ExpiresAt
		}
		if c.ID == t.ID {
			continue
		}
		// The users a trust was redelegated through must still be enabled.
		mid, err := tx.GetUser(ctx, c.TrusteeUserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !mid.Enabled) {
			return unusable("One of the trust agents of trust %s is disabled or deleted; the trust issues no token.", t.ID)
		}
		if err != nil {
			return nil, err
		}
	}
	if e.trustExpires != nil && !s.now().Before(*e.trustExpires) {
		return unusable("Trust %s expired at %s.", t.ID, e.trustExpires.UTC().Format(time.RFC3339))
	}
	trustor, err := tx.GetUser(ctx, t.TrustorUserID)
	if errors.Is(err, store.ErrNotFound) {
		return unusable("The trustor of trust %s no longer exists.", t.ID)
	}
	if err != nil {
		return nil, err
	}
	td, err := tx.GetDomain(ctx, trustor.DomainID)
	if err != nil {
		return nil, err
	}
	if !trustor.Enabled || !td.Enabled {
		return unusable("Trustor is disabled: user %s (or its domain) is disabled, so trust %s grants nothing.", trustor.Name, t.ID)
	}
	if bad, err := s.scopeProjectEntry(ctx, tx, e, t.ProjectID); bad != nil || err != nil {
		return bad, err
	}
	held, err := heldRoleIDs(ctx, tx, chain[len(chain)-1].TrustorUserID, store.TargetProject, t.ProjectID)
	if err != nil {
		return nil, err
	}
	delegated, err := expandImplied(ctx, tx, t.RoleIDs)
	if err != nil {
		return nil, err
	}
	for _, id := range delegated {
		if !slices.Contains(held, id) {
			return unusable("Trustee has no delegated roles: the trustor no longer holds role %s on project %s, so trust %s grants nothing until it does.", id, t.ProjectID, t.ID)
		}
	}
	domainRoles, err := domainRoleIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	if e.roles, err = roleRefs(ctx, tx, slices.DeleteFunc(delegated, func(id string) bool { return domainRoles[id] })); err != nil {
		return nil, err
	}
	if t.Impersonation {
		e.user = auth.Ref{ID: trustor.ID, Name: trustor.Name}
		e.userDomain = auth.Ref{ID: td.ID, Name: td.Name}
		e.passwordExpiresAt = trustor.PasswordExpiresAt
	}
	e.trust = &auth.TrustRef{ID: t.ID, TrustorID: t.TrustorUserID, TrusteeID: t.TrusteeUserID,
		Impersonation: t.Impersonation, RedelegatedTrustID: t.RedelegatedTrustID, RedelegationCount: t.RedelegationCount}
	return e, nil
}

// effectiveRoleIDs returns the ids of every role the user holds on the
// target: directly, through its groups, inherited from the project's
// domain and ancestors, and the roles those imply; domain-specific roles
// are left out (they never appear in tokens, only the roles they imply).
func effectiveRoleIDs(ctx context.Context, tx *store.Tx, userID, targetType, targetID string) ([]string, error) {
	ids, err := heldRoleIDs(ctx, tx, userID, targetType, targetID)
	if err != nil {
		return nil, err
	}
	domainRoles, err := domainRoleIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return domainRoles[id] }), nil
}

// heldRoleIDs is effectiveRoleIDs with the domain-specific roles kept:
// what a trustor may delegate (Keystone checks trusts against it).
func heldRoleIDs(ctx context.Context, tx *store.Tx, userID, targetType, targetID string) ([]string, error) {
	groups, err := tx.ListGroups(ctx, store.GroupFilter{UserID: userID})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	collect := func(typ, id string, inheritedOnly bool) error {
		for _, actor := range []struct {
			typ string
			ids []string
		}{{store.ActorUser, []string{userID}}, {store.ActorGroup, groupIDs(groups)}} {
			if len(actor.ids) == 0 {
				continue
			}
			as, err := tx.ListAssignments(ctx, store.AssignmentFilter{ActorType: actor.typ, ActorIDs: actor.ids, TargetType: typ, TargetID: id})
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.Inherited == inheritedOnly {
					seen[a.RoleID] = true
				}
			}
		}
		return nil
	}
	if err := collect(targetType, targetID, false); err != nil {
		return nil, err
	}
	if targetType == store.TargetProject {
		// Inherited assignments flow down from the domain and every ancestor.
		p, err := tx.GetProject(ctx, targetID)
		if err != nil {
			return nil, err
		}
		if err := collect(store.TargetDomain, p.DomainID, true); err != nil {
			return nil, err
		}
		for parent, depth := p.ParentID, 0; parent != p.DomainID && depth < 16; depth++ {
			pp, err := tx.GetProject(ctx, parent)
			if err != nil {
				break
			}
			if err := collect(store.TargetProject, pp.ID, true); err != nil {
				return nil, err
			}
			parent = pp.ParentID
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	return expandImplied(ctx, tx, ids)
}

func groupIDs(gs []store.Group) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

// expandImplied adds every role implied, transitively, by ids.
func expandImplied(ctx context.Context, tx *store.Tx, ids []string) ([]string, error) {
	edges, err := tx.ListImpliedRoles(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	queue := slices.Clone(ids)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, e := range edges {
			if e.PriorID == id && !seen[e.ImpliedID] {
				queue = append(queue, e.ImpliedID)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}
