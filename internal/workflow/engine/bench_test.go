package engine_test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/engine"
)

// benchRun starts the workflow of d b.N times and reports tasks
// completed per second (tasks is how many tasks or with-items calls one
// execution completes).
func benchRun(b *testing.B, def string, tasks int) {
	r := newRig(b, storetest.New(b))
	d := r.define(def)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		x, err := r.e.Start(context.Background(), engine.StartRequest{WorkflowID: d.ID, WorkflowName: d.Name, Definition: d.Definition, ProjectID: "p1"})
		if err != nil {
			b.Fatal(err)
		}
		if x = r.wait(x.ID); x.State != engine.Success {
			b.Fatalf("%s: %s", x.State, x.StateInfo)
		}
	}
	b.ReportMetric(float64(tasks*b.N)/b.Elapsed().Seconds(), "tasks/s")
	// The process's CPU time per task: on a shared, loaded machine the
	// wall-clock rate depends on the neighbours; this does not.
	b.ReportMetric(float64(tasks*b.N)/(cpuTime()-cpu0).Seconds(), "tasks/cpu-s")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWithItemsNoop1000 runs a with-items of 1,000 std.noop calls.
func BenchmarkWithItemsNoop1000(b *testing.B) {
	benchRun(b, "version: '2.0'\nwide:\n  tasks:\n    t:\n      with-items: i in <% range(1000) %>\n      action: std.noop\n", 1000)
}

// BenchmarkChain1000 runs 1,000 sequential std.noop tasks.
func BenchmarkChain1000(b *testing.B) {
	var s strings.Builder
	s.WriteString("version: '2.0'\nchain:\n  tasks:\n")
	for i := 0; i < 1000; i++ {
		s.WriteString("    t" + strconv.Itoa(i) + ":\n      action: std.noop\n")
		if i < 999 {
			s.WriteString("      on-success: t" + strconv.Itoa(i+1) + "\n")
		}
	}
	benchRun(b, s.String(), 1000)
}

// BenchmarkWithItems10000 runs a with-items of 10,000 std.echo calls.
func BenchmarkWithItems10000(b *testing.B) {
	benchRun(b, "version: '2.0'\nwide:\n  tasks:\n    t:\n      with-items: i in <% range(10000) %>\n      action: std.echo output=<% $.i %>\n      publish:\n        n: <% task().result.len() %>\n", 10000)
}
