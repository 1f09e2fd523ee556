package identity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// TestErrorBodies checks that every failure a client can provoke gets
// Keystone's error body, the right status and a request id.
func TestErrorBodies(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	id := cloudtest.Identity(t, env.Admin(t))
	if _, err := projects.Create(ctx, id, projects.CreateOpts{Name: "shop"}).Extract(); err != nil {
		t.Fatal(err)
	}
	member, err := users.Create(ctx, id, users.CreateOpts{Name: "clerk", Password: "clerk-pw", DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	memberRole := findRole(t, id, "member")
	shop := findProject(t, id, "shop")
	if err := roles.Assign(ctx, id, memberRole, roles.AssignOpts{UserID: member.ID, ProjectID: shop}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	memberTok := env.Token(t, "clerk", "clerk-pw", "shop")

	for _, tc := range []struct {
		name, method, path, token, body string
		want                            int
		wantMsg                         string
	}{
		{"unknown path", "GET", "/identity/v3/nothing-here", admin, "", 404, "could not be found"},
		{"unknown method", "PUT", "/identity/v3/auth/catalog", admin, "", 405, "not allowed"},
		{"malformed json", "POST", "/identity/v3/auth/tokens", "", "{", 400, "not valid JSON"},
		{"wrong type", "POST", "/identity/v3/users", admin, `{"user": {"name": 7}}`, 400, "'name'"},
		{"missing wrapper", "POST", "/identity/v3/projects", admin, `{"name": "x"}`, 400, `"project"`},
		{"oversize body", "POST", "/identity/v3/projects", admin, `{"project": {"name": "` + strings.Repeat("a", 2<<20) + `"}}`, 413, "larger than the limit"},
		{"no token", "GET", "/identity/v3/users", "", "", 401, "X-Auth-Token"},
		{"forged token", "GET", "/identity/v3/users", "gAAAAABforged" + strings.Repeat("x", 100), "", 401, "not issued by this cloud"},
		{"wrong password", "POST", "/identity/v3/auth/tokens", "", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"nope"}}}}}`, 401, "do not match"},
		{"unknown user same answer", "POST", "/identity/v3/auth/tokens", "", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"ghost","domain":{"id":"default"},"password":"nope"}}}}}`, 401, "do not match"},
		{"member lists users", "GET", "/identity/v3/users", memberTok, "", 403, "identity:list_users"},
		{"member creates project", "POST", "/identity/v3/projects", memberTok, `{"project": {"name": "evil"}}`, 403, "identity:create_project"},
		{"missing user", "GET", "/identity/v3/users/0000", admin, "", 404, "Could not find user: 0000"},
		{"duplicate user", "POST", "/identity/v3/users", admin, `{"user": {"name": "clerk"}}`, 409, "exists"},
		{"delete enabled domain", "DELETE", "/identity/v3/domains/default", admin, "", 403, "disable it first"},
		{"bad subject token", "GET", "/identity/v3/auth/tokens", admin, "", 400, "X-Subject-Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := env.Do(t, tc.method, tc.path, tc.token, body)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			e, ok := r.JSON(t)["error"].(map[string]any)
			if !ok {
				t.Fatalf("no Keystone error object: %s", r.Body)
			}
			if e["code"] != float64(tc.want) || e["title"] != http.StatusText(tc.want) {
				t.Errorf("error code/title = %v/%v, want %d/%s", e["code"], e["title"], tc.want, http.StatusText(tc.want))
			}
			if msg, _ := e["message"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tc.wantMsg)
			}
			if !strings.HasPrefix(r.Header.Get("X-Openstack-Request-Id"), "req-") {
				t.Errorf("no request id header: %v", r.Header)
			}
		})
	}
}

