package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/action"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// rig is an engine on a real store, running until the test ends.
type rig struct {
	t  testing.TB
	db *store.DB
	e  *engine.Engine
}

func eachRig(t *testing.T, fn func(t *testing.T, r *rig)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newRig(t, db)) })
}

func newRig(t testing.TB, db *store.DB, extra ...*engine.Action) *rig {
	t.Helper()
	reg := engine.NewRegistry(action.Std(action.Config{AllowLoopback: true})...)
	for _, a := range extra {
		reg.Add(a)
	}
	e := engine.New(db, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), engine.Config{Poll: 20 * time.Millisecond, Lease: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &rig{t: t, db: db, e: e}
}

// define stores a workflow file's workflows (as the service would) and
// returns the first one's definition.
func (r *rig) define(text string) store.WFDefinition {
	r.t.Helper()
	f, err := spec.ParseWorkflows(text, spec.Options{Validate: r.e.Evaluator().Validate})
	if err != nil {
		r.t.Fatalf("parse: %v", err)
	}
	var first store.WFDefinition
	err = r.db.Write(context.Background(), func(tx *store.Tx) error {
		for i, wf := range f.Workflows {
			d := store.WFDefinition{ID: strings.Repeat("0", 8) + "-" + wf.Name, Kind: store.WFKindWorkflow, Name: wf.Name, ProjectID: "p1",
				Scope: "private", Definition: wf.Definition, Doc: "{}", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := tx.CreateWFDefinition(context.Background(), d); err != nil {
				return err
			}
			if i == 0 {
				first = d
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return first
}

func (r *rig) start(d store.WFDefinition, input map[string]any, params map[string]any) store.WFExecution {
	r.t.Helper()
	x, err := r.e.Start(context.Background(), engine.StartRequest{WorkflowID: d.ID, WorkflowName: d.Name, Definition: d.Definition,
		Input: input, Params: params, ProjectID: "p1"})
	if err != nil {
		r.t.Fatalf("start: %v", err)
	}
	return x
}

// wait waits until the execution is in a terminal state (or state).
func (r *rig) wait(id string, states ...string) store.WFExecution {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var x store.WFExecution
		err := r.db.Read(context.Background(), func(tx *store.Tx) error {
			var err error
			x, err = tx.GetWFExecution(context.Background(), id)
			return err
		})
		if err != nil {
			r.t.Fatal(err)
		}
		done := engine.Terminal(x.State)
		for _, s := range states {
			done = done || x.State == s
		}
		if done {
			return x
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("execution %s still %s after 20 s (%s)", id, x.State, x.StateInfo)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) tasks(id string) map[string]store.WFTask {
	r.t.Helper()
	out := map[string]store.WFTask{}
	err := r.db.Read(context.Background(), func(tx *store.Tx) error {
		rows, err := tx.ExecutionWFTasks(context.Background(), id, "")
		for _, t := range rows {
			out[t.Name] = t
		}
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func TestDirectWorkflowPublishAndOutput(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		d := r.define(`
version: '2.0'
greet:
  input:
    - name
    - greeting: Hello
  output:
    message: <% $.message %>
    count: <% $.n %>
  vars:
    n: 2
  tasks:
    compose:
      action: std.echo output="<% $.greeting %>, <% $.name %>"
      publish:
        message: <% task().result %>
      on-success:
        - check: <% $.message != null %>
    check:
      action: std.noop
`)
		x := r.start(d, map[string]any{"name": "World"}, nil)
		x = r.wait(x.ID)
		if x.State != engine.Success {
			t.Fatalf("state %s: %s", x.State, x.StateInfo)
		}
		got := engine.DecodeMap(x.Output)
		want := map[string]any{"message": "Hello, World", "count": int64(2)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
		ts := r.tasks(x.ID)
		if ts["check"].State != engine.Success || ts["compose"].State != engine.Success {
			t.Errorf("tasks: %+v", ts)
		}
	})
}

func TestWithItemsConcurrencyAndJoin(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		d := r.define(`
version: '2.0'
wf:
  input:
    - xs: [1, 2, 3, 4, 5]
  output:
    doubled: <% $.doubled %>
    joined: <% $.joined %>
  tasks:
    double:
      with-items: x in <% $.xs %>
      concurrency: 2
      action: std.echo output=<% $.x * 2 %>
      publish:
        doubled: <% task().result %>
      on-success: [a, b]
    a:
      action: std.noop
      publish:
        fa: 1
      on-success: j
    b:
      action: std.noop
      publish:
        fb: 2
      on-success: j
    j:
      join: all
      action: std.echo output=<% $.fa + $.fb %>
      publish:
        joined: <% task().result %>
`)
		x := r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Success {
			t.Fatalf("state %s: %s", x.State, x.StateInfo)
		}
		want := map[string]any{"doubled": []any{int64(2), int64(4), int64(6), int64(8), int64(10)}, "joined": int64(3)}
		if diff := cmp.Diff(want, engine.DecodeMap(x.Output)); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})
}

func TestFailureExplainedAndOnError(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		d := r.define(`
version: '2.0'
wf:
  tasks:
    boom:
      action: std.fail error_data="disk full"
      on-error:
        - cleanup
    cleanup:
      action: std.noop
      on-success:
        - fail msg="cleaned up after boom"
`)
		x := r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Error || !strings.Contains(x.StateInfo, "cleaned up after boom") {
			t.Fatalf("state %s: %q", x.State, x.StateInfo)
		}
		d2 := r.define(`
version: '2.0'
wf2:
  tasks:
    boom:
      action: std.http url="http://127.0.0.1:1/never"
`)
		x = r.wait(r.start(d2, nil, nil).ID)
		if x.State != engine.Error || !strings.Contains(x.StateInfo, "boom") || !strings.Contains(x.StateInfo, "std.http") {
			t.Fatalf("state %s: %q", x.State, x.StateInfo)
		}
	})
}

func TestRetryWaitAndReverse(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		d := r.define(`
version: '2.0'
wf:
  tasks:
    flaky:
      action: std.fail
      retry:
        count: 2
        delay: 0
      on-error: after
    after:
      wait-before: 1
      action: std.sleep seconds=0
`)
		start := time.Now()
		x := r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Success {
			t.Fatalf("state %s: %s", x.State, x.StateInfo)
		}
		if time.Since(start) < time.Second {
			t.Errorf("wait-before did not wait")
		}
		var n int
		_ = r.db.Read(context.Background(), func(tx *store.Tx) error {
			acts, err := tx.TaskWFActions(context.Background(), r.tasks(x.ID)["flaky"].ID, false)
			n = len(acts)
			return err
		})
		if n != 3 {
			t.Errorf("flaky ran %d times, want 3 (1 + 2 retries)", n)
		}
		rd := r.define(`
version: '2.0'
rev:
  type: reverse
  output:
    sum: <% $.a + $.b %>
  tasks:
    ta:
      action: std.echo output=1
      publish: {a: <% task().result %>}
    tb:
      action: std.echo output=2
      publish: {b: <% task().result %>}
      requires: [ta]
    tc:
      action: std.noop
      requires: [tb]
    unrelated:
      action: std.fail
`)
		x = r.wait(r.start(rd, nil, map[string]any{"task_name": "tb"}).ID)
		if x.State != engine.Success {
			t.Fatalf("reverse: %s %s", x.State, x.StateInfo)
		}
		if got := engine.DecodeMap(x.Output)["sum"]; got != int64(3) {
			t.Errorf("sum = %v", got)
		}
		if _, ran := r.tasks(x.ID)["tc"]; ran {
			t.Errorf("tc is not required by tb but ran")
		}
	})
}

func TestSubworkflowAndLongChain(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		r.define(`
version: '2.0'
child:
  input: [x]
  output:
    y: <% $.x + 1 %>
  tasks:
    t1:
      action: std.noop
`)
		d := r.define(`
version: '2.0'
parent:
  output:
    ys: <% $.ys %>
  tasks:
    run:
      with-items: x in [1, 2, 3]
      workflow: child x=<% $.x %>
      publish:
        ys: <% task().result.y %>
`)
		x := r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Success {
			t.Fatalf("state %s: %s", x.State, x.StateInfo)
		}
		if diff := cmp.Diff(map[string]any{"ys": []any{int64(2), int64(3), int64(4)}}, engine.DecodeMap(x.Output)); diff != "" {
			t.Error(diff)
		}
		var b strings.Builder
		b.WriteString("version: '2.0'\nchain:\n  tasks:\n")
		for i := 0; i < 600; i++ {
			b.WriteString("    t" + itoa(i) + ":\n      action: std.noop\n")
			if i < 599 {
				b.WriteString("      on-success: t" + itoa(i+1) + "\n")
			}
		}
		cd := r.define(b.String())
		x = r.wait(r.start(cd, nil, nil).ID)
		if x.State != engine.Success || len(r.tasks(x.ID)) != 600 {
			t.Fatalf("chain: %s %s %d tasks", x.State, x.StateInfo, len(r.tasks(x.ID)))
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPauseResumeCancelAndRerun(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		ctx := context.Background()
		// pause-before holds the execution; a resume runs the task.
		d := r.define("version: '2.0'\nheld:\n  tasks:\n    a:\n      action: std.noop\n      on-success: b\n    b:\n      pause-before: true\n      action: std.echo output=2\n      publish:\n        v: <% task().result %>\n  output:\n    v: <% $.v %>\n")
		x := r.wait(r.start(d, nil, nil).ID, engine.Paused)
		if x.State != engine.Paused || !strings.Contains(x.StateInfo, "pause-before") {
			t.Fatalf("pause-before: %s %s", x.State, x.StateInfo)
		}
		if err := r.e.SetState(ctx, x.ID, engine.Running, "", nil); err != nil {
			t.Fatal(err)
		}
		if x = r.wait(x.ID); x.State != engine.Success || engine.DecodeMap(x.Output)["v"] != int64(2) {
			t.Fatalf("after resume: %s %s %s", x.State, x.StateInfo, x.Output)
		}
		// Cancel a sleeping execution: the timer is dropped.
		d = r.define("version: '2.0'\nsleepy:\n  tasks:\n    s:\n      action: std.sleep seconds=60\n")
		x = r.start(d, nil, nil)
		time.Sleep(100 * time.Millisecond)
		if err := r.e.SetState(ctx, x.ID, engine.Cancelled, "", nil); err != nil {
			t.Fatal(err)
		}
		if x = r.wait(x.ID); x.State != engine.Cancelled || r.tasks(x.ID)["s"].State != engine.Cancelled {
			t.Fatalf("cancel: %s, task %s", x.State, r.tasks(x.ID)["s"].State)
		}
		var jobs int
		_ = r.db.Read(ctx, func(tx *store.Tx) error { js, err := tx.ExecutionWFJobs(ctx, x.ID); jobs = len(js); return err })
		if jobs != 0 {
			t.Errorf("%d jobs left after the cancel", jobs)
		}
		if err := r.e.SetState(ctx, x.ID, engine.Running, "", nil); err == nil {
			t.Error("a cancelled execution resumed")
		}
		// A failed with-items task reruns only its failed items, with an
		// updated environment, and the execution succeeds.
		d = r.define("version: '2.0'\nflaky:\n  tasks:\n    t:\n      with-items: i in [1, 2, 3]\n      action: <% switch(env().get(fail, true) and $.i = 2 => 'std.fail', true => 'std.echo') %>\n      input:\n        output: <% $.i %>\n      publish:\n        all: <% task().result %>\n  output:\n    all: <% $.all %>\n")
		x = r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Error || !strings.Contains(x.StateInfo, "item 1") {
			t.Fatalf("flaky: %s %s", x.State, x.StateInfo)
		}
		task := r.tasks(x.ID)["t"]
		if err := r.e.RerunTask(ctx, task.ID, false, map[string]any{"fail": false}); err != nil {
			t.Fatal(err)
		}
		if x = r.wait(x.ID); x.State != engine.Success || fmt.Sprint(engine.DecodeMap(x.Output)["all"]) != "[1 2 3]" {
			t.Fatalf("after the rerun: %s %s %s", x.State, x.StateInfo, x.Output)
		}
		var calls int
		_ = r.db.Read(ctx, func(tx *store.Tx) error {
			acts, err := tx.TaskWFActions(ctx, task.ID, false)
			calls = len(acts)
			return err
		})
		if calls != 4 {
			t.Errorf("%d calls, want 4 (three items, the failed one again)", calls)
		}
	})
}

func TestTimeoutWaitAfterJoinFailureAndAsync(t *testing.T) {
	eachRig(t, func(t *testing.T, r *rig) {
		ctx := context.Background()
		d := r.define("version: '2.0'\nslow:\n  tasks:\n    s:\n      action: std.sleep seconds=30\n      timeout: 1\n")
		x := r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Error || !strings.Contains(x.StateInfo, "timed out") {
			t.Fatalf("timeout: %s %s", x.State, x.StateInfo)
		}
		d = r.define("version: '2.0'\nafter:\n  tasks:\n    a:\n      action: std.noop\n      wait-after: 1\n")
		start := time.Now()
		if x = r.wait(r.start(d, nil, nil).ID); x.State != engine.Success || time.Since(start) < time.Second {
			t.Fatalf("wait-after: %s after %v", x.State, time.Since(start))
		}
		// A join whose other branch can never arrive fails, naming it.
		d = r.define("version: '2.0'\njoiner:\n  tasks:\n    a:\n      action: std.noop\n      on-success:\n        - b: <% false %>\n        - c\n    b:\n      action: std.noop\n      on-success: j\n    c:\n      action: std.noop\n      on-success: j\n    j:\n      join: all\n      action: std.noop\n")
		x = r.wait(r.start(d, nil, nil).ID)
		if x.State != engine.Error || !strings.Contains(x.StateInfo, "Failed by tasks: b") {
			t.Fatalf("join: %s %s", x.State, x.StateInfo)
		}
		// An async action completes through CompleteAction.
		d = r.define("version: '2.0'\nwaiting:\n  tasks:\n    w:\n      action: std.async_noop\n      publish:\n        got: <% task().result %>\n  output:\n    got: <% $.got %>\n")
		x = r.start(d, nil, nil)
		var act store.WFAction
		for i := 0; i < 200 && act.ID == ""; i++ {
			_ = r.db.Read(ctx, func(tx *store.Tx) error {
				acts, err := tx.TaskWFActions(ctx, r.tasks(x.ID)["w"].ID, false)
				if len(acts) > 0 {
					act = acts[0]
				}
				return err
			})
			time.Sleep(10 * time.Millisecond)
		}
		if err := r.e.CompleteAction(ctx, act.ID, engine.Success, map[string]any{"ok": true}, ""); err != nil {
			t.Fatal(err)
		}
		if x = r.wait(x.ID); x.State != engine.Success || fmt.Sprint(engine.DecodeMap(x.Output)["got"]) != "map[ok:true]" {
			t.Fatalf("async: %s %s", x.State, x.Output)
		}
	})
}
