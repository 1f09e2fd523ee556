package identity

import (
	"net/http"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// ---- roles

func (a *API) roleJSON(r store.Role) map[string]any {
	return obj(r.Extra, map[string]any{
		"id": r.ID, "name": r.Name, "domain_id": nullable(r.DomainID), "description": r.Description,
		"options": map[string]any{}, "links": a.link("roles/" + r.ID),
	})
}

func applyRole(f fields, r *store.Role) error {
	name, hasName, e1 := f.str("name", 255)
	desc, hasDesc, e2 := f.str("description", 255)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	if hasName {
		r.Name = name
	}
	if hasDesc {
		r.Description = desc
	}
	r.Extra = obj(r.Extra, f.extra("name", "description"))
	return nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := svc.RoleFilter{Name: q.Get("name")}
	dom := q.Get("domain_id")
	f.DomainID = &dom // Keystone lists global roles unless a domain is given
	rs, err := a.svc.ListRoles(r.Context(), f)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, ro := range rs {
		items = append(items, a.roleJSON(ro))
	}
	return a.collection(w, r, "roles", items)
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "role")
	if err != nil {
		return err
	}
	dom, _, err := f.str("domain_id", 64)
	if err != nil {
		return err
	}
	ro := store.Role{DomainID: dom}
	if err := applyRole(f, &ro); err != nil {
		return err
	}
	ro, err = a.svc.CreateRole(r.Context(), ro)
	if err != nil {
		return err
	}
	return created(w, "role", a.roleJSON(ro))
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request) error {
	ro, err := a.svc.GetRole(r.Context(), r.PathValue("role_id"))
	if err != nil {
		return err
	}
	return ok(w, "role", a.roleJSON(ro))
}

func (a *API) updateRole(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "role")
	if err != nil {
		return err
	}
	ro, err := a.svc.UpdateRole(r.Context(), r.PathValue("role_id"), func(ro *store.Role) error {
		if err := firstErr(f.immutable("id", ro.ID), f.immutable("domain_id", ro.DomainID)); err != nil {
			return err
		}
		return applyRole(f, ro)
	})
	if err != nil {
		return err
	}
	return ok(w, "role", a.roleJSON(ro))
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteRole(r.Context(), r.PathValue("role_id")))
}

// ---- implied roles

func (a *API) roleRef(ro store.Role) map[string]any {
	return map[string]any{"id": ro.ID, "name": ro.Name, "links": a.link("roles/" + ro.ID)}
}

func (a *API) inferenceJSON(ir svc.RoleInference) map[string]any {
	implies := make([]any, 0, len(ir.Implies))
	for _, ro := range ir.Implies {
		implies = append(implies, a.roleRef(ro))
	}
	return map[string]any{"prior_role": a.roleRef(ir.Prior), "implies": implies}
}

func (a *API) impliedDoc(ir svc.ImpliedRole) map[string]any {
	return map[string]any{"role_inference": map[string]any{"prior_role": a.roleRef(ir.Prior), "implies": a.roleRef(ir.Implied)},
		"links": a.link("roles/" + ir.Prior.ID + "/implies/" + ir.Implied.ID)}
}

func (a *API) listImplied(w http.ResponseWriter, r *http.Request) error {
	irs, err := a.svc.ListImplied(r.Context(), r.PathValue("role_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"role_inference": a.inferenceJSON(irs[0]),
		"links": a.link("roles/" + r.PathValue("role_id") + "/implies")})
	return nil
}

