package bench_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/bench"
	"github.com/onestack/onestack/internal/cloudtest"
)

func TestRunBootsListsShowsDeletes(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{Hosts: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		CloudURL:    env.URL,
		Credentials: bench.Credentials{Username: "admin", Password: cloudtest.AdminPassword, UserDomain: "Default", Project: "admin", ProjectDomain: "Default"},
		Servers:     30, Concurrency: 4, ListLimit: 7, ShowSample: 20,
		WaitTimeout: time.Minute,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
	for k, want := range map[string]float64{"servers": 30, "active": 30, "failures": 0, "errors": 0, "list_pages": 5} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v (failures: %v)", k, doc[k], want, doc["failure_samples"])
		}
	}
	if n, _ := doc["listed"].(float64); n < 30 {
		t.Errorf("listed = %v, want at least 30", doc["listed"])
	}
	for _, k := range []string{"active_per_second", "deletes_per_second", "peak_rss_mb"} {
		if v, ok := doc[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, doc[k])
		}
	}
	for _, k := range []string{"create", "list", "show", "delete"} {
		l, _ := doc[k].(map[string]any)
		for _, f := range []string{"count", "p50_ms", "p99_ms"} {
			if v, ok := l[f].(float64); !ok || v <= 0 {
				t.Errorf("%s.%s = %v, want a positive number", k, f, l[f])
			}
		}
	}
	// The cloud listens in this process: found from the URL's port.
	if res.ControlPlanePID != os.Getpid() {
		t.Errorf("control plane pid %d, want this process %d", res.ControlPlanePID, os.Getpid())
	}
	// Everything was deleted again.
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	r := env.Do(t, "GET", "/compute/v2.1/servers", tok, nil)
	if got := len(r.JSON(t)["servers"].([]any)); got != 0 {
		t.Errorf("%d servers left after the bench", got)
	}
}

func TestRunChurn(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{Hosts: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		CloudURL:    env.URL,
		Credentials: bench.Credentials{Username: "admin", Password: cloudtest.AdminPassword, UserDomain: "Default", Project: "admin", ProjectDomain: "Default"},
		Concurrency: 4, Churn: 3 * time.Second, Rate: 10, Lifetime: time.Second,
		DataDir: env.Cloud.DataDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures != 0 || res.Errors != 0 {
		t.Errorf("failures %d, errors %d: %v", res.Failures, res.Errors, res.FailureSamples)
	}
	if res.Churn == nil || res.Churn.Creates == 0 || res.Churn.Deletes == 0 || len(res.Churn.Minutes) != 1 {
		t.Fatalf("churn result: %+v", res.Churn)
	}
	if _, ok := res.Churn.DBBytesEnd.(int64); !ok {
		t.Errorf("db_bytes_end = %v, want a size", res.Churn.DBBytesEnd)
	}
}

func TestRunRefusesRemoteClouds(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:8000", "http://example.com", "ftp://127.0.0.1"} {
		_, err := bench.Run(context.Background(), bench.Config{CloudURL: u, Servers: 1})
		if err == nil {
			t.Errorf("%s: want an error", u)
		}
	}
}

// BenchmarkFleet boots 2,000 servers on 100 fake hosts with 32 clients
// through the whole HTTP path (API, scheduler, agents), lists, shows and
// deletes them, and reports the figures of issue 8 for the last wave. One
// wave is one iteration: run with -benchtime=1x.
func BenchmarkFleet(b *testing.B) {
	env := cloudtest.NewWith(b, cloudtest.Options{Hosts: 100})
	var res *bench.Result
	for b.Loop() {
		var err error
		res, err = bench.Run(context.Background(), bench.Config{
			CloudURL:    env.URL,
			Credentials: bench.Credentials{Username: "admin", Password: cloudtest.AdminPassword, UserDomain: "Default", Project: "admin", ProjectDomain: "Default"},
			Servers:     2000, Concurrency: 32, ShowSample: 500, PID: os.Getpid(),
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Failures != 0 || res.Errors != 0 {
			b.Fatalf("failures %d, errors %d: %v", res.Failures, res.Errors, res.FailureSamples)
		}
	}
	b.ReportMetric(res.ActivePerSecond, "active/s")
	b.ReportMetric(res.DeletesPerSecond, "deletes/s")
	b.ReportMetric(res.Create.P99, "create-p99-ms")
	b.ReportMetric(res.List.P99, "list-p99-ms")
	b.ReportMetric(res.Show.P99, "show-p99-ms")
}
