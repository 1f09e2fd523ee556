package expr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/jinja"
	"github.com/onestack/onestack/internal/yaql"
)

// engineFuncs stands in for the workflow engine's functions: task() and
// tasks() answer from a fixed table of task executions, as the engine's
// would from its store.
func engineFuncs() exprvalue.Funcs {
	tasks := map[string]any{
		"create_vm":       map[string]any{"name": "create_vm", "state": "SUCCESS", "result": map[string]any{"id": "vm-1", "status": "ACTIVE"}},
		"search_for_ip":   map[string]any{"name": "search_for_ip", "state": "SUCCESS", "result": []any{map[string]any{"ip": "10.0.0.5"}}},
		"execute_command": map[string]any{"name": "execute_command", "state": "ERROR", "result": map[string]any{"stdout": "ok\n", "exit_code": int64(0)}},
		"create_servers":  map[string]any{"name": "create_servers", "state": "SUCCESS", "result": []any{map[string]any{"id": "s1"}, map[string]any{"id": "s2"}}},
	}
	f := PureFuncs()
	f["task"] = exprvalue.Func{Params: []string{"task_name"}, Call: func(c exprvalue.Call, args []any) (any, error) {
		name, _ := args[0].(string)
		if name == "" {
			name, _ = c.Host.(string) // the current task
		}
		return tasks[name], nil
	}}
	f["tasks"] = exprvalue.Func{Params: []string{"workflow_execution_id", "recursive", "state", "flat"}, Call: func(c exprvalue.Call, args []any) (any, error) {
		out := []any{}
		for _, k := range exprvalue.SortedKeys(tasks) {
			t := tasks[k].(map[string]any)
			if args[2] == nil || t["state"] == args[2] {
				out = append(out, t["name"])
			}
		}
		return out, nil
	}}
	f["execution"] = exprvalue.Func{Call: func(exprvalue.Call, []any) (any, error) {
		return map[string]any{"id": "ex-1", "name": "wf"}, nil
	}}
	f["global"] = exprvalue.Func{Params: []string{"var_name"}, Required: 1, Call: func(c exprvalue.Call, args []any) (any, error) {
		return map[string]any{"my_var": "global value"}[args[0].(string)], nil
	}}
	return f
}

func workflowData() map[string]any {
	return map[string]any{
		"vm_name": "my-vm", "vm_id": "vm-1", "vm_status": "ACTIVE", "image_ref": "img", "flavor_ref": "m1.small",
		"location": "Moscow", "temperature": int64(-5), "my_var": "local value", "some_value": int64(3),
		"vm_names": []any{"a", "b", "c"}, "vm_ids": []any{"s1", "s2"}, "exit_code": int64(0), "str1": "ab", "str2": "cd",
		"magic_workflow_name": "wf2", "flag": true, "nothing": nil,
		"__env": map[string]any{"region": "one"},
	}
}

