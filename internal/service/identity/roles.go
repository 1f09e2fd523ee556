package identity

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// ---- roles

// CreateRole creates a global (DomainID "") or domain-specific role.
func (s *Service) CreateRole(ctx context.Context, r store.Role) (store.Role, error) {
	if err := checkName("role", r.Name, 255); err != nil {
		return r, err
	}
	r.ID, r.CreatedAt = newID(), s.now()
	return r, s.write(ctx, func(tx *store.Tx) error {
		if r.DomainID != "" {
			if err := s.domainExists(ctx, tx, r.DomainID); err != nil {
				return err
			}
		}
		return conflict(tx.CreateRole(ctx, r), "role %s: a role with this name exists", r.Name)
	})
}

// GetRole reads a role.
func (s *Service) GetRole(ctx context.Context, id string) (r store.Role, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		r, err = tx.GetRole(ctx, id)
		return notFound(err, "role", id)
	})
	return r, err
}

// ListRoles lists roles.
func (s *Service) ListRoles(ctx context.Context, f RoleFilter) (rs []store.Role, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		rs, err = tx.ListRoles(ctx, store.RoleFilter(f))
		return err
	})
	return rs, err
}

// UpdateRole applies fn to a role and saves it.
func (s *Service) UpdateRole(ctx context.Context, id string, fn func(*store.Role) error) (r store.Role, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if r, err = tx.GetRole(ctx, id); err != nil {
			return notFound(err, "role", id)
		}
		if err := fn(&r); err != nil {
			return err
		}
		if err := checkName("role", r.Name, 255); err != nil {
			return err
		}
		return conflict(tx.UpdateRole(ctx, r), "role %s: a role with this name exists", r.Name)
	})
	return r, err
}

// DeleteRole deletes a role and every assignment of it.
func (s *Service) DeleteRole(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error { return notFound(tx.DeleteRole(ctx, id), "role", id) })
}

// ImpliedRole is one edge with both roles resolved.
type ImpliedRole struct{ Prior, Implied store.Role }

// AddImpliedRole records that prior implies implied, refusing cycles.
func (s *Service) AddImpliedRole(ctx context.Context, priorID, impliedID string) (ir ImpliedRole, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if ir, err = s.impliedPair(ctx, tx, priorID, impliedID); err != nil {
			return err
		}
		reach, err := expandImplied(ctx, tx, []string{impliedID})
		if err != nil {
			return err
		}
		if slices.Contains(reach, priorID) {
			return oserr.Forbidden("Role %s already implies %s, directly or not; an implication cycle is not allowed.", ir.Implied.Name, ir.Prior.Name)
		}
		return tx.AddImpliedRole(ctx, priorID, impliedID)
	})
	return ir, err
}

func (s *Service) impliedPair(ctx context.Context, tx *store.Tx, priorID, impliedID string) (ImpliedRole, error) {
	var ir ImpliedRole
	var err error
	if ir.Prior, err = tx.GetRole(ctx, priorID); err != nil {
		return ir, notFound(err, "role", priorID)
	}
	if ir.Implied, err = tx.GetRole(ctx, impliedID); err != nil {
		return ir, notFound(err, "role", impliedID)
	}
	return ir, nil
}

// GetImpliedRole checks one implication; 404 when absent.
func (s *Service) GetImpliedRole(ctx context.Context, priorID, impliedID string) (ir ImpliedRole, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if ir, err = s.impliedPair(ctx, tx, priorID, impliedID); err != nil {
			return err
		}
		edges, err := tx.ListImpliedRoles(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(edges, store.ImpliedRole{PriorID: priorID, ImpliedID: impliedID}) {
			return oserr.NotFound("Role %s does not imply role %s.", priorID, impliedID)
		}
		return nil
	})
	return ir, err
}

// RemoveImpliedRole deletes one implication.
func (s *Service) RemoveImpliedRole(ctx context.Context, priorID, impliedID string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := s.impliedPair(ctx, tx, priorID, impliedID); err != nil {
			return err
		}
		if err := tx.RemoveImpliedRole(ctx, priorID, impliedID); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Role %s does not imply role %s.", priorID, impliedID)
		} else {
			return err
		}
	})
}

// RoleInference is a prior role with the roles it implies directly.
type RoleInference struct {
	Prior   store.Role
	Implies []store.Role
}

