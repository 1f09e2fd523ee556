package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/action"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// The crash child's environment.
const (
	envCrashPoint = "ONESTACK_TEST_WF_CRASH_POINT"
	envCrashDir   = "ONESTACK_TEST_WF_CRASH_DIR"
	envCrashDB    = "ONESTACK_TEST_WF_CRASH_DB"
	envCrashSafe  = "ONESTACK_TEST_WF_CRASH_SAFE"
)

// crashWorkflow has side effects before a timer, a timer, and side
// effects in a with-items task after it.
const crashWorkflow = `
version: '2.0'
crash:
  input:
    - safe
  tasks:
    a:
      action: test.effect key="a"
      safe-rerun: <% $.safe %>
      on-success: b
    b:
      wait-before: 1
      action: std.noop
      on-success: c
    c:
      with-items: i in [1, 2, 3]
      action: test.effect key=<% "c" + str($.i) %>
      safe-rerun: <% $.safe %>
`

// effectAction appends "key action-id" to dir/effects, synced: one line
// per side effect, surviving a kill.
func effectAction(dir string) *engine.Action {
	return &engine.Action{Name: "test.effect", Params: []spec.Param{{Name: "key"}}, Run: func(_ context.Context, c engine.Call) (any, error) {
		f, err := os.OpenFile(filepath.Join(dir, "effects"), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		_, err = fmt.Fprintf(f, "%v %s\n", c.Input["key"], c.ActionID)
		return c.Input["key"], err
	}}
}

func crashEngine(db *store.DB, dir string) *engine.Engine {
	reg := engine.NewRegistry(action.Std(action.Config{})...)
	reg.Add(effectAction(dir))
	return engine.New(db, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), engine.Config{Poll: 20 * time.Millisecond, Lease: 2 * time.Second})
}

func openCrashStore(t testing.TB, dir, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{URL: url, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestCrashConvergence kills (SIGKILL) a process running the engine at
// each fault point of an action's call and of a timer, restarts an engine
// on the same store and checks that the workflow finishes and that no
// side effect happened twice. Without safe-rerun, an action killed between
// its start and the record of its result is not called again: its task
// fails and says why. With safe-rerun it is called again, with the same
// action execution id, so the effect (which deduplicates by it) happens
// once and the workflow succeeds.
func TestCrashConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per crash point")
	}
	points := []string{fault.WorkflowStarted, fault.WorkflowActionStarted, fault.WorkflowActionReturned, fault.WorkflowResultApplying,
		fault.WorkflowResultApplied, fault.WorkflowTimerApplying}
	for _, backend := range storetest.Backends(t) {
		for _, safe := range []bool{false, true} {
			for _, point := range points {
				t.Run(fmt.Sprintf("%s/safe=%v/%s", backend, safe, point), func(t *testing.T) {
					dir := t.TempDir()
					url := ""
					if backend == "postgres" {
						url = storetest.PostgresURL(t)
					}
					runCrashChild(t, point, dir, url, safe)
					id, err := os.ReadFile(filepath.Join(dir, "execution"))
					if err != nil {
						t.Fatalf("the child did not record its execution: %v", err)
					}
					// The restart.
					r := newRig(t, openCrashStore(t, dir, url), effectAction(dir))
					x := r.wait(strings.TrimSpace(string(id)))
					calls := map[string]int{}
					actions := map[string]map[string]bool{}
					data, _ := os.ReadFile(filepath.Join(dir, "effects"))
					for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
						if l == "" {
							continue
						}
						key, act, _ := strings.Cut(l, " ")
						calls[key]++
						if actions[key] == nil {
							actions[key] = map[string]bool{}
						}
						actions[key][act] = true
					}
					for key, ids := range actions {
						if len(ids) != 1 {
							t.Errorf("effect %s happened in %d action executions: %v", key, len(ids), ids)
						}
						if !safe && calls[key] > 1 {
							t.Errorf("effect %s was called %d times without safe-rerun", key, calls[key])
						}
					}
					interrupted := strings.Contains(x.StateInfo, "stopped (crash or kill) before its result was recorded")
					switch {
					case x.State == engine.Success:
						for _, k := range []string{"a", "c1", "c2", "c3"} {
							if len(actions[k]) != 1 {
								t.Errorf("after SUCCESS effect %s happened %d times, want once", k, len(actions[k]))
							}
						}
					case x.State == engine.Error && interrupted && !safe:
						if calls["c1"]+calls["c2"]+calls["c3"] != 0 {
							t.Errorf("tasks after the failed one ran: %v", calls)
						}
					default:
						t.Errorf("execution %s: %s", x.State, x.StateInfo)
					}
					// Where the crash leaves nothing ambiguous the workflow must succeed.
					mustSucceed := safe || point == fault.WorkflowStarted || point == fault.WorkflowResultApplied || point == fault.WorkflowTimerApplying
					if mustSucceed && x.State != engine.Success {
						t.Errorf("execution %s after a crash at %s (safe=%v): %s", x.State, point, safe, x.StateInfo)
					}
					t.Logf("%s: calls %v", x.State, calls)
				})
			}
		}
	}
}

