package store

// Servers: the servers table, its revisions and what is counted from it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Fault is why a server is in ERROR, shown as Nova's "fault".
type Fault struct {
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details"`
	Created time.Time `json:"created"`
}

// Migration is an in-flight resize or migration of a server.
type Migration struct {
	Kind       string `json:"kind"` // resize | migration | live-migration
	SourceHost string `json:"source_host"`
	DestHost   string `json:"dest_host"`
	OldFlavor  Flavor `json:"old_flavor"`
	NewFlavor  Flavor `json:"new_flavor"`
	// MigrationConsumer holds the source allocations while the server's
	// own consumer holds the destination's, as Nova does.
	MigrationConsumer string `json:"migration_consumer"`
	// RecordID is the move's row in the migrations table (os-migrations).
	RecordID int `json:"record_id,omitempty"`
}

// Server is a Nova server row.
type Server struct {
	ID, ProjectID, UserID string
	Name                  string
	Description           *string
	Hostname              string
	ImageID               string
	Flavor                Flavor
	KeyName, KeyData      string
	UserData              string
	ConfigDrive           bool
	Metadata              map[string]string
	Tags                  []string
	RequestedZone         string
	RequestedHost         string
	Zone                  string
	Host                  string
	SourceHost            string
	GroupID               string
	ReservationID         string
	LaunchIndex           int
	VMState               string
	TaskState             string
	TaskArg               string
	PowerState            int
	DesiredPower          string
	Locked                bool
	LockedReason          string
	LockedBy              string
	Fault                 *Fault
	Migration             *Migration
	AccessIPv4            string
	AccessIPv6            string
	DiskConfig            string // AUTO or MANUAL (OS-DCF:diskConfig)
	Progress              int
	LaunchedAt            *time.Time
	TerminatedAt          *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
	Deleted               bool
	DeletedAt             *time.Time
	Revision              int64
	// NICs is the guest's network interfaces as JSON (the compute service
	// owns the shape); empty for a server without NICs.
	NICs string
	// Volumes is the server's block device mappings as JSON (the compute
	// service owns the shape); empty for a server without volumes.
	Volumes string
}

const serverCols = `id, project_id, user_id, name, description, hostname, image_id, flavor, vcpus, ram_mb, key_name, key_data, user_data, config_drive,
	metadata, tags, requested_zone, requested_host, zone, host, source_host, group_id, reservation_id, launch_index, vm_state, task_state, task_arg, power_state,
	desired_power, locked, locked_reason, locked_by, fault, migration, access_ipv4, access_ipv6, progress, launched_at, terminated_at,
	created_at, updated_at, deleted, deleted_at, disk_config, revision, nics, volumes`

// serverColumns is serverCols as a list, in the same order as serverArgs.
var serverColumns = strings.Split(strings.Join(strings.Fields(serverCols), ""), ",")