// The expressions of Mistral's workflow language reference
// (https://docs.openstack.org/mistral/latest/user/wf_lang_v2.html,
// doc/source/user/wf_lang_v2.rst), each as a YAML string value.
func TestMistralWorkflowLanguageExamples(t *testing.T) {
	ev := New(Options{Funcs: engineFuncs()})
	cases := []struct {
		in   string
		host any // the current task, for task()
		want any
	}{
		{"<% $.vm_status %>", nil, "ACTIVE"},
		{"{{ _.vm_id }}", nil, "vm-1"},
		{"<% task().result.id %>", "create_vm", "vm-1"},
		{"{{ task().result.status }}", "create_vm", "ACTIVE"},
		{"<% task(create_vm).result.id %>", nil, "vm-1"},
		{"<% $.magic_workflow_name %>", nil, "wf2"},
		{"<% $.location %>: <% $.temperature %>", nil, "Moscow: -5"},
		{"<% $.some_value < 4 %>", nil, true},
		{"<% $.my_var = true %>", nil, false},
		{"<% $.foo = 'bar' %>", nil, errors.New(`key "foo" not found`)},
		{"Vm is successfully created and its id <% $.vm_id %>", nil, "Vm is successfully created and its id vm-1"},
		{"<% global(my_var) %>", nil, "global value"},
		{"<% $.vm_id != null %>", nil, true},
		{"<% not $.vm_id %>", nil, false},
		{"<% task(search_for_ip).result[0].ip %>", nil, "10.0.0.5"},
		{"Vm is created and id <% $.vm_id %> and ip address <% task(search_for_ip).result[0].ip %>", nil, "Vm is created and id vm-1 and ip address 10.0.0.5"},
		{"<% $.vm_names %>", nil, []any{"a", "b", "c"}},
		{"<% task(create_servers).result.id %>", nil, []any{"s1", "s2"}},
		{"<% $.vm_names.len() * 10 %>", nil, int64(30)},
		{"<% task(execute_command).result.stdout %>", nil, "ok\n"},
		{"<% $.exit_code = 0 %>", nil, true},
		{"<% $.exit_code != 0 %>", nil, false},
		{"<% execution().id %>", nil, "ex-1"},
		{"<% $.str1 %><% $.str2 %>", nil, "abcd"},
		{"<% tasks(execution().id) %>", nil, []any{"create_servers", "create_vm", "execute_command", "search_for_ip"}},
		{"{{ tasks(execution().id) }}", nil, []any{"create_servers", "create_vm", "execute_command", "search_for_ip"}},
		{"<% tasks(null, false, ERROR) %>", nil, []any{"execute_command"}},
		{"{{ tasks(None, false, 'ERROR') }}", nil, []any{"execute_command"}},
		{"<% tasks(state => ERROR) %>", nil, []any{"execute_command"}},
		{"{{ tasks(state='ERROR') }}", nil, []any{"execute_command"}},
		{"<% env().region %>", nil, "one"},
		{"<% $__env.region %>", nil, "one"},
		{"{{ env().region }}", nil, "one"},
		{"{{ _ | env }}", nil, map[string]any{"region": "one"}},
		{"{{ __env.region }}", nil, "one"},
		// Interpolation prints values as Python's str(), as Mistral does.
		{"ids: <% $.vm_ids %>", nil, "ids: ['s1', 's2']"},
		{"flag: <% $.flag %>, none: <% $.nothing %>", nil, "flag: True, none: None"},
		{"{{ _.vm_ids }} and {{ _.flag }}", nil, "['s1', 's2'] and True"},
		{"{% if _.flag %}on{% else %}off{% endif %}", nil, "on"},
		{"plain string", nil, "plain string"},
		{"<% $.vm_name", nil, "<% $.vm_name"},
		{" <% $.some_value %>", nil, " 3"},
	}
	for _, tc := range cases {
		got, err := ev.Eval(context.Background(), tc.in, workflowData(), tc.host)
		if want, ok := tc.want.(error); ok {
			if err == nil || !strings.Contains(err.Error(), want.Error()) {
				t.Errorf("%s = %v, %v; want error %q", tc.in, got, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestDetect(t *testing.T) {
	for s, want := range map[string]Lang{
		"x":                     Plain,
		"<% $.a %>":             YAQL,
		"a <% 1 %> b":           YAQL,
		"{{ _.a }}":             Jinja,
		"{% if x %}{% endif %}": Jinja,
		"<% 1 %> {{ 2 }}":       Jinja,
		"<%\n$.a %>":            Plain,
		"{ not: jinja }":        Plain,
		"%> <%":                 Plain,
	} {
		if got := Detect(s); got != want {
			t.Errorf("Detect(%q) = %v, want %v", s, got, want)
		}
	}
}

// evaluate_recursively: strings inside maps and lists are evaluated, keys
// are not, the input is left as it was.
func TestEvalRecursive(t *testing.T) {
	ev := New(Options{Funcs: engineFuncs()})
	in := map[string]any{
		"name":      "<% $.vm_name %>",
		"<% $.x %>": "key untouched",
		"count":     "<% $.vm_names.len() %>",
		"nested":    []any{"{{ _.vm_id }}", int64(7), map[string]any{"deep": "<% $.flag %>"}, nil},
	}
	got, err := ev.EvalRecursive(context.Background(), in, workflowData(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":      "my-vm",
		"<% $.x %>": "key untouched",
		"count":     int64(3),
		"nested":    []any{"vm-1", int64(7), map[string]any{"deep": true}, nil},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if in["name"] != "<% $.vm_name %>" || in["nested"].([]any)[0] != "{{ _.vm_id }}" {
		t.Errorf("the input was changed: %v", in)
	}
}

// Validate refuses what does not parse with an *Error naming the language,
// the expression and, through the language's error, the position.
func TestValidate(t *testing.T) {
	ev := New(Options{Funcs: engineFuncs()})
	ok := []string{"plain", "<% $.a %>", "x <% $.a.select($ * 2) %> y", "{{ _.a }}", "{% for x in _.l %}{{ x }}{% endfor %}", "<% task(a).result %>", "<% tasks(state => ERROR) %>"}
	for _, s := range ok {
		if err := ev.Validate(s); err != nil {
			t.Errorf("Validate(%q) = %v", s, err)
		}
	}
	bad := []struct {
		in, msg string
		lang    Lang
		pos     int
	}{
		{"<% $.a + %>", "expected a value before the end", YAQL, 5},
		{"ok <% $.a %> then <% $.b.nosuch() %>", `unknown function "nosuch"`, YAQL, 4},
		{"<% tasks(nope => 1) %>", `has no parameter "nope"`, YAQL, 0},
		{"{{ _.a + }}", "expected a value", Jinja, -1},
		{"{% if x %}never closed", "missing {% endif %}", Jinja, -1},
		{"<% 1 %> {{ 2 }}", "mixes Jinja and YAQL", Jinja, -1},
	}
	for _, tc := range bad {
		err := ev.Validate(tc.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Validate(%q) = %v, want an *Error", tc.in, err)
			continue
		}
		if e.Lang != tc.lang || !e.Syntax || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Validate(%q) = %v (lang %v), want %v error with %q", tc.in, err, e.Lang, tc.lang, tc.msg)
		}
		var ys *yaql.SyntaxError
		if tc.pos >= 0 && (!errors.As(err, &ys) || ys.Pos != tc.pos) {
			t.Errorf("Validate(%q) = %v, want a yaql.SyntaxError at %d", tc.in, err, tc.pos)
		}
		var js *jinja.SyntaxError
		if tc.lang == Jinja && tc.msg != "mixes Jinja and YAQL" && !errors.As(err, &js) {
			t.Errorf("Validate(%q) = %v, want a jinja.SyntaxError", tc.in, err)
		}
	}
	if err := ev.ValidateRecursive(map[string]any{"a": []any{"<% $.x %>", map[string]any{"b": "<% $.( %>"}}}); err == nil {
		t.Error("ValidateRecursive missed a bad nested expression")
	}
}

// Run-time errors name the expression and the failing operation, and keep
// the data (here a token) out.
func TestEvalErrorMessage(t *testing.T) {
	ev := New(Options{})
	data := map[string]any{"token": "gAAAAA-secret", "n": int64(1)}
	_, err := ev.Eval(context.Background(), "<% $.n + $.token %>", data, nil)
	var e *Error
	if !errors.As(err, &e) || e.Syntax || e.Lang != YAQL {
		t.Fatalf("error %v, want a run-time *Error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"$.n + $.token"`) || !strings.Contains(msg, "operator +") || strings.Contains(msg, "secret") {
		t.Errorf("message %q should name the expression and operator and not the token", msg)
	}
	_, err = ev.Eval(context.Background(), "{{ _.token | int + _.missing }}", data, nil)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("jinja error %v", err)
	}
}

func TestPureFuncs(t *testing.T) {
	ev := New(Options{Funcs: PureFuncs()})
	data := map[string]any{"d": map[string]any{"b": []any{int64(1), 2.5}, "a": "x"}, "j": `{"k": [1, 2.0, "s"]}`, "y": "a: 1\nb: [x, z]\n"}
	cases := []struct {
		in   string
		want any
	}{
		{"<% json_parse($.j) %>", map[string]any{"k": []any{int64(1), 2.0, "s"}}},
		{"<% json_parse($.j).k[0] + 1 %>", int64(2)},
		{"<% json_dump($.d) %>", "{\n    \"a\": \"x\",\n    \"b\": [\n        1,\n        2.5\n    ]\n}"},
		{"{{ json_dump(_.d) }}", "{\n    \"a\": \"x\",\n    \"b\": [\n        1,\n        2.5\n    ]\n}"},
		{"<% yaml_parse($.y) %>", map[string]any{"a": int64(1), "b": []any{"x", "z"}}},
		{"<% yaml_dump($.d) %>", "a: x\nb:\n- 1\n- 2.5\n"},
		{"<% uuid().len() %>", int64(36)},
	}
	for _, tc := range cases {
		got, err := ev.Eval(context.Background(), tc.in, data, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, d)
		}
	}
	for _, in := range []string{`<% yaml_parse("a: &x [1]\nb: *x") %>`, `<% json_parse("{") %>`, `<% json_parse(1) %>`} {
		if _, err := ev.Eval(context.Background(), in, data, nil); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

// A compiled string evaluates without parsing again, and the cache hands
// back the same compiled form.
func TestCompileCache(t *testing.T) {
	ev := New(Options{CacheSize: 2})
	a, err := ev.Compile("<% $.a %>")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ev.Compile("<% $.a %>")
	if a != b {
		t.Error("the cache compiled the same string twice")
	}
	ev.Compile("<% $.b %>")
	ev.Compile("<% $.c %>") // over the size: the cache starts again
	if len(ev.cache) > 2 {
		t.Errorf("cache holds %d entries, bound 2", len(ev.cache))
	}
	v, err := a.Eval(context.Background(), map[string]any{"a": int64(1)}, nil)
	if err != nil || v != int64(1) {
		t.Errorf("= %v, %v", v, err)
	}
}

// One Evaluator and its compiled forms serve many goroutines (run with
// -race).
func TestConcurrentEval(t *testing.T) {
	ev := New(Options{Funcs: engineFuncs()})
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				for _, bc := range benchExprs {
					if _, err = ev.Eval(context.Background(), bc.src, benchData(), nil); err != nil {
						break
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
