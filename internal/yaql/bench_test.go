package yaql

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSelect evaluates a typical Mistral expression over a
// with-items list of ten ids from its compiled form, and, for the ratio,
// compiling it each time.
func BenchmarkSelect(b *testing.B) {
	ids := make([]any, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("3f1c2a9e-0000-4000-8000-%012d", i)
	}
	data := map[string]any{"vm_ids": ids}
	env := NewEnv(Options{})
	const src = `$.vm_ids.select({id => $, name => concat('vm-', $.substring(0, 8))})`
	ctx := context.Background()
	b.Run("compiled", func(b *testing.B) {
		x, err := env.Compile(src)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := x.Eval(ctx, Input{Data: data}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
	})
	b.Run("compile_each_time", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x, err := env.Compile(src)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := x.Eval(ctx, Input{Data: data}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
	})
}
