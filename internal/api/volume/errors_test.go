package volume_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// tenant is a project with a member and a reader, and their tokens.
type tenant struct {
	project              string
	memberTok, readerTok string
}

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
	for _, u := range []struct{ suffix, role string }{{"-member", "member"}, {"-reader", "reader"}} {
		uid := id(env.Do(t, "POST", "/identity/v3/users", admin, []byte(`{"user": {"name": "`+name+u.suffix+`", "password": "pw-`+name+`", "domain_id": "default"}}`)), "user")
		if r := env.Do(t, "PUT", "/identity/v3/projects/"+tn.project+"/users/"+uid+"/roles/"+roleID(u.role), admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("grant %s: %d %s", u.role, r.Status, r.Body)
		}
	}
	tn.memberTok = env.Token(t, name+"-member", "pw-"+name, name)
	tn.readerTok = env.Token(t, name+"-reader", "pw-"+name, name)
	return tn
}

// call is a raw Cinder request under the caller's project.
func call(t *testing.T, env *cloudtest.Env, tok, project, method, path, body string, headers ...string) cloudtest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return env.Do(t, method, "/volume/v3/"+project+path, tok, b, headers...)
}

func created(t *testing.T, r cloudtest.Response, key string) string {
	t.Helper()
	if r.Status/100 != 2 {
		t.Fatalf("create %s: %d %s", key, r.Status, r.Body)
	}
	obj, _ := r.JSON(t)[key].(map[string]any)
	return obj["id"].(string)
}

