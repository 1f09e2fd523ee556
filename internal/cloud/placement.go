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
	placement.New(c.Placement, c.Identity, c.cfg.PublicURL, c.cfg.Log).Service().Mount(c.mux)
	c.serve("placement", "placement", placement.Prefix, "")
	return nil
}
