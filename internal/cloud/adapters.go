package cloud

import (
	"context"
	"io"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/controller/scheduler"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	imagesvc "github.com/onestack/onestack/internal/service/image"
	placementsvc "github.com/onestack/onestack/internal/service/placement"
	"github.com/onestack/onestack/internal/store"
)

// placementAdapter lets compute and the scheduler use placement through
// the small interfaces they declare.
type placementAdapter struct{ p *placementsvc.Service }

func placementFor(p *placementsvc.Service) computesvc.Placement { return placementAdapter{p} }
func capacityFor(p *placementsvc.Service) scheduler.Capacity    { return placementAdapter{p} }

func (a placementAdapter) EnsureProvider(ctx context.Context, uuid, name string, inv map[string]computesvc.Inventory) error {
	out := make(map[string]placementsvc.Inventory, len(inv))
	for rc, i := range inv {
		out[rc] = placementsvc.Inventory{Total: i.Total, Reserved: i.Reserved, MaxUnit: i.MaxUnit, AllocationRatio: i.AllocationRatio}
	}
	return a.p.EnsureProvider(ctx, uuid, name, out, nil)
}

func (a placementAdapter) ReleaseTx(ctx context.Context, tx *store.Tx, consumerID string) error {
	return a.p.ReleaseTx(ctx, tx, consumerID)
}

func (a placementAdapter) MoveTx(ctx context.Context, tx *store.Tx, from, to string) error {
	return a.p.MoveAllocationsTx(ctx, tx, from, placementsvc.Consumer{ID: to})
}

func (a placementAdapter) ClaimTx(ctx context.Context, tx *store.Tx, consumerID, projectID, userID, providerUUID string, resources map[string]int64) error {
	return a.p.ClaimTx(ctx, tx, placementsvc.Consumer{ID: consumerID, ProjectID: projectID, UserID: userID}, providerUUID, resources)
}

func (a placementAdapter) Providers(ctx context.Context) ([]scheduler.Provider, error) {
	snap, err := a.p.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scheduler.Provider, len(snap))
	for i, pc := range snap {
		p := scheduler.Provider{UUID: pc.UUID, Name: pc.Name, Traits: pc.Traits,
			Free: make(map[string]int64, len(pc.Resources)), MaxUnit: make(map[string]int64, len(pc.Resources))}
		for rc, r := range pc.Resources {
			p.Free[rc], p.MaxUnit[rc] = r.Free(), r.MaxUnit
		}
		out[i] = p
	}
	return out, nil
}

// imagesAdapter lets compute use Glance through the interface it declares.
type imagesAdapter struct{ s *imagesvc.Service }

func imagesFor(s *imagesvc.Service) computesvc.Images { return imagesAdapter{s} }

func (a imagesAdapter) Boot(ctx context.Context, c *auth.Credentials, id string) (computesvc.Image, error) {
	im, err := a.s.Get(ctx, c, id)
	if err != nil {
		return computesvc.Image{}, err
	}
	return computeImage(im), nil
}

func (a imagesAdapter) List(ctx context.Context, c *auth.Credentials, f computesvc.ImageFilter) ([]computesvc.Image, error) {
	// Glance's default order: newest first, id breaking ties.
	q := imagesvc.ListQuery{Limit: f.Limit, Statuses: f.Statuses, Properties: f.Properties,
		Sort: []imagesvc.Sort{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}}}
	if f.Name != "" {
		q.Names = []string{f.Name}
	}
	if f.ChangesSince != nil {
		q.Times = []imagesvc.TimeFilter{{Column: "updated_at", Op: "gte", At: *f.ChangesSince}}
	}
	if f.MinRAM > 0 || f.MinDisk > 0 {
		q.Mins = map[string]int64{}
		if f.MinRAM > 0 {
			q.Mins["min_ram"] = int64(f.MinRAM)
		}
		if f.MinDisk > 0 {
			q.Mins["min_disk"] = int64(f.MinDisk)
		}
	}
	ims, _, err := a.s.List(ctx, c, q, f.Marker)
	out := make([]computesvc.Image, len(ims))
	for i, im := range ims {
		out[i] = computeImage(im)
	}
	return out, err
}

func (a imagesAdapter) Delete(ctx context.Context, c *auth.Credentials, id string) error {
	return a.s.Delete(ctx, c, id)
}

// SetProperties applies the proxy's metadata change as one Glance patch.
func (a imagesAdapter) SetProperties(ctx context.Context, c *auth.Credentials, id string, set map[string]string, remove []string) (computesvc.Image, error) {
	changes := make([]imagesvc.Change, 0, len(set)+len(remove))
	for _, k := range remove {
		changes = append(changes, imagesvc.Change{Op: imagesvc.OpRemove, Attr: k})
	}
	for k, v := range set {
		changes = append(changes, imagesvc.Change{Op: imagesvc.OpAdd, Attr: k, Value: v})
	}
	im, err := a.s.Update(ctx, c, id, changes)
	if err != nil {
		return computesvc.Image{}, err
	}
	return computeImage(im), nil
}

func computeImage(im store.Image) computesvc.Image {
	out := computesvc.Image{ID: im.ID, Status: im.Status, MinDisk: int(im.MinDisk), MinRAM: int(im.MinRAM), Properties: im.Properties,
		CreatedAt: im.CreatedAt, UpdatedAt: im.UpdatedAt}
	if im.Name != nil {
		out.Name = *im.Name
	}
	if im.DiskFormat != nil {
		out.DiskFormat = *im.DiskFormat
	}
	if im.Size != nil {
		out.Size = *im.Size
	}
	return out
}

func (a imagesAdapter) Snapshot(ctx context.Context, c *auth.Credentials, name string, props map[string]string) (string, error) {
	im, err := a.s.CreateSnapshot(ctx, c, imagesvc.SnapshotSpec{Name: name, Properties: props})
	return im.ID, err
}

// Upload writes a snapshot's data as the compute service: an internal
// admin identity, since the agent acts for the server's owner.
func (a imagesAdapter) Upload(ctx context.Context, imageID string, data io.Reader) error {
	_, err := a.s.Upload(ctx, computeIdentity(), imageID, data, -1)
	return err
}

// Download opens an image's data as the compute service, for a host's
// image cache: only active images have data to boot from.
func (a imagesAdapter) Download(ctx context.Context, imageID string) (io.ReadCloser, hostapi.ImageFile, error) {
	d, err := a.s.Open(ctx, computeIdentity(), imageID)
	if err != nil {
		return nil, hostapi.ImageFile{}, err
	}
	if d.File == nil {
		return nil, hostapi.ImageFile{}, oserr.Conflict("Image %s has no data (status %s): upload its data before booting from it.", imageID, d.Image.Status)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	f := hostapi.ImageFile{ID: imageID, DiskFormat: str(d.Image.DiskFormat), Checksum: str(d.Image.Checksum),
		HashAlgo: str(d.Image.OSHashAlgo), HashValue: str(d.Image.OSHashValue)}
	if d.Image.Size != nil {
		f.Size = *d.Image.Size
	}
	return d.File, f, nil
}

// computeIdentity is the compute service acting for a server's owner.
func computeIdentity() *auth.Credentials {
	return &auth.Credentials{User: auth.Ref{ID: "onestack-compute", Name: "onestack-compute"},
		Roles: []auth.Ref{{Name: auth.RoleAdmin}, {Name: auth.RoleMember}, {Name: auth.RoleReader}}}
}

// DeleteProvider lets compute remove a deleted compute service's resource provider.
func (a placementAdapter) DeleteProvider(ctx context.Context, id string) error {
	return a.p.DeleteProvider(ctx, id)
}
