package compute

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/fault"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	"github.com/onestack/onestack/internal/store"
)

// hostUp reports whether the host's agent heartbeated recently and the
// host is not forced down.
func (s *Service) hostUp(h store.ComputeHost) bool {
	return !h.ForcedDown && s.Now().Sub(h.HeartbeatAt) < s.cfg.ServiceDownTime
}

// HostUp is hostUp for callers outside the package (API, scheduler).
func (s *Service) HostUp(h store.ComputeHost) bool { return s.hostUp(h) }

// Register records a host (or updates what its agent reports) and its
// resource provider, so the scheduler can place servers on it.
func (s *Service) Register(ctx context.Context, info hostapi.HostInfo) error {
	if info.Host == "" {
		return oserr.BadRequest("A host needs a name.")
	}
	now := s.Now()
	var h store.ComputeHost
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		h, err = tx.UpsertHost(ctx, store.ComputeHost{
			ID: newUUID(), Host: info.Host, Zone: info.Zone, Enabled: true, StatusChangedAt: now, HeartbeatAt: now,
			HypervisorType: info.HypervisorType, HypervisorVersion: info.HypervisorVersion, HostIP: info.HostIP,
			VCPUs: info.VCPUs, MemoryMB: info.MemoryMB, DiskGB: info.DiskGB, CPUInfo: info.CPUInfo, CreatedAt: now,
			ConsoleURL: info.ConsoleURL, ConsoleKey: info.ConsoleKey,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("register host %s: %w", info.Host, err)
	}
	inv := map[string]Inventory{
		"VCPU":      {Total: int64(info.VCPUs), MaxUnit: int64(info.VCPUs), AllocationRatio: s.cfg.CPURatio},
		"MEMORY_MB": {Total: int64(info.MemoryMB), MaxUnit: int64(info.MemoryMB), AllocationRatio: s.cfg.RAMRatio},
		"DISK_GB":   {Total: int64(info.DiskGB), MaxUnit: int64(info.DiskGB), AllocationRatio: s.cfg.DiskRatio},
	}
	if err := s.placement.EnsureProvider(ctx, h.ID, h.Host, inv); err != nil {
		return fmt.Errorf("register host %s in placement: %w", info.Host, err)
	}
	s.Hub.WakeScheduler()
	return nil
}

// Heartbeat records that a host's agent is alive.
func (s *Service) Heartbeat(ctx context.Context, host string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.Heartbeat(ctx, host, s.Now()) })
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("Host %s is not registered; the agent must register first.", host)
	}
	return err
}

var _ hostapi.Plane = (*Service)(nil)

// HostByName reads one compute host.
func (s *Service) HostByName(ctx context.Context, name string) (h store.ComputeHost, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		h, err = tx.GetHostByName(ctx, name)
		return notFound(err, "Compute host", name)
	})
	return h, err
}

// HostsNamed reads the named compute hosts; names not registered are left
// out.
func (s *Service) HostsNamed(ctx context.Context, names []string) (hs []store.ComputeHost, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		hs, err = tx.ListHostsNamed(ctx, names)
		return err
	})
	return hs, err
}

// Hosts lists every compute host.
func (s *Service) Hosts(ctx context.Context) (hs []store.ComputeHost, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		hs, err = tx.ListHosts(ctx)
		return err
	})
	return hs, err
}

