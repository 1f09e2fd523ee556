package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Flavor is a Nova flavor row.
type Flavor struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	RAM         int               `json:"ram"`
	VCPUs       int               `json:"vcpus"`
	Disk        int               `json:"disk"`
	Ephemeral   int               `json:"ephemeral"`
	Swap        int               `json:"swap"`
	RxTxFactor  float64           `json:"rxtx_factor"`
	IsPublic    bool              `json:"is_public"`
	Disabled    bool              `json:"disabled"`
	Description string            `json:"description"`
	ExtraSpecs  map[string]string `json:"extra_specs"`
	CreatedAt   time.Time         `json:"-"`
	UpdatedAt   time.Time         `json:"-"`
}

// Keypair is a Nova keypair row; keypairs belong to users.
type Keypair struct {
	UserID, Name, Type, PublicKey, Fingerprint string
	CreatedAt                                  time.Time
}

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

// InstanceAction is one user-visible action on a server.
type InstanceAction struct {
	ID, ServerID, Action, RequestID, ProjectID, UserID, Message string
	StartTime, UpdatedAt                                        time.Time
}

// ActionEvent is one step of an instance action.
type ActionEvent struct {
	ID, ActionID, Event string
	StartTime           time.Time
	FinishTime          *time.Time
	Result              string // "", Success, Error
	Traceback, Host     string
	Details             string
}

// ServerGroup is a Nova server group row.
type ServerGroup struct {
	ID, Name, ProjectID, UserID, Policy string
	Rules                               map[string]any
	CreatedAt                           time.Time
}

// Aggregate is a host aggregate row.
type Aggregate struct {
	ID        int
	UUID      string
	Name      string
	Zone      string
	Metadata  map[string]string
	Hosts     []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func jsonMap(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

// ---- flavors

const flavorCols = `id, name, ram_mb, vcpus, disk_gb, ephemeral_gb, swap_mb, rxtx_factor, is_public, disabled, description, extra_specs, created_at, updated_at`

func scanFlavor(s scanner) (Flavor, error) {
	var f Flavor
	var specs string
	var c, u int64
	err := s.Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk, &f.Ephemeral, &f.Swap, &f.RxTxFactor, &f.IsPublic, &f.Disabled, &f.Description, &specs, &c, &u)
	f.ExtraSpecs, f.CreatedAt, f.UpdatedAt = jsonMap(specs), fromMicros(c), fromMicros(u)
	return f, err
}

// CreateFlavor inserts f; ErrConflict when its id or name is taken.
func (t *Tx) CreateFlavor(ctx context.Context, f Flavor) error {
	_, err := t.exec(ctx, `INSERT INTO flavors (`+flavorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, f.RAM, f.VCPUs, f.Disk, f.Ephemeral, f.Swap, f.RxTxFactor, f.IsPublic, f.Disabled, f.Description, toJSON(nonNilMap(f.ExtraSpecs)), micros(f.CreatedAt), micros(f.UpdatedAt))
	return t.mapErr(err)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// UpdateFlavor writes the mutable fields of f (description, extra specs).
func (t *Tx) UpdateFlavor(ctx context.Context, f Flavor) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE flavors SET description = ?, extra_specs = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		f.Description, toJSON(nonNilMap(f.ExtraSpecs)), f.Disabled, micros(f.UpdatedAt), f.ID)))
}

// GetFlavor reads one flavor by id.
func (t *Tx) GetFlavor(ctx context.Context, id string) (Flavor, error) {
	return one(ctx, t, scanFlavor, `SELECT `+flavorCols+` FROM flavors WHERE id = ?`, id)
}

// GetFlavorByName reads one flavor by name.
func (t *Tx) GetFlavorByName(ctx context.Context, name string) (Flavor, error) {
	return one(ctx, t, scanFlavor, `SELECT `+flavorCols+` FROM flavors WHERE name = ?`, name)
}

func flavorSortValue(f Flavor, col string) any {
	switch col {
	case "name":
		return f.Name
	case "ram_mb":
		return f.RAM
	case "vcpus":
		return f.VCPUs
	case "disk_gb":
		return f.Disk
	case "swap_mb":
		return f.Swap
	case "ephemeral_gb":
		return f.Ephemeral
	case "created_at":
		return micros(f.CreatedAt)
	case "rxtx_factor":
		return f.RxTxFactor
	}
	return f.ID
}

