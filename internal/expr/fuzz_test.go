package expr

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// FuzzFrontDoor validates and evaluates any string value, alone and
// inside a map: no panic, bounded results, errors are *Error.
func FuzzFrontDoor(f *testing.F) {
	for _, s := range []string{"<% $.vm_name %>", "a <% $.x %> b <% $.x %>", "{{ _.vm_id }}", "{% for x in _.vm_names %}{{ x }}{% endfor %}", "<% 1 %>{{ 2 }}",
		"<% json_parse($.j) %>", "<% yaml_parse('a: [1, 2]') %>", "{{ json_dump(_) }}", "<%%>", "{{}}", "<% $ %> and <% $ %>"} {
		f.Add(s)
	}
	ev := New(Options{Funcs: PureFuncs(), Limits: Limits{MaxSteps: 20000, MaxItems: 2000, MaxStringBytes: 20000}, CacheSize: 64})
	data := map[string]any{"vm_name": "a", "x": int64(1), "vm_names": []any{"a", "b"}, "j": `{"k": 1}`, "vm_id": "v"}
	f.Fuzz(func(t *testing.T, s string) {
		var e *Error
		if err := ev.Validate(s); err != nil && !errors.As(err, &e) {
			t.Fatalf("Validate error %T: %v", err, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := ev.EvalRecursive(ctx, map[string]any{"k": s, "l": []any{s}}, data, nil)
		if err != nil {
			if !errors.As(err, &e) {
				t.Fatalf("Eval error %T: %v", err, err)
			}
			return
		}
		if err := exprvalue.CheckSize(v, 2*2000+10, 4*80000+100); err != nil {
			t.Fatalf("result too large: %v", err)
		}
	})
}
