package volume

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// ConnectionInfo is what a host needs to open a volume: Cinder's
// connection_info with driver_volume_type "nbd".
func ConnectionInfo(volumeID, address, mode string) map[string]any {
	if mode == "" {
		mode = "rw"
	}
	return map[string]any{"driver_volume_type": "nbd", "data": map[string]any{
		"address": address, "export_name": volumeID, "volume_id": volumeID, "access_mode": mode, "encrypted": false}}
}

func attachmentNotFound(id string) error {
	return oserr.NotFound("Volume attachment %s could not be found.", id)
}

// attachmentTx reads an attachment and its volume, which c (nil: the
// compute service) may change.
func attachmentTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (Attachment, store.Volume, error) {
	a, err := tx.GetAttachment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, store.Volume{}, attachmentNotFound(id)
	}
	if err != nil {
		return a, store.Volume{}, err
	}
	v, err := getVolumeTx(ctx, tx, c, a.VolumeID)
	if err != nil {
		if oserr.Is(err, 404) {
			return a, v, attachmentNotFound(id)
		}
		return a, v, err
	}
	if c != nil {
		if err := writable(c, v.ProjectID); err != nil {
			return a, v, err
		}
	}
	return a, v, nil
}

func (s *Service) saveVolumeTx(ctx context.Context, tx *store.Tx, v *store.Volume) error {
	v.UpdatedAt = s.now()
	return tx.UpdateVolume(ctx, v)
}

// ReserveAttachment checks c may use the volume, that it is available (or
// multiattach), creates an attachment for serverID (status reserved) and
// returns it; an in-use volume gives a 400 naming the server it is attached to.
func (s *Service) ReserveAttachment(ctx context.Context, c *auth.Credentials, volumeID, serverID string) (Attachment, error) {
	return s.reserve(ctx, c, volumeID, serverID, "rw", nil)
}

func (s *Service) reserve(ctx context.Context, c *auth.Credentials, volumeID, serverID, mode string, connector map[string]any) (Attachment, error) {
	if mode == "" {
		mode = "rw"
	}
	if mode != "rw" && mode != "ro" {
		return Attachment{}, oserr.BadRequest("Invalid input received: attach mode %q: use rw or ro.", mode)
	}
	var a Attachment
	err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
		a, err = s.reserveAttachmentTx(ctx, tx, c, volumeID, serverID, mode, connector)
		return err
	})
	return a, err
}

// attachable refuses a volume that cannot take an attachment to serverID:
// already attached to it, or not available (nor multiattach).
func attachable(v store.Volume, atts []Attachment, serverID string) error {
	for _, x := range atts {
		if serverID != "" && x.InstanceUUID == serverID {
			return invalidVolume("Volume %s is already attached to server %s (attachment %s).", v.ID, serverID, x.ID)
		}
	}
	switch {
	case v.Status == StatusAvailable:
	case v.Multiattach && (v.Status == StatusInUse || v.Status == StatusReserved || v.Status == StatusAttaching):
	case v.Status == StatusInUse || v.Status == StatusReserved || v.Status == StatusAttaching:
		other := ""
		if len(atts) > 0 {
			other = atts[0].InstanceUUID
		}
		return invalidVolume("Volume %s status must be available to attach, but current status is: %s: it is attached to server %s; detach it there first or use a multiattach volume.", v.ID, v.Status, other)
	default:
		return invalidVolume("Volume %s status must be available to attach, but current status is: %s.", v.ID, v.Status)
	}
	return nil
}

func (s *Service) reserveAttachmentTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, volumeID, serverID, mode string, connector map[string]any) (Attachment, error) {
	v, err := getVolumeTx(ctx, tx, c, volumeID)
	if err != nil {
		return Attachment{}, err
	}
	if err := writable(c, v.ProjectID); err != nil {
		return Attachment{}, err
	}
	atts, err := tx.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return Attachment{}, err
	}
	if err := attachable(v, atts, serverID); err != nil {
		return Attachment{}, err
	}
	if mode == "rw" && v.ReadOnly {
		mode = "ro"
	}
	now := s.now()
	a := Attachment{ID: newUUID(), VolumeID: v.ID, InstanceUUID: serverID, Status: AttachReserved, AttachMode: mode,
		Connector: connector, CreatedAt: now, UpdatedAt: now}
	if err := tx.PutAttachment(ctx, a); err != nil {
		return Attachment{}, err
	}
	if v.Status == StatusAvailable {
		v.Status = StatusReserved
	}
	return a, s.saveVolumeTx(ctx, tx, &v)
}

