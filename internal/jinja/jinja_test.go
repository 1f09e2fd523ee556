package jinja

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/exprvalue"
)

type exprCase struct {
	expr string
	want string // Python repr of the result
	err  string
}

func mistralFuncs() exprvalue.Funcs {
	return exprvalue.Funcs{
		"env": {Call: func(c exprvalue.Call, _ []any) (any, error) {
			if d, ok := c.Data.(map[string]any); ok {
				return d["__env"], nil
			}
			return nil, nil
		}},
		"task": {Params: []string{"task_name"}, Call: func(c exprvalue.Call, args []any) (any, error) {
			name, _ := args[0].(string)
			if name == "" {
				name = "current"
			}
			return map[string]any{"name": name, "result": map[string]any{"id": "vm-" + name, "status": "ACTIVE"}}, nil
		}},
		"tasks": {Params: []string{"workflow_execution_id", "recursive", "state", "flat"}, Call: func(c exprvalue.Call, args []any) (any, error) {
			return []any{args[0], args[1], args[2], args[3]}, nil
		}},
	}
}

func evalCases(t *testing.T, data any, cases []exprCase) {
	t.Helper()
	env := NewEnv(Options{Funcs: mistralFuncs()})
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			x, err := env.CompileExpr(tc.expr)
			if err != nil {
				if tc.err != "" && strings.Contains(err.Error(), tc.err) {
					return
				}
				t.Fatalf("compile: %v", err)
			}
			v, err := x.Eval(context.Background(), Input{Data: data})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("= %s, %v; want error %q", exprvalue.Repr(v), err, tc.err)
				}
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("error %T is not an *EvalError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := exprvalue.Repr(v); got != tc.want {
				t.Errorf("= %s, want %s", got, tc.want)
			}
		})
	}
}

// Expressions from Mistral's workflow language reference
// (https://docs.openstack.org/mistral/latest/user/wf_lang_v2.html) and
// its Jinja evaluator tests (mistral/tests/unit/expressions/
// test_jinja_expression.py), evaluated as Mistral's compile_expression
// does: to a typed value.
func TestMistralExpressions(t *testing.T) {
	data := map[string]any{
		"vm_id": "123", "x": int64(3), "a1": int64(4), "a2": int64(5), "status": "Valid",
		"dir": "/tmp", "file": "a.txt", "list": []any{"a", "b"}, "__env": map[string]any{"k": "v"},
		"servers": []any{map[string]any{"name": "a", "ram": int64(512)}, map[string]any{"name": "b", "ram": int64(2048)}},
	}
	evalCases(t, data, []exprCase{
		{"_.vm_id", "'123'", ""},
		{"_.x", "3", ""},
		{"_.a1 * _.a2", "20", ""},
		{"1 + 2", "3", ""},
		{"_.status == 'Invalid value'", "False", ""},
		{"_.x|string", "'3'", ""},
		{"task().result.status", "'ACTIVE'", ""},
		{"task('create_vm').result.id", "'vm-create_vm'", ""},
		{"_ | task('create_vm') | attr('name')", "'create_vm'", ""},
		{"env()", "{'k': 'v'}", ""},
		{"_|env", "{'k': 'v'}", ""},
		{"env().k", "'v'", ""},
		{"tasks(state='ERROR')", "[None, None, 'ERROR', None]", ""},
		{"tasks(None, false, 'ERROR')", "[None, False, 'ERROR', None]", ""},
		{"_.list", "['a', 'b']", ""},
		{"_.list | length", "2", ""},
		{"_.servers | map(attribute='name') | list", "['a', 'b']", ""},
		{"_.servers | selectattr('ram', 'gt', 1024) | map(attribute='name') | join(',')", "'b'", ""},
		{"_.servers | sum(attribute='ram')", "2560", ""},
		{"_.servers | sort(attribute='ram', reverse=true) | first", "{'name': 'b', 'ram': 2048}", ""},
		{"_.wrong_key", "", "'dict object' has no attribute 'wrong_key'"},
		{"invalid_expression_string", "", "'invalid_expression_string' is undefined"},
		{"_.wrong_key | default('x')", "'x'", ""},
		{"_.wrong_key is defined", "False", ""},
		{"_.vm_id is defined and _.x > 2", "True", ""},
		{"7 / 2", "3.5", ""},
		{"7 // 2", "3", ""},
		{"-7 // 2", "-4", ""},
		{"2 ** 10", "1024", ""},
		{"'a' ~ 1 ~ none", "'a1None'", ""},
		{"[1, 2] + [3]", "[1, 2, 3]", ""},
		{"(1, 2)", "[1, 2]", ""},
		{"{'a': {'b': 1}}", "{'a': {'b': 1}}", ""},
		{"'x' if _.x > 5 else 'y'", "'y'", ""},
		{"1 < _.x < 5", "True", ""},
		{"'a' in _.list and 'z' not in _.list", "True", ""},
		{"_.list[-1]", "'b'", ""},
		{"'abcdef'[1:4]", "'bcd'", ""},
		{"_.list[::-1]", "['b', 'a']", ""},
		{"range(3) | list", "[0, 1, 2]", ""},
		{"'vm-%s' ~ _.x", "'vm-%s3'", ""},
		{"'{}-{}'.format(_.vm_id, _.x)", "'123-3'", ""},
		{"'a,b'.split(',')", "['a', 'b']", ""},
		{"_.__env.items() | list", "[['k', 'v']]", ""},
		{"_.get('nope', 5)", "5", ""},
		{"_.x is odd", "True", ""},
		{"_.x is divisibleby 3", "True", ""},
		{"_.x is not none", "True", ""},
		{"1 / 0", "", "division by zero"},
		{"'a' + 1", "", "operator +"},
		{"_.x | nosuchfilter", "", "no filter named \"nosuchfilter\""},
		{"_.x is nosuchtest", "", "no test named"},
		{"nope()", "", "'nope' is undefined"},
		{"_.list * 10000000", "", "more than"},
	})
}

