package identity

import (
	"math"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// OS-TRUST: /v3/OS-TRUST/trusts. Policy is the reference cloud's (Debian's
// Keystone 22, Zed, whose defaults add "rule:admin_required or" to most
// trust rules; scope enforcement off), with admin_required the admin role
// on any scope, as everywhere in this API:
//
//	create          the caller is the trustor
//	list            an admin or a system reader
//	list ?trustor=  that trustor, an admin or a system reader (same for ?trustee=)
//	get, roles      the trustor, the trustee, an admin or a system reader
//	delete          the trustor or an admin
//
// A missing trust is 404 before any policy check (Keystone, lp#1840288),
// and tokens issued for application credentials are refused everything.

func (a *API) trustRoutes() []rest.Route {
	const base = "/v3/OS-TRUST/trusts"
	return []rest.Route{
		rest.R("POST", base, trustCaller, a.createTrust),
		rest.R("GET", base, trustCaller, a.listTrusts),
		// Keystone (Flask) also answers with a trailing slash, and
		// Tempest's trusts client lists with one.
		rest.R("POST", base+"/{$}", trustCaller, a.createTrust),
		rest.R("GET", base+"/{$}", trustCaller, a.listTrusts),
		rest.R("GET", base+"/{trust_id}", trustCaller, a.getTrust),
		rest.R("DELETE", base+"/{trust_id}", trustCaller, a.deleteTrust),
		rest.R("GET", base+"/{trust_id}/roles", trustCaller, a.listTrustRoles),
		rest.R("GET", base+"/{trust_id}/roles/{role_id}", trustCaller, a.getTrustRole),
	}
}

func trustCaller(c *auth.Credentials, _ *http.Request) error { return svc.CheckTrustCaller(c) }

// trustReader is an admin or Keystone's system reader ("role:reader and
// system_scope:all"): who may read any trust.
func trustReader(c *auth.Credentials) bool {
	return c.IsAdmin() || (c.System && c.HasRole(auth.RoleReader))
}

// trustParty lets the trustor, the trustee and trust readers through.
func trustParty(c *auth.Credentials, t store.Trust, rule string) error {
	if trustReader(c) || c.User.ID == t.TrustorUserID || c.User.ID == t.TrusteeUserID {
		return nil
	}
	return oserr.Forbidden("You are not authorized to perform the requested action: %s; only the trust's trustor or trustee (or an admin) may.", rule)
}

// idPattern is Keystone's id_string: what a project or role id may contain.
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)

// decodeTrust reads the "trust" object of POST /v3/OS-TRUST/trusts as
// Keystone's schema does: trustor_user_id, trustee_user_id and
// impersonation are required; roles are objects with exactly one of id and
// name; counts are integers; unknown attributes are kept and echoed.
func decodeTrust(f fields) (svc.TrustInput, error) {
	var in svc.TrustInput
	for _, req := range []string{"trustor_user_id", "trustee_user_id", "impersonation"} {
		if _, ok := f[req]; !ok {
			return in, oserr.BadRequest("Invalid input for field 'trust': '%s' is a required property.", req)
		}
	}
	var e [8]error
	in.TrustorUserID, _, e[0] = f.str("trustor_user_id", 64)
	in.TrusteeUserID, _, e[1] = f.str("trustee_user_id", 64)
	in.ProjectID, _, e[2] = f.str("project_id", 64)
	exp, hasExp, e3 := f.str("expires_at", 0)
	e[3] = e3
	in.RemainingUses, e[4] = f.count("remaining_uses", 1)
	in.RedelegationCount, e[5] = f.count("redelegation_count", 0)
	in.RedelegatedTrustID, _, e[6] = f.str("redelegated_trust_id", 64)
	if err := firstErr(e[:]...); err != nil {
		return in, err
	}
	imp, ok := f["impersonation"].(bool)
	if !ok {
		return in, oserr.BadRequest("Invalid input for field 'impersonation': expected a boolean, got %s.", jsonKind(f["impersonation"]))
	}
	in.Impersonation = imp
	switch v := f["allow_redelegation"].(type) {
	case nil:
	case bool:
		in.AllowRedelegation = v
	default:
		return in, oserr.BadRequest("Invalid input for field 'allow_redelegation': expected a boolean or null, got %s.", jsonKind(v))
	}
	for name, v := range map[string]string{"trustor_user_id": in.TrustorUserID, "trustee_user_id": in.TrusteeUserID} {
		if v == "" {
			return in, oserr.BadRequest("Invalid input for field '%s': expected a user id, got an empty string.", name)
		}
	}
	if in.ProjectID != "" && !idPattern.MatchString(in.ProjectID) {
		return in, oserr.BadRequest("Invalid input for field 'project_id': %q is not a project id (letters, digits and '-').", in.ProjectID)
	}
	if hasExp {
		t, err := parseTime(exp)
		if err != nil {
			return in, err
		}
		in.ExpiresAt = &t
	}
	roles, err := decodeTrustRoles(f["roles"])
	if err != nil {
		return in, err
	}
	in.Roles = roles
	in.Extra = f.extra("trustor_user_id", "trustee_user_id", "project_id", "impersonation", "expires_at",
		"remaining_uses", "allow_redelegation", "redelegation_count", "redelegated_trust_id", "roles",
		"roles_links", "deleted_at")
	return in, nil
}

