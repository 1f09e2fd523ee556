package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// This file holds the compute queries behind Nova's operator and per-user
// APIs (flavor lists with Nova's filters, hypervisor pages and loads,
// aggregate membership, server group members in bulk); compute.go holds
// the core ones the servers path uses.

// FlavorQuery narrows ListFlavorsBy with Nova's filter semantics.
type FlavorQuery struct {
	// IsPublic nil lists public and private flavors (an admin's
	// is_public=None); true lists public flavors plus the private ones
	// AccessProject was given; false lists private flavors only.
	IsPublic      *bool
	AccessProject string
	HideDisabled  bool
	MinRAM        int
	MinDisk       int
	SortKey       string // a Nova sort key (see FlavorSortKey); default flavorid
	Desc          bool
	Page          Page
}

// novaFlavorSort maps Nova's flavor sort keys to columns. Nova's "id" is
// its internal autoincrement, i.e. creation order; vcpu_weight is not
// stored and sorts like the flavor id.
var novaFlavorSort = map[string]string{
	"created_at": "created_at", "description": "description", "disabled": "disabled",
	"ephemeral_gb": "ephemeral_gb", "flavorid": "id", "id": "created_at", "is_public": "is_public",
	"memory_mb": "ram_mb", "name": "name", "root_gb": "disk_gb", "rxtx_factor": "rxtx_factor",
	"swap": "swap_mb", "updated_at": "updated_at", "vcpu_weight": "id", "vcpus": "vcpus",
}

// FlavorSortKeyNames lists the sort keys ListFlavorsBy accepts, as Nova names them.
func FlavorSortKeyNames() []string {
	return []string{"created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
		"memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight", "vcpus"}
}

// ListFlavorsBy lists flavors with Nova's filters and keyset paging after
// the marker flavor. ErrNotFound means the marker does not exist.
func (t *Tx) ListFlavorsBy(ctx context.Context, q FlavorQuery) ([]Flavor, error) {
	w := &where{}
	switch {
	case q.IsPublic == nil:
	case *q.IsPublic && q.AccessProject != "":
		w.clauses = append(w.clauses, "(is_public = ? OR id IN (SELECT flavor_id FROM flavor_access WHERE project_id = ?))")
		w.args = append(w.args, true, q.AccessProject)
	default:
		w.eq("is_public", *q.IsPublic, true)
	}
	if q.HideDisabled {
		w.eq("disabled", false, true)
	}
	if q.MinRAM > 0 {
		w.clauses = append(w.clauses, "ram_mb >= ?")
		w.args = append(w.args, q.MinRAM)
	}
	if q.MinDisk > 0 {
		w.clauses = append(w.clauses, "disk_gb >= ?")
		w.args = append(w.args, q.MinDisk)
	}
	col := novaFlavorSort[q.SortKey]
	if col == "" {
		col = "id"
	}
	if q.Page.Marker != "" {
		m, err := t.GetFlavor(ctx, q.Page.Marker)
		if err != nil {
			return nil, err
		}
		w.after(col, q.Desc, flavorColumnValue(m, col), m.ID)
	}
	sql := `SELECT ` + flavorCols + ` FROM flavors` + w.orderPage(col, q.Desc, q.Page.Limit)
	return list(ctx, t, scanFlavor, sql, w.args...)
}

