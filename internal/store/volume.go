package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Volume is a Cinder volume record.
type Volume struct {
	ID, ProjectID, UserID   string
	Name, Description       string
	SizeGB                  int64
	Status, AttachStatus    string
	TypeID                  string
	AvailabilityZone        string
	Bootable, ReadOnly      bool
	Multiattach             bool
	SourceVolID, SnapshotID string
	ImageID                 string
	Host                    string
	// Task is what the worker still owes a transitional status, e.g. the
	// size an extend goes to ("extend:20") or an upload's image id.
	Task          string
	ErrorMessage  string
	Metadata      map[string]string
	ImageMetadata map[string]string
	Revision      int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Deleted       bool
	DeletedAt     *time.Time
}

// VolumeSnapshot is a Cinder snapshot record.
type VolumeSnapshot struct {
	ID, ProjectID, UserID, VolumeID string
	Name, Description               string
	SizeGB                          int64
	Status, ErrorMessage            string
	Metadata                        map[string]string
	CreatedAt, UpdatedAt            time.Time
	Deleted                         bool
}

// VolumeAttachment joins a volume to a server.
type VolumeAttachment struct {
	ID, VolumeID, InstanceUUID, Host, Device string
	Status, AttachMode                       string
	Connector                                map[string]any
	Address                                  string
	CreatedAt, UpdatedAt                     time.Time
}

// VolumeType is a Cinder volume type.
type VolumeType struct {
	ID, Name, Description string
	IsPublic              bool
	ExtraSpecs            map[string]string
	CreatedAt, UpdatedAt  time.Time
}

func strMap(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func mapJSON(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	return toJSON(m)
}

const volumeCols = `id, project_id, user_id, name, description, size_gb, status, attach_status, type_id, availability_zone,
	bootable, readonly, multiattach, source_volid, snapshot_id, image_id, host, task, error_message, metadata, image_metadata,
	revision, created_at, updated_at, deleted, deleted_at`

func scanVolume(s scanner) (Volume, error) {
	var v Volume
	var md, imd string
	var created, updated int64
	var deletedAt sql.NullInt64
	err := s.Scan(&v.ID, &v.ProjectID, &v.UserID, &v.Name, &v.Description, &v.SizeGB, &v.Status, &v.AttachStatus, &v.TypeID,
		&v.AvailabilityZone, &v.Bootable, &v.ReadOnly, &v.Multiattach, &v.SourceVolID, &v.SnapshotID, &v.ImageID, &v.Host,
		&v.Task, &v.ErrorMessage, &md, &imd, &v.Revision, &created, &updated, &v.Deleted, &deletedAt)
	v.Metadata, v.ImageMetadata = strMap(md), strMap(imd)
	v.CreatedAt, v.UpdatedAt, v.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deletedAt)
	return v, err
}

// CreateVolume inserts v.
func (t *Tx) CreateVolume(ctx context.Context, v Volume) error {
	_, err := t.exec(ctx, `INSERT INTO volumes (`+volumeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.ProjectID, v.UserID, v.Name, v.Description, v.SizeGB, v.Status, v.AttachStatus, v.TypeID, v.AvailabilityZone,
		v.Bootable, v.ReadOnly, v.Multiattach, v.SourceVolID, v.SnapshotID, v.ImageID, v.Host, v.Task, v.ErrorMessage,
		mapJSON(v.Metadata), mapJSON(v.ImageMetadata), 1, micros(v.CreatedAt), micros(v.UpdatedAt), v.Deleted, nullMicros(v.DeletedAt))
	return t.mapErr(err)
}

// GetVolume reads a volume, deleted or not.
func (t *Tx) GetVolume(ctx context.Context, id string) (Volume, error) {
	return one(ctx, t, scanVolume, `SELECT `+volumeCols+` FROM volumes WHERE id = ?`, id)
}

