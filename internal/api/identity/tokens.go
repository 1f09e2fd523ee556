package identity

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
)

// versionDoc is Keystone's v3 version description.
func (a *API) versionDoc() map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links": []any{
			map[string]any{"rel": "self", "href": a.base + "/v3/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
		},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}},
	}
}

// versions answers the unversioned root with 300 Multiple Choices, or
// with the JSON-home document when asked for it.
func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	if wantsJSONHome(r) {
		writeJSONHome(w, "/v3")
		return nil
	}
	rest.WriteJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{a.versionDoc()}}})
	return nil
}

// version answers /v3 with the version document, or with the JSON-home
// document (Keystone's list of resources and extensions) when asked for it.
func (a *API) version(w http.ResponseWriter, r *http.Request) error {
	if wantsJSONHome(r) {
		writeJSONHome(w, "")
		return nil
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"version": a.versionDoc()})
	return nil
}

// authBody is POST /v3/auth/tokens.
type authBody struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *userSel `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			AppCred *struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				Secret string   `json:"secret"`
				User   *userSel `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type nameRef struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Domain *nameRef `json:"domain"`
}

type userSel struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Domain   *nameRef `json:"domain"`
	Password string   `json:"password"`
}

func (u *userSel) selector() svc.UserSelector {
	if u == nil {
		return svc.UserSelector{}
	}
	s := svc.UserSelector{ID: u.ID, Name: u.Name}
	if u.Domain != nil {
		s.DomainID, s.DomainName = u.Domain.ID, u.Domain.Name
	}
	return s
}

