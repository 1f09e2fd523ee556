package volume

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/store"
)

// reconcileVolume finishes a volume's transitional status: each step is
// idempotent on the backend, and the status moves only after it succeeded,
// so a pass interrupted by a crash is simply run again.
func (s *Service) reconcileVolume(ctx context.Context, id string) error {
	var v store.Volume
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		v, err = tx.GetVolume(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || v.Deleted {
		return nil
	}
	if err != nil {
		return err
	}
	if v.Task == taskReset {
		return nil
	}
	switch v.Status {
	case StatusCreating:
		if s.pool() == nil {
			return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusError, noBackend })
		}
		if err := s.createData(ctx, v); err != nil {
			s.log.Warn("volume create failed", "volume_id", v.ID, "error", err)
			msg := err.Error()
			return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusError, msg })
		}
		return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusAvailable, "" })
	case StatusDeleting:
		var live int
		err := s.db.Read(ctx, func(tx *store.Tx) error {
			snaps, err := tx.ListSnapshots(ctx, store.SnapshotQuery{VolumeID: v.ID})
			live = len(snaps)
			return err
		})
		if err != nil {
			return err
		}
		if live > 0 {
			return nil // the cascade's snapshots go first; their passes wake us
		}
		if s.pool() != nil {
			_ = s.pool().Unexport(ctx, v.ID)
			if err := s.pool().Delete(ctx, v.ID); err != nil {
				s.log.Warn("volume delete failed", "volume_id", v.ID, "error", err)
				msg := "delete failed: " + err.Error()
				return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusErrorDeleting, msg })
			}
		}
		now := s.now()
		return s.finish(ctx, v, func(w *store.Volume) {
			w.Status, w.Deleted, w.DeletedAt, w.AttachStatus = "deleted", true, &now, AttachDetached
		})
	case StatusExtending:
		size, prev, ok := parseExtend(v.Task)
		if !ok {
			return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusErrorExtend, "extend lost its target size" })
		}
		if s.pool() == nil {
			return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.ErrorMessage = StatusErrorExtend, noBackend })
		}
		if err := s.pool().Extend(ctx, v.ID, int(size)); err != nil {
			msg := "extend failed: " + err.Error()
			return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.Task, w.ErrorMessage = StatusErrorExtend, "", msg })
		}
		return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.SizeGB, w.Task = prev, size, "" })
	case StatusUploading:
		imageID, prev, _ := strings.Cut(strings.TrimPrefix(v.Task, "upload:"), ":")
		if prev == "" {
			prev = StatusAvailable
		}
		if err := s.upload(ctx, v.ID, imageID); err != nil {
			s.log.Warn("volume upload to image failed", "volume_id", v.ID, "image_id", imageID, "error", err)
		}
		return s.finish(ctx, v, func(w *store.Volume) { w.Status, w.Task = prev, "" })
	}
	return nil
}

func parseExtend(task string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(task, "extend:")
	if !ok {
		return 0, "", false
	}
	n, prev, _ := strings.Cut(rest, ":")
	size, err := strconv.ParseInt(n, 10, 64)
	if err != nil || size < 1 {
		return 0, "", false
	}
	if prev == "" {
		prev = StatusAvailable
	}
	return size, prev, true
}

// createData makes a creating volume's data from its source.
func (s *Service) createData(ctx context.Context, v store.Volume) error {
	size := int(v.SizeGB)
	switch {
	case v.ImageID != "":
		im, rc, err := s.images.Open(ctx, v.ImageID)
		if err != nil {
			return fmt.Errorf("read image %s: %w", v.ImageID, err)
		}
		defer rc.Close()
		if err := s.pool().CreateFromImage(ctx, v.ID, size, im.DiskFormat, rc); err != nil {
			return fmt.Errorf("write image %s into the volume: %w", v.ImageID, err)
		}
		return nil
	case v.SnapshotID != "":
		return s.pool().CreateFromSnapshot(ctx, v.ID, v.SnapshotID, size)
	case v.SourceVolID != "":
		return s.pool().Clone(ctx, v.ID, v.SourceVolID, size)
	}
	return s.pool().Create(ctx, v.ID, size)
}

func (s *Service) upload(ctx context.Context, volumeID, imageID string) error {
	if s.pool() == nil {
		return errors.New(noBackend)
	}
	rc, n, err := s.pool().Read(ctx, volumeID)
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.images.Upload(ctx, imageID, rc, n)
}

// finish applies fn to the volume if it is still in the status the pass
// started from (a reset-status or a concurrent pass may have moved it).
func (s *Service) finish(ctx context.Context, was store.Volume, fn func(*store.Volume)) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := tx.GetVolume(ctx, was.ID)
		if err != nil {
			return err
		}
		if v.Status != was.Status || v.Deleted {
			return nil
		}
		fn(&v)
		v.UpdatedAt = s.now()
		if v.Deleted {
			if err := deleteAttachmentsTx(ctx, tx, v.ID); err != nil {
				return err
			}
		}
		return tx.UpdateVolume(ctx, &v)
	})
	s.broadcast()
	return err
}

func deleteAttachmentsTx(ctx context.Context, tx *store.Tx, volumeID string) error {
	atts, err := tx.VolumeAttachments(ctx, volumeID)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if err := tx.DeleteAttachment(ctx, a.ID); err != nil {
			return err
		}
	}
	return nil
}

// reconcileSnapshot finishes a snapshot's creating or deleting status.
func (s *Service) reconcileSnapshot(ctx context.Context, id string) error {
	var sn store.VolumeSnapshot
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		sn, err = tx.GetSnapshot(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || sn.Deleted {
		return nil
	}
	if err != nil {
		return err
	}
	if sn.ErrorMessage == snapshotReset {
		return nil // an operator's status: a delete clears the mark
	}
	set := func(fn func(*store.VolumeSnapshot)) error {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.GetSnapshot(ctx, id)
			if err != nil {
				return err
			}
			if cur.Status != sn.Status || cur.Deleted {
				return nil
			}
			fn(&cur)
			cur.UpdatedAt = s.now()
			return tx.UpdateSnapshot(ctx, cur)
		})
		s.broadcast()
		return err
	}
	switch sn.Status {
	case StatusCreating:
		if s.pool() == nil {
			return set(func(x *store.VolumeSnapshot) { x.Status, x.ErrorMessage = StatusError, noBackend })
		}
		if err := s.pool().Snapshot(ctx, sn.ID, sn.VolumeID); err != nil {
			msg := "snapshot failed: " + err.Error()
			return set(func(x *store.VolumeSnapshot) { x.Status, x.ErrorMessage = StatusError, msg })
		}
		return set(func(x *store.VolumeSnapshot) { x.Status = StatusAvailable })
	case StatusDeleting:
		if s.pool() != nil {
			if err := s.pool().DeleteSnapshot(ctx, sn.ID); err != nil {
				msg := "delete failed: " + err.Error()
				return set(func(x *store.VolumeSnapshot) { x.Status, x.ErrorMessage = StatusErrorDeleting, msg })
			}
		}
		return set(func(x *store.VolumeSnapshot) { x.Status, x.Deleted = "deleted", true })
	}
	return nil
}
