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

// GatewayInput is a router's external_gateway_info; an empty NetworkID
// clears the gateway.
type GatewayInput struct {
	NetworkID  string
	EnableSNAT *bool
	FixedIPs   []FixedIPRequest
}

// RouterInput is a router create or update; nil fields are not given.
type RouterInput struct {
	ProjectID         string
	Name, Description *string
	AdminStateUp      *bool
	Gateway           *GatewayInput
	Routes            *[]store.HostRoute
}

// RouterView is a router with its gateway's addresses.
type RouterView struct {
	store.Router
	GatewayIPs []store.FixedIP
}

// InterfaceInfo is Neutron's answer to add/remove_router_interface.
type InterfaceInfo struct {
	ID, ProjectID, PortID, SubnetID, NetworkID string
	SubnetIDs                                  []string
}

func (s *Service) routerView(ctx context.Context, tx *store.Tx, r store.Router) (RouterView, error) {
	v := RouterView{Router: r}
	if r.Gateway != nil && r.Gateway.PortID != "" {
		p, err := tx.GetPort(ctx, r.Gateway.PortID)
		if err == nil {
			v.GatewayIPs = p.FixedIPs
		}
	}
	return v, nil
}

// placeRouter picks the registered compute host running the fewest
// routers, or "" when none is registered yet.
func placeRouter(ctx context.Context, tx *store.Tx) (string, error) {
	hosts, err := tx.HostTunnelIPs(ctx)
	if err != nil || len(hosts) == 0 {
		return "", err
	}
	counts, err := tx.RouterCounts(ctx)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	slices.Sort(names)
	best := names[0]
	for _, h := range names[1:] {
		if counts[h] < counts[best] {
			best = h
		}
	}
	return best, nil
}

// CreateRouter creates a router, placed on a host, with its gateway.
func (s *Service) CreateRouter(ctx context.Context, c *auth.Credentials, in RouterInput) (RouterView, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return RouterView{}, err
	}
	var out RouterView
	err = s.write(ctx, func(tx *store.Tx) error {
		r, err := s.createRouterTx(ctx, tx, c, project, in)
		if err != nil {
			return err
		}
		out, err = s.routerView(ctx, tx, r)
		return err
	})
	return out, err
}

