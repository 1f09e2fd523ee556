package volume

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Volume is a volume with what its views show besides the record.
type Volume struct {
	store.Volume
	TypeName string
	// Attachments are the volume's attachments in attached status.
	Attachments []Attachment
}

// Attachment joins a volume to a server.
type Attachment = store.VolumeAttachment

// CreateSpec is a volume create request.
type CreateSpec struct {
	Name, Description string
	SizeGB            int64 // 0: the source's size (snapshot, volume, image)
	Type              string
	Zone              string
	ImageID           string
	SnapshotID        string
	SourceVolID       string
	Metadata          map[string]string
	Multiattach       bool
}

const gib = 1 << 30

// MaxSizeGB bounds one volume (Cinder has no fixed limit; a sparse file
// of more than 16 TiB is refused by most filesystems anyway).
const MaxSizeGB = 16384

// Create records a new volume in status creating; the worker makes its
// data and moves it to available (or error, saying why).
func (s *Service) Create(ctx context.Context, c *auth.Credentials, spec CreateSpec) (Volume, error) {
	if err := writable(c, c.ProjectID()); err != nil {
		return Volume{}, err
	}
	if c.ProjectID() == "" {
		return Volume{}, oserr.Forbidden("Creating a volume needs a project-scoped token; authenticate with a project (e.g. --os-project-name).")
	}
	if spec.Zone != "" && spec.Zone != s.cfg.Zone {
		return Volume{}, oserr.BadRequest("Availability zone '%s' is invalid; this cloud's only zone is %q.", spec.Zone, s.cfg.Zone)
	}
	if spec.SizeGB < 0 || spec.SizeGB > MaxSizeGB {
		return Volume{}, oserr.BadRequest("Invalid input received: Volume size '%d' must be an integer and greater than 0 (at most %d).", spec.SizeGB, MaxSizeGB)
	}
	sources := 0
	for _, x := range []string{spec.ImageID, spec.SnapshotID, spec.SourceVolID} {
		if x != "" {
			sources++
		}
	}
	if sources > 1 {
		return Volume{}, oserr.BadRequest("Invalid input received: give at most one of imageRef, snapshot_id and source_volid.")
	}
	now := s.now()
	v := store.Volume{ID: newUUID(), ProjectID: c.ProjectID(), UserID: c.User.ID, Name: spec.Name, Description: spec.Description,
		SizeGB: spec.SizeGB, Status: StatusCreating, AttachStatus: AttachDetached, AvailabilityZone: s.cfg.Zone,
		Multiattach: spec.Multiattach, ImageID: spec.ImageID, SnapshotID: spec.SnapshotID, SourceVolID: spec.SourceVolID,
		Host: s.cfg.Host, Metadata: spec.Metadata, ImageMetadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if spec.ImageID != "" {
		im, err := s.images.Get(ctx, c, spec.ImageID)
		if err != nil {
			if oserr.Is(err, 404) || oserr.Is(err, 403) {
				return Volume{}, oserr.BadRequest("Invalid image identifier or unable to access requested image: %s.", spec.ImageID)
			}
			return Volume{}, err
		}
		if im.Status != "active" {
			return Volume{}, oserr.BadRequest("Image %s is not active (status %s); wait for its upload to finish.", im.ID, im.Status)
		}
		if im.DiskFormat != "raw" && im.DiskFormat != "qcow2" {
			return Volume{}, oserr.BadRequest("Image %s has disk_format %q; volumes can be created from raw and qcow2 images.", im.ID, im.DiskFormat)
		}
		need := (im.Size + gib - 1) / gib
		if im.MinDisk > need {
			need = im.MinDisk
		}
		if need < 1 {
			need = 1
		}
		if v.SizeGB == 0 {
			v.SizeGB = need
		}
		if im.Size > v.SizeGB*gib {
			return Volume{}, oserr.BadRequest("Invalid input received: Size of specified image %dGB is larger than volume size %dGB.", need, v.SizeGB)
		}
		if im.MinDisk > v.SizeGB {
			return Volume{}, oserr.BadRequest("Invalid input received: Volume size %dGB cannot be smaller than the image minDisk size %dGB.", v.SizeGB, im.MinDisk)
		}
		v.Bootable = true
		v.ImageMetadata = imageMetadata(im)
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		w := v // a retried transaction starts from the request again
		typ, err := s.resolveTypeTx(ctx, tx, c, spec.Type)
		if err != nil {
			return err
		}
		w.TypeID = typ.ID
		switch {
		case spec.SnapshotID != "":
			snap, err := tx.GetSnapshot(ctx, spec.SnapshotID)
			if err != nil || snap.Deleted || !readable(c, snap.ProjectID) {
				return snapshotNotFound(spec.SnapshotID)
			}
			if snap.Status != StatusAvailable {
				return oserr.BadRequest("Invalid snapshot: Originating snapshot status must be one of 'available' values (snapshot %s is %s).", snap.ID, snap.Status)
			}
			if w.SizeGB == 0 {
				w.SizeGB = snap.SizeGB
			}
			if w.SizeGB < snap.SizeGB {
				return oserr.BadRequest("Invalid input received: Volume size '%d'GB cannot be smaller than the snapshot size %dGB. They must be >= original snapshot size.", w.SizeGB, snap.SizeGB)
			}
			if src, err := tx.GetVolume(ctx, snap.VolumeID); err == nil {
				w.Bootable, w.ImageMetadata = src.Bootable, src.ImageMetadata
				if spec.Type == "" {
					w.TypeID = src.TypeID
				}
			}
		case spec.SourceVolID != "":
			src, err := getVolumeTx(ctx, tx, c, spec.SourceVolID)
			if err != nil {
				return err
			}
			if src.Status != StatusAvailable && src.Status != StatusInUse {
				return invalidVolume("Volume %s status must be available or in-use to clone it, but current status is: %s.", src.ID, src.Status)
			}
			if w.SizeGB == 0 {
				w.SizeGB = src.SizeGB
			}
			if w.SizeGB < src.SizeGB {
				return oserr.BadRequest("Invalid input received: Volume size '%d'GB cannot be smaller than the source volume size %dGB. They must be >= original volume size.", w.SizeGB, src.SizeGB)
			}
			w.Bootable, w.ImageMetadata = src.Bootable, maps.Clone(src.ImageMetadata)
			if spec.Type == "" {
				w.TypeID = src.TypeID
			}
		}
		if w.SizeGB < 1 {
			return oserr.BadRequest("Invalid input received: Volume size '%d' must be an integer and greater than 0.", w.SizeGB)
		}
		tn, err := tx.GetVolumeType(ctx, w.TypeID)
		if err != nil {
			return err
		}
		if err := s.reserveTx(ctx, tx, w.ProjectID, tn.Name, 1, w.SizeGB, 0); err != nil {
			return err
		}
		v = w
		return tx.CreateVolume(ctx, w)
	})
	if err != nil {
		return Volume{}, err
	}
	s.notify()
	return s.view(ctx, v)
}

