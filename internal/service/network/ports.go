package network

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Device owners Neutron gives its own ports.
const (
	OwnerDHCP            = "network:dhcp"
	OwnerRouterInterface = "network:router_interface"
	OwnerRouterGateway   = "network:router_gateway"
	OwnerFloatingIP      = "network:floatingip"
	// OwnerLoadBalancer is a load balancer's VIP port (Octavia's owner
	// name); its device_id is "lb-<load balancer id>".
	OwnerLoadBalancer = "Octavia"
	// OwnerLoadBalancerMember is a load balancer's port on a member
	// network other than the VIP's, wired into the same namespace (the
	// port Octavia plugs into an amphora for such members).
	OwnerLoadBalancerMember = "Octavia:member"
)

// VIF types: a port is "unbound" until a host is set, then the data plane
// wires it to a Linux bridge.
const (
	VIFUnbound = "unbound"
	VIFBridge  = "bridge"
	VIFFailed  = "binding_failed"
)

// FixedIPRequest is one entry of a port's fixed_ips.
type FixedIPRequest struct{ SubnetID, IP string }

// PortInput is a port create or update; nil fields are not given.
type PortInput struct {
	ProjectID             string
	NetworkID             string
	Name, Description     *string
	AdminStateUp          *bool
	MAC                   *string
	FixedIPs              *[]FixedIPRequest
	DeviceID, DeviceOwner *string
	HostID                *string
	VNICType              *string
	Profile               *map[string]any
	AddressPairs          *[]store.AddressPair
	PortSecurity          *bool
	SecurityGroups        *[]string
	DNSName               *string
}

// canSeePort is Neutron's admin_owner_or_network_owner: the port's
// project, admins, and the owner of the port's network.
func canSeePort(ctx context.Context, tx *store.Tx, c *auth.Credentials, p store.Port) bool {
	if owns(c, p.ProjectID) {
		return true
	}
	n, err := tx.GetNetwork(ctx, p.NetworkID)
	return err == nil && n.ProjectID == c.ProjectID()
}

// CreatePort creates a port on a network c may use.
func (s *Service) CreatePort(ctx context.Context, c *auth.Credentials, in PortInput) (store.Port, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return store.Port{}, err
	}
	var out store.Port
	err = s.write(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.createPortTx(ctx, tx, c, project, in)
		return err
	})
	return out, err
}

func (s *Service) createPortTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, project string, in PortInput) (store.Port, error) {
	n, err := tx.GetNetwork(ctx, in.NetworkID)
	if err != nil {
		return store.Port{}, mapNotFound(err, networkNotFound(in.NetworkID))
	}
	if !owns(c, n.ProjectID) && !n.Shared {
		if n.External && c.IsAdmin() {
		} else if canSeeNetwork(c, n) {
			return store.Port{}, forbidden("create_port:network")
		} else {
			return store.Port{}, networkNotFound(in.NetworkID)
		}
	}
	if err := s.quota(ctx, tx, project, "port", 1); err != nil {
		return store.Port{}, err
	}
	now := s.now()
	rev, err := tx.NetworkRevision(ctx)
	if err != nil {
		return store.Port{}, err
	}
	p := store.Port{ID: uuid.NewString(), NetworkID: n.ID, ProjectID: project, AdminStateUp: true, Status: "DOWN",
		VIFType: VIFUnbound, VNICType: "normal", Profile: map[string]any{}, VIFDetails: map[string]any{},
		AddressPairs: []store.AddressPair{}, PortSecurity: n.PortSecurity, SecurityGroups: []string{},
		FixedIPs: []store.FixedIP{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now, Seq: rev<<16 | int64(rand.IntN(1<<15))<<1}
	if in.PortSecurity != nil {
		p.PortSecurity = *in.PortSecurity
	}
	if in.MAC != nil {
		mac, err := normalMAC(*in.MAC)
		if err != nil {
			return store.Port{}, err
		}
		p.MAC = mac
	} else if p.MAC, err = newMAC(ctx, tx, n.ID); err != nil {
		return store.Port{}, err
	}
	if taken, err := tx.MACTaken(ctx, n.ID, p.MAC); err != nil {
		return store.Port{}, err
	} else if taken {
		return store.Port{}, oserr.Conflict("Unable to complete operation for network %s. The mac address %s is in use.", n.ID, p.MAC).WithType("MacAddressInUse")
	}
	if err := s.applyPort(ctx, tx, c, n, &p, in, true); err != nil {
		return store.Port{}, err
	}
	if in.SecurityGroups == nil && p.PortSecurity && !isNetworkOwner(p.DeviceOwner) {
		sg, err := s.ensureDefaultSGTx(ctx, tx, project)
		if err != nil {
			return store.Port{}, err
		}
		p.SecurityGroups = []string{sg}
	}
	if err := tx.PutPort(ctx, &p, true); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Port{}, oserr.Conflict("Unable to complete operation for network %s. The mac address %s is in use.", n.ID, p.MAC).WithType("MacAddressInUse")
		}
		return store.Port{}, err
	}
	var reqs []FixedIPRequest
	if in.FixedIPs != nil {
		reqs = *in.FixedIPs
	}
	if p.FixedIPs, err = s.allocate(ctx, tx, n, p.ID, reqs, in.FixedIPs == nil); err != nil {
		return store.Port{}, err
	}
	if err := tx.PutPort(ctx, &p, false); err != nil {
		return store.Port{}, err
	}
	if err := tx.SetPortGroups(ctx, p.ID, p.SecurityGroups); err != nil {
		return store.Port{}, err
	}
	return p, nil
}