// serverUpdate is the UPDATE of every column but id, by id.
var serverUpdate = func() string {
	set := make([]string, 0, len(serverColumns)-1)
	for _, c := range serverColumns[1:] {
		set = append(set, c+" = ?")
	}
	return `UPDATE servers SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
}()

func scanServer(s scanner) (Server, error) {
	var v Server
	var desc sql.NullString
	var flavor, meta, tags, fault, migration string
	var launched, terminated, deletedAt sql.NullInt64
	var created, updated int64
	var vcpus, ram int
	err := s.Scan(&v.ID, &v.ProjectID, &v.UserID, &v.Name, &desc, &v.Hostname, &v.ImageID, &flavor, &vcpus, &ram, &v.KeyName, &v.KeyData, &v.UserData, &v.ConfigDrive,
		&meta, &tags, &v.RequestedZone, &v.RequestedHost, &v.Zone, &v.Host, &v.SourceHost, &v.GroupID, &v.ReservationID, &v.LaunchIndex, &v.VMState, &v.TaskState, &v.TaskArg, &v.PowerState,
		&v.DesiredPower, &v.Locked, &v.LockedReason, &v.LockedBy, &fault, &migration, &v.AccessIPv4, &v.AccessIPv6, &v.Progress, &launched, &terminated,
		&created, &updated, &v.Deleted, &deletedAt, &v.DiskConfig, &v.Revision, &v.NICs, &v.Volumes)
	if err != nil {
		return v, err
	}
	if desc.Valid {
		v.Description = &desc.String
	}
	_ = json.Unmarshal([]byte(flavor), &v.Flavor)
	v.Metadata, v.Tags = jsonMap(meta), stringList(tags)
	if fault != "" {
		v.Fault = &Fault{}
		_ = json.Unmarshal([]byte(fault), v.Fault)
	}
	if migration != "" {
		v.Migration = &Migration{}
		_ = json.Unmarshal([]byte(migration), v.Migration)
	}
	v.LaunchedAt, v.TerminatedAt, v.DeletedAt = fromNullMicros(launched), fromNullMicros(terminated), fromNullMicros(deletedAt)
	v.CreatedAt, v.UpdatedAt = fromMicros(created), fromMicros(updated)
	return v, nil
}

func serverArgs(v Server) []any {
	var desc sql.NullString
	if v.Description != nil {
		desc = sql.NullString{String: *v.Description, Valid: true}
	}
	fault, migration := "", ""
	if v.Fault != nil {
		fault = toJSON(v.Fault)
	}
	if v.Migration != nil {
		migration = toJSON(v.Migration)
	}
	tags := v.Tags
	if tags == nil {
		tags = []string{}
	}
	return []any{v.ID, v.ProjectID, v.UserID, v.Name, desc, v.Hostname, v.ImageID, toJSON(v.Flavor), v.Flavor.VCPUs, v.Flavor.RAM, v.KeyName, v.KeyData, v.UserData, v.ConfigDrive,
		toJSON(nonNilMap(v.Metadata)), toJSON(tags), v.RequestedZone, v.RequestedHost, v.Zone, v.Host, v.SourceHost, v.GroupID, v.ReservationID, v.LaunchIndex, v.VMState, v.TaskState, v.TaskArg, v.PowerState,
		v.DesiredPower, v.Locked, v.LockedReason, v.LockedBy, fault, migration, v.AccessIPv4, v.AccessIPv6, v.Progress, nullMicros(v.LaunchedAt), nullMicros(v.TerminatedAt),
		micros(v.CreatedAt), micros(v.UpdatedAt), v.Deleted, nullMicros(v.DeletedAt), diskConfig(v.DiskConfig), v.Revision, v.NICs, v.Volumes}
}

// diskConfig defaults an unset disk config to Nova's MANUAL.
func diskConfig(s string) string {
	if s == "" {
		return "MANUAL"
	}
	return s
}

// Revisions. Every server write takes a revision from the compute epoch so
// agents can watch "everything on my host after revision N"; for that,
// rows must become visible in revision order, so the epoch row stays
// locked from the bump to the commit. The bump is therefore the last
// statement of a transaction (stampRevisions, run by Write just before
// COMMIT): bumping at the first server write held the lock through the
// rest of the transaction — 32 placements in a scheduler batch — and on
// PostgreSQL every other writer queued behind it.

// touch records that the transaction wrote server v: it gets the
// transaction's revision at commit.
func (t *Tx) touch(v *Server) { t.written = append(t.written, v) }

// stampRevisions advances the compute epoch by the number of servers the
// transaction wrote and gives each its own revision, in the order they
// were first written (so an agent's watch, which pages by revision, never
// sees two rows at one revision). It runs just before COMMIT.
func (t *Tx) stampRevisions(ctx context.Context) error {
	if len(t.written) == 0 {
		return nil
	}
	seen := make(map[string]int64, len(t.written))
	ids := make([]string, 0, len(t.written))
	for _, v := range t.written {
		if _, ok := seen[v.ID]; !ok {
			seen[v.ID] = 0
			ids = append(ids, v.ID)
		}
	}
	top, err := t.advanceEpoch(ctx, "compute", int64(len(ids)))
	if err != nil {
		return fmt.Errorf("next server revision: %w", err)
	}
	rev := top - int64(len(ids))
	const chunk = 500 // 3 parameters a row: well under either backend's limit
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		var b strings.Builder
		args := make([]any, 0, 3*len(part))
		b.WriteString(`UPDATE servers SET revision = CASE id`)
		for _, id := range part {
			rev++
			seen[id] = rev
			b.WriteString(` WHEN ? THEN CAST(? AS BIGINT)`)
			args = append(args, id, rev)
		}
		b.WriteString(` END`)
		w := (&where{args: args}).in("id", part)
		if _, err := t.exec(ctx, b.String()+w.sql(), w.args...); err != nil {
			return fmt.Errorf("stamp server revisions: %w", err)
		}
	}
	for _, v := range t.written {
		v.Revision = seen[v.ID]
	}
	return nil
}

// CreateServer inserts v. Its Revision is set when the transaction
// commits.
func (t *Tx) CreateServer(ctx context.Context, v *Server) error {
	ph := strings.Repeat("?, ", len(serverColumns)-1) + "?"
	if _, err := t.exec(ctx, `INSERT INTO servers (`+serverCols+`) VALUES (`+ph+`)`, serverArgs(*v)...); err != nil {
		return t.mapErr(err)
	}
	t.touch(v)
	return nil
}

// UpdateServer writes every field of v; v.Revision is set to the next
// revision when the transaction commits. When ifRevision is non-zero the
// write only happens if the row still has that revision (ErrConflict
// otherwise): optimistic concurrency for reconcilers.
func (t *Tx) UpdateServer(ctx context.Context, v *Server, ifRevision int64) error {
	args := serverArgs(*v) // revision as read; stamped at commit
	q := serverUpdate
	args = append(args[1:], v.ID)
	if ifRevision != 0 {
		q += ` AND revision = ?`
		args = append(args, ifRevision)
	}
	if err := affected(t.exec(ctx, q, args...)); err == ErrNotFound && ifRevision != 0 {
		return ErrConflict
	} else if err != nil {
		return t.mapErr(err)
	}
	t.touch(v)
	return nil
}

// GetServer reads a server, deleted or not.
func (t *Tx) GetServer(ctx context.Context, id string) (Server, error) {
	return one(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE id = ?`, id)
}