func decodeTrustRoles(raw any) ([]svc.TrustRole, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, oserr.BadRequest("Invalid input for field 'roles': expected an array of {\"id\": ...} or {\"name\": ...} objects, got %s.", jsonKind(raw))
	}
	var out []svc.TrustRole
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, oserr.BadRequest("Invalid input for field 'roles/%d': each role is an object with exactly one of \"id\" and \"name\".", i)
		}
		for k, v := range m {
			s, isStr := v.(string)
			switch {
			case k != "id" && k != "name":
				return nil, oserr.BadRequest("Invalid input for field 'roles/%d': unknown attribute %q; give \"id\" or \"name\".", i, k)
			case !isStr || s == "" || utf8.RuneCountInString(s) > 255:
				return nil, oserr.BadRequest("Invalid input for field 'roles/%d/%s': expected a non-empty string of at most 255 characters.", i, k)
			case k == "id" && (len(s) > 64 || !idPattern.MatchString(s)):
				return nil, oserr.BadRequest("Invalid input for field 'roles/%d/id': %q is not a role id (letters, digits and '-').", i, s)
			case k == "id":
				out = append(out, svc.TrustRole{ID: s})
			default:
				out = append(out, svc.TrustRole{Name: s})
			}
		}
	}
	return out, nil
}

// count returns an integer field at least min, nil when absent or null.
func (f fields) count(name string, min int) (*int, error) {
	raw, ok := f[name]
	if !ok || raw == nil {
		return nil, nil
	}
	v, isNum := raw.(float64)
	if !isNum || v != math.Trunc(v) || v > math.MaxInt32 || v < math.MinInt32 {
		return nil, oserr.BadRequest("Invalid input for field '%s': expected an integer or null, got %s.", name, jsonKind(raw))
	}
	if int(v) < min {
		return nil, oserr.BadRequest("Invalid input for field '%s': %d is less than the minimum of %d.", name, int(v), min)
	}
	n := int(v)
	return &n, nil
}

// trustJSON renders a trust; withRoles adds its roles and roles_links (a
// show or create answer; lists leave them out, as Keystone does).
func (a *API) trustJSON(t store.Trust, roles []store.Role, withRoles bool) map[string]any {
	var uses any
	if t.RemainingUses != nil {
		uses = *t.RemainingUses
	}
	m := obj(t.Extra, map[string]any{
		"id": t.ID, "trustor_user_id": t.TrustorUserID, "trustee_user_id": t.TrusteeUserID,
		"project_id": nullable(t.ProjectID), "impersonation": t.Impersonation,
		"expires_at": tsPtr(t.ExpiresAt), "remaining_uses": uses, "deleted_at": nil,
		"redelegated_trust_id": nullable(t.RedelegatedTrustID), "redelegation_count": t.RedelegationCount,
		"links": a.link("OS-TRUST/trusts/" + t.ID),
	})
	if withRoles {
		rs := make([]any, 0, len(roles))
		for _, r := range roles {
			rs = append(rs, a.roleJSON(r))
		}
		m["roles"] = rs
		m["roles_links"] = map[string]any{"self": a.base + "/v3/OS-TRUST/trusts/" + t.ID + "/roles", "previous": nil, "next": nil}
	}
	return m
}