func isNetworkOwner(owner string) bool { return strings.HasPrefix(owner, "network:") }

// applyPort applies in's fields other than network, MAC and fixed IPs.
func (s *Service) applyPort(ctx context.Context, tx *store.Tx, c *auth.Credentials, n store.Network, p *store.Port, in PortInput, create bool) error {
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.AdminStateUp != nil {
		p.AdminStateUp = *in.AdminStateUp
	}
	if in.DeviceID != nil {
		p.DeviceID = *in.DeviceID
	}
	if in.DeviceOwner != nil {
		if isNetworkOwner(*in.DeviceOwner) && !c.IsAdmin() && *in.DeviceOwner != p.DeviceOwner {
			return forbidden("create_port:device_owner")
		}
		p.DeviceOwner = *in.DeviceOwner
	}
	if in.DNSName != nil {
		p.DNSName = *in.DNSName
	}
	if in.HostID != nil || in.Profile != nil {
		if !c.IsAdmin() {
			return forbidden("create_port:binding:host_id")
		}
	}
	if in.Profile != nil {
		p.Profile = *in.Profile
		if p.Profile == nil {
			p.Profile = map[string]any{}
		}
	}
	if in.HostID != nil {
		bind(p, *in.HostID)
	}
	if in.VNICType != nil {
		if *in.VNICType != "normal" {
			return oserr.BadRequest("Invalid input for binding:vnic_type. Reason: '%s' is not in ['normal'].", *in.VNICType).WithType("InvalidInput")
		}
		p.VNICType = *in.VNICType
	}
	if in.PortSecurity != nil {
		p.PortSecurity = *in.PortSecurity
	}
	if in.AddressPairs != nil {
		for i, ap := range *in.AddressPairs {
			if _, err := netip.ParsePrefix(ap.IP); err != nil {
				if _, err := netip.ParseAddr(ap.IP); err != nil {
					return invalid("'%s' is not a valid IP address or CIDR", ap.IP)
				}
			}
			if ap.MAC != "" {
				m, err := normalMAC(ap.MAC)
				if err != nil {
					return err
				}
				(*in.AddressPairs)[i].MAC = m
			}
		}
		p.AddressPairs = slices.Clone(*in.AddressPairs)
	}
	if in.SecurityGroups != nil {
		groups := slices.Compact(slices.Sorted(slices.Values(*in.SecurityGroups)))
		for _, g := range groups {
			sg, err := tx.GetSecurityGroup(ctx, g)
			if err != nil || !owns(c, sg.ProjectID) && sg.ProjectID != p.ProjectID {
				return sgNotFound(g)
			}
		}
		p.SecurityGroups = groups
	}
	if !p.PortSecurity && (len(p.SecurityGroups) > 0 && in.SecurityGroups != nil && len(*in.SecurityGroups) > 0 || len(p.AddressPairs) > 0) {
		return oserr.Conflict("Port has security group associated. Cannot disable port security or ip address until security group is removed").WithType("PortSecurityAndIPRequiredForSecurityGroups")
	}
	if !p.PortSecurity && in.SecurityGroups == nil {
		p.SecurityGroups = []string{}
	}
	if len(p.Name) > 255 || len(p.Description) > 255 {
		return badRequest("Invalid input for name or description: at most 255 characters.")
	}
	return nil
}