// guest turns a server into the desired state its host's agent sees.
func guest(v store.Server, host string) hostapi.Guest {
	g := hostapi.Guest{
		ServerID: v.ID, Name: v.Name, ProjectID: v.ProjectID, Revision: v.Revision,
		Deleted: v.Deleted || v.TaskState == TaskDeleting, Task: v.TaskState, TaskArg: v.TaskArg,
		Power:   v.DesiredPower,
		Flavor:  hostapi.Flavor{VCPUs: v.Flavor.VCPUs, RAM: v.Flavor.RAM, Disk: v.Flavor.Disk, Ephemeral: v.Flavor.Ephemeral, Swap: v.Flavor.Swap},
		ImageID: v.ImageID, UserData: v.UserData, KeyData: v.KeyData, Metadata: v.Metadata, ConfigDrive: v.ConfigDrive,
		Hostname: v.Hostname, KeyName: v.KeyName, Zone: v.Zone, FlavorName: v.Flavor.Name, LaunchIndex: v.LaunchIndex,
		NICs: NICs(v), Volumes: guestVolumes(v), VolumesPending: volumesPending(v),
	}
	if awaitsScheduler(v) {
		g.Task = "" // not the agent's to do yet
	}
	if v.SourceHost != "" && v.SourceHost != host && v.Host == host {
		g.MovingFrom = v.SourceHost
	}
	if v.Host != host {
		// The server has moved off this host. While a resize or cold
		// migration is in flight or awaits confirmation (VERIFY_RESIZE) the
		// old guest stays, stopped, for a revert; during a live migration
		// it keeps running until the destination has taken over; otherwise
		// it must go.
		g.Away, g.Power, g.Task = true, hostapi.PowerShutdown, ""
		switch {
		case v.TaskState == TaskResizeMigrating, v.VMState == VMResized && v.TaskState == "":
		case v.TaskState == TaskMigrating:
			g.Power = hostapi.PowerRunning
		default:
			g.Deleted = true
		}
	}
	if v.Host == "" || (v.SourceHost != host && v.Host != host) {
		g.Deleted = true // unassigned from this host
	}
	return g
}

// awaitsScheduler reports whether the server's task waits for the
// scheduler (a destination) rather than for its host's agent.
func awaitsScheduler(v store.Server) bool {
	switch v.TaskState {
	case TaskScheduling, TaskResizePrep:
		return true
	case TaskMigrating:
		return v.SourceHost == ""
	}
	return false
}

// Watch implements hostapi.Plane: WatchWait with a 25 s wait.
func (s *Service) Watch(ctx context.Context, host string, since int64) ([]hostapi.Guest, int64, error) {
	return s.WatchWait(ctx, host, since, 25*time.Second)
}

// WatchWait returns the guests on host changed after since, and the
// revision to watch from next. With since 0 it answers at once (a full
// listing, possibly empty); otherwise it blocks until there is a change,
// ctx ends or wait passes (then it returns no guests).
func (s *Service) WatchWait(ctx context.Context, host string, since int64, wait time.Duration) ([]hostapi.Guest, int64, error) {
	const limit = 1000
	timer := time.NewTimer(wait)
	defer timer.Stop()
	wake := s.Hub.Host(host)
	var poll <-chan time.Time
	if s.cfg.PeerPoll > 0 {
		t := time.NewTicker(s.cfg.PeerPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		var servers []store.Server
		var epoch int64
		err := s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			// The epoch first: every server write bumps it in its own
			// transaction, so rows committed later carry a larger revision.
			if epoch, err = tx.Epoch(ctx, "compute"); err != nil {
				return err
			}
			servers, err = tx.ServersChangedOnHost(ctx, host, since, limit)
			return err
		})
		if err != nil {
			return nil, since, err
		}
		next := since
		if len(servers) > 0 {
			next = servers[len(servers)-1].Revision
		}
		if len(servers) < limit && epoch > next {
			next = epoch
		}
		if len(servers) > 0 || since == 0 {
			gs := make([]hostapi.Guest, len(servers))
			for i, v := range servers {
				gs[i] = guest(v, host)
			}
			return gs, next, nil
		}
		since = next
		select {
		case <-ctx.Done():
			return nil, since, ctx.Err()
		case <-timer.C:
			return nil, since, nil
		case <-wake:
		case <-poll:
		}
	}
}

