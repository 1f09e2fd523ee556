package cloud_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestCrossServiceIsolation: project B cannot use project A's network,
// port or volume for its own server, nor associate A's floating IP, attach
// to A's router or add rules to A's security group: each is answered as if
// the resource did not exist, and A's resources are unchanged.
func TestCrossServiceIsolation(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{})
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	a, b := newTenant(t, env, admin, "xa"), newTenant(t, env, admin, "xb")
	do := func(method, path, tok, body string) cloudtest.Response {
		var bb []byte
		if body != "" {
			bb = []byte(body)
		}
		return env.Do(t, method, path, tok, bb, "OpenStack-API-Version", "compute 2.79")
	}
	id := func(r cloudtest.Response, key string) string {
		t.Helper()
		if r.Status/100 != 2 {
			t.Fatalf("create %s: %d %s", key, r.Status, r.Body)
		}
		obj, _ := r.JSON(t)[key].(map[string]any)
		s, _ := obj["id"].(string)
		return s
	}
	do("POST", "/compute/v2.1/flavors", admin, `{"flavor": {"name": "x", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}}`)
	img := ""
	{
		r := env.Do(t, "POST", "/image/v2/images", admin, []byte(`{"name": "pub", "disk_format": "raw", "container_format": "bare", "visibility": "public"}`))
		img, _ = r.JSON(t)["id"].(string)
		env.Do(t, "PUT", "/image/v2/images/"+img+"/file", admin, []byte("bytes"), "Content-Type", "application/octet-stream")
	}
	var public string
	{
		r := do("GET", "/network/v2.0/networks?name=public", admin, "")
		nets, _ := r.JSON(t)["networks"].([]any)
		if len(nets) != 1 {
			t.Fatalf("public network: %s", r.Body)
		}
		public = nets[0].(map[string]any)["id"].(string)
	}
	// A's network, subnet, port, router, floating IP, security group, volume.
	net := id(do("POST", "/network/v2.0/networks", a.memberTok, `{"network": {"name": "a-net"}}`), "network")
	sub := id(do("POST", "/network/v2.0/subnets", a.memberTok, `{"subnet": {"network_id": "`+net+`", "cidr": "10.8.0.0/24", "ip_version": 4}}`), "subnet")
	port := id(do("POST", "/network/v2.0/ports", a.memberTok, `{"port": {"network_id": "`+net+`"}}`), "port")
	router := id(do("POST", "/network/v2.0/routers", a.memberTok, `{"router": {"name": "a-r", "external_gateway_info": {"network_id": "`+public+`"}}}`), "router")
	if r := do("PUT", "/network/v2.0/routers/"+router+"/add_router_interface", a.memberTok, `{"subnet_id": "`+sub+`"}`); r.Status != http.StatusOK {
		t.Fatalf("add interface: %d %s", r.Status, r.Body)
	}
	fip := id(do("POST", "/network/v2.0/floatingips", a.memberTok, `{"floatingip": {"floating_network_id": "`+public+`"}}`), "floatingip")
	sg := id(do("POST", "/network/v2.0/security-groups", a.memberTok, `{"security_group": {"name": "a-sg"}}`), "security_group")
	vol := id(do("POST", "/volume/v3/"+a.project+"/volumes", a.memberTok, `{"volume": {"size": 1}}`), "volume")

	// B's own network and port, to try A's things with.
	bnet := id(do("POST", "/network/v2.0/networks", b.memberTok, `{"network": {"name": "b-net"}}`), "network")
	id(do("POST", "/network/v2.0/subnets", b.memberTok, `{"subnet": {"network_id": "`+bnet+`", "cidr": "10.9.0.0/24", "ip_version": 4}}`), "subnet")
	bport := id(do("POST", "/network/v2.0/ports", b.memberTok, `{"port": {"network_id": "`+bnet+`"}}`), "port")
	bsrv := id(do("POST", "/compute/v2.1/servers", b.memberTok, `{"server": {"name": "b-vm", "imageRef": "`+img+`", "flavorRef": "1", "networks": "none"}}`), "server")
	// B's server must be ACTIVE, so that an attach is refused for the
	// volume's sake and not because the server is still spawning.
	for i := 0; i < 200; i++ {
		if r := do("GET", "/compute/v2.1/servers/"+bsrv, b.memberTok, ""); strings.Contains(string(r.Body), `"status":"ACTIVE"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, tc := range []struct {
		what, method, path, body string
		want                     int
	}{
		{"boot on A's network", "POST", "/compute/v2.1/servers", `{"server": {"name": "b", "imageRef": "` + img + `", "flavorRef": "1", "networks": [{"uuid": "` + net + `"}]}}`, 400},
		{"boot on A's port", "POST", "/compute/v2.1/servers", `{"server": {"name": "b", "imageRef": "` + img + `", "flavorRef": "1", "networks": [{"port": "` + port + `"}]}}`, 400},
		{"port on A's network", "POST", "/network/v2.0/ports", `{"port": {"network_id": "` + net + `"}}`, 404},
		{"show A's port", "GET", "/network/v2.0/ports/" + port, "", 404},
		{"associate A's floating IP", "PUT", "/network/v2.0/floatingips/" + fip, `{"floatingip": {"port_id": "` + bport + `"}}`, 404},
		{"add to A's router", "PUT", "/network/v2.0/routers/" + router + "/add_router_interface", `{"port_id": "` + bport + `"}`, 404},
		{"delete A's router", "DELETE", "/network/v2.0/routers/" + router, "", 404},
		{"rule in A's group", "POST", "/network/v2.0/security-group-rules", `{"security_group_rule": {"security_group_id": "` + sg + `", "direction": "ingress"}}`, 404},
		{"delete A's group", "DELETE", "/network/v2.0/security-groups/" + sg, "", 404},
		{"attach A's volume", "POST", "/compute/v2.1/servers/" + bsrv + "/os-volume_attachments", `{"volumeAttachment": {"volumeId": "` + vol + `"}}`, 404},
		{"show A's volume", "GET", "/volume/v3/" + b.project + "/volumes/" + vol, "", 404},
		{"delete A's volume", "DELETE", "/volume/v3/" + b.project + "/volumes/" + vol, "", 404},
	} {
		if r := do(tc.method, tc.path, b.memberTok, tc.body); r.Status != tc.want {
			t.Errorf("project B, %s: %s %s = %d %s, want %d", tc.what, tc.method, tc.path, r.Status, r.Body, tc.want)
		}
	}
	// A's things are as A left them.
	if r := do("GET", "/network/v2.0/floatingips/"+fip, a.memberTok, ""); !strings.Contains(string(r.Body), `"port_id":null`) {
		t.Errorf("A's floating IP after B's attempt: %s", r.Body)
	}
	if r := do("GET", "/volume/v3/"+a.project+"/volumes/"+vol, a.memberTok, ""); r.Status != http.StatusOK || strings.Contains(string(r.Body), bsrv) {
		t.Errorf("A's volume after B's attempt: %d %s", r.Status, r.Body)
	}
	if r := do("GET", "/network/v2.0/ports/"+port, a.memberTok, ""); !strings.Contains(string(r.Body), `"device_id":""`) {
		t.Errorf("A's port after B's attempt: %s", r.Body)
	}
	// A's reader cannot write in networking or block storage.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/network/v2.0/networks", `{"network": {"name": "r"}}`},
		{"DELETE", "/network/v2.0/ports/" + port, ""},
		{"POST", "/volume/v3/" + a.project + "/volumes", `{"volume": {"size": 1}}`},
		{"DELETE", "/volume/v3/" + a.project + "/volumes/" + vol, ""},
	} {
		if r := do(tc.method, tc.path, a.readerTok, tc.body); r.Status != http.StatusForbidden {
			t.Errorf("reader %s %s = %d %s, want 403", tc.method, tc.path, r.Status, r.Body)
		}
	}
}