// bind sets or clears a port's host binding.
func bind(p *store.Port, host string) {
	p.HostID = host
	p.StatusReason = ""
	if host == "" {
		p.VIFType, p.VIFDetails, p.Status = VIFUnbound, map[string]any{}, "DOWN"
		return
	}
	p.VIFType = VIFBridge
	p.VIFDetails = map[string]any{"port_filter": true, "connectivity": "l2"}
	if p.Status == "" || p.Status == "ACTIVE" {
		p.Status = "DOWN"
	}
}

func normalMAC(s string) (string, error) {
	m := strings.ToLower(s)
	parts := strings.Split(m, ":")
	if len(parts) != 6 {
		return "", invalid("'%s' is not a valid MAC address", s)
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789abcdef") != "" {
			return "", invalid("'%s' is not a valid MAC address", s)
		}
	}
	if m == "00:00:00:00:00:00" || m == "ff:ff:ff:ff:ff:ff" {
		return "", invalid("'%s' is not a valid MAC address", s)
	}
	return m, nil
}

// newMAC picks a free fa:16:3e MAC on the network.
func newMAC(ctx context.Context, tx *store.Tx, networkID string) (string, error) {
	for i := 0; i < 32; i++ {
		mac := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", rand.IntN(256), rand.IntN(256), rand.IntN(256))
		taken, err := tx.MACTaken(ctx, networkID, mac)
		if err != nil {
			return "", err
		}
		if !taken {
			return mac, nil
		}
	}
	return "", oserr.Unavailable(1, "Unable to generate unique mac on network %s.", networkID).WithType("MacAddressGenerationFailure")
}

// allocate gives port its addresses. With auto (fixed_ips not given) it
// takes one address per IP version from the network's subnets; otherwise
// one per request. Runs under the network lock; the primary key of
// ip_allocations backs it.
func (s *Service) allocate(ctx context.Context, tx *store.Tx, n store.Network, portID string, reqs []FixedIPRequest, auto bool) ([]store.FixedIP, error) {
	subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
	if err != nil {
		return nil, err
	}
	out := []store.FixedIP{}
	if auto {
		if len(subs) == 0 {
			return out, nil
		}
		done := map[int]bool{}
		var lastErr error
		for i := range subs {
			sn := &subs[i]
			if done[sn.IPVersion] {
				continue
			}
			ip, err := s.pickIP(ctx, tx, sn, portID)
			if err != nil {
				lastErr = err
				continue
			}
			if err := tx.AllocateIP(ctx, sn.ID, n.ID, ip, portID); err != nil {
				return nil, err
			}
			out = append(out, store.FixedIP{SubnetID: sn.ID, IP: ip})
			done[sn.IPVersion] = true
		}
		if len(out) == 0 && lastErr != nil {
			return nil, oserr.Conflict("No more IP addresses available on network %s.", n.ID).WithType("IpAddressGenerationFailure")
		}
		return out, nil
	}
	for _, r := range reqs {
		var sn *store.Subnet
		var ip netip.Addr
		if r.IP != "" {
			a, err := netip.ParseAddr(r.IP)
			if err != nil {
				return nil, invalid("'%s' is not a valid IP address", r.IP)
			}
			ip = a
		}
		for i := range subs {
			if r.SubnetID != "" && subs[i].ID == r.SubnetID {
				sn = &subs[i]
				break
			}
			if r.SubnetID == "" && ip.IsValid() {
				if p, err := netip.ParsePrefix(subs[i].CIDR); err == nil && p.Contains(ip) {
					sn = &subs[i]
					break
				}
			}
		}
		if sn == nil {
			if r.SubnetID != "" {
				return nil, oserr.BadRequest("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.ID, r.SubnetID).WithType("InvalidInput")
			}
			if !ip.IsValid() {
				return nil, invalid("Exceeded maximum amount of fixed ips per port or empty fixed_ips entry")
			}
			return nil, oserr.BadRequest("IP address %s is not a valid IP for any of the subnets on the specified network.", ip).WithType("InvalidIpForNetwork")
		}
		var addr string
		if ip.IsValid() {
			p, _ := netip.ParsePrefix(sn.CIDR)
			if !p.Contains(ip) || ip == p.Masked().Addr() || (ip.Is4() && ip == lastHost(p).Next()) {
				return nil, oserr.BadRequest("IP address %s is not a valid IP for the specified subnet.", ip).WithType("InvalidIpForSubnet")
			}
			addr = ip.String()
		} else {
			picked, err := s.pickIP(ctx, tx, sn, portID)
			if err != nil {
				return nil, err
			}
			addr = picked
		}
		if err := tx.AllocateIP(ctx, sn.ID, n.ID, addr, portID); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, oserr.Conflict("Unable to complete operation for network %s. The IP address %s is in use.", n.ID, addr).WithType("IpAddressInUse")
			}
			return nil, err
		}
		out = append(out, store.FixedIP{SubnetID: sn.ID, IP: addr})
	}
	return out, nil
}