func waitStatus(t *testing.T, env *cloudtest.Env, tok, project, kind, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	key := strings.TrimSuffix(kind, "s")
	for time.Now().Before(deadline) {
		r := call(t, env, tok, project, "GET", "/"+kind+"/"+id, "")
		if r.Status == 200 {
			obj, _ := r.JSON(t)[key].(map[string]any)
			if obj["status"] == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s %s never became %s", key, id, want)
}

// TestErrorBodies: each refusal has Cinder's body ({"badRequest":
// {"code", "message"}} and its siblings) and a message that says what to change.
func TestErrorBodies(t *testing.T) {
	env := cloudtest.New(t)
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	a := newTenant(t, env, admin, "proj-a")
	vol := created(t, call(t, env, a.memberTok, a.project, "POST", "/volumes", `{"volume": {"size": 1}}`), "volume")
	waitStatus(t, env, a.memberTok, a.project, "volumes", vol, "available")
	inUse := created(t, call(t, env, a.memberTok, a.project, "POST", "/volumes", `{"volume": {"size": 1}}`), "volume")
	waitStatus(t, env, a.memberTok, a.project, "volumes", inUse, "available")
	if r := call(t, env, a.memberTok, a.project, "POST", "/volumes/"+inUse+"/action", `{"os-attach": {"instance_uuid": "3f0c5f0e-0000-4000-8000-000000000001", "mountpoint": "/dev/vdb"}}`); r.Status != 202 {
		t.Fatalf("os-attach: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		name, tok, method, path, body string
		status                        int
		key, msg                      string
		headers                       []string
	}{
		{"no token", "", "GET", "/volumes", "", 401, "unauthorized", "X-Auth-Token", nil},
		{"unknown volume", a.memberTok, "GET", "/volumes/00000000-0000-0000-0000-000000000000", "", 404, "itemNotFound", "Volume 00000000-0000-0000-0000-000000000000 could not be found.", nil},
		{"unknown snapshot", a.memberTok, "GET", "/snapshots/nope", "", 404, "itemNotFound", "Snapshot nope could not be found.", nil},
		{"unknown type", a.memberTok, "POST", "/volumes", `{"volume": {"size": 1, "volume_type": "gold"}}`, 404, "itemNotFound", "Volume type gold could not be found.", nil},
		{"unknown path", a.memberTok, "GET", "/frobs", "", 404, "itemNotFound", "could not be found", nil},
		{"bad method", a.memberTok, "PATCH", "/volumes/" + vol, "{}", 405, "HTTPMethodNotAllowed", "not allowed", nil},
		{"not JSON", a.memberTok, "POST", "/volumes", `{"volume": `, 400, "badRequest", "not valid JSON", nil},
		{"no volume key", a.memberTok, "POST", "/volumes", `{"size": 1}`, 400, "badRequest", "Missing required element 'volume'", nil},
		{"size not a number", a.memberTok, "POST", "/volumes", `{"volume": {"size": "big"}}`, 400, "badRequest", "is not of type 'integer'", nil},
		{"size zero", a.memberTok, "POST", "/volumes", `{"volume": {"size": 0}}`, 400, "badRequest", "must be an integer and greater than 0", nil},
		{"no size", a.memberTok, "POST", "/volumes", `{"volume": {"name": "x"}}`, 400, "badRequest", "size is required", nil},
		{"bad zone", a.memberTok, "POST", "/volumes", `{"volume": {"size": 1, "availability_zone": "mars"}}`, 400, "badRequest", "Availability zone 'mars' is invalid", nil},
		{"bad image", a.memberTok, "POST", "/volumes", `{"volume": {"size": 1, "imageRef": "11111111-2222-3333-4444-555555555555"}}`, 400, "badRequest", "Invalid image identifier", nil},
		{"over quota", a.memberTok, "POST", "/volumes", `{"volume": {"size": 2000}}`, 413, "overLimit", "exceeds allowed gigabytes quota", nil},
		{"delete in-use", a.memberTok, "DELETE", "/volumes/" + inUse, "", 400, "badRequest", "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer", nil},
		{"shrink", a.memberTok, "POST", "/volumes/" + vol + "/action", `{"os-extend": {"new_size": 1}}`, 400, "badRequest", "New size for extend must be greater than current size", nil},
		{"extend in-use at 3.0", a.memberTok, "POST", "/volumes/" + inUse + "/action", `{"os-extend": {"new_size": 5}}`, 400, "badRequest", "must be available to extend", nil},
		{"unknown action", a.memberTok, "POST", "/volumes/" + vol + "/action", `{"os-frobnicate": {}}`, 400, "badRequest", "There is no such action: os-frobnicate", nil},
		{"two actions", a.memberTok, "POST", "/volumes/" + vol + "/action", `{"os-reserve": {}, "os-unreserve": {}}`, 400, "badRequest", "exactly one action", nil},
		{"reset status as member", a.memberTok, "POST", "/volumes/" + vol + "/action", `{"os-reset_status": {"status": "error"}}`, 403, "forbidden", "admin", nil},
		{"snapshot in-use without force", a.memberTok, "POST", "/snapshots", `{"snapshot": {"volume_id": "` + inUse + `"}}`, 400, "badRequest", "force=true", nil},
		{"type create as member", a.memberTok, "POST", "/types", `{"volume_type": {"name": "x"}}`, 403, "forbidden", "volume_extension:types_manage", nil},
		{"duplicate type", admin, "POST", "/types", `{"volume_type": {"name": "__DEFAULT__"}}`, 409, "conflictingRequest", "Volume Type __DEFAULT__ already exists.", nil},
		{"attachments below 3.27", a.memberTok, "GET", "/attachments", "", 404, "itemNotFound", "3.27", nil},
		{"microversion too new", a.memberTok, "GET", "/volumes", "", 406, "HTTPNotAcceptable", "Minimum is 3.0 and maximum is 3.60", []string{"OpenStack-API-Version", "volume 3.99"}},
		{"bad sort key", a.memberTok, "GET", "/volumes?sort=colour:asc", "", 400, "badRequest", "Invalid sort key", nil},
		{"quota of another project", a.memberTok, "GET", "/os-quota-sets/" + "someone-else", "", 403, "forbidden", "own project", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			proj := a.project
			if c.tok == admin {
				proj = projectID(t, env, admin)
			}
			r := call(t, env, c.tok, proj, c.method, c.path, c.body, c.headers...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			var doc map[string]struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(r.Body, &doc); err != nil || len(doc) != 1 {
				t.Fatalf("body is not {key: {code, message}}: %s", r.Body)
			}
			e, ok := doc[c.key]
			if !ok || e.Code != c.status || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("body %s: want key %s, code %d and a message with %q", r.Body, c.key, c.status, c.msg)
			}
			if r.Header.Get("X-Openstack-Request-Id") == "" {
				t.Error("no x-openstack-request-id")
			}
		})
	}
}

// TestTenantIsolation: project B cannot see, change, delete, snapshot,
// clone or attach project A's volumes and snapshots (404, as if they did
// not exist); A's reader can read but not write.
func TestTenantIsolation(t *testing.T) {
	env := cloudtest.New(t)
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	a, b := newTenant(t, env, admin, "proj-a"), newTenant(t, env, admin, "proj-b")
	vol := created(t, call(t, env, a.memberTok, a.project, "POST", "/volumes", `{"volume": {"size": 1, "name": "secret"}}`), "volume")
	waitStatus(t, env, a.memberTok, a.project, "volumes", vol, "available")
	snap := created(t, call(t, env, a.memberTok, a.project, "POST", "/snapshots", `{"snapshot": {"volume_id": "`+vol+`"}}`), "snapshot")
	waitStatus(t, env, a.memberTok, a.project, "snapshots", snap, "available")

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/volumes/" + vol, ""},
		{"PUT", "/volumes/" + vol, `{"volume": {"name": "mine"}}`},
		{"DELETE", "/volumes/" + vol, ""},
		{"POST", "/volumes/" + vol + "/action", `{"os-extend": {"new_size": 2}}`},
		{"POST", "/volumes/" + vol + "/action", `{"os-attach": {"instance_uuid": "3f0c5f0e-0000-4000-8000-000000000002"}}`},
		{"POST", "/volumes/" + vol + "/action", `{"os-reserve": {}}`},
		{"GET", "/volumes/" + vol + "/metadata", ""},
		{"POST", "/volumes/" + vol + "/metadata", `{"metadata": {"a": "b"}}`},
		{"POST", "/snapshots", `{"snapshot": {"volume_id": "` + vol + `"}}`},
		{"POST", "/volumes", `{"volume": {"source_volid": "` + vol + `"}}`},
		{"POST", "/volumes", `{"volume": {"snapshot_id": "` + snap + `"}}`},
		{"GET", "/snapshots/" + snap, ""},
		{"PUT", "/snapshots/" + snap, `{"snapshot": {"name": "mine"}}`},
		{"DELETE", "/snapshots/" + snap, ""},
		{"POST", "/attachments", `{"attachment": {"volume_uuid": "` + vol + `", "instance_uuid": "3f0c5f0e-0000-4000-8000-000000000003"}}`},
	} {
		r := call(t, env, b.memberTok, b.project, c.method, c.path, c.body, "OpenStack-API-Version", "volume 3.44")
		if r.Status != 404 {
			t.Errorf("B %s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	// B's lists leave A's resources out, also with all_tenants.
	for _, path := range []string{"/volumes/detail", "/volumes/detail?all_tenants=1", "/snapshots/detail", "/snapshots?all_tenants=True"} {
		r := call(t, env, b.memberTok, b.project, "GET", path, "")
		if r.Status != 200 || strings.Contains(string(r.Body), vol) || strings.Contains(string(r.Body), snap) {
			t.Errorf("B lists %s: %d %s", path, r.Status, r.Body)
		}
	}
	// B may not use A's project in the URL.
	if r := call(t, env, b.memberTok, a.project, "GET", "/volumes/"+vol, ""); r.Status/100 == 2 {
		t.Errorf("B through A's URL: %d %s", r.Status, r.Body)
	}
	// A's reader reads, but cannot write.
	if r := call(t, env, a.readerTok, a.project, "GET", "/volumes/"+vol, ""); r.Status != 200 {
		t.Errorf("reader show: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/volumes", `{"volume": {"size": 1}}`},
		{"PUT", "/volumes/" + vol, `{"volume": {"name": "r"}}`},
		{"DELETE", "/volumes/" + vol, ""},
		{"POST", "/volumes/" + vol + "/action", `{"os-extend": {"new_size": 2}}`},
		{"POST", "/snapshots", `{"snapshot": {"volume_id": "` + vol + `"}}`},
		{"DELETE", "/snapshots/" + snap, ""},
	} {
		if r := call(t, env, a.readerTok, a.project, c.method, c.path, c.body); r.Status != 403 {
			t.Errorf("reader %s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	// Admin sees A's volume with all_tenants.
	r := call(t, env, admin, projectID(t, env, admin), "GET", "/volumes?all_tenants=1", "")
	if !strings.Contains(string(r.Body), vol) {
		t.Errorf("admin all_tenants: %s", r.Body)
	}
}
