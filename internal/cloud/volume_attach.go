package cloud

import (
	"context"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	volumesvc "github.com/onestack/onestack/internal/service/volume"
	"github.com/onestack/onestack/internal/store"
)

// wireComputeVolumes gives Nova its volumes from Cinder: attachments,
// boot volumes and delete_on_termination. Both services share the store,
// so an attachment and the server's block device mapping are written in
// one transaction. It runs after wireVolume.
func (c *Cloud) wireComputeVolumes(context.Context) error {
	if c.Compute == nil || c.Volume == nil {
		return nil
	}
	c.Compute.SetVolumes(computeVolumes{c.Volume})
	return nil
}

// computeVolumes is the volume service as the compute service uses it.
type computeVolumes struct{ v *volumesvc.Service }

var _ computesvc.Volumes = computeVolumes{}

func computeVolume(v volumesvc.Volume) computesvc.Volume {
	return computesvc.Volume{ID: v.ID, Name: v.Name, Status: v.Status, ProjectID: v.ProjectID, SizeGB: int(v.SizeGB), ReadOnly: v.ReadOnly}
}

func (a computeVolumes) Volume(ctx context.Context, c *auth.Credentials, id string) (computesvc.Volume, error) {
	v, err := a.v.Get(ctx, c, id)
	if err != nil {
		return computesvc.Volume{}, err
	}
	return computeVolume(v), nil
}

func (a computeVolumes) Export(ctx context.Context, c *auth.Credentials, volumeID, serverID string) (string, func(bool), error) {
	return a.v.ExportFor(ctx, c, volumeID, serverID)
}

func (a computeVolumes) AttachTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, volumeID, serverID, host, address string) (string, error) {
	at, err := a.v.AttachTx(ctx, tx, c, volumeID, serverID, host, address)
	return at.ID, err
}

func (a computeVolumes) CompleteTx(ctx context.Context, tx *store.Tx, attachmentID, host, device string) error {
	return a.v.CompleteTx(ctx, tx, attachmentID, host, device)
}

func (a computeVolumes) DetachTx(ctx context.Context, tx *store.Tx, attachmentID string) error {
	return a.v.DetachTx(ctx, tx, attachmentID)
}

func (a computeVolumes) DeleteDetachedTx(ctx context.Context, tx *store.Tx, volumeID string) error {
	return a.v.DeleteDetachedTx(ctx, tx, volumeID)
}

func (a computeVolumes) CreateBootVolume(ctx context.Context, c *auth.Credentials, imageID string, sizeGB int, name string) (computesvc.Volume, error) {
	v, err := a.v.CreateBootVolume(ctx, c, imageID, sizeGB, name)
	return computeVolume(v), err
}

func (a computeVolumes) DeleteVolume(ctx context.Context, id string) error {
	err := a.v.Delete(ctx, nil, id, false, false)
	if oserr.Is(err, 404) {
		return nil
	}
	return err
}
