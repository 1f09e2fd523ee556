package workflow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/fault"
	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/action"
)

const (
	envCronPoint = "ONESTACK_TEST_CRON_CRASH_POINT"
	envCronDir   = "ONESTACK_TEST_CRON_CRASH_DIR"
	envCronDB    = "ONESTACK_TEST_CRON_CRASH_DB"
)

// TestCronCrash kills (SIGKILL) a process firing a cron trigger inside
// the transaction that fires it and right after its commit; after a
// restart the tick has started exactly one execution.
func TestCronCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per crash point")
	}
	for _, backend := range storetest.Backends(t) {
		for _, point := range []string{fault.WorkflowCronFiring, fault.WorkflowCronFired} {
			t.Run(backend+"/"+point, func(t *testing.T) {
				dir := t.TempDir()
				url := ""
				if backend == "postgres" {
					url = storetest.PostgresURL(t)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCronCrashChild$", "-test.v")
				cmd.Env = append(os.Environ(), envCronPoint+"="+point, envCronDir+"="+dir, envCronDB+"="+url)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
					t.Fatalf("the child was not killed at %s (%v):\n%s", point, err, out.Bytes())
				}
				db, err := store.Open(context.Background(), store.Options{URL: url, DataDir: dir})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				s := wfsvc.New(db, nil, action.Std(action.Config{}), slog.New(slog.NewTextHandler(io.Discard, nil)), wfsvc.Config{})
				if err := s.FireDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				xs, err := s.ListExecutions(context.Background(), admin(), wfsvc.ListQuery{All: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(xs) != 1 {
					t.Errorf("%d executions for one tick after a crash at %s, want 1", len(xs), point)
				}
			})
		}
	}
}

// TestCronCrashChild is the crashing half of TestCronCrash.
func TestCronCrashChild(t *testing.T) {
	point, dir := os.Getenv(envCronPoint), os.Getenv(envCronDir)
	if point == "" {
		t.Skip("the child of TestCronCrash")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{URL: os.Getenv(envCronDB), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := wfsvc.New(db, nil, action.Std(action.Config{}), slog.New(slog.NewTextHandler(io.Discard, nil)), wfsvc.Config{})
	c := admin()
	if _, err := s.CreateWorkflows(ctx, c, "version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.noop\n", "", ""); err != nil {
		t.Fatal(err)
	}
	def, err := s.GetDefinition(ctx, c, store.WFKindWorkflow, "tick", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateWFCronTrigger(ctx, store.WFCronTrigger{ID: uuid.NewString(), Name: "every-minute", ProjectID: "p1", Scope: "private",
			Pattern: "* * * * *", WorkflowID: def.ID, WorkflowName: "tick", WorkflowInput: "{}", WorkflowParams: "{}",
			NextExecutionTime: now.Add(-time.Second), Auth: "{}", CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := fault.Enable([]string{point}); err != nil {
		t.Fatal(err)
	}
	_ = s.FireDue(ctx)
	t.Fatalf("not killed at %s", point)
}
