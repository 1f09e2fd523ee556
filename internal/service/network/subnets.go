package network

import (
	"context"
	"net/netip"
	"slices"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// SubnetInput is a subnet create or update; nil fields are not given.
type SubnetInput struct {
	ProjectID                   string
	NetworkID                   string
	Name, Description           *string
	CIDR                        *string
	IPVersion                   *int
	GatewayIP                   *string // "" (JSON null) for no gateway
	NoGatewayGiven              bool    // gateway_ip absent: take the first address
	AllocationPools             *[]store.IPRange
	DNS                         *[]string
	HostRoutes                  *[]store.HostRoute
	EnableDHCP                  *bool
	IPv6RAMode, IPv6AddressMode *string
	// SubnetPoolID allocates the cidr from a subnet pool (create only):
	// CIDR when given and free in the pool, else a free prefix of
	// PrefixLen (the pool's default_prefixlen when nil).
	SubnetPoolID string
	PrefixLen    *int
	// UseDefaultSubnetPool allocates from the default pool of IPVersion.
	UseDefaultSubnetPool bool
}

// canSeeSubnet: the owner's, and those of shared networks; an external
// network's subnets stay hidden from other projects (as in Neutron).
func canSeeSubnet(c *auth.Credentials, sn store.Subnet, n store.Network) bool {
	return owns(c, sn.ProjectID) || n.Shared
}

// CreateSubnet creates a subnet on a network c owns (or admins any).
func (s *Service) CreateSubnet(ctx context.Context, c *auth.Credentials, in SubnetInput) (store.Subnet, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return store.Subnet{}, err
	}
	now := s.now()
	sn := store.Subnet{ID: uuid.NewString(), NetworkID: in.NetworkID, ProjectID: project, EnableDHCP: true,
		DNS: []string{}, HostRoutes: []store.HostRoute{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	err = s.write(ctx, func(tx *store.Tx) error {
		in := in // a retried transaction starts from the request again
		n, err := tx.GetNetwork(ctx, in.NetworkID)
		if err != nil {
			return mapNotFound(err, networkNotFound(in.NetworkID))
		}
		if !owns(c, n.ProjectID) {
			if canSeeNetwork(c, n) {
				return forbidden("create_subnet:network")
			}
			return networkNotFound(in.NetworkID)
		}
		if err := s.quota(ctx, tx, project, "subnet", 1); err != nil {
			return err
		}
		switch {
		case in.SubnetPoolID != "" && in.UseDefaultSubnetPool:
			return badRequest("Bad subnets request: give subnetpool_id or use_default_subnetpool, not both.")
		case in.SubnetPoolID != "" || in.UseDefaultSubnetPool:
			pool, p, err := s.allocateFromPool(ctx, tx, c, in)
			if err != nil {
				return err
			}
			in.CIDR, in.IPVersion = ptr(p.String()), ptr(pool.IPVersion)
			sn.SubnetPoolID = pool.ID
		case in.PrefixLen != nil:
			return badRequest("Bad subnets request: prefixlen needs a subnetpool_id (or use_default_subnetpool); without a pool give a cidr.")
		}
		if err := s.createSubnetTx(ctx, tx, n, &sn, in); err != nil {
			return err
		}
		return nil
	})
	return sn, err
}

func (s *Service) createSubnetTx(ctx context.Context, tx *store.Tx, n store.Network, sn *store.Subnet, in SubnetInput) error {
	if in.CIDR == nil {
		return badRequest("Bad subnets request: a cidr must be specified in the absence of a subnet pool.")
	}
	p, err := parseSubnetCIDR(*in.CIDR)
	if err != nil {
		return err
	}
	version := 4
	if p.Addr().Is6() {
		version = 6
	}
	if in.IPVersion != nil && *in.IPVersion != version {
		return invalid("Cidr %s does not match ip_version %d", *in.CIDR, *in.IPVersion)
	}
	if (version == 4 && p.Bits() > 30) || (version == 6 && p.Bits() > 126) {
		return invalid("The CIDR %s is too small: it leaves no address for ports", *in.CIDR)
	}
	sn.CIDR, sn.IPVersion = p.String(), version
	// No overlap with the network's other subnets.
	others, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
	if err != nil {
		return err
	}
	for _, o := range others {
		op, err := netip.ParsePrefix(o.CIDR)
		if err == nil && op.Overlaps(p) {
			return invalid("Requested subnet with cidr: %s for network: %s overlaps with another subnet", sn.CIDR, n.ID)
		}
		// As Neutron: a network's subnets of one IP version come from one
		// pool (or none), so they share its address space.
		if o.IPVersion == version && o.SubnetPoolID != sn.SubnetPoolID {
			pool := func(id string) string {
				if id == "" {
					return "no subnet pool"
				}
				return "subnet pool " + id
			}
			return oserr.BadRequest("Subnets hosted on the same network must be allocated from the same subnet pool: subnet %s of network %s is from %s, this one from %s.",
				o.ID, n.ID, pool(o.SubnetPoolID), pool(sn.SubnetPoolID)).WithType("NetworkSubnetPoolAffinityError")
		}
	}
	first := firstHost(p)
	if in.NoGatewayGiven {
		sn.GatewayIP = first.String()
	}
	if err := s.applySubnet(sn, p, in, true); err != nil {
		return err
	}
	if err := tx.PutSubnet(ctx, sn, true); err != nil {
		return err
	}
	if sn.EnableDHCP {
		return s.ensureDHCP(ctx, tx, n, sn)
	}
	return nil
}

// parseSubnetCIDR parses a subnet's cidr, which must be a network
// address.
func parseSubnetCIDR(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return p, invalid("'%s' is not a valid IP subnet", cidr)
	}
	if p.Masked() != p {
		return p, invalid("'%s' isn't a recommended CIDR, '%s' is recommended", cidr, p.Masked())
	}
	return p, nil
}

// applySubnet applies in's fields and checks pools, gateway and routes.
func (s *Service) applySubnet(sn *store.Subnet, p netip.Prefix, in SubnetInput, create bool) error {
	if in.Name != nil {
		sn.Name = *in.Name
	}
	if in.Description != nil {
		sn.Description = *in.Description
	}
	if in.EnableDHCP != nil {
		sn.EnableDHCP = *in.EnableDHCP
	}
	if in.GatewayIP != nil {
		if *in.GatewayIP != "" {
			g, err := netip.ParseAddr(*in.GatewayIP)
			if err != nil {
				return invalid("'%s' is not a valid IP address", *in.GatewayIP)
			}
			if !p.Contains(g) {
				return invalid("Gateway IP %s is not in subnet %s", g, p)
			}
			sn.GatewayIP = g.String()
		} else {
			sn.GatewayIP = ""
		}
	}
	if in.DNS != nil {
		for _, d := range *in.DNS {
			if _, err := netip.ParseAddr(d); err != nil {
				return invalid("'%s' is not a valid nameserver. '%s' is not a valid IP address", d, d)
			}
		}
		if len(*in.DNS) > 5 {
			return overQuota("dns_nameservers")
		}
		sn.DNS = slices.Clone(*in.DNS)
	}
	if in.HostRoutes != nil {
		for _, r := range *in.HostRoutes {
			if _, err := netip.ParsePrefix(r.Destination); err != nil {
				return invalid("'%s' is not a valid IP subnet", r.Destination)
			}
			if _, err := netip.ParseAddr(r.NextHop); err != nil {
				return invalid("'%s' is not a valid IP address", r.NextHop)
			}
		}
		sn.HostRoutes = slices.Clone(*in.HostRoutes)
	}
	if in.IPv6RAMode != nil {
		sn.IPv6RAMode = *in.IPv6RAMode
	}
	if in.IPv6AddressMode != nil {
		sn.IPv6AddressMode = *in.IPv6AddressMode
	}
	for _, m := range []string{sn.IPv6RAMode, sn.IPv6AddressMode} {
		if m != "" && (sn.IPVersion != 6 || !slices.Contains([]string{"slaac", "dhcpv6-stateful", "dhcpv6-stateless"}, m)) {
			return invalid("IPv6 mode '%s' is not valid for this subnet", m)
		}
	}
	if in.AllocationPools != nil {
		if !create {
			// Neutron allows it; keep it simple but correct: pools may change.
		}
		pools := *in.AllocationPools
		for i, r := range pools {
			a, err1 := netip.ParseAddr(r.Start)
			b, err2 := netip.ParseAddr(r.End)
			if err1 != nil || err2 != nil || !p.Contains(a) || !p.Contains(b) || b.Less(a) {
				return oserr.BadRequest("The allocation pool %s-%s spans beyond the subnet cidr %s.", r.Start, r.End, p).WithType("OutOfBoundsAllocationPool")
			}
			for _, o := range pools[:i] {
				oa, _ := netip.ParseAddr(o.Start)
				ob, _ := netip.ParseAddr(o.End)
				if !(b.Less(oa) || ob.Less(a)) {
					return oserr.BadRequest("Found overlapping allocation pools: %s-%s and %s-%s.", o.Start, o.End, r.Start, r.End).WithType("OverlappingAllocationPools")
				}
			}
		}
		sn.AllocationPools = slices.Clone(pools)
	} else if create {
		sn.AllocationPools = defaultPools(p, sn.GatewayIP)
	}
	if sn.GatewayIP != "" {
		g, _ := netip.ParseAddr(sn.GatewayIP)
		for _, r := range sn.AllocationPools {
			if inRange(g, r) {
				return oserr.Conflict("Gateway ip %s conflicts with allocation pool %s-%s.", g, r.Start, r.End).WithType("GatewayConflictWithAllocationPools")
			}
		}
	}
	if len(sn.Name) > 255 || len(sn.Description) > 255 {
		return badRequest("Invalid input for name or description: at most 255 characters.")
	}
	return nil
}

func firstHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// lastHost is the last usable address: before the broadcast for IPv4.
func lastHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	hostBits := b
	bits := p.Bits()
	for i := range hostBits {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 1 << (7 - j)
			}
		}
	}
	last, _ := netip.AddrFromSlice(b)
	if a.Is4() {
		return last.Prev()
	}
	return last
}