func (s *Service) createRouterTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, project string, in RouterInput) (store.Router, error) {
	if err := s.quota(ctx, tx, project, "router", 1); err != nil {
		return store.Router{}, err
	}
	now := s.now()
	r := store.Router{ID: uuid.NewString(), ProjectID: project, AdminStateUp: true, Status: "ACTIVE", Routes: []store.HostRoute{},
		Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	host, err := placeRouter(ctx, tx)
	if err != nil {
		return r, err
	}
	r.Host = host
	if err := s.applyRouter(ctx, tx, c, &r, in); err != nil {
		return r, err
	}
	if err := tx.PutRouter(ctx, &r, true); err != nil {
		return r, err
	}
	if in.Gateway != nil {
		if err := s.setGateway(ctx, tx, c, &r, *in.Gateway); err != nil {
			return r, err
		}
		if err := tx.PutRouter(ctx, &r, false); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (s *Service) applyRouter(ctx context.Context, tx *store.Tx, c *auth.Credentials, r *store.Router, in RouterInput) error {
	if in.Name != nil {
		r.Name = *in.Name
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if in.AdminStateUp != nil {
		r.AdminStateUp = *in.AdminStateUp
	}
	if in.Routes != nil {
		var cidrs []netip.Prefix
		ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{r.ID}})
		if err != nil {
			return err
		}
		subs := map[string]bool{}
		for _, p := range ports {
			for _, f := range p.FixedIPs {
				subs[f.SubnetID] = true
			}
		}
		for id := range subs {
			if sn, err := tx.GetSubnet(ctx, id); err == nil {
				if p, err := netip.ParsePrefix(sn.CIDR); err == nil {
					cidrs = append(cidrs, p)
				}
			}
		}
		for _, rt := range *in.Routes {
			if _, err := netip.ParsePrefix(rt.Destination); err != nil {
				return invalid("'%s' is not a valid IP subnet", rt.Destination)
			}
			nh, err := netip.ParseAddr(rt.NextHop)
			if err != nil {
				return invalid("'%s' is not a valid IP address", rt.NextHop)
			}
			ok := false
			for _, p := range cidrs {
				ok = ok || p.Contains(nh)
			}
			if !ok {
				return oserr.BadRequest("Invalid format for routes: %s/%s, the nexthop is not connected with router", rt.Destination, rt.NextHop).WithType("InvalidRoutes")
			}
		}
		r.Routes = slices.Clone(*in.Routes)
	}
	return nil
}

// setGateway sets, changes or clears the router's external gateway port.
func (s *Service) setGateway(ctx context.Context, tx *store.Tx, c *auth.Credentials, r *store.Router, g GatewayInput) error {
	if r.Gateway != nil && (g.NetworkID == "" || g.NetworkID != r.Gateway.NetworkID || g.FixedIPs != nil) {
		if r.Gateway.PortID != "" {
			if err := tx.DeletePort(ctx, r.Gateway.PortID); err != nil && err != store.ErrNotFound {
				return err
			}
		}
		r.Gateway = nil
	}
	if g.NetworkID == "" {
		return nil
	}
	if r.Gateway != nil {
		if g.EnableSNAT != nil {
			if !c.IsAdmin() {
				return forbidden("update_router:external_gateway_info:enable_snat")
			}
			r.Gateway.EnableSNAT = *g.EnableSNAT
		}
		return nil
	}
	n, err := tx.GetNetwork(ctx, g.NetworkID)
	if err != nil {
		return mapNotFound(err, networkNotFound(g.NetworkID))
	}
	if !n.External {
		return oserr.BadRequest("Bad router request: Network %s is not an external network.", n.ID).WithType("BadRequest")
	}
	gw := &store.RouterGateway{NetworkID: n.ID, EnableSNAT: true}
	if g.EnableSNAT != nil {
		if !c.IsAdmin() && !*g.EnableSNAT {
			return forbidden("create_router:external_gateway_info:enable_snat")
		}
		gw.EnableSNAT = *g.EnableSNAT
	}
	if g.FixedIPs != nil && !c.IsAdmin() {
		return forbidden("create_router:external_gateway_info:external_fixed_ips")
	}
	p, err := s.servicePort(ctx, tx, n, OwnerRouterGateway, r.ID, r.Host, g.FixedIPs)
	if err != nil {
		return err
	}
	gw.PortID = p.ID
	r.Gateway = gw
	return nil
}

// servicePort creates a port Neutron owns (router gateway or interface,
// floating IP) without a project, so it counts against no quota.
func (s *Service) servicePort(ctx context.Context, tx *store.Tx, n store.Network, owner, device, host string, ips []FixedIPRequest) (store.Port, error) {
	now := s.now()
	rev, err := tx.NetworkRevision(ctx)
	if err != nil {
		return store.Port{}, err
	}
	mac, err := newMAC(ctx, tx, n.ID)
	if err != nil {
		return store.Port{}, err
	}
	p := store.Port{ID: uuid.NewString(), NetworkID: n.ID, AdminStateUp: true, Status: "DOWN", MAC: mac,
		DeviceOwner: owner, DeviceID: device, VIFType: VIFUnbound, VNICType: "normal", Profile: map[string]any{}, VIFDetails: map[string]any{},
		AddressPairs: []store.AddressPair{}, SecurityGroups: []string{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now, Seq: rev << 16}
	if owner != OwnerFloatingIP {
		bind(&p, host)
		if host != "" {
			p.Status = "ACTIVE"
		}
	} else {
		p.Status = "N/A"
	}
	if err := tx.PutPort(ctx, &p, true); err != nil {
		return p, err
	}
	if p.FixedIPs, err = s.allocate(ctx, tx, n, p.ID, ips, ips == nil); err != nil {
		return p, err
	}
	if len(p.FixedIPs) == 0 {
		return p, oserr.Conflict("No more IP addresses available on network %s.", n.ID).WithType("IpAddressGenerationFailure")
	}
	return p, tx.PutPort(ctx, &p, false)
}

// GetRouter returns a router c may see.
func (s *Service) GetRouter(ctx context.Context, c *auth.Credentials, id string) (RouterView, error) {
	var out RouterView
	err := s.read(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRouter(ctx, id)
		if err != nil {
			return mapNotFound(err, routerNotFound(id))
		}
		if !owns(c, r.ProjectID) {
			return routerNotFound(id)
		}
		out, err = s.routerView(ctx, tx, r)
		return err
	})
	return out, err
}

// ListRouters returns the routers c may see.
func (s *Service) ListRouters(ctx context.Context, c *auth.Credentials) ([]RouterView, error) {
	var out []RouterView
	err := s.read(ctx, func(tx *store.Tx) error {
		rs, err := tx.ListRouters(ctx, scope(c))
		if err != nil {
			return err
		}
		for _, r := range rs {
			v, err := s.routerView(ctx, tx, r)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// UpdateRouter changes a router c owns.
func (s *Service) UpdateRouter(ctx context.Context, c *auth.Credentials, id string, in RouterInput, ifRev int64) (RouterView, error) {
	var out RouterView
	err := s.write(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRouter(ctx, id)
		if err != nil {
			return mapNotFound(err, routerNotFound(id))
		}
		if !owns(c, r.ProjectID) {
			return routerNotFound(id)
		}
		if err := revisionCheck(ifRev, r.Revision); err != nil {
			return err
		}
		if err := s.applyRouter(ctx, tx, c, &r, in); err != nil {
			return err
		}
		if in.Gateway != nil {
			if in.Gateway.NetworkID == "" {
				if err := s.gatewayInUse(ctx, tx, r); err != nil {
					return err
				}
			}
			if err := s.setGateway(ctx, tx, c, &r, *in.Gateway); err != nil {
				return err
			}
		}
		r.Revision++
		r.UpdatedAt = s.now()
		if err := tx.PutRouter(ctx, &r, false); err != nil {
			return err
		}
		out, err = s.routerView(ctx, tx, r)
		return err
	})
	return out, err
}

func (s *Service) gatewayInUse(ctx context.Context, tx *store.Tx, r store.Router) error {
	fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, RouterIDs: []string{r.ID}})
	if err != nil {
		return err
	}
	if len(fips) > 0 && r.Gateway != nil {
		return oserr.Conflict("Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r.ID, r.Gateway.NetworkID).WithType("RouterExternalGatewayInUseByFloatingIp")
	}
	return nil
}

// DeleteRouter deletes a router without interfaces, and its gateway port.
func (s *Service) DeleteRouter(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRouter(ctx, id)
		if err != nil {
			return mapNotFound(err, routerNotFound(id))
		}
		if !owns(c, r.ProjectID) {
			return routerNotFound(id)
		}
		if err := revisionCheck(ifRev, r.Revision); err != nil {
			return err
		}
		ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{id}})
		if err != nil {
			return err
		}
		for _, p := range ports {
			if p.DeviceOwner == OwnerRouterInterface {
				return oserr.Conflict("Router %s still has ports", id).WithType("RouterInUse")
			}
		}
		if err := s.gatewayInUse(ctx, tx, r); err != nil {
			return err
		}
		for _, p := range ports {
			if err := tx.DeletePort(ctx, p.ID); err != nil {
				return err
			}
		}
		return tx.DeleteRouter(ctx, id)
	})
}

