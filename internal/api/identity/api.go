// Package identity serves Keystone's v3 API under /identity: routes,
// request decoding, policy and Keystone's wire format over the identity service.
package identity

import (
	"log/slog"
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
)

// Prefix is where Keystone is mounted.
const Prefix = "/identity"

// API is the Keystone v3 HTTP API.
type API struct {
	svc *svc.Service
	// base is the public URL of the identity endpoint, e.g. http://127.0.0.1:8000/identity.
	base string
	log  *slog.Logger
}

// New returns the API serving s in env; s validates its own tokens.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger()}
}

// Service returns the routes ready to mount.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: oserr.Keystone, Validator: a.svc, Routes: a.routes(), Log: a.log,
		Versions: a.versions, Endpoints: []rest.Endpoint{{Type: "identity", Name: "keystone"}}}
}

// Policy rules, named after Keystone's defaults (enforce_scope off, as in a
// stock Zed cloud): "admin_required" is role:admin on any scope.

func authenticated(*auth.Credentials, *http.Request) error { return nil }

func forbidden(rule string) error {
	return oserr.Forbidden("You are not authorized to perform the requested action: %s; it needs the admin role.", rule)
}

func admin(rule string) rest.Access {
	return func(c *auth.Credentials, _ *http.Request) error {
		if c.IsAdmin() {
			return nil
		}
		return forbidden(rule)
	}
}

// adminOrSelf lets admins and the user named in the path through.
func adminOrSelf(rule string) rest.Access {
	return func(c *auth.Credentials, r *http.Request) error {
		if c.IsAdmin() || c.User.ID == r.PathValue("user_id") {
			return nil
		}
		return oserr.Forbidden("You are not authorized to perform the requested action: %s; only the user itself or an admin may.", rule)
	}
}

// noTrust refuses trust-scoped tokens, then applies next: a trustee must
// not turn a trust, bounded in time and revocable, into a lasting
// application credential (Keystone refuses this too since 2026).
func noTrust(next rest.Access) rest.Access {
	return func(c *auth.Credentials, r *http.Request) error {
		if c.Trust != nil {
			return oserr.Forbidden("Cannot manage application credentials with a token issued via delegation (trust %s); use a token of your own.", c.Trust.ID)
		}
		return next(c, r)
	}
}