// DeleteFlavor removes a flavor; servers keep their snapshot of it.
func (t *Tx) DeleteFlavor(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM flavors WHERE id = ?`, id)))
}

// FlavorAccess lists the projects given access to a private flavor.
func (t *Tx) FlavorAccess(ctx context.Context, flavorID string) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) {
		var p string
		return p, s.Scan(&p)
	}, `SELECT project_id FROM flavor_access WHERE flavor_id = ? ORDER BY project_id`, flavorID)
}

// AddFlavorAccess gives a project access; ErrConflict when it already has it.
func (t *Tx) AddFlavorAccess(ctx context.Context, flavorID, projectID string) error {
	_, err := t.exec(ctx, `INSERT INTO flavor_access (flavor_id, project_id) VALUES (?, ?)`, flavorID, projectID)
	return t.mapErr(err)
}

// RemoveFlavorAccess takes access away; ErrNotFound when it had none.
func (t *Tx) RemoveFlavorAccess(ctx context.Context, flavorID, projectID string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM flavor_access WHERE flavor_id = ? AND project_id = ?`, flavorID, projectID)))
}

// ---- keypairs

const keypairCols = `user_id, name, type, public_key, fingerprint, created_at`

func scanKeypair(s scanner) (Keypair, error) {
	var k Keypair
	var c int64
	err := s.Scan(&k.UserID, &k.Name, &k.Type, &k.PublicKey, &k.Fingerprint, &c)
	k.CreatedAt = fromMicros(c)
	return k, err
}

// CreateKeypair inserts k; ErrConflict when the user has one of that name.
func (t *Tx) CreateKeypair(ctx context.Context, k Keypair) error {
	_, err := t.exec(ctx, `INSERT INTO keypairs (`+keypairCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.UserID, k.Name, k.Type, k.PublicKey, k.Fingerprint, micros(k.CreatedAt))
	return t.mapErr(err)
}

// GetKeypair reads a user's keypair.
func (t *Tx) GetKeypair(ctx context.Context, userID, name string) (Keypair, error) {
	return one(ctx, t, scanKeypair, `SELECT `+keypairCols+` FROM keypairs WHERE user_id = ? AND name = ?`, userID, name)
}

// ListKeypairs lists a user's keypairs by name, after marker.
func (t *Tx) ListKeypairs(ctx context.Context, userID string, p Page) ([]Keypair, error) {
	w := &where{}
	w.eq("user_id", userID, true)
	if p.Marker != "" {
		w.clauses = append(w.clauses, "name > ?")
		w.args = append(w.args, p.Marker)
	}
	q := `SELECT ` + keypairCols + ` FROM keypairs` + w.sql() + ` ORDER BY name`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, p.Limit)
	}
	return list(ctx, t, scanKeypair, q, w.args...)
}

// CountKeypairs counts a user's keypairs (for the quota).
func (t *Tx) CountKeypairs(ctx context.Context, userID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM keypairs WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// DeleteKeypair removes a keypair.
func (t *Tx) DeleteKeypair(ctx context.Context, userID, name string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM keypairs WHERE user_id = ? AND name = ?`, userID, name)))
}

// ---- compute hosts

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

// ---- servers

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
	SortKey        string // column: created_at, updated_at, name, …
	Desc           bool
	Page           Page
}

var serverSort = map[string]string{"created_at": "created_at", "updated_at": "updated_at", "display_name": "name", "name": "name",
	"hostname": "hostname", "host": "host", "vm_state": "vm_state", "task_state": "task_state", "power_state": "power_state",
	"uuid": "id", "availability_zone": "zone", "launched_at": "launched_at", "terminated_at": "terminated_at", "project_id": "project_id",
	"user_id": "user_id", "key_name": "key_name", "image_ref": "image_id", "locked": "locked", "display_description": "description"}

// ServerSortColumn maps a Nova sort key to a column, or "" when it cannot sort.
func ServerSortColumn(key string) string { return serverSort[key] }

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
	col := serverSort[f.SortKey]
	if col == "" {
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

// LockProjectQuota serialises quota-counted creates within one project:
// the row is created or updated in the caller's transaction, which holds
// its row lock until commit on PostgreSQL (SQLite has one writer anyway).
func (t *Tx) LockProjectQuota(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `INSERT INTO quota_locks (project_id, counter) VALUES (?, 1)
		ON CONFLICT (project_id) DO UPDATE SET counter = quota_locks.counter + 1`, projectID)
	return err
}

// GroupMemberHosts returns, for a server group, the host of each live member.
func (t *Tx) GroupMemberHosts(ctx context.Context, groupID string) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT id, host FROM servers WHERE group_id = ? AND deleted = ?`, groupID, false)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, host string
		if err := rows.Scan(&id, &host); err != nil {
			return nil, err
		}
		out[id] = host
	}
	return out, rows.Err()
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

// ---- instance actions

