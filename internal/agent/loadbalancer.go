package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// LoadBalancerDriver is a host's load balancer data plane as the agent
// uses it.
type LoadBalancerDriver interface {
	// Apply makes load balancer lb run as described; idempotent. The error
	// says, in words a user can act on, why it could not.
	Apply(ctx context.Context, lb hostapi.LoadBalancer) error
	// Remove stops a load balancer and removes its files; removing an
	// absent one is not an error.
	Remove(ctx context.Context, id string) error
	// List returns the load balancers present on the host.
	List(ctx context.Context) ([]string, error)
	// Observe returns a load balancer's member health and counters.
	Observe(ctx context.Context, id string) (hostapi.LoadBalancerStatus, error)
}

// observeEvery is how often the agent reads its load balancers' health
// (a member's death is reported at most this long after HAProxy sees it);
// statsEvery how often counters alone are reported.
const (
	observeEvery = time.Second
	statsEvery   = 10 * time.Second
)

// lbState is what the load balancer loop remembers of one load balancer.
type lbState struct {
	applied  int64  // revision applied without error
	failed   int64  // revision that failed, with err
	err      string // why
	health   map[string]string
	reported time.Time
}

// loadBalancerLoop watches the host's load balancers, applies them,
// removes the ones no longer wanted, and reports what it applied and what
// it observes, until ctx ends. A restarted agent applies everything again
// (Apply is idempotent: an unchanged HAProxy is left running).
func (a *Agent) loadBalancerLoop(ctx context.Context, plane hostapi.LoadBalancerPlane, d LoadBalancerDriver) {
	state := map[string]*lbState{}
	sets := make(chan hostapi.LoadBalancerSet, 1)
	go func() {
		var since int64
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			set, err := plane.WatchLoadBalancers(ctx, a.cfg.Host, since)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Warn("watching the host's load balancers failed; retrying", "error", err, "retry_in", backoff)
				if wait(ctx, backoff) != nil {
					return
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			if set.Revision > since || since == 0 {
				select {
				case <-sets:
				default:
				}
				sets <- set
			}
			since = set.Revision
		}
	}()
	tick := time.NewTicker(observeEvery)
	defer tick.Stop()
	var current *hostapi.LoadBalancerSet
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case set := <-sets:
			current = &set
			if a.applyLoadBalancers(ctx, plane, d, set, state) {
				retry.Reset(5 * time.Second)
			}
		case <-retry.C:
			if current != nil && a.applyLoadBalancers(ctx, plane, d, *current, state) {
				retry.Reset(5 * time.Second)
			}
		case <-tick.C:
			a.observeLoadBalancers(ctx, plane, d, state)
		}
	}
}

// applyLoadBalancers makes the host match set and reports; it returns
// whether something failed and should be tried again.
func (a *Agent) applyLoadBalancers(ctx context.Context, plane hostapi.LoadBalancerPlane, d LoadBalancerDriver, set hostapi.LoadBalancerSet, state map[string]*lbState) bool {
	var rep hostapi.LoadBalancerReport
	rep.Host = a.cfg.Host
	again := false
	want := map[string]bool{}
	for _, lb := range set.LoadBalancers {
		st := state[lb.ID]
		if st == nil {
			st = &lbState{}
			state[lb.ID] = st
		}
		if lb.Delete {
			if err := d.Remove(ctx, lb.ID); err != nil {
				a.log.Warn("removing a load balancer failed", "loadbalancer_id", lb.ID, "error", err)
				again = true
				continue
			}
			delete(state, lb.ID)
			rep.LoadBalancers = append(rep.LoadBalancers, hostapi.LoadBalancerStatus{ID: lb.ID, Revision: lb.Revision, Deleted: true})
			continue
		}
		want[lb.ID] = true
		if st.applied == lb.Revision {
			continue
		}
		status := hostapi.LoadBalancerStatus{ID: lb.ID, Revision: lb.Revision}
		start := time.Now()
		if err := d.Apply(ctx, lb); errors.Is(err, hostapi.ErrNotReady) {
			a.log.Info("load balancer not applied yet", "loadbalancer_id", lb.ID, "reason", err)
			again = true
			continue
		} else if err != nil {
			status.Error = err.Error()
			st.failed, st.err = lb.Revision, status.Error
			again = true
			a.log.Warn("load balancer not applied", "loadbalancer_id", lb.ID, "revision", lb.Revision, "error", err)
		} else {
			st.applied, st.err = lb.Revision, ""
			a.log.Info("load balancer applied", "loadbalancer_id", lb.ID, "revision", lb.Revision, "took", time.Since(start))
			if obs, err := d.Observe(ctx, lb.ID); err == nil {
				status.Members, status.Listeners = obs.Members, obs.Listeners
				st.health = obs.Members
			}
		}
		st.reported = time.Now()
		rep.LoadBalancers = append(rep.LoadBalancers, status)
	}
	// What the host has that is no longer its own (deleted, moved away).
	if have, err := d.List(ctx); err == nil {
		for _, id := range have {
			if !want[id] {
				if err := d.Remove(ctx, id); err != nil {
					a.log.Warn("removing a stale load balancer failed", "loadbalancer_id", id, "error", err)
					again = true
				} else {
					delete(state, id)
				}
			}
		}
	} else {
		again = true
	}
	for id := range state {
		if !want[id] {
			delete(state, id)
		}
	}
	if len(rep.LoadBalancers) > 0 {
		if err := plane.ReportLoadBalancers(ctx, rep); err != nil && ctx.Err() == nil {
			a.log.Warn("reporting load balancers failed", "error", err)
			for _, s := range rep.LoadBalancers {
				if st := state[s.ID]; st != nil {
					st.applied = 0 // report again next time
				}
			}
			again = true
		}
	}
	return again
}

// observeLoadBalancers reports member health changes at once and
// counters every statsEvery.
func (a *Agent) observeLoadBalancers(ctx context.Context, plane hostapi.LoadBalancerPlane, d LoadBalancerDriver, state map[string]*lbState) {
	var rep hostapi.LoadBalancerReport
	rep.Host = a.cfg.Host
	for id, st := range state {
		if st.applied == 0 {
			continue
		}
		obs, err := d.Observe(ctx, id)
		if err != nil {
			continue
		}
		if maps.Equal(obs.Members, st.health) && time.Since(st.reported) < statsEvery {
			continue
		}
		obs.ID, obs.Revision = id, st.applied
		st.health, st.reported = obs.Members, time.Now()
		rep.LoadBalancers = append(rep.LoadBalancers, obs)
	}
	if len(rep.LoadBalancers) == 0 {
		return
	}
	if err := plane.ReportLoadBalancers(ctx, rep); err != nil && ctx.Err() == nil {
		a.log.Warn("reporting load balancer health failed", "error", fmt.Sprint(err))
	}
}
