// Package agent is the host agent: it registers its host, heartbeats,
// watches the desired state of the guests assigned to it and makes the
// hypervisor match, idempotently, reporting what it observes. It never
// receives commands; a restarted agent lists its guests, reads the desired
// state again and converges, so nothing is lost or done twice.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/onestack/onestack/internal/fault"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// Driver is a hypervisor as the agent uses it.
type Driver interface {
	// Info describes the host's hypervisor and capacity.
	Info(ctx context.Context) (hostapi.HostInfo, error)
	// Ensure makes the guest match g (create, start, stop, pause, suspend,
	// and for g.Task reboot/rebuild once) and returns its power state.
	// Errors say what failed in words a user can act on.
	Ensure(ctx context.Context, g hostapi.Guest) (power string, err error)
	// Delete removes a guest and everything it has on the host; deleting
	// an absent guest is not an error.
	Delete(ctx context.Context, id string) error
	// List returns the ids of the guests on the host.
	List(ctx context.Context) ([]string, error)
}

// Snapshotter is a driver that can read a guest's disk for a snapshot.
type Snapshotter interface {
	Snapshot(ctx context.Context, id string) (io.ReadCloser, error)
}

// Noter is a driver that has, after an Ensure that succeeded, something
// the user should know about how it went (a stop that ended in a hard
// power-off); the agent passes it on with its report.
type Noter interface {
	TakeNote(id string) string
}

// Volumer is a driver that attaches volumes to guests: it makes a guest's
// volumes match g.Volumes and returns the attachment ids it has after,
// and per attachment why a change failed.
type Volumer interface {
	SyncVolumes(ctx context.Context, g hostapi.Guest) (attached []string, errs map[string]string)
}

// Config is one agent's configuration.
type Config struct {
	Host      string
	Zone      string
	Heartbeat time.Duration
	// Resync is how often the agent re-reads every guest to repair drift.
	Resync time.Duration
	// Parallel bounds how many guests the agent changes at once (16 when
	// zero). Each guest is changed by one worker at a time, so a slow
	// operation (a guest shutting down) never holds up the others.
	Parallel int
	// Network is the host's data plane; nil runs none (guests with NICs
	// then fail with a fault saying so).
	Network NetworkDriver
	// LoadBalancers is the host's load balancer data plane; nil runs none
	// (the host is then never given load balancers).
	LoadBalancers LoadBalancerDriver
	// HostIP, when set, is the address the host registers (its tunnel
	// endpoint) instead of the one the hypervisor reports.
	HostIP string
	// ConsoleURL and ConsoleKey, when set, are registered for the control
	// plane to read this host's consoles through (see ServeConsoles).
	ConsoleURL, ConsoleKey string
}

// Agent runs one host.
type Agent struct {
	plane  hostapi.Plane
	driver Driver
	log    *slog.Logger
	cfg    Config
	// applied maps a server to the desired state (without its revision)
	// the agent last made so and reported without error. The agent's own
	// report bumps the server's revision, so every change comes back once
	// more through the watch; an unchanged desired state without a task is
	// then skipped instead of costing another hypervisor call and another
	// write. Cleared on every resync, which re-checks every guest
	// against the hypervisor. Guarded by mu.
	applied map[string]string
	// uploaded maps a server to the image its snapshot task last
	// uploaded: the same task handed out again (a newer desired state
	// queued during the upload, or a report that failed and is repeated)
	// must not upload into the image, which is active by then (Glance
	// refuses: 409). Guarded by mu.
	uploaded map[string]string

	mu sync.Mutex
	// pending holds, per server with a running worker, the newest desired
	// state not yet taken by it (nil once taken): level-triggered, an
	// older state is simply replaced.
	pending map[string]*hostapi.Guest
	workers sync.WaitGroup
	slots   chan struct{}
	// recovered is set once the first resync after start has run (owned
	// by the Run goroutine).
	recovered bool
	net       *network
}

// New returns an agent.
func New(plane hostapi.Plane, driver Driver, log *slog.Logger, cfg Config) *Agent {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	return &Agent{plane: plane, driver: driver, log: log.With("host", cfg.Host), cfg: cfg,
		applied: map[string]string{}, uploaded: map[string]string{}, pending: map[string]*hostapi.Guest{}, slots: make(chan struct{}, cfg.Parallel), net: newNetwork()}
}

