package haproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// The data plane's benchmarks, on real HAProxy in a namespace in front of
// member processes in another (run as root):
//
//	go test -run '^$' -bench . -benchtime 5s ./internal/driver/haproxy/
//
// Members are this test binary's helper mode (a Go HTTP server), on the
// same 2-core machine as HAProxy and the clients: the figures compare the
// load balancer's path with the direct one in one run; they are not a
// capacity of HAProxy.

var benchMembers = map[string]string{"m1": "10.9.0.11", "m2": "10.9.0.12", "m3": "10.9.0.13"}

// benchLB is a load balancer over the three members: HTTP on port 80 and
// TCP on port 81, round robin, HTTP health checks every second, down
// after two failures.
func benchLB() hostapi.LoadBalancer {
	mon := &hostapi.Monitor{ID: "hm", Type: "HTTP", Delay: 1, Timeout: 1, MaxRetries: 1, MaxRetriesDown: 2, HTTPMethod: "GET", URLPath: "/", ExpectedCodes: "200", AdminUp: true}
	var ms, raw []hostapi.Member
	for _, name := range []string{"m1", "m2", "m3"} {
		ms = append(ms, hostapi.Member{ID: name, Address: benchMembers[name], Port: 80, Weight: 1, AdminUp: true})
		raw = append(raw, hostapi.Member{ID: "raw-" + name, Address: benchMembers[name], Port: 80, Weight: 1, AdminUp: true})
	}
	return hostapi.LoadBalancer{ID: "bench", Revision: 1, AdminUp: true, VIPAddress: "10.9.0.2",
		Listeners: []hostapi.Listener{
			{ID: "http", Protocol: "HTTP", Port: 80, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "web",
				TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000},
			{ID: "tcp", Protocol: "TCP", Port: 81, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "raw",
				TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000},
		},
		Pools: []hostapi.Pool{
			{ID: "web", Protocol: "HTTP", Algorithm: "ROUND_ROBIN", AdminUp: true, Monitor: mon, Members: ms},
			{ID: "raw", Protocol: "TCP", Algorithm: "ROUND_ROBIN", AdminUp: true, Members: raw},
		}}
}

func benchbed(b *testing.B) *testbed {
	tb := newTestbed(b, benchMembers)
	ctx := context.Background()
	b.Cleanup(func() { tb.d.Remove(ctx, "bench"); tb.d.Close() })
	if err := tb.d.Apply(ctx, benchLB()); err != nil {
		b.Fatal(err)
	}
	waitUp(b, tb, "m1", "m2", "m3")
	return tb
}

func waitUp(b *testing.B, tb *testbed, names ...string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := tb.d.Observe(context.Background(), "bench")
		up := err == nil
		for _, n := range names {
			up = up && st.Members[n] == hostapi.HealthUp
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("members %v not up: %v (%v)", names, st.Members, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("%s", resp.Status)
	}
	return err
}

// latencies collects per-request durations from parallel clients.
type latencies struct {
	mu   sync.Mutex
	d    []time.Duration
	errs int
}

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs++
		return
	}
	l.d = append(l.d, d)
}

func (l *latencies) report(b *testing.B, elapsed time.Duration, unit string) {
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	pct := func(p float64) float64 {
		if len(l.d) == 0 {
			return 0
		}
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), unit)
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(l.errs), "errors")
}

// BenchmarkHTTP: requests per second and latency through the load
// balancer to three members, against the same clients requesting one
// member directly; a new connection per request, 4 clients per core.
func BenchmarkHTTP(b *testing.B) {
	tb := benchbed(b)
	c := tb.client(10 * time.Second)
	for _, target := range []struct{ name, url string }{{"direct-1-member", "http://10.9.0.11/"}, {"lb-3-members", "http://10.9.0.2/"}} {
		b.Run(target.name, func(b *testing.B) {
			var l latencies
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s := time.Now()
					err := get(c, target.url)
					l.add(time.Since(s), err)
				}
			})
			l.report(b, time.Since(start), "req/s")
		})
	}
}

// BenchmarkTCPConnections: TCP connections per second (connect, one
// request, read to the end, close) through a TCP listener against one
// member directly.
func BenchmarkTCPConnections(b *testing.B) {
	tb := benchbed(b)
	for _, target := range []struct{ name, addr string }{{"direct-1-member", "10.9.0.11:80"}, {"lb-3-members", "10.9.0.2:81"}} {
		b.Run(target.name, func(b *testing.B) {
			var l latencies
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s := time.Now()
					c, err := tb.dial(target.addr)
					if err == nil {
						c.SetDeadline(time.Now().Add(10 * time.Second))
						_, err = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
						if err == nil {
							_, err = io.Copy(io.Discard, c)
						}
						c.Close()
					}
					l.add(time.Since(s), err)
				}
			})
			l.report(b, time.Since(start), "conn/s")
		})
	}
}

// BenchmarkMemberDeath: from a member's kill -9 to HAProxy's health check
// taking it out (delay 1 s, down after 2 failures), with clients running;
// errors counts requests that failed (HAProxy retries a refused connection
// on another member, so there should be none).
func BenchmarkMemberDeath(b *testing.B) {
	tb := benchbed(b)
	c := tb.client(10 * time.Second)
	var total time.Duration
	errs := 0
	for b.Loop() {
		b.StopTimer()
		waitUp(b, tb, "m1", "m2", "m3")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := get(c, "http://10.9.0.2/"); err != nil {
						mu.Lock()
						errs++
						mu.Unlock()
					}
				}
			}()
		}
		b.StartTimer()
		start := time.Now()
		tb.kill("m3")
		for {
			st, _ := tb.d.Observe(context.Background(), "bench")
			if st.Members["m3"] == hostapi.HealthDown {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		tb.start(b, "m3")
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-down")
	b.ReportMetric(float64(errs), "errors")
}

// BenchmarkApplyToTraffic: a new load balancer (HTTP listener, a pool of
// three members) applied in its namespace until the first request through
// the VIP answers.
func BenchmarkApplyToTraffic(b *testing.B) {
	tb := newTestbed(b, benchMembers)
	ctx := context.Background()
	b.Cleanup(func() { tb.d.Remove(ctx, "bench"); tb.d.Close() })
	c := tb.client(2 * time.Second)
	lb := benchLB()
	lb.Listeners = lb.Listeners[:1]
	for b.Loop() {
		if err := tb.d.Apply(ctx, lb); err != nil {
			b.Fatal(err)
		}
		for get(c, "http://10.9.0.2/") != nil {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		if err := tb.d.Remove(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
