package identity

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

func created(w http.ResponseWriter, key string, v map[string]any) error {
	rest.WriteJSON(w, http.StatusCreated, map[string]any{key: v})
	return nil
}

func ok(w http.ResponseWriter, key string, v map[string]any) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: v})
	return nil
}

func done(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func enabledQuery(r *http.Request) *bool {
	if v, present := boolQuery(r, "enabled"); present {
		return &v
	}
	return nil
}

// ---- domains

func (a *API) domainJSON(d store.Domain) map[string]any {
	return obj(d.Extra, map[string]any{
		"id": d.ID, "name": d.Name, "description": d.Description, "enabled": d.Enabled,
		"tags": []string{}, "options": map[string]any{}, "links": a.link("domains/" + d.ID),
	})
}

func applyDomain(f fields, d *store.Domain) error {
	name, hasName, e1 := f.str("name", 64)
	desc, hasDesc, e2 := f.str("description", 0)
	en, hasEn, e3 := f.boolean("enabled")
	if err := firstErr(e1, e2, e3); err != nil {
		return err
	}
	if hasName {
		d.Name = name
	}
	if hasDesc {
		d.Description = desc
	}
	if hasEn {
		d.Enabled = en
	}
	d.Extra = obj(d.Extra, f.extra("name", "description", "enabled", "tags"))
	return nil
}

func (a *API) listDomains(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	f := svc.DomainFilter{Name: r.URL.Query().Get("name"), Enabled: enabledQuery(r)}
	if !c.IsAdmin() {
		// Keystone lets a user list only the domains it holds roles on.
		f.IDs = []string{c.DomainID(), c.ProjectDomain.ID}
	}
	ds, err := a.svc.ListDomains(r.Context(), f)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, d := range ds {
		items = append(items, a.domainJSON(d))
	}
	return a.collection(w, r, "domains", items)
}

func (a *API) createDomain(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "domain")
	if err != nil {
		return err
	}
	d := store.Domain{Enabled: true}
	if id, _, err := f.str("explicit_domain_id", 64); err != nil {
		return err
	} else {
		d.ID = id
		delete(f, "explicit_domain_id")
	}
	if err := applyDomain(f, &d); err != nil {
		return err
	}
	d, err = a.svc.CreateDomain(r.Context(), d)
	if err != nil {
		return err
	}
	return created(w, "domain", a.domainJSON(d))
}

func (a *API) getDomain(w http.ResponseWriter, r *http.Request) error {
	c, id := auth.From(r.Context()), r.PathValue("domain_id")
	if !c.IsAdmin() && c.DomainID() != id && c.ProjectDomain.ID != id {
		return oserr.Forbidden("You are not authorized to perform the requested action: identity:get_domain; only admins and tokens scoped in that domain may.")
	}
	d, err := a.svc.GetDomain(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, "domain", a.domainJSON(d))
}

func (a *API) updateDomain(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "domain")
	if err != nil {
		return err
	}
	d, err := a.svc.UpdateDomain(r.Context(), r.PathValue("domain_id"), func(d *store.Domain) error {
		if err := f.immutable("id", d.ID); err != nil {
			return err
		}
		return applyDomain(f, d)
	})
	if err != nil {
		return err
	}
	return ok(w, "domain", a.domainJSON(d))
}

func (a *API) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteDomain(r.Context(), r.PathValue("domain_id")))
}

// ---- projects

func (a *API) projectJSON(p store.Project) map[string]any {
	return obj(p.Extra, map[string]any{
		"id": p.ID, "name": p.Name, "domain_id": p.DomainID, "description": p.Description, "enabled": p.Enabled,
		"parent_id": p.ParentID, "is_domain": false, "tags": p.Tags, "options": map[string]any{},
		"links": a.link("projects/" + p.ID),
	})
}

