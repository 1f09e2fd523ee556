package store

import (
	"context"
	"database/sql"
	"time"
)

// Domain is a Keystone domain row.
type Domain struct {
	ID, Name, Description string
	Enabled               bool
	Extra                 map[string]any
	CreatedAt             time.Time
}

// Project is a Keystone project row. ParentID is the domain's id for a
// top-level project, as Keystone reports it.
type Project struct {
	ID, DomainID, ParentID, Name, Description string
	Enabled                                   bool
	Tags                                      []string
	Extra                                     map[string]any
	CreatedAt                                 time.Time
}

// User is a Keystone user row.
type User struct {
	ID, DomainID, Name string
	Enabled            bool
	PasswordHash       string
	PasswordExpiresAt  *time.Time
	DefaultProjectID   string
	Description        string
	Extra              map[string]any
	CreatedAt          time.Time
}

// Group is a Keystone group row.
type Group struct {
	ID, DomainID, Name, Description string
	Extra                           map[string]any
	CreatedAt                       time.Time
}

// Role is a Keystone role row; DomainID is "" for a global role.
type Role struct {
	ID, Name, DomainID, Description string
	Extra                           map[string]any
	CreatedAt                       time.Time
}

// Actor and target kinds of an Assignment.
const (
	ActorUser     = "user"
	ActorGroup    = "group"
	TargetProject = "project"
	TargetDomain  = "domain"
	TargetSystem  = "system"
	SystemAll     = "all"
)

// Assignment grants a role to a user or group on a project, domain or the system.
type Assignment struct {
	ActorType, ActorID   string
	TargetType, TargetID string
	RoleID               string
	Inherited            bool
}

// AppCred is an application credential row.
type AppCred struct {
	ID, UserID, ProjectID, Name, Description, SecretHash string
	ExpiresAt                                            *time.Time
	Unrestricted                                         bool
	RoleIDs                                              []string
	CreatedAt                                            time.Time
}

// Region is a catalog region row.
type Region struct {
	ID, Description, ParentRegionID string
	Extra                           map[string]any
}

// Service is a catalog service row.
type Service struct {
	ID, Type, Name, Description string
	Enabled                     bool
	Extra                       map[string]any
}

// Endpoint is a catalog endpoint row.
type Endpoint struct {
	ID, ServiceID, Interface, RegionID, URL string
	Enabled                                 bool
	Extra                                   map[string]any
}

// Revocation kinds: a token matching Value on that attribute and issued at
// or before IssuedBefore is revoked.
const (
	RevokeAudit   = "audit"
	RevokeUser    = "user"
	RevokeProject = "project"
	RevokeDomain  = "domain"
	RevokeAppCred = "app_cred"
)

// Revocation is one revocation event.
type Revocation struct {
	Kind, Value  string
	IssuedBefore time.Time
	ExpiresAt    time.Time
}

// ---- domains

const domainCols = `id, name, description, enabled, extra, created_at`

func scanDomain(s scanner) (Domain, error) {
	var d Domain
	var ex string
	var created int64
	err := s.Scan(&d.ID, &d.Name, &d.Description, &d.Enabled, &ex, &created)
	d.Extra, d.CreatedAt = extra(ex), fromMicros(created)
	return d, err
}

// CreateDomain inserts d; ErrConflict when the name is taken.
func (t *Tx) CreateDomain(ctx context.Context, d Domain) error {
	_, err := t.exec(ctx, `INSERT INTO domains (`+domainCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.Description, d.Enabled, toJSON(d.Extra), micros(d.CreatedAt))
	return t.mapErr(err)
}