// pickIP returns a free address of the subnet's pools. Addresses are
// mostly handed out in order, so it first probes a few addresses from the
// pools' start plus the number taken (a primary-key lookup each) and only
// reads every allocation of the subnet when those are all taken.
func (s *Service) pickIP(ctx context.Context, tx *store.Tx, sn *store.Subnet, portID string) (string, error) {
	if sn.IPVersion == 6 && (sn.IPv6AddressMode == "slaac" || sn.IPv6AddressMode == "dhcpv6-stateless") {
		// The guest forms its address from its MAC (EUI-64), so the port
		// must hold exactly that one.
		p, err := tx.GetPort(ctx, portID)
		if err != nil {
			return "", err
		}
		a, err := eui64(sn.CIDR, p.MAC)
		if err != nil {
			return "", err
		}
		return a, nil
	}
	n, err := tx.CountSubnetIPs(ctx, sn.ID)
	if err != nil {
		return "", err
	}
	for i := 0; i < 16; i++ {
		a, ok := poolAddr(sn.AllocationPools, uint64(n+i))
		if !ok {
			break
		}
		if a.String() == sn.GatewayIP {
			continue
		}
		taken, err := tx.IPTaken(ctx, sn.ID, a.String())
		if err != nil {
			return "", err
		}
		if !taken {
			return a.String(), nil
		}
	}
	return s.scanIP(ctx, tx, sn)
}

// poolAddr is the k-th address of the pools taken in order.
func poolAddr(pools []store.IPRange, k uint64) (netip.Addr, bool) {
	for _, r := range pools {
		a, err1 := netip.ParseAddr(r.Start)
		e, err2 := netip.ParseAddr(r.End)
		if err1 != nil || err2 != nil {
			continue
		}
		size, ok := span(a, e)
		if ok && k < size {
			return addAddr(a, k), true
		}
		if !ok { // a pool of 2^64 or more addresses holds any k
			return addAddr(a, k), true
		}
		k -= size
	}
	return netip.Addr{}, false
}

// span is the number of addresses from a to e, false when it does not
// fit in 64 bits.
func span(a, e netip.Addr) (uint64, bool) {
	x, y := a.As16(), e.As16()
	var hi bool
	for i := 0; i < 8; i++ {
		if x[i] != y[i] {
			hi = true
		}
	}
	if hi {
		return 0, false
	}
	var lo1, lo2 uint64
	for i := 8; i < 16; i++ {
		lo1, lo2 = lo1<<8|uint64(x[i]), lo2<<8|uint64(y[i])
	}
	if lo2 < lo1 {
		return 0, true
	}
	if lo2-lo1 == ^uint64(0) {
		return 0, false
	}
	return lo2 - lo1 + 1, true
}

// addAddr adds k to an address.
func addAddr(a netip.Addr, k uint64) netip.Addr {
	b := a.As16()
	carry := k
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	r := netip.AddrFrom16(b)
	if a.Is4() {
		return r.Unmap()
	}
	return r
}

