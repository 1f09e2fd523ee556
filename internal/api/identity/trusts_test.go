package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/trusts"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// trustCloud is a cloud with a project "shop" where alice (the trustor)
// has member and deployer, bob (the trustee) and eve have no role.
type trustCloud struct {
	env                 *cloudtest.Env
	admin               *gophercloud.ServiceClient
	shop                string
	alice, bob, eve     string // user ids
	member, deployer    string // role ids
	aliceTok, adminTok  string
	aliceID, bobID      *gophercloud.ServiceClient
	bobUnscoped, eveTok string
}

func newTrustCloud(t *testing.T, backend string) *trustCloud {
	t.Helper()
	env := cloudtest.NewOn(t, backend)
	ctx := context.Background()
	c := &trustCloud{env: env, admin: cloudtest.Identity(t, env.Admin(t))}
	p, err := projects.Create(ctx, c.admin, projects.CreateOpts{Name: "shop"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	c.shop = p.ID
	for _, u := range []struct {
		name string
		id   *string
	}{{"alice", &c.alice}, {"bob", &c.bob}, {"eve", &c.eve}} {
		created, err := users.Create(ctx, c.admin, users.CreateOpts{Name: u.name, Password: u.name + "-pw", DomainID: "default"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		*u.id = created.ID
	}
	c.member = findRole(t, c.admin, "member")
	dep, err := roles.Create(ctx, c.admin, roles.CreateOpts{Name: "deployer"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	c.deployer = dep.ID
	for _, r := range []string{c.member, c.deployer} {
		if err := roles.Assign(ctx, c.admin, r, roles.AssignOpts{UserID: c.alice, ProjectID: c.shop}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.aliceTok = env.Token(t, "alice", "alice-pw", "shop")
	c.adminTok = env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	c.bobUnscoped = env.Token(t, "bob", "bob-pw", "")
	c.eveTok = env.Token(t, "eve", "eve-pw", "")
	c.aliceID = cloudtest.Identity(t, env.Client(t, "alice", "alice-pw", "shop"))
	c.bobID = cloudtest.Identity(t, env.Client(t, "bob", "bob-pw", ""))
	return c
}

// trustToken gets a trust-scoped token for bob with his unscoped token,
// returning the response.
func (c *trustCloud) trustToken(t *testing.T, trustID string) cloudtest.Response {
	t.Helper()
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"OS-TRUST:trust":{"id":%q}}}}`, c.bobUnscoped, trustID)
	return c.env.Do(t, "POST", "/identity/v3/auth/tokens", "", []byte(body))
}

func (c *trustCloud) createTrust(t *testing.T, body string) map[string]any {
	t.Helper()
	r := c.env.Do(t, "POST", "/identity/v3/OS-TRUST/trusts", c.aliceTok, []byte(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("create trust: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["trust"].(map[string]any)
}

var microZ = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// TestTrustsGophercloud drives OS-TRUST with gophercloud's trusts and
// tokens packages, on every store backend.
func TestTrustsGophercloud(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			c := newTrustCloud(t, backend)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
			tr, err := trusts.Create(ctx, c.aliceID, trusts.CreateOpts{
				TrustorUserID: c.alice, TrusteeUserID: c.bob, ProjectID: c.shop, Impersonation: true,
				ExpiresAt: &exp, Roles: []trusts.Role{{Name: "member"}},
			}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			want := trusts.Trust{ID: tr.ID, Impersonation: true, TrusteeUserID: c.bob, TrustorUserID: c.alice, ProjectID: c.shop,
				Roles: []trusts.Role{{ID: c.member, Name: "member"}}, ExpiresAt: exp}
			if diff := cmp.Diff(want, *tr); diff != "" {
				t.Errorf("created trust (-want +got):\n%s", diff)
			}

			// The trustee sees it; a stranger may not (but learns of a
			// missing trust with 404 first, as Keystone answers).
			got, err := trusts.Get(ctx, c.bobID, tr.ID).Extract()
			if err != nil || got.ID != tr.ID || len(got.Roles) != 1 {
				t.Fatalf("trustee's get: %+v, %v", got, err)
			}
			eve := cloudtest.Identity(t, c.env.Client(t, "eve", "eve-pw", ""))
			if _, err := trusts.Get(ctx, eve, tr.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
				t.Errorf("stranger's get: %v, want 403", err)
			}
			if _, err := trusts.Get(ctx, eve, "0123456789abcdef").Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("get of a missing trust: %v, want 404", err)
			}
			// An admin reads any trust (the reference cloud's policy).
			if got, err := trusts.Get(ctx, c.admin, tr.ID).Extract(); err != nil || got.ID != tr.ID {
				t.Errorf("admin's get: %+v, %v", got, err)
			}

			// Lists: by trustor, by trustee, and all for an admin.
			for _, l := range []struct {
				sc   *gophercloud.ServiceClient
				opts trusts.ListOpts
			}{{c.aliceID, trusts.ListOpts{TrustorUserID: c.alice}}, {c.bobID, trusts.ListOpts{TrusteeUserID: c.bob}}, {c.admin, trusts.ListOpts{}}} {
				pages, err := trusts.List(l.sc, l.opts).AllPages(ctx)
				if err != nil {
					t.Fatalf("list %+v: %v", l.opts, err)
				}
				ts, _ := trusts.ExtractTrusts(pages)
				if len(ts) != 1 || ts[0].ID != tr.ID || ts[0].Roles != nil {
					t.Errorf("list %+v = %+v, want the one trust, without roles", l.opts, ts)
				}
			}
			if _, err := trusts.List(eve, trusts.ListOpts{TrustorUserID: c.alice}).AllPages(ctx); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
				t.Errorf("stranger lists alice's trusts: %v, want 403", err)
			}
			if _, err := trusts.List(c.aliceID, trusts.ListOpts{}).AllPages(ctx); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
				t.Errorf("non-admin lists every trust: %v, want 403", err)
			}

			// The delegated roles, and only them.
			pages, err := trusts.ListRoles(c.bobID, tr.ID).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rs, _ := trusts.ExtractRoles(pages)
			if diff := cmp.Diff([]trusts.Role{{ID: c.member, Name: "member"}}, rs); diff != "" {
				t.Errorf("trust roles (-want +got):\n%s", diff)
			}
			if r, err := trusts.GetRole(ctx, c.bobID, tr.ID, c.member).Extract(); err != nil || r.Name != "member" {
				t.Errorf("get delegated role: %+v, %v", r, err)
			}
			if err := trusts.CheckRole(ctx, c.bobID, tr.ID, c.member).ExtractErr(); err != nil {
				t.Errorf("HEAD delegated role: %v", err)
			}
			if _, err := trusts.GetRole(ctx, c.bobID, tr.ID, c.deployer).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("get role not delegated: %v, want 404", err)
			}
			if err := trusts.CheckRole(ctx, c.bobID, tr.ID, c.deployer).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("HEAD role not delegated: %v, want 404", err)
			}

			// Bob gets a trust-scoped token: alice (impersonated) on shop
			// with member and what it implies, not deployer.
			res := tokens.Create(ctx, cloudtest.Identity(t, c.env.Admin(t)), &tokens.AuthOptions{UserID: c.bob, Password: "bob-pw", Scope: tokens.Scope{TrustID: tr.ID}})
			tok, err := res.ExtractToken()
			if err != nil {
				t.Fatal(err)
			}
			trust, _ := res.ExtractTrust()
			user, _ := res.ExtractUser()
			proj, _ := res.ExtractProject()
			troles, _ := res.ExtractRoles()
			var names []string
			for _, r := range troles {
				names = append(names, r.Name)
			}
			sort.Strings(names)
			if trust == nil || trust.ID != tr.ID || trust.TrustorUserID.ID != c.alice || trust.TrusteeUserID.ID != c.bob || !trust.Impersonation {
				t.Errorf("token's OS-TRUST:trust = %+v", trust)
			}
			if user.ID != c.alice || proj.ID != c.shop || !slices.Equal(names, []string{"member", "reader"}) {
				t.Errorf("token user %s project %s roles %v; want alice on shop with member, reader", user.Name, proj.Name, names)
			}
			if !tok.ExpiresAt.Equal(exp) {
				t.Errorf("token expires %v, want the trust's %v", tok.ExpiresAt, exp)
			}
			// The token works on the other APIs as alice on shop.
			if r := c.env.Do(t, "GET", "/compute/v2.1/servers", tok.ID, nil); r.Status != http.StatusOK {
				t.Errorf("trust token on Nova: %d %s", r.Status, r.Body)
			}

			// The trustee cannot delete the trust; the trustor can, and
			// its tokens stop working at once.
			if err := trusts.Delete(ctx, c.bobID, tr.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
				t.Errorf("trustee deletes: %v, want 403", err)
			}
			if err := trusts.Delete(ctx, c.aliceID, tr.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if _, err := trusts.Get(ctx, c.aliceID, tr.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("get after delete: %v, want 404", err)
			}
			if r := c.env.Do(t, "GET", "/compute/v2.1/servers", tok.ID, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("token of a deleted trust on Nova: %d, want 401", r.Status)
			}
		})
	}
}

// TestTrustWireFormat checks the JSON Keystone clients read: every field
// of a trust, roles_links, list items without roles, the token's
// OS-TRUST:trust block.
func TestTrustWireFormat(t *testing.T) {
	c := newTrustCloud(t, "sqlite")
	tr := c.createTrust(t, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q,
		"impersonation": false, "roles": [{"id": %q}], "expires_at": "2031-02-03T04:05:06Z", "remaining_uses": 3, "note": "nightly"}}`,
		c.alice, c.bob, c.shop, c.member))
	id := tr["id"].(string)
	base := c.env.URL + "/identity/v3"
	for name, doc := range map[string]map[string]any{
		"create": tr,
		"show":   c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts/"+id, c.aliceTok, nil).JSON(t)["trust"].(map[string]any),
	} {
		role := doc["roles"].([]any)[0].(map[string]any)
		if role["id"] != c.member || role["name"] != "member" || role["links"].(map[string]any)["self"] != base+"/roles/"+c.member {
			t.Errorf("%s: role %v", name, role)
		}
		delete(doc, "roles")
		want := map[string]any{
			"id": id, "trustor_user_id": c.alice, "trustee_user_id": c.bob, "project_id": c.shop,
			"impersonation": false, "expires_at": "2031-02-03T04:05:06.000000Z", "remaining_uses": float64(3),
			"deleted_at": nil, "redelegated_trust_id": nil, "redelegation_count": float64(0), "note": "nightly",
			"links":       map[string]any{"self": base + "/OS-TRUST/trusts/" + id},
			"roles_links": map[string]any{"self": base + "/OS-TRUST/trusts/" + id + "/roles", "previous": nil, "next": nil},
		}
		if diff := cmp.Diff(want, doc); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	list := c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts?trustor_user_id="+c.alice, c.aliceTok, nil).JSON(t)
	item := list["trusts"].([]any)[0].(map[string]any)
	if _, ok := item["roles"]; ok {
		t.Errorf("list item has roles: %v", item)
	}
	if _, ok := item["roles_links"]; ok {
		t.Errorf("list item has roles_links: %v", item)
	}
	if list["links"].(map[string]any)["self"] != base+"/OS-TRUST/trusts?trustor_user_id="+c.alice {
		t.Errorf("list links: %v", list["links"])
	}
	// With a trailing slash too, as Keystone (and Tempest's client).
	if r := c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts/?trustor_user_id="+c.alice, c.aliceTok, nil); r.Status != http.StatusOK || len(r.JSON(t)["trusts"].([]any)) != 1 {
		t.Errorf("list with a trailing slash: %d %s", r.Status, r.Body)
	}
	roles := c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts/"+id+"/roles", c.aliceTok, nil).JSON(t)
	if diff := cmp.Diff(map[string]any{"self": base + "/OS-TRUST/trusts/" + id + "/roles", "previous": nil, "next": nil}, roles["links"]); diff != "" {
		t.Errorf("roles links (-want +got):\n%s", diff)
	}

	r := c.trustToken(t, id)
	if r.Status != http.StatusCreated {
		t.Fatalf("trust token: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["token"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"id": id, "impersonation": false,
		"trustor_user": map[string]any{"id": c.alice}, "trustee_user": map[string]any{"id": c.bob}}, tok["OS-TRUST:trust"]); diff != "" {
		t.Errorf("OS-TRUST:trust (-want +got):\n%s", diff)
	}
	if tok["user"].(map[string]any)["id"] != c.bob {
		t.Errorf("token user %v, want bob (no impersonation)", tok["user"])
	}
	for _, absent := range []string{"is_domain", "is_admin_project"} {
		if _, ok := tok[absent]; ok {
			t.Errorf("trust-scoped token has %s, which Keystone leaves out", absent)
		}
	}
	if !microZ.MatchString(tok["expires_at"].(string)) {
		t.Errorf("expires_at %v", tok["expires_at"])
	}
	// One use gone.
	show := c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts/"+id, c.aliceTok, nil).JSON(t)["trust"].(map[string]any)
	if show["remaining_uses"] != float64(2) {
		t.Errorf("remaining_uses after a token: %v, want 2", show["remaining_uses"])
	}
}

// TestTrustErrors: Keystone's statuses for what a client can get wrong,
// each with Keystone's error body and a message saying what to change.
func TestTrustErrors(t *testing.T) {
	c := newTrustCloud(t, "sqlite")
	tr := c.createTrust(t, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true, "roles": [{"name": "member"}]}}`,
		c.alice, c.bob, c.shop))
	id := tr["id"].(string)
	trustTok := c.trustToken(t, id).Header.Get("X-Subject-Token")
	if trustTok == "" {
		t.Fatal("no trust token")
	}
	body := func(extra string) string {
		return fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true%s}}`, c.alice, c.bob, c.shop, extra)
	}
	const path = "/identity/v3/OS-TRUST/trusts"
	for _, tc := range []struct {
		name, method, path, token, body string
		want                            int
		wantMsg                         string
	}{
		{"no token", "GET", path + "/" + id, "", "", 401, "X-Auth-Token"},
		{"not json", "POST", path, c.aliceTok, "{", 400, "JSON"},
		{"no trust object", "POST", path, c.aliceTok, `{"trustor_user_id": "x"}`, 400, `"trust"`},
		{"missing impersonation", "POST", path, c.aliceTok, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q}}`, c.alice, c.bob), 400, "'impersonation' is a required property"},
		{"impersonation not boolean", "POST", path, c.aliceTok, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "impersonation": "yes"}}`, c.alice, c.bob), 400, "'impersonation'"},
		{"bad expires_at", "POST", path, c.aliceTok, body(`, "roles": [{"name": "member"}], "expires_at": "bad.123Z"`), 400, "expires_at"},
		{"past expires_at", "POST", path, c.aliceTok, body(`, "roles": [{"name": "member"}], "expires_at": "2001-01-01T00:00:00Z"`), 400, "must not be before now"},
		{"zero uses", "POST", path, c.aliceTok, body(`, "roles": [{"name": "member"}], "remaining_uses": 0`), 400, "minimum of 1"},
		{"fractional uses", "POST", path, c.aliceTok, body(`, "roles": [{"name": "member"}], "remaining_uses": 1.5`), 400, "integer"},
		{"role with id and name", "POST", path, c.aliceTok, body(`, "roles": [{"id": "x", "name": "member"}]`), 400, "exactly one"},
		{"role not an object", "POST", path, c.aliceTok, body(`, "roles": ["member"]`), 400, "roles/0"},
		{"no roles on a project", "POST", path, c.aliceTok, body(``), 403, "At least one role"},
		{"someone else's trust", "POST", path, c.eveTok, body(`, "roles": [{"name": "member"}]`), 403, "identity:create_trust"},
		{"unknown trustee", "POST", path, c.aliceTok, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": "ghost", "project_id": %q, "impersonation": true, "roles": [{"name": "member"}]}}`, c.alice, c.shop), 404, "Could not find user: ghost"},
		{"role not held", "POST", path, c.aliceTok, body(`, "roles": [{"name": "admin"}]`), 404, "Could not find role"},
		{"unknown role", "POST", path, c.aliceTok, body(`, "roles": [{"name": "wizard"}]`), 404, "Could not find role: wizard"},
		{"redelegation with uses", "POST", path, c.aliceTok, body(`, "roles": [{"name": "member"}], "allow_redelegation": true, "remaining_uses": 2`), 400, "remaining_uses"},
		{"trust token, no redelegation", "POST", path, trustTok, body(`, "roles": [{"name": "member"}]`), 403, "cannot be redelegated"},
		{"missing trust", "GET", path + "/0000", c.eveTok, "", 404, "Could not find trust: 0000"},
		{"stranger gets", "GET", path + "/" + id, c.eveTok, "", 403, "identity:get_trust"},
		{"stranger's roles", "GET", path + "/" + id + "/roles", c.eveTok, "", 403, "identity:list_roles_for_trust"},
		{"stranger's role", "GET", path + "/" + id + "/roles/" + c.member, c.eveTok, "", 403, "identity:get_role_for_trust"},
		{"role not delegated", "GET", path + "/" + id + "/roles/" + c.deployer, c.bobUnscoped, "", 404, "Could not find role"},
		{"trustee deletes", "DELETE", path + "/" + id, c.bobUnscoped, "", 403, "identity:delete_trust"},
		{"delete missing", "DELETE", path + "/0000", c.aliceTok, "", 404, "Could not find trust: 0000"},
		{"list all, not admin", "GET", path, c.aliceTok, "", 403, "identity:list_trusts"},
		{"list another's", "GET", path + "?trustee_user_id=" + c.bob, c.eveTok, "", 403, "identity:list_trusts_for_trustee"},
		{"trust token rescoped", "POST", "/identity/v3/auth/tokens", "", fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"project":{"id":%q}}}}`, trustTok, c.shop), 403, "trust-scoped token"},
		{"trust token makes an app cred", "POST", "/identity/v3/users/" + c.alice + "/application_credentials", trustTok, `{"application_credential": {"name": "x"}}`, 403, "delegation"},
		{"trust scope by a stranger", "POST", "/identity/v3/auth/tokens", "", fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"OS-TRUST:trust":{"id":%q}}}}`, c.eveTok, id), 403, "not a trustee"},
		{"trust scope without id", "POST", "/identity/v3/auth/tokens", "", fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"OS-TRUST:trust":{}}}}`, c.bobUnscoped), 400, "trust_id"},
		{"trust scope not an object", "POST", "/identity/v3/auth/tokens", "", fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"OS-TRUST:trust":""}}}`, c.bobUnscoped), 400, "auth.scope"},
		{"unknown trust scope", "POST", "/identity/v3/auth/tokens", "", fmt.Sprintf(`{"auth":{"identity":{"methods":["token"],"token":{"id":%q}},"scope":{"OS-TRUST:trust":{"id":"0000"}}}}`, c.bobUnscoped), 401, "Could not find trust: 0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			if tc.body != "" {
				b = []byte(tc.body)
			}
			r := c.env.Do(t, tc.method, tc.path, tc.token, b)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			e, ok := r.JSON(t)["error"].(map[string]any)
			if !ok || e["code"] != float64(tc.want) || e["title"] != http.StatusText(tc.want) {
				t.Fatalf("not Keystone's error body: %s", r.Body)
			}
			if msg, _ := e["message"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tc.wantMsg)
			}
		})
	}
	// Nothing refused left a trust behind.
	list := c.env.Do(t, "GET", path, c.adminTok, nil).JSON(t)["trusts"].([]any)
	if len(list) != 1 {
		t.Errorf("%d trusts after the refused requests, want 1", len(list))
	}
}