func applyProject(f fields, p *store.Project) error {
	name, hasName, e1 := f.str("name", 64)
	desc, hasDesc, e2 := f.str("description", 0)
	en, hasEn, e3 := f.boolean("enabled")
	tags, hasTags, e4 := f.strings("tags")
	isDomain, _, e5 := f.boolean("is_domain")
	if err := firstErr(e1, e2, e3, e4, e5); err != nil {
		return err
	}
	if isDomain {
		return oserr.BadRequest("Projects acting as domains (is_domain: true) are not supported; create a domain instead.")
	}
	if hasName {
		p.Name = name
	}
	if hasDesc {
		p.Description = desc
	}
	if hasEn {
		p.Enabled = en
	}
	if hasTags {
		p.Tags = tags
	}
	p.Extra = obj(p.Extra, f.extra("name", "description", "enabled", "tags", "is_domain", "parent_id"))
	return nil
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ps, err := a.svc.ListProjects(r.Context(), svc.ProjectFilter{
		DomainID: q.Get("domain_id"), ParentID: q.Get("parent_id"), Name: q.Get("name"), Enabled: enabledQuery(r),
	})
	if err != nil {
		return err
	}
	var items []map[string]any
	if isDomain, _ := boolQuery(r, "is_domain"); !isDomain {
		for _, p := range ps {
			items = append(items, a.projectJSON(p))
		}
	}
	return a.collection(w, r, "projects", items)
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "project")
	if err != nil {
		return err
	}
	p := store.Project{Enabled: true}
	dom, _, e1 := f.str("domain_id", 64)
	parent, _, e2 := f.str("parent_id", 64)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	p.DomainID, p.ParentID = dom, parent
	if err := applyProject(f, &p); err != nil {
		return err
	}
	if p.DomainID == "" {
		p.DomainID = auth.From(r.Context()).ProjectDomain.ID
	}
	p, err = a.svc.CreateProject(r.Context(), p)
	if err != nil {
		return err
	}
	return created(w, "project", a.projectJSON(p))
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) error {
	c, id := auth.From(r.Context()), r.PathValue("project_id")
	if !c.IsAdmin() && c.ProjectID() != id {
		return oserr.Forbidden("You are not authorized to perform the requested action: identity:get_project; only admins and tokens scoped to that project may.")
	}
	p, err := a.svc.GetProject(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, "project", a.projectJSON(p))
}

func (a *API) updateProject(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "project")
	if err != nil {
		return err
	}
	p, err := a.svc.UpdateProject(r.Context(), r.PathValue("project_id"), func(p *store.Project) error {
		if err := firstErr(f.immutable("id", p.ID), f.immutable("domain_id", p.DomainID), f.immutable("parent_id", p.ParentID)); err != nil {
			return err
		}
		return applyProject(f, p)
	})
	if err != nil {
		return err
	}
	return ok(w, "project", a.projectJSON(p))
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteProject(r.Context(), r.PathValue("project_id")))
}

// ---- users

func (a *API) userJSON(u store.User) map[string]any {
	m := obj(u.Extra, map[string]any{
		"id": u.ID, "name": u.Name, "domain_id": u.DomainID, "enabled": u.Enabled,
		"password_expires_at": tsPtr(u.PasswordExpiresAt), "options": map[string]any{},
		"links": a.link("users/" + u.ID),
	})
	if u.DefaultProjectID != "" {
		m["default_project_id"] = u.DefaultProjectID
	}
	if u.Description != "" {
		m["description"] = u.Description
	}
	return m
}

// applyUser copies user fields from f; it returns the new password, if any.
func applyUser(f fields, u *store.User) (*string, error) {
	name, hasName, e1 := f.str("name", 255)
	desc, hasDesc, e2 := f.str("description", 0)
	en, hasEn, e3 := f.boolean("enabled")
	proj, hasProj, e4 := f.str("default_project_id", 64)
	pw, hasPw, e5 := f.str("password", 0)
	if err := firstErr(e1, e2, e3, e4, e5); err != nil {
		return nil, err
	}
	if hasName {
		u.Name = name
	}
	if hasDesc {
		u.Description = desc
	}
	if hasEn {
		u.Enabled = en
	}
	if _, present := f["default_project_id"]; present || hasProj {
		u.DefaultProjectID = proj // null clears it
	}
	u.Extra = obj(u.Extra, f.extra("name", "description", "enabled", "default_project_id", "password", "federated"))
	if hasPw {
		return &pw, nil
	}
	return nil, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	us, err := a.svc.ListUsers(r.Context(), svc.UserFilter{DomainID: q.Get("domain_id"), Name: q.Get("name"), Enabled: enabledQuery(r)})
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, u := range us {
		items = append(items, a.userJSON(u))
	}
	return a.collection(w, r, "users", items)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "user")
	if err != nil {
		return err
	}
	dom, _, err := f.str("domain_id", 64)
	if err != nil {
		return err
	}
	u := store.User{Enabled: true, DomainID: dom}
	pw, err := applyUser(f, &u)
	if err != nil {
		return err
	}
	if u.DomainID == "" {
		u.DomainID = auth.From(r.Context()).ProjectDomain.ID
	}
	u, err = a.svc.CreateUser(r.Context(), u, pw)
	if err != nil {
		return err
	}
	return created(w, "user", a.userJSON(u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.GetUser(r.Context(), r.PathValue("user_id"))
	if err != nil {
		return err
	}
	return ok(w, "user", a.userJSON(u))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "user")
	if err != nil {
		return err
	}
	var pw *string
	if p, has, err := f.str("password", 0); err != nil {
		return err
	} else if has {
		pw = &p
	}
	u, err := a.svc.UpdateUser(r.Context(), r.PathValue("user_id"), pw, func(u *store.User) error {
		if err := firstErr(f.immutable("id", u.ID), f.immutable("domain_id", u.DomainID)); err != nil {
			return err
		}
		_, err := applyUser(f, u)
		return err
	})
	if err != nil {
		return err
	}
	return ok(w, "user", a.userJSON(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteUser(r.Context(), r.PathValue("user_id")))
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "user")
	if err != nil {
		return err
	}
	orig, hasOrig, e1 := f.str("original_password", 0)
	pw, hasPw, e2 := f.str("password", 0)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	if !hasOrig || !hasPw {
		return oserr.BadRequest("Send both user.original_password and user.password.")
	}
	return done(w, a.svc.ChangePassword(r.Context(), r.PathValue("user_id"), orig, pw))
}