// ExportFor exports a volume c may attach to serverID, before the
// transaction that attaches it (AttachTx): the export is a step on the
// storage pool, which no transaction can undo. release must be called once
// that transaction is over: used false unexports the volume again unless
// it has an attachment. A crash between the two leaves a volume exported
// without an attachment; the worker's first pass after a restart
// unexports it (sweepExports).
func (s *Service) ExportFor(ctx context.Context, c *auth.Credentials, volumeID, serverID string) (address string, release func(used bool), err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		v, err := getVolumeTx(ctx, tx, c, volumeID)
		if err != nil {
			return err
		}
		if err := writable(c, v.ProjectID); err != nil {
			return err
		}
		atts, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		return attachable(v, atts, serverID)
	})
	if err != nil {
		return "", nil, err
	}
	s.mu.Lock()
	s.exporting[volumeID]++
	s.mu.Unlock()
	release = func(used bool) {
		s.mu.Lock()
		if s.exporting[volumeID]--; s.exporting[volumeID] <= 0 {
			delete(s.exporting, volumeID)
		}
		s.mu.Unlock()
		if !used {
			s.unexportIfUnused(context.WithoutCancel(ctx), volumeID)
		}
	}
	addr, err := s.export(ctx, volumeID)
	if err != nil {
		release(false)
		return "", nil, err
	}
	return addr, release, nil
}

// AttachTx is Nova's attach in the caller's transaction (the one writing
// the server's block device mapping): it creates an attachment of the
// volume to serverID on host, exported at address (ExportFor), with status
// attaching, and moves the volume to attaching. Both records commit
// together or not at all.
func (s *Service) AttachTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, volumeID, serverID, host, address string) (Attachment, error) {
	a, err := s.reserveAttachmentTx(ctx, tx, c, volumeID, serverID, "rw", nil)
	if err != nil {
		return a, err
	}
	v, err := getVolumeTx(ctx, tx, c, volumeID)
	if err != nil {
		return a, err
	}
	a.Connector = map[string]any{"host": host, "platform": "x86_64", "os_type": "linux", "multipath": false}
	a.Address, a.Host, a.Status, a.UpdatedAt = address, host, AttachAttaching, s.now()
	if err := tx.PutAttachment(ctx, a); err != nil {
		return a, err
	}
	if v.Status == StatusReserved {
		v.Status, v.AttachStatus = StatusAttaching, AttachAttaching
		return a, s.saveVolumeTx(ctx, tx, &v)
	}
	return a, nil
}

// CompleteTx marks an attachment attached at device on host (the volume
// in-use) in the caller's transaction; the volume is already exported
// (ExportFor). An absent attachment is not an error: it was released.
func (s *Service) CompleteTx(ctx context.Context, tx *store.Tx, attachmentID, host, device string) error {
	a, v, err := attachmentTx(ctx, tx, nil, attachmentID)
	if oserr.Is(err, 404) {
		return nil
	}
	if err != nil {
		return err
	}
	if host != "" {
		a.Host = host
	}
	if device != "" {
		a.Device = device
	}
	a.Status, a.UpdatedAt = AttachAttached, s.now()
	if err := tx.PutAttachment(ctx, a); err != nil {
		return err
	}
	v.Status, v.AttachStatus = StatusInUse, AttachAttached
	return s.saveVolumeTx(ctx, tx, &v)
}

// DetachTx deletes an attachment in the caller's transaction (the volume
// is available once it has none); the volume is unexported after the
// commit. An absent attachment is not an error.
func (s *Service) DetachTx(ctx context.Context, tx *store.Tx, attachmentID string) error {
	a, v, err := attachmentTx(ctx, tx, nil, attachmentID)
	if oserr.Is(err, 404) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.DeleteAttachment(ctx, a.ID); err != nil {
		return err
	}
	rest, err := tx.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return err
	}
	settle(&v, rest)
	if len(rest) == 0 {
		tx.AfterCommit(func() { s.unexportIfUnused(context.Background(), v.ID) })
	}
	return s.saveVolumeTx(ctx, tx, &v)
}

