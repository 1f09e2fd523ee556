package cloud

import (
	"context"
	"fmt"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	volumesvc "github.com/onestack/onestack/internal/service/volume"
)

// wireComputeVolumes gives Nova its volumes from Cinder: attachments,
// boot volumes and delete_on_termination. It runs after wireVolume.
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

func (a computeVolumes) Reserve(ctx context.Context, c *auth.Credentials, volumeID, serverID string) (string, error) {
	at, err := a.v.ReserveAttachment(ctx, c, volumeID, serverID)
	return at.ID, err
}

func (a computeVolumes) Connect(ctx context.Context, c *auth.Credentials, attachmentID, host string) (string, error) {
	connector := map[string]any{"host": host, "platform": "x86_64", "os_type": "linux", "multipath": false}
	_, info, err := a.v.UpdateAttachment(ctx, c, attachmentID, connector)
	if err != nil {
		return "", err
	}
	data, _ := info["data"].(map[string]any)
	addr, _ := data["address"].(string)
	if addr == "" {
		return "", fmt.Errorf("the volume service gave attachment %s no NBD address", attachmentID)
	}
	return addr, nil
}

func (a computeVolumes) Complete(ctx context.Context, attachmentID, host, device string) error {
	_, err := a.v.CompleteAttachment(ctx, attachmentID, host, device)
	return err
}

func (a computeVolumes) Detach(ctx context.Context, attachmentID string) error {
	err := a.v.DeleteAttachment(ctx, attachmentID)
	if oserr.Is(err, 404) {
		return nil
	}
	return err
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
