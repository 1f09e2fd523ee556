package identity

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// JSON-home (RFC draft-nottingham-json-home) is how Keystone v3 advertises
// its resources and extensions (OS-TRUST, OS-INHERIT, …): GET /v3 or GET /
// with Accept: application/json-home. Keystone v3 has no /extensions.
// The document lists only what this API serves: TestJSONHomeMatchesRoutes
// checks every entry against the route table and every route against the
// document.

const (
	jsonHomeType = "application/json-home"
	relBase      = "https://docs.openstack.org/api/openstack-identity/3/"
)

// homeResource is one JSON-home resource: a Keystone relation name (rel/…
// or ext/<EXT>/1.0/rel/…), the path below /v3 with Keystone's variable
// names, and for each variable its parameter relation.
type homeResource struct {
	rel, path string
	vars      map[string]string
}

// Parameter relations, as Keystone names them.
const (
	pDomain  = "param/domain_id"
	pProject = "param/project_id"
	pUser    = "param/user_id"
	pGroup   = "param/group_id"
	pRole    = "param/role_id"
)

func v(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var homeResources = []homeResource{
	{"rel/auth_tokens", "/auth/tokens", nil},
	{"rel/auth_catalog", "/auth/catalog", nil},
	{"rel/auth_projects", "/auth/projects", nil},
	{"rel/auth_domains", "/auth/domains", nil},
	{"rel/auth_system", "/auth/system", nil},

	{"rel/domains", "/domains", nil},
	{"rel/domain", "/domains/{domain_id}", v("domain_id", pDomain)},
	{"rel/projects", "/projects", nil},
	{"rel/project", "/projects/{project_id}", v("project_id", pProject)},
	{"rel/project_tags", "/projects/{project_id}/tags/{value}", v("project_id", pProject, "value", "param/tag_value")},
	{"rel/users", "/users", nil},
	{"rel/user", "/users/{user_id}", v("user_id", pUser)},
	{"rel/user_change_password", "/users/{user_id}/password", v("user_id", pUser)},
	{"rel/user_projects", "/users/{user_id}/projects", v("user_id", pUser)},
	{"rel/user_groups", "/users/{user_id}/groups", v("user_id", pUser)},
	{"rel/application_credentials", "/users/{user_id}/application_credentials", v("user_id", pUser)},
	{"rel/application_credential", "/users/{user_id}/application_credentials/{application_credential_id}",
		v("user_id", pUser, "application_credential_id", "param/application_credential_id")},
	{"rel/groups", "/groups", nil},
	{"rel/group", "/groups/{group_id}", v("group_id", pGroup)},
	{"rel/group_users", "/groups/{group_id}/users", v("group_id", pGroup)},
	{"rel/group_user", "/groups/{group_id}/users/{user_id}", v("group_id", pGroup, "user_id", pUser)},

	{"rel/roles", "/roles", nil},
	{"rel/role", "/roles/{role_id}", v("role_id", pRole)},
	{"rel/implied_roles", "/roles/{prior_role_id}/implies", v("prior_role_id", pRole)},
	{"rel/implied_role", "/roles/{prior_role_id}/implies/{implied_role_id}", v("prior_role_id", pRole, "implied_role_id", pRole)},
	{"rel/role_inferences", "/role_inferences", nil},
	{"rel/role_assignments", "/role_assignments", nil},
	{"rel/project_user_roles", "/projects/{project_id}/users/{user_id}/roles", v("project_id", pProject, "user_id", pUser)},
	{"rel/project_user_role", "/projects/{project_id}/users/{user_id}/roles/{role_id}", v("project_id", pProject, "user_id", pUser, "role_id", pRole)},
	{"rel/project_group_roles", "/projects/{project_id}/groups/{group_id}/roles", v("project_id", pProject, "group_id", pGroup)},
	{"rel/project_group_role", "/projects/{project_id}/groups/{group_id}/roles/{role_id}", v("project_id", pProject, "group_id", pGroup, "role_id", pRole)},
	{"rel/domain_user_roles", "/domains/{domain_id}/users/{user_id}/roles", v("domain_id", pDomain, "user_id", pUser)},
	{"rel/domain_user_role", "/domains/{domain_id}/users/{user_id}/roles/{role_id}", v("domain_id", pDomain, "user_id", pUser, "role_id", pRole)},
	{"rel/domain_group_roles", "/domains/{domain_id}/groups/{group_id}/roles", v("domain_id", pDomain, "group_id", pGroup)},
	{"rel/domain_group_role", "/domains/{domain_id}/groups/{group_id}/roles/{role_id}", v("domain_id", pDomain, "group_id", pGroup, "role_id", pRole)},
	{"rel/system_user_roles", "/system/users/{user_id}/roles", v("user_id", pUser)},
	{"rel/system_user_role", "/system/users/{user_id}/roles/{role_id}", v("user_id", pUser, "role_id", pRole)},
	{"rel/system_group_roles", "/system/groups/{group_id}/roles", v("group_id", pGroup)},
	{"rel/system_group_role", "/system/groups/{group_id}/roles/{role_id}", v("group_id", pGroup, "role_id", pRole)},

	{"ext/OS-INHERIT/1.0/rel/domain_user_roles_inherited_to_projects", "/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects", v("domain_id", pDomain, "user_id", pUser)},
	{"ext/OS-INHERIT/1.0/rel/domain_group_roles_inherited_to_projects", "/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects", v("domain_id", pDomain, "group_id", pGroup)},
	{"ext/OS-INHERIT/1.0/rel/domain_user_role_inherited_to_projects", "/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects", v("domain_id", pDomain, "user_id", pUser, "role_id", pRole)},
	{"ext/OS-INHERIT/1.0/rel/domain_group_role_inherited_to_projects", "/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects", v("domain_id", pDomain, "group_id", pGroup, "role_id", pRole)},
	{"ext/OS-INHERIT/1.0/rel/project_user_role_inherited_to_projects", "/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects", v("project_id", pProject, "user_id", pUser, "role_id", pRole)},
	{"ext/OS-INHERIT/1.0/rel/project_group_role_inherited_to_projects", "/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects", v("project_id", pProject, "group_id", pGroup, "role_id", pRole)},

	{"ext/OS-TRUST/1.0/rel/trusts", "/OS-TRUST/trusts", nil},
	{"ext/OS-TRUST/1.0/rel/trust", "/OS-TRUST/trusts/{trust_id}", v("trust_id", "ext/OS-TRUST/1.0/param/trust_id")},
	{"ext/OS-TRUST/1.0/rel/trust_roles", "/OS-TRUST/trusts/{trust_id}/roles", v("trust_id", "ext/OS-TRUST/1.0/param/trust_id")},
	{"ext/OS-TRUST/1.0/rel/trust_role", "/OS-TRUST/trusts/{trust_id}/roles/{role_id}", v("trust_id", "ext/OS-TRUST/1.0/param/trust_id", "role_id", pRole)},

	{"rel/regions", "/regions", nil},
	{"rel/region", "/regions/{region_id}", v("region_id", "param/region_id")},
	{"rel/services", "/services", nil},
	{"rel/service", "/services/{service_id}", v("service_id", "param/service_id")},
	{"rel/endpoints", "/endpoints", nil},
	{"rel/endpoint", "/endpoints/{endpoint_id}", v("endpoint_id", "param/endpoint_id")},
}

// jsonHome renders the document with hrefs below prefix: "" at /v3, "/v3"
// at the unversioned root, as Keystone writes them.
func jsonHome(prefix string) map[string]any {
	res := make(map[string]any, len(homeResources))
	for _, h := range homeResources {
		if len(h.vars) == 0 {
			res[relBase+h.rel] = map[string]any{"href": prefix + h.path}
			continue
		}
		vars := make(map[string]any, len(h.vars))
		for name, param := range h.vars {
			vars[name] = relBase + param
		}
		res[relBase+h.rel] = map[string]any{"href-template": prefix + h.path, "href-vars": vars}
	}
	return map[string]any{"resources": res}
}

// wantsJSONHome reports whether the Accept header prefers JSON-home to
// JSON (on a tie, JSON wins, as Keystone lists it first).
func wantsJSONHome(r *http.Request) bool {
	var home, plain float64 = -1, -1
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case jsonHomeType:
			home = max(home, q)
		case "application/json", "application/*", "*/*":
			plain = max(plain, q)
		}
	}
	return home > 0 && home > plain
}

func writeJSONHome(w http.ResponseWriter, prefix string) {
	b, err := json.Marshal(jsonHome(prefix))
	if err != nil {
		panic(err) // a static document of strings always marshals
	}
	w.Header().Set("Content-Type", jsonHomeType)
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
