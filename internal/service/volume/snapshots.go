package volume

import (
	"context"
	"errors"
	"maps"

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
	Limit                             int
	Metadata                          map[string]string
}

// ListSnapshots lists the snapshots c sees, oldest first.
func (s *Service) ListSnapshots(ctx context.Context, c *auth.Credentials, q SnapshotQuery) (out []Snapshot, err error) {
	sq := store.SnapshotQuery{ProjectID: c.ProjectID(), VolumeID: q.VolumeID, Status: q.Status, Name: q.Name, Limit: q.Limit}
	if q.AllTenants && c.IsAdmin() {
		sq.ProjectID = q.ProjectID
	} else if sq.ProjectID == "" {
		return []Snapshot{}, nil
	}
	if len(q.Metadata) > 0 {
		sq.Limit = 0
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if q.Marker != "" {
			m, err := tx.GetSnapshot(ctx, q.Marker)
			if err != nil || m.Deleted || !readable(c, m.ProjectID) {
				return oserr.BadRequest("Invalid input received: marker %s is not a snapshot you can see; use an id from the previous page.", q.Marker)
			}
			sq.Marker = &m
		}
		out, err = tx.ListSnapshots(ctx, sq)
		return err
	})
	if len(q.Metadata) > 0 {
		kept := out[:0]
		for _, sn := range out {
			if matches(sn.Metadata, q.Metadata) {
				kept = append(kept, sn)
			}
		}
		out = kept
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
	}
	if out == nil {
		out = []Snapshot{}
	}
	return out, err
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
			return nil
		case StatusAvailable, StatusError, StatusErrorDeleting:
			sn.Status = StatusDeleting
			return nil
		}
		return oserr.BadRequest("Invalid snapshot: Snapshot status must be available or error and must not be part of a group (snapshot %s is %s).", sn.ID, sn.Status)
	})
	if err == nil {
		s.notify()
	}
	return err
}

var snapshotStatuses = map[string]bool{StatusCreating: true, StatusAvailable: true, StatusDeleting: true, StatusError: true,
	StatusErrorDeleting: true}

// ResetSnapshotStatus (admin) sets a snapshot's status.
func (s *Service) ResetSnapshotStatus(ctx context.Context, c *auth.Credentials, id, status string) error {
	if !snapshotStatuses[status] {
		return oserr.BadRequest("Invalid input received: '%s' is not a snapshot status; use one of %s.", status, keys(snapshotStatuses))
	}
	_, err := s.mutateSnapshot(ctx, c, id, func(sn *Snapshot) error {
		sn.Status = status
		return nil
	})
	if err == nil {
		s.notify()
	}
	return err
}