// wait sleeps for d with jitter, or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run registers the host and reconciles until ctx ends. It returns once
// every guest operation it started has finished.
func (a *Agent) Run(ctx context.Context) error {
	defer a.workers.Wait()
	backoff := 100 * time.Millisecond
	for {
		err := a.register(ctx)
		if err == nil {
			break
		}
		a.log.Warn("cannot register host with the control plane; retrying", "error", err, "retry_in", backoff)
		if wait(ctx, backoff) != nil {
			return nil
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	go a.heartbeats(ctx)
	if np, ok := a.plane.(hostapi.NetworkPlane); ok && a.cfg.Network != nil {
		a.workers.Add(1)
		go func() {
			defer a.workers.Done()
			a.networkLoop(ctx, np)
		}()
	}
	if lp, ok := a.plane.(hostapi.LoadBalancerPlane); ok && a.cfg.LoadBalancers != nil {
		a.workers.Add(1)
		go func() {
			defer a.workers.Done()
			a.loadBalancerLoop(ctx, lp, a.cfg.LoadBalancers)
		}()
	}
	var since int64
	var lastResync time.Time
	for ctx.Err() == nil {
		if time.Since(lastResync) > a.cfg.Resync {
			next, err := a.resync(ctx)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("resync failed; retrying", "error", err)
					_ = wait(ctx, time.Second)
				}
				continue
			}
			since, lastResync = next, time.Now()
		}
		// The watch waits at most until the next resync is due.
		wctx, cancel := context.WithDeadline(ctx, lastResync.Add(a.cfg.Resync))
		guests, next, err := a.plane.Watch(wctx, a.cfg.Host, since)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if wctx.Err() != nil {
				continue // time to resync
			}
			a.log.Warn("watch failed; retrying", "error", err)
			if wait(ctx, time.Second) != nil {
				break
			}
			continue
		}
		for _, g := range guests {
			a.dispatch(ctx, g)
		}
		since = next
	}
	return nil
}

// dispatch hands g to its server's worker, starting one if none runs.
func (a *Agent) dispatch(ctx context.Context, g hostapi.Guest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, busy := a.pending[g.ServerID]; busy {
		a.pending[g.ServerID] = &g
		return
	}
	a.pending[g.ServerID] = nil
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		for {
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				a.mu.Lock()
				delete(a.pending, g.ServerID)
				a.mu.Unlock()
				return
			}
			a.reconcile(ctx, g)
			<-a.slots
			a.mu.Lock()
			next := a.pending[g.ServerID]
			if next == nil {
				delete(a.pending, g.ServerID)
				a.mu.Unlock()
				return
			}
			a.pending[g.ServerID] = nil
			a.mu.Unlock()
			g = *next
		}
	}()
}

// Idle reports whether no guest operation is in progress (for tests).
func (a *Agent) Idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) == 0
}

func (a *Agent) register(ctx context.Context) error {
	info, err := a.driver.Info(ctx)
	if err != nil {
		return fmt.Errorf("read hypervisor info: %w", err)
	}
	info.Host, info.Zone = a.cfg.Host, a.cfg.Zone
	info.ConsoleURL, info.ConsoleKey = a.cfg.ConsoleURL, a.cfg.ConsoleKey
	if a.cfg.HostIP != "" {
		info.HostIP = a.cfg.HostIP
	}
	return a.plane.Register(ctx, info)
}

func (a *Agent) heartbeats(ctx context.Context) {
	for wait(ctx, a.cfg.Heartbeat) == nil {
		if err := a.plane.Heartbeat(ctx, a.cfg.Host); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "error", err)
			if errors.Is(err, context.Canceled) {
				return
			}
			_ = a.register(ctx) // the record may be gone: register again
		}
	}
}

// resync reads every guest assigned to the host, reconciles each and
// removes guests that have no record here. It returns the revision to
// watch from.
func (a *Agent) resync(ctx context.Context) (int64, error) {
	a.mu.Lock()
	clear(a.applied)
	a.mu.Unlock()
	wanted := map[string]bool{}
	var since int64
	var next int64
	for first := true; first || since > 0; first = false {
		// since 0 answers at once; later pages only while a page was full.
		guests, n, err := a.plane.Watch(ctx, a.cfg.Host, since)
		if err != nil {
			return 0, err
		}
		next = n
		for _, g := range guests {
			if !g.Deleted {
				wanted[g.ServerID] = true
			}
			g.Recover = !a.recovered
			a.dispatch(ctx, g)
		}
		if len(guests) < 1000 {
			break
		}
		since = next
	}
	have, err := a.driver.List(ctx)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	for id := range a.pending {
		wanted[id] = true // changing now: its worker decides
	}
	a.mu.Unlock()
	a.recovered = true
	for _, id := range have {
		if !wanted[id] {
			a.log.Info("removing a guest that has no record on this host", "server_id", id)
			if err := a.driver.Delete(ctx, id); err != nil {
				a.log.Warn("cannot remove orphan guest", "server_id", id, "error", err)
			}
		}
	}
	return next, nil
}