func (a *API) addImplied(w http.ResponseWriter, r *http.Request) error {
	ir, err := a.svc.AddImpliedRole(r.Context(), r.PathValue("role_id"), r.PathValue("implied_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, a.impliedDoc(ir))
	return nil
}

func (a *API) getImplied(w http.ResponseWriter, r *http.Request) error {
	ir, err := a.svc.GetImpliedRole(r.Context(), r.PathValue("role_id"), r.PathValue("implied_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, a.impliedDoc(ir))
	return nil
}

func (a *API) checkImplied(w http.ResponseWriter, r *http.Request) error {
	_, err := a.svc.GetImpliedRole(r.Context(), r.PathValue("role_id"), r.PathValue("implied_id"))
	return done(w, err)
}

func (a *API) removeImplied(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.RemoveImpliedRole(r.Context(), r.PathValue("role_id"), r.PathValue("implied_id")))
}

func (a *API) roleInferences(w http.ResponseWriter, r *http.Request) error {
	irs, err := a.svc.ListImplied(r.Context(), "")
	if err != nil {
		return err
	}
	items := make([]any, 0, len(irs))
	for _, ir := range irs {
		items = append(items, a.inferenceJSON(ir))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"role_inferences": items, "links": a.link("role_inferences")})
	return nil
}

// ---- grants

// grantPath is one family of grant URLs: a target kind and an actor kind.
type grantPath struct {
	target, actor string
	inherited     bool // OS-INHERIT: the role applies to projects below the target
}

func (g grantPath) bind(h func(grantPath, http.ResponseWriter, *http.Request) error) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return h(g, w, r) }
}

func (g grantPath) assignment(r *http.Request) store.Assignment {
	as := store.Assignment{ActorType: store.ActorUser, ActorID: r.PathValue("actor_id"), RoleID: r.PathValue("role_id"), Inherited: g.inherited}
	if g.actor == "groups" {
		as.ActorType = store.ActorGroup
	}
	switch g.target {
	case "projects":
		as.TargetType, as.TargetID = store.TargetProject, r.PathValue("target_id")
	case "domains":
		as.TargetType, as.TargetID = store.TargetDomain, r.PathValue("target_id")
	default:
		as.TargetType, as.TargetID = store.TargetSystem, store.SystemAll
	}
	return as
}

func (a *API) listGrants(g grantPath, w http.ResponseWriter, r *http.Request) error {
	as := g.assignment(r)
	rs, err := a.svc.GrantedRoles(r.Context(), as.ActorType, as.ActorID, as.TargetType, as.TargetID, as.Inherited)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, ro := range rs {
		items = append(items, a.roleJSON(ro))
	}
	return a.collection(w, r, "roles", items)
}

func (a *API) grant(g grantPath, w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.Grant(r.Context(), g.assignment(r)))
}

func (a *API) checkGrant(g grantPath, w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.CheckGrant(r.Context(), g.assignment(r)))
}

func (a *API) revokeGrant(g grantPath, w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.Revoke(r.Context(), g.assignment(r)))
}

// ---- role assignments

// canListAssignments: admins see all; others may list their own effective
// assignments (as openstack CLI's "role assignment list --user self --effective" does).
func (a *API) canListAssignments(c *auth.Credentials, r *http.Request) error {
	if c.IsAdmin() || r.URL.Query().Get("user.id") == c.User.ID {
		return nil
	}
	return forbidden("identity:list_role_assignments")
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	eff, _ := boolQuery(r, "effective")
	names, _ := boolQuery(r, "include_names")
	sys := q.Get("scope.system")
	query := svc.AssignmentQuery{
		UserID: q.Get("user.id"), GroupID: q.Get("group.id"), RoleID: q.Get("role.id"),
		ProjectID: q.Get("scope.project.id"), DomainID: q.Get("scope.domain.id"),
		System: sys != "", Effective: eff,
	}
	if query.UserID != "" && query.GroupID != "" {
		return oserr.BadRequest("Specify only one of user.id and group.id.")
	}
	if sys != "" && sys != "all" {
		return oserr.BadRequest("Invalid query parameter scope.system=%s; use scope.system=all.", sys)
	}
	rows, err := a.svc.ListRoleAssignments(r.Context(), query)
	if err != nil {
		return err
	}
	nm := &namer{a: a, r: r, enabled: names, cache: map[string]map[string]any{}}
	var items []map[string]any
	for _, row := range rows {
		items = append(items, a.assignmentJSON(nm, row))
	}
	return a.collection(w, r, "role_assignments", items)
}

