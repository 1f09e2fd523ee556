package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Volumes is the block storage service as the compute service uses it
// (Cinder's attachments API as Nova drives it). It shares the compute
// service's store: the ...Tx methods write in the caller's transaction, so
// an attachment and the server's block device mapping commit together (a
// crash cannot leave one without the other).
type Volumes interface {
	// Volume reads a volume c may see (404 otherwise).
	Volume(ctx context.Context, c *auth.Credentials, id string) (Volume, error)
	// Export makes a volume c may attach to serverID reachable for guests
	// and returns the NBD address they open; a volume that is not
	// available is refused with Cinder's 400. release must be called once
	// the transaction meant to record the attachment is over (used: it
	// committed); a crash before leaves an export the volume service
	// removes after the restart.
	Export(ctx context.Context, c *auth.Credentials, volumeID, serverID string) (address string, release func(used bool), err error)
	// AttachTx creates, in tx, an attachment of the volume to the server
	// on host at address (the volume is attaching).
	AttachTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, volumeID, serverID, host, address string) (attachmentID string, err error)
	// CompleteTx marks the attachment attached at device on host (the
	// volume is in-use), in tx.
	CompleteTx(ctx context.Context, tx *store.Tx, attachmentID, host, device string) error
	// DetachTx deletes the attachment in tx: the volume is available again
	// once it has none (and unexported after the commit). An absent
	// attachment is not an error.
	DetachTx(ctx context.Context, tx *store.Tx, attachmentID string) error
	// CreateBootVolume creates a volume from an image and returns once it
	// is available.
	CreateBootVolume(ctx context.Context, c *auth.Credentials, imageID string, sizeGB int, name string) (Volume, error)
	// DeleteVolume deletes a volume (a boot volume made for a boot that failed).
	DeleteVolume(ctx context.Context, id string) error
	// DeleteDetachedTx starts deleting, in tx, a volume detached from a
	// deleted server (delete_on_termination).
	DeleteDetachedTx(ctx context.Context, tx *store.Tx, volumeID string) error
}

// Volume is a volume as the compute service sees it.
type Volume struct {
	ID, Name, Status, ProjectID string
	SizeGB                      int
	ReadOnly                    bool
}

// SetVolumes wires the block storage service (nil: servers cannot have
// volumes).
func (s *Service) SetVolumes(v Volumes) { s.volumes = v }

// BDM states.
const (
	BDMAttaching = "attaching" // the agent plugs it
	BDMAttached  = "attached"
	BDMDetaching = "detaching" // the agent unplugs it
)

// BDM is one of a server's block device mappings: a volume attached to it.
type BDM struct {
	VolumeID            string `json:"volume_id"`
	AttachmentID        string `json:"attachment_id"`
	Device              string `json:"device"`
	Tag                 string `json:"tag,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination,omitempty"`
	// BootIndex 0 is the root disk; -1 not a boot disk.
	BootIndex int    `json:"boot_index"`
	Export    string `json:"export"`
	ReadOnly  bool   `json:"read_only,omitempty"`
	State     string `json:"state"`
	// Started is when the attach or detach in progress began.
	Started time.Time `json:"started"`
}

// BDMs returns a server's block device mappings.
func BDMs(v store.Server) []BDM {
	var bs []BDM
	if v.Volumes != "" {
		_ = json.Unmarshal([]byte(v.Volumes), &bs)
	}
	return bs
}

func setBDMs(v *store.Server, bs []BDM) {
	if len(bs) == 0 {
		v.Volumes = ""
		return
	}
	v.Volumes = toJSON(bs)
}

// guestVolumes are the volumes a server's guest must have: every mapping
// but those being detached.
func guestVolumes(v store.Server) []hostapi.GuestVolume {
	var out []hostapi.GuestVolume
	for _, b := range BDMs(v) {
		if b.State == BDMDetaching {
			continue
		}
		out = append(out, hostapi.GuestVolume{VolumeID: b.VolumeID, AttachmentID: b.AttachmentID, Export: b.Export,
			Device: b.Device, BootIndex: b.BootIndex, ReadOnly: b.ReadOnly, Serial: b.VolumeID})
	}
	return out
}

// volumesPending reports whether a server has an attach or detach its
// host has not confirmed.
func volumesPending(v store.Server) bool {
	return slices.ContainsFunc(BDMs(v), func(b BDM) bool { return b.State == BDMAttaching || b.State == BDMDetaching })
}

