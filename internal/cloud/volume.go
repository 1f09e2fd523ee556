package cloud

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	volumeapi "github.com/onestack/onestack/internal/api/volume"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/driver/storage"
	"github.com/onestack/onestack/internal/oserr"
	imagesvc "github.com/onestack/onestack/internal/service/image"
	volumesvc "github.com/onestack/onestack/internal/service/volume"
	"github.com/onestack/onestack/internal/store"
)

// volumeService names the volume service's type in cloud.go.
type volumeService = volumesvc.Service

// wireVolume builds Cinder: the volume service over the storage pool in
// DATA/volumes, its API under /volume and its catalog entries (volumev3 and
// block-storage, with the project in the URL as Cinder's catalog has it).
// Without qemu-img the pool cannot run: the service starts without it and
// volumes fail to create with a message saying so.
func (c *Cloud) wireVolume(ctx context.Context) error {
	if c.Image == nil {
		return fmt.Errorf("volume needs the image service wired first")
	}
	log := c.cfg.Log.With("service", "volume")
	var backend volumesvc.Backend
	pool, err := storage.New(storage.Config{Dir: filepath.Join(c.cfg.DataDir, "volumes"), Log: log})
	if err != nil {
		log.Warn("no storage pool: volumes cannot be created on this cloud", "error", err)
	} else {
		backend = pool
		c.closers = append(c.closers, func() error { return pool.Stop(context.Background()) })
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "onestack"
	}
	svc, err := volumesvc.New(ctx, c.DB, nil, volumeImages{c.Image}, log, volumesvc.Config{Host: host + "@pool"})
	if err != nil {
		return err
	}
	if backend != nil {
		svc.SetBackend(backend)
	}
	c.Volume = svc
	c.mount(volumeapi.New(svc, c.env()).Service())
	c.loops = append(c.loops, svc.Run)
	return nil
}

// volumeImages lets the volume service use Glance through the interface
// it declares.
type volumeImages struct{ s *imagesvc.Service }

func volumeImage(im store.Image) volumesvc.Image {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out := volumesvc.Image{ID: im.ID, Name: str(im.Name), Status: im.Status, DiskFormat: str(im.DiskFormat),
		ContainerFormat: str(im.ContainerFormat), MinDisk: im.MinDisk, Properties: im.Properties}
	if im.Size != nil {
		out.Size = *im.Size
	}
	return out
}

func (a volumeImages) Get(ctx context.Context, c *auth.Credentials, id string) (volumesvc.Image, error) {
	im, err := a.s.Get(ctx, c, id)
	if err != nil {
		return volumesvc.Image{}, err
	}
	return volumeImage(im), nil
}

// Open reads an image's data as the volume service: the caller's access
// was checked when the volume was created.
func (a volumeImages) Open(ctx context.Context, id string) (volumesvc.Image, io.ReadCloser, error) {
	d, err := a.s.Open(ctx, volumeIdentity(), id)
	if err != nil {
		return volumesvc.Image{}, nil, err
	}
	if d.File == nil {
		return volumeImage(d.Image), nil, oserr.Conflict("Image %s has no data (status %s); upload its data first.", id, d.Image.Status)
	}
	return volumeImage(d.Image), d.File, nil
}

func (a volumeImages) CreateFor(ctx context.Context, c *auth.Credentials, name, diskFormat, containerFormat, visibility string, protected bool, props map[string]string) (volumesvc.Image, error) {
	attrs := map[string]any{"name": name, "disk_format": diskFormat, "container_format": containerFormat,
		"visibility": visibility, "protected": protected}
	for k, v := range props {
		if _, core := attrs[k]; !core {
			attrs[k] = v
		}
	}
	im, err := a.s.Create(ctx, c, attrs)
	if err != nil {
		return volumesvc.Image{}, err
	}
	return volumeImage(im), nil
}

func (a volumeImages) Upload(ctx context.Context, id string, data io.Reader, size int64) error {
	_, err := a.s.Upload(ctx, volumeIdentity(), id, data, size)
	return err
}

// volumeIdentity is the volume service acting for a volume's owner.
func volumeIdentity() *auth.Credentials {
	return &auth.Credentials{User: auth.Ref{ID: "onestack-volume", Name: "onestack-volume"},
		Roles: []auth.Ref{{Name: auth.RoleAdmin}, {Name: auth.RoleMember}, {Name: auth.RoleReader}}}
}
