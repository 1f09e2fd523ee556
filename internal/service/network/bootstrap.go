package network

// Bootstrap: the external network every cloud starts with.

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/onestack/onestack/internal/store"
)

// PublicNetwork is the name of the external network Bootstrap makes.
const PublicNetwork = "public"

// Bootstrap makes the external network "public" (flat on physical network
// "public", router:external, owned by adminProject) and its subnet
// "public-subnet" (PublicCIDR, gateway .1, no DHCP) unless they exist.
// It is idempotent: every start runs it.
func (s *Service) Bootstrap(ctx context.Context, adminProject string) error {
	p, err := netip.ParsePrefix(s.cfg.PublicCIDR)
	if err != nil || !p.Addr().Is4() || p.Bits() > 29 {
		return fmt.Errorf("public network CIDR %q: give an IPv4 network of at least 8 addresses, e.g. 172.24.4.0/24", s.cfg.PublicCIDR)
	}
	p = p.Masked()
	return s.write(ctx, func(tx *store.Tx) error {
		nets, err := tx.ListNetworks(ctx, store.Query{Projects: []string{adminProject}})
		if err != nil {
			return err
		}
		var n *store.Network
		for i := range nets {
			if nets[i].Name == PublicNetwork && nets[i].External {
				n = &nets[i]
			}
		}
		if n == nil {
			now := s.now()
			v := store.Network{ID: newID(), ProjectID: adminProject, Name: PublicNetwork, AdminStateUp: true, External: true,
				PortSecurity: true, AZHints: []string{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
			if err := s.applyNetwork(ctx, tx, &v, NetworkInput{NetworkType: ptr("flat"), PhysicalNetwork: ptr(PublicNetwork)}, true); err != nil {
				return err
			}
			if err := tx.PutNetwork(ctx, &v, true); err != nil {
				return err
			}
			n = &v
		}
		subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
		if err != nil || len(subs) > 0 {
			return err
		}
		now := s.now()
		gw := p.Addr().Next()
		sn := store.Subnet{ID: newID(), NetworkID: n.ID, ProjectID: adminProject, Name: "public-subnet", DNS: []string{},
			HostRoutes: []store.HostRoute{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
		return s.createSubnetTx(ctx, tx, *n, &sn, SubnetInput{CIDR: ptr(p.String()), GatewayIP: ptr(gw.String()), EnableDHCP: ptr(false),
			AllocationPools: &[]store.IPRange{{Start: gw.Next().String(), End: lastHost(p).String()}}})
	})
}