func (a *API) routes() []rest.Route {
	return append(append(a.grantRoutes(), a.trustRoutes()...), []rest.Route{
		rest.R("GET", "/v3", nil, a.version),
		rest.R("GET", "/v3/{$}", nil, a.version),

		rest.R("POST", "/v3/auth/tokens", nil, a.issueToken),
		rest.R("GET", "/v3/auth/tokens", authenticated, a.validateToken),
		rest.R("DELETE", "/v3/auth/tokens", authenticated, a.revokeToken),
		rest.R("GET", "/v3/auth/catalog", authenticated, a.authCatalog),
		rest.R("GET", "/v3/auth/projects", authenticated, a.authProjects),
		rest.R("GET", "/v3/auth/domains", authenticated, a.authDomains),
		rest.R("GET", "/v3/auth/system", authenticated, a.authSystem),

		rest.R("GET", "/v3/domains", authenticated, a.listDomains),
		rest.R("POST", "/v3/domains", admin("identity:create_domain"), a.createDomain),
		rest.R("GET", "/v3/domains/{domain_id}", authenticated, a.getDomain),
		rest.R("PATCH", "/v3/domains/{domain_id}", admin("identity:update_domain"), a.updateDomain),
		rest.R("DELETE", "/v3/domains/{domain_id}", admin("identity:delete_domain"), a.deleteDomain),

		rest.R("GET", "/v3/projects", admin("identity:list_projects"), a.listProjects),
		rest.R("POST", "/v3/projects", admin("identity:create_project"), a.createProject),
		rest.R("GET", "/v3/projects/{project_id}", authenticated, a.getProject),
		rest.R("PATCH", "/v3/projects/{project_id}", admin("identity:update_project"), a.updateProject),
		rest.R("DELETE", "/v3/projects/{project_id}", admin("identity:delete_project"), a.deleteProject),
		rest.R("GET", "/v3/projects/{project_id}/tags", a.canReadProject, a.listProjectTags),
		rest.R("PUT", "/v3/projects/{project_id}/tags", admin("identity:update_project_tags"), a.replaceProjectTags),
		rest.R("DELETE", "/v3/projects/{project_id}/tags", admin("identity:delete_project_tags"), a.deleteProjectTags),
		rest.R("GET", "/v3/projects/{project_id}/tags/{tag}", a.canReadProject, a.checkProjectTag),
		rest.R("HEAD", "/v3/projects/{project_id}/tags/{tag}", a.canReadProject, a.checkProjectTag),
		rest.R("PUT", "/v3/projects/{project_id}/tags/{tag}", admin("identity:create_project_tag"), a.addProjectTag),
		rest.R("DELETE", "/v3/projects/{project_id}/tags/{tag}", admin("identity:delete_project_tag"), a.deleteProjectTag),

		rest.R("GET", "/v3/users", admin("identity:list_users"), a.listUsers),
		rest.R("POST", "/v3/users", admin("identity:create_user"), a.createUser),
		rest.R("GET", "/v3/users/{user_id}", adminOrSelf("identity:get_user"), a.getUser),
		rest.R("PATCH", "/v3/users/{user_id}", admin("identity:update_user"), a.updateUser),
		rest.R("DELETE", "/v3/users/{user_id}", admin("identity:delete_user"), a.deleteUser),
		rest.R("POST", "/v3/users/{user_id}/password", adminOrSelf("identity:change_password"), a.changePassword),
		rest.R("GET", "/v3/users/{user_id}/projects", adminOrSelf("identity:list_user_projects"), a.userProjects),
		rest.R("GET", "/v3/users/{user_id}/groups", adminOrSelf("identity:list_groups_for_user"), a.userGroups),

		rest.R("GET", "/v3/groups", admin("identity:list_groups"), a.listGroups),
		rest.R("POST", "/v3/groups", admin("identity:create_group"), a.createGroup),
		rest.R("GET", "/v3/groups/{group_id}", admin("identity:get_group"), a.getGroup),
		rest.R("PATCH", "/v3/groups/{group_id}", admin("identity:update_group"), a.updateGroup),
		rest.R("DELETE", "/v3/groups/{group_id}", admin("identity:delete_group"), a.deleteGroup),
		rest.R("GET", "/v3/groups/{group_id}/users", admin("identity:list_users_in_group"), a.groupUsers),
		rest.R("PUT", "/v3/groups/{group_id}/users/{user_id}", admin("identity:add_user_to_group"), a.addGroupUser),
		rest.R("HEAD", "/v3/groups/{group_id}/users/{user_id}", admin("identity:check_user_in_group"), a.checkGroupUser),
		rest.R("GET", "/v3/groups/{group_id}/users/{user_id}", admin("identity:check_user_in_group"), a.checkGroupUser),
		rest.R("DELETE", "/v3/groups/{group_id}/users/{user_id}", admin("identity:remove_user_from_group"), a.removeGroupUser),

		rest.R("GET", "/v3/roles", admin("identity:list_roles"), a.listRoles),
		rest.R("POST", "/v3/roles", admin("identity:create_role"), a.createRole),
		rest.R("GET", "/v3/roles/{role_id}", admin("identity:get_role"), a.getRole),
		rest.R("PATCH", "/v3/roles/{role_id}", admin("identity:update_role"), a.updateRole),
		rest.R("DELETE", "/v3/roles/{role_id}", admin("identity:delete_role"), a.deleteRole),
		rest.R("GET", "/v3/roles/{role_id}/implies", admin("identity:list_implied_roles"), a.listImplied),
		rest.R("PUT", "/v3/roles/{role_id}/implies/{implied_id}", admin("identity:create_implied_role"), a.addImplied),
		rest.R("GET", "/v3/roles/{role_id}/implies/{implied_id}", admin("identity:get_implied_role"), a.getImplied),
		rest.R("HEAD", "/v3/roles/{role_id}/implies/{implied_id}", admin("identity:check_implied_role"), a.checkImplied),
		rest.R("DELETE", "/v3/roles/{role_id}/implies/{implied_id}", admin("identity:delete_implied_role"), a.removeImplied),
		rest.R("GET", "/v3/role_inferences", admin("identity:list_role_inference_rules"), a.roleInferences),
		rest.R("GET", "/v3/role_assignments", a.canListAssignments, a.listAssignments),

		rest.R("GET", "/v3/users/{user_id}/application_credentials", noTrust(adminOrSelf("identity:list_application_credentials")), a.listAppCreds),
		rest.R("POST", "/v3/users/{user_id}/application_credentials", noTrust(a.canCreateAppCred), a.createAppCred),
		rest.R("GET", "/v3/users/{user_id}/application_credentials/{app_cred_id}", noTrust(adminOrSelf("identity:get_application_credential")), a.getAppCred),
		rest.R("DELETE", "/v3/users/{user_id}/application_credentials/{app_cred_id}", noTrust(adminOrSelf("identity:delete_application_credential")), a.deleteAppCred),

		rest.R("GET", "/v3/regions", authenticated, a.listRegions),
		rest.R("POST", "/v3/regions", admin("identity:create_region"), a.createRegion),
		rest.R("PUT", "/v3/regions/{region_id}", admin("identity:create_region"), a.createRegion),
		rest.R("GET", "/v3/regions/{region_id}", authenticated, a.getRegion),
		rest.R("PATCH", "/v3/regions/{region_id}", admin("identity:update_region"), a.updateRegion),
		rest.R("DELETE", "/v3/regions/{region_id}", admin("identity:delete_region"), a.deleteRegion),

		rest.R("GET", "/v3/services", admin("identity:list_services"), a.listServices),
		rest.R("POST", "/v3/services", admin("identity:create_service"), a.createService),
		rest.R("GET", "/v3/services/{service_id}", admin("identity:get_service"), a.getService),
		rest.R("PATCH", "/v3/services/{service_id}", admin("identity:update_service"), a.updateService),
		rest.R("DELETE", "/v3/services/{service_id}", admin("identity:delete_service"), a.deleteService),

		rest.R("GET", "/v3/endpoints", admin("identity:list_endpoints"), a.listEndpoints),
		rest.R("POST", "/v3/endpoints", admin("identity:create_endpoint"), a.createEndpoint),
		rest.R("GET", "/v3/endpoints/{endpoint_id}", admin("identity:get_endpoint"), a.getEndpoint),
		rest.R("PATCH", "/v3/endpoints/{endpoint_id}", admin("identity:update_endpoint"), a.updateEndpoint),
		rest.R("DELETE", "/v3/endpoints/{endpoint_id}", admin("identity:delete_endpoint"), a.deleteEndpoint),
	}...)
}