// Report applies what an agent observed about one guest: the power state,
// the completion of a task or its failure.
func (s *Service) Report(ctx context.Context, r hostapi.Report) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := tx.GetServer(ctx, r.ServerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // a guest without a record; the agent cleans it up
		}
		if err != nil {
			return err
		}
		if v.Deleted || (v.Host != r.Host && v.SourceHost != r.Host) {
			return nil // stale: the server moved or is gone
		}
		fault.Point(fault.ReportApplying)
		if v.SourceHost == r.Host && v.Host != r.Host {
			return s.reportSource(ctx, tx, &v, r)
		}
		started := s.Now()
		if r.Error != "" {
			if v.VMState == VMError && v.TaskState == "" {
				// Already in ERROR, with the fault of what put it there: the
				// agent tries again at each resync, and a repeat must not
				// replace that fault (nor add an event each time).
				s.log.Debug("a server in ERROR still fails on its host; its fault stays", "server_id", v.ID, "host", r.Host, "error", r.Error)
				return nil
			}
			event := actionEvents[v.TaskState]
			if event == "" {
				event = "compute_sync_power_state"
			}
			if v.TaskState == TaskSpawning {
				// A build that failed holds nothing: its host's resources go
				// back to placement (the record stays, in ERROR, with the fault).
				if err := s.placement.ReleaseTx(ctx, tx, v.ID); err != nil {
					return err
				}
			}
			return s.failOnHost(ctx, tx, &v, event, r)
		}
		changed := false
		if p := powerNumber(r.Power); p != v.PowerState {
			v.PowerState, changed = p, true
		}
		if r.Done == "" && v.TaskState == "" && v.VMState == VMActive && r.Power == hostapi.PowerShutdown {
			// The guest stopped by itself (powered off inside, or its
			// process ended): as Nova's power state sync, the server is
			// stopped, with an action saying so.
			return s.syncStopped(ctx, tx, &v, r.Host)
		}
		if _, agents := completions[r.Done]; agents && r.Done == v.TaskState && !awaitsScheduler(v) {
			c := completions[r.Done]
			if r.Done == TaskRebuilding && v.DesiredPower == hostapi.PowerShutdown {
				c = completion{hostapi.PowerShutdown, VMStopped} // rebuilt while stopped
			}
			if c.power != "" && c.power != r.Power {
				return nil // not there yet
			}
			if r.Done == TaskDeleting {
				return s.finishDelete(ctx, tx, &v, r.Host)
			}
			switch {
			case r.Done == TaskResizeMigrating:
				v.VMState = VMResized
			case c.vm != "":
				v.VMState = c.vm
			}
			if r.Done == TaskSpawning {
				now := s.Now()
				v.LaunchedAt = &now
			}
			if r.Done == TaskResizeReverting || r.Done == TaskMigrating {
				// The away host now removes its guest and reports it gone.
				s.settle(&v)
				if r.Done == TaskMigrating && v.Migration != nil && v.Migration.MigrationConsumer != "" {
					if err := s.placement.ReleaseTx(ctx, tx, v.Migration.MigrationConsumer); err != nil {
						return err
					}
					v.Migration.MigrationConsumer = ""
				}
				if r.Done == TaskMigrating {
					if err := s.finishMigration(ctx, tx, &v, "completed"); err != nil {
						return err
					}
				}
			}
			v.TaskState, v.TaskArg, changed = "", "", true
			if err := s.Event(ctx, tx, v.ID, actionEvents[r.Done], r.Host, "Success", r.Note, started); err != nil {
				return err
			}
			if r.Note != "" {
				// What the user should know though the task succeeded (a
				// stop that ended in a hard power-off): the action's message.
				if err := s.noteAction(ctx, tx, v.ID, r.Note); err != nil {
					return err
				}
			}
		}
		if !changed {
			return nil
		}
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	if err != nil {
		return err
	}
	return s.reportVolumes(ctx, r)
}

