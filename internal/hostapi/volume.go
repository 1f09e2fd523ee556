package hostapi

// GuestVolume is a volume attached to a guest: the agent plugs it into the
// guest while it runs (or at its next start) and reports the attachment
// done in Report.Attached.
type GuestVolume struct {
	VolumeID     string `json:"volume_id"`
	AttachmentID string `json:"attachment_id"`
	// Export is the volume's NBD address on the storage pool, e.g.
	// "nbd+unix:///<volume id>?socket=/run/onestack/…/nbd.sock".
	Export string `json:"export"`
	// Device is the device name Nova reported to the user (/dev/vdb); the
	// guest's kernel names disks in its own order, so guests find a volume
	// by Serial instead.
	Device string `json:"device,omitempty"`
	// BootIndex 0 is the root disk (boot from volume: the guest has no
	// image disk); -1 is not a boot disk.
	BootIndex int  `json:"boot_index"`
	ReadOnly  bool `json:"read_only,omitempty"`
	// Serial is the volume id; the guest sees the disk as
	// /dev/disk/by-id/virtio-<Serial[:20]>.
	Serial string `json:"serial"`
}

// BootVolume returns the guest's root volume (BootIndex 0), if it boots
// from one.
func (g Guest) BootVolume() (GuestVolume, bool) {
	for _, v := range g.Volumes {
		if v.BootIndex == 0 {
			return v, true
		}
	}
	return GuestVolume{}, false
}
