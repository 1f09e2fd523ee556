// Package scheduler is the reconciler that places servers on hosts. It
// decides from an in-memory snapshot of hosts and their free capacity,
// then claims the resources in placement and writes the host in one
// transaction that re-checks capacity, so racing decisions can never
// over-commit a host. When nothing fits it puts the server in ERROR with a
// fault that explains, filter by filter, why each host was refused.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"github.com/onestack/onestack/internal/fault"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// Provider is one host's capacity as placement sees it.
type Provider struct {
	UUID, Name string
	// Free is capacity minus usage per resource class; MaxUnit caps one allocation.
	Free, MaxUnit map[string]int64
	Traits        []string
}

// Capacity is the part of placement the scheduler uses.
type Capacity interface {
	// Providers returns every provider's free capacity.
	Providers(ctx context.Context) ([]Provider, error)
	// ClaimTx allocates resources on a provider for a consumer inside tx,
	// re-checking capacity; it fails when they no longer fit.
	ClaimTx(ctx context.Context, tx *store.Tx, consumerID, projectID, userID, providerUUID string, resources map[string]int64) error
	// MoveTx hands every allocation of one consumer to another.
	MoveTx(ctx context.Context, tx *store.Tx, fromConsumer, toConsumer string) error
}

// Config tunes the scheduler.
type Config struct {
	// Pack places servers on the fullest hosts that fit instead of spreading.
	Pack bool
	// Candidates is how many fitting hosts are weighed per decision; the
	// scan stops once it has them, so a decision costs the same at 1,000
	// and 10,000 hosts.
	Candidates int
	// SnapshotTTL bounds how stale the host snapshot may get.
	SnapshotTTL time.Duration
}

// Scheduler places servers.
type Scheduler struct {
	compute  *compute.Service
	capacity Capacity
	log      *slog.Logger
	cfg      Config

	snap     *snapshot
	snapAt   time.Time
	rng      *rand.Rand
	Decision func(d time.Duration) // observes decision time (benchmarks)
}

// New returns a scheduler.
func New(c *compute.Service, capacity Capacity, log *slog.Logger, cfg Config) *Scheduler {
	if cfg.Candidates <= 0 {
		cfg.Candidates = 16
	}
	if cfg.SnapshotTTL <= 0 {
		cfg.SnapshotTTL = 2 * time.Second
	}
	return &Scheduler{compute: c, capacity: capacity, log: log, cfg: cfg, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// host is one host in the snapshot.
type host struct {
	rec   store.ComputeHost
	up    bool
	zone  string
	aggs  []store.Aggregate
	prov  Provider
	hasRP bool
}

type snapshot struct {
	hosts  []*host
	byName map[string]*host
}

func (s *Scheduler) refresh(ctx context.Context) error {
	var hosts []store.ComputeHost
	var aggs []store.Aggregate
	err := s.compute.DB().Read(ctx, func(tx *store.Tx) error {
		var err error
		if hosts, err = tx.ListHosts(ctx); err != nil {
			return err
		}
		aggs, err = tx.ListAggregates(ctx)
		return err
	})
	if err != nil {
		return err
	}
	provs, err := s.capacity.Providers(ctx)
	if err != nil {
		return err
	}
	byUUID := make(map[string]Provider, len(provs))
	for _, p := range provs {
		byUUID[p.UUID] = p
	}
	snap := &snapshot{byName: make(map[string]*host, len(hosts))}
	defZone := s.compute.Config().DefaultZone
	for _, h := range hosts {
		hh := &host{rec: h, up: s.compute.HostUp(h), zone: defZone}
		for _, a := range aggs {
			if slices.Contains(a.Hosts, h.Host) {
				hh.aggs = append(hh.aggs, a)
				if a.Zone != "" {
					hh.zone = a.Zone
				}
			}
		}
		hh.prov, hh.hasRP = byUUID[h.ID]
		snap.hosts = append(snap.hosts, hh)
		snap.byName[h.Host] = hh
	}
	s.snap, s.snapAt = snap, time.Now()
	return nil
}

// Run places servers until ctx ends: on every wake-up from the compute
// service's hub, and every few seconds to catch anything missed.
func (s *Scheduler) Run(ctx context.Context) error {
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduling pass failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.compute.Hub.Schedule():
		case <-tick.C:
		}
	}
}

// Pass places every server waiting for a host, then every move waiting
// for a destination.
func (s *Scheduler) Pass(ctx context.Context) error {
	if err := s.passBoots(ctx); err != nil {
		return err
	}
	return s.passMoves(ctx)
}