func flavorColumnValue(f Flavor, col string) any {
	switch col {
	case "description":
		return f.Description
	case "disabled":
		return f.Disabled
	case "is_public":
		return f.IsPublic
	case "updated_at":
		return micros(f.UpdatedAt)
	}
	return flavorSortValue(f, col)
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

// ServerLoad is what one live server takes from the hosts it occupies:
// its host and, during a resize or migration, the host it is leaving.
type ServerLoad struct {
	ID, Name         string
	Host, SourceHost string
	TaskState        string
	VCPUs, RAM       int
	// DiskGB is root + ephemeral + swap rounded up to GB, as placement counts DISK_GB.
	DiskGB int
}

// ServerLoads lists the live servers placed on, or moving off, the given
// hosts; with hosts nil, every live placed server.
func (t *Tx) ServerLoads(ctx context.Context, hosts []string) ([]ServerLoad, error) {
	w := &where{}
	w.eq("deleted", false, true)
	if hosts == nil {
		w.clauses = append(w.clauses, "(host <> '' OR source_host <> '')")
	} else {
		a, b := &where{}, &where{}
		a.in("host", hosts)
		b.in("source_host", hosts)
		w.clauses = append(w.clauses, "("+strings.Join(a.clauses, "")+" OR "+strings.Join(b.clauses, "")+")")
		w.args = append(w.args, a.args...)
		w.args = append(w.args, b.args...)
	}
	return list(ctx, t, func(s scanner) (ServerLoad, error) {
		var l ServerLoad
		var flavor string
		err := s.Scan(&l.ID, &l.Name, &l.Host, &l.SourceHost, &l.TaskState, &l.VCPUs, &l.RAM, &flavor)
		var f Flavor
		_ = json.Unmarshal([]byte(flavor), &f)
		l.DiskGB = f.Disk + f.Ephemeral + (f.Swap+1023)/1024
		return l, err
	}, `SELECT id, name, host, source_host, task_state, vcpus, ram_mb, flavor FROM servers`+w.sql()+` ORDER BY created_at, id`, w.args...)
}

// CountServersOnHost counts the live servers placed on host or moving off it.
func (t *Tx) CountServersOnHost(ctx context.Context, host string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM servers WHERE (host = ? OR source_host = ?) AND deleted = ?`, host, host, false).Scan(&n)
	return n, err
}

// RemoveHostFromAggregates takes a host out of every aggregate (when its
// service is deleted).
func (t *Tx) RemoveHostFromAggregates(ctx context.Context, host string) error {
	_, err := t.exec(ctx, `DELETE FROM aggregate_hosts WHERE host = ?`, host)
	return err
}

// GroupMembersOf returns the live members of each of the given server
// groups in one query.
func (t *Tx) GroupMembersOf(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(groupIDs))
	if len(groupIDs) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("group_id", groupIDs).eq("deleted", false, true)
	rows, err := t.query(ctx, `SELECT group_id, id FROM servers`+w.sql()+` ORDER BY created_at, id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, id string
		if err := rows.Scan(&g, &id); err != nil {
			return nil, err
		}
		out[g] = append(out[g], id)
	}
	return out, rows.Err()
}

