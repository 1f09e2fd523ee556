package yaql

import (
	"context"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// FuzzYAQL compiles any input and evaluates what compiles under small
// limits: no panic, no unbounded result, only the package's error types.
func FuzzYAQL(f *testing.F) {
	for _, c := range stdlibDocCases {
		f.Add(c.expr)
	}
	for _, c := range operatorCases {
		f.Add(c.expr)
	}
	for _, s := range []string{"$.a.b[0]", "let(x => $) -> $x.a", "[1,,2]", "f(", "$.a?.b", "{a=>}", "'\\u12'", "`x", "1..2", "$.vm_ids.select($ * 2)", "sequence().select([$] * 1000).take(10)"} {
		f.Add(s)
	}
	env := NewEnv(Options{Now: testClock, Limits: Limits{MaxSteps: 20000, MaxItems: 2000, MaxStringBytes: 20000}})
	data := map[string]any{"a": map[string]any{"b": []any{int64(1), "x", 2.5, nil, true}}, "vm_ids": []any{int64(1), int64(2)}}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := env.Compile(src)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("compile error %T: %v", err, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := x.Eval(ctx, Input{Data: data})
		if err != nil {
			if _, ok := err.(*EvalError); !ok {
				t.Fatalf("eval error %T: %v", err, err)
			}
			return
		}
		if err := exprvalue.CheckSize(v, 2000, 80000); err != nil {
			t.Fatalf("result too large: %v", err)
		}
	})
}