func parseScope(raw json.RawMessage) (svc.Scope, error) {
	var sc svc.Scope
	if len(raw) == 0 || string(raw) == "null" {
		return sc, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "unscoped" {
			sc.Unscoped = true
			return sc, nil
		}
		return sc, oserr.BadRequest("Invalid input for field 'auth.scope': the only string allowed is \"unscoped\".")
	}
	var v struct {
		Project *nameRef `json:"project"`
		Domain  *nameRef `json:"domain"`
		System  *struct {
			All bool `json:"all"`
		} `json:"system"`
		Trust *struct {
			ID string `json:"id"`
		} `json:"OS-TRUST:trust"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return sc, oserr.BadRequest("Invalid input for field 'auth.scope': expected {\"project\": {...}}, {\"domain\": {...}}, {\"system\": {\"all\": true}} or {\"OS-TRUST:trust\": {\"id\": ...}}.")
	}
	if v.Trust != nil {
		if v.Trust.ID == "" {
			return sc, oserr.BadRequest("Expecting to find trust_id in trust: give auth.scope.OS-TRUST:trust.id.")
		}
		sc.TrustID = v.Trust.ID
	}
	if v.Project != nil {
		if v.Project.ID == "" && v.Project.Name == "" {
			return sc, oserr.BadRequest("Invalid input for field 'auth.scope.project': give its id, or its name and domain.")
		}
		sc.ProjectID, sc.ProjectName = v.Project.ID, v.Project.Name
		if v.Project.Domain != nil {
			sc.ProjectDomainID, sc.ProjectDomainName = v.Project.Domain.ID, v.Project.Domain.Name
		}
	}
	if v.Domain != nil {
		if v.Domain.ID == "" && v.Domain.Name == "" {
			return sc, oserr.BadRequest("Invalid input for field 'auth.scope.domain': give its id or name.")
		}
		sc.DomainID, sc.DomainName = v.Domain.ID, v.Domain.Name
	}
	if v.System != nil {
		if !v.System.All {
			return sc, oserr.BadRequest("Invalid input for field 'auth.scope.system': only {\"all\": true} is supported.")
		}
		sc.System = true
	}
	return sc, nil
}

// decodeAuth turns the request body into an authentication request.
func decodeAuth(r *http.Request) (svc.AuthRequest, error) {
	var b authBody
	var req svc.AuthRequest
	if err := rest.Decode(r, &b, false); err != nil {
		return req, err
	}
	if b.Auth == nil || b.Auth.Identity == nil {
		return req, oserr.BadRequest("Invalid input: the body needs auth.identity, e.g. {\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {...}}}}.")
	}
	id := b.Auth.Identity
	req.Methods = id.Methods
	for _, m := range id.Methods {
		switch m {
		case "password":
			if id.Password == nil || id.Password.User == nil {
				return req, oserr.BadRequest("Invalid input: the password method needs auth.identity.password.user with id or name+domain, and password.")
			}
			req.User, req.Password = id.Password.User.selector(), id.Password.User.Password
		case "token":
			if id.Token == nil || id.Token.ID == "" {
				return req, oserr.BadRequest("Invalid input: the token method needs auth.identity.token.id.")
			}
			req.Token = id.Token.ID
		case "application_credential":
			if id.AppCred == nil {
				return req, oserr.BadRequest("Invalid input: the application_credential method needs auth.identity.application_credential.")
			}
			req.AppCred = &svc.AppCredAuth{ID: id.AppCred.ID, Name: id.AppCred.Name, Secret: id.AppCred.Secret, User: id.AppCred.User.selector()}
		}
	}
	sc, err := parseScope(b.Auth.Scope)
	req.Scope = sc
	return req, err
}

func (a *API) issueToken(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeAuth(r)
	if err != nil {
		return err
	}
	c, err := a.svc.Authenticate(r.Context(), req)
	if err != nil {
		return err
	}
	_, nocat := boolQuery(r, "nocatalog")
	doc, err := a.tokenDoc(r, c, !nocat)
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", c.Token)
	rest.WriteJSON(w, http.StatusCreated, doc)
	return nil
}

// subject validates the X-Subject-Token; Keystone answers 404 for any
// subject token that is not valid.
func (a *API) subject(r *http.Request) (*auth.Credentials, error) {
	tok := r.Header.Get("X-Subject-Token")
	if tok == "" {
		return nil, oserr.BadRequest("Send the token to check in the X-Subject-Token header.")
	}
	c, err := a.svc.Validate(r.Context(), tok)
	if oserr.Is(err, http.StatusUnauthorized) {
		return nil, oserr.NotFound("Could not find token: %s", oserr.From(err).Message)
	}
	if err != nil {
		return nil, err
	}
	caller := auth.From(r.Context())
	if !caller.IsAdmin() && caller.User.ID != c.User.ID {
		return nil, oserr.Forbidden("You are not authorized to perform the requested action: identity:validate_token; only the token's user or an admin may.")
	}
	return c, nil
}

func (a *API) validateToken(w http.ResponseWriter, r *http.Request) error {
	c, err := a.subject(r)
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", c.Token)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, nocat := boolQuery(r, "nocatalog")
	doc, err := a.tokenDoc(r, c, !nocat)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, doc)
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	c, err := a.subject(r)
	if err != nil {
		return err
	}
	if err := a.svc.RevokeToken(r.Context(), c); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func ref(id, name string) map[string]any { return map[string]any{"id": id, "name": name} }

// tokenDoc renders a token as Keystone's {"token": {...}}.
func (a *API) tokenDoc(r *http.Request, c *auth.Credentials, withCatalog bool) (map[string]any, error) {
	roles := make([]any, len(c.Roles))
	for i, ro := range c.Roles {
		roles[i] = ref(ro.ID, ro.Name)
	}
	t := map[string]any{
		"methods":    c.Methods,
		"audit_ids":  c.AuditIDs,
		"expires_at": ts(c.Expires),
		"issued_at":  ts(c.IssuedAt),
		"user": map[string]any{
			"id": c.User.ID, "name": c.User.Name,
			"domain":              ref(c.UserDomain.ID, c.UserDomain.Name),
			"password_expires_at": tsPtr(c.PasswordExpiresAt),
		},
	}
	switch {
	case c.Trust != nil:
		// Keystone's trust-scoped token: the trust, and its project
		// without is_domain and is_admin_project.
		t["OS-TRUST:trust"] = map[string]any{
			"id": c.Trust.ID, "impersonation": c.Trust.Impersonation,
			"trustor_user": map[string]any{"id": c.Trust.TrustorID},
			"trustee_user": map[string]any{"id": c.Trust.TrusteeID},
		}
		t["project"] = map[string]any{"id": c.Project.ID, "name": c.Project.Name, "domain": ref(c.ProjectDomain.ID, c.ProjectDomain.Name)}
	case c.Project != nil:
		t["project"] = map[string]any{"id": c.Project.ID, "name": c.Project.Name, "domain": ref(c.ProjectDomain.ID, c.ProjectDomain.Name)}
		t["is_domain"] = false
		t["is_admin_project"] = c.IsAdminProject
	case c.Domain != nil:
		t["domain"] = ref(c.Domain.ID, c.Domain.Name)
	case c.System:
		t["system"] = map[string]any{"all": true}
	}
	if c.Project != nil || c.Domain != nil || c.System {
		t["roles"] = roles
		if withCatalog {
			cat, err := a.catalog(r, c.ProjectID())
			if err != nil {
				return nil, err
			}
			t["catalog"] = cat
		}
	}
	if c.AppCred != nil {
		t["application_credential"] = map[string]any{"id": c.AppCred.ID, "name": c.AppCred.Name, "restricted": !c.AppCred.Unrestricted}
	}
	return map[string]any{"token": t}, nil
}

// catalog renders the catalog for a token scoped to projectID ("" for a
// domain or system token). As Keystone does, $(project_id)s and
// $(tenant_id)s in an endpoint URL (or %(project_id)s, %(tenant_id)s:
// Keystone turns "$(" into "%(" and formats) become the project's id, and
// an endpoint whose URL needs a project the token lacks is left out.
func (a *API) catalog(r *http.Request, projectID string) ([]any, error) {
	cat, err := a.svc.Catalog(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(cat))
	for _, s := range cat {
		eps := make([]any, 0, len(s.Endpoints))
		for _, e := range s.Endpoints {
			url := strings.ReplaceAll(e.URL, "%(", "$(")
			if strings.Contains(url, "$(") {
				if projectID == "" {
					continue
				}
				url = strings.NewReplacer("$(project_id)s", projectID, "$(tenant_id)s", projectID).Replace(url)
				if strings.Contains(url, "$(") {
					continue // a substitution Keystone would not resolve either
				}
			}
			eps = append(eps, map[string]any{"id": e.ID, "interface": e.Interface, "region": e.RegionID, "region_id": e.RegionID, "url": url})
		}
		out = append(out, map[string]any{"id": s.ID, "type": s.Type, "name": s.Name, "endpoints": eps})
	}
	return out, nil
}

func (a *API) authCatalog(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	if c.Project == nil && c.Domain == nil && !c.System {
		return oserr.Forbidden("An unscoped token has no catalog; authenticate with a project, domain or system scope.")
	}
	cat, err := a.catalog(r, c.ProjectID())
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"catalog": cat, "links": map[string]any{"self": a.base + "/v3/auth/catalog", "previous": nil, "next": nil}})
	return nil
}

func (a *API) authProjects(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.UserProjects(r.Context(), auth.From(r.Context()).User.ID)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, p := range ps {
		if p.Enabled {
			items = append(items, a.projectJSON(p))
		}
	}
	return a.collection(w, r, "projects", items)
}

func (a *API) authDomains(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.svc.UserDomains(r.Context(), auth.From(r.Context()).User.ID)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, d := range ds {
		items = append(items, a.domainJSON(d))
	}
	return a.collection(w, r, "domains", items)
}

func (a *API) authSystem(w http.ResponseWriter, r *http.Request) error {
	ok, err := a.svc.UserHasSystemRole(r.Context(), auth.From(r.Context()).User.ID)
	if err != nil {
		return err
	}
	sys := []any{}
	if ok {
		sys = append(sys, map[string]any{"all": true})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"system": sys, "links": map[string]any{"self": a.base + "/v3/auth/system", "previous": nil, "next": nil}})
	return nil
}
