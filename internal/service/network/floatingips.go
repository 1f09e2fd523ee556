package network

import (
	"context"
	"net/netip"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// FloatingIPInput is a floating IP create or update.
type FloatingIPInput struct {
	ProjectID         string
	FloatingNetworkID string
	FloatingIP        string
	SubnetID          string
	Description       *string
	// PortID nil: not given; "" disassociates.
	PortID  *string
	FixedIP string
}

// CreateFloatingIP takes an address of an external network, and
// associates it with a port when one is given.
func (s *Service) CreateFloatingIP(ctx context.Context, c *auth.Credentials, in FloatingIPInput) (store.FloatingIP, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return store.FloatingIP{}, err
	}
	var out store.FloatingIP
	err = s.write(ctx, func(tx *store.Tx) error {
		n, err := tx.GetNetwork(ctx, in.FloatingNetworkID)
		if err != nil {
			return mapNotFound(err, networkNotFound(in.FloatingNetworkID))
		}
		if !canSeeNetwork(c, n) {
			return networkNotFound(in.FloatingNetworkID)
		}
		if !n.External {
			return oserr.BadRequest("Bad floatingip request: Network %s is not a valid external network.", n.ID).WithType("BadRequest")
		}
		if err := s.quota(ctx, tx, project, "floatingip", 1); err != nil {
			return err
		}
		now := s.now()
		f := store.FloatingIP{ID: uuid.NewString(), ProjectID: project, FloatingNetworkID: n.ID, Status: "DOWN",
			Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if in.Description != nil {
			f.Description = *in.Description
		}
		var reqs []FixedIPRequest
		if in.FloatingIP != "" || in.SubnetID != "" {
			if in.FloatingIP != "" && !c.IsAdmin() {
				return forbidden("create_floatingip:floating_ip_address")
			}
			reqs = []FixedIPRequest{{SubnetID: in.SubnetID, IP: in.FloatingIP}}
		}
		p, err := s.servicePort(ctx, tx, n, OwnerFloatingIP, f.ID, "", reqs)
		if err != nil {
			return err
		}
		f.FloatingPortID, f.FloatingIP = p.ID, p.FixedIPs[0].IP
		if err := tx.PutFloatingIP(ctx, &f, true); err != nil {
			return err
		}
		if in.PortID != nil && *in.PortID != "" {
			if err := s.associate(ctx, tx, c, &f, *in.PortID, in.FixedIP); err != nil {
				return err
			}
			if err := tx.PutFloatingIP(ctx, &f, false); err != nil {
				return err
			}
		}
		out = f
		return nil
	})
	return out, err
}

// associate points f at a port's fixed address, through the router that
// connects the port's subnet to f's external network.
func (s *Service) associate(ctx context.Context, tx *store.Tx, c *auth.Credentials, f *store.FloatingIP, portID, fixed string) error {
	p, err := tx.GetPort(ctx, portID)
	if err != nil {
		return mapNotFound(err, portNotFound(portID))
	}
	if !owns(c, p.ProjectID) || (p.ProjectID != f.ProjectID && !c.IsAdmin()) {
		return portNotFound(portID)
	}
	var ip *store.FixedIP
	for i, fi := range p.FixedIPs {
		a, _ := netip.ParseAddr(fi.IP)
		if fixed == "" && a.Is4() || fixed != "" && fi.IP == fixed {
			ip = &p.FixedIPs[i]
			break
		}
	}
	if ip == nil {
		if fixed != "" {
			return oserr.BadRequest("Bad floatingip request: Port %s does not have fixed ip %s.", portID, fixed).WithType("BadRequest")
		}
		return oserr.BadRequest("Bad floatingip request: Port %s does not have any IPv4 address.", portID).WithType("BadRequest")
	}
	others, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, PortIDs: []string{portID}})
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != f.ID && o.FixedIP == ip.IP {
			return oserr.Conflict("Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.", f.FloatingIP, f.ID, portID, ip.IP, o.FloatingNetworkID).WithType("FloatingIPPortAlreadyAssociated")
		}
	}
	router, err := s.routerFor(ctx, tx, ip.SubnetID, f.FloatingNetworkID)
	if err != nil {
		return err
	}
	if router == "" {
		return oserr.NotFound("External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", f.FloatingNetworkID, ip.SubnetID, portID).WithType("ExternalGatewayForFloatingIPNotFound")
	}
	f.PortID, f.FixedIP, f.RouterID, f.Status = portID, ip.IP, router, "ACTIVE"
	return nil
}

