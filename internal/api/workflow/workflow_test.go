package workflow_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// client is a raw Mistral client of a test cloud.
type client struct {
	t     *testing.T
	e     *cloudtest.Env
	token string
}

func newClient(t *testing.T) *client {
	e := cloudtest.New(t)
	return &client{t: t, e: e, token: e.Token(t, "admin", cloudtest.AdminPassword, "admin")}
}

func (c *client) do(method, path string, body any, ctype string) cloudtest.Response {
	c.t.Helper()
	var b []byte
	switch x := body.(type) {
	case nil:
	case string:
		b = []byte(x)
	default:
		b, _ = json.Marshal(x)
	}
	var hdr []string
	if ctype != "" {
		hdr = []string{"Content-Type", ctype}
	}
	return c.e.Do(c.t, method, "/workflow/v2"+path, c.token, b, hdr...)
}

func (c *client) ok(r cloudtest.Response, status int) map[string]any {
	c.t.Helper()
	if r.Status != status {
		c.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(c.t)
}

func (c *client) waitExecution(id string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		x := c.ok(c.do("GET", "/executions/"+id, nil, ""), http.StatusOK)
		switch x["state"] {
		case "SUCCESS", "ERROR", "CANCELLED":
			return x
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("execution %s still %v", id, x["state"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const wfText = `---
version: '2.0'
hello:
  input:
    - name
  output:
    greeting: <% $.greeting %>
  tasks:
    greet:
      action: std.echo output="Hello, <% $.name %>"
      publish:
        greeting: <% task().result %>
`

func TestWorkflowLifecycle(t *testing.T) {
	c := newClient(t)
	body := c.ok(c.do("POST", "/workflows", wfText, "text/plain"), http.StatusCreated)
	wfs := body["workflows"].([]any)
	wf := wfs[0].(map[string]any)
	if wf["name"] != "hello" || wf["input"] != "name" || wf["scope"] != "private" {
		t.Fatalf("workflow: %v", wf)
	}
	// A second create conflicts.
	r := c.do("POST", "/workflows", wfText, "text/plain")
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "faultstring") {
		t.Fatalf("duplicate: %d %s", r.Status, r.Body)
	}
	x := c.ok(c.do("POST", "/executions", map[string]any{"workflow_name": "hello", "input": `{"name": "World"}`}, ""), http.StatusCreated)
	x = c.waitExecution(x["id"].(string))
	if x["state"] != "SUCCESS" {
		t.Fatalf("execution: %v", x)
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(x["output"].(string)), &out)
	if out["greeting"] != "Hello, World" {
		t.Errorf("output %v", out)
	}
	tasks := c.ok(c.do("GET", "/executions/"+x["id"].(string)+"/tasks", nil, ""), http.StatusOK)["tasks"].([]any)
	if len(tasks) != 1 || tasks[0].(map[string]any)["result"] != `"Hello, World"` {
		t.Errorf("tasks: %v", tasks)
	}
	// Missing input: 400 naming it.
	r = c.do("POST", "/executions", map[string]any{"workflow_name": "hello"}, "")
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "missing name") {
		t.Errorf("missing input: %d %s", r.Status, r.Body)
	}
	c.ok(c.do("DELETE", "/workflows/hello", nil, ""), http.StatusNoContent)
}

func TestBadDefinitionsNameLineTaskAndProblem(t *testing.T) {
	c := newClient(t)
	cases := []struct{ def, want string }{
		{"version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: std.nope\n", "line 5: workflow 'wf': task 't1': unknown action \"std.nope\""},
		{"version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: std.noop\n      on-success: t9\n", "task 't1': transition to unknown task \"t9\""},
		{"version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: std.echo output=<% $.x + %>\n", "line 5: workflow 'wf': task 't1': invalid YAQL expression"},
		{"version: '2.0'\nwf:\n  type: reverse\n  tasks:\n    a:\n      requires: b\n    b:\n      requires: [a]\n", "cycle: a -> b -> a"},
		{"version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: [oops\n", "line 5: invalid YAML"},
	}
	for _, tc := range cases {
		r := c.do("POST", "/workflows", tc.def, "text/plain")
		var e struct {
			Faultstring string `json:"faultstring"`
		}
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != http.StatusBadRequest || !strings.Contains(e.Faultstring, tc.want) {
			t.Errorf("definition %q: %d %s; want 400 with %q", tc.def, r.Status, r.Body, tc.want)
		}
	}
}

// TestOpenStackActions runs one action of every served client through
// the cloud's own APIs, as the user: each returns what the client would.
func TestOpenStackActions(t *testing.T) {
	c := newClient(t)
	def := `version: '2.0'
os:
  output:
    flavors: <% $.flavors %>
    networks: <% $.networks %>
    projects: <% $.projects %>
    images: <% $.images %>
    volumes: <% $.volumes %>
    version: <% $.version %>
    object: <% $.object %>
    listing: <% $.listing %>
  tasks:
    flavors:
      action: nova.flavors_list
      publish: {flavors: <% task().result.len() %>}
    version:
      action: nova.versions_get_current
      publish: {version: <% task().result.version %>}
    networks:
      action: neutron.list_networks
      publish: {networks: <% task().result.networks.name %>}
    projects:
      action: keystone.projects_list
      publish: {projects: <% task().result.name %>}
    images:
      action: glance.images_list
      publish: {images: <% task().result.len() %>}
    volumes:
      action: cinder.volumes_list
      publish: {volumes: <% task().result.len() %>}
    container:
      action: swift.put_container container="wf-c"
      on-success: object
    object:
      action: swift.put_object container="wf-c" obj="greeting" contents="hello from a workflow" content_type="text/plain"
      on-success: read
    read:
      action: swift.get_object container="wf-c" obj="greeting"
      publish:
        object: <% task().result[1] %>
      on-success: listing
    listing:
      action: swift.get_container container="wf-c"
      publish:
        listing: <% task().result[1].name %>
`
	c.ok(c.do("POST", "/workflows", def, "text/plain"), http.StatusCreated)
	x := c.ok(c.do("POST", "/executions", map[string]any{"workflow_name": "os"}, ""), http.StatusCreated)
	x = c.waitExecution(x["id"].(string))
	if x["state"] != "SUCCESS" {
		t.Fatalf("%v: %v", x["state"], x["state_info"])
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(x["output"].(string)), &out)
	if !strings.Contains(fmt.Sprint(out["networks"]), "public") || !strings.Contains(fmt.Sprint(out["projects"]), "admin") ||
		out["version"] == "2.1" || out["version"] == nil || out["object"] != "hello from a workflow" || fmt.Sprint(out["listing"]) != "[greeting]" {
		t.Errorf("output: %v", out)
	}
}