// imageMetadata is what Cinder copies from an image into
// volume_image_metadata: its core attributes and its properties.
func imageMetadata(im Image) map[string]string {
	m := map[string]string{"image_id": im.ID, "image_name": im.Name, "disk_format": im.DiskFormat,
		"container_format": im.ContainerFormat, "min_disk": strconv.FormatInt(im.MinDisk, 10), "size": strconv.FormatInt(im.Size, 10)}
	for k, v := range im.Properties {
		m[k] = v
	}
	return m
}

// view adds the type name and attachments to a volume record.
func (s *Service) view(ctx context.Context, v store.Volume) (Volume, error) {
	var out []Volume
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.viewsTx(ctx, tx, []store.Volume{v})
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	return out[0], nil
}

func (s *Service) viewsTx(ctx context.Context, tx *store.Tx, vs []store.Volume) ([]Volume, error) {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	atts, err := tx.AttachmentsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	out := make([]Volume, len(vs))
	for i, v := range vs {
		name, ok := types[v.TypeID]
		if !ok {
			t, err := tx.GetVolumeType(ctx, v.TypeID)
			if err == nil {
				name = t.Name
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			types[v.TypeID] = name
		}
		out[i] = Volume{Volume: v, TypeName: name, Attachments: []Attachment{}}
		for _, a := range atts[v.ID] {
			if a.Status == AttachAttached {
				out[i].Attachments = append(out[i].Attachments, a)
			}
		}
	}
	return out, nil
}

// Get returns a volume c may see.
func (s *Service) Get(ctx context.Context, c *auth.Credentials, id string) (Volume, error) {
	var out []Volume
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		v, err := getVolumeTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		out, err = s.viewsTx(ctx, tx, []store.Volume{v})
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	return out[0], nil
}

// ListQuery is a volume list request.
type ListQuery struct {
	AllTenants bool   // admin only: every project (or ProjectID when set)
	ProjectID  string // with AllTenants
	Status     string
	Name       string
	Metadata   map[string]string
	SortKey    string
	Desc       bool
	Marker     string
	Limit      int
	Offset     int
	WithCount  bool
}

// List returns one page of the volumes c sees and, when asked, how many
// match in all.
func (s *Service) List(ctx context.Context, c *auth.Credentials, q ListQuery) (vols []Volume, count int, err error) {
	sq := store.VolumeQuery{ProjectID: c.ProjectID(), Status: q.Status, Name: q.Name, SortKey: q.SortKey, Desc: q.Desc, Limit: q.Limit}
	if q.Limit > 0 && q.Offset > 0 {
		sq.Limit = q.Limit + q.Offset
	}
	if q.AllTenants && c.IsAdmin() {
		sq.ProjectID = q.ProjectID
	}
	if sq.ProjectID == "" && !(q.AllTenants && c.IsAdmin()) {
		return []Volume{}, 0, nil
	}
	if len(q.Metadata) > 0 {
		sq.Limit = 0 // filtered here, then cut
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if q.Marker != "" {
			m, err := tx.GetVolume(ctx, q.Marker)
			if err != nil || m.Deleted || !readable(c, m.ProjectID) {
				return oserr.NotFound("Marker %s could not be found: it is not a volume you can see; use an id from the previous page.", q.Marker)
			}
			sq.Marker = &m
		}
		rs, err := tx.ListVolumes(ctx, sq)
		if err != nil {
			return err
		}
		if q.Offset > 0 && len(q.Metadata) == 0 {
			rs = rs[min(q.Offset, len(rs)):]
		}
		if len(q.Metadata) > 0 {
			kept := rs[:0]
			for _, v := range rs {
				if matches(v.Metadata, q.Metadata) {
					kept = append(kept, v)
				}
			}
			rs = kept
			count = len(rs)
			rs = rs[min(q.Offset, len(rs)):]
			if q.Limit > 0 && len(rs) > q.Limit {
				rs = rs[:q.Limit]
			}
		} else if q.WithCount {
			if count, err = tx.CountVolumes(ctx, sq); err != nil {
				return err
			}
		}
		vols, err = s.viewsTx(ctx, tx, rs)
		return err
	})
	return vols, count, err
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// mutate reads a volume c may change, applies fn and saves it in one
// transaction.
func (s *Service) mutate(ctx context.Context, c *auth.Credentials, id string, fn func(tx *store.Tx, v *store.Volume) error) (Volume, error) {
	var out store.Volume
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := getVolumeTx(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if c != nil {
			if err := writable(c, v.ProjectID); err != nil {
				return err
			}
		}
		if err := fn(tx, &v); err != nil {
			return err
		}
		v.UpdatedAt = s.now()
		if err := tx.UpdateVolume(ctx, &v); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		return Volume{}, err
	}
	return s.view(ctx, out)
}

// Update changes a volume's name, description or metadata (nil: unchanged).
func (s *Service) Update(ctx context.Context, c *auth.Credentials, id string, name, desc *string, md map[string]string) (Volume, error) {
	return s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if name != nil {
			v.Name = *name
		}
		if desc != nil {
			v.Description = *desc
		}
		if md != nil {
			v.Metadata = md
		}
		return nil
	})
}