// nextDevice is the first free /dev/vdX after the server's own disks
// (root, ephemeral, swap, config drive: all virtio disks here).
func nextDevice(v store.Server, bs []BDM) string {
	used := map[string]bool{"/dev/vda": true}
	n := 1
	for _, has := range []bool{v.Flavor.Ephemeral > 0, v.Flavor.Swap > 0, v.ConfigDrive} {
		if has {
			used[fmt.Sprintf("/dev/vd%c", 'a'+n)] = true
			n++
		}
	}
	for _, b := range bs {
		used[b.Device] = true
	}
	for i := 1; i < 26; i++ {
		if d := fmt.Sprintf("/dev/vd%c", 'a'+i); !used[d] {
			return d
		}
	}
	return ""
}

func (s *Service) needVolumes() error {
	if s.volumes == nil {
		return oserr.BadRequest("This cloud runs no block storage service, so servers cannot have volumes.")
	}
	return nil
}

// AttachRequest is a decoded POST /servers/{id}/os-volume_attachments.
type AttachRequest struct {
	VolumeID            string
	Tag                 string
	DeleteOnTermination bool
}

// attachStates are the vm_states a volume can be attached or detached in.
var attachStates = []string{VMActive, VMStopped, VMPaused}

// AttachVolume attaches a volume to a server: it exports the volume, then
// records its attachment (the volume attaching) and the server's block
// device mapping in one transaction, and asks the server's host to plug
// it. The attach finishes on the host (the volume becomes in-use); if it
// fails there the volume is available again and the server's
// attach_volume action has the fault.
func (s *Service) AttachVolume(ctx context.Context, c *auth.Credentials, serverID string, req AttachRequest) (BDM, error) {
	if err := s.needVolumes(); err != nil {
		return BDM{}, err
	}
	check := func(v store.Server) error {
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		if v.TaskState != "" {
			return oserr.Conflict("Cannot 'attach_volume' instance %s while it is in task_state %s; wait for the task to finish.", v.ID, v.TaskState)
		}
		if !slices.Contains(attachStates, v.VMState) || v.Host == "" {
			return oserr.Conflict("Cannot 'attach_volume' instance %s while it is in vm_state %s.", v.ID, v.VMState)
		}
		for _, b := range BDMs(v) {
			if b.VolumeID == req.VolumeID {
				return oserr.BadRequest("Invalid volume: volume %s is already attached to server %s.", req.VolumeID, v.ID)
			}
		}
		if len(BDMs(v)) >= 8 {
			return oserr.Forbidden("Maximum number of volumes allowed per server reached: server %s has 8; detach one first.", v.ID)
		}
		return nil
	}
	v, err := s.Get(ctx, c, serverID)
	if err != nil {
		return BDM{}, err
	}
	if err := check(v); err != nil {
		return BDM{}, err
	}
	vol, err := s.volumes.Volume(ctx, c, req.VolumeID)
	if err != nil {
		if oserr.Is(err, 404) {
			return BDM{}, oserr.NotFound("Volume %s could not be found.", req.VolumeID)
		}
		return BDM{}, err
	}
	addr, release, err := s.volumes.Export(ctx, c, vol.ID, v.ID)
	if err != nil {
		return BDM{}, err
	}
	fault.Point(fault.AttachExported)
	var b BDM
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		v, err = s.visible(ctx, tx, c, serverID, false)
		if err != nil {
			return err
		}
		if err := check(v); err != nil {
			return err
		}
		// The attachment and the mapping commit together.
		attID, err := s.volumes.AttachTx(ctx, tx, c, vol.ID, v.ID, v.Host, addr)
		if err != nil {
			return err
		}
		bs := BDMs(v)
		b = BDM{VolumeID: vol.ID, AttachmentID: attID, Device: nextDevice(v, bs), Tag: req.Tag,
			DeleteOnTermination: req.DeleteOnTermination, BootIndex: -1, Export: addr, ReadOnly: vol.ReadOnly,
			State: BDMAttaching, Started: s.Now()}
		setBDMs(&v, append(bs, b))
		v.UpdatedAt = s.Now()
		if err := tx.UpdateServer(ctx, &v, 0); err != nil {
			return err
		}
		_, err = s.startAction(ctx, tx, c, v.ID, "attach_volume")
		return err
	})
	release(err == nil)
	if err != nil {
		return BDM{}, err
	}
	fault.Point(fault.AttachCommitted)
	s.log.Info("attaching volume", "server_id", v.ID, "volume_id", vol.ID, "attachment_id", b.AttachmentID, "host", v.Host)
	s.Hub.WakeHost(v.Host)
	return b, nil
}

