package cloud_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// tenant is a project with a member user and a reader user.
type tenant struct {
	project, member, reader string // ids
	memberTok, readerTok    string
}

// newTenant creates a project, a member and a reader through Keystone.
func newTenant(t *testing.T, env *cloudtest.Env, admin, name string) tenant {
	t.Helper()
	id := func(r cloudtest.Response, key string) string {
		if r.Status/100 != 2 {
			t.Fatalf("%s: %d %s", key, r.Status, r.Body)
		}
		obj, _ := r.JSON(t)[key].(map[string]any)
		s, _ := obj["id"].(string)
		return s
	}
	roleID := func(role string) string {
		r := env.Do(t, "GET", "/identity/v3/roles?name="+role, admin, nil)
		roles, _ := r.JSON(t)["roles"].([]any)
		if len(roles) != 1 {
			t.Fatalf("role %s: %s", role, r.Body)
		}
		return roles[0].(map[string]any)["id"].(string)
	}
	tn := tenant{project: id(env.Do(t, "POST", "/identity/v3/projects", admin, []byte(`{"project": {"name": "`+name+`", "domain_id": "default"}}`)), "project")}
	user := func(suffix, role string) string {
		u := id(env.Do(t, "POST", "/identity/v3/users", admin, []byte(`{"user": {"name": "`+name+suffix+`", "password": "pw-`+name+`", "domain_id": "default"}}`)), "user")
		if r := env.Do(t, "PUT", "/identity/v3/projects/"+tn.project+"/users/"+u+"/roles/"+roleID(role), admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("grant %s: %d %s", role, r.Status, r.Body)
		}
		return u
	}
	tn.member, tn.reader = user("-member", "member"), user("-reader", "reader")
	tn.memberTok = env.Token(t, name+"-member", "pw-"+name, name)
	tn.readerTok = env.Token(t, name+"-reader", "pw-"+name, name)
	return tn
}