// TestTrustRevokedWithRole: the trustor losing the delegated role on the
// project ends the trust's tokens; getting it back restores them.
func TestTrustRevokedWithRole(t *testing.T) {
	c := newTrustCloud(t, "sqlite")
	ctx := context.Background()
	tr := c.createTrust(t, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true, "roles": [{"name": "member"}]}}`,
		c.alice, c.bob, c.shop))
	tok := c.trustToken(t, tr["id"].(string)).Header.Get("X-Subject-Token")
	check := func(want int) {
		t.Helper()
		if r := c.env.Do(t, "GET", "/identity/v3/auth/tokens", c.adminTok, nil, "X-Subject-Token", tok); r.Status != want {
			t.Fatalf("validate trust token: %d, want %d: %s", r.Status, want, r.Body)
		}
	}
	check(http.StatusOK)
	if err := roles.Unassign(ctx, c.admin, c.member, roles.UnassignOpts{UserID: c.alice, ProjectID: c.shop}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	check(http.StatusNotFound)
	if r := c.trustToken(t, tr["id"].(string)); r.Status != http.StatusUnauthorized {
		t.Errorf("new trust token without the role: %d, want 401", r.Status)
	}
	if err := roles.Assign(ctx, c.admin, c.member, roles.AssignOpts{UserID: c.alice, ProjectID: c.shop}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	check(http.StatusOK)
	// An admin may delete any trust, which ends its tokens.
	if err := trusts.Delete(ctx, c.admin, tr["id"].(string)).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	check(http.StatusNotFound)
}

// TestTrustRemainingUsesConcurrent races token requests over HTTP for a
// trust of few uses: exactly that many succeed.
func TestTrustRemainingUsesConcurrent(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			c := newTrustCloud(t, backend)
			const uses, callers = 5, 30
			tr := c.createTrust(t, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true, "roles": [{"name": "member"}], "remaining_uses": %d}}`,
				c.alice, c.bob, c.shop, uses))
			id := tr["id"].(string)
			statuses := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := c.trustToken(t, id)
					mu.Lock()
					statuses[r.Status]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			if diff := cmp.Diff(map[int]int{201: uses, 401: callers - uses}, statuses); diff != "" {
				t.Errorf("statuses of %d racing token requests for a trust of %d uses (-want +got):\n%s", callers, uses, diff)
			}
			if r := c.env.Do(t, "GET", "/identity/v3/OS-TRUST/trusts/"+id, c.aliceTok, nil); r.Status != http.StatusNotFound {
				t.Errorf("used-up trust: %d, want 404", r.Status)
			}
			// Its trustor can still delete it.
			if r := c.env.Do(t, "DELETE", "/identity/v3/OS-TRUST/trusts/"+id, c.aliceTok, nil); r.Status != http.StatusNoContent {
				t.Errorf("delete used-up trust: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestTrustRedelegationAPI: a trust allowing redelegation, redelegated by
// its trustee with a token scoped to it.
func TestTrustRedelegationAPI(t *testing.T) {
	c := newTrustCloud(t, "sqlite")
	ctx := context.Background()
	carol, err := users.Create(ctx, c.admin, users.CreateOpts{Name: "carol", Password: "carol-pw", DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	root := c.createTrust(t, fmt.Sprintf(`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true, "roles": [{"name": "member"}], "allow_redelegation": true, "redelegation_count": 2}}`,
		c.alice, c.bob, c.shop))
	if root["redelegation_count"] != float64(2) {
		t.Fatalf("redelegation_count %v", root["redelegation_count"])
	}
	if _, ok := root["allow_redelegation"]; ok {
		t.Errorf("allow_redelegation echoed; Keystone drops it")
	}
	bobTok := c.trustToken(t, root["id"].(string)).Header.Get("X-Subject-Token")
	r := c.env.Do(t, "POST", "/identity/v3/OS-TRUST/trusts", bobTok, []byte(fmt.Sprintf(
		`{"trust": {"trustor_user_id": %q, "trustee_user_id": %q, "project_id": %q, "impersonation": true, "roles": [{"name": "member"}], "allow_redelegation": true}}`,
		c.alice, carol.ID, c.shop)))
	if r.Status != http.StatusCreated {
		t.Fatalf("redelegate: %d %s", r.Status, r.Body)
	}
	child := r.JSON(t)["trust"].(map[string]any)
	if child["redelegated_trust_id"] != root["id"] || child["redelegation_count"] != float64(1) {
		t.Errorf("redelegated trust: %v", child)
	}
	var doc struct {
		Token struct {
			User struct{ ID string } `json:"user"`
		} `json:"token"`
	}
	b := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":%q,"password":"carol-pw"}}},"scope":{"OS-TRUST:trust":{"id":%q}}}}`, carol.ID, child["id"])
	tr := c.env.Do(t, "POST", "/identity/v3/auth/tokens", "", []byte(b))
	if err := json.Unmarshal(tr.Body, &doc); err != nil || tr.Status != http.StatusCreated || doc.Token.User.ID != c.alice {
		t.Fatalf("carol's token of the redelegated trust: %d %s", tr.Status, tr.Body)
	}
	// Deleting the first trust deletes the redelegated one.
	if r := c.env.Do(t, "DELETE", "/identity/v3/OS-TRUST/trusts/"+root["id"].(string), c.aliceTok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := c.env.Do(t, "GET", "/identity/v3/auth/catalog", tr.Header.Get("X-Subject-Token"), nil); r.Status != http.StatusUnauthorized {
		t.Errorf("token of a trust redelegated from a deleted one: %d, want 401", r.Status)
	}
}

// TestJSONHomeAdvertisesTrusts: OS-TRUST is advertised where Keystone
// advertises it, the JSON-home document of /v3 and of the root.
func TestJSONHomeAdvertisesTrusts(t *testing.T) {
	env := cloudtest.New(t)
	const rel = "https://docs.openstack.org/api/openstack-identity/3/ext/OS-TRUST/1.0/rel/trust"
	for path, prefix := range map[string]string{"/identity/v3": "", "/identity": "/v3"} {
		r := env.Do(t, "GET", path, "", nil, "Accept", "application/json-home")
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json-home" {
			t.Fatalf("GET %s as JSON-home: %d %s", path, r.Status, r.Header.Get("Content-Type"))
		}
		res := r.JSON(t)["resources"].(map[string]any)
		want := map[string]any{"href-template": prefix + "/OS-TRUST/trusts/{trust_id}",
			"href-vars": map[string]any{"trust_id": "https://docs.openstack.org/api/openstack-identity/3/ext/OS-TRUST/1.0/param/trust_id"}}
		if diff := cmp.Diff(want, res[rel]); diff != "" {
			t.Errorf("GET %s: %s (-want +got):\n%s", path, rel, diff)
		}
	}
	// Without asking for JSON-home: the version documents, as before.
	if r := env.Do(t, "GET", "/identity/v3", "", nil, "Accept", "application/json"); r.JSON(t)["version"] == nil {
		t.Errorf("GET /identity/v3 as JSON: %s", r.Body)
	}
	if r := env.Do(t, "GET", "/identity", "", nil); r.Status != http.StatusMultipleChoices {
		t.Errorf("GET /identity: %d, want 300", r.Status)
	}
}