// UpdateVolume writes every mutable field of v if its revision is still
// v.Revision; ErrConflict when another writer got there first.
func (t *Tx) UpdateVolume(ctx context.Context, v *Volume) error {
	res, err := t.exec(ctx, `UPDATE volumes SET name = ?, description = ?, size_gb = ?, status = ?, attach_status = ?, type_id = ?,
		bootable = ?, readonly = ?, multiattach = ?, host = ?, task = ?, error_message = ?, metadata = ?, image_metadata = ?,
		revision = revision + 1, updated_at = ?, deleted = ?, deleted_at = ? WHERE id = ? AND revision = ?`,
		v.Name, v.Description, v.SizeGB, v.Status, v.AttachStatus, v.TypeID, v.Bootable, v.ReadOnly, v.Multiattach, v.Host,
		v.Task, v.ErrorMessage, mapJSON(v.Metadata), mapJSON(v.ImageMetadata), micros(v.UpdatedAt), v.Deleted,
		nullMicros(v.DeletedAt), v.ID, v.Revision)
	if err := affected(res, err); err != nil {
		if err == ErrNotFound {
			return fmt.Errorf("%w: volume %s changed while updating it", ErrConflict, v.ID)
		}
		return err
	}
	v.Revision++
	return nil
}

// VolumeQuery selects live volumes for a list.
type VolumeQuery struct {
	ProjectID string // "" : every project
	Status    string
	Name      string
	SortKey   string // a volumes column; created_at when empty
	Desc      bool
	Marker    *Volume
	Limit     int // 0: no limit
}

var volumeSortCols = map[string]bool{"created_at": true, "updated_at": true, "name": true, "size_gb": true, "status": true,
	"id": true, "availability_zone": true, "bootable": true, "project_id": true}

// ValidVolumeSortKey reports whether a volume list can sort on column k.
func ValidVolumeSortKey(k string) bool { return volumeSortCols[k] }

// ListVolumes returns live volumes in (sort key, id) order after the marker.
func (t *Tx) ListVolumes(ctx context.Context, q VolumeQuery) ([]Volume, error) {
	w := &where{}
	w.eq("deleted", false, true).eq("project_id", q.ProjectID, q.ProjectID != "").eq("status", q.Status, q.Status != "").
		eq("name", q.Name, q.Name != "")
	col := q.SortKey
	if !volumeSortCols[col] {
		col = "created_at"
	}
	if q.Marker != nil {
		t.volumeAfter(w, col, q.Desc, q.Marker)
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	sqlq := `SELECT ` + volumeCols + ` FROM volumes` + w.sql() + ` ORDER BY ` + col + dir + `, id` + dir
	if q.Limit > 0 {
		sqlq += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return list(ctx, t, scanVolume, sqlq, w.args...)
}

func (t *Tx) volumeAfter(w *where, col string, desc bool, m *Volume) {
	var v any
	switch col {
	case "created_at":
		v = micros(m.CreatedAt)
	case "updated_at":
		v = micros(m.UpdatedAt)
	case "name":
		v = m.Name
	case "size_gb":
		v = m.SizeGB
	case "status":
		v = m.Status
	case "availability_zone":
		v = m.AvailabilityZone
	case "bootable":
		v = m.Bootable
	case "project_id":
		v = m.ProjectID
	case "id":
		v = m.ID
	}
	op := ">"
	if desc {
		op = "<"
	}
	if col == "id" {
		w.clauses = append(w.clauses, "id "+op+" ?")
		w.args = append(w.args, m.ID)
		return
	}
	w.clauses = append(w.clauses, "("+col+" "+op+" ? OR ("+col+" = ? AND id "+op+" ?))")
	w.args = append(w.args, v, v, m.ID)
}

// CountVolumes counts the live volumes of q (its marker and limit ignored).
func (t *Tx) CountVolumes(ctx context.Context, q VolumeQuery) (int, error) {
	w := &where{}
	w.eq("deleted", false, true).eq("project_id", q.ProjectID, q.ProjectID != "").eq("status", q.Status, q.Status != "").
		eq("name", q.Name, q.Name != "")
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM volumes`+w.sql(), w.args...).Scan(&n)
	return n, err
}

// VolumesInStatus returns the ids of live volumes in any of statuses (the
// worker's to-do list).
func (t *Tx) VolumesInStatus(ctx context.Context, statuses ...string) ([]string, error) {
	w := &where{}
	w.in("status", statuses).eq("deleted", false, true)
	return list(ctx, t, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM volumes`+w.sql()+` ORDER BY created_at, id`, w.args...)
}

// VolumeUsage is what a project's volumes and snapshots hold, per type too.
type VolumeUsage struct {
	Volumes, Gigabytes, Snapshots int64
	// ByType maps a type id to its volumes, gigabytes and snapshots.
	ByType map[string][3]int64
}

// VolumeUsageOf counts a project's live volumes and snapshots.
func (t *Tx) VolumeUsageOf(ctx context.Context, projectID string) (VolumeUsage, error) {
	u := VolumeUsage{ByType: map[string][3]int64{}}
	rows, err := t.query(ctx, `SELECT type_id, COUNT(*), COALESCE(SUM(size_gb), 0) FROM volumes WHERE project_id = ? AND deleted = ? GROUP BY type_id`, projectID, false)
	if err != nil {
		return u, err
	}
	for rows.Next() {
		var typ string
		var n, gb int64
		if err := rows.Scan(&typ, &n, &gb); err != nil {
			rows.Close()
			return u, err
		}
		u.Volumes += n
		u.Gigabytes += gb
		c := u.ByType[typ]
		c[0], c[1] = c[0]+n, c[1]+gb
		u.ByType[typ] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return u, err
	}
	rows, err = t.query(ctx, `SELECT v.type_id, COUNT(*), COALESCE(SUM(s.size_gb), 0) FROM volume_snapshots s JOIN volumes v ON v.id = s.volume_id
		WHERE s.project_id = ? AND s.deleted = ? GROUP BY v.type_id`, projectID, false)
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ string
		var n, gb int64
		if err := rows.Scan(&typ, &n, &gb); err != nil {
			return u, err
		}
		u.Snapshots += n
		u.Gigabytes += gb
		c := u.ByType[typ]
		c[1], c[2] = c[1]+gb, c[2]+n
		u.ByType[typ] = c
	}
	return u, rows.Err()
}