// SetMetadata merges md into a volume's metadata, or replaces it.
func (s *Service) SetMetadata(ctx context.Context, c *auth.Credentials, id string, md map[string]string, replace bool) (map[string]string, error) {
	v, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if replace {
			v.Metadata = map[string]string{}
		}
		maps.Copy(v.Metadata, md)
		return checkMetadata(v.Metadata)
	})
	return v.Metadata, err
}

// DeleteMetadata removes one key.
func (s *Service) DeleteMetadata(ctx context.Context, c *auth.Credentials, id, key string) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if _, ok := v.Metadata[key]; !ok {
			return oserr.NotFound("Volume %s has no metadata with key %s.", id, key)
		}
		delete(v.Metadata, key)
		return nil
	})
	return err
}

// MaxMetadataItems bounds a volume's or snapshot's metadata (Cinder's
// default metadata quota is 128 per resource in practice).
const MaxMetadataItems = 128

func checkMetadata(md map[string]string) error {
	if len(md) > MaxMetadataItems {
		return oserr.TooLarge("Maximum number of metadata items exceeds %d; remove some keys.", MaxMetadataItems)
	}
	for k, v := range md {
		if k == "" || len(k) > 255 {
			return oserr.BadRequest("Invalid input received: metadata key %q must be 1 to 255 characters.", k)
		}
		if len(v) > 255 {
			return oserr.BadRequest("Invalid input received: the value of metadata key %q is longer than 255 characters.", k)
		}
	}
	return nil
}