// ListImplied lists the direct implications, of one role when priorID is set.
func (s *Service) ListImplied(ctx context.Context, priorID string) (out []RoleInference, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if priorID != "" {
			if _, err := tx.GetRole(ctx, priorID); err != nil {
				return notFound(err, "role", priorID)
			}
		}
		edges, err := tx.ListImpliedRoles(ctx)
		if err != nil {
			return err
		}
		roles, err := tx.ListRoles(ctx, store.RoleFilter{})
		if err != nil {
			return err
		}
		byID := map[string]store.Role{}
		for _, r := range roles {
			byID[r.ID] = r
		}
		idx := map[string]int{}
		for _, e := range edges {
			if priorID != "" && e.PriorID != priorID {
				continue
			}
			i, ok := idx[e.PriorID]
			if !ok {
				i = len(out)
				idx[e.PriorID] = i
				out = append(out, RoleInference{Prior: byID[e.PriorID]})
			}
			out[i].Implies = append(out[i].Implies, byID[e.ImpliedID])
		}
		if priorID != "" && len(out) == 0 {
			out = append(out, RoleInference{Prior: byID[priorID]})
		}
		return nil
	})
	return out, err
}

// ---- grants

// checkGrant verifies that the actor, target and role of a exist.
func (s *Service) checkGrant(ctx context.Context, tx *store.Tx, a store.Assignment) error {
	if err := s.checkActorTarget(ctx, tx, a); err != nil {
		return err
	}
	_, err := tx.GetRole(ctx, a.RoleID)
	return notFound(err, "role", a.RoleID)
}

// checkActorTarget verifies that the actor and target of a exist.
func (s *Service) checkActorTarget(ctx context.Context, tx *store.Tx, a store.Assignment) error {
	var err error
	switch a.ActorType {
	case store.ActorUser:
		_, err = tx.GetUser(ctx, a.ActorID)
		err = notFound(err, "user", a.ActorID)
	case store.ActorGroup:
		_, err = tx.GetGroup(ctx, a.ActorID)
		err = notFound(err, "group", a.ActorID)
	}
	if err != nil {
		return err
	}
	switch a.TargetType {
	case store.TargetProject:
		_, err = tx.GetProject(ctx, a.TargetID)
		err = notFound(err, "project", a.TargetID)
	case store.TargetDomain:
		_, err = tx.GetDomain(ctx, a.TargetID)
		err = notFound(err, "domain", a.TargetID)
	}
	return err
}

// Grant assigns a role.
func (s *Service) Grant(ctx context.Context, a store.Assignment) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if err := s.checkGrant(ctx, tx, a); err != nil {
			return err
		}
		return tx.Grant(ctx, a)
	})
}

// CheckGrant returns nil when a exists, 404 otherwise.
func (s *Service) CheckGrant(ctx context.Context, a store.Assignment) error {
	return s.read(ctx, func(tx *store.Tx) error {
		if err := s.checkGrant(ctx, tx, a); err != nil {
			return err
		}
		as, err := tx.ListAssignments(ctx, store.AssignmentFilter{ActorType: a.ActorType, ActorIDs: []string{a.ActorID}, TargetType: a.TargetType, TargetID: a.TargetID, RoleID: a.RoleID})
		if err != nil {
			return err
		}
		if !slices.Contains(as, a) {
			return oserr.NotFound("Could not find role assignment: role %s is not granted to %s %s on %s %s.", a.RoleID, a.ActorType, a.ActorID, a.TargetType, a.TargetID)
		}
		return nil
	})
}

// Revoke removes a role assignment. The token cache drops at once, so tokens
// that relied on the role lose it (or stop validating) immediately.
func (s *Service) Revoke(ctx context.Context, a store.Assignment) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if err := s.checkGrant(ctx, tx, a); err != nil {
			return err
		}
		if err := tx.Revoke(ctx, a); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Could not find role assignment: role %s is not granted to %s %s on %s %s.", a.RoleID, a.ActorType, a.ActorID, a.TargetType, a.TargetID)
		} else {
			return err
		}
	})
}

// GrantedRoles lists the roles granted directly to an actor on a target.
func (s *Service) GrantedRoles(ctx context.Context, actorType, actorID, targetType, targetID string, inherited bool) (rs []store.Role, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		probe := store.Assignment{ActorType: actorType, ActorID: actorID, TargetType: targetType, TargetID: targetID}
		if err := s.checkActorTarget(ctx, tx, probe); err != nil {
			return err
		}
		as, err := tx.ListAssignments(ctx, store.AssignmentFilter{ActorType: actorType, ActorIDs: []string{actorID}, TargetType: targetType, TargetID: targetID})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, a := range as {
			if a.Inherited == inherited {
				ids = append(ids, a.RoleID)
			}
		}
		rs, err = tx.ListRoles(ctx, store.RoleFilter{IDs: ids})
		return err
	})
	return rs, err
}

