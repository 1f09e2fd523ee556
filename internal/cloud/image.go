package cloud

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/onestack/onestack/internal/api/image"
	imagesvc "github.com/onestack/onestack/internal/service/image"
)

// imageService names the image service's type in cloud.go, which keeps
// its imports to the services it wires itself.
type imageService = imagesvc.Service

// wireImage builds the image service with its data under DataDir/images,
// mounts Glance's API under /image and lists it in the catalog.
func (c *Cloud) wireImage(ctx context.Context) error {
	files, err := imagesvc.NewFileStore(filepath.Join(c.cfg.DataDir, "images"))
	if err != nil {
		return err
	}
	c.Image, err = imagesvc.New(ctx, c.DB, files, c.cfg.Log.With("service", "image"), imagesvc.Config{})
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	c.closers = append(c.closers, c.Image.Close)
	c.mount(image.New(c.Image, c.env()).Service())
	return nil
}
