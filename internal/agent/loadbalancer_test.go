package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/hostapi"
)

// lbPlane is plane with the load balancer side: a fixed set handed out at
// each watch (at most every few ms), and the reports received.
type lbPlane struct {
	plane
	lbMu    sync.Mutex
	set     hostapi.LoadBalancerSet
	lbRep   []hostapi.LoadBalancerStatus
	watches int
}

func (p *lbPlane) WatchLoadBalancers(ctx context.Context, _ string, since int64) (hostapi.LoadBalancerSet, error) {
	p.lbMu.Lock()
	p.watches++
	set := p.set
	p.lbMu.Unlock()
	if since >= set.Revision {
		select {
		case <-ctx.Done():
			return hostapi.LoadBalancerSet{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return set, nil
}

func (p *lbPlane) ReportLoadBalancers(_ context.Context, r hostapi.LoadBalancerReport) error {
	p.lbMu.Lock()
	defer p.lbMu.Unlock()
	p.lbRep = append(p.lbRep, r.LoadBalancers...)
	return nil
}

func (p *lbPlane) reported(id string, rev int64) (hostapi.LoadBalancerStatus, bool) {
	p.lbMu.Lock()
	defer p.lbMu.Unlock()
	for i := len(p.lbRep) - 1; i >= 0; i-- {
		if s := p.lbRep[i]; s.ID == id && s.Revision == rev {
			return s, true
		}
	}
	return hostapi.LoadBalancerStatus{}, false
}

// countingLBs is the fake data plane counting applies per load balancer,
// not ready for one until told (its VIP port not wired yet).
type countingLBs struct {
	*fake.LoadBalancers
	mu       sync.Mutex
	applies  map[string]int
	notReady map[string]bool
}

func (c *countingLBs) Apply(ctx context.Context, lb hostapi.LoadBalancer) error {
	c.mu.Lock()
	if c.notReady[lb.ID] {
		c.mu.Unlock()
		return hostapi.ErrNotReady
	}
	c.applies[lb.ID]++
	c.mu.Unlock()
	return c.LoadBalancers.Apply(ctx, lb)
}

func (c *countingLBs) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applies[id]
}

// TestLoadBalancerLoopConverges: an agent starting on a host that has a
// load balancer of an earlier life (a kill -9) and a stale one applies
// every load balancer of its set, removes the stale one, reports each
// revision once applied, holds back one whose VIP is not wired yet (no
// failure reported) until it is, and a second agent started on the same
// host after the first is killed converges the same way with nothing
// removed that is wanted.
func TestLoadBalancerLoopConverges(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &countingLBs{LoadBalancers: fake.NewLoadBalancers(log), applies: map[string]int{}, notReady: map[string]bool{"lb-c": true}}
	ctx := context.Background()
	for _, id := range []string{"lb-a", "stale"} {
		if err := d.LoadBalancers.Apply(ctx, hostapi.LoadBalancer{ID: id, Revision: 1}); err != nil {
			t.Fatal(err)
		}
	}
	p := &lbPlane{set: hostapi.LoadBalancerSet{Host: "h1", Revision: 7, LoadBalancers: []hostapi.LoadBalancer{
		{ID: "lb-a", Revision: 5, AdminUp: true}, {ID: "lb-b", Revision: 7, AdminUp: true}, {ID: "lb-c", Revision: 6, AdminUp: true}}}}
	start := func() context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		a := New(p, fake.New(log, 8, 8192, 100), log, Config{Host: "h1", LoadBalancers: d})
		go func() { _ = a.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 10 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stop := start()
	wait("lb-a and lb-b reported applied", func() bool {
		_, a := p.reported("lb-a", 5)
		_, b := p.reported("lb-b", 7)
		return a && b
	})
	wait("the stale load balancer removed", func() bool {
		have, _ := d.List(ctx)
		return !slices.Contains(have, "stale")
	})
	if s, ok := p.reported("lb-c", 6); ok {
		t.Fatalf("lb-c reported while its VIP is not wired: %+v", s)
	}
	d.mu.Lock()
	d.notReady["lb-c"] = false
	d.mu.Unlock()
	wait("lb-c applied once its VIP is wired (the retry)", func() bool { _, ok := p.reported("lb-c", 6); return ok })
	if s, _ := p.reported("lb-c", 6); s.Error != "" {
		t.Errorf("lb-c reported an error: %s", s.Error)
	}
	// Unchanged revisions are not applied again by the same agent.
	time.Sleep(100 * time.Millisecond)
	if n := d.count("lb-a"); n != 1 {
		t.Errorf("lb-a applied %d times by one agent with an unchanged revision, want 1", n)
	}
	stop() // as kill -9 would: nothing is removed on the way out

	have, _ := d.List(ctx)
	if !slices.Equal(have, []string{"lb-a", "lb-b", "lb-c"}) {
		t.Fatalf("after the agent stopped the host has %v, want its three load balancers left running", have)
	}
	p.lbMu.Lock()
	p.lbRep = nil
	p.lbMu.Unlock()
	stop = start()
	defer stop()
	wait("the restarted agent reports every load balancer again", func() bool {
		_, a := p.reported("lb-a", 5)
		_, b := p.reported("lb-b", 7)
		_, c := p.reported("lb-c", 6)
		return a && b && c
	})
	if have, _ := d.List(ctx); !slices.Equal(have, []string{"lb-a", "lb-b", "lb-c"}) {
		t.Errorf("after the restart the host has %v, want the same three", have)
	}
	if n := d.count("lb-a"); n != 2 {
		t.Errorf("lb-a applied %d times over two agents, want 2 (once each: Apply is idempotent)", n)
	}
}