// UpdateDomain writes every mutable field of d.
func (t *Tx) UpdateDomain(ctx context.Context, d Domain) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE domains SET name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?`,
		d.Name, d.Description, d.Enabled, toJSON(d.Extra), d.ID)))
}

// GetDomain reads one domain by id.
func (t *Tx) GetDomain(ctx context.Context, id string) (Domain, error) {
	return one(ctx, t, scanDomain, `SELECT `+domainCols+` FROM domains WHERE id = ?`, id)
}

// GetDomainByName reads one domain by name.
func (t *Tx) GetDomainByName(ctx context.Context, name string) (Domain, error) {
	return one(ctx, t, scanDomain, `SELECT `+domainCols+` FROM domains WHERE name = ?`, name)
}

// DomainFilter narrows ListDomains; empty fields match all.
type DomainFilter struct {
	Name    string
	Enabled *bool
	IDs     []string // nil: any
}

// ListDomains lists domains by name.
func (t *Tx) ListDomains(ctx context.Context, f DomainFilter) ([]Domain, error) {
	w := &where{}
	w.eq("name", f.Name, f.Name != "")
	if f.Enabled != nil {
		w.eq("enabled", *f.Enabled, true)
	}
	if f.IDs != nil {
		w.in("id", f.IDs)
	}
	return list(ctx, t, scanDomain, `SELECT `+domainCols+` FROM domains`+w.sql()+` ORDER BY name, id`, w.args...)
}

// DeleteDomain removes a domain and everything it owns.
func (t *Tx) DeleteDomain(ctx context.Context, id string) error {
	for _, q := range []string{
		`DELETE FROM assignments WHERE actor_type = 'user' AND actor_id IN (SELECT id FROM users WHERE domain_id = ?)`,
		`DELETE FROM assignments WHERE actor_type = 'group' AND actor_id IN (SELECT id FROM user_groups WHERE domain_id = ?)`,
		`DELETE FROM assignments WHERE target_type = 'project' AND target_id IN (SELECT id FROM projects WHERE domain_id = ?)`,
		`DELETE FROM assignments WHERE target_type = 'domain' AND target_id = ?`,
		`DELETE FROM app_creds WHERE project_id IN (SELECT id FROM projects WHERE domain_id = ?)`,
		`DELETE FROM users WHERE domain_id = ?`,
		`DELETE FROM user_groups WHERE domain_id = ?`,
		`DELETE FROM projects WHERE domain_id = ?`,
		`DELETE FROM roles WHERE domain_id = ?`,
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return err
		}
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM domains WHERE id = ?`, id)))
}

// ---- projects

const projectCols = `id, domain_id, parent_id, name, description, enabled, tags, extra, created_at`

func scanProject(s scanner) (Project, error) {
	var p Project
	var tags, ex string
	var created int64
	err := s.Scan(&p.ID, &p.DomainID, &p.ParentID, &p.Name, &p.Description, &p.Enabled, &tags, &ex, &created)
	p.Tags, p.Extra, p.CreatedAt = stringList(tags), extra(ex), fromMicros(created)
	return p, err
}

// CreateProject inserts p; ErrConflict when its name is taken in its domain.
func (t *Tx) CreateProject(ctx context.Context, p Project) error {
	_, err := t.exec(ctx, `INSERT INTO projects (`+projectCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.DomainID, p.ParentID, p.Name, p.Description, p.Enabled, toJSON(p.Tags), toJSON(p.Extra), micros(p.CreatedAt))
	return t.mapErr(err)
}

// UpdateProject writes every mutable field of p.
func (t *Tx) UpdateProject(ctx context.Context, p Project) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE projects SET name = ?, description = ?, enabled = ?, tags = ?, extra = ? WHERE id = ?`,
		p.Name, p.Description, p.Enabled, toJSON(p.Tags), toJSON(p.Extra), p.ID)))
}

// GetProject reads one project by id.
func (t *Tx) GetProject(ctx context.Context, id string) (Project, error) {
	return one(ctx, t, scanProject, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id)
}

// GetProjectByName reads one project by domain and name.
func (t *Tx) GetProjectByName(ctx context.Context, domainID, name string) (Project, error) {
	return one(ctx, t, scanProject, `SELECT `+projectCols+` FROM projects WHERE domain_id = ? AND name = ?`, domainID, name)
}

// ProjectFilter narrows ListProjects; empty fields match all.
type ProjectFilter struct {
	DomainID, ParentID, Name string
	Enabled                  *bool
	IDs                      []string // nil: any
}

// ListProjects lists projects by name.
func (t *Tx) ListProjects(ctx context.Context, f ProjectFilter) ([]Project, error) {
	w := &where{}
	w.eq("domain_id", f.DomainID, f.DomainID != "").eq("parent_id", f.ParentID, f.ParentID != "").eq("name", f.Name, f.Name != "")
	if f.Enabled != nil {
		w.eq("enabled", *f.Enabled, true)
	}
	if f.IDs != nil {
		w.in("id", f.IDs)
	}
	return list(ctx, t, scanProject, `SELECT `+projectCols+` FROM projects`+w.sql()+` ORDER BY name, id`, w.args...)
}

// CountChildProjects counts the projects whose parent is id.
func (t *Tx) CountChildProjects(ctx context.Context, id string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM projects WHERE parent_id = ?`, id).Scan(&n)
	return n, err
}