// reconcile makes one guest match its desired state and reports.
func (a *Agent) reconcile(ctx context.Context, g hostapi.Guest) {
	spec := desired(g)
	a.mu.Lock()
	done := g.Task == "" && spec != "" && a.applied[g.ServerID] == spec
	if !done {
		delete(a.applied, g.ServerID)
	}
	if g.Task != "image_snapshot" {
		delete(a.uploaded, g.ServerID)
	}
	a.mu.Unlock()
	if done {
		return // already made so and reported: the watch echoes our own report
	}
	r := hostapi.Report{Host: a.cfg.Host, ServerID: g.ServerID, Revision: g.Revision}
	a.rememberGuest(g)
	if g.Deleted {
		if err := a.driver.Delete(ctx, g.ServerID); err != nil {
			r.Error = fmt.Sprintf("deleting the guest on %s failed: %v", a.cfg.Host, err)
		} else {
			r.Power, r.Done = hostapi.PowerAbsent, g.Task
		}
	} else {
		var power string
		err := hostapi.CloudFault("wire the guest's ports", a.waitWired(ctx, g))
		if err == nil {
			power, err = a.driver.Ensure(ctx, g)
			fault.Point(fault.AgentEnsured)
		}
		if n, ok := a.driver.(Noter); ok {
			r.Note = n.TakeNote(g.ServerID)
		}
		r.Power = power
		if err == nil && g.Task == "image_snapshot" {
			a.mu.Lock()
			again := a.uploaded[g.ServerID] == g.TaskArg
			a.mu.Unlock()
			if !again {
				if err = hostapi.CloudFault("take the snapshot", a.snapshot(ctx, g)); err == nil {
					a.mu.Lock()
					a.uploaded[g.ServerID] = g.TaskArg
					a.mu.Unlock()
				}
			}
		}
		if v, ok := a.driver.(Volumer); ok && err == nil {
			r.Attached, r.VolumeErrors = v.SyncVolumes(ctx, g)
			if r.Attached == nil && g.VolumesPending {
				r.Attached = []string{} // it has none: a pending detach is done
			}
			if r.Attached != nil || len(r.VolumeErrors) > 0 {
				fault.Point(fault.AgentVolumesSynced)
			}
		}
		if err != nil {
			r.Error = err.Error()
			var se *hostapi.StepError
			if errors.As(err, &se) {
				r.Step, r.ErrorCode = se.Step, se.Code()
			}
		} else if g.Task != "" {
			r.Done = g.Task
		}
	}
	if err := a.plane.Report(ctx, r); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("report failed; the next resync repeats it", "server_id", g.ServerID, "error", err)
		}
		return
	}
	if r.Error == "" && g.Task == "" && spec != "" {
		a.mu.Lock()
		a.applied[g.ServerID] = spec
		a.mu.Unlock()
	}
}

// desired is a guest's desired state without its revision, to compare
// with what was applied; "" when it cannot be encoded (never skipped).
func desired(g hostapi.Guest) string {
	g.Revision = 0
	b, err := json.Marshal(g)
	if err != nil {
		return ""
	}
	return string(b)
}

// snapshot copies the guest's disk into the image named by the task.
func (a *Agent) snapshot(ctx context.Context, g hostapi.Guest) error {
	sn, ok := a.driver.(Snapshotter)
	if !ok {
		return fmt.Errorf("the hypervisor on %s cannot take snapshots", a.cfg.Host)
	}
	data, err := sn.Snapshot(ctx, g.ServerID)
	if err != nil {
		return fmt.Errorf("snapshot of the guest on %s failed: %w", a.cfg.Host, err)
	}
	defer data.Close()
	if err := a.plane.UploadImage(ctx, g.TaskArg, data); err != nil {
		return fmt.Errorf("uploading the snapshot to image %s failed: %w", g.TaskArg, err)
	}
	return nil
}