// AddRouterInterface connects a subnet (by a new port on its gateway
// address) or an existing port to the router.
func (s *Service) AddRouterInterface(ctx context.Context, c *auth.Credentials, routerID, subnetID, portID string) (InterfaceInfo, error) {
	if (subnetID == "") == (portID == "") {
		return InterfaceInfo{}, oserr.BadRequest("Bad router request: Either subnet_id or port_id must be specified.").WithType("BadRequest")
	}
	var out InterfaceInfo
	err := s.write(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRouter(ctx, routerID)
		if err != nil {
			return mapNotFound(err, routerNotFound(routerID))
		}
		if !owns(c, r.ProjectID) {
			return routerNotFound(routerID)
		}
		existing, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{routerID}})
		if err != nil {
			return err
		}
		onSubnet := func(sid string) bool {
			for _, p := range existing {
				for _, f := range p.FixedIPs {
					if p.DeviceOwner == OwnerRouterInterface && f.SubnetID == sid {
						return true
					}
				}
			}
			return false
		}
		var p store.Port
		if subnetID != "" {
			sn, err := tx.GetSubnet(ctx, subnetID)
			if err != nil {
				return mapNotFound(err, subnetNotFound(subnetID))
			}
			n, err := tx.GetNetwork(ctx, sn.NetworkID)
			if err != nil {
				return err
			}
			if !canSeeSubnet(c, sn, n) {
				return subnetNotFound(subnetID)
			}
			if sn.GatewayIP == "" {
				return oserr.BadRequest("Bad router request: Subnet for router interface must have a gateway IP.").WithType("BadRequest")
			}
			if onSubnet(subnetID) {
				return oserr.BadRequest("Bad router request: Router already has a port on subnet %s.", subnetID).WithType("BadRequest")
			}
			if err := overlapsInterfaces(ctx, tx, existing, sn); err != nil {
				return err
			}
			if n.External {
				return oserr.BadRequest("Bad router request: Router interface can not be added to external subnet %s.", subnetID).WithType("BadRequest")
			}
			p, err = s.servicePort(ctx, tx, n, OwnerRouterInterface, routerID, r.Host, []FixedIPRequest{{SubnetID: subnetID, IP: sn.GatewayIP}})
			if err != nil {
				return err
			}
			p.ProjectID = r.ProjectID
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
		} else {
			p, err = tx.GetPort(ctx, portID)
			if err != nil {
				return mapNotFound(err, portNotFound(portID))
			}
			if !owns(c, p.ProjectID) {
				return portNotFound(portID)
			}
			if p.DeviceID != "" || p.DeviceOwner != "" {
				return oserr.Conflict("Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID).WithType("PortInUse")
			}
			if len(p.FixedIPs) == 0 {
				return oserr.BadRequest("Bad router request: Router port must have at least one fixed IP.").WithType("BadRequest")
			}
			for _, f := range p.FixedIPs {
				if onSubnet(f.SubnetID) {
					return oserr.BadRequest("Bad router request: Router already has a port on subnet %s.", f.SubnetID).WithType("BadRequest")
				}
				if sn, err := tx.GetSubnet(ctx, f.SubnetID); err == nil {
					if err := overlapsInterfaces(ctx, tx, existing, sn); err != nil {
						return err
					}
				}
			}
			p.DeviceID, p.DeviceOwner = routerID, OwnerRouterInterface
			p.SecurityGroups, p.PortSecurity = []string{}, false
			bind(&p, r.Host)
			if r.Host != "" {
				p.Status = "ACTIVE"
			}
			p.Revision++
			p.UpdatedAt = s.now()
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
			if err := tx.SetPortGroups(ctx, p.ID, nil); err != nil {
				return err
			}
		}
		r.Revision++
		r.UpdatedAt = s.now()
		if err := tx.PutRouter(ctx, &r, false); err != nil {
			return err
		}
		out = interfaceInfo(r, p)
		return nil
	})
	return out, err
}

