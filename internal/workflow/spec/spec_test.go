package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const full = `---
version: '2.0'
deploy:
  description: every feature at once
  tags: [a, b]
  input:
    - vm_name
    - count: 2
  output:
    ids: <% $.ids %>
  output-on-error:
    failed: true
  vars:
    base: 10
  task-defaults:
    retry: count=3 delay=2
    timeout: 30
    on-error:
      - cleanup
  tasks:
    create:
      action: std.echo output=<% $.vm_name %> delay=0
      input:
        output: overridden
      with-items:
        - i in <% range($.count) %>
        - j in [1, 2]
      concurrency: 1
      wait-before: <% 1 + 1 %>
      keep-result: false
      safe-rerun: true
      publish:
        ids: <% task().result %>
      on-success:
        publish:
          branch:
            ok: yes
          global:
            seen: <% $.ids %>
        next:
          - check: <% $.ids != null %>
          - fail msg="no ids"
    check:
      join: all
      action: std.noop
      pause-before: <% $.count > 5 %>
      retry:
        count: 1
        delay: 0
        break-on: <% $.stop %>
    cleanup:
      workflow: tidy vm='x'
      on-complete: succeed
`

func TestParseFullWorkflow(t *testing.T) {
	f, err := ParseWorkflows(full, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wf := f.Workflows[0]
	if wf.Name != "deploy" || wf.Definition != full || len(wf.Tags) != 2 {
		t.Errorf("workflow: %+v", wf)
	}
	if diff := cmp.Diff([]Param{{Name: "vm_name"}, {Name: "count", Default: int64(2), HasDefault: true}}, wf.Input); diff != "" {
		t.Error(diff)
	}
	c := wf.Task("create")
	if c.Action != "std.echo" || c.Input["output"] != "overridden" || c.Input["delay"] != int64(0) {
		t.Errorf("shorthand input under input: %v", c.Input)
	}
	if diff := cmp.Diff([]WithItem{{Var: "i", List: "<% range($.count) %>"}, {Var: "j", List: []any{int64(1), int64(2)}}}, c.WithItems); diff != "" {
		t.Error(diff)
	}
	if c.Retry == nil || c.Retry.Count != int64(3) || c.Retry.Delay != int64(2) {
		t.Errorf("task-defaults retry: %+v", c.Retry)
	}
	if c.Timeout != int64(30) || c.WaitBefore != "<% 1 + 1 %>" || c.KeepResult != false || c.SafeRerun != true {
		t.Errorf("policies: %+v", c)
	}
	if c.OnSuccess.Publish.Branch["ok"] != true || c.OnSuccess.Publish.Global["seen"] != "<% $.ids %>" {
		t.Errorf("publish of on-success: %+v", c.OnSuccess.Publish)
	}
	want := []Transition{{Task: "check", Cond: "<% $.ids != null %>", Params: map[string]any{}}, {Task: "fail", Params: map[string]any{"msg": "no ids"}}}
	if diff := cmp.Diff(want, c.OnSuccess.Next); diff != "" {
		t.Error(diff)
	}
	if len(c.OnError.Next) != 1 || c.OnError.Next[0].Task != "cleanup" {
		t.Errorf("task-defaults on-error: %+v", c.OnError)
	}
	cl := wf.Task("cleanup")
	if cl.OnError != nil && len(cl.OnError.Next) != 0 {
		t.Errorf("a task-defaults transition to the task itself stays out: %+v", cl.OnError)
	}
	if cl.Workflow != "tidy" || cl.Input["vm"] != "x" {
		t.Errorf("workflow task: %+v", cl)
	}
	ck := wf.Task("check")
	if ck.Join != -1 || ck.Retry.BreakOn != "<% $.stop %>" || ck.Retry.Count != int64(1) {
		t.Errorf("check: %+v %+v", ck, ck.Retry)
	}
	if got := wf.StartTasks(); len(got) != 1 || got[0].Name != "create" {
		t.Errorf("start tasks: %v", got)
	}
	if got := wf.Inbound(ck); len(got) != 1 || got[0] != "create" {
		t.Errorf("inbound of check: %v", got)
	}
	if WorkflowInput(wf.Input) != `vm_name, count="2"` {
		t.Errorf("input signature %q", WorkflowInput(wf.Input))
	}
}

func TestParseErrorsNameLineWorkflowTaskAndProblem(t *testing.T) {
	known := func(n string) bool { return strings.HasPrefix(n, "std.") && n != "std.nope" }
	validate := func(s string) error {
		if strings.Contains(s, "$$") {
			return errors.New("bad expression")
		}
		return nil
	}
	cases := []struct{ text, want string }{
		{"", "the definition is empty"},
		{"version: '1.0'\nwf:\n  tasks: {t: {}}\n", "line 1: unsupported version \"1.0\""},
		{"wf:\n  tasks: {t: {}}\n", "has no version"},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.nope\n", "line 5: workflow 'wf': task 't': unknown action \"std.nope\""},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n      on-success: [x]\n", "line 4: workflow 'wf': task 't': transition to unknown task \"x\""},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.echo output=<% $$ %>\n", "line 5: workflow 'wf': task 't': bad expression"},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n      publish:\n        a: <% $$ %>\n", "line 7: workflow 'wf': task 't': bad expression"},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      bogus: 1\n", "line 5: workflow 'wf': task 't': unknown task key \"bogus\""},
		{"version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n      action: std.echo\n", "line 6: workflow 'wf': task 't': key \"action\" is defined twice (also on line 5)"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      on-success: b\n    b:\n      on-success: a\n", "no start task"},
		{"version: '2.0'\nwf:\n  type: reverse\n  tasks:\n    a:\n      requires: [c]\n    b:\n      requires: a\n    c:\n      requires: b\n", "requires form a cycle: a -> c -> b -> a"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      join: all\n", "join: all, but no task leads to this task"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      retry: {count: 2}\n", "retry needs both count and delay"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.http url=http://x\n", "line 5: workflow 'wf': task 'a': cannot read \"std.http url=http://x\""},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      with-items: x of [1]\n", "line 5: workflow 'wf': task 'a': cannot read \"x of [1]\""},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      workflow: other\n", "not both"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      wait-before: -1\n", "wait-before must be 0 or more seconds"},
		{"version: '2.0'\n00000000-0000-0000-0000-000000000000:\n  tasks:\n    a: {}\n", "cannot look like a UUID"},
		{"version: '2.0'\nwf:\n  tasks:\n    a:\n      action: [x\n", "line 5: invalid YAML"},
	}
	for _, tc := range cases {
		_, err := ParseWorkflows(tc.text, Options{ActionKnown: known, Validate: validate})
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an *Error with %q", tc.text, err, tc.want)
		}
	}
}