// DeleteDetachedTx starts deleting a volume a deleted server had with
// delete_on_termination, in the caller's transaction (after DetachTx): the
// worker deletes its data once committed. A volume still attached
// elsewhere, with snapshots, or already going is left as it is, as Nova
// leaves a volume Cinder refuses to delete.
func (s *Service) DeleteDetachedTx(ctx context.Context, tx *store.Tx, volumeID string) error {
	v, err := getVolumeTx(ctx, tx, nil, volumeID)
	if oserr.Is(err, 404) {
		return nil
	}
	if err != nil {
		return err
	}
	atts, err := tx.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return err
	}
	snaps, err := tx.ListSnapshots(ctx, store.SnapshotQuery{VolumeID: v.ID})
	if err != nil {
		return err
	}
	if len(atts) > 0 || len(snaps) > 0 || !deletable[v.Status] {
		s.log.Warn("not deleting a deleted server's volume (delete_on_termination): it is still attached, has snapshots or is busy",
			"volume_id", v.ID, "status", v.Status, "attachments", len(atts), "snapshots", len(snaps))
		return nil
	}
	v.Status, v.Task = StatusDeleting, ""
	tx.AfterCommit(s.notify)
	return s.saveVolumeTx(ctx, tx, &v)
}

// unexportIfUnused stops exporting a volume that has no attachment and
// that no attach in this process is exporting for.
func (s *Service) unexportIfUnused(ctx context.Context, volumeID string) {
	if s.pool() == nil {
		return
	}
	s.mu.Lock()
	busy := s.exporting[volumeID] > 0
	s.mu.Unlock()
	if busy {
		return
	}
	var used bool
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		atts, err := tx.VolumeAttachments(ctx, volumeID)
		used = len(atts) > 0
		return err
	})
	if err != nil || used {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := s.pool().Unexport(ctx, volumeID); err != nil {
		s.log.Warn("unexport of a volume no server uses failed; the next restart tries again", "volume_id", volumeID, "error", err)
	}
}

// exportLister is a backend that can list its exports (the storage pool
// keeps a mark per export).
type exportLister interface {
	Exports(ctx context.Context) ([]string, error)
}

// sweepExports unexports the volumes the pool exports without an
// attachment: what a crash between an export and the transaction that was
// to record its attachment (or between a detach and its unexport) left.
func (s *Service) sweepExports(ctx context.Context) {
	l, ok := s.pool().(exportLister)
	if !ok {
		return
	}
	ids, err := l.Exports(ctx)
	if err != nil {
		s.log.Warn("volume worker: list exports", "error", err)
		return
	}
	for _, id := range ids {
		s.unexportIfUnused(ctx, id)
	}
}

// CreateAttachment is POST /attachments: a reservation, and with a
// connector the export as well (status attaching, connection_info set).
func (s *Service) CreateAttachment(ctx context.Context, c *auth.Credentials, volumeID, serverID, mode string, connector map[string]any) (Attachment, map[string]any, error) {
	a, err := s.reserve(ctx, c, volumeID, serverID, mode, connector)
	if err != nil || connector == nil {
		return a, nil, err
	}
	return s.UpdateAttachment(ctx, c, a.ID, connector)
}

// UpdateAttachment is PUT /attachments/{id}: export the volume for the
// connector's host and return the connection_info.
func (s *Service) UpdateAttachment(ctx context.Context, c *auth.Credentials, id string, connector map[string]any) (Attachment, map[string]any, error) {
	var a Attachment
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		a, _, err = attachmentTx(ctx, tx, c, id)
		return err
	})
	if err != nil {
		return a, nil, err
	}
	addr, err := s.export(ctx, a.VolumeID)
	if err != nil {
		return a, nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var v store.Volume
		a, v, err = attachmentTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		host, _ := connector["host"].(string)
		a.Connector, a.Address, a.Host, a.UpdatedAt = connector, addr, host, s.now()
		if a.Status == AttachReserved {
			a.Status = AttachAttaching
		}
		if err := tx.PutAttachment(ctx, a); err != nil {
			return err
		}
		if v.Status == StatusReserved {
			v.Status, v.AttachStatus = StatusAttaching, AttachAttaching
			return s.saveVolumeTx(ctx, tx, &v)
		}
		return nil
	})
	return a, ConnectionInfo(a.VolumeID, addr, a.AttachMode), err
}

func (s *Service) export(ctx context.Context, volumeID string) (string, error) {
	if s.pool() == nil {
		return "", oserr.BadRequest("Invalid volume: %s", noBackend)
	}
	addr, err := s.pool().Export(ctx, volumeID)
	if err != nil {
		return "", oserr.BadRequest("Invalid volume: exporting volume %s failed: %v", volumeID, err).WithCause(err)
	}
	return addr, nil
}

// CompleteAttachment marks it attached (volume in-use) at device on host,
// exporting the volume; returns the NBD address.
func (s *Service) CompleteAttachment(ctx context.Context, attachmentID, host, device string) (string, error) {
	return s.complete(ctx, nil, attachmentID, host, device)
}

// CompleteAttachmentFor is os-complete on behalf of c.
func (s *Service) CompleteAttachmentFor(ctx context.Context, c *auth.Credentials, attachmentID string) error {
	_, err := s.complete(ctx, c, attachmentID, "", "")
	return err
}

