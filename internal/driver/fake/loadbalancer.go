package fake

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/onestack/onestack/internal/hostapi"
)

// LoadBalancers is a load balancer data plane that runs nothing: every
// load balancer applies at once and its monitored members are UP. For the
// fake hypervisor's hosts (API tests, scale benchmarks) only.
type LoadBalancers struct {
	log *slog.Logger
	mu  sync.Mutex
	lbs map[string]hostapi.LoadBalancer
}

// NewLoadBalancers returns an empty fake load balancer data plane.
func NewLoadBalancers(log *slog.Logger) *LoadBalancers {
	return &LoadBalancers{log: log, lbs: map[string]hostapi.LoadBalancer{}}
}

// Apply records lb.
func (f *LoadBalancers) Apply(_ context.Context, lb hostapi.LoadBalancer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lbs[lb.ID] = lb
	return nil
}

// Remove forgets a load balancer.
func (f *LoadBalancers) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.lbs, id)
	return nil
}

// List returns the recorded load balancers.
func (f *LoadBalancers) List(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.lbs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// Observe says monitored members are UP, disabled ones MAINT, the others
// NO_CHECK; counters are zero.
func (f *LoadBalancers) Observe(_ context.Context, id string) (hostapi.LoadBalancerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := hostapi.LoadBalancerStatus{ID: id, Members: map[string]string{}, Listeners: map[string]hostapi.ListenerStats{}}
	lb := f.lbs[id]
	for _, p := range lb.Pools {
		for _, m := range p.Members {
			switch {
			case !m.AdminUp:
				st.Members[m.ID] = hostapi.HealthMaint
			case p.Monitor != nil && p.Monitor.AdminUp:
				st.Members[m.ID] = hostapi.HealthUp
			default:
				st.Members[m.ID] = hostapi.HealthNoCheck
			}
		}
	}
	for _, l := range lb.Listeners {
		st.Listeners[l.ID] = hostapi.ListenerStats{}
	}
	return st, nil
}