// namer adds names (include_names) with a per-request cache.
type namer struct {
	a       *API
	r       *http.Request
	enabled bool
	cache   map[string]map[string]any
}

func (n *namer) ref(kind, id string) map[string]any {
	m := map[string]any{"id": id}
	if !n.enabled {
		return m
	}
	key := kind + "/" + id
	if c, ok := n.cache[key]; ok {
		return c
	}
	ctx := n.r.Context()
	domain := func(did string) map[string]any {
		if d, err := n.a.svc.GetDomain(ctx, did); err == nil {
			return ref(d.ID, d.Name)
		}
		return map[string]any{"id": did}
	}
	switch kind {
	case "user":
		if u, err := n.a.svc.GetUser(ctx, id); err == nil {
			m["name"], m["domain"] = u.Name, domain(u.DomainID)
		}
	case "group":
		if g, err := n.a.svc.GetGroup(ctx, id); err == nil {
			m["name"], m["domain"] = g.Name, domain(g.DomainID)
		}
	case "project":
		if p, err := n.a.svc.GetProject(ctx, id); err == nil {
			m["name"], m["domain"] = p.Name, domain(p.DomainID)
		}
	case "domain":
		if d, err := n.a.svc.GetDomain(ctx, id); err == nil {
			m["name"] = d.Name
		}
	case "role":
		if ro, err := n.a.svc.GetRole(ctx, id); err == nil {
			m["name"] = ro.Name
			if ro.DomainID != "" {
				m["domain"] = domain(ro.DomainID)
			}
		}
	}
	n.cache[key] = m
	return m
}

func (a *API) assignmentJSON(n *namer, row svc.RoleAssignment) map[string]any {
	m := map[string]any{"role": n.ref("role", row.RoleID)}
	targetPath := ""
	switch row.TargetType {
	case store.TargetProject:
		m["scope"] = map[string]any{"project": n.ref("project", row.TargetID)}
		targetPath = "projects/" + row.TargetID
	case store.TargetDomain:
		m["scope"] = map[string]any{"domain": n.ref("domain", row.TargetID)}
		targetPath = "domains/" + row.TargetID
	default:
		m["scope"] = map[string]any{"system": map[string]any{"all": true}}
		targetPath = "system"
	}
	actorPath := ""
	if row.ActorType == store.ActorUser {
		m["user"] = n.ref("user", row.ActorID)
		actorPath = "users/" + row.ActorID
	} else {
		m["group"] = n.ref("group", row.ActorID)
		actorPath = "groups/" + row.ActorID
	}
	links := map[string]any{}
	suffix := ""
	if row.Inherited {
		m["scope"].(map[string]any)["OS-INHERIT:inherited_to"] = "projects"
		targetPath, suffix = "OS-INHERIT/"+targetPath, "/inherited_to_projects"
	}
	if row.ViaGroup != "" {
		links["assignment"] = a.base + "/v3/" + targetPath + "/groups/" + row.ViaGroup + "/roles/" + row.RoleID
		links["membership"] = a.base + "/v3/groups/" + row.ViaGroup + "/users/" + row.ActorID
	} else {
		links["assignment"] = a.base + "/v3/" + targetPath + "/" + actorPath + "/roles/" + row.RoleID + suffix
	}
	if row.PriorRoleID != "" {
		links["prior_role"] = a.base + "/v3/roles/" + row.PriorRoleID
	}
	m["links"] = links
	return m
}

// ---- application credentials

func (a *API) appCredJSON(r *http.Request, ac store.AppCred) (map[string]any, error) {
	rs, err := a.svc.RolesByID(r.Context(), ac.RoleIDs)
	if err != nil {
		return nil, err
	}
	roles := make([]any, 0, len(rs))
	for _, ro := range rs {
		roles = append(roles, map[string]any{"id": ro.ID, "name": ro.Name, "domain_id": nullable(ro.DomainID)})
	}
	return map[string]any{
		"id": ac.ID, "name": ac.Name, "description": ac.Description, "user_id": ac.UserID, "project_id": ac.ProjectID,
		"expires_at": expiresAt(ac.ExpiresAt), "unrestricted": ac.Unrestricted, "roles": roles, "access_rules": []any{},
		"links": a.link("users/" + ac.UserID + "/application_credentials/" + ac.ID),
	}, nil
}