// defaultPools is the subnet's usable range without the gateway.
func defaultPools(p netip.Prefix, gateway string) []store.IPRange {
	first, last := firstHost(p), lastHost(p)
	g, err := netip.ParseAddr(gateway)
	if err != nil || !p.Contains(g) {
		return []store.IPRange{{Start: first.String(), End: last.String()}}
	}
	var out []store.IPRange
	if first.Less(g) {
		out = append(out, store.IPRange{Start: first.String(), End: g.Prev().String()})
	}
	if g.Less(last) {
		out = append(out, store.IPRange{Start: g.Next().String(), End: last.String()})
	}
	return out
}

func inRange(a netip.Addr, r store.IPRange) bool {
	s, err1 := netip.ParseAddr(r.Start)
	e, err2 := netip.ParseAddr(r.End)
	return err1 == nil && err2 == nil && !a.Less(s) && !e.Less(a)
}

// GetSubnet returns a subnet c may see.
func (s *Service) GetSubnet(ctx context.Context, c *auth.Credentials, id string) (store.Subnet, error) {
	var out store.Subnet
	err := s.read(ctx, func(tx *store.Tx) error {
		sn, err := tx.GetSubnet(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetNotFound(id))
		}
		n, err := tx.GetNetwork(ctx, sn.NetworkID)
		if err != nil {
			return err
		}
		if !canSeeSubnet(c, sn, n) {
			return subnetNotFound(id)
		}
		out = sn
		return nil
	})
	return out, err
}

