package cloud

import (
	"context"
	"fmt"

	"github.com/onestack/onestack/internal/api/network"
	netsvc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

// wireNetwork builds Neutron: the networking service, its API under
// /network (clients append /v2.0, as with Neutron's own unversioned
// endpoint) and its catalog entry; and connects it to compute and the
// agents.
func (c *Cloud) wireNetwork(context.Context) error {
	if c.Compute == nil {
		return fmt.Errorf("networking needs the compute service wired first")
	}
	cidr := c.cfg.ExternalCIDR
	if cidr == "" {
		cidr = DefaultExternalCIDR
	}
	n := netsvc.New(c.DB, c.cfg.Log.With("service", "network"), netsvc.Config{PublicCIDR: cidr})
	c.mount(network.New(n, c.env()).Service())
	c.connectNetworking(n)
	return nil
}

// bootstrapNetwork makes the external network "public" and its subnet,
// owned by the admin project, unless they exist (every start).
func (c *Cloud) bootstrapNetwork(ctx context.Context) error {
	if c.network == nil {
		return nil
	}
	var admin string
	err := c.DB.Read(ctx, func(tx *store.Tx) error {
		ps, err := tx.ListProjects(ctx, store.ProjectFilter{Name: "admin", DomainID: "default"})
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return fmt.Errorf("no admin project")
		}
		admin = ps[0].ID
		return nil
	})
	if err != nil {
		return err
	}
	return c.network.Bootstrap(ctx, admin)
}
