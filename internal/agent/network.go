package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/hostapi"
)

// NetworkDriver is a host's data plane as the agent uses it.
type NetworkDriver interface {
	// Apply makes the host's data plane match hn and reports which ports
	// are wired; idempotent.
	Apply(ctx context.Context, hn hostapi.HostNetwork) (hostapi.NetworkReport, error)
}

// wireTimeout bounds how long a guest waits for its ports to be wired
// before it fails with a fault naming the port.
const wireTimeout = 90 * time.Second

// network is the agent's view of its host's data plane: which ports are
// wired, which failed and why, and the guests' desired state the metadata
// service answers from.
type network struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every applied revision
	up      map[string]bool
	failed  map[string]string
	applied int64
	guests  map[string]hostapi.Guest
}

func newNetwork() *network {
	return &network{changed: make(chan struct{}), up: map[string]bool{}, failed: map[string]string{}, guests: map[string]hostapi.Guest{}}
}

// record keeps a report of revision rev and wakes guests waiting on it.
func (n *network) record(rev int64, r hostapi.NetworkReport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.up, n.failed, n.applied = map[string]bool{}, map[string]string{}, rev
	for _, id := range r.Up {
		n.up[id] = true
	}
	for id, msg := range r.Failed {
		n.failed[id] = msg
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// Guest returns the desired state of a guest on this host, for the
// metadata service.
func (a *Agent) Guest(id string) (hostapi.Guest, bool) {
	a.net.mu.Lock()
	defer a.net.mu.Unlock()
	g, ok := a.net.guests[id]
	return g, ok
}

func (a *Agent) rememberGuest(g hostapi.Guest) {
	a.net.mu.Lock()
	defer a.net.mu.Unlock()
	if g.Deleted {
		delete(a.net.guests, g.ServerID)
	} else {
		a.net.guests[g.ServerID] = g
	}
}

// waitWired waits until every NIC of g is wired on this host. A port the
// data plane could not wire, or one still missing after wireTimeout, is an
// error naming the port and the cause.
func (a *Agent) waitWired(ctx context.Context, g hostapi.Guest) error {
	if len(g.NICs) == 0 || g.Away || g.Power == hostapi.PowerShutdown {
		// A guest moving away has its ports bound to its new host; a
		// stopped one needs them only when it starts.
		return nil
	}
	if a.cfg.Network == nil {
		return fmt.Errorf("host %s runs no network data plane, so the guest's ports cannot be wired; boot with --nic none or on a host with networking", a.cfg.Host)
	}
	deadline := time.NewTimer(wireTimeout)
	defer deadline.Stop()
	for {
		a.net.mu.Lock()
		var missing string
		for _, nic := range g.NICs {
			if msg, ok := a.net.failed[nic.PortID]; ok {
				a.net.mu.Unlock()
				return fmt.Errorf("port %s could not be wired on host %s: %s", nic.PortID, a.cfg.Host, msg)
			}
			if !a.net.up[nic.PortID] && missing == "" {
				missing = nic.PortID
			}
		}
		changed := a.net.changed
		a.net.mu.Unlock()
		if missing == "" {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("port %s was not wired on host %s within %s: the host's data plane never received it (check that the networking service binds it to this host: openstack port show %s)", missing, a.cfg.Host, wireTimeout, missing)
		}
	}
}

// networkLoop watches the host's desired data plane, applies it and
// reports, until ctx ends.
func (a *Agent) networkLoop(ctx context.Context, plane hostapi.NetworkPlane) {
	var since int64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		hn, err := plane.WatchNetwork(ctx, a.cfg.Host, since)
		if err == nil && (hn.Revision > since || since == 0) {
			var r hostapi.NetworkReport
			r, err = a.cfg.Network.Apply(ctx, hn)
			if len(hn.Ports) > 0 {
				fault.Point(fault.NetworkApplied)
			}
			if err == nil || len(r.Up)+len(r.Failed) > 0 {
				r.Host, r.Revision = a.cfg.Host, hn.Revision
				a.net.record(hn.Revision, r)
				if rerr := plane.ReportNetwork(ctx, r); rerr != nil && err == nil {
					err = fmt.Errorf("report: %w", rerr)
				}
			}
			if err == nil {
				since = hn.Revision
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("applying the host's network failed; retrying", "error", err, "retry_in", backoff)
			if wait(ctx, backoff) != nil {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}
