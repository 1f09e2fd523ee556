package jinja

import (
	"context"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// FuzzJinja compiles any template and expression and runs what compiles
// under small limits: no panic, bounded output, only the package's errors.
func FuzzJinja(f *testing.F) {
	for _, s := range []string{"{{ _.a }}", "{% for x in _.l %}{{ loop.index }}{% endfor %}", "{{ [1] * 3 | join(',') }}", "{% if x %}a{% elif y %}b{% else %}c{% endif %}",
		"{{ _.l | selectattr('a') | map(attribute='b') | list }}", "{{ 'x' ~ 1 }}", "{{ _.l[1:] }}", "{%- set a, b = 1, 2 -%}{{ a }}", "{% raw %}{{{% endraw %}", "{{ range(10) | sum }}"} {
		f.Add(s)
	}
	env := NewEnv(Options{Limits: Limits{MaxSteps: 20000, MaxItems: 2000, MaxStringBytes: 20000}})
	data := map[string]any{"a": "s", "l": []any{map[string]any{"a": true, "b": int64(1)}, int64(2)}}
	f.Fuzz(func(t *testing.T, src string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if tpl, err := env.Compile(src); err == nil {
			out, err := tpl.Render(ctx, Input{Data: data})
			if err != nil {
				if _, ok := err.(*EvalError); !ok {
					t.Fatalf("render error %T: %v", err, err)
				}
			} else if len(out) > 20000 {
				t.Fatalf("output of %d bytes over the limit", len(out))
			}
		} else if _, ok := err.(*SyntaxError); !ok {
			t.Fatalf("compile error %T: %v", err, err)
		}
		if x, err := env.CompileExpr(src); err == nil {
			v, err := x.Eval(ctx, Input{Data: data})
			if err != nil {
				if _, ok := err.(*EvalError); !ok {
					t.Fatalf("eval error %T: %v", err, err)
				}
			} else if err := exprvalue.CheckSize(v, 2000, 80000); err != nil {
				t.Fatalf("result too large: %v", err)
			}
		} else if _, ok := err.(*SyntaxError); !ok {
			t.Fatalf("compile error %T: %v", err, err)
		}
	})
}