// routerFor returns the router with an interface on subnet and a gateway
// on the external network, or "".
func (s *Service) routerFor(ctx context.Context, tx *store.Tx, subnetID, extNet string) (string, error) {
	sn, err := tx.GetSubnet(ctx, subnetID)
	if err != nil {
		return "", err
	}
	ports, err := tx.ListPorts(ctx, store.Query{All: true, NetworkIDs: []string{sn.NetworkID}})
	if err != nil {
		return "", err
	}
	for _, p := range ports {
		if p.DeviceOwner != OwnerRouterInterface {
			continue
		}
		on := false
		for _, f := range p.FixedIPs {
			on = on || f.SubnetID == subnetID
		}
		if !on {
			continue
		}
		r, err := tx.GetRouter(ctx, p.DeviceID)
		if err != nil {
			continue
		}
		if r.Gateway != nil && r.Gateway.NetworkID == extNet {
			return r.ID, nil
		}
	}
	return "", nil
}

// GetFloatingIP returns a floating IP c may see.
func (s *Service) GetFloatingIP(ctx context.Context, c *auth.Credentials, id string) (store.FloatingIP, error) {
	var out store.FloatingIP
	err := s.read(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFloatingIP(ctx, id)
		if err != nil {
			return mapNotFound(err, fipNotFound(id))
		}
		if !owns(c, f.ProjectID) {
			return fipNotFound(id)
		}
		out = f
		return nil
	})
	return out, err
}

// ListFloatingIPs returns the floating IPs c may see.
func (s *Service) ListFloatingIPs(ctx context.Context, c *auth.Credentials) ([]store.FloatingIP, error) {
	var out []store.FloatingIP
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: scope(c)})
		return err
	})
	return out, err
}

// UpdateFloatingIP associates (port_id) or disassociates (port_id null).
func (s *Service) UpdateFloatingIP(ctx context.Context, c *auth.Credentials, id string, in FloatingIPInput, ifRev int64) (store.FloatingIP, error) {
	var out store.FloatingIP
	err := s.write(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFloatingIP(ctx, id)
		if err != nil {
			return mapNotFound(err, fipNotFound(id))
		}
		if !owns(c, f.ProjectID) {
			return fipNotFound(id)
		}
		if err := revisionCheck(ifRev, f.Revision); err != nil {
			return err
		}
		if in.Description != nil {
			f.Description = *in.Description
		}
		if in.PortID != nil {
			if *in.PortID == "" {
				f.PortID, f.FixedIP, f.RouterID, f.Status = "", "", "", "DOWN"
			} else if err := s.associate(ctx, tx, c, &f, *in.PortID, in.FixedIP); err != nil {
				return err
			}
		}
		f.Revision++
		f.UpdatedAt = s.now()
		out = f
		return tx.PutFloatingIP(ctx, &f, false)
	})
	return out, err
}

// DeleteFloatingIP releases a floating IP and its address.
func (s *Service) DeleteFloatingIP(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFloatingIP(ctx, id)
		if err != nil {
			return mapNotFound(err, fipNotFound(id))
		}
		if !owns(c, f.ProjectID) {
			return fipNotFound(id)
		}
		if err := revisionCheck(ifRev, f.Revision); err != nil {
			return err
		}
		if f.FloatingPortID != "" {
			if err := tx.DeletePort(ctx, f.FloatingPortID); err != nil && err != store.ErrNotFound {
				return err
			}
		}
		return tx.DeleteFloatingIP(ctx, id)
	})
}
