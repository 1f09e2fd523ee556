package store

// Compute hosts: the compute_hosts table (Nova's services and hypervisors).

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ComputeHost is a compute host: its service, hypervisor and heartbeat.
type ComputeHost struct {
	ID                string
	Seq               int
	Host              string
	Zone              string
	Enabled           bool
	DisabledReason    string
	StatusChangedAt   time.Time
	ForcedDown        bool
	HeartbeatAt       time.Time
	HypervisorType    string
	HypervisorVersion int
	HostIP            string
	VCPUs, MemoryMB   int
	DiskGB            int
	CPUInfo           string
	CreatedAt         time.Time
	// ConsoleURL and ConsoleKey reach the console server of an agent in
	// its own process ("" for hosts of the control plane's process).
	ConsoleURL, ConsoleKey string
}

const hostCols = `id, seq, host, zone, enabled, disabled_reason, status_changed_at, forced_down, heartbeat_at, hypervisor_type, hypervisor_version, host_ip, vcpus, memory_mb, disk_gb, cpu_info, created_at, console_url, console_key`

func scanHost(s scanner) (ComputeHost, error) {
	var h ComputeHost
	var sc, hb, c int64
	err := s.Scan(&h.ID, &h.Seq, &h.Host, &h.Zone, &h.Enabled, &h.DisabledReason, &sc, &h.ForcedDown, &hb, &h.HypervisorType, &h.HypervisorVersion, &h.HostIP, &h.VCPUs, &h.MemoryMB, &h.DiskGB, &h.CPUInfo, &c, &h.ConsoleURL, &h.ConsoleKey)
	h.StatusChangedAt, h.HeartbeatAt, h.CreatedAt = fromMicros(sc), fromMicros(hb), fromMicros(c)
	return h, err
}

// UpsertHost creates the host (giving it the next seq) or updates what the
// agent reports about it, keeping the operator's enabled/disabled state.
func (t *Tx) UpsertHost(ctx context.Context, h ComputeHost) (ComputeHost, error) {
	old, err := t.GetHostByName(ctx, h.Host)
	switch {
	case err == nil:
		h.ID, h.Seq, h.Enabled, h.DisabledReason, h.StatusChangedAt, h.ForcedDown, h.CreatedAt =
			old.ID, old.Seq, old.Enabled, old.DisabledReason, old.StatusChangedAt, old.ForcedDown, old.CreatedAt
		if h.Zone == "" {
			h.Zone = old.Zone
		}
		_, err = t.exec(ctx, `UPDATE compute_hosts SET zone = ?, heartbeat_at = ?, hypervisor_type = ?, hypervisor_version = ?, host_ip = ?, vcpus = ?, memory_mb = ?, disk_gb = ?, cpu_info = ?, console_url = ?, console_key = ? WHERE id = ?`,
			h.Zone, micros(h.HeartbeatAt), h.HypervisorType, h.HypervisorVersion, h.HostIP, h.VCPUs, h.MemoryMB, h.DiskGB, h.CPUInfo, h.ConsoleURL, h.ConsoleKey, h.ID)
		return h, t.mapErr(err)
	case err != ErrNotFound:
		return h, err
	}
	// The counter row serialises concurrent registrations (MAX(seq) + 1
	// did not on PostgreSQL: two agents got the same number).
	seq, err := t.BumpEpoch(ctx, "compute_host_seq")
	if err != nil {
		return h, fmt.Errorf("next host number: %w", err)
	}
	h.Seq = int(seq)
	_, err = t.exec(ctx, `INSERT INTO compute_hosts (`+hostCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.Seq, h.Host, h.Zone, h.Enabled, h.DisabledReason, micros(h.StatusChangedAt), h.ForcedDown, micros(h.HeartbeatAt),
		h.HypervisorType, h.HypervisorVersion, h.HostIP, h.VCPUs, h.MemoryMB, h.DiskGB, h.CPUInfo, micros(h.CreatedAt), h.ConsoleURL, h.ConsoleKey)
	return h, t.mapErr(err)
}

// Heartbeat records that a host's agent is alive.
func (t *Tx) Heartbeat(ctx context.Context, host string, at time.Time) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE compute_hosts SET heartbeat_at = ? WHERE host = ?`, micros(at), host)))
}

// SetHostStatus writes the operator's state of a host's service.
func (t *Tx) SetHostStatus(ctx context.Context, h ComputeHost) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE compute_hosts SET enabled = ?, disabled_reason = ?, status_changed_at = ?, forced_down = ? WHERE id = ?`,
		h.Enabled, h.DisabledReason, micros(h.StatusChangedAt), h.ForcedDown, h.ID)))
}

// GetHost reads a host by id.
func (t *Tx) GetHost(ctx context.Context, id string) (ComputeHost, error) {
	return one(ctx, t, scanHost, `SELECT `+hostCols+` FROM compute_hosts WHERE id = ?`, id)
}

// GetHostBySeq reads a host by its small integer id.
func (t *Tx) GetHostBySeq(ctx context.Context, seq int) (ComputeHost, error) {
	return one(ctx, t, scanHost, `SELECT `+hostCols+` FROM compute_hosts WHERE seq = ?`, seq)
}

// GetHostByName reads a host by name.
func (t *Tx) GetHostByName(ctx context.Context, host string) (ComputeHost, error) {
	return one(ctx, t, scanHost, `SELECT `+hostCols+` FROM compute_hosts WHERE host = ?`, host)
}

// ListHosts lists every host by name.
func (t *Tx) ListHosts(ctx context.Context) ([]ComputeHost, error) {
	return list(ctx, t, scanHost, `SELECT `+hostCols+` FROM compute_hosts ORDER BY host`)
}

// ListHostsNamed reads the named hosts (those that exist), by name: a page
// of servers needs only its own hosts, not the fleet.
func (t *Tx) ListHostsNamed(ctx context.Context, names []string) ([]ComputeHost, error) {
	if len(names) == 0 {
		return nil, nil
	}
	w := (&where{}).in("host", names)
	return list(ctx, t, scanHost, `SELECT `+hostCols+` FROM compute_hosts`+w.sql()+` ORDER BY host`, w.args...)
}

// DeleteHost removes a host record.
func (t *Tx) DeleteHost(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM compute_hosts WHERE id = ?`, id)))
}

// HostQuery narrows ListHostsBy.
type HostQuery struct {
	AfterSeq int    // keyset: hosts with a larger seq
	Limit    int    // 0: all
	Pattern  string // substring of the host name; "" for any
}

// ListHostsBy lists compute hosts in seq order (Nova's hypervisor order).
func (t *Tx) ListHostsBy(ctx context.Context, q HostQuery) ([]ComputeHost, error) {
	w := &where{}
	if q.AfterSeq > 0 {
		w.clauses = append(w.clauses, "seq > ?")
		w.args = append(w.args, q.AfterSeq)
	}
	if q.Pattern != "" {
		w.clauses = append(w.clauses, "host LIKE ? ESCAPE '\\'")
		w.args = append(w.args, "%"+strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q.Pattern)+"%")
	}
	sql := `SELECT ` + hostCols + ` FROM compute_hosts` + w.sql() + ` ORDER BY seq`
	if q.Limit > 0 {
		sql += ` LIMIT ?`
		w.args = append(w.args, q.Limit)
	}
	return list(ctx, t, scanHost, sql, w.args...)
}
