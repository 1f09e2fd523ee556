package image

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// This file is the Go API other services use; the HTTP API is not in it.
//
//   - Get (images.go) returns an image as the given credentials see it:
//     what a boot request needs (Status, MinDisk, MinRAM, DiskFormat,
//     Properties, Size), or Glance's 404 for an image the caller may not see.
//   - CreateSnapshot registers a queued image owned by the caller's project;
//     Upload (data.go) then streams the data into it from an io.Reader.
//   - Open (data.go) opens the data for a caller; Reader and Path are for
//     trusted internal callers (host agents copying images into their cache).

// SnapshotSpec describes an image a service creates on a user's behalf,
// such as a server snapshot.
type SnapshotSpec struct {
	Name                        string
	DiskFormat, ContainerFormat string // "" means qcow2 and bare
	MinDisk, MinRAM             int64
	// Properties are extra properties, e.g. instance_uuid, image_type
	// "snapshot", base_image_ref.
	Properties map[string]string
	// Visibility is "" for private (Nova's snapshots are private).
	Visibility string
}

// CreateSnapshot registers a queued image owned by the caller's project,
// counted against its image quota; send its data with Upload.
func (s *Service) CreateSnapshot(ctx context.Context, c *auth.Credentials, spec SnapshotSpec) (store.Image, error) {
	if spec.DiskFormat == "" {
		spec.DiskFormat = "qcow2"
	}
	if spec.ContainerFormat == "" {
		spec.ContainerFormat = "bare"
	}
	if spec.Visibility == "" {
		spec.Visibility = VisibilityPrivate
	}
	attrs := map[string]any{"name": spec.Name, "disk_format": spec.DiskFormat, "container_format": spec.ContainerFormat,
		"visibility": spec.Visibility, "min_disk": spec.MinDisk, "min_ram": spec.MinRAM}
	for k, v := range spec.Properties {
		if _, core := attrs[k]; !core {
			attrs[k] = v
		}
	}
	return s.Create(ctx, c, attrs)
}

// Reader opens the stored data of an active (or deactivated) image without
// a policy check, for trusted internal callers; the caller closes it.
func (s *Service) Reader(ctx context.Context, id string) (store.Image, io.ReadCloser, error) {
	var im store.Image
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		im, err = tx.GetImage(ctx, id)
		return err
	})
	if err != nil {
		return im, nil, notFoundOr(err, id)
	}
	if im.Status != store.ImageActive && im.Status != store.ImageDeactivated {
		return im, nil, oserr.Conflict("Image %s has no data yet: it is %s.", id, im.Status)
	}
	f, err := os.Open(s.files.Path(id))
	return im, f, err
}

// Path is where an active image's data lives on this host, for callers
// that can use a file directly (a host agent hard-linking or copying it).
// The file is replaced, never modified in place; it disappears when the
// image is deleted.
func (s *Service) Path(id string) (string, error) {
	if !ValidID(id) {
		return "", notFound(id)
	}
	return s.files.Path(id), nil
}

func notFoundOr(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	return err
}