// failOnHost puts a server in ERROR with the fault its host reported: the
// message is the host's (it names the step, the cause and what to do); the
// details name the step, the action's event and the host, and whose fault
// it is. The code is the host's: 400 when what the request asked for (its
// image, its flavor) caused the failure, 500 when the cloud did. Nova
// wraps a build's failures in BuildAbortException, a 500 whose details
// only admins see; a 400 here shows its details to the server's owner,
// who is the one to act.
func (s *Service) failOnHost(ctx context.Context, tx *store.Tx, v *store.Server, event string, r hostapi.Report) error {
	code := r.ErrorCode
	if code != http.StatusBadRequest {
		code = http.StatusInternalServerError
	}
	cause := strings.TrimPrefix(r.Error, r.Step+": ")
	where := event + " on " + orDash(r.Host)
	if r.Step != "" {
		where = fmt.Sprintf("step %q of %s", r.Step, where)
	}
	remedy := "The request is at fault, not the cloud: change what the message says (the image or the flavor) and " + retryVerb(event) + "."
	if code == http.StatusInternalServerError {
		remedy = fmt.Sprintf("The cloud is at fault, not the request: an operator should read the log of %s for server %s and repair the host; then %s.", orDash(r.Host), v.ID, retryVerb(event))
	}
	details := fmt.Sprintf("%s failed: %s. %s", where, cause, remedy)
	now := s.Now()
	v.VMState, v.TaskState, v.TaskArg, v.UpdatedAt = VMError, "", "", now
	v.Fault = &store.Fault{Code: code, Message: r.Error, Details: details, Created: now}
	if err := tx.UpdateServer(ctx, v, 0); err != nil {
		return err
	}
	return s.Event(ctx, tx, v.ID, event, r.Host, "Error", details, now)
}

// retryVerb says how a user tries a failed action again.
func retryVerb(event string) string {
	switch event {
	case actionEvents[TaskSpawning]:
		return "delete the server and create it again (or rebuild it)"
	case actionEvents[TaskRebuilding]:
		return "rebuild it again"
	}
	return "reboot it hard (openstack server reboot --hard) or rebuild it"
}

// noteAction sets the message of the server's latest action.
func (s *Service) noteAction(ctx context.Context, tx *store.Tx, serverID, note string) error {
	a, err := tx.LatestAction(ctx, serverID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return tx.TouchAction(ctx, a.ID, note, s.Now())
}

// syncStopped records that a running server's guest stopped without being
// asked: SHUTOFF, desired power off, and a "stop" action by the host.
func (s *Service) syncStopped(ctx context.Context, tx *store.Tx, v *store.Server, host string) error {
	now := s.Now()
	a := store.InstanceAction{ID: newUUID(), ServerID: v.ID, Action: "stop", RequestID: reqid.New(),
		ProjectID: v.ProjectID, UserID: v.UserID, StartTime: now, UpdatedAt: now,
		Message: "The guest stopped by itself on " + host + " (it powered off, or its process ended); start the server to run it again."}
	if err := tx.CreateAction(ctx, a); err != nil {
		return err
	}
	if err := s.Event(ctx, tx, v.ID, "compute_sync_power_state", host, "Success",
		"guest found off; server stopped as Nova's power state sync does", now); err != nil {
		return err
	}
	s.log.Warn("guest stopped by itself; server set to SHUTOFF", "server_id", v.ID, "host", host)
	v.VMState, v.DesiredPower, v.PowerState, v.UpdatedAt = VMStopped, hostapi.PowerShutdown, PowerShutdown, now
	return tx.UpdateServer(ctx, v, 0)
}

// reportSource handles the host a server moved off: once it reports the
// old guest gone (and the move is not awaiting a decision), the move is over.
func (s *Service) reportSource(ctx context.Context, tx *store.Tx, v *store.Server, r hostapi.Report) error {
	if r.Error != "" {
		s.log.Warn("the host a server moved off could not remove its old guest", "server_id", v.ID, "host", r.Host, "error", r.Error)
		return nil
	}
	if r.Power != hostapi.PowerAbsent || (v.VMState == VMResized && v.TaskState == "") {
		return nil
	}
	if v.Migration != nil && v.Migration.MigrationConsumer != "" {
		if err := s.placement.ReleaseTx(ctx, tx, v.Migration.MigrationConsumer); err != nil {
			return err
		}
	}
	v.SourceHost, v.Migration, v.UpdatedAt = "", nil, s.Now()
	return tx.UpdateServer(ctx, v, 0)
}
