package compute

import (
	"context"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// This file is what the control plane can tell about servers without
// asking a guest: os-simple-tenant-usage from the server records and the
// diagnostics of servers on fake hosts.

// UsageRequest is a decoded os-simple-tenant-usage query.
type UsageRequest struct {
	ProjectID  string // "" for every project (admin)
	Start, End time.Time
	Marker     string
	Limit      int // 0: no limit
}

// ServerUsage is one server's share of a usage period.
type ServerUsage struct {
	Server           store.Server
	Start, End       time.Time // the part of the period the server ran
	Hours            float64
	Ended            bool // terminated within the period
	UptimeSeconds    int64
	LocalGB          int
	VCPUs, MemoryMB  int
	FlavorName, Name string
}

// UsageServers returns the servers that ran in the period with their
// hours. Servers count from launched_at to terminated_at (or now); deleted
// servers are counted until they are purged (the deleted-retention
// setting), so a period older than that misses them.
func (s *Service) UsageServers(ctx context.Context, c *auth.Credentials, req UsageRequest) ([]ServerUsage, error) {
	if req.ProjectID == "" {
		if err := requireAdmin(c, "os_compute_api:os-simple-tenant-usage:list"); err != nil {
			return nil, err
		}
	} else if !c.IsAdmin() && c.ProjectID() != req.ProjectID {
		return nil, oserr.Forbidden("Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed on project %s; you may read your own project's usage, others need the admin role.", req.ProjectID)
	}
	if !req.Start.Before(req.End) {
		return nil, oserr.BadRequest("Invalid start time %s: it is after the end time %s.", req.Start.Format(time.RFC3339), req.End.Format(time.RFC3339))
	}
	var servers []store.Server
	err := s.db.Read(ctx, func(tx *store.Tx) (err error) {
		servers, err = tx.ServersUsedBetween(ctx, req.ProjectID, req.Start, req.End, req.Marker, req.Limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := make([]ServerUsage, 0, len(servers))
	for _, v := range servers {
		u := ServerUsage{Server: v, LocalGB: v.Flavor.Disk + v.Flavor.Ephemeral, VCPUs: v.Flavor.VCPUs, MemoryMB: v.Flavor.RAM,
			FlavorName: v.Flavor.Name, Name: v.Name}
		launched := *v.LaunchedAt
		u.Start, u.End = maxTime(launched, req.Start), minTime(now, req.End)
		if v.TerminatedAt != nil {
			u.End = minTime(*v.TerminatedAt, u.End)
			u.Ended = !v.TerminatedAt.After(req.End)
		}
		if u.End.After(u.Start) {
			u.Hours = u.End.Sub(u.Start).Hours()
		}
		stop := now
		if v.TerminatedAt != nil {
			stop = *v.TerminatedAt
		}
		u.UptimeSeconds = int64(stop.Sub(launched).Seconds())
		out = append(out, u)
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Diagnostics is what GET /servers/{id}/diagnostics reports.
type Diagnostics struct {
	Server         store.Server
	HypervisorType string
}

// Diagnostics returns a server's diagnostics (admin only). Only servers on
// fake hosts have any: their figures come from the flavor, not a guest.
// Real guests' statistics need the hypervisor driver and answer 501.
func (s *Service) Diagnostics(ctx context.Context, c *auth.Credentials, id string) (d Diagnostics, err error) {
	if err := requireAdmin(c, "os_compute_api:os-server-diagnostics"); err != nil {
		return d, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		d.Server = v
		if v.Host == "" {
			return oserr.Conflict("Cannot 'get_diagnostics' instance %s while it is in vm_state %s: it has no host yet.", id, v.VMState)
		}
		h, err := tx.GetHostByName(ctx, v.Host)
		if err != nil {
			return notFound(err, "Compute host", v.Host)
		}
		d.HypervisorType = h.HypervisorType
		return nil
	})
	if err == nil && d.HypervisorType != "fake" {
		return d, oserr.NotImplemented("Diagnostics of guests on %s hosts are not available yet; only fake hosts report (synthetic) diagnostics.", d.HypervisorType)
	}
	return d, err
}
