package workflow_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// tenant is a project with a member and a reader.
type tenant struct{ project, memberTok, readerTok string }

func newTenant(t *testing.T, e *cloudtest.Env, admin, name string) tenant {
	t.Helper()
	must := func(r cloudtest.Response, key string) string {
		if r.Status/100 != 2 {
			t.Fatalf("%s: %d %s", key, r.Status, r.Body)
		}
		return r.JSON(t)[key].(map[string]any)["id"].(string)
	}
	role := func(name string) string {
		roles := e.Do(t, "GET", "/identity/v3/roles?name="+name, admin, nil).JSON(t)["roles"].([]any)
		return roles[0].(map[string]any)["id"].(string)
	}
	tn := tenant{project: must(e.Do(t, "POST", "/identity/v3/projects", admin, []byte(`{"project": {"name": "`+name+`", "domain_id": "default"}}`)), "project")}
	for _, r := range []string{"member", "reader"} {
		u := must(e.Do(t, "POST", "/identity/v3/users", admin, []byte(`{"user": {"name": "`+name+r+`", "password": "pw", "domain_id": "default"}}`)), "user")
		if res := e.Do(t, "PUT", "/identity/v3/projects/"+tn.project+"/users/"+u+"/roles/"+role(r), admin, nil); res.Status != http.StatusNoContent {
			t.Fatalf("grant: %d %s", res.Status, res.Body)
		}
	}
	tn.memberTok = e.Token(t, name+"member", "pw", name)
	tn.readerTok = e.Token(t, name+"reader", "pw", name)
	return tn
}

// TestProjectIsolation: another project cannot see or touch a project's
// private workflows, executions, tasks, cron triggers and environments
// (404, lists leave them out); a reader cannot change anything; sharing
// a workflow lets the member project see and run it once it accepts; a
// workflow acts with its user's rights and no more.
func TestProjectIsolation(t *testing.T) {
	e := cloudtest.New(t)
	admin := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	a, b := newTenant(t, e, admin, "wf-a"), newTenant(t, e, admin, "wf-b")
	do := func(tok, method, path string, body any, ctype ...string) cloudtest.Response {
		var raw []byte
		switch x := body.(type) {
		case nil:
		case string:
			raw = []byte(x)
		default:
			raw, _ = json.Marshal(x)
		}
		var hdr []string
		if len(ctype) > 0 {
			hdr = []string{"Content-Type", ctype[0]}
		}
		return e.Do(t, method, "/workflow/v2"+path, tok, raw, hdr...)
	}
	want := func(r cloudtest.Response, status int, what string) map[string]any {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: %d, want %d: %s", what, r.Status, status, r.Body)
		}
		if len(r.Body) == 0 {
			return nil
		}
		return r.JSON(t)
	}
	wf := want(do(a.memberTok, "POST", "/workflows", "version: '2.0'\nsecret:\n  tasks:\n    t:\n      action: std.echo output=1\n", "text/plain"), 201, "create")
	wfID := wf["workflows"].([]any)[0].(map[string]any)["id"].(string)
	x := want(do(a.memberTok, "POST", "/executions", map[string]any{"workflow_name": "secret"}, ""), 201, "run")
	xid := x["id"].(string)
	want(do(a.memberTok, "POST", "/environments", map[string]any{"name": "env-a", "variables": map[string]any{"k": 1}}, ""), 201, "env")
	want(do(a.memberTok, "POST", "/cron_triggers", map[string]any{"name": "cron-a", "workflow_name": "secret", "pattern": "0 0 * * *"}, ""), 201, "cron")

	for _, p := range []string{"/workflows/" + wfID, "/workflows/secret", "/executions/" + xid, "/executions/" + xid + "/tasks", "/environments/env-a",
		"/cron_triggers/cron-a"} {
		want(do(b.memberTok, "GET", p, nil), 404, "B reads "+p)
	}
	want(do(b.memberTok, "DELETE", "/executions/"+xid+"?force=true", nil), 404, "B deletes A's execution")
	want(do(b.memberTok, "PUT", "/executions/"+xid, map[string]any{"state": "CANCELLED"}, ""), 404, "B cancels A's execution")
	want(do(b.memberTok, "POST", "/executions", map[string]any{"workflow_id": wfID}, ""), 404, "B runs A's private workflow")
	for _, p := range []string{"/workflows", "/executions", "/tasks", "/action_executions", "/cron_triggers", "/environments"} {
		body := string(do(b.memberTok, "GET", p, nil).Body)
		for _, s := range []string{wfID, xid, "env-a", "cron-a", `"secret"`} {
			if strings.Contains(body, s) {
				t.Errorf("B's %s shows A's %s", p, s)
			}
		}
	}
	// A reader cannot change anything.
	want(do(a.readerTok, "POST", "/executions", map[string]any{"workflow_name": "secret"}, ""), 403, "reader runs")
	want(do(a.readerTok, "DELETE", "/workflows/secret", nil), 403, "reader deletes")
	want(do(a.readerTok, "GET", "/executions/"+xid, nil), 200, "reader reads")

	// Sharing: B sees the workflow once it accepts.
	want(do(a.memberTok, "POST", "/workflows/"+wfID+"/members", map[string]any{"member_id": b.project}, ""), 201, "share")
	want(do(b.memberTok, "GET", "/workflows/"+wfID, nil), 404, "B before accepting")
	want(do(b.memberTok, "PUT", "/workflows/"+wfID+"/members/"+b.project, map[string]any{"status": "accepted"}, ""), 200, "accept")
	want(do(b.memberTok, "GET", "/workflows/"+wfID, nil), 200, "B after accepting")
	want(do(b.memberTok, "POST", "/executions", map[string]any{"workflow_id": wfID}, ""), 201, "B runs the shared workflow")
	want(do(b.memberTok, "DELETE", "/workflows/"+wfID, nil), 403, "B deletes A's shared workflow")

	// No more rights than the user: a member's workflow cannot create a
	// flavor (admin only in Nova) and says Nova refused.
	want(do(a.memberTok, "POST", "/workflows", "version: '2.0'\nescalate:\n  tasks:\n    t:\n      action: nova.flavors_create name=\"big\" ram=1024 vcpus=1 disk=1\n", "text/plain"), 201, "create escalate")
	x = want(do(a.memberTok, "POST", "/executions", map[string]any{"workflow_name": "escalate"}, ""), 201, "run escalate")
	x = (&client{t: t, e: e, token: a.memberTok}).waitExecution(x["id"].(string))
	if x["state"] != "ERROR" || !strings.Contains(x["state_info"].(string), "403") {
		t.Errorf("a member's workflow creating a flavor: %v %v", x["state"], x["state_info"])
	}
}