// deletable are the statuses Cinder deletes a volume in.
var deletable = map[string]bool{StatusAvailable: true, StatusError: true, "error_restoring": true, StatusErrorExtend: true,
	"error_managing": true}

// Delete starts deleting a volume; the worker removes its data. cascade
// deletes its snapshots too; force (admin) deletes in any status but
// attached.
func (s *Service) Delete(ctx context.Context, c *auth.Credentials, id string, cascade, force bool) error {
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		if force && !c.IsAdmin() {
			return oserr.Forbidden("Policy doesn't allow volume_extension:volume_admin_actions:force_delete to be performed; it needs the admin role.")
		}
		atts, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		snaps, err := tx.ListSnapshots(ctx, store.SnapshotQuery{VolumeID: v.ID})
		if err != nil {
			return err
		}
		if v.Status == StatusDeleting {
			v.Task = "" // on its way (after a reset-status to deleting, from now on)
			return nil
		}
		if (!deletable[v.Status] && !(force && v.Status != StatusInUse)) || len(atts) > 0 || v.AttachStatus == AttachAttached {
			return invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer (volume %s is %s; detach it first).", v.ID, v.Status)
		}
		if len(snaps) > 0 && !cascade {
			return invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer (volume %s has %d snapshots; delete them or pass cascade=true).", v.ID, len(snaps))
		}
		for _, sn := range snaps {
			if sn.Status != StatusAvailable && sn.Status != StatusError && sn.Status != StatusDeleting {
				return invalidVolume("Snapshot %s of volume %s is %s; wait until it is available, then delete again.", sn.ID, v.ID, sn.Status)
			}
			sn.Status, sn.ErrorMessage, sn.UpdatedAt = StatusDeleting, "", s.now()
			if err := tx.UpdateSnapshot(ctx, sn); err != nil {
				return err
			}
		}
		v.Status, v.Task = StatusDeleting, ""
		return nil
	})
	if err == nil {
		s.notify()
	}
	return err
}

// Extend grows a volume to newSize GB; inUse allows an attached volume
// (microversion 3.42).
func (s *Service) Extend(ctx context.Context, c *auth.Credentials, id string, newSize int64, inUse bool) (Volume, error) {
	v, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		ok := v.Status == StatusAvailable || (inUse && v.Status == StatusInUse)
		if !ok {
			want := "available"
			if inUse {
				want = "available or in-use"
			}
			return invalidVolume("Volume %s status must be %s to extend, but current status is: %s.", v.ID, want, v.Status)
		}
		if newSize <= v.SizeGB {
			return oserr.BadRequest("New size for extend must be greater than current size. (current: %d, extended: %d).", v.SizeGB, newSize)
		}
		if newSize > MaxSizeGB {
			return oserr.BadRequest("Invalid input received: new_size %d is larger than the largest volume, %d GB.", newSize, MaxSizeGB)
		}
		t, err := tx.GetVolumeType(ctx, v.TypeID)
		if err != nil {
			return err
		}
		if err := s.reserveTx(ctx, tx, v.ProjectID, t.Name, 0, newSize-v.SizeGB, 0); err != nil {
			return err
		}
		v.Task = fmt.Sprintf("extend:%d:%s", newSize, v.Status)
		v.Status = StatusExtending
		return nil
	})
	if err == nil {
		s.notify()
	}
	return v, err
}