func (a *API) userProjects(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("user_id")
	if _, err := a.svc.GetUser(r.Context(), id); err != nil {
		return err
	}
	ps, err := a.svc.UserProjects(r.Context(), id)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, p := range ps {
		items = append(items, a.projectJSON(p))
	}
	return a.collection(w, r, "projects", items)
}

func (a *API) userGroups(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("user_id")
	if _, err := a.svc.GetUser(r.Context(), id); err != nil {
		return err
	}
	gs, err := a.svc.ListGroups(r.Context(), svc.GroupFilter{UserID: id})
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, g := range gs {
		items = append(items, a.groupJSON(g))
	}
	return a.collection(w, r, "groups", items)
}

// ---- groups

func (a *API) groupJSON(g store.Group) map[string]any {
	return obj(g.Extra, map[string]any{
		"id": g.ID, "name": g.Name, "domain_id": g.DomainID, "description": g.Description,
		"links": a.link("groups/" + g.ID),
	})
}

func applyGroup(f fields, g *store.Group) error {
	name, hasName, e1 := f.str("name", 64)
	desc, hasDesc, e2 := f.str("description", 0)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	if hasName {
		g.Name = name
	}
	if hasDesc {
		g.Description = desc
	}
	g.Extra = obj(g.Extra, f.extra("name", "description"))
	return nil
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	gs, err := a.svc.ListGroups(r.Context(), svc.GroupFilter{DomainID: q.Get("domain_id"), Name: q.Get("name")})
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, g := range gs {
		items = append(items, a.groupJSON(g))
	}
	return a.collection(w, r, "groups", items)
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "group")
	if err != nil {
		return err
	}
	dom, _, err := f.str("domain_id", 64)
	if err != nil {
		return err
	}
	g := store.Group{DomainID: dom}
	if err := applyGroup(f, &g); err != nil {
		return err
	}
	if g.DomainID == "" {
		g.DomainID = auth.From(r.Context()).ProjectDomain.ID
	}
	g, err = a.svc.CreateGroup(r.Context(), g)
	if err != nil {
		return err
	}
	return created(w, "group", a.groupJSON(g))
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.svc.GetGroup(r.Context(), r.PathValue("group_id"))
	if err != nil {
		return err
	}
	return ok(w, "group", a.groupJSON(g))
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "group")
	if err != nil {
		return err
	}
	g, err := a.svc.UpdateGroup(r.Context(), r.PathValue("group_id"), func(g *store.Group) error {
		if err := firstErr(f.immutable("id", g.ID), f.immutable("domain_id", g.DomainID)); err != nil {
			return err
		}
		return applyGroup(f, g)
	})
	if err != nil {
		return err
	}
	return ok(w, "group", a.groupJSON(g))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteGroup(r.Context(), r.PathValue("group_id")))
}

func (a *API) groupUsers(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("group_id")
	if _, err := a.svc.GetGroup(r.Context(), id); err != nil {
		return err
	}
	us, err := a.svc.ListUsers(r.Context(), svc.UserFilter{GroupID: id})
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, u := range us {
		items = append(items, a.userJSON(u))
	}
	return a.collection(w, r, "users", items)
}

func (a *API) addGroupUser(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.AddGroupMember(r.Context(), r.PathValue("group_id"), r.PathValue("user_id")))
}

func (a *API) checkGroupUser(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.IsGroupMember(r.Context(), r.PathValue("group_id"), r.PathValue("user_id")))
}

func (a *API) removeGroupUser(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.RemoveGroupMember(r.Context(), r.PathValue("group_id"), r.PathValue("user_id")))
}