// canCreateAppCred: only the user itself, and not with a restricted
// application credential's token (Keystone forbids that escalation).
func (a *API) canCreateAppCred(c *auth.Credentials, r *http.Request) error {
	if c.User.ID != r.PathValue("user_id") {
		return oserr.Forbidden("You are not authorized to perform the requested action: identity:create_application_credential; users create application credentials only for themselves.")
	}
	if c.AppCred != nil && !c.AppCred.Unrestricted {
		return oserr.Forbidden("This token comes from a restricted application credential, which cannot create application credentials; use a password token or an unrestricted credential.")
	}
	return nil
}

func (a *API) createAppCred(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "application_credential")
	if err != nil {
		return err
	}
	name, _, e1 := f.str("name", 255)
	desc, _, e2 := f.str("description", 0)
	secret, _, e3 := f.str("secret", 0)
	exp, hasExp, e4 := f.str("expires_at", 0)
	unr, _, e5 := f.boolean("unrestricted")
	if err := firstErr(e1, e2, e3, e4, e5); err != nil {
		return err
	}
	in := svc.AppCredInput{Name: name, Description: desc, Secret: secret, Unrestricted: unr}
	if hasExp {
		t, err := parseTime(exp)
		if err != nil {
			return err
		}
		in.ExpiresAt = &t
	}
	if raw, ok := f["roles"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return oserr.BadRequest("Invalid input for field 'roles': expected an array of {\"id\": …} or {\"name\": …}.")
		}
		for _, item := range list {
			m, ok := item.(map[string]any)
			id, _ := m["id"].(string)
			nm, _ := m["name"].(string)
			if !ok || (id == "" && nm == "") {
				return oserr.BadRequest("Invalid input for field 'roles': each role needs an id or a name.")
			}
			if id != "" {
				in.RoleIDs = append(in.RoleIDs, id)
			} else {
				in.RoleNames = append(in.RoleNames, nm)
			}
		}
	}
	if _, ok := f["access_rules"]; ok {
		return oserr.BadRequest("Access rules on application credentials are not supported yet; remove access_rules.")
	}
	c := auth.From(r.Context())
	tokenRoles := make([]store.Role, len(c.Roles))
	for i, ro := range c.Roles {
		tokenRoles[i] = store.Role{ID: ro.ID, Name: ro.Name}
	}
	ac, sec, err := a.svc.CreateAppCred(r.Context(), c.User.ID, c.ProjectID(), tokenRoles, in)
	if err != nil {
		return err
	}
	m, err := a.appCredJSON(r, ac)
	if err != nil {
		return err
	}
	m["secret"] = sec
	return created(w, "application_credential", m)
}

// expiresAt formats an application credential's expiry as Keystone does:
// ISO 8601 with microseconds and no zone designator.
func expiresAt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, oserr.BadRequest("Invalid input for field 'expires_at': %q is not an ISO 8601 time such as 2030-01-01T00:00:00Z.", s)
}

func (a *API) listAppCreds(w http.ResponseWriter, r *http.Request) error {
	acs, err := a.svc.ListAppCreds(r.Context(), r.PathValue("user_id"), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, ac := range acs {
		m, err := a.appCredJSON(r, ac)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	return a.collection(w, r, "application_credentials", items)
}

func (a *API) getAppCred(w http.ResponseWriter, r *http.Request) error {
	ac, err := a.svc.GetAppCred(r.Context(), r.PathValue("user_id"), r.PathValue("app_cred_id"))
	if err != nil {
		return err
	}
	m, err := a.appCredJSON(r, ac)
	if err != nil {
		return err
	}
	return ok(w, "application_credential", m)
}

func (a *API) deleteAppCred(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteAppCred(r.Context(), r.PathValue("user_id"), r.PathValue("app_cred_id")))
}