// CreateAction inserts an instance action.
func (t *Tx) CreateAction(ctx context.Context, a InstanceAction) error {
	_, err := t.exec(ctx, `INSERT INTO instance_actions (id, server_id, action, request_id, project_id, user_id, message, start_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ServerID, a.Action, a.RequestID, a.ProjectID, a.UserID, a.Message, micros(a.StartTime), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// TouchAction sets an action's message and updated time.
func (t *Tx) TouchAction(ctx context.Context, id, message string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE instance_actions SET message = ?, updated_at = ? WHERE id = ?`, message, micros(at), id)
	return err
}

func scanAction(s scanner) (InstanceAction, error) {
	var a InstanceAction
	var st, up int64
	err := s.Scan(&a.ID, &a.ServerID, &a.Action, &a.RequestID, &a.ProjectID, &a.UserID, &a.Message, &st, &up)
	a.StartTime, a.UpdatedAt = fromMicros(st), fromMicros(up)
	return a, err
}

const actionCols = `id, server_id, action, request_id, project_id, user_id, message, start_time, updated_at`

// ListActions lists a server's actions, newest first.
func (t *Tx) ListActions(ctx context.Context, serverID string) ([]InstanceAction, error) {
	return list(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? ORDER BY start_time DESC, id DESC`, serverID)
}

// GetActionByRequest reads a server's action by request id.
func (t *Tx) GetActionByRequest(ctx context.Context, serverID, requestID string) (InstanceAction, error) {
	return one(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? AND request_id = ?`, serverID, requestID)
}

// LatestAction reads the newest action of a server.
func (t *Tx) LatestAction(ctx context.Context, serverID string) (InstanceAction, error) {
	return one(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? ORDER BY start_time DESC, id DESC LIMIT 1`, serverID)
}

const eventCols = `id, action_id, event, start_time, finish_time, result, traceback, host, details`

// SaveEvent inserts or updates an action event.
func (t *Tx) SaveEvent(ctx context.Context, e ActionEvent) error {
	_, err := t.exec(ctx, `INSERT INTO instance_action_events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET finish_time = excluded.finish_time, result = excluded.result, traceback = excluded.traceback, host = excluded.host, details = excluded.details`,
		e.ID, e.ActionID, e.Event, micros(e.StartTime), nullMicros(e.FinishTime), e.Result, e.Traceback, e.Host, e.Details)
	return t.mapErr(err)
}

// ListEvents lists an action's events in order.
func (t *Tx) ListEvents(ctx context.Context, actionID string) ([]ActionEvent, error) {
	return list(ctx, t, func(s scanner) (ActionEvent, error) {
		var e ActionEvent
		var st int64
		var fin sql.NullInt64
		err := s.Scan(&e.ID, &e.ActionID, &e.Event, &st, &fin, &e.Result, &e.Traceback, &e.Host, &e.Details)
		e.StartTime, e.FinishTime = fromMicros(st), fromNullMicros(fin)
		return e, err
	}, `SELECT `+eventCols+` FROM instance_action_events WHERE action_id = ? ORDER BY start_time, id`, actionID)
}

// ---- server groups

const groupSGCols = `id, name, project_id, user_id, policy, rules, created_at`

func scanServerGroup(s scanner) (ServerGroup, error) {
	var g ServerGroup
	var rules string
	var c int64
	err := s.Scan(&g.ID, &g.Name, &g.ProjectID, &g.UserID, &g.Policy, &rules, &c)
	g.Rules, g.CreatedAt = extra(rules), fromMicros(c)
	return g, err
}

// CreateServerGroup inserts g.
func (t *Tx) CreateServerGroup(ctx context.Context, g ServerGroup) error {
	_, err := t.exec(ctx, `INSERT INTO server_groups (`+groupSGCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.ProjectID, g.UserID, g.Policy, toJSON(g.Rules), micros(g.CreatedAt))
	return t.mapErr(err)
}

// GetServerGroup reads a server group.
func (t *Tx) GetServerGroup(ctx context.Context, id string) (ServerGroup, error) {
	return one(ctx, t, scanServerGroup, `SELECT `+groupSGCols+` FROM server_groups WHERE id = ?`, id)
}

// ListServerGroups lists a project's groups (all when projectID is "").
func (t *Tx) ListServerGroups(ctx context.Context, projectID string, p Page) ([]ServerGroup, error) {
	w := &where{}
	w.eq("project_id", projectID, projectID != "")
	if p.Marker != "" {
		w.clauses = append(w.clauses, "id > ?")
		w.args = append(w.args, p.Marker)
	}
	q := `SELECT ` + groupSGCols + ` FROM server_groups` + w.sql() + ` ORDER BY id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, p.Limit)
	}
	return list(ctx, t, scanServerGroup, q, w.args...)
}