// Templates from the Mistral Jinja evaluator tests
// (test_jinja_expression.py: test_multiline_... and the inline cases).
func TestMistralTemplates(t *testing.T) {
	env := NewEnv(Options{Funcs: mistralFuncs(), Limits: Limits{MaxSteps: 100_000}})
	data := map[string]any{"project_id": "1-2-3-4", "cpu": int64(12), "ram": int64(16384), "active_vm_count": int64(2),
		"dir": "/tmp", "file": "a.txt", "vms": []any{"a", "b", "c"}}
	cases := []struct{ tmpl, want, err string }{
		{"{{ _.dir }}/{{ _.file }}", "/tmp/a.txt", ""},
		{"{{ _ }}{{ _ }}", "", ""},
		{`Statistics for tenant "{{ _.project_id }}"
Number of virtual machines: {{ _.active_vm_count }}
{% if _.active_vm_count %}
Active!
{% endif %}
Done`, "Statistics for tenant \"1-2-3-4\"\nNumber of virtual machines: 2\nActive!\nDone", ""},
		{"{% for vm in _.vms %}{{ loop.index }}:{{ vm }}{% if not loop.last %},{% endif %}{% endfor %}", "1:a,2:b,3:c", ""},
		{"{% for vm in _.vms if vm != 'b' %}{{ vm }}{% else %}none{% endfor %}", "ac", ""},
		{"{% for vm in [] %}{{ vm }}{% else %}none{% endfor %}", "none", ""},
		{"{% set n = _.vms | length %}{{ n * 2 }}", "6", ""},
		{"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;", ""},
		{"  {%- if true -%}  yes  {%- endif -%}  ", "yes", ""},
		{"a\n    {% if true %}\n    b\n    {% endif %}\nc", "a\n    b\nc", ""},
		{"{# note #}x", "x", ""},
		{"{% raw %}{{ not evaluated }}{% endraw %}", "{{ not evaluated }}", ""},
		{"{{ [1, 'a', none, true] }}", "[1, 'a', None, True]", ""},
		{"{{ _.missing }}", "", "has no attribute 'missing'"},
		{"{% if _.cpu > 10 %}big{% elif _.cpu > 4 %}medium{% else %}small{% endif %}", "big", ""},
		{"{% macro m() %}{% endmacro %}", "", `unsupported tag "macro"`},
		{"{% if true %}unclosed", "", "missing {% endif %}"},
		{"{{ 1 + }}", "", "expected a value"},
		{"{{ 'unclosed }}", "", "string is not closed"},
		{"{% for i in range(1000000) %}{% for j in range(1000000) %}x{% endfor %}{% endfor %}", "", "more than"},
	}
	for _, tc := range cases {
		tpl, err := env.Compile(tc.tmpl)
		if err != nil {
			if tc.err == "" || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: compile: %v (want %q)", tc.tmpl, err, tc.err)
			}
			continue
		}
		got, err := tpl.Render(context.Background(), Input{Data: data})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q = %q, %v; want error %q", tc.tmpl, got, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		want := tc.want
		if tc.tmpl == "{{ _ }}{{ _ }}" {
			want = exprvalue.Str(data) + exprvalue.Str(data)
		}
		if got != want {
			t.Errorf("%q = %q, want %q", tc.tmpl, got, want)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	env := NewEnv(Options{})
	_, err := env.Compile("line one\n{{ _.a +* 2 }}")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want *SyntaxError", err)
	}
	if se.Line != 2 || se.Column != 9 || se.Token != "*" {
		t.Errorf("got line %d column %d token %q, want 2 9 \"*\" (%v)", se.Line, se.Column, se.Token, err)
	}
	_, err = env.CompileExpr("_.a +* 2")
	if !errors.As(err, &se) || se.Pos != 5 || se.Token != "*" {
		t.Errorf("expression error %v, want position 5 near *", err)
	}
}