// DeleteProject removes a project with its assignments, application
// credentials and the trusts that delegate roles on it.
func (t *Tx) DeleteProject(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM assignments WHERE target_type = 'project' AND target_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM app_creds WHERE project_id = ?`, id); err != nil {
		return err
	}
	if err := t.deleteTrustsOn(ctx, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM projects WHERE id = ?`, id)))
}

// ---- users

const userCols = `id, domain_id, name, enabled, password_hash, password_expires_at, default_project_id, description, extra, created_at`

func scanUser(s scanner) (User, error) {
	var u User
	var exp sql.NullInt64
	var ex string
	var created int64
	err := s.Scan(&u.ID, &u.DomainID, &u.Name, &u.Enabled, &u.PasswordHash, &exp, &u.DefaultProjectID, &u.Description, &ex, &created)
	u.PasswordExpiresAt, u.Extra, u.CreatedAt = fromNullMicros(exp), extra(ex), fromMicros(created)
	return u, err
}

// CreateUser inserts u; ErrConflict when its name is taken in its domain.
func (t *Tx) CreateUser(ctx context.Context, u User) error {
	_, err := t.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.DomainID, u.Name, u.Enabled, u.PasswordHash, nullMicros(u.PasswordExpiresAt), u.DefaultProjectID, u.Description, toJSON(u.Extra), micros(u.CreatedAt))
	return t.mapErr(err)
}

// UpdateUser writes every mutable field of u, the password hash included.
func (t *Tx) UpdateUser(ctx context.Context, u User) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE users SET name = ?, enabled = ?, password_hash = ?, password_expires_at = ?, default_project_id = ?, description = ?, extra = ? WHERE id = ?`,
		u.Name, u.Enabled, u.PasswordHash, nullMicros(u.PasswordExpiresAt), u.DefaultProjectID, u.Description, toJSON(u.Extra), u.ID)))
}

// GetUser reads one user by id.
func (t *Tx) GetUser(ctx context.Context, id string) (User, error) {
	return one(ctx, t, scanUser, `SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

// GetUserByName reads one user by domain and name.
func (t *Tx) GetUserByName(ctx context.Context, domainID, name string) (User, error) {
	return one(ctx, t, scanUser, `SELECT `+userCols+` FROM users WHERE domain_id = ? AND name = ?`, domainID, name)
}

// UserFilter narrows ListUsers; empty fields match all.
type UserFilter struct {
	DomainID, Name string
	Enabled        *bool
	GroupID        string
}

// ListUsers lists users by name.
func (t *Tx) ListUsers(ctx context.Context, f UserFilter) ([]User, error) {
	w := &where{}
	w.eq("domain_id", f.DomainID, f.DomainID != "").eq("name", f.Name, f.Name != "")
	if f.Enabled != nil {
		w.eq("enabled", *f.Enabled, true)
	}
	if f.GroupID != "" {
		w.clauses = append(w.clauses, "id IN (SELECT user_id FROM group_members WHERE group_id = ?)")
		w.args = append(w.args, f.GroupID)
	}
	return list(ctx, t, scanUser, `SELECT `+userCols+` FROM users`+w.sql()+` ORDER BY name, id`, w.args...)
}

// DeleteUser removes a user with its assignments, memberships, application
// credentials and the trusts it gives or receives.
func (t *Tx) DeleteUser(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = ?`, id); err != nil {
		return err
	}
	if err := t.deleteTrustsOf(ctx, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM users WHERE id = ?`, id)))
}

// ---- groups

const groupCols = `id, domain_id, name, description, extra, created_at`

