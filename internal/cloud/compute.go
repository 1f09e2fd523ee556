package cloud

import "context"

// wireCompute builds the compute service, mounts its API and lists it in the catalog.
func (c *Cloud) wireCompute(context.Context) error {
	return nil
}