// ServerFilter narrows ListServers. Zero values match everything.
type ServerFilter struct {
	ProjectID      string // "" with AllProjects for admins
	UserID         string
	Name           string // SQL LIKE pattern, already escaped; "" for any
	VMStates       []string
	Host           string
	FlavorID       string
	ImageID        string
	Zone           string
	ReservationID  string
	ChangesSince   *time.Time
	ChangesBefore  *time.Time
	Locked         *bool
	IncludeDeleted bool
	OnlyDeleted    bool
	// SortColumn is the column to sort on (any of serverCols; the compute
	// service maps Nova's sort keys to columns); default created_at.
	SortColumn string
	Desc       bool
	Page       Page
}

// ListServers lists servers with keyset paging on (sort column, id).
func (t *Tx) ListServers(ctx context.Context, f ServerFilter) ([]Server, error) {
	w := &where{}
	switch {
	case f.OnlyDeleted:
		w.eq("deleted", true, true)
	case !f.IncludeDeleted:
		w.eq("deleted", false, true)
	}
	w.eq("project_id", f.ProjectID, f.ProjectID != "").eq("user_id", f.UserID, f.UserID != "").
		eq("host", f.Host, f.Host != "").eq("image_id", f.ImageID, f.ImageID != "").eq("zone", f.Zone, f.Zone != "").
		eq("reservation_id", f.ReservationID, f.ReservationID != "")
	if f.VMStates != nil {
		w.in("vm_state", f.VMStates)
	}
	if f.Name != "" {
		w.clauses = append(w.clauses, "name LIKE ? ESCAPE '\\'")
		w.args = append(w.args, f.Name)
	}
	if f.FlavorID != "" {
		w.clauses = append(w.clauses, "flavor LIKE ?")
		w.args = append(w.args, `{"id":"`+strings.NewReplacer("%", `\%`, "_", `\_`).Replace(f.FlavorID)+`",%`)
	}
	if f.ChangesSince != nil {
		w.clauses = append(w.clauses, "updated_at >= ?")
		w.args = append(w.args, micros(*f.ChangesSince))
	}
	if f.ChangesBefore != nil {
		w.clauses = append(w.clauses, "updated_at <= ?")
		w.args = append(w.args, micros(*f.ChangesBefore))
	}
	if f.Locked != nil {
		w.eq("locked", *f.Locked, true)
	}
	col := f.SortColumn
	if !slices.Contains(serverColumns, col) {
		col = "created_at"
	}
	if f.Page.Marker != "" {
		m, err := t.GetServer(ctx, f.Page.Marker)
		if err != nil {
			return nil, err
		}
		w.after(col, f.Desc, serverSortValue(m, col), m.ID)
	}
	q := `SELECT ` + serverCols + ` FROM servers` + w.orderPage(col, f.Desc, f.Page.Limit)
	return list(ctx, t, scanServer, q, w.args...)
}

