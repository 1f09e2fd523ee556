package cloud

import (
	"context"
	"fmt"

	"github.com/onestack/onestack/internal/api/placement"
	placementsvc "github.com/onestack/onestack/internal/service/placement"
)

// wirePlacement builds the placement service, mounts its API and lists it in the catalog.
func (c *Cloud) wirePlacement(ctx context.Context) error {
	c.Placement = placementsvc.New(c.DB, c.cfg.Log)
	if err := c.Placement.Init(ctx); err != nil {
		return fmt.Errorf("placement: %w", err)
	}
	c.mount(placement.New(c.Placement, c.env()).Service())
	return nil
}