// grantRoutes declares the role grant paths for every target (projects,
// domains, the system) and actor (users, groups).
func (a *API) grantRoutes() []rest.Route {
	var rs []rest.Route
	for _, target := range []string{"projects", "domains", "system"} {
		for _, actor := range []string{"users", "groups"} {
			base := "/v3/" + target + "/{target_id}/" + actor + "/{actor_id}/roles"
			rule := "grant"
			if target == "system" {
				base = "/v3/system/" + actor + "/{actor_id}/roles"
				rule = "system_grant"
			}
			g := grantPath{target: target, actor: actor}
			rs = append(rs,
				rest.R("GET", base, admin("identity:list_"+rule+"s"), g.bind(a.listGrants)),
				rest.R("PUT", base+"/{role_id}", admin("identity:create_"+rule), g.bind(a.grant)),
				rest.R("GET", base+"/{role_id}", admin("identity:check_"+rule), g.bind(a.checkGrant)),
				rest.R("HEAD", base+"/{role_id}", admin("identity:check_"+rule), g.bind(a.checkGrant)),
				rest.R("DELETE", base+"/{role_id}", admin("identity:revoke_"+rule), g.bind(a.revokeGrant)),
			)
		}
	}
	// OS-INHERIT: roles inherited by every project below a domain or project.
	for _, target := range []string{"projects", "domains"} {
		for _, actor := range []string{"users", "groups"} {
			base := "/v3/OS-INHERIT/" + target + "/{target_id}/" + actor + "/{actor_id}/roles"
			g := grantPath{target: target, actor: actor, inherited: true}
			if target == "domains" {
				rs = append(rs, rest.R("GET", base+"/inherited_to_projects", admin("identity:list_grants"), g.bind(a.listGrants)))
			}
			rs = append(rs,
				rest.R("PUT", base+"/{role_id}/inherited_to_projects", admin("identity:create_grant"), g.bind(a.grant)),
				rest.R("GET", base+"/{role_id}/inherited_to_projects", admin("identity:check_grant"), g.bind(a.checkGrant)),
				rest.R("HEAD", base+"/{role_id}/inherited_to_projects", admin("identity:check_grant"), g.bind(a.checkGrant)),
				rest.R("DELETE", base+"/{role_id}/inherited_to_projects", admin("identity:revoke_grant"), g.bind(a.revokeGrant)),
			)
		}
	}
	return rs
}