// AssignmentQuery filters ListRoleAssignments, as GET /v3/role_assignments does.
type AssignmentQuery struct {
	UserID, GroupID, RoleID string
	ProjectID, DomainID     string
	System                  bool
	// Effective expands group assignments into their members and roles
	// into the roles they imply.
	Effective bool
}

// RoleAssignment is one row of GET /v3/role_assignments.
type RoleAssignment struct {
	store.Assignment
	// ViaGroup is the group an effective user assignment came through.
	ViaGroup string
	// PriorRoleID is the role that implied this one, for effective lists.
	PriorRoleID string
}

// ListRoleAssignments lists assignments matching q.
func (s *Service) ListRoleAssignments(ctx context.Context, q AssignmentQuery) (out []RoleAssignment, err error) {
	if q.Effective && q.GroupID != "" {
		return nil, oserr.BadRequest("Combining effective and group.id always gives an empty list; drop one of them.")
	}
	targetType, targetID := "", ""
	switch {
	case q.ProjectID != "":
		targetType, targetID = store.TargetProject, q.ProjectID
	case q.DomainID != "":
		targetType, targetID = store.TargetDomain, q.DomainID
	case q.System:
		targetType, targetID = store.TargetSystem, store.SystemAll
	}
	err = s.read(ctx, func(tx *store.Tx) error {
		f := store.AssignmentFilter{}
		if !q.Effective {
			// Direct assignments: every filter applies in SQL. Effective ones
			// are filtered after expansion, since groups, inheritance and
			// implications move assignments onto other users, projects and roles.
			f.RoleID, f.TargetType, f.TargetID = q.RoleID, targetType, targetID
			switch {
			case q.GroupID != "":
				f.ActorType, f.ActorIDs = store.ActorGroup, []string{q.GroupID}
			case q.UserID != "":
				f.ActorType, f.ActorIDs = store.ActorUser, []string{q.UserID}
			}
		}
		as, err := tx.ListAssignments(ctx, f)
		if err != nil {
			return err
		}
		rows := make([]RoleAssignment, len(as))
		for i, a := range as {
			rows[i] = RoleAssignment{Assignment: a}
		}
		if q.Effective {
			if rows, err = expandEffective(ctx, tx, rows); err != nil {
				return err
			}
		}
		for _, r := range rows {
			if q.UserID != "" && (r.ActorType != store.ActorUser || r.ActorID != q.UserID) {
				continue
			}
			if q.RoleID != "" && r.RoleID != q.RoleID {
				continue
			}
			if targetType != "" && (r.TargetType != targetType || r.TargetID != targetID) {
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// expandEffective turns direct assignments into effective ones: group rows
// become one row per member, inherited rows one row per project below their
// target, implied roles are added, and domain-specific roles (which only
// ever act through the global roles they imply) are dropped.
func expandEffective(ctx context.Context, tx *store.Tx, rows []RoleAssignment) ([]RoleAssignment, error) {
	projects, err := tx.ListProjects(ctx, store.ProjectFilter{})
	if err != nil {
		return nil, err
	}
	children := map[string][]string{} // parent (project or domain) -> projects
	for _, p := range projects {
		children[p.ParentID] = append(children[p.ParentID], p.ID)
	}
	below := func(id string) []string { // every project under id, depth first
		var out []string
		stack := slices.Clone(children[id])
		for len(stack) > 0 && len(out) < len(projects) {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			out = append(out, p)
			stack = append(stack, children[p]...)
		}
		return out
	}
	var flat []RoleAssignment
	for _, r := range rows {
		if !r.Inherited {
			flat = append(flat, r)
			continue
		}
		for _, p := range below(r.TargetID) {
			e := r
			e.TargetType, e.TargetID, e.Inherited = store.TargetProject, p, false
			flat = append(flat, e)
		}
	}
	var out []RoleAssignment
	for _, r := range flat {
		if r.ActorType != store.ActorGroup {
			out = append(out, r)
			continue
		}
		members, err := tx.ListUsers(ctx, store.UserFilter{GroupID: r.ActorID})
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			e := r
			e.ActorType, e.ActorID, e.ViaGroup = store.ActorUser, m.ID, r.ActorID
			out = append(out, e)
		}
	}
	edges, err := tx.ListImpliedRoles(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[store.Assignment]bool{}
	for _, r := range out {
		seen[r.Assignment] = true
	}
	for i := 0; i < len(out); i++ {
		for _, e := range edges {
			if e.PriorID != out[i].RoleID {
				continue
			}
			n := out[i]
			n.RoleID, n.PriorRoleID = e.ImpliedID, out[i].RoleID
			if !seen[n.Assignment] {
				seen[n.Assignment] = true
				out = append(out, n)
			}
		}
	}
	domainRoles, err := domainRoleIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(r RoleAssignment) bool { return domainRoles[r.RoleID] }), nil
}

// domainRoleIDs returns the ids of domain-specific roles.
func domainRoleIDs(ctx context.Context, tx *store.Tx) (map[string]bool, error) {
	rs, err := tx.ListRoles(ctx, store.RoleFilter{})
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, r := range rs {
		if r.DomainID != "" {
			m[r.ID] = true
		}
	}
	return m, nil
}

// ---- application credentials

// AppCredInput is what a user asks for when creating an application credential.
type AppCredInput struct {
	Name, Description, Secret string
	ExpiresAt                 *time.Time
	Unrestricted              bool
	// RoleIDs and RoleNames select roles; none means every role of the token.
	RoleIDs, RoleNames []string
}

// CreateAppCred creates an application credential for the user of a
// project-scoped token, limited to roles that token carries. It returns the
// credential and its secret (generated when not given), shown only once.
func (s *Service) CreateAppCred(ctx context.Context, userID, projectID string, tokenRoles []store.Role, in AppCredInput) (store.AppCred, string, error) {
	if err := checkName("application credential", in.Name, 255); err != nil {
		return store.AppCred{}, "", err
	}
	if projectID == "" {
		return store.AppCred{}, "", oserr.Forbidden("Application credentials need a project-scoped token; authenticate with a project scope.")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return store.AppCred{}, "", oserr.BadRequest("Invalid input for field 'expires_at': it is in the past; give a future time.")
	}
	var roleIDs []string
	for _, r := range tokenRoles {
		if (len(in.RoleIDs) == 0 && len(in.RoleNames) == 0) || slices.Contains(in.RoleIDs, r.ID) || slices.Contains(in.RoleNames, r.Name) {
			roleIDs = append(roleIDs, r.ID)
		}
	}
	for _, want := range append(slices.Clone(in.RoleIDs), in.RoleNames...) {
		if !slices.ContainsFunc(tokenRoles, func(r store.Role) bool { return r.ID == want || r.Name == want }) {
			return store.AppCred{}, "", oserr.Forbidden("Role %s is not among the roles of your token on project %s; an application credential can only delegate roles you hold.", want, projectID)
		}
	}
	secret := in.Secret
	if secret == "" {
		secret = newAuditID() + newAuditID()
	}
	if err := CheckPasswordInput(secret); err != nil {
		return store.AppCred{}, "", err
	}
	h, err := s.hashSecret(secret)
	if err != nil {
		return store.AppCred{}, "", err
	}
	ac := store.AppCred{
		ID: newID(), UserID: userID, ProjectID: projectID, Name: in.Name, Description: in.Description,
		SecretHash: h, ExpiresAt: in.ExpiresAt, Unrestricted: in.Unrestricted, RoleIDs: roleIDs, CreatedAt: s.now(),
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		return conflict(tx.CreateAppCred(ctx, ac), "application credential %s: you already have one with this name", ac.Name)
	})
	return ac, secret, err
}

// GetAppCred reads one of the user's application credentials.
func (s *Service) GetAppCred(ctx context.Context, userID, id string) (ac store.AppCred, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ac, err = tx.GetAppCred(ctx, id)
		if err == nil && ac.UserID != userID {
			err = store.ErrNotFound
		}
		return notFound(err, "application credential", id)
	})
	return ac, err
}

// ListAppCreds lists the user's application credentials.
func (s *Service) ListAppCreds(ctx context.Context, userID, name string) (acs []store.AppCred, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetUser(ctx, userID); err != nil {
			return notFound(err, "user", userID)
		}
		acs, err = tx.ListAppCreds(ctx, userID, name)
		return err
	})
	return acs, err
}

// DeleteAppCred deletes one of the user's application credentials and
// revokes the tokens issued for it.
func (s *Service) DeleteAppCred(ctx context.Context, userID, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		ac, err := tx.GetAppCred(ctx, id)
		if err == nil && ac.UserID != userID {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "application credential", id)
		}
		if err := s.revoke(ctx, tx, store.RevokeAppCred, id); err != nil {
			return err
		}
		return tx.DeleteAppCred(ctx, id)
	})
}

// RolesByID resolves role ids (for showing an application credential).
func (s *Service) RolesByID(ctx context.Context, ids []string) (rs []store.Role, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		rs, err = tx.ListRoles(ctx, store.RoleFilter{IDs: ids})
		return err
	})
	return rs, err
}