func runCrashChild(t *testing.T, point, dir, url string, safe bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), envCrashPoint+"="+point, envCrashDir+"="+dir, envCrashDB+"="+url, fmt.Sprintf("%s=%v", envCrashSafe, safe))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the crash child did not crash (%v):\n%s", err, out.Bytes())
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the crash child ended with %v, not killed at %s:\n%s", err, point, out.Bytes())
	}
}

// TestCrashChild is the crashing half of TestCrashConvergence.
func TestCrashChild(t *testing.T) {
	point, dir := os.Getenv(envCrashPoint), os.Getenv(envCrashDir)
	if point == "" {
		t.Skip("the child of TestCrashConvergence")
	}
	db := openCrashStore(t, dir, os.Getenv(envCrashDB))
	e := crashEngine(db, dir)
	f, err := spec.ParseWorkflows(crashWorkflow, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fault.Enable([]string{point}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	x, err := e.Start(ctx, engine.StartRequest{WorkflowName: "crash", Definition: f.Workflows[0].Definition,
		Input: map[string]any{"safe": os.Getenv(envCrashSafe) == "true"}, ProjectID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "execution"), []byte(x.ID), 0o600); err != nil {
		t.Fatal(err)
	}
	fault.Point(fault.WorkflowStarted)
	go func() { _ = e.Run(ctx) }()
	time.Sleep(30 * time.Second)
	t.Fatalf("not killed at %s within 30 s", point)
}

// TestTwoEnginesShareWork runs two engines (two controllers) on one store:
// the actions of a 200-item with-items are claimed by either, each called
// exactly once, and both take a share.
func TestTwoEnginesShareWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		var url string
		if db.Dialect() == "postgres" {
			url = storetest.PostgresURL(t)
		}
		dbA, dbB := openCrashStore(t, dir, url), openCrashStore(t, dir, url)
		mk := func(db *store.DB, who string) *engine.Engine {
			reg := engine.NewRegistry(action.Std(action.Config{})...)
			reg.Add(&engine.Action{Name: "test.effect", Params: []spec.Param{{Name: "key"}}, Run: func(_ context.Context, c engine.Call) (any, error) {
				f, err := os.OpenFile(filepath.Join(dir, "effects"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return nil, err
				}
				defer f.Close()
				time.Sleep(2 * time.Millisecond) // a call takes time: both engines get a share
				_, err = fmt.Fprintf(f, "%v %s\n", c.Input["key"], who)
				return nil, err
			}})
			return engine.New(db, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), engine.Config{Poll: 10 * time.Millisecond, Workers: 4})
		}
		a, b := mk(dbA, "a"), mk(dbB, "b")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		for _, e := range []*engine.Engine{a, b} {
			go func() { _ = e.Run(ctx); done <- struct{}{} }()
		}
		defer func() { cancel(); <-done; <-done }()
		f, err := spec.ParseWorkflows("version: '2.0'\nwide:\n  tasks:\n    t:\n      with-items: i in <% range(200) %>\n      action: test.effect key=<% $.i %>\n", spec.Options{})
		if err != nil {
			t.Fatal(err)
		}
		x, err := a.Start(ctx, engine.StartRequest{WorkflowName: "wide", Definition: f.Workflows[0].Definition, ProjectID: "p1"})
		if err != nil {
			t.Fatal(err)
		}
		r := &rig{t: t, db: dbA, e: a}
		if x = r.wait(x.ID); x.State != engine.Success {
			t.Fatalf("%s: %s", x.State, x.StateInfo)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "effects"))
		calls, by := map[string]int{}, map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			key, who, _ := strings.Cut(l, " ")
			calls[key]++
			by[who]++
		}
		if len(calls) != 200 {
			t.Errorf("%d distinct effects, want 200", len(calls))
		}
		for k, n := range calls {
			if n != 1 {
				t.Errorf("effect %s called %d times", k, n)
			}
		}
		if by["a"] == 0 || by["b"] == 0 {
			t.Errorf("one engine did all the work: %v", by)
		}
		t.Logf("calls by engine: %v", by)
	})
}