// ---- snapshots

const snapshotCols = `id, project_id, user_id, volume_id, name, description, size_gb, status, error_message, metadata, created_at, updated_at, deleted`

func scanSnapshot(s scanner) (VolumeSnapshot, error) {
	var v VolumeSnapshot
	var md string
	var created, updated int64
	err := s.Scan(&v.ID, &v.ProjectID, &v.UserID, &v.VolumeID, &v.Name, &v.Description, &v.SizeGB, &v.Status, &v.ErrorMessage,
		&md, &created, &updated, &v.Deleted)
	v.Metadata = strMap(md)
	v.CreatedAt, v.UpdatedAt = fromMicros(created), fromMicros(updated)
	return v, err
}

// CreateSnapshot inserts s.
func (t *Tx) CreateSnapshot(ctx context.Context, s VolumeSnapshot) error {
	_, err := t.exec(ctx, `INSERT INTO volume_snapshots (`+snapshotCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.ProjectID, s.UserID, s.VolumeID, s.Name, s.Description, s.SizeGB, s.Status, s.ErrorMessage, mapJSON(s.Metadata),
		micros(s.CreatedAt), micros(s.UpdatedAt), s.Deleted)
	return t.mapErr(err)
}

// GetSnapshot reads a snapshot, deleted or not.
func (t *Tx) GetSnapshot(ctx context.Context, id string) (VolumeSnapshot, error) {
	return one(ctx, t, scanSnapshot, `SELECT `+snapshotCols+` FROM volume_snapshots WHERE id = ?`, id)
}

// UpdateSnapshot writes the mutable fields of s.
func (t *Tx) UpdateSnapshot(ctx context.Context, s VolumeSnapshot) error {
	res, err := t.exec(ctx, `UPDATE volume_snapshots SET name = ?, description = ?, status = ?, error_message = ?, metadata = ?,
		updated_at = ?, deleted = ? WHERE id = ?`, s.Name, s.Description, s.Status, s.ErrorMessage, mapJSON(s.Metadata),
		micros(s.UpdatedAt), s.Deleted, s.ID)
	return affected(res, err)
}

// SnapshotQuery selects live snapshots.
type SnapshotQuery struct {
	ProjectID, VolumeID, Status, Name string
	Marker                            *VolumeSnapshot
	Limit                             int
}