func scanGroup(s scanner) (Group, error) {
	var g Group
	var ex string
	var created int64
	err := s.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &ex, &created)
	g.Extra, g.CreatedAt = extra(ex), fromMicros(created)
	return g, err
}

// CreateGroup inserts g; ErrConflict when its name is taken in its domain.
func (t *Tx) CreateGroup(ctx context.Context, g Group) error {
	_, err := t.exec(ctx, `INSERT INTO user_groups (`+groupCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.DomainID, g.Name, g.Description, toJSON(g.Extra), micros(g.CreatedAt))
	return t.mapErr(err)
}

// UpdateGroup writes every mutable field of g.
func (t *Tx) UpdateGroup(ctx context.Context, g Group) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE user_groups SET name = ?, description = ?, extra = ? WHERE id = ?`,
		g.Name, g.Description, toJSON(g.Extra), g.ID)))
}

// GetGroup reads one group by id.
func (t *Tx) GetGroup(ctx context.Context, id string) (Group, error) {
	return one(ctx, t, scanGroup, `SELECT `+groupCols+` FROM user_groups WHERE id = ?`, id)
}

// GroupFilter narrows ListGroups; empty fields match all.
type GroupFilter struct {
	DomainID, Name, UserID string
}

// ListGroups lists groups by name.
func (t *Tx) ListGroups(ctx context.Context, f GroupFilter) ([]Group, error) {
	w := &where{}
	w.eq("domain_id", f.DomainID, f.DomainID != "").eq("name", f.Name, f.Name != "")
	if f.UserID != "" {
		w.clauses = append(w.clauses, "id IN (SELECT group_id FROM group_members WHERE user_id = ?)")
		w.args = append(w.args, f.UserID)
	}
	return list(ctx, t, scanGroup, `SELECT `+groupCols+` FROM user_groups`+w.sql()+` ORDER BY name, id`, w.args...)
}

// DeleteGroup removes a group with its memberships and assignments.
func (t *Tx) DeleteGroup(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM assignments WHERE actor_type = 'group' AND actor_id = ?`, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM user_groups WHERE id = ?`, id)))
}

// AddGroupMember adds a user to a group; adding twice is not an error.
func (t *Tx) AddGroupMember(ctx context.Context, groupID, userID string) error {
	_, err := t.exec(ctx, `INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, groupID, userID)
	return t.mapErr(err)
}

// RemoveGroupMember removes a user from a group; ErrNotFound when not a member.
func (t *Tx) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, groupID, userID)))
}

// IsGroupMember reports whether the user is in the group.
func (t *Tx) IsGroupMember(ctx context.Context, groupID, userID string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM group_members WHERE group_id = ? AND user_id = ?`, groupID, userID).Scan(&n)
	return n > 0, err
}

// ---- roles

const roleCols = `id, name, domain_id, description, extra, created_at`

func scanRole(s scanner) (Role, error) {
	var r Role
	var ex string
	var created int64
	err := s.Scan(&r.ID, &r.Name, &r.DomainID, &r.Description, &ex, &created)
	r.Extra, r.CreatedAt = extra(ex), fromMicros(created)
	return r, err
}

// CreateRole inserts r; ErrConflict when its name is taken.
func (t *Tx) CreateRole(ctx context.Context, r Role) error {
	_, err := t.exec(ctx, `INSERT INTO roles (`+roleCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.DomainID, r.Description, toJSON(r.Extra), micros(r.CreatedAt))
	return t.mapErr(err)
}

// UpdateRole writes every mutable field of r.
func (t *Tx) UpdateRole(ctx context.Context, r Role) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE roles SET name = ?, description = ?, extra = ? WHERE id = ?`,
		r.Name, r.Description, toJSON(r.Extra), r.ID)))
}

// GetRole reads one role by id.
func (t *Tx) GetRole(ctx context.Context, id string) (Role, error) {
	return one(ctx, t, scanRole, `SELECT `+roleCols+` FROM roles WHERE id = ?`, id)
}

// RoleFilter narrows ListRoles; empty fields match all.
type RoleFilter struct {
	Name     string
	DomainID *string // nil: any; "": global roles only
	IDs      []string
}