// CountServerGroups counts a project's server groups (for the quota).
func (t *Tx) CountServerGroups(ctx context.Context, projectID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM server_groups WHERE project_id = ?`, projectID).Scan(&n)
	return n, err
}

// DeleteServerGroup removes a group; its members stay, ungrouped.
func (t *Tx) DeleteServerGroup(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `UPDATE servers SET group_id = '' WHERE group_id = ?`, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM server_groups WHERE id = ?`, id)))
}

// GroupMembers lists the ids of a group's live servers.
func (t *Tx) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM servers WHERE group_id = ? AND deleted = ? ORDER BY created_at, id`, groupID, false)
}

// ---- quotas

// QuotaLimits returns a project's explicit limits by resource.
func (t *Tx) QuotaLimits(ctx context.Context, projectID string) (map[string]int64, error) {
	rows, err := t.query(ctx, `SELECT resource, hard_limit FROM quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var v int64
		if err := rows.Scan(&r, &v); err != nil {
			return nil, err
		}
		out[r] = v
	}
	return out, rows.Err()
}

// SetQuota sets one limit of a project.
func (t *Tx) SetQuota(ctx context.Context, projectID, resource string, limit int64) error {
	_, err := t.exec(ctx, `INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
		ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, resource, limit)
	return err
}

// DeleteQuotas reverts a project to the default limits.
func (t *Tx) DeleteQuotas(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `DELETE FROM quotas WHERE project_id = ?`, projectID)
	return err
}

// ---- aggregates

func scanAggregate(s scanner) (Aggregate, error) {
	var a Aggregate
	var meta string
	var c, u int64
	err := s.Scan(&a.ID, &a.UUID, &a.Name, &a.Zone, &meta, &c, &u)
	a.Metadata, a.CreatedAt, a.UpdatedAt = jsonMap(meta), fromMicros(c), fromMicros(u)
	return a, err
}

const aggregateCols = `id, uuid, name, zone, metadata, created_at, updated_at`

// CreateAggregate inserts a (its ID is assigned).
func (t *Tx) CreateAggregate(ctx context.Context, a *Aggregate) error {
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM aggregates`).Scan(&a.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO aggregates (`+aggregateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UUID, a.Name, a.Zone, toJSON(nonNilMap(a.Metadata)), micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// UpdateAggregate writes name, zone and metadata.
func (t *Tx) UpdateAggregate(ctx context.Context, a Aggregate) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE aggregates SET name = ?, zone = ?, metadata = ?, updated_at = ? WHERE id = ?`,
		a.Name, a.Zone, toJSON(nonNilMap(a.Metadata)), micros(a.UpdatedAt), a.ID)))
}

// GetAggregate reads an aggregate with its hosts.
func (t *Tx) GetAggregate(ctx context.Context, id int) (Aggregate, error) {
	a, err := one(ctx, t, scanAggregate, `SELECT `+aggregateCols+` FROM aggregates WHERE id = ?`, id)
	if err != nil {
		return a, err
	}
	a.Hosts, err = list(ctx, t, func(s scanner) (string, error) {
		var h string
		return h, s.Scan(&h)
	}, `SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host`, id)
	return a, err
}

// ListAggregates lists every aggregate with its hosts.
func (t *Tx) ListAggregates(ctx context.Context) ([]Aggregate, error) {
	as, err := list(ctx, t, scanAggregate, `SELECT `+aggregateCols+` FROM aggregates ORDER BY id`)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT aggregate_id, host FROM aggregate_hosts ORDER BY host`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[int]int{}
	for i, a := range as {
		idx[a.ID] = i
	}
	for rows.Next() {
		var id int
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		if i, ok := idx[id]; ok {
			as[i].Hosts = append(as[i].Hosts, h)
		}
	}
	return as, rows.Err()
}

// DeleteAggregate removes an aggregate.
func (t *Tx) DeleteAggregate(ctx context.Context, id int) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM aggregates WHERE id = ?`, id)))
}

// AddAggregateHost adds a host; ErrConflict when already there.
func (t *Tx) AddAggregateHost(ctx context.Context, id int, host string) error {
	_, err := t.exec(ctx, `INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)`, id, host)
	return t.mapErr(err)
}

// RemoveAggregateHost removes a host; ErrNotFound when absent.
func (t *Tx) RemoveAggregateHost(ctx context.Context, id int, host string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?`, id, host)))
}

// ServersToMove lists servers whose resize or migration waits for a
// destination host.
func (t *Tx) ServersToMove(ctx context.Context, limit int) ([]Server, error) {
	return list(ctx, t, scanServer, `SELECT `+serverCols+` FROM servers WHERE task_state IN ('resize_prep', 'migrating') AND source_host = '' AND deleted = ? ORDER BY updated_at, id LIMIT ?`, false, limit)
}