// scanIP returns the first free address of the subnet's pools.
func (s *Service) scanIP(ctx context.Context, tx *store.Tx, sn *store.Subnet) (string, error) {
	taken, err := tx.AllocatedIPs(ctx, sn.ID)
	if err != nil {
		return "", err
	}
	for _, r := range sn.AllocationPools {
		a, err1 := netip.ParseAddr(r.Start)
		e, err2 := netip.ParseAddr(r.End)
		if err1 != nil || err2 != nil {
			continue
		}
		for ; !e.Less(a); a = a.Next() {
			if _, ok := taken[a.String()]; !ok && a.String() != sn.GatewayIP {
				return a.String(), nil
			}
			if !a.Next().IsValid() {
				break
			}
		}
	}
	return "", oserr.Conflict("No more IP addresses available on network %s.", sn.NetworkID).WithType("IpAddressGenerationFailure")
}

// ensureDHCP gives the network's DHCP port (creating it) an address on sn.
func (s *Service) ensureDHCP(ctx context.Context, tx *store.Tx, n store.Network, sn *store.Subnet) error {
	ports, err := tx.ListPorts(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
	if err != nil {
		return err
	}
	for _, p := range ports {
		if p.DeviceOwner != OwnerDHCP {
			continue
		}
		for _, f := range p.FixedIPs {
			if f.SubnetID == sn.ID {
				return nil
			}
		}
		ips, err := s.allocate(ctx, tx, n, p.ID, []FixedIPRequest{{SubnetID: sn.ID}}, false)
		if err != nil {
			return err
		}
		p.FixedIPs = append(p.FixedIPs, ips...)
		p.Revision++
		p.UpdatedAt = s.now()
		return tx.PutPort(ctx, &p, false)
	}
	now := s.now()
	rev, err := tx.NetworkRevision(ctx)
	if err != nil {
		return err
	}
	mac, err := newMAC(ctx, tx, n.ID)
	if err != nil {
		return err
	}
	p := store.Port{ID: uuid.NewString(), NetworkID: n.ID, ProjectID: n.ProjectID, AdminStateUp: true, Status: "ACTIVE",
		MAC: mac, DeviceOwner: OwnerDHCP, DeviceID: "dhcp" + uuid.NewSHA1(uuid.NameSpaceOID, []byte(n.ID)).String() + "-" + n.ID,
		VIFType: VIFUnbound, VNICType: "normal", Profile: map[string]any{}, VIFDetails: map[string]any{},
		AddressPairs: []store.AddressPair{}, SecurityGroups: []string{}, Tags: []string{}, Revision: 1,
		CreatedAt: now, UpdatedAt: now, Seq: rev << 16}
	if err := tx.PutPort(ctx, &p, true); err != nil {
		return err
	}
	ips, err := s.allocate(ctx, tx, n, p.ID, []FixedIPRequest{{SubnetID: sn.ID}}, false)
	if err != nil {
		return err
	}
	p.FixedIPs = ips
	return tx.PutPort(ctx, &p, false)
}

// GetPort returns a port c may see.
func (s *Service) GetPort(ctx context.Context, c *auth.Credentials, id string) (store.Port, error) {
	var out store.Port
	err := s.read(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPort(ctx, id)
		if err != nil {
			return mapNotFound(err, portNotFound(id))
		}
		if !canSeePort(ctx, tx, c, p) {
			return portNotFound(id)
		}
		out = p
		return nil
	})
	return out, err
}

// PortFilter narrows ListPorts in the store; the API filters the rest.
type PortFilter struct {
	NetworkIDs, DeviceIDs, IDs []string
	// Projects narrows an admin's list in the store (project_id filter).
	Projects []string
}