// ListRoles lists roles by name.
func (t *Tx) ListRoles(ctx context.Context, f RoleFilter) ([]Role, error) {
	w := &where{}
	w.eq("name", f.Name, f.Name != "")
	if f.DomainID != nil {
		w.eq("domain_id", *f.DomainID, true)
	}
	if f.IDs != nil {
		w.in("id", f.IDs)
	}
	return list(ctx, t, scanRole, `SELECT `+roleCols+` FROM roles`+w.sql()+` ORDER BY name, id`, w.args...)
}

// DeleteRole removes a role; its assignments and implications go with it.
func (t *Tx) DeleteRole(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM assignments WHERE role_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? OR implied_role_id = ?`, id, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM roles WHERE id = ?`, id)))
}

// ImpliedRole is one edge prior -> implied.
type ImpliedRole struct{ PriorID, ImpliedID string }

// AddImpliedRole records that prior implies implied; adding twice is fine.
func (t *Tx) AddImpliedRole(ctx context.Context, priorID, impliedID string) error {
	_, err := t.exec(ctx, `INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, priorID, impliedID)
	return t.mapErr(err)
}

// RemoveImpliedRole deletes the edge; ErrNotFound when absent.
func (t *Tx) RemoveImpliedRole(ctx context.Context, priorID, impliedID string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?`, priorID, impliedID)))
}

// ListImpliedRoles lists every implication edge.
func (t *Tx) ListImpliedRoles(ctx context.Context) ([]ImpliedRole, error) {
	return list(ctx, t, func(s scanner) (ImpliedRole, error) {
		var e ImpliedRole
		return e, s.Scan(&e.PriorID, &e.ImpliedID)
	}, `SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id`)
}

// ---- assignments

const assignmentCols = `actor_type, actor_id, target_type, target_id, role_id, inherited`

func scanAssignment(s scanner) (Assignment, error) {
	var a Assignment
	return a, s.Scan(&a.ActorType, &a.ActorID, &a.TargetType, &a.TargetID, &a.RoleID, &a.Inherited)
}

// Grant records a; granting twice is not an error.
func (t *Tx) Grant(ctx context.Context, a Assignment) error {
	_, err := t.exec(ctx, `INSERT INTO assignments (`+assignmentCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.ActorType, a.ActorID, a.TargetType, a.TargetID, a.RoleID, a.Inherited)
	return t.mapErr(err)
}

// Revoke deletes a; ErrNotFound when it was not granted.
func (t *Tx) Revoke(ctx context.Context, a Assignment) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM assignments WHERE actor_type = ? AND actor_id = ? AND target_type = ? AND target_id = ? AND role_id = ? AND inherited = ?`,
		a.ActorType, a.ActorID, a.TargetType, a.TargetID, a.RoleID, a.Inherited)))
}

// AssignmentFilter narrows ListAssignments; empty fields match all.
type AssignmentFilter struct {
	ActorType  string
	ActorIDs   []string // nil: any
	TargetType string
	TargetID   string
	RoleID     string
}

// ListAssignments lists direct assignments.
func (t *Tx) ListAssignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error) {
	w := &where{}
	w.eq("actor_type", f.ActorType, f.ActorType != "").eq("target_type", f.TargetType, f.TargetType != "").
		eq("target_id", f.TargetID, f.TargetID != "").eq("role_id", f.RoleID, f.RoleID != "")
	if f.ActorIDs != nil {
		w.in("actor_id", f.ActorIDs)
	}
	return list(ctx, t, scanAssignment, `SELECT `+assignmentCols+` FROM assignments`+w.sql()+
		` ORDER BY actor_type, actor_id, target_type, target_id, role_id`, w.args...)
}

// ---- application credentials

const appCredCols = `id, user_id, project_id, name, description, secret_hash, expires_at, unrestricted, roles, created_at`

func scanAppCred(s scanner) (AppCred, error) {
	var a AppCred
	var exp sql.NullInt64
	var roles string
	var created int64
	err := s.Scan(&a.ID, &a.UserID, &a.ProjectID, &a.Name, &a.Description, &a.SecretHash, &exp, &a.Unrestricted, &roles, &created)
	a.ExpiresAt, a.RoleIDs, a.CreatedAt = fromNullMicros(exp), stringList(roles), fromMicros(created)
	return a, err
}

// CreateAppCred inserts a; ErrConflict when the user already has one of that name.
func (t *Tx) CreateAppCred(ctx context.Context, a AppCred) error {
	_, err := t.exec(ctx, `INSERT INTO app_creds (`+appCredCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UserID, a.ProjectID, a.Name, a.Description, a.SecretHash, nullMicros(a.ExpiresAt), a.Unrestricted, toJSON(a.RoleIDs), micros(a.CreatedAt))
	return t.mapErr(err)
}

// GetAppCred reads one application credential by id.
func (t *Tx) GetAppCred(ctx context.Context, id string) (AppCred, error) {
	return one(ctx, t, scanAppCred, `SELECT `+appCredCols+` FROM app_creds WHERE id = ?`, id)
}

// GetAppCredByName reads a user's application credential by name.
func (t *Tx) GetAppCredByName(ctx context.Context, userID, name string) (AppCred, error) {
	return one(ctx, t, scanAppCred, `SELECT `+appCredCols+` FROM app_creds WHERE user_id = ? AND name = ?`, userID, name)
}

// ListAppCreds lists a user's application credentials, optionally by name.
func (t *Tx) ListAppCreds(ctx context.Context, userID, name string) ([]AppCred, error) {
	w := &where{}
	w.eq("user_id", userID, true).eq("name", name, name != "")
	return list(ctx, t, scanAppCred, `SELECT `+appCredCols+` FROM app_creds`+w.sql()+` ORDER BY name, id`, w.args...)
}

// DeleteAppCred removes one application credential.
func (t *Tx) DeleteAppCred(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM app_creds WHERE id = ?`, id)))
}

