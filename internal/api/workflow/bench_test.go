package workflow_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
)

// BenchmarkAPIAt100kTasks measures the latency of creating an execution
// and of listing tasks through the API when the store holds 100,000 task
// executions (100 executions of a 1,000-task chain).
func BenchmarkAPIAt100kTasks(b *testing.B) {
	e := cloudtest.New(b)
	token := e.Token(b, "admin", cloudtest.AdminPassword, "admin")
	svc := e.Cloud.Workflow
	ctx := context.Background()
	var s strings.Builder
	s.WriteString("version: '2.0'\nchain:\n  tasks:\n")
	for i := 0; i < 1000; i++ {
		s.WriteString("    t" + strconv.Itoa(i) + ":\n      action: std.noop\n")
		if i < 999 {
			s.WriteString("      on-success: t" + strconv.Itoa(i+1) + "\n")
		}
	}
	do := func(method, path, body string, ctype string) cloudtest.Response {
		var hdr []string
		if ctype != "" {
			hdr = []string{"Content-Type", ctype}
		}
		var raw []byte
		if body != "" {
			raw = []byte(body)
		}
		return e.Do(b, method, "/workflow/v2"+path, token, raw, hdr...)
	}
	if r := do("POST", "/workflows", s.String(), "text/plain"); r.Status != http.StatusCreated {
		b.Fatalf("create chain: %d %s", r.Status, r.Body)
	}
	if r := do("POST", "/workflows", "version: '2.0'\nsmall:\n  tasks:\n    t:\n      action: std.noop\n", "text/plain"); r.Status != http.StatusCreated {
		b.Fatalf("create small: %d %s", r.Status, r.Body)
	}
	c, err := e.Cloud.Identity.Validate(ctx, token)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 100; i++ {
		if _, err := svc.CreateExecution(ctx, c, wfsvc.ExecRequest{WorkflowName: "chain"}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		var n int
		_ = e.Cloud.DB.Read(ctx, func(tx *store.Tx) error {
			rows, err := tx.ListWFExecutions(ctx, store.WFList{Conds: []store.WFCond{{Col: "state", Op: "eq", Vals: []any{"RUNNING"}}}, Limit: 1000})
			n = len(rows)
			return err
		})
		if n == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("seeded 100,000 tasks in %v", time.Since(start))
	b.Run("execution-create", func(b *testing.B) {
		for b.Loop() {
			if r := do("POST", "/executions", `{"workflow_name": "small"}`, "application/json"); r.Status != http.StatusCreated {
				b.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/create")
	})
	b.Run("task-list-100", func(b *testing.B) {
		for b.Loop() {
			if r := do("GET", "/tasks?limit=100", "", ""); r.Status != http.StatusOK {
				b.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
	})
	b.Run("task-list-100-last-page", func(b *testing.B) {
		for b.Loop() {
			if r := do("GET", "/tasks?limit=100&sort_keys=created_at&sort_dirs=desc", "", ""); r.Status != http.StatusOK {
				b.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
	})
}