func interfaceInfo(r store.Router, p store.Port) InterfaceInfo {
	info := InterfaceInfo{ID: r.ID, ProjectID: r.ProjectID, PortID: p.ID, NetworkID: p.NetworkID, SubnetIDs: []string{}}
	for _, f := range p.FixedIPs {
		info.SubnetIDs = append(info.SubnetIDs, f.SubnetID)
	}
	if len(info.SubnetIDs) > 0 {
		info.SubnetID = info.SubnetIDs[0]
	}
	return info
}

// RemoveRouterInterface disconnects a subnet or port from the router.
func (s *Service) RemoveRouterInterface(ctx context.Context, c *auth.Credentials, routerID, subnetID, portID string) (InterfaceInfo, error) {
	if subnetID == "" && portID == "" {
		return InterfaceInfo{}, oserr.BadRequest("Bad router request: Either subnet_id or port_id must be specified.").WithType("BadRequest")
	}
	var out InterfaceInfo
	err := s.write(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRouter(ctx, routerID)
		if err != nil {
			return mapNotFound(err, routerNotFound(routerID))
		}
		if !owns(c, r.ProjectID) {
			return routerNotFound(routerID)
		}
		ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{routerID}})
		if err != nil {
			return err
		}
		var found *store.Port
		for i, p := range ports {
			if p.DeviceOwner != OwnerRouterInterface {
				continue
			}
			if portID != "" && p.ID == portID {
				found = &ports[i]
			}
			if portID == "" {
				for _, f := range p.FixedIPs {
					if f.SubnetID == subnetID {
						found = &ports[i]
					}
				}
			}
		}
		if found == nil {
			if portID != "" {
				return oserr.NotFound("Router %s does not have an interface with id %s", routerID, portID).WithType("RouterInterfaceNotFound")
			}
			return oserr.NotFound("Router %s has no interface on subnet %s", routerID, subnetID).WithType("RouterInterfaceNotFoundForSubnet")
		}
		if portID != "" && subnetID != "" {
			ok := false
			for _, f := range found.FixedIPs {
				ok = ok || f.SubnetID == subnetID
			}
			if !ok {
				return oserr.Conflict("Subnet %s is not associated with port %s", subnetID, portID).WithType("SubnetMismatchForPort")
			}
		}
		// Floating IPs reaching the external network through this
		// interface need it.
		fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, RouterIDs: []string{routerID}})
		if err != nil {
			return err
		}
		for _, f := range fips {
			fp, err := tx.GetPort(ctx, f.PortID)
			if err != nil {
				continue
			}
			for _, fi := range fp.FixedIPs {
				for _, ri := range found.FixedIPs {
					if fi.SubnetID == ri.SubnetID {
						return oserr.Conflict("Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", ri.SubnetID, routerID).WithType("RouterInterfaceInUseByFloatingIP")
					}
				}
			}
		}
		out = interfaceInfo(r, *found)
		if err := tx.DeletePort(ctx, found.ID); err != nil {
			return err
		}
		r.Revision++
		r.UpdatedAt = s.now()
		return tx.PutRouter(ctx, &r, false)
	})
	return out, err
}

// overlapsInterfaces refuses a subnet whose CIDR overlaps one the router
// already has an interface on: the router could not route both.
func overlapsInterfaces(ctx context.Context, tx *store.Tx, ports []store.Port, sn store.Subnet) error {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return err
	}
	for _, rp := range ports {
		if rp.DeviceOwner != OwnerRouterInterface {
			continue
		}
		for _, f := range rp.FixedIPs {
			o, err := tx.GetSubnet(ctx, f.SubnetID)
			if err != nil {
				continue
			}
			if op, err := netip.ParsePrefix(o.CIDR); err == nil && op.Overlaps(p) {
				return oserr.BadRequest("Bad router request: Cidr %s of subnet %s overlaps with cidr %s of subnet %s.", sn.CIDR, sn.ID, o.CIDR, o.ID).WithType("BadRequest")
			}
		}
	}
	return nil
}