// ---- catalog

const regionCols = `id, description, parent_region_id, extra`

func scanRegion(s scanner) (Region, error) {
	var r Region
	var ex string
	err := s.Scan(&r.ID, &r.Description, &r.ParentRegionID, &ex)
	r.Extra = extra(ex)
	return r, err
}

// CreateRegion inserts r; ErrConflict when the id is taken.
func (t *Tx) CreateRegion(ctx context.Context, r Region) error {
	_, err := t.exec(ctx, `INSERT INTO regions (`+regionCols+`, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Description, r.ParentRegionID, toJSON(r.Extra), micros(time.Now()))
	return t.mapErr(err)
}

// UpdateRegion writes every mutable field of r.
func (t *Tx) UpdateRegion(ctx context.Context, r Region) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE regions SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?`,
		r.Description, r.ParentRegionID, toJSON(r.Extra), r.ID)))
}

// GetRegion reads one region.
func (t *Tx) GetRegion(ctx context.Context, id string) (Region, error) {
	return one(ctx, t, scanRegion, `SELECT `+regionCols+` FROM regions WHERE id = ?`, id)
}

// ListRegions lists regions, optionally the children of parentID.
func (t *Tx) ListRegions(ctx context.Context, parentID string) ([]Region, error) {
	w := &where{}
	w.eq("parent_region_id", parentID, parentID != "")
	return list(ctx, t, scanRegion, `SELECT `+regionCols+` FROM regions`+w.sql()+` ORDER BY id`, w.args...)
}

// DeleteRegion removes a region.
func (t *Tx) DeleteRegion(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM regions WHERE id = ?`, id)))
}

const serviceCols = `id, type, name, description, enabled, extra`

func scanService(s scanner) (Service, error) {
	var v Service
	var ex string
	err := s.Scan(&v.ID, &v.Type, &v.Name, &v.Description, &v.Enabled, &ex)
	v.Extra = extra(ex)
	return v, err
}

// CreateService inserts s.
func (t *Tx) CreateService(ctx context.Context, s Service) error {
	_, err := t.exec(ctx, `INSERT INTO services (`+serviceCols+`, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Type, s.Name, s.Description, s.Enabled, toJSON(s.Extra), micros(time.Now()))
	return t.mapErr(err)
}