// DetachVolume asks the server's host to unplug a volume; once it has,
// the attachment is deleted and the volume is available.
func (s *Service) DetachVolume(ctx context.Context, c *auth.Credentials, serverID, volumeID string) error {
	if err := s.needVolumes(); err != nil {
		return err
	}
	var host string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, serverID, false)
		if err != nil {
			return err
		}
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		bs := BDMs(v)
		i := slices.IndexFunc(bs, func(b BDM) bool { return b.VolumeID == volumeID })
		if i < 0 {
			return oserr.NotFound("Volume %s is not attached to server %s (no volume block device mapping with id %s).", volumeID, serverID, volumeID)
		}
		if bs[i].BootIndex == 0 {
			return oserr.BadRequest("Cannot detach a root device volume: volume %s is the root disk of server %s; delete the server instead.", volumeID, serverID)
		}
		if v.TaskState != "" {
			return oserr.Conflict("Cannot 'detach_volume' instance %s while it is in task_state %s; wait for the task to finish.", v.ID, v.TaskState)
		}
		// A paused guest cannot answer the unplug request: unpause first.
		if v.VMState != VMActive && v.VMState != VMStopped && v.VMState != VMError {
			return oserr.Conflict("Cannot 'detach_volume' instance %s while it is in vm_state %s.", v.ID, v.VMState)
		}
		switch bs[i].State {
		case BDMDetaching:
			return nil // already on its way
		case BDMAttaching:
			return oserr.BadRequest("Invalid volume: volume %s is still attaching to server %s; wait until it is in-use, then detach.", volumeID, serverID)
		}
		if _, err := s.startAction(ctx, tx, c, v.ID, "detach_volume"); err != nil {
			return err
		}
		if v.Host == "" {
			// No host has the guest: the mapping and the attachment go
			// together.
			if err := s.volumes.DetachTx(ctx, tx, bs[i].AttachmentID); err != nil {
				return err
			}
			setBDMs(&v, slices.Delete(bs, i, i+1))
		} else {
			bs[i].State, bs[i].Started = BDMDetaching, s.Now()
			setBDMs(&v, bs)
			host = v.Host
		}
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	if err != nil || host == "" {
		return err
	}
	fault.Point(fault.DetachCommitted)
	s.Hub.WakeHost(host)
	return nil
}

// VolumeAttachments lists the volumes attached to a server.
func (s *Service) VolumeAttachments(ctx context.Context, c *auth.Credentials, serverID string) ([]BDM, error) {
	v, err := s.Get(ctx, c, serverID)
	if err != nil {
		return nil, err
	}
	return BDMs(v), nil
}

// VolumeAttachment shows one volume attached to a server.
func (s *Service) VolumeAttachment(ctx context.Context, c *auth.Credentials, serverID, volumeID string) (BDM, error) {
	bs, err := s.VolumeAttachments(ctx, c, serverID)
	if err != nil {
		return BDM{}, err
	}
	for _, b := range bs {
		if b.VolumeID == volumeID {
			return b, nil
		}
	}
	return BDM{}, oserr.NotFound("Volume %s is not attached to server %s (no volume block device mapping with id %s).", volumeID, serverID, volumeID)
}