func findRole(t *testing.T, sc *gophercloud.ServiceClient, name string) string {
	t.Helper()
	pages, err := roles.List(sc, roles.ListOpts{Name: name}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := roles.ExtractRoles(pages)
	if len(rs) != 1 {
		t.Fatalf("role %s: found %d", name, len(rs))
	}
	return rs[0].ID
}

func findProject(t *testing.T, sc *gophercloud.ServiceClient, name string) string {
	t.Helper()
	pages, err := projects.List(sc, projects.ListOpts{Name: name}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := projects.ExtractProjects(pages)
	if len(ps) != 1 {
		t.Fatalf("project %s: found %d", name, len(ps))
	}
	return ps[0].ID
}

// TestGophercloudLifecycle drives the identity API with gophercloud, the
// client Terraform uses, on every store backend.
func TestGophercloudLifecycle(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := cloudtest.NewOn(t, backend)
			ctx := context.Background()
			id := cloudtest.Identity(t, env.Admin(t))

			p, err := projects.Create(ctx, id, projects.CreateOpts{Name: "web", Description: "storefront"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if p.DomainID != "default" || p.ParentID != "default" || !p.Enabled {
				t.Errorf("project = %+v, want domain/parent default and enabled", p)
			}
			u, err := users.Create(ctx, id, users.CreateOpts{Name: "deployer", Password: "pw-1", DefaultProjectID: p.ID,
				Extra: map[string]any{"email": "ops@example.com"}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if u.Extra["email"] != "ops@example.com" {
				t.Errorf("extra attributes not kept: %+v", u.Extra)
			}
			g, err := groups.Create(ctx, id, groups.CreateOpts{Name: "ops"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if err := users.AddToGroup(ctx, id, g.ID, u.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			// The role comes through the group only.
			if err := roles.Assign(ctx, id, findRole(t, id, "member"), roles.AssignOpts{GroupID: g.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			pages, err := roles.ListAssignments(id, roles.ListAssignmentsOpts{UserID: u.ID, Effective: new(true), IncludeNames: new(true)}).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			as, _ := roles.ExtractRoleAssignments(pages)
			var got []string
			for _, a := range as {
				got = append(got, a.Role.Name+"@"+a.Scope.Project.Name)
			}
			if diff := cmp.Diff([]string{"member@web", "reader@web"}, got); diff != "" {
				t.Errorf("effective assignments (-want +got):\n%s", diff)
			}

			// The user authenticates into its default project with the group's role.
			uc := env.Client(t, "deployer", "pw-1", "")
			tok := uc.Token()
			r := env.Do(t, "GET", "/identity/v3/auth/tokens", tok, nil, "X-Subject-Token", tok)
			proj := r.JSON(t)["token"].(map[string]any)["project"].(map[string]any)
			if proj["id"] != p.ID {
				t.Errorf("token project = %v, want default project %s", proj["id"], p.ID)
			}

			// Application credential: create as the user, authenticate with it.
			uid := cloudtest.Identity(t, env.Client(t, "deployer", "pw-1", "web"))
			ac, err := applicationcredentials.Create(ctx, uid, u.ID, applicationcredentials.CreateOpts{Name: "ci",
				Roles: []applicationcredentials.Role{{Name: "reader"}}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if ac.Secret == "" || len(ac.Roles) != 1 || ac.Roles[0].Name != "reader" {
				t.Fatalf("app cred = %+v, want a secret and only the reader role", ac)
			}
			res := tokens.Create(ctx, cloudtest.Identity(t, env.Admin(t)), &tokens.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret})
			acTok, err := res.ExtractToken()
			if err != nil {
				t.Fatal(err)
			}
			acRoles, _ := res.ExtractRoles()
			if len(acRoles) != 1 || acRoles[0].Name != "reader" {
				t.Errorf("app cred token roles = %+v, want only reader", acRoles)
			}
			if err := applicationcredentials.Delete(ctx, uid, u.ID, ac.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if r := env.Do(t, "GET", "/identity/v3/auth/tokens", env.Token(t, "admin", cloudtest.AdminPassword, "admin"), nil, "X-Subject-Token", acTok.ID); r.Status != 404 {
				t.Errorf("token of a deleted app cred: status %d, want 404", r.Status)
			}

			// Deleting the project ends the user's access to it.
			if err := projects.Delete(ctx, id, p.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if r := env.Do(t, "GET", "/identity/v3/auth/catalog", tok, nil); r.Status != 401 {
				t.Errorf("token scoped to a deleted project: status %d, want 401", r.Status)
			}
		})
	}
}