// ListPorts returns the ports c may see.
func (s *Service) ListPorts(ctx context.Context, c *auth.Credentials, f PortFilter) ([]store.Port, error) {
	var out []store.Port
	err := s.read(ctx, func(tx *store.Tx) error {
		q := scope(c)
		q.NetworkIDs, q.DeviceIDs, q.IDs = f.NetworkIDs, f.DeviceIDs, f.IDs
		if c.IsAdmin() && f.Projects != nil {
			q.All, q.Projects = false, f.Projects
		}
		var err error
		if out, err = tx.ListPorts(ctx, q); err != nil || c.IsAdmin() {
			return err
		}
		// And other projects' ports on the caller's networks.
		own, err := tx.ListNetworks(ctx, store.Query{Projects: []string{c.ProjectID()}})
		if err != nil || len(own) == 0 {
			return err
		}
		ids := make([]string, 0, len(own))
		for _, n := range own {
			if f.NetworkIDs == nil || slices.Contains(f.NetworkIDs, n.ID) {
				ids = append(ids, n.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		more, err := tx.ListPorts(ctx, store.Query{All: true, NetworkIDs: ids, DeviceIDs: f.DeviceIDs, IDs: f.IDs})
		if err != nil {
			return err
		}
		for _, p := range more {
			if p.ProjectID != c.ProjectID() {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// UpdatePort changes a port c owns.
func (s *Service) UpdatePort(ctx context.Context, c *auth.Credentials, id string, in PortInput, ifRev int64) (store.Port, error) {
	var out store.Port
	err := s.write(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPort(ctx, id)
		if err != nil {
			return mapNotFound(err, portNotFound(id))
		}
		if !owns(c, p.ProjectID) {
			if canSeePort(ctx, tx, c, p) {
				return forbidden("update_port")
			}
			return portNotFound(id)
		}
		if err := revisionCheck(ifRev, p.Revision); err != nil {
			return err
		}
		n, err := tx.GetNetwork(ctx, p.NetworkID)
		if err != nil {
			return err
		}
		if in.MAC != nil {
			mac, err := normalMAC(*in.MAC)
			if err != nil {
				return err
			}
			if mac != p.MAC {
				if !c.IsAdmin() {
					return forbidden("update_port:mac_address")
				}
				if taken, err := tx.MACTaken(ctx, n.ID, mac); err != nil {
					return err
				} else if taken {
					return oserr.Conflict("Unable to complete operation for network %s. The mac address %s is in use.", n.ID, mac).WithType("MacAddressInUse")
				}
				p.MAC = mac
			}
		}
		if err := s.applyPort(ctx, tx, c, n, &p, in, false); err != nil {
			return err
		}
		if in.FixedIPs != nil {
			// Keep addresses asked for again; allocate the rest.
			if err := tx.ReleasePortIPs(ctx, p.ID); err != nil {
				return err
			}
			ips, err := s.allocate(ctx, tx, n, p.ID, *in.FixedIPs, false)
			if err != nil {
				return err
			}
			p.FixedIPs = ips
		}
		p.Revision++
		p.UpdatedAt = s.now()
		if err := tx.PutPort(ctx, &p, false); err != nil {
			return err
		}
		if in.SecurityGroups != nil || in.PortSecurity != nil {
			if err := tx.SetPortGroups(ctx, p.ID, p.SecurityGroups); err != nil {
				return err
			}
		}
		out = p
		return nil
	})
	return out, err
}

// DeletePort deletes a port c owns; router interfaces must be removed
// through the router.
func (s *Service) DeletePort(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPort(ctx, id)
		if err != nil {
			return mapNotFound(err, portNotFound(id))
		}
		if !canSeePort(ctx, tx, c, p) {
			return portNotFound(id)
		}
		if err := revisionCheck(ifRev, p.Revision); err != nil {
			return err
		}
		if p.DeviceOwner == OwnerRouterInterface || p.DeviceOwner == OwnerRouterGateway || p.DeviceOwner == OwnerFloatingIP {
			return oserr.Conflict("Port %s cannot be deleted directly via the port API: has device owner %s.", id, p.DeviceOwner).WithType("ServicePortInUse")
		}
		return s.deletePortTx(ctx, tx, p)
	})
}

// deletePortTx deletes a port and disassociates its floating IPs.
func (s *Service) deletePortTx(ctx context.Context, tx *store.Tx, p store.Port) error {
	fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, PortIDs: []string{p.ID}})
	if err != nil {
		return err
	}
	for _, f := range fips {
		f.PortID, f.FixedIP, f.RouterID, f.Status = "", "", "", "DOWN"
		f.Revision++
		f.UpdatedAt = s.now()
		if err := tx.PutFloatingIP(ctx, &f, false); err != nil {
			return err
		}
	}
	return tx.DeletePort(ctx, p.ID)
}

// eui64 is the SLAAC address of mac on a /64.
func eui64(cidr, mac string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Bits() != 64 || !p.Addr().Is6() {
		return "", invalid("SLAAC needs a /64 IPv6 subnet, not %s", cidr)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "", invalid("'%s' is not a valid MAC address", mac)
	}
	b := p.Masked().Addr().As16()
	b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15] = hw[0]^0x02, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]
	return netip.AddrFrom16(b).String(), nil
}
