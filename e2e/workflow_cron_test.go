package e2e

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// cronEnv turns on TestWorkflowCronTwoControllers: it waits for real
// minute ticks (about three and a half minutes).
const cronEnv = "ONESTACK_E2E_CRON"

// TestWorkflowCronTwoControllers runs a cron trigger every minute on two
// `onestack controller` processes sharing one PostgreSQL database: the
// first tick fires once with both up; controller A is killed with SIGKILL
// and the next tick fires once on B alone; A starts again and the tick
// after fires once. Every minute from the first tick to the last has
// exactly one execution, created through the CLI-made trigger.
func TestWorkflowCronTwoControllers(t *testing.T) {
	requireCLI(t)
	if os.Getenv(cronEnv) != "1" {
		t.Skipf("waits for real minute ticks (about 3.5 minutes): set %s=1 to run it", cronEnv)
	}
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("%s not set: two controllers need PostgreSQL", postgresEnv)
	}
	db := freshPostgres(t, base)
	dataDir := t.TempDir()
	password := "pw-" + randomHex(t, 12)
	lb := newBalancer(t)
	a := startController(t, db, dataDir, password, lb.URL)
	b := startController(t, db, dataDir, password, lb.URL)
	lb.setBackends(a.Listen, b.Listen)
	env := (&Cloud{URL: lb.URL}).PasswordEnv("admin", password, "admin")

	MustRun(t, env, "workflow", "create", workflowFile(t, "tick.yaml", "version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.noop\n"))
	var trig map[string]any
	RunJSON(t, env, &trig, "cron", "trigger", "create", "every-minute", "tick", "--pattern", "* * * * *")
	if trig["Pattern"] != "* * * * *" {
		t.Fatalf("trigger: %v", trig)
	}
	// executions lists the trigger's executions by the minute they started.
	executions := func() map[string]int {
		var xs []map[string]any
		RunJSON(t, env, &xs, "workflow", "execution", "list", "--filter", "workflow_name=tick")
		perMinute := map[string]int{}
		for _, x := range xs {
			created, _ := x["Created at"].(string)
			if len(created) >= 16 {
				perMinute[created[:16]]++
			}
		}
		return perMinute
	}
	waitTicks := func(n int) map[string]int {
		deadline := time.Now().Add(time.Duration(n+1) * 70 * time.Second)
		for {
			m := executions()
			if len(m) >= n {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d ticks fired (want %d): %v", len(m), n, m)
			}
			time.Sleep(2 * time.Second)
		}
	}
	waitTicks(1)
	if err := a.proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.proc.exited
	lb.setBackends(b.Listen)
	waitTicks(2)
	a.start(t, false)
	lb.setBackends(a.Listen, b.Listen)
	m := waitTicks(3)
	time.Sleep(5 * time.Second) // a late double would show now
	m = executions()
	var minutes []string
	for k, n := range m {
		minutes = append(minutes, k)
		if n != 1 {
			t.Errorf("minute %s has %d executions, want 1", k, n)
		}
	}
	sort.Strings(minutes)
	for i := 1; i < len(minutes); i++ {
		prev, _ := time.Parse("2006-01-02 15:04", minutes[i-1])
		cur, _ := time.Parse("2006-01-02 15:04", minutes[i])
		if cur.Sub(prev) != time.Minute {
			t.Errorf("ticks skipped between %s and %s: %v", minutes[i-1], minutes[i], minutes)
		}
	}
	t.Logf("executions per minute: %s", strings.Join(minutes, ", "))
	MustRun(t, env, "cron", "trigger", "delete", "every-minute")
}