func TestWorkbookAndActions(t *testing.T) {
	wb, err := ParseWorkbook(`version: '2.0'
name: wb
actions:
  greet:
    input: [name]
    base: std.echo output="hi <% $.name %>"
    output: <% $.upper() %>
workflows:
  main:
    tasks:
      t:
        action: greet name="x"
        on-success: t2
      t2:
        workflow: sub
  sub:
    tasks:
      s:
        action: std.noop
`, Options{ActionKnown: func(n string) bool { return n == "std.echo" || n == "std.noop" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(wb.Workflows) != 2 || wb.Workflows[0].Name != "wb.main" || wb.Workflows[1].Name != "wb.sub" || wb.Actions[0].Name != "wb.greet" {
		t.Fatalf("names: %+v %+v", wb.Workflows, wb.Actions)
	}
	if a := wb.Actions[0]; a.Base != "std.echo" || a.BaseInput["output"] != "hi <% $.name %>" || !a.HasOutput {
		t.Errorf("action: %+v", a)
	}
	// A stored workflow of the workbook parses back under its full name.
	wf, err := ParseWorkflow(wb.Workflows[0].Definition, "wb.main", "wb")
	if err != nil || wf.Name != "wb.main" || wf.Task("t2").Workflow != "sub" {
		t.Errorf("reparse: %v %+v", err, wf)
	}
	if !strings.HasPrefix(wb.Workflows[0].Definition, "main:\n") {
		t.Errorf("cut definition: %q", wb.Workflows[0].Definition)
	}
	acts, err := ParseActions("version: '2.0'\nshout:\n  base: std.echo\n  base-input:\n    output: <% $.x %>\n  input:\n    - x: 1\n", Options{})
	if err != nil || acts[0].Input[0].Default != int64(1) || ActionInput(acts[0].Input) != "x=1" {
		t.Errorf("actions: %v %+v", err, acts)
	}
}

func TestReverseRequirements(t *testing.T) {
	f, err := ParseWorkflows("version: '2.0'\nrev:\n  type: reverse\n  task-defaults:\n    requires: [base]\n  tasks:\n    base: {}\n    a: {}\n    b:\n      requires: a\n    c:\n      requires: [b]\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := f.Workflows[0].Requirements("c")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range reqs {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"base", "a", "b", "c"}, names); diff != "" {
		t.Errorf("requirements of c (-want +got):\n%s", diff)
	}
}

func TestPyYAMLBooleansAndNumbers(t *testing.T) {
	f, err := ParseWorkflows("version: 2.0\nwf:\n  input:\n    - a: yes\n    - b: off\n    - c: '1'\n    - d: 1.5\n    - e: 0x10\n  tasks:\n    t: {}\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, p := range f.Workflows[0].Input {
		got[p.Name] = p.Default
	}
	want := map[string]any{"a": true, "b": false, "c": "1", "d": 1.5, "e": int64(16)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// FuzzParse: any text parses or fails with an *Error, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(full)
	f.Add("version: '2.0'\nwf:\n  type: reverse\n  tasks:\n    a:\n      requires: [b]\n    b: {}\n")
	f.Add("version: '2.0'\nname: wb\nworkflows:\n  w:\n    tasks:\n      t: {}\nactions:\n  a:\n    base: std.noop\n")
	f.Add("a: &a [*a, *a]\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, fn := range []func(string, Options) error{
			func(s string, o Options) error { _, err := ParseWorkflows(s, o); return err },
			func(s string, o Options) error { _, err := ParseWorkbook(s, o); return err },
			func(s string, o Options) error { _, err := ParseActions(s, o); return err },
		} {
			err := fn(text, Options{})
			var se *Error
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("%q: error %T %v is not an *Error", text, err, err)
			}
		}
	})
}