// reportVolumes applies what an agent reported about a guest's volumes:
// attaches done become in-use, detaches done free the volume, failures go
// back (the volume available again, or still attached) with the fault on
// the server's action. The attachments and the mappings change in one
// transaction; a crash before it commits is repaired by the agent's next
// report (it reports every guest again after a restart, and repeats a
// report that failed).
func (s *Service) reportVolumes(ctx context.Context, r hostapi.Report) error {
	if s.volumes == nil || (r.Attached == nil && len(r.VolumeErrors) == 0) {
		return nil // only reports about volumes need a look: the others cost no read
	}
	// Most reports confirm what is recorded: a read decides, and only a
	// change takes the write transaction.
	var seen store.Server
	err := s.db.Read(ctx, func(tx *store.Tx) (err error) {
		seen, err = tx.GetServer(ctx, r.ServerID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !volumesChange(seen, r) {
		return err
	}
	type outcome struct {
		result, details, event string
		drop                   bool
		state                  string
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := tx.GetServer(ctx, r.ServerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if v.Deleted || v.Volumes == "" || v.Host != r.Host {
			return nil // a deleted server's volumes went with it (finishDelete)
		}
		var keep []BDM
		changed, released := false, false
		// Registered first, so it runs before the volume service's own
		// after-commit steps (unexport).
		tx.AfterCommit(func() {
			if released {
				fault.Point(fault.VolumesReleased)
			}
		})
		for _, b := range BDMs(v) {
			attached := slices.Contains(r.Attached, b.AttachmentID)
			failure, failed := r.VolumeErrors[b.AttachmentID]
			var o *outcome
			switch {
			case b.State == BDMAttaching && failed:
				if err := s.volumes.DetachTx(ctx, tx, b.AttachmentID); err != nil {
					return err
				}
				released = true
				o = &outcome{"Error", fmt.Sprintf("attaching volume %s on host %s failed (qemu): %s; the volume is available again", b.VolumeID, r.Host, failure), "compute_attach_volume", true, ""}
			case b.State == BDMAttaching && attached:
				if err := s.volumes.CompleteTx(ctx, tx, b.AttachmentID, r.Host, b.Device); err != nil {
					return err
				}
				o = &outcome{"Success", "", "compute_attach_volume", false, BDMAttached}
			case b.State == BDMDetaching && failed:
				o = &outcome{"Error", fmt.Sprintf("detaching volume %s on host %s failed (qemu): %s; the volume stays attached", b.VolumeID, r.Host, failure), "compute_detach_volume", false, BDMAttached}
			case b.State == BDMDetaching && !attached:
				if err := s.volumes.DetachTx(ctx, tx, b.AttachmentID); err != nil {
					return err
				}
				released = true
				o = &outcome{"Success", "", "compute_detach_volume", true, ""}
			}
			if o == nil {
				keep = append(keep, b)
				continue
			}
			changed = true
			if err := s.Event(ctx, tx, v.ID, o.event, r.Host, o.result, o.details, b.Started); err != nil {
				return err
			}
			if o.result == "Error" {
				s.log.Warn("volume change failed", "server_id", v.ID, "volume_id", b.VolumeID, "error", o.details)
			}
			if o.drop {
				continue
			}
			b.State = o.state
			keep = append(keep, b)
		}
		if !changed {
			return nil
		}
		fault.Point(fault.VolumesApplying)
		setBDMs(&v, keep)
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	if err != nil {
		return fmt.Errorf("record the volume changes of server %s: %w", r.ServerID, err)
	}
	return nil
}

// volumesChange reports whether a report changes a server's mappings: an
// attach or detach in flight that the host did or failed.
func volumesChange(v store.Server, r hostapi.Report) bool {
	if v.Deleted || v.Host != r.Host {
		return false
	}
	for _, b := range BDMs(v) {
		attached := slices.Contains(r.Attached, b.AttachmentID)
		_, failed := r.VolumeErrors[b.AttachmentID]
		if (b.State == BDMAttaching && (failed || attached)) || (b.State == BDMDetaching && (failed || !attached)) {
			return true
		}
	}
	return false
}

// releaseVolumesTx, in a deleted server's transaction, detaches its volumes
// and starts deleting those marked delete_on_termination: the volumes are
// free exactly when the server is gone.
func (s *Service) releaseVolumesTx(ctx context.Context, tx *store.Tx, v *store.Server) error {
	bs := BDMs(*v)
	if s.volumes == nil || len(bs) == 0 {
		return nil
	}
	// First, so it runs before the volume service's after-commit steps.
	tx.AfterCommit(func() { fault.Point(fault.VolumesReleased) })
	for _, b := range bs {
		if err := s.volumes.DetachTx(ctx, tx, b.AttachmentID); err != nil {
			return fmt.Errorf("detach volume %s: %w", b.VolumeID, err)
		}
		if b.DeleteOnTermination {
			if err := s.volumes.DeleteDetachedTx(ctx, tx, b.VolumeID); err != nil {
				return fmt.Errorf("delete volume %s (delete_on_termination): %w", b.VolumeID, err)
			}
		}
	}
	setBDMs(v, nil)
	return nil
}

// BlockDevice is one entry of a boot request's block_device_mapping_v2.
type BlockDevice struct {
	BootIndex           int    // -1: not a boot disk
	UUID                string // the image or volume
	SourceType          string // image | volume | blank | snapshot
	DestinationType     string // volume | local
	VolumeSize          int
	DeleteOnTermination bool
	Tag                 string
}

// bootPlan is the root volume a boot from volume made ready, before the
// server row exists.
type bootPlan struct {
	serverID string
	bdm      BDM
	created  bool // the volume was made for this server
	// release ends the export's guard (Volumes.Export).
	release func(used bool)
}

// checkBlockDevices validates a boot request's block devices and returns
// the boot image (image → volume), "" for an existing volume.
func (s *Service) checkBlockDevices(req CreateRequest) (image string, err error) {
	if len(req.BlockDevices) == 0 {
		return req.ImageRef, nil
	}
	if err := s.needVolumes(); err != nil {
		return "", err
	}
	if len(req.BlockDevices) > 1 {
		return "", oserr.BadRequest("block_device_mapping_v2: only one block device (the root volume, boot_index 0) can be given at boot here; attach more volumes after the server is ACTIVE.")
	}
	if req.MaxCount > 1 || req.MinCount > 1 {
		return "", oserr.BadRequest("Boot from volume creates one server at a time here; drop min_count/max_count.")
	}
	bd := req.BlockDevices[0]
	if bd.BootIndex != 0 || bd.DestinationType != "volume" {
		return "", oserr.BadRequest("block_device_mapping_v2: the block device must be the root volume (boot_index 0, destination_type volume); local image disks come from imageRef.")
	}
	switch bd.SourceType {
	case "image":
		if bd.VolumeSize < 1 {
			return "", oserr.BadRequest("block_device_mapping_v2: volume_size (GiB, at least the image's size) is required to create a volume from image %s.", bd.UUID)
		}
		return bd.UUID, nil
	case "volume":
		return "", nil
	}
	return "", oserr.BadRequest("block_device_mapping_v2: source_type %q is not supported here; use image (a new volume from an image) or volume (an existing volume).", bd.SourceType)
}

// prepareBootVolume makes the root volume of a boot from volume ready:
// created from the image (or the existing one) and exported; the create
// transaction records its attachment with the server (attachTx).
// undoBootVolume takes it back if the boot fails, doneBootVolume ends the
// export's guard once the server is recorded.
func (s *Service) prepareBootVolume(ctx context.Context, c *auth.Credentials, req CreateRequest) (*bootPlan, error) {
	if len(req.BlockDevices) == 0 {
		return nil, nil
	}
	bd := req.BlockDevices[0]
	p := &bootPlan{serverID: newUUID()}
	var vol Volume
	var err error
	if bd.SourceType == "image" {
		vol, err = s.volumes.CreateBootVolume(ctx, c, bd.UUID, bd.VolumeSize, "")
		if err != nil {
			if vol.ID != "" {
				_ = s.volumes.DeleteVolume(context.WithoutCancel(ctx), vol.ID)
			}
			return nil, oserr.BadRequest("Block Device Mapping is Invalid: creating the root volume from image %s failed: %v", bd.UUID, err).WithCause(err)
		}
		p.created = true
	} else {
		vol, err = s.volumes.Volume(ctx, c, bd.UUID)
		if err != nil {
			if oserr.Is(err, 404) {
				return nil, oserr.BadRequest("Block Device Mapping is Invalid: failed to get volume %s.", bd.UUID)
			}
			return nil, err
		}
	}
	p.bdm = BDM{VolumeID: vol.ID, Device: "/dev/vda", Tag: bd.Tag, DeleteOnTermination: bd.DeleteOnTermination,
		BootIndex: 0, ReadOnly: vol.ReadOnly, State: BDMAttaching, Started: s.Now()}
	if p.bdm.Export, p.release, err = s.volumes.Export(ctx, c, vol.ID, p.serverID); err != nil {
		s.undoBootVolume(ctx, p)
		return nil, err
	}
	fault.Point(fault.BootVolumeExported)
	return p, nil
}

// attachTx records the root volume's attachment to the new server, in the
// transaction creating it.
func (s *Service) attachTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, p *bootPlan) error {
	if p == nil {
		return nil
	}
	id, err := s.volumes.AttachTx(ctx, tx, c, p.bdm.VolumeID, p.serverID, "", p.bdm.Export)
	p.bdm.AttachmentID = id
	return err
}

// doneBootVolume ends the export's guard of a boot recorded.
func (s *Service) doneBootVolume(p *bootPlan) {
	if p != nil && p.release != nil {
		p.release(true)
	}
}

// undoBootVolume releases what prepareBootVolume made (the attachment,
// if any, went with the create transaction that failed).
func (s *Service) undoBootVolume(ctx context.Context, p *bootPlan) {
	if p == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if p.release != nil {
		p.release(false) // unexports it
	}
	if p.created {
		if err := s.volumes.DeleteVolume(ctx, p.bdm.VolumeID); err != nil {
			s.log.Warn("cannot delete the root volume of a failed boot", "volume_id", p.bdm.VolumeID, "error", err)
		}
	}
}

// bootFromVolume sets a new server's row up for its root volume.
func (p *bootPlan) apply(v *store.Server) {
	if p == nil {
		return
	}
	v.ID, v.ImageID = p.serverID, ""
	setBDMs(v, []BDM{p.bdm})
}

// bootImage is the image a server boots from; "" (an existing root
// volume) is an image with no requirements.
func (s *Service) bootImage(ctx context.Context, c *auth.Credentials, id string) (Image, error) {
	if id == "" {
		return Image{Status: "active"}, nil
	}
	return s.images.Boot(ctx, c, id)
}