func (s *Service) complete(ctx context.Context, c *auth.Credentials, id, host, device string) (string, error) {
	var a Attachment
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		a, _, err = attachmentTx(ctx, tx, c, id)
		return err
	})
	if err != nil {
		return "", err
	}
	addr, err := s.export(ctx, a.VolumeID)
	if err != nil {
		return "", err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var v store.Volume
		a, v, err = attachmentTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if host != "" {
			a.Host = host
		}
		if device != "" {
			a.Device = device
		}
		a.Address, a.Status, a.UpdatedAt = addr, AttachAttached, s.now()
		if err := tx.PutAttachment(ctx, a); err != nil {
			return err
		}
		v.Status, v.AttachStatus = StatusInUse, AttachAttached
		return s.saveVolumeTx(ctx, tx, &v)
	})
	return addr, err
}

// DeleteAttachment detaches (volume available once no attachment remains),
// unexporting the volume.
func (s *Service) DeleteAttachment(ctx context.Context, attachmentID string) error {
	return s.detach(ctx, nil, attachmentID)
}

// DeleteAttachmentFor is DELETE /attachments/{id} on behalf of c.
func (s *Service) DeleteAttachmentFor(ctx context.Context, c *auth.Credentials, attachmentID string) error {
	return s.detach(ctx, c, attachmentID)
}

func (s *Service) detach(ctx context.Context, c *auth.Credentials, id string) error {
	var last bool
	var volumeID string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		a, v, err := attachmentTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		volumeID = a.VolumeID
		if err := tx.DeleteAttachment(ctx, a.ID); err != nil {
			return err
		}
		rest, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		last = len(rest) == 0
		settle(&v, rest)
		return s.saveVolumeTx(ctx, tx, &v)
	})
	if err == nil && last && s.pool() != nil {
		if uerr := s.pool().Unexport(ctx, volumeID); uerr != nil {
			s.log.Warn("unexport after detach failed", "volume_id", volumeID, "error", uerr)
		}
	}
	return err
}

// settle sets a volume's status from the attachments it has left.
func settle(v *store.Volume, rest []Attachment) {
	if !isAttachStatus(v.Status) {
		return // e.g. error, set by an operator: leave it
	}
	switch {
	case len(rest) == 0:
		v.Status, v.AttachStatus = StatusAvailable, AttachDetached
	case slices.ContainsFunc(rest, func(a Attachment) bool { return a.Status == AttachAttached }):
		v.Status, v.AttachStatus = StatusInUse, AttachAttached
	default:
		v.Status, v.AttachStatus = StatusReserved, AttachReserved
	}
}

func isAttachStatus(st string) bool {
	switch st {
	case StatusAvailable, StatusReserved, StatusAttaching, StatusInUse, StatusDetaching:
		return true
	}
	return false
}

// GetAttachment reads an attachment c may see.
func (s *Service) GetAttachment(ctx context.Context, c *auth.Credentials, id string) (a Attachment, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		a, err = tx.GetAttachment(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return attachmentNotFound(id)
		}
		if err != nil {
			return err
		}
		if _, err := getVolumeTx(ctx, tx, c, a.VolumeID); err != nil {
			return attachmentNotFound(id)
		}
		return nil
	})
	return a, err
}

// ListAttachments lists the attachments of the volumes c sees (optionally
// of one volume or server).
func (s *Service) ListAttachments(ctx context.Context, c *auth.Credentials, allTenants bool, volumeID, serverID string) ([]Attachment, error) {
	vols, _, err := s.List(ctx, c, ListQuery{AllTenants: allTenants})
	if err != nil {
		return nil, err
	}
	out := []Attachment{}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		ids := []string{}
		for _, v := range vols {
			if volumeID == "" || v.ID == volumeID {
				ids = append(ids, v.ID)
			}
		}
		m, err := tx.AttachmentsOf(ctx, ids)
		for _, id := range ids {
			for _, a := range m[id] {
				if serverID == "" || a.InstanceUUID == serverID {
					out = append(out, a)
				}
			}
		}
		return err
	})
	return out, err
}

// ---- legacy volume actions (before the attachments API)

// Reserve is os-reserve: available (or multiattach in-use) to attaching.
func (s *Service) Reserve(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if v.Status != StatusAvailable && !(v.Multiattach && v.Status == StatusInUse) {
			return invalidVolume("Volume %s status must be available or in-use (multiattach) to reserve, but current status is: %s.", v.ID, v.Status)
		}
		v.Status = StatusAttaching
		return nil
	})
	return err
}