func (a *API) createTrust(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "trust")
	if err != nil {
		return err
	}
	in, err := decodeTrust(f)
	if err != nil {
		return err
	}
	t, err := a.svc.CreateTrust(r.Context(), auth.From(r.Context()), in)
	if err != nil {
		return err
	}
	return created(w, "trust", a.trustJSON(t.Trust, t.Roles, true))
}

func (a *API) listTrusts(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	q := r.URL.Query()
	f := svc.TrustFilter{TrustorUserID: q.Get("trustor_user_id"), TrusteeUserID: q.Get("trustee_user_id")}
	switch {
	case trustReader(c):
	case f.TrustorUserID == "" && f.TrusteeUserID == "":
		return forbidden("identity:list_trusts (list your own with ?trustor_user_id= or ?trustee_user_id= and your user id)")
	case f.TrustorUserID != c.User.ID && f.TrusteeUserID != c.User.ID:
		rule := "identity:list_trusts_for_trustor"
		if f.TrustorUserID == "" {
			rule = "identity:list_trusts_for_trustee"
		}
		return oserr.Forbidden("You are not authorized to perform the requested action: %s; you may list only the trusts you give or receive.", rule)
	}
	ts, err := a.svc.ListTrusts(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ts))
	for _, t := range ts {
		items = append(items, a.trustJSON(t, nil, false))
	}
	return a.collection(w, r, "trusts", items)
}

// trustFor loads the trust in the path (404 first) and applies the rule.
func (a *API) trustFor(r *http.Request, rule string) (svc.Trust, error) {
	t, err := a.svc.GetTrust(r.Context(), r.PathValue("trust_id"))
	if err != nil {
		return t, err
	}
	return t, trustParty(auth.From(r.Context()), t.Trust, rule)
}

func (a *API) getTrust(w http.ResponseWriter, r *http.Request) error {
	t, err := a.trustFor(r, "identity:get_trust")
	if err != nil {
		return err
	}
	return ok(w, "trust", a.trustJSON(t.Trust, t.Roles, true))
}

func (a *API) deleteTrust(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	// Unlike GET, an expired or used-up trust is found: its trustor may
	// still delete it, ending the tokens it issued.
	t, err := a.svc.FindTrust(r.Context(), r.PathValue("trust_id"))
	if err != nil {
		return err
	}
	if !c.IsAdmin() && c.User.ID != t.TrustorUserID {
		return oserr.Forbidden("You are not authorized to perform the requested action: identity:delete_trust; only the trustor (or an admin) may delete a trust.")
	}
	return done(w, a.svc.DeleteTrust(r.Context(), t.ID))
}

func (a *API) listTrustRoles(w http.ResponseWriter, r *http.Request) error {
	t, err := a.trustFor(r, "identity:list_roles_for_trust")
	if err != nil {
		return err
	}
	rs := make([]any, 0, len(t.Roles))
	for _, ro := range t.Roles {
		rs = append(rs, a.roleJSON(ro))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"roles": rs,
		"links": map[string]any{"self": a.base + "/v3/OS-TRUST/trusts/" + t.ID + "/roles", "previous": nil, "next": nil}})
	return nil
}

func (a *API) getTrustRole(w http.ResponseWriter, r *http.Request) error {
	t, err := a.trustFor(r, "identity:get_role_for_trust")
	if err != nil {
		return err
	}
	id := r.PathValue("role_id")
	for _, ro := range t.Roles {
		if ro.ID == id {
			return ok(w, "role", a.roleJSON(ro))
		}
	}
	return oserr.NotFound("Could not find role: %s; trust %s does not delegate it.", id, t.ID)
}
