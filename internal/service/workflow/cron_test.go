package workflow_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/action"
)

// TestCronMissedTicksAndCount: a trigger whose ticks were missed (no
// controller ran) fires once, then waits for the next tick after now, as
// Mistral does; a trigger with remaining_executions counts down and is
// deleted after its last execution; two services on one store firing the
// same due triggers start each tick once.
func TestCronMissedTicksAndCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		a := wfsvc.New(db, nil, action.Std(action.Config{}), log, wfsvc.Config{})
		b := wfsvc.New(db, nil, action.Std(action.Config{}), log, wfsvc.Config{})
		c := admin()
		if _, err := a.CreateWorkflows(ctx, c, "version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.noop\n", "", ""); err != nil {
			t.Fatal(err)
		}
		def, err := a.GetDefinition(ctx, c, store.WFKindWorkflow, "tick", "")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		two := int64(2)
		mk := func(name string, next time.Time, remaining *int64) {
			err := db.Write(ctx, func(tx *store.Tx) error {
				return tx.CreateWFCronTrigger(ctx, store.WFCronTrigger{ID: uuid.NewString(), Name: name, ProjectID: "p1", Scope: "private",
					Pattern: "* * * * *", WorkflowID: def.ID, WorkflowName: "tick", WorkflowInput: "{}", WorkflowParams: "{}",
					NextExecutionTime: next, RemainingExecutions: remaining, Auth: "{}", CreatedAt: now, UpdatedAt: now})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		mk("missed", now.Add(-10*time.Minute), nil)
		mk("counted", now.Add(-time.Second), &two)
		// Both services fire at once.
		var wg sync.WaitGroup
		for _, s := range []*wfsvc.Service{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); _ = s.FireDue(ctx) }()
		}
		wg.Wait()
		xs, err := a.ListExecutions(ctx, c, wfsvc.ListQuery{All: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(xs) != 2 {
			t.Fatalf("%d executions after one firing round, want 2 (one per trigger)", len(xs))
		}
		missed, err := a.GetCronTrigger(ctx, c, "missed")
		if err != nil {
			t.Fatal(err)
		}
		if !missed.NextExecutionTime.After(time.Now().Add(-time.Second)) {
			t.Errorf("missed ticks are not skipped: next %v", missed.NextExecutionTime)
		}
		counted, err := a.GetCronTrigger(ctx, c, "counted")
		if err != nil || *counted.RemainingExecutions != 1 {
			t.Fatalf("counted: %v %v", counted.RemainingExecutions, err)
		}
		// Its last tick: fired, then the trigger is gone.
		_ = db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.AdvanceWFCronTrigger(ctx, counted.ID, counted.NextExecutionTime, time.Now().Add(-time.Second), counted.RemainingExecutions, time.Now())
			return err
		})
		if err := a.FireDue(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.GetCronTrigger(ctx, c, "counted"); err == nil {
			t.Error("the trigger outlived its last execution")
		}
		if xs, _ = a.ListExecutions(ctx, c, wfsvc.ListQuery{All: true}); len(xs) != 3 {
			t.Errorf("%d executions, want 3", len(xs))
		}
	})
}