// Retype changes a volume's type (os-retype): the pool has one backend,
// so no data moves; the new type's quota is checked.
func (s *Service) Retype(ctx context.Context, c *auth.Credentials, id, newType string) error {
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		if v.Status != StatusAvailable && v.Status != StatusInUse {
			return invalidVolume("Volume %s status must be available or in-use to retype, but current status is: %s.", v.ID, v.Status)
		}
		t, err := s.typeVisibleTx(ctx, tx, c, newType)
		if err != nil {
			return err
		}
		if t.ID == v.TypeID {
			return oserr.BadRequest("Invalid input received: volume %s already has type %s.", v.ID, t.Name)
		}
		if err := s.reserveTx(ctx, tx, v.ProjectID, t.Name, 1, v.SizeGB, 0); err != nil {
			return err
		}
		v.TypeID = t.ID
		return nil
	})
	return err
}

// ForceDetach (admin) removes one attachment, or all, whatever their state.
func (s *Service) ForceDetach(ctx context.Context, c *auth.Credentials, id, attachmentID string) error {
	var last bool
	_, err := s.mutate(ctx, c, id, func(tx *store.Tx, v *store.Volume) error {
		atts, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return err
		}
		var rest []Attachment
		for _, a := range atts {
			if attachmentID == "" || a.ID == attachmentID {
				if err := tx.DeleteAttachment(ctx, a.ID); err != nil {
					return err
				}
				continue
			}
			rest = append(rest, a)
		}
		last = len(rest) == 0
		if last && v.Status != StatusDeleting {
			// As Cinder: a forced detach leaves the volume available
			// whatever status an operator had reset it to.
			v.Status, v.AttachStatus, v.Task = StatusAvailable, AttachDetached, ""
		} else {
			settle(v, rest)
		}
		return nil
	})
	if err == nil && last && s.pool() != nil {
		_ = s.pool().Unexport(ctx, id)
	}
	return err
}

// SetBootable sets the bootable flag.
func (s *Service) SetBootable(ctx context.Context, c *auth.Credentials, id string, b bool) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		v.Bootable = b
		return nil
	})
	return err
}

// SetReadOnly sets the read-only flag (os-update_readonly_flag).
func (s *Service) SetReadOnly(ctx context.Context, c *auth.Credentials, id string, ro bool) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if v.Status != StatusAvailable {
			return invalidVolume("Volume %s status must be available to update readonly flag, but current status is: %s.", v.ID, v.Status)
		}
		v.ReadOnly = ro
		// Cinder keeps the flag in the volume's admin metadata and shows
		// it in its metadata as "readonly": "True" or "False".
		v.Metadata["readonly"] = strings.ToUpper(strconv.FormatBool(ro)[:1]) + strconv.FormatBool(ro)[1:]
		return nil
	})
	return err
}

// taskReset marks a status set by os-reset_status: the worker does not
// act on it (an operator resetting to creating wants it to stay so).
const taskReset = "reset"

var volumeStatuses = map[string]bool{StatusCreating: true, StatusAvailable: true, StatusReserved: true, StatusAttaching: true,
	StatusInUse: true, StatusDetaching: true, StatusExtending: true, StatusDeleting: true, StatusError: true,
	StatusErrorDeleting: true, StatusErrorExtend: true, StatusUploading: true, "maintenance": true, "error_restoring": true}

var attachStatuses = map[string]bool{AttachDetached: true, AttachAttached: true, AttachAttaching: true, AttachDetaching: true, AttachReserved: true}

