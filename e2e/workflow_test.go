package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workflowFile writes text to a file for the CLI.
func workflowFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitExecution polls `openstack workflow execution show` until the
// execution ends (or reaches state), and returns what the CLI showed.
func waitExecution(t *testing.T, env Env, id string, timeout time.Duration, states ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var x map[string]any
		RunJSON(t, env, &x, "workflow", "execution", "show", id)
		s, _ := x["State"].(string)
		done := s == "SUCCESS" || s == "ERROR" || s == "CANCELLED"
		for _, w := range states {
			done = done || s == w
		}
		if done {
			return x
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %s after %v", id, s, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const e2eWorkbook = `---
version: '2.0'
name: greetings
description: a workbook with an ad-hoc action and two workflows
actions:
  shout:
    input:
      - text
    base: std.echo
    base-input:
      output: <% $.text.toUpper() %>
workflows:
  greet_all:
    input:
      - names
    output:
      greetings: <% $.greetings %>
      count: <% $.greetings.len() %>
    tasks:
      greet:
        with-items: name in <% $.names %>
        concurrency: 2
        action: shout text="hello <% $.name %>"
        publish:
          greetings: <% task().result %>
        on-success: summarize
      summarize:
        workflow: summary
        input:
          items: <% $.greetings %>
  summary:
    input:
      - items
    output:
      first: <% $.items.first() %>
    tasks:
      noop:
        action: std.noop
`

const e2eFailing = `---
version: '2.0'
boot_missing_image:
  tasks:
    prepare:
      action: std.echo output="ok"
      on-success: boot
    boot:
      action: nova.servers_create name="wf-vm" image="no-such-image" flavor="no-such-flavor" admin_pass="hunter2"
`

// TestWorkflowCLI drives Mistral with the real `openstack workflow` CLI
// (python3-mistralclient): a workbook with an ad-hoc action and a
// sub-workflow runs with-items; its tasks, published variables and output
// read back; a workflow whose Nova call fails explains the failure in
// state_info (the task, the action, its input with the password masked,
// Nova's error); a bad definition is refused naming line, task and
// problem.
func TestWorkflowCLI(t *testing.T) {
	requireCLI(t)
	c := StartCloud(t, "")
	env := c.CloudEnv()

	var wb map[string]any
	RunJSON(t, env, &wb, "workbook", "create", workflowFile(t, "wb.yaml", e2eWorkbook))
	if wb["Name"] != "greetings" {
		t.Fatalf("workbook: %v", wb)
	}
	var wfs []map[string]any
	RunJSON(t, env, &wfs, "workflow", "list")
	names := map[string]bool{}
	for _, w := range wfs {
		names[w["Name"].(string)] = true
	}
	if !names["greetings.greet_all"] || !names["greetings.summary"] {
		t.Fatalf("workflows of the workbook: %v", names)
	}
	var x map[string]any
	RunJSON(t, env, &x, "workflow", "execution", "create", "greetings.greet_all", `{"names": ["ann", "bob", "cy"]}`)
	id := x["ID"].(string)
	x = waitExecution(t, env, id, time.Minute)
	if x["State"] != "SUCCESS" {
		t.Fatalf("execution: %v", x)
	}
	out := MustRun(t, env, "workflow", "execution", "output", "show", id).Stdout
	var output map[string]any
	if err := json.Unmarshal([]byte(out), &output); err != nil {
		t.Fatalf("output: %v: %s", err, out)
	}
	want := []any{"HELLO ANN", "HELLO BOB", "HELLO CY"}
	if got, _ := output["greetings"].([]any); len(got) != 3 || got[0] != want[0] || got[2] != want[2] || output["count"] != float64(3) {
		t.Errorf("output: %v", output)
	}
	var tasks []map[string]any
	RunJSON(t, env, &tasks, "task", "execution", "list", id)
	byName := map[string]string{}
	for _, tk := range tasks {
		byName[tk["Name"].(string)] = tk["ID"].(string)
		if tk["State"] != "SUCCESS" {
			t.Errorf("task %v", tk)
		}
	}
	pub := MustRun(t, env, "task", "execution", "published", "show", byName["greet"]).Stdout
	if !strings.Contains(pub, "HELLO BOB") {
		t.Errorf("published of greet: %s", pub)
	}
	res := MustRun(t, env, "task", "execution", "result", "show", byName["summarize"]).Stdout
	if !strings.Contains(res, `"first": "HELLO ANN"`) {
		t.Errorf("result of the sub-workflow task: %s", res)
	}
	var subs []map[string]any
	RunJSON(t, env, &subs, "workflow", "execution", "list", "--filter", "root_execution_id="+id)
	if len(subs) != 1 || subs[0]["Workflow name"] != "greetings.summary" {
		t.Errorf("sub-workflow executions: %v", subs)
	}

	// A failure explained.
	MustRun(t, env, "workflow", "create", workflowFile(t, "fail.yaml", e2eFailing))
	RunJSON(t, env, &x, "workflow", "execution", "create", "boot_missing_image")
	x = waitExecution(t, env, x["ID"].(string), time.Minute)
	info, _ := x["State info"].(string)
	for _, w := range []string{"boot", "nova.servers_create", `"image":"no-such-image"`, "400", "no-such-image", `"admin_pass":"***"`} {
		if x["State"] != "ERROR" || !strings.Contains(info, w) {
			t.Errorf("state %v, state_info does not mention %q:\n%s", x["State"], w, info)
		}
	}
	if strings.Contains(info, "hunter2") {
		t.Errorf("state_info shows the password: %s", info)
	}

	// A bad definition is refused with its line, task and problem.
	r := Run(t, env, "workflow", "create", workflowFile(t, "bad.yaml", "version: '2.0'\nbad:\n  tasks:\n    t1:\n      action: std.echo output=<% $.x ++ %>\n"))
	Fail(t, r, "line 5: workflow 'bad': task 't1': invalid YAQL expression")
}