// ListSubnets returns the subnets c may see: its own and those of shared
// and external networks.
func (s *Service) ListSubnets(ctx context.Context, c *auth.Credentials) ([]store.Subnet, error) {
	var out []store.Subnet
	err := s.read(ctx, func(tx *store.Tx) error {
		if c.IsAdmin() {
			var err error
			out, err = tx.ListSubnets(ctx, store.Query{All: true})
			return err
		}
		nets, err := tx.ListNetworks(ctx, store.Query{Projects: []string{c.ProjectID()}, OrShared: true})
		if err != nil {
			return err
		}
		var public []string
		for _, n := range nets {
			if n.ProjectID != c.ProjectID() && n.Shared {
				public = append(public, n.ID)
			}
		}
		own, err := tx.ListSubnets(ctx, store.Query{Projects: []string{c.ProjectID()}})
		if err != nil {
			return err
		}
		out = own
		if len(public) > 0 {
			more, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: public})
			if err != nil {
				return err
			}
			for _, m := range more {
				if m.ProjectID != c.ProjectID() {
					out = append(out, m)
				}
			}
		}
		return nil
	})
	return out, err
}

// UpdateSubnet changes a subnet c owns.
func (s *Service) UpdateSubnet(ctx context.Context, c *auth.Credentials, id string, in SubnetInput, ifRev int64) (store.Subnet, error) {
	var out store.Subnet
	err := s.write(ctx, func(tx *store.Tx) error {
		sn, err := tx.GetSubnet(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetNotFound(id))
		}
		n, err := tx.GetNetwork(ctx, sn.NetworkID)
		if err != nil {
			return err
		}
		if !owns(c, sn.ProjectID) {
			if canSeeSubnet(c, sn, n) {
				return forbidden("update_subnet")
			}
			return subnetNotFound(id)
		}
		if err := revisionCheck(ifRev, sn.Revision); err != nil {
			return err
		}
		if in.CIDR != nil || in.IPVersion != nil {
			return badRequest("Cannot update read-only attribute cidr or ip_version.")
		}
		p, _ := netip.ParsePrefix(sn.CIDR)
		hadDHCP := sn.EnableDHCP
		if err := s.applySubnet(&sn, p, in, false); err != nil {
			return err
		}
		sn.Revision++
		sn.UpdatedAt = s.now()
		if err := tx.PutSubnet(ctx, &sn, false); err != nil {
			return err
		}
		if sn.EnableDHCP && !hadDHCP {
			if err := s.ensureDHCP(ctx, tx, n, &sn); err != nil {
				return err
			}
		}
		out = sn
		return nil
	})
	return out, err
}