// Unreserve is os-unreserve: attaching back to available (or in-use).
func (s *Service) Unreserve(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		if v.Status != StatusAttaching {
			return nil
		}
		rest, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		if len(rest) == 0 {
			v.Status, v.AttachStatus = StatusAvailable, AttachDetached
		} else {
			settle(v, rest)
		}
		return nil
	})
	return err
}

// AttachLegacy is os-attach: record an attachment to a server (or a host)
// at mountpoint, volume in-use.
func (s *Service) AttachLegacy(ctx context.Context, c *auth.Credentials, id, serverID, hostName, mountpoint, mode string) error {
	if serverID == "" && hostName == "" {
		return oserr.BadRequest("Invalid request to attach volume: give instance_uuid or host_name.")
	}
	if mode == "" {
		mode = "rw"
	}
	if mode != "rw" && mode != "ro" {
		return oserr.BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'.")
	}
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		ok := v.Status == StatusAvailable || v.Status == StatusAttaching || v.Status == StatusReserved ||
			(v.Multiattach && v.Status == StatusInUse)
		if !ok {
			return invalidVolume("Volume %s status must be available or attaching to attach, but current status is: %s.", v.ID, v.Status)
		}
		if v.ReadOnly && mode == "rw" {
			return oserr.BadRequest("Invalid volume: volume %s is read-only; attach it with mode ro.", v.ID)
		}
		now := s.now()
		a := Attachment{ID: newUUID(), VolumeID: v.ID, InstanceUUID: serverID, Host: hostName, Device: mountpoint,
			Status: AttachAttached, AttachMode: mode, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutAttachment(ctx, a); err != nil {
			return err
		}
		v.Status, v.AttachStatus = StatusInUse, AttachAttached
		return nil
	})
	return err
}

// BeginDetaching is os-begin_detaching: in-use to detaching.
func (s *Service) BeginDetaching(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if v.Status != StatusInUse {
			return invalidVolume("Volume %s status must be in-use to begin detaching, but current status is: %s.", v.ID, v.Status)
		}
		v.Status, v.AttachStatus = StatusDetaching, AttachDetaching
		return nil
	})
	return err
}

// RollDetaching is os-roll_detaching: detaching back to in-use.
func (s *Service) RollDetaching(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if v.Status == StatusDetaching {
			v.Status, v.AttachStatus = StatusInUse, AttachAttached
		}
		return nil
	})
	return err
}

// DetachLegacy is os-detach: remove one attachment (all when
// attachmentID is empty); the volume is available once none remain.
func (s *Service) DetachLegacy(ctx context.Context, c *auth.Credentials, id, attachmentID string) error {
	var last bool
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		atts, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		if attachmentID == "" && len(atts) > 1 && v.Multiattach {
			return oserr.BadRequest("Invalid volume: volume %s has %d attachments; give attachment_id to detach one.", v.ID, len(atts))
		}
		var rest []Attachment
		found := false
		for _, a := range atts {
			if attachmentID == "" || a.ID == attachmentID {
				found = true
				if err := tx.DeleteAttachment(ctx, a.ID); err != nil {
					return err
				}
				continue
			}
			rest = append(rest, a)
		}
		if attachmentID != "" && !found {
			return attachmentNotFound(attachmentID)
		}
		// A detach of a volume with nothing attached succeeds, as in
		// Cinder (the manager logs "volume not attached" and moves on).
		last = len(rest) == 0
		settle(v, rest)
		return nil
	})
	if err == nil && last && s.pool() != nil {
		_ = s.pool().Unexport(ctx, id)
	}
	return err
}

// InitializeConnection is os-initialize_connection: export the volume and
// return its connection_info.
func (s *Service) InitializeConnection(ctx context.Context, c *auth.Credentials, id string) (map[string]any, error) {
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if err := writable(c, v.ProjectID); err != nil {
		return nil, err
	}
	if !isAttachStatus(v.Status) {
		return nil, invalidVolume("Volume %s status must be available, attaching or in-use to connect, but current status is: %s.", v.ID, v.Status)
	}
	addr, err := s.export(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	mode := "rw"
	if v.ReadOnly {
		mode = "ro"
	}
	return ConnectionInfo(v.ID, addr, mode), nil
}

// TerminateConnection is os-terminate_connection: stop exporting a volume
// that no server has attached any more.
func (s *Service) TerminateConnection(ctx context.Context, c *auth.Credentials, id string) error {
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return err
	}
	if err := writable(c, v.ProjectID); err != nil {
		return err
	}
	if len(v.Attachments) > 0 || s.pool() == nil {
		return nil
	}
	return s.pool().Unexport(ctx, id)
}
