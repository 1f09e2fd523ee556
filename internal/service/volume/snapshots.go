package volume

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Snapshot is a volume snapshot.
type Snapshot = store.VolumeSnapshot

func getSnapshotTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (Snapshot, error) {
	sn, err := tx.GetSnapshot(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (sn.Deleted || !readable(c, sn.ProjectID))) {
		return sn, snapshotNotFound(id)
	}
	return sn, err
}

// SnapshotSpec is a snapshot create request.
type SnapshotSpec struct {
	VolumeID, Name, Description string
	Force                       bool
	Metadata                    map[string]string
}

// CreateSnapshot records a snapshot (creating); the worker takes it. An
// in-use volume needs force.
func (s *Service) CreateSnapshot(ctx context.Context, c *auth.Credentials, spec SnapshotSpec) (Snapshot, error) {
	if spec.Metadata == nil {
		spec.Metadata = map[string]string{}
	}
	if err := checkMetadata(spec.Metadata); err != nil {
		return Snapshot{}, err
	}
	var sn Snapshot
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := getVolumeTx(ctx, tx, c, spec.VolumeID)
		if err != nil {
			return err
		}
		if err := writable(c, v.ProjectID); err != nil {
			return err
		}
		if v.Status != StatusAvailable && !(spec.Force && v.Status == StatusInUse) {
			if v.Status == StatusInUse {
				return invalidVolume("Volume %s status must be available, but current status is: in-use; pass force=true to snapshot an attached volume.", v.ID)
			}
			return invalidVolume("Volume %s status must be available, but current status is: %s.", v.ID, v.Status)
		}
		t, err := tx.GetVolumeType(ctx, v.TypeID)
		if err != nil {
			return err
		}
		if err := s.reserveTx(ctx, tx, v.ProjectID, t.Name, 0, v.SizeGB, 1); err != nil {
			return err
		}
		now := s.now()
		sn = Snapshot{ID: newUUID(), ProjectID: v.ProjectID, UserID: c.User.ID, VolumeID: v.ID, Name: spec.Name,
			Description: spec.Description, SizeGB: v.SizeGB, Status: StatusCreating, Metadata: spec.Metadata, CreatedAt: now, UpdatedAt: now}
		return tx.CreateSnapshot(ctx, sn)
	})
	if err == nil {
		s.notify()
	}
	return sn, err
}

// GetSnapshot reads a snapshot c may see.
func (s *Service) GetSnapshot(ctx context.Context, c *auth.Credentials, id string) (sn Snapshot, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		sn, err = getSnapshotTx(ctx, tx, c, id)
		return err
	})
	return sn, err
}

// SnapshotQuery is a snapshot list request.
type SnapshotQuery struct {
	AllTenants                        bool
	ProjectID, VolumeID, Status, Name string
	Marker                            string
	Limit, Offset                     int
	Metadata                          map[string]string
	// SortKey is id, name, status, size, created_at or updated_at
	// (created_at when empty); Desc is Cinder's default.
	SortKey string
	Asc     bool
}

// SnapshotSortKeys are the keys a snapshot list sorts on.
var SnapshotSortKeys = map[string]bool{"id": true, "name": true, "display_name": true, "status": true, "size": true,
	"created_at": true, "updated_at": true, "volume_id": true}

// ListSnapshots lists the snapshots c sees, oldest first.
func (s *Service) ListSnapshots(ctx context.Context, c *auth.Credentials, q SnapshotQuery) (out []Snapshot, err error) {
	// A project's snapshots are few: they are filtered, sorted and paged
	// here, on every key Cinder sorts on.
	sq := store.SnapshotQuery{ProjectID: c.ProjectID(), VolumeID: q.VolumeID, Status: q.Status, Name: q.Name}
	if q.AllTenants && c.IsAdmin() {
		sq.ProjectID = q.ProjectID
	} else if sq.ProjectID == "" {
		return []Snapshot{}, nil
	}
	if q.SortKey != "" && !SnapshotSortKeys[q.SortKey] {
		return nil, oserr.BadRequest("Invalid input received: Invalid sort key %s; sort snapshots by id, name, status, size, volume_id, created_at or updated_at.", q.SortKey)
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		out, err = tx.ListSnapshots(ctx, sq)
		return err
	})
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, sn := range out {
		if matches(sn.Metadata, q.Metadata) {
			kept = append(kept, sn)
		}
	}
	out = kept
	sortSnapshots(out, q.SortKey, q.Asc)
	if q.Marker != "" {
		i := slices.IndexFunc(out, func(sn Snapshot) bool { return sn.ID == q.Marker })
		if i < 0 {
			return nil, oserr.NotFound("Marker %s could not be found: it is not a snapshot you can see; use an id from the previous page.", q.Marker)
		}
		out = out[i+1:]
	}
	out = out[min(q.Offset, len(out)):]
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	if out == nil {
		out = []Snapshot{}
	}
	return out, nil
}