// DeleteSubnet deletes a subnet no port but the DHCP port uses.
func (s *Service) DeleteSubnet(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		sn, err := tx.GetSubnet(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetNotFound(id))
		}
		n, err := tx.GetNetwork(ctx, sn.NetworkID)
		if err != nil {
			return err
		}
		if !owns(c, sn.ProjectID) {
			if canSeeSubnet(c, sn, n) {
				return forbidden("delete_subnet")
			}
			return subnetNotFound(id)
		}
		if err := revisionCheck(ifRev, sn.Revision); err != nil {
			return err
		}
		used, err := tx.CountPortsOnSubnet(ctx, id, OwnerDHCP)
		if err != nil {
			return err
		}
		if used > 0 {
			return oserr.Conflict("Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", id).WithType("SubnetInUse")
		}
		// The DHCP port gives up its address on this subnet.
		ports, err := tx.ListPorts(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
		if err != nil {
			return err
		}
		for _, p := range ports {
			if p.DeviceOwner != OwnerDHCP {
				continue
			}
			kept := p.FixedIPs[:0]
			for _, f := range p.FixedIPs {
				if f.SubnetID != id {
					kept = append(kept, f)
				}
			}
			p.FixedIPs = kept
			if err := tx.ReleasePortIPs(ctx, p.ID); err != nil {
				return err
			}
			for _, f := range p.FixedIPs {
				if err := tx.AllocateIP(ctx, f.SubnetID, n.ID, f.IP, p.ID); err != nil {
					return err
				}
			}
			p.Revision++
			if len(p.FixedIPs) == 0 {
				if err := tx.DeletePort(ctx, p.ID); err != nil {
					return err
				}
			} else if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
		}
		return tx.DeleteSubnet(ctx, id)
	})
}
