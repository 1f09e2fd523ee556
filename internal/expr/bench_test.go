package expr

import (
	"context"
	"fmt"
	"testing"
)

// benchData is a typical Mistral data context: workflow input, published
// variables and a with-items list of ten servers.
func benchData() map[string]any {
	ids := make([]any, 10)
	servers := make([]any, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("3f1c2a9e-0000-4000-8000-%012d", i)
		servers[i] = map[string]any{"id": ids[i], "status": "ACTIVE", "ram": int64(512 * (i + 1))}
	}
	d := workflowData()
	d["vm_ids"] = ids
	d["servers"] = servers
	return d
}

var benchExprs = []struct{ name, src string }{
	{"yaql_select", "<% $.vm_ids.select(concat('vm-', $)) %>"},
	{"yaql_where_select", "<% $.servers.where($.status = 'ACTIVE' and $.ram > 1024).select($.id) %>"},
	{"yaql_condition", "<% $.vm_status = 'ACTIVE' and $.exit_code = 0 %>"},
	{"yaql_task_result", "<% task(create_vm).result.id %>"},
	{"yaql_interpolate", "Vm <% $.vm_id %> is <% $.vm_status %>"},
	{"jinja_var", "{{ _.vm_id }}"},
	{"jinja_filter", "{{ _.servers | selectattr('status', 'eq', 'ACTIVE') | map(attribute='id') | list }}"},
}

// BenchmarkEvalCompiled evaluates typical Mistral expressions from their
// compiled form (parse once, evaluate many), as the engine does per task.
func BenchmarkEvalCompiled(b *testing.B) {
	ev := New(Options{Funcs: engineFuncs()})
	data := benchData()
	ctx := context.Background()
	for _, bc := range benchExprs {
		b.Run(bc.name, func(b *testing.B) {
			c, err := ev.Compile(bc.src)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Eval(ctx, data, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Eval(ctx, data, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
		})
	}
}

// BenchmarkEvalString is Evaluator.Eval on the string, through the
// compiled-string cache: what evaluate_recursively costs per value.
func BenchmarkEvalString(b *testing.B) {
	ev := New(Options{Funcs: engineFuncs()})
	data := benchData()
	ctx := context.Background()
	src := benchExprs[0].src
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Eval(ctx, src, data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkParseAndEval compiles every time, for the ratio against the
// cached form.
func BenchmarkParseAndEval(b *testing.B) {
	ev := New(Options{Funcs: engineFuncs()})
	data := benchData()
	ctx := context.Background()
	src := benchExprs[0].src
	b.ReportAllocs()
	for b.Loop() {
		c, err := ev.compile(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Eval(ctx, data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}