func serverSortValue(v Server, col string) any {
	args := serverArgs(v)
	for i, c := range serverColumns {
		if c == col {
			return args[i]
		}
	}
	return v.ID
}

// ServersChangedOnHost lists servers placed on host whose revision is
// after since, deleted ones included, in revision order: an agent's watch.
func (t *Tx) ServersChangedOnHost(ctx context.Context, host string, since int64, limit int) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE (host = ? OR source_host = ?) AND revision > ? ORDER BY revision LIMIT ?`, host, host, since, limit)
}

// ServersOnHost lists the live servers placed on host or moving off it.
func (t *Tx) ServersOnHost(ctx context.Context, host string) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE (host = ? OR source_host = ?) AND deleted = ?`, host, host, false)
}

// ServersToSchedule lists building servers without a host, oldest first.
func (t *Tx) ServersToSchedule(ctx context.Context, limit int) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE vm_state = 'building' AND host = '' AND deleted = ? ORDER BY created_at, id LIMIT ?`, false, limit)
}

// ServersInTask lists live servers with a task in progress (for reconcilers after a restart).
func (t *Tx) ServersInTask(ctx context.Context, limit int) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE task_state <> '' AND deleted = ? ORDER BY updated_at, id LIMIT ?`, false, limit)
}

// ProjectUsage is what a project's live servers use.
type ProjectUsage struct{ Instances, Cores, RAM int64 }

// ServerUsage counts a project's live servers, vCPUs and RAM.
func (t *Tx) ServerUsage(ctx context.Context, projectID string) (ProjectUsage, error) {
	var u ProjectUsage
	err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram_mb), 0) FROM servers WHERE project_id = ? AND deleted = ?`,
		projectID, false).Scan(&u.Instances, &u.Cores, &u.RAM)
	return u, err
}

// PurgeDeletedServers removes servers deleted before cutoff, with their
// actions; it returns how many went.
func (t *Tx) PurgeDeletedServers(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	ids, err := list(ctx, t, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM servers WHERE deleted = ? AND deleted_at < ? ORDER BY deleted_at LIMIT ?`, true, micros(cutoff), limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	w := &where{}
	w.in("server_id", ids)
	if _, err := t.exec(ctx, `DELETE FROM instance_action_events WHERE action_id IN (SELECT id FROM instance_actions`+w.sql()+`)`, w.args...); err != nil {
		return 0, err
	}
	if _, err := t.exec(ctx, `DELETE FROM instance_actions`+w.sql(), w.args...); err != nil {
		return 0, err
	}
	w2 := &where{}
	w2.in("id", ids)
	_, err = t.exec(ctx, `DELETE FROM servers`+w2.sql(), w2.args...)
	return len(ids), err
}

// ServersToMove lists servers whose resize or migration waits for a
// destination host.
func (t *Tx) ServersToMove(ctx context.Context, limit int) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE task_state IN ('resize_prep', 'migrating') AND source_host = '' AND deleted = ? ORDER BY updated_at, id LIMIT ?`, false, limit)
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

// UserServerUsage counts one user's live servers, vCPUs and RAM in a project.
func (t *Tx) UserServerUsage(ctx context.Context, projectID, userID string) (ProjectUsage, error) {
	var u ProjectUsage
	err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram_mb), 0) FROM servers WHERE project_id = ? AND user_id = ? AND deleted = ?`,
		projectID, userID, false).Scan(&u.Instances, &u.Cores, &u.RAM)
	return u, err
}