// ListSnapshots returns live snapshots, oldest first, after the marker.
func (t *Tx) ListSnapshots(ctx context.Context, q SnapshotQuery) ([]VolumeSnapshot, error) {
	w := &where{}
	w.eq("deleted", false, true).eq("project_id", q.ProjectID, q.ProjectID != "").eq("volume_id", q.VolumeID, q.VolumeID != "").
		eq("status", q.Status, q.Status != "").eq("name", q.Name, q.Name != "")
	if q.Marker != nil {
		w.clauses = append(w.clauses, "(created_at > ? OR (created_at = ? AND id > ?))")
		m := micros(q.Marker.CreatedAt)
		w.args = append(w.args, m, m, q.Marker.ID)
	}
	sqlq := `SELECT ` + snapshotCols + ` FROM volume_snapshots` + w.sql() + ` ORDER BY created_at, id`
	if q.Limit > 0 {
		sqlq += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return list(ctx, t, scanSnapshot, sqlq, w.args...)
}

// SnapshotsInStatus returns the ids of live snapshots in any of statuses.
func (t *Tx) SnapshotsInStatus(ctx context.Context, statuses ...string) ([]string, error) {
	w := &where{}
	w.in("status", statuses).eq("deleted", false, true)
	return list(ctx, t, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM volume_snapshots`+w.sql()+` ORDER BY created_at, id`, w.args...)
}

// ---- attachments

const attachmentCols = `id, volume_id, instance_uuid, host, device, status, attach_mode, connector, address, created_at, updated_at`

func scanAttachment(s scanner) (VolumeAttachment, error) {
	var a VolumeAttachment
	var conn string
	var created, updated int64
	err := s.Scan(&a.ID, &a.VolumeID, &a.InstanceUUID, &a.Host, &a.Device, &a.Status, &a.AttachMode, &conn, &a.Address, &created, &updated)
	a.Connector = extra(conn)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, err
}

// PutAttachment inserts or replaces a.
func (t *Tx) PutAttachment(ctx context.Context, a VolumeAttachment) error {
	conn := "{}"
	if a.Connector != nil {
		conn = toJSON(a.Connector)
	}
	_, err := t.exec(ctx, `INSERT INTO volume_attachments (`+attachmentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET instance_uuid = excluded.instance_uuid, host = excluded.host, device = excluded.device,
		status = excluded.status, attach_mode = excluded.attach_mode, connector = excluded.connector, address = excluded.address,
		updated_at = excluded.updated_at`,
		a.ID, a.VolumeID, a.InstanceUUID, a.Host, a.Device, a.Status, a.AttachMode, conn, a.Address, micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// GetAttachment reads an attachment.
func (t *Tx) GetAttachment(ctx context.Context, id string) (VolumeAttachment, error) {
	return one(ctx, t, scanAttachment, `SELECT `+attachmentCols+` FROM volume_attachments WHERE id = ?`, id)
}

// DeleteAttachment removes an attachment.
func (t *Tx) DeleteAttachment(ctx context.Context, id string) error {
	return affected(t.exec(ctx, `DELETE FROM volume_attachments WHERE id = ?`, id))
}

// VolumeAttachments lists a volume's attachments, oldest first.
func (t *Tx) VolumeAttachments(ctx context.Context, volumeID string) ([]VolumeAttachment, error) {
	return list(ctx, t, scanAttachment, `SELECT `+attachmentCols+` FROM volume_attachments WHERE volume_id = ? ORDER BY created_at, id`, volumeID)
}

// AttachmentsOf lists the attachments of the given volumes, by volume id.
func (t *Tx) AttachmentsOf(ctx context.Context, volumeIDs []string) (map[string][]VolumeAttachment, error) {
	out := map[string][]VolumeAttachment{}
	if len(volumeIDs) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("volume_id", volumeIDs)
	as, err := list(ctx, t, scanAttachment, `SELECT `+attachmentCols+` FROM volume_attachments`+w.sql()+` ORDER BY created_at, id`, w.args...)
	for _, a := range as {
		out[a.VolumeID] = append(out[a.VolumeID], a)
	}
	return out, err
}

// ---- types

func scanVolumeType(s scanner) (VolumeType, error) {
	var v VolumeType
	var specs string
	var created, updated int64
	err := s.Scan(&v.ID, &v.Name, &v.Description, &v.IsPublic, &specs, &created, &updated)
	v.ExtraSpecs = strMap(specs)
	v.CreatedAt, v.UpdatedAt = fromMicros(created), fromMicros(updated)
	return v, err
}

const volumeTypeCols = `id, name, description, is_public, extra_specs, created_at, updated_at`

// PutVolumeType inserts or updates a type; ErrConflict when the name is taken.
func (t *Tx) PutVolumeType(ctx context.Context, v VolumeType) error {
	_, err := t.exec(ctx, `INSERT INTO volume_types (`+volumeTypeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, is_public = excluded.is_public,
		extra_specs = excluded.extra_specs, updated_at = excluded.updated_at`,
		v.ID, v.Name, v.Description, v.IsPublic, mapJSON(v.ExtraSpecs), micros(v.CreatedAt), micros(v.UpdatedAt))
	return t.mapErr(err)
}

// GetVolumeType reads a type by id.
func (t *Tx) GetVolumeType(ctx context.Context, id string) (VolumeType, error) {
	return one(ctx, t, scanVolumeType, `SELECT `+volumeTypeCols+` FROM volume_types WHERE id = ?`, id)
}

// GetVolumeTypeByName reads a type by name.
func (t *Tx) GetVolumeTypeByName(ctx context.Context, name string) (VolumeType, error) {
	return one(ctx, t, scanVolumeType, `SELECT `+volumeTypeCols+` FROM volume_types WHERE name = ?`, name)
}

// ListVolumeTypes lists every type by name.
func (t *Tx) ListVolumeTypes(ctx context.Context) ([]VolumeType, error) {
	return list(ctx, t, scanVolumeType, `SELECT `+volumeTypeCols+` FROM volume_types ORDER BY name, id`)
}

// DeleteVolumeType removes a type and its access list.
func (t *Tx) DeleteVolumeType(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM volume_type_access WHERE type_id = ?`, id); err != nil {
		return err
	}
	return affected(t.exec(ctx, `DELETE FROM volume_types WHERE id = ?`, id))
}

// CountVolumesOfType counts live volumes of a type.
func (t *Tx) CountVolumesOfType(ctx context.Context, id string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM volumes WHERE type_id = ? AND deleted = ?`, id, false).Scan(&n)
	return n, err
}

// VolumeTypeAccess lists the projects a private type is shared with.
func (t *Tx) VolumeTypeAccess(ctx context.Context, id string) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) {
		var p string
		return p, s.Scan(&p)
	}, `SELECT project_id FROM volume_type_access WHERE type_id = ? ORDER BY project_id`, id)
}

// AddVolumeTypeAccess shares a type with a project; ErrConflict when it is.
func (t *Tx) AddVolumeTypeAccess(ctx context.Context, id, projectID string) error {
	_, err := t.exec(ctx, `INSERT INTO volume_type_access (type_id, project_id) VALUES (?, ?)`, id, projectID)
	return t.mapErr(err)
}

// RemoveVolumeTypeAccess unshares a type.
func (t *Tx) RemoveVolumeTypeAccess(ctx context.Context, id, projectID string) error {
	return affected(t.exec(ctx, `DELETE FROM volume_type_access WHERE type_id = ? AND project_id = ?`, id, projectID))
}

// ---- quotas

// VolumeQuotaLimits returns a project's own limits ("" : the default class).
func (t *Tx) VolumeQuotaLimits(ctx context.Context, projectID string) (map[string]int64, error) {
	rows, err := t.query(ctx, `SELECT resource, hard_limit FROM volume_quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// SetVolumeQuota sets one limit of a project ("" : the default class).
func (t *Tx) SetVolumeQuota(ctx context.Context, projectID, resource string, limit int64) error {
	_, err := t.exec(ctx, `INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
		ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, resource, limit)
	return err
}

// DeleteVolumeQuotas drops a project's own limits (back to the defaults).
func (t *Tx) DeleteVolumeQuotas(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `DELETE FROM volume_quotas WHERE project_id = ?`, projectID)
	return err
}