func (s *Scheduler) ensureSnapshot(ctx context.Context) error {
	if s.snap == nil || time.Since(s.snapAt) > s.cfg.SnapshotTTL {
		return s.refresh(ctx)
	}
	return nil
}

func (s *Scheduler) passBoots(ctx context.Context) error {
	for {
		var pending []store.Server
		err := s.compute.DB().Read(ctx, func(tx *store.Tx) error {
			var err error
			pending, err = tx.ServersToSchedule(ctx, 256)
			return err
		})
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		full := len(pending) == 256
		if err := s.ensureSnapshot(ctx); err != nil {
			return err
		}
		for len(pending) > 0 {
			n := min(len(pending), batchSize)
			if err := s.placeBatch(ctx, pending[:n]); err != nil {
				return err
			}
			pending = pending[n:]
		}
		if !full {
			return nil
		}
	}
}

// batchSize is how many boots one transaction places. The store has one
// writer: placing servers one transaction each makes the scheduler queue
// for the write lock behind every API call and agent report once per
// server, which caps boots per second; a batch queues once for many while
// holding the lock only a few milliseconds.
const batchSize = 32

// placeBatch places simple boots (no server group, a host fits in the
// snapshot) together in one transaction and the rest one by one. When a
// claim in the batch fails the batch rolls back and every server in it is
// placed alone from a fresh snapshot, so a lost race costs a retry, never
// an over-commit.
func (s *Scheduler) placeBatch(ctx context.Context, servers []store.Server) error {
	type placement struct {
		v     store.Server
		want  map[string]int64
		d     decision
		start time.Time
	}
	var batch []placement
	var alone []store.Server
	for _, v := range servers {
		start := time.Now()
		if v.GroupID != "" {
			alone = append(alone, v)
			continue
		}
		want := request(v)
		d := s.decide(v, want, nil, nil, false, "")
		if s.Decision != nil {
			s.Decision(time.Since(start))
		}
		if d.chosen == nil {
			alone = append(alone, v) // place explains or retries from fresh data
			continue
		}
		for rc, n := range want { // later decisions in the batch see this one
			d.chosen.prov.Free[rc] -= n
		}
		batch = append(batch, placement{v, want, d, start})
	}
	var placed []string
	err := s.compute.DB().Write(ctx, func(tx *store.Tx) error {
		placed = placed[:0]
		for _, p := range batch {
			cur, err := tx.GetServer(ctx, p.v.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if cur.Deleted || cur.Host != "" || cur.VMState != compute.VMBuilding {
				continue // deleted or placed meanwhile
			}
			h := p.d.chosen
			if err := s.capacity.ClaimTx(ctx, tx, cur.ID, cur.ProjectID, cur.UserID, h.rec.ID, p.want); err != nil {
				return fmt.Errorf("%w: %v", errClaim, err)
			}
			cur.Host, cur.Zone, cur.TaskState, cur.UpdatedAt = h.rec.Host, h.zone, compute.TaskSpawning, s.compute.Now()
			if err := s.compute.BindTx(ctx, tx, cur, h.rec.Host); err != nil {
				return err
			}
			if err := tx.UpdateServer(ctx, &cur, 0); err != nil {
				return err
			}
			err = s.compute.Event(ctx, tx, cur.ID, "conductor_schedule_and_build_instances", "", "Success",
				fmt.Sprintf("placed on %s: %d hosts considered, %d fit", h.rec.Host, p.d.considered, p.d.fit), p.start)
			if err != nil {
				return err
			}
			placed = append(placed, h.rec.Host)
		}
		fault.Point(fault.SchedulerClaiming)
		return nil
	})
	switch {
	case errors.Is(err, errClaim):
		s.log.Debug("a claim in a batch lost a race; placing the batch one by one", "servers", len(batch), "error", err)
		if err := s.refresh(ctx); err != nil {
			return err
		}
		for _, p := range batch {
			alone = append(alone, p.v)
		}
	case err != nil:
		s.snap = nil // the tentative decisions were not committed
		return err
	default:
		if len(placed) > 0 {
			fault.Point(fault.SchedulerPlaced)
		}
		for _, h := range placed {
			s.compute.Hub.WakeHost(h)
		}
	}
	for _, v := range alone {
		if err := s.place(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// request is what a server needs.
func request(v store.Server) map[string]int64 {
	disk := int64(v.Flavor.Disk + v.Flavor.Ephemeral + (v.Flavor.Swap+1023)/1024)
	r := map[string]int64{"VCPU": int64(v.Flavor.VCPUs), "MEMORY_MB": int64(v.Flavor.RAM)}
	if disk > 0 {
		r["DISK_GB"] = disk
	}
	return r
}

func (s *Scheduler) place(ctx context.Context, v store.Server) error {
	start := time.Now()
	var group *store.ServerGroup
	var members map[string]string
	if v.GroupID != "" {
		err := s.compute.DB().Read(ctx, func(tx *store.Tx) error {
			g, err := tx.GetServerGroup(ctx, v.GroupID)
			if err != nil {
				return err
			}
			group = &g
			members, err = tx.GroupMemberHosts(ctx, g.ID)
			return err
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	want := request(v)
	for attempt := 0; attempt < 3; attempt++ {
		d := s.decide(v, want, group, members, attempt > 0, "")
		if s.Decision != nil {
			s.Decision(time.Since(start))
		}
		if d.chosen == nil {
			if attempt == 0 && time.Since(s.snapAt) > 100*time.Millisecond {
				// Decide once more from fresh data before failing the boot.
				if err := s.refresh(ctx); err != nil {
					return err
				}
				continue
			}
			return s.fail(ctx, v, d.explain(v, want), start)
		}
		err := s.compute.DB().Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.GetServer(ctx, v.ID)
			if err != nil {
				return err
			}
			if cur.Deleted || cur.Host != "" || cur.VMState != compute.VMBuilding {
				return errSkip // deleted or placed meanwhile
			}
			if err := s.capacity.ClaimTx(ctx, tx, cur.ID, cur.ProjectID, cur.UserID, d.chosen.rec.ID, want); err != nil {
				return fmt.Errorf("%w: %v", errClaim, err)
			}
			cur.Host, cur.Zone, cur.TaskState, cur.UpdatedAt = d.chosen.rec.Host, d.chosen.zone, compute.TaskSpawning, s.compute.Now()
			if err := s.compute.BindTx(ctx, tx, cur, d.chosen.rec.Host); err != nil {
				return err
			}
			if err := tx.UpdateServer(ctx, &cur, 0); err != nil {
				return err
			}
			return s.compute.Event(ctx, tx, cur.ID, "conductor_schedule_and_build_instances", "", "Success",
				fmt.Sprintf("placed on %s: %d hosts considered, %d fit", d.chosen.rec.Host, d.considered, d.fit), start)
		})
		switch {
		case errors.Is(err, errSkip):
			return nil
		case errors.Is(err, errClaim):
			s.log.Debug("claim lost a race; trying another host", "server_id", v.ID, "host", d.chosen.rec.Host, "error", err)
			d.chosen.prov.Free = map[string]int64{} // treat as full until the next refresh
			continue
		case err != nil:
			return err
		}
		for rc, n := range want {
			d.chosen.prov.Free[rc] -= n
		}
		s.compute.Hub.WakeHost(d.chosen.rec.Host)
		return nil
	}
	return s.fail(ctx, v, "No valid host was found: the hosts that fit were claimed by other boots at the same moment; retry the boot.", start)
}

var (
	errSkip  = errors.New("server no longer needs scheduling")
	errClaim = errors.New("claim failed")
)

func (s *Scheduler) fail(ctx context.Context, v store.Server, msg string, start time.Time) error {
	err := s.compute.DB().Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetServer(ctx, v.ID)
		if err != nil || cur.Deleted || cur.Host != "" {
			return err
		}
		return s.compute.Fail(ctx, tx, &cur, 500, "conductor_schedule_and_build_instances", "", msg)
	})
	if err == nil {
		s.log.Info("no host for server", "server_id", v.ID, "reason", msg, "duration", time.Since(start))
	}
	return err
}

// decision is the outcome of filtering and weighing, with what is needed
// to explain a refusal.
type decision struct {
	chosen     *host
	considered int
	fit        int
	// removed counts hosts per filter; misses keeps the closest refusals.
	removed map[string]int
	misses  map[string][]string
	best    map[string]*host // per resource class: the host with most free
}

// filters in the order they run; the first that refuses a host is blamed.
var filterOrder = []string{"disabled", "down", "zone", "host", "group", "aggregate", "traits", "VCPU", "MEMORY_MB", "DISK_GB"}

func (s *Scheduler) decide(v store.Server, want map[string]int64, group *store.ServerGroup, members map[string]string, full bool, exclude string) decision {
	d := decision{removed: map[string]int{}, misses: map[string][]string{}, best: map[string]*host{}}
	hosts := s.snap.hosts
	if v.RequestedHost != "" {
		hosts = nil
		if h := s.snap.byName[v.RequestedHost]; h != nil {
			hosts = []*host{h}
		}
	}
	n := len(hosts)
	if n == 0 {
		return d
	}
	groupHosts := map[string]int{}
	for id, h := range members {
		if id != v.ID && h != "" {
			groupHosts[h]++
		}
	}
	var fitting []*host
	offset := s.rng.IntN(n)
	for i := 0; i < n; i++ {
		h := hosts[(offset+i)%n]
		if h.rec.Host == exclude {
			continue
		}
		d.considered++
		if why := s.refuse(h, v, want, group, groupHosts); why != "" {
			d.removed[why]++
			d.note(why, h, want)
			continue
		}
		fitting = append(fitting, h)
		if !full && !s.cfg.Pack && len(fitting) >= s.cfg.Candidates && group == nil {
			break
		}
	}
	d.fit = len(fitting)
	if len(fitting) == 0 {
		return d
	}
	score := func(h *host) float64 {
		w := float64(h.prov.Free["MEMORY_MB"])
		if s.cfg.Pack {
			w = -w
		}
		if group != nil {
			switch group.Policy {
			case "soft-affinity":
				w += float64(groupHosts[h.rec.Host]) * 1e12
			case "soft-anti-affinity":
				w -= float64(groupHosts[h.rec.Host]) * 1e12
			}
		}
		return w
	}
	sort.SliceStable(fitting, func(i, j int) bool { return score(fitting[i]) > score(fitting[j]) })
	d.chosen = fitting[0]
	return d
}

// refuse returns the name of the first filter that refuses h, or "".
func (s *Scheduler) refuse(h *host, v store.Server, want map[string]int64, group *store.ServerGroup, groupHosts map[string]int) string {
	switch {
	case !h.rec.Enabled:
		return "disabled"
	case !h.up:
		return "down"
	case v.RequestedZone != "" && h.zone != v.RequestedZone:
		return "zone"
	case !h.hasRP:
		return "down"
	}
	if group != nil {
		switch group.Policy {
		case "affinity":
			if len(groupHosts) > 0 && groupHosts[h.rec.Host] == 0 {
				return "group"
			}
		case "anti-affinity":
			max := 1
			if m, ok := group.Rules["max_server_per_host"].(float64); ok && m >= 1 {
				max = int(m)
			}
			if groupHosts[h.rec.Host] >= max {
				return "group"
			}
		}
	}
	for k, val := range v.Flavor.ExtraSpecs {
		key, ok := strings.CutPrefix(k, "aggregate_instance_extra_specs:")
		if !ok {
			continue
		}
		if !slices.ContainsFunc(h.aggs, func(a store.Aggregate) bool { return a.Metadata[key] == val }) {
			return "aggregate"
		}
	}
	for k, val := range v.Flavor.ExtraSpecs {
		if t, ok := strings.CutPrefix(k, "trait:"); ok && val == "required" && !slices.Contains(h.prov.Traits, t) {
			return "traits"
		}
		if t, ok := strings.CutPrefix(k, "trait:"); ok && val == "forbidden" && slices.Contains(h.prov.Traits, t) {
			return "traits"
		}
	}
	for _, rc := range []string{"VCPU", "MEMORY_MB", "DISK_GB"} {
		n := want[rc]
		if n == 0 {
			continue
		}
		if h.prov.Free[rc] < n || (h.prov.MaxUnit[rc] > 0 && n > h.prov.MaxUnit[rc]) {
			return rc
		}
	}
	return ""
}

func (d *decision) note(why string, h *host, want map[string]int64) {
	switch why {
	case "VCPU", "MEMORY_MB", "DISK_GB":
		if b := d.best[why]; b == nil || h.prov.Free[why] > b.prov.Free[why] {
			d.best[why] = h
		}
	case "disabled":
		if len(d.misses[why]) < 3 {
			d.misses[why] = append(d.misses[why], fmt.Sprintf("%s: '%s', since %s", h.rec.Host, h.rec.DisabledReason, h.rec.StatusChangedAt.Format("15:04")))
		}
	case "down":
		if len(d.misses[why]) < 3 {
			d.misses[why] = append(d.misses[why], fmt.Sprintf("%s: last heartbeat %s", h.rec.Host, h.rec.HeartbeatAt.Format("15:04:05")))
		}
	}
}

// explain words a refusal as a fault a user can act on.
func (d *decision) explain(v store.Server, want map[string]int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "No valid host was found for %d MB RAM, %d vCPU, %d GB disk: ", want["MEMORY_MB"], want["VCPU"], want["DISK_GB"])
	if d.considered == 0 {
		if v.RequestedHost != "" {
			fmt.Fprintf(&b, "the requested host %s is not a compute host.", v.RequestedHost)
		} else if v.Host != "" {
			fmt.Fprintf(&b, "a resize or migration moves the server to another host than its own (%s), and this cloud has no other compute host; add one (onestack up --hosts N, or onestack agent on another machine).", v.Host)
		} else {
			b.WriteString("no compute hosts are registered; start an agent ('onestack agent') or check 'openstack compute service list'.")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%d hosts considered", d.considered)
	labels := map[string]string{
		"disabled": "disabled", "down": "down (agent not heartbeating)", "zone": "in another availability zone than " + v.RequestedZone,
		"group": "refused by the server group's policy", "aggregate": "not in an aggregate matching the flavor's aggregate_instance_extra_specs",
		"traits": "missing the traits the flavor requires", "VCPU": "lacked vCPUs", "MEMORY_MB": "lacked RAM", "DISK_GB": "lacked disk",
	}
	units := map[string]string{"VCPU": "vCPU", "MEMORY_MB": "MB", "DISK_GB": "GB"}
	for _, f := range filterOrder {
		n := d.removed[f]
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "; %d %s", n, labels[f])
		if h := d.best[f]; h != nil {
			fmt.Fprintf(&b, " (best: %s, %d %s free)", h.rec.Host, h.prov.Free[f], units[f])
		}
		if m := d.misses[f]; len(m) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(m, "; "))
		}
	}
	b.WriteString(". Choose a smaller flavor, free capacity, or enable hosts ('openstack compute service set --enable').")
	return b.String()
}

// passMoves picks destinations for resizes and migrations.
func (s *Scheduler) passMoves(ctx context.Context) error {
	var moves []store.Server
	err := s.compute.DB().Read(ctx, func(tx *store.Tx) error {
		var err error
		moves, err = tx.ServersToMove(ctx, 64)
		return err
	})
	if err != nil || len(moves) == 0 {
		return err
	}
	if err := s.ensureSnapshot(ctx); err != nil {
		return err
	}
	for _, v := range moves {
		if err := s.placeMove(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scheduler) placeMove(ctx context.Context, v store.Server) error {
	start := time.Now()
	m := v.Migration
	if m == nil {
		return nil
	}
	probe := v
	probe.Flavor, probe.RequestedHost = m.NewFlavor, m.DestHost
	probe.RequestedZone = v.Zone
	want := request(probe)
	d := s.decide(probe, want, nil, nil, true, v.Host)
	err := s.compute.DB().Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetServer(ctx, v.ID)
		if err != nil || cur.Deleted || cur.SourceHost != "" || cur.Migration == nil || cur.Revision != v.Revision {
			return err // changed meanwhile; the next pass sees it again
		}
		event := "conductor_migrate_server"
		if cur.TaskState == compute.TaskMigrating {
			event = "conductor_live_migrate_instance"
		}
		if d.chosen == nil {
			msg := d.explain(probe, want)
			cur.TaskState, cur.Migration, cur.UpdatedAt = "", nil, s.compute.Now()
			if err := tx.UpdateServer(ctx, &cur, 0); err != nil {
				return err
			}
			return s.compute.Event(ctx, tx, cur.ID, event, "", "Error", msg+" The server stays where it was.", start)
		}
		if err := s.capacity.MoveTx(ctx, tx, cur.ID, cur.Migration.MigrationConsumer); err != nil {
			return err
		}
		if err := s.capacity.ClaimTx(ctx, tx, cur.ID, cur.ProjectID, cur.UserID, d.chosen.rec.ID, want); err != nil {
			return fmt.Errorf("%w: %v", errClaim, err)
		}
		cur.Migration.DestHost = d.chosen.rec.Host
		cur.SourceHost, cur.Host, cur.Flavor = cur.Host, d.chosen.rec.Host, cur.Migration.NewFlavor
		if err := s.compute.BindTx(ctx, tx, cur, d.chosen.rec.Host); err != nil {
			return err
		}
		if cur.TaskState == compute.TaskResizePrep {
			cur.TaskState = compute.TaskResizeMigrating
		}
		cur.UpdatedAt = s.compute.Now()
		if err := tx.UpdateServer(ctx, &cur, 0); err != nil {
			return err
		}
		return s.compute.Event(ctx, tx, cur.ID, event, "", "Success", "destination "+d.chosen.rec.Host, start)
	})
	if errors.Is(err, errClaim) {
		s.snap = nil // decide again from fresh data on the next pass
		return nil
	}
	if err == nil && d.chosen != nil {
		for rc, n := range want {
			d.chosen.prov.Free[rc] -= n
		}
		s.compute.Hub.WakeHost(d.chosen.rec.Host)
		s.compute.Hub.WakeHost(v.Host)
	}
	return err
}
