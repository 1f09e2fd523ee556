package workflow_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
	"github.com/onestack/onestack/internal/workflow/action"
)

func admin() *auth.Credentials {
	return &auth.Credentials{User: auth.Ref{ID: "u1", Name: "admin"}, Project: &auth.Ref{ID: "p1", Name: "admin"},
		Roles: []auth.Ref{{Name: "admin"}, {Name: "member"}, {Name: "reader"}}}
}

// BenchmarkCronFiringDelay fires 200 cron triggers due within two
// seconds and reports the delay between each tick and the start of its
// execution (p50, p99, max).
func BenchmarkCronFiringDelay(b *testing.B) {
	db := storetest.New(b)
	s := wfsvc.New(db, nil, action.Std(action.Config{}), slog.New(slog.NewTextHandler(io.Discard, nil)), wfsvc.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	c := admin()
	if _, err := s.CreateWorkflows(ctx, c, "version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.noop\n", "", ""); err != nil {
		b.Fatal(err)
	}
	def, err := s.GetDefinition(ctx, c, store.WFKindWorkflow, "tick", "")
	if err != nil {
		b.Fatal(err)
	}
	var delays []time.Duration
	for b.Loop() {
		const n = 200
		ticks := map[string]time.Time{}
		now := time.Now().UTC().Truncate(time.Millisecond)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for i := 0; i < n; i++ {
				id := uuid.NewString()
				tick := now.Add(500*time.Millisecond + time.Duration(i)*10*time.Millisecond)
				ticks[id] = tick
				one := int64(1)
				if err := tx.CreateWFCronTrigger(ctx, store.WFCronTrigger{ID: id, Name: "t-" + id, ProjectID: "p1", Scope: "private", Pattern: "",
					WorkflowID: def.ID, WorkflowName: "tick", WorkflowInput: "{}", WorkflowParams: "{}", NextExecutionTime: tick,
					RemainingExecutions: &one, Auth: "{}", CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			xs, err := s.ListExecutions(ctx, c, wfsvc.ListQuery{Limit: 1000, All: true})
			if err != nil {
				b.Fatal(err)
			}
			var got []time.Duration
			for _, x := range xs {
				for id, tick := range ticks {
					if strings.Contains(x.Description, id) {
						got = append(got, x.CreatedAt.Sub(tick))
					}
				}
			}
			if len(got) == n {
				delays = append(delays, got...)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d triggers fired", len(got), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = db.Write(ctx, func(tx *store.Tx) error {
			xs, _ := tx.ListWFExecutions(ctx, store.WFList{Limit: 10000})
			for _, x := range xs {
				_ = tx.DeleteWFExecution(ctx, x.ID)
			}
			return nil
		})
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	p := func(q float64) float64 { return float64(delays[int(q*float64(len(delays)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
	_ = fmt.Sprint
}