// ServersUsedBetween lists the servers (deleted ones included, until they
// are purged) that ran at some point in [start, end): launched before end
// and not terminated before start, for os-simple-tenant-usage. projectID
// "" means every project. Ordered by id, after marker when set.
func (t *Tx) ServersUsedBetween(ctx context.Context, projectID string, start, end time.Time, marker string, limit int) ([]Server, error) {
	q := `SELECT ` + serverCols + ` FROM servers WHERE launched_at IS NOT NULL AND launched_at < ? AND (terminated_at IS NULL OR terminated_at >= ?)`
	args := []any{micros(end), micros(start)}
	if projectID != "" {
		q += ` AND project_id = ?`
		args = append(args, projectID)
	}
	if marker != "" {
		q += ` AND id > ?`
		args = append(args, marker)
	}
	q += ` ORDER BY id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return list(ctx, t, scanServer, q, args...)
}

// MigrationRecord is one resize or migration of a server (os-migrations).
type MigrationRecord struct {
	ID                         int
	UUID                       string
	ServerID                   string
	ProjectID, UserID          string
	Type                       string // resize | migration | live-migration
	SourceCompute, DestCompute string
	OldFlavorID, NewFlavorID   string
	Status                     string
	CreatedAt, UpdatedAt       time.Time
}

const migrationCols = `id, uuid, server_id, project_id, user_id, migration_type, source_compute, dest_compute, old_flavor_id, new_flavor_id, status, created_at, updated_at`

func scanMigration(s scanner) (MigrationRecord, error) {
	var m MigrationRecord
	var c, u int64
	err := s.Scan(&m.ID, &m.UUID, &m.ServerID, &m.ProjectID, &m.UserID, &m.Type, &m.SourceCompute, &m.DestCompute,
		&m.OldFlavorID, &m.NewFlavorID, &m.Status, &c, &u)
	m.CreatedAt, m.UpdatedAt = fromMicros(c), fromMicros(u)
	return m, err
}

// CreateMigration inserts m with the next integer id, which it sets.
func (t *Tx) CreateMigration(ctx context.Context, m *MigrationRecord) error {
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM migrations`).Scan(&m.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO migrations (`+migrationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.UUID, m.ServerID, m.ProjectID, m.UserID, m.Type, m.SourceCompute, m.DestCompute, m.OldFlavorID, m.NewFlavorID,
		m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
	return t.mapErr(err)
}

// FinishMigration records a move's final status and destination.
func (t *Tx) FinishMigration(ctx context.Context, id int, status, dest string, at time.Time) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE migrations SET status = ?, dest_compute = ?, updated_at = ? WHERE id = ?`,
		status, dest, micros(at), id)))
}

// MigrationFilter narrows ListMigrations; zero values match everything.
type MigrationFilter struct {
	Host          string // source or destination
	SourceCompute string
	Status        string
	ServerID      string
	Type          string
	ChangesSince  *time.Time
	ChangesBefore *time.Time
	Marker        *MigrationRecord
	Limit         int
}

// ListMigrations lists moves newest first, keyset-paged on (created_at, id).
func (t *Tx) ListMigrations(ctx context.Context, f MigrationFilter) ([]MigrationRecord, error) {
	w := &where{}
	w.eq("source_compute", f.SourceCompute, f.SourceCompute != "").eq("status", f.Status, f.Status != "").
		eq("server_id", f.ServerID, f.ServerID != "").eq("migration_type", f.Type, f.Type != "")
	if f.Host != "" {
		w.clauses = append(w.clauses, "(source_compute = ? OR dest_compute = ?)")
		w.args = append(w.args, f.Host, f.Host)
	}
	if f.ChangesSince != nil {
		w.clauses = append(w.clauses, "updated_at >= ?")
		w.args = append(w.args, micros(*f.ChangesSince))
	}
	if f.ChangesBefore != nil {
		w.clauses = append(w.clauses, "updated_at <= ?")
		w.args = append(w.args, micros(*f.ChangesBefore))
	}
	if f.Marker != nil {
		c := micros(f.Marker.CreatedAt)
		w.clauses = append(w.clauses, "(created_at < ? OR (created_at = ? AND id < ?))")
		w.args = append(w.args, c, c, f.Marker.ID)
	}
	q := `SELECT ` + migrationCols + ` FROM migrations` + w.sql() + ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, f.Limit)
	}
	return list(ctx, t, scanMigration, q, w.args...)
}

// GetMigrationByUUID reads one move by its uuid.
func (t *Tx) GetMigrationByUUID(ctx context.Context, uuid string) (MigrationRecord, error) {
	return one(ctx, t, scanMigration, `SELECT `+migrationCols+` FROM migrations WHERE uuid = ?`, uuid)
}

// UserServerUsage counts one user's live servers, vCPUs and RAM in a project.
func (t *Tx) UserServerUsage(ctx context.Context, projectID, userID string) (ProjectUsage, error) {
	var u ProjectUsage
	err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram_mb), 0) FROM servers WHERE project_id = ? AND user_id = ? AND deleted = ?`,
		projectID, userID, false).Scan(&u.Instances, &u.Cores, &u.RAM)
	return u, err
}
