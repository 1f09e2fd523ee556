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
	isAdminProject    bool
	err               error // the token is unusable, and why
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
	var roleIDs []string
	switch key.scope {
	case scopeNone:
		return e, nil
	case scopeProject:
		p, err := tx.GetProject(ctx, key.scopeID)
		if errors.Is(err, store.ErrNotFound) {
			return unusable("The token's project %s no longer exists; authenticate with another scope.", key.scopeID)
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
		if roleIDs, err = effectiveRoleIDs(ctx, tx, u.ID, store.TargetProject, p.ID); err != nil {
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
	roles, err := tx.ListRoles(ctx, store.RoleFilter{IDs: roleIDs})
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		e.roles = append(e.roles, auth.Ref{ID: r.ID, Name: r.Name})
	}
	return e, nil
}

// effectiveRoleIDs returns the ids of every role the user holds on the
// target: directly, through its groups, inherited from the project's
// domain and ancestors, and the roles those imply.
func effectiveRoleIDs(ctx context.Context, tx *store.Tx, userID, targetType, targetID string) ([]string, error) {
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
	if ids, err = expandImplied(ctx, tx, ids); err != nil {
		return nil, err
	}
	// Domain-specific roles never appear in tokens: only the global roles
	// they imply do.
	domainRoles, err := domainRoleIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return domainRoles[id] }), nil
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