// TestTenantIsolation: project B cannot see or touch project A's servers,
// private images, keypairs or server groups (404, as if they did not
// exist; lists leave them out), a reader cannot write, and tokens cannot
// be forged or used after revocation or after the user is disabled.
func TestTenantIsolation(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{})
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	a, b := newTenant(t, env, admin, "proj-a"), newTenant(t, env, admin, "proj-b")
	nova := func(method, path, tok, body string) cloudtest.Response {
		var bb []byte
		if body != "" {
			bb = []byte(body)
		}
		return env.Do(t, method, path, tok, bb, "OpenStack-API-Version", "compute 2.79")
	}
	mustID := func(r cloudtest.Response, key string) string {
		if r.Status/100 != 2 {
			t.Fatalf("create %s: %d %s", key, r.Status, r.Body)
		}
		var doc map[string]map[string]any
		_ = json.Unmarshal(r.Body, &doc)
		if key == "" {
			var flat map[string]any
			_ = json.Unmarshal(r.Body, &flat)
			return flat["id"].(string)
		}
		s, _ := doc[key]["id"].(string)
		if s == "" {
			s, _ = doc[key]["name"].(string)
		}
		return s
	}

	mustID(nova("POST", "/compute/v2.1/flavors", admin, `{"flavor": {"name": "iso", "id": "1", "vcpus": 1, "ram": 128, "disk": 1}}`), "flavor")
	// Project A's resources.
	img := mustID(env.Do(t, "POST", "/image/v2/images", a.memberTok, []byte(`{"name": "a-private", "disk_format": "raw", "container_format": "bare"}`)), "")
	if r := env.Do(t, "PUT", "/image/v2/images/"+img+"/file", a.memberTok, []byte("private bytes"), "Content-Type", "application/octet-stream"); r.Status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	pub := mustID(env.Do(t, "POST", "/image/v2/images", admin, []byte(`{"name": "public", "disk_format": "raw", "container_format": "bare", "visibility": "public"}`)), "")
	env.Do(t, "PUT", "/image/v2/images/"+pub+"/file", admin, []byte("public bytes"), "Content-Type", "application/octet-stream")
	srv := mustID(nova("POST", "/compute/v2.1/servers", a.memberTok, `{"server": {"name": "a-vm", "imageRef": "`+img+`", "flavorRef": "1", "networks": "none"}}`), "server")
	grp := mustID(nova("POST", "/compute/v2.1/os-server-groups", a.memberTok, `{"server_group": {"name": "a-group", "policy": "anti-affinity"}}`), "server_group")
	key := mustID(nova("POST", "/compute/v2.1/os-keypairs", a.memberTok, `{"keypair": {"name": "a-key"}}`), "keypair")

	// B sees none of it and can change none of it.
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/compute/v2.1/servers/" + srv, ""},
		{"PUT", "/compute/v2.1/servers/" + srv, `{"server": {"name": "stolen"}}`},
		{"DELETE", "/compute/v2.1/servers/" + srv, ""},
		{"POST", "/compute/v2.1/servers/" + srv + "/action", `{"os-stop": null}`},
		{"POST", "/compute/v2.1/servers/" + srv + "/action", `{"createImage": {"name": "copy"}}`},
		{"POST", "/compute/v2.1/servers/" + srv + "/action", `{"os-getConsoleOutput": {}}`},
		{"POST", "/compute/v2.1/servers/" + srv + "/remote-consoles", `{"remote_console": {"protocol": "serial", "type": "serial"}}`},
		{"GET", "/compute/v2.1/servers/" + srv + "/metadata", ""},
		{"GET", "/compute/v2.1/servers/" + srv + "/os-instance-actions", ""},
		{"GET", "/compute/v2.1/os-server-groups/" + grp, ""},
		{"DELETE", "/compute/v2.1/os-server-groups/" + grp, ""},
		{"GET", "/compute/v2.1/os-keypairs/" + key, ""},
		{"DELETE", "/compute/v2.1/os-keypairs/" + key, ""},
		{"GET", "/image/v2/images/" + img, ""},
		{"GET", "/image/v2/images/" + img + "/file", ""},
		{"DELETE", "/image/v2/images/" + img, ""},
	} {
		var r cloudtest.Response
		if strings.HasPrefix(tc.path, "/image/") {
			r = env.Do(t, tc.method, tc.path, b.memberTok, []byte(tc.body))
		} else {
			r = nova(tc.method, tc.path, b.memberTok, tc.body)
		}
		if r.Status != http.StatusNotFound {
			t.Errorf("project B: %s %s = %d %s, want 404", tc.method, tc.path, r.Status, r.Body)
		}
	}
	for _, tc := range []struct{ path, leak string }{
		{"/compute/v2.1/servers/detail", srv},
		{"/compute/v2.1/servers/detail?all_tenants=1", srv},
		{"/compute/v2.1/os-server-groups", grp},
		{"/compute/v2.1/os-keypairs", key},
		{"/image/v2/images", img},
	} {
		if r := nova("GET", tc.path, b.memberTok, ""); strings.Contains(string(r.Body), tc.leak) {
			t.Errorf("project B's GET %s shows project A's %s", tc.path, tc.leak)
		}
	}
	if r := env.Do(t, "GET", "/image/v2/images/"+pub, b.memberTok, nil); r.Status != http.StatusOK {
		t.Errorf("project B cannot see the public image: %d", r.Status)
	}

	// A's reader reads but cannot write.
	if r := nova("GET", "/compute/v2.1/servers/"+srv, a.readerTok, ""); r.Status != http.StatusOK {
		t.Errorf("reader show: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/compute/v2.1/servers", `{"server": {"name": "r", "imageRef": "` + img + `", "flavorRef": "1", "networks": "none"}}`},
		{"DELETE", "/compute/v2.1/servers/" + srv, ""},
		{"POST", "/compute/v2.1/servers/" + srv + "/action", `{"os-stop": null}`},
	} {
		if r := nova(tc.method, tc.path, a.readerTok, tc.body); r.Status != http.StatusForbidden {
			t.Errorf("reader %s %s = %d, want 403", tc.method, tc.path, r.Status)
		}
	}

	// Tokens: forged, revoked, or of a disabled user are refused.
	forged := a.memberTok[:len(a.memberTok)-4] + "AAAA"
	if r := nova("GET", "/compute/v2.1/servers", forged, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("forged token: %d, want 401", r.Status)
	}
	revoked := env.Token(t, "proj-a-member", "pw-proj-a", "proj-a")
	if r := env.Do(t, "DELETE", "/identity/v3/auth/tokens", admin, nil, "X-Subject-Token", revoked); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := nova("GET", "/compute/v2.1/servers", revoked, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.Status)
	}
	if r := env.Do(t, "PATCH", "/identity/v3/users/"+a.member, admin, []byte(`{"user": {"enabled": false}}`)); r.Status != http.StatusOK {
		t.Fatalf("disable user: %d %s", r.Status, r.Body)
	}
	if r := nova("GET", "/compute/v2.1/servers", a.memberTok, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("token of a disabled user: %d, want 401", r.Status)
	}
}