func sortSnapshots(ss []Snapshot, key string, asc bool) {
	cmpKey := func(a, b Snapshot) int {
		switch key {
		case "id":
			return strings.Compare(a.ID, b.ID)
		case "name", "display_name":
			return strings.Compare(a.Name, b.Name)
		case "status":
			return strings.Compare(a.Status, b.Status)
		case "volume_id":
			return strings.Compare(a.VolumeID, b.VolumeID)
		case "size":
			return cmp.Compare(a.SizeGB, b.SizeGB)
		case "updated_at":
			return a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	slices.SortStableFunc(ss, func(a, b Snapshot) int {
		c := cmpKey(a, b)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if !asc {
			c = -c
		}
		return c
	})
}

// mutateSnapshot applies fn to a snapshot c may change.
func (s *Service) mutateSnapshot(ctx context.Context, c *auth.Credentials, id string, fn func(*Snapshot) error) (sn Snapshot, err error) {
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		sn, err = getSnapshotTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if err := writable(c, sn.ProjectID); err != nil {
			return err
		}
		sn.Metadata = maps.Clone(sn.Metadata)
		if err := fn(&sn); err != nil {
			return err
		}
		sn.UpdatedAt = s.now()
		return tx.UpdateSnapshot(ctx, sn)
	})
	return sn, err
}

// UpdateSnapshot changes a snapshot's name or description (nil: unchanged).
func (s *Service) UpdateSnapshot(ctx context.Context, c *auth.Credentials, id string, name, desc *string) (Snapshot, error) {
	return s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		if name != nil {
			sn.Name = *name
		}
		if desc != nil {
			sn.Description = *desc
		}
		return nil
	})
}

// SetSnapshotMetadata merges or replaces a snapshot's metadata.
func (s *Service) SetSnapshotMetadata(ctx context.Context, c *auth.Credentials, id string, md map[string]string, replace bool) (map[string]string, error) {
	sn, err := s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		if replace {
			sn.Metadata = map[string]string{}
		}
		maps.Copy(sn.Metadata, md)
		return checkMetadata(sn.Metadata)
	})
	return sn.Metadata, err
}

// DeleteSnapshotMetadata removes one key.
func (s *Service) DeleteSnapshotMetadata(ctx context.Context, c *auth.Credentials, id, key string) error {
	_, err := s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		if _, ok := sn.Metadata[key]; !ok {
			return oserr.NotFound("Snapshot %s has no metadata with key %s.", id, key)
		}
		delete(sn.Metadata, key)
		return nil
	})
	return err
}

// DeleteSnapshot starts deleting an available or failed snapshot.
func (s *Service) DeleteSnapshot(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		switch sn.Status {
		case StatusDeleting:
			sn.ErrorMessage = "" // after a reset-status to deleting, the worker goes on
			return nil
		case StatusAvailable, StatusError, StatusErrorDeleting:
			sn.Status, sn.ErrorMessage = StatusDeleting, ""
			return nil
		}
		return oserr.BadRequest("Invalid snapshot: Snapshot status must be available or error and must not be part of a group (snapshot %s is %s).", sn.ID, sn.Status)
	})
	if err == nil {
		s.notify()
	}
	return err
}

// snapshotReset marks a status set by os-reset_status, which the worker
// leaves alone until a delete clears the mark.
const snapshotReset = "status reset by an administrator"

var snapshotStatuses = map[string]bool{StatusCreating: true, StatusAvailable: true, StatusDeleting: true, StatusError: true,
	StatusErrorDeleting: true}

// ResetSnapshotStatus (admin) sets a snapshot's status.
func (s *Service) ResetSnapshotStatus(ctx context.Context, c *auth.Credentials, id, status string) error {
	if !snapshotStatuses[status] {
		return oserr.BadRequest("Invalid input received: '%s' is not a snapshot status; use one of %s.", status, keys(snapshotStatuses))
	}
	_, err := s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		sn.Status, sn.ErrorMessage = status, snapshotReset
		return nil
	})
	if err == nil {
		s.notify()
	}
	return err
}