// ResetStatus (admin) sets a volume's status and attach status as given,
// without touching its data: the operator's way out of a stuck state.
func (s *Service) ResetStatus(ctx context.Context, c *auth.Credentials, id, status, attachStatus string) error {
	if status != "" && !volumeStatuses[status] {
		return oserr.BadRequest("Invalid input received: '%s' is not a volume status; use one of %s.", status, keys(volumeStatuses))
	}
	if attachStatus != "" && !attachStatuses[attachStatus] {
		return oserr.BadRequest("Invalid input received: '%s' is not an attach status; use one of %s.", attachStatus, keys(attachStatuses))
	}
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if status != "" {
			v.Status = status
			// The worker leaves a status an operator set alone, as Cinder
			// does: reset-status changes the record, never the data.
			v.Task = taskReset
		}
		if attachStatus != "" {
			v.AttachStatus = attachStatus
		}
		return nil
	})
	if err == nil {
		s.notify()
	}
	return err
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// SetImageMetadata merges md into volume_image_metadata.
func (s *Service) SetImageMetadata(ctx context.Context, c *auth.Credentials, id string, md map[string]string) (map[string]string, error) {
	v, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		maps.Copy(v.ImageMetadata, md)
		return checkMetadata(md)
	})
	return v.ImageMetadata, err
}

// UnsetImageMetadata removes one key of volume_image_metadata.
func (s *Service) UnsetImageMetadata(ctx context.Context, c *auth.Credentials, id, key string) error {
	_, err := s.mutate(ctx, c, id, func(_ *store.Tx, v *store.Volume) error {
		if _, ok := v.ImageMetadata[key]; !ok {
			return oserr.NotFound("Glance metadata for volume %s with key %s could not be found.", id, key)
		}
		delete(v.ImageMetadata, key)
		return nil
	})
	return err
}

// UploadSpec is an os-volume_upload_image request.
type UploadSpec struct {
	ImageName, DiskFormat, ContainerFormat, Visibility string
	Protected, Force                                   bool
}

// UploadToImage creates a Glance image from a volume's data; the worker
// copies the data and the image becomes active. It returns the volume
// (status uploading) and the new image.
func (s *Service) UploadToImage(ctx context.Context, c *auth.Credentials, id string, spec UploadSpec) (Volume, Image, error) {
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return v, Image{}, err
	}
	if err := writable(c, v.ProjectID); err != nil {
		return v, Image{}, err
	}
	if v.Status != StatusAvailable && !(spec.Force && v.Status == StatusInUse) {
		return v, Image{}, invalidVolume("Volume %s status must be available or in-use with force, but current status is: %s.", v.ID, v.Status)
	}
	if spec.DiskFormat == "" {
		spec.DiskFormat = "raw"
	}
	if spec.DiskFormat != "raw" {
		return v, Image{}, oserr.BadRequest("Invalid input received: disk_format %q: volumes upload as raw images here; send disk_format raw.", spec.DiskFormat)
	}
	if spec.ContainerFormat == "" {
		spec.ContainerFormat = "bare"
	}
	if spec.Visibility == "" {
		spec.Visibility = "private"
	}
	props := map[string]string{}
	for k, val := range v.ImageMetadata {
		switch k {
		case "image_id", "image_name", "disk_format", "container_format", "size", "min_disk", "checksum", "min_ram":
		default:
			props[k] = val
		}
	}
	im, err := s.images.CreateFor(ctx, c, spec.ImageName, spec.DiskFormat, spec.ContainerFormat, spec.Visibility, spec.Protected, props)
	if err != nil {
		return v, Image{}, err
	}
	out, err := s.mutate(ctx, c, id, func(_ *store.Tx, w *store.Volume) error {
		if w.Status != v.Status {
			return invalidVolume("Volume %s changed to %s while uploading; try again.", w.ID, w.Status)
		}
		w.Task = "upload:" + im.ID + ":" + w.Status
		w.Status = StatusUploading
		return nil
	})
	if err == nil {
		s.notify()
	}
	return out, im, err
}

// CreateBootVolume creates a volume from an image for boot-from-volume and
// returns once it is available or failed (bounded by ctx).
func (s *Service) CreateBootVolume(ctx context.Context, c *auth.Credentials, imageID string, sizeGB int, name string) (Volume, error) {
	v, err := s.Create(ctx, c, CreateSpec{Name: name, SizeGB: int64(sizeGB), ImageID: imageID})
	if err != nil {
		return v, err
	}
	r, err := s.WaitStatus(ctx, v.ID)
	if err != nil {
		return v, err
	}
	out, err := s.view(ctx, r)
	if err == nil && r.Status != StatusAvailable {
		err = fmt.Errorf("boot volume %s from image %s is %s: %s", r.ID, imageID, r.Status, r.ErrorMessage)
	}
	return out, err
}