// UpdateService writes every mutable field of s.
func (t *Tx) UpdateService(ctx context.Context, s Service) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE services SET type = ?, name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?`,
		s.Type, s.Name, s.Description, s.Enabled, toJSON(s.Extra), s.ID)))
}

// GetService reads one service.
func (t *Tx) GetService(ctx context.Context, id string) (Service, error) {
	return one(ctx, t, scanService, `SELECT `+serviceCols+` FROM services WHERE id = ?`, id)
}

// ListServices lists services, optionally of one type or name.
func (t *Tx) ListServices(ctx context.Context, typ, name string) ([]Service, error) {
	w := &where{}
	w.eq("type", typ, typ != "").eq("name", name, name != "")
	return list(ctx, t, scanService, `SELECT `+serviceCols+` FROM services`+w.sql()+` ORDER BY type, id`, w.args...)
}

// DeleteService removes a service and its endpoints.
func (t *Tx) DeleteService(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM endpoints WHERE service_id = ?`, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM services WHERE id = ?`, id)))
}

const endpointCols = `id, service_id, interface, region_id, url, enabled, extra`

func scanEndpoint(s scanner) (Endpoint, error) {
	var e Endpoint
	var ex string
	err := s.Scan(&e.ID, &e.ServiceID, &e.Interface, &e.RegionID, &e.URL, &e.Enabled, &ex)
	e.Extra = extra(ex)
	return e, err
}

// CreateEndpoint inserts e.
func (t *Tx) CreateEndpoint(ctx context.Context, e Endpoint) error {
	_, err := t.exec(ctx, `INSERT INTO endpoints (`+endpointCols+`, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ServiceID, e.Interface, e.RegionID, e.URL, e.Enabled, toJSON(e.Extra), micros(time.Now()))
	return t.mapErr(err)
}

// UpdateEndpoint writes every mutable field of e.
func (t *Tx) UpdateEndpoint(ctx context.Context, e Endpoint) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE endpoints SET service_id = ?, interface = ?, region_id = ?, url = ?, enabled = ?, extra = ? WHERE id = ?`,
		e.ServiceID, e.Interface, e.RegionID, e.URL, e.Enabled, toJSON(e.Extra), e.ID)))
}

// GetEndpoint reads one endpoint.
func (t *Tx) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	return one(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id)
}

// EndpointFilter narrows ListEndpoints; empty fields match all.
type EndpointFilter struct{ ServiceID, Interface, RegionID string }

// ListEndpoints lists endpoints.
func (t *Tx) ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error) {
	w := &where{}
	w.eq("service_id", f.ServiceID, f.ServiceID != "").eq("interface", f.Interface, f.Interface != "").eq("region_id", f.RegionID, f.RegionID != "")
	return list(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM endpoints`+w.sql()+` ORDER BY service_id, interface, id`, w.args...)
}

// DeleteEndpoint removes an endpoint.
func (t *Tx) DeleteEndpoint(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM endpoints WHERE id = ?`, id)))
}

// ---- revocations

// AddRevocation records r, keeping the later issued_before when one exists.
func (t *Tx) AddRevocation(ctx context.Context, r Revocation) error {
	_, err := t.exec(ctx, `INSERT INTO revocations (kind, value, issued_before, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, value) DO UPDATE SET
		issued_before = CASE WHEN excluded.issued_before > revocations.issued_before THEN excluded.issued_before ELSE revocations.issued_before END,
		expires_at = CASE WHEN excluded.expires_at > revocations.expires_at THEN excluded.expires_at ELSE revocations.expires_at END`,
		r.Kind, r.Value, micros(r.IssuedBefore), micros(r.ExpiresAt))
	return t.mapErr(err)
}

// ListRevocations lists every revocation not yet expired at now.
func (t *Tx) ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	return list(ctx, t, func(s scanner) (Revocation, error) {
		var r Revocation
		var ib, ex int64
		err := s.Scan(&r.Kind, &r.Value, &ib, &ex)
		r.IssuedBefore, r.ExpiresAt = fromMicros(ib), fromMicros(ex)
		return r, err
	}, `SELECT kind, value, issued_before, expires_at FROM revocations WHERE expires_at > ?`, micros(now))
}

// PruneRevocations deletes revocations that can no longer match a live token.
func (t *Tx) PruneRevocations(ctx context.Context, now time.Time) error {
	_, err := t.exec(ctx, `DELETE FROM revocations WHERE expires_at <= ?`, micros(now))
	return err
}
