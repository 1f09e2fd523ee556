package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// This file is what the load-balancer service (Octavia) asks of Neutron,
// inside its own transactions: the VIP port of a load balancer and the
// security group that lets the listeners' clients in. Both carry the tag
// onestack:owner=octavia/loadbalancer/<id>, so deleting the load balancer
// removes them and `onestack doctor` finds orphans. Callers call Notify
// after commit.

// VIPRequest asks for a load balancer's VIP port.
type VIPRequest struct {
	LoadBalancerID string
	ProjectID      string
	// One of PortID (an existing port the user made, claimed and given
	// back on delete), NetworkID (with optional SubnetID/Address) or
	// SubnetID.
	PortID, NetworkID, SubnetID, Address string
	// Host runs the load balancer: the port is bound there.
	Host string
	// ExtraGroups are security groups the user asked for (vip_sg_ids) on
	// top of the load balancer's own.
	ExtraGroups []string
}

// VIP is a load balancer's VIP as made.
type VIP struct {
	PortID, NetworkID, SubnetID, Address string
	// GroupID is the load balancer's own security group.
	GroupID string
	// UserPort: the port was given by the user and is kept on delete.
	UserPort bool
}

// VIPRule lets clients reach one listener: protocol tcp or udp, a port
// and a source prefix ("" for any).
type VIPRule struct {
	Protocol string
	Port     int
	CIDR     string
}

// LBOwnerTag is the tag on resources Octavia makes for load balancer id.
func LBOwnerTag(id string) string { return "onestack:owner=octavia/loadbalancer/" + id }

func lbDevice(id string) string { return "lb-" + id }

// SubnetForLB returns a subnet c may put a VIP or member on; 404-free: a
// subnet c cannot see is reported as not found, with Octavia's words left
// to the caller.
func (s *Service) SubnetForLB(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.Subnet, error) {
	sn, err := tx.GetSubnet(ctx, id)
	if err != nil {
		return store.Subnet{}, err
	}
	n, err := tx.GetNetwork(ctx, sn.NetworkID)
	if err != nil {
		return store.Subnet{}, err
	}
	if !canSeeNetwork(c, n) && !owns(c, sn.ProjectID) {
		return store.Subnet{}, store.ErrNotFound
	}
	return sn, nil
}

// NetworkSubnetsForLB returns the subnets of a network c may see.
func (s *Service) NetworkSubnetsForLB(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) ([]store.Subnet, error) {
	n, err := tx.GetNetwork(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeNetwork(c, n) {
		return nil, store.ErrNotFound
	}
	return tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{id}})
}

// CreateVIPTx makes the VIP of a load balancer: its security group (egress
// anywhere, no ingress until listeners exist), and the port — a new one on
// the network/subnet, or the user's port claimed — with device_owner
// Octavia and device_id lb-<id>, bound to req.Host.
func (s *Service) CreateVIPTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, req VIPRequest) (VIP, error) {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return VIP{}, err
	}
	now := s.now()
	tag := LBOwnerTag(req.LoadBalancerID)
	g := store.SecurityGroup{ID: uuid.NewString(), ProjectID: req.ProjectID, Name: "lb-" + req.LoadBalancerID,
		Description: "Clients of load balancer " + req.LoadBalancerID + " (managed by the load-balancer service)",
		Stateful:    true, Tags: []string{tag}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := tx.PutSecurityGroup(ctx, &g, true); err != nil {
		return VIP{}, err
	}
	for _, et := range []string{"IPv4", "IPv6"} {
		r := store.SecurityGroupRule{ID: uuid.NewString(), SecurityGroupID: g.ID, ProjectID: req.ProjectID, Direction: "egress", EtherType: et, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutSecurityGroupRule(ctx, &r, true); err != nil {
			return VIP{}, err
		}
	}
	groups := append([]string{g.ID}, req.ExtraGroups...)
	for _, id := range req.ExtraGroups {
		sg, err := tx.GetSecurityGroup(ctx, id)
		if err != nil || !owns(c, sg.ProjectID) {
			return VIP{}, oserr.BadRequest("Validation failure: security group %s of vip_sg_ids not found; give groups of the load balancer's project.", id)
		}
	}
	var p store.Port
	vip := VIP{GroupID: g.ID}
	owner, device := OwnerLoadBalancer, lbDevice(req.LoadBalancerID)
	if req.PortID != "" {
		var err error
		if p, err = tx.GetPort(ctx, req.PortID); err != nil || !owns(c, p.ProjectID) {
			return VIP{}, oserr.BadRequest("Validation failure: port %s not found; give a port of the load balancer's project.", req.PortID)
		}
		if p.DeviceID != "" || p.DeviceOwner != "" {
			return VIP{}, oserr.BadRequest("Validation failure: port %s is already used by device %s (%s); give an unused port.", p.ID, p.DeviceID, p.DeviceOwner)
		}
		vip.UserPort = true
	} else {
		in := PortInput{NetworkID: req.NetworkID, DeviceOwner: &owner, DeviceID: &device, Name: ptr("octavia-lb-" + req.LoadBalancerID), PortSecurity: ptr(true),
			SecurityGroups: &groups}
		if req.SubnetID != "" || req.Address != "" {
			in.FixedIPs = &[]FixedIPRequest{{SubnetID: req.SubnetID, IP: req.Address}}
		}
		var err error
		p, err = s.createPortTx(ctx, tx, c, req.ProjectID, in)
		if err != nil {
			var oe *oserr.Error
			if errors.As(err, &oe) && oe.Type == "IpAddressAlreadyAllocated" || oserr.Is(err, 409) {
				return VIP{}, oserr.Conflict("The VIP IP address is already in use: %s", oserrMessage(err))
			}
			return VIP{}, vipError(err)
		}
	}
	if !p.PortSecurity {
		// Without port security the groups would not apply: the listeners'
		// rules are the load balancer's firewall.
		p.PortSecurity = true
	}
	p.DeviceOwner, p.DeviceID = owner, device
	p.SecurityGroups = groups
	if !slices.Contains(p.Tags, tag) {
		p.Tags = append(p.Tags, tag)
	}
	bind(&p, req.Host)
	p.Revision++
	p.UpdatedAt = now
	if err := tx.PutPort(ctx, &p, false); err != nil {
		return VIP{}, err
	}
	if err := tx.SetPortGroups(ctx, p.ID, groups); err != nil {
		return VIP{}, err
	}
	vip.PortID, vip.NetworkID = p.ID, p.NetworkID
	for _, f := range p.FixedIPs {
		a, err := netip.ParseAddr(f.IP)
		if err != nil || !a.Is4() {
			continue
		}
		if (req.SubnetID == "" || f.SubnetID == req.SubnetID) && (req.Address == "" || f.IP == req.Address) {
			vip.SubnetID, vip.Address = f.SubnetID, f.IP
			break
		}
	}
	if vip.Address == "" {
		return VIP{}, oserr.BadRequest("Validation failure: the VIP port %s has no IPv4 address%s; give an IPv4 subnet (IPv6 VIPs are not served).", p.ID, map[bool]string{true: " on subnet " + req.SubnetID, false: ""}[req.SubnetID != ""])
	}
	return vip, nil
}

func oserrMessage(err error) string {
	var oe *oserr.Error
	if errors.As(err, &oe) {
		return oe.Message
	}
	return err.Error()
}

// vipError turns a port error into Octavia's words (a 400 validation
// failure) keeping Neutron's message.
func vipError(err error) error {
	var oe *oserr.Error
	if !errors.As(err, &oe) {
		return err
	}
	if oe.Status == 404 || oe.Status == 400 || oe.Status == 403 {
		return oserr.BadRequest("Validation failure: %s", oe.Message)
	}
	return &oserr.Error{Status: oe.Status, Message: oe.Message}
}

// SetVIPRulesTx makes the ingress rules of a load balancer's group exactly
// rules (one per listener port and allowed CIDR).
func (s *Service) SetVIPRulesTx(ctx context.Context, tx *store.Tx, groupID string, rules []VIPRule) error {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return err
	}
	g, err := tx.GetSecurityGroup(ctx, groupID)
	if err != nil {
		return fmt.Errorf("security group %s of a load balancer: %w", groupID, err)
	}
	have, err := tx.ListSecurityGroupRules(ctx, store.Query{All: true}, []string{groupID})
	if err != nil {
		return err
	}
	want := map[string]store.SecurityGroupRule{}
	now := s.now()
	for _, r := range rules {
		port := r.Port
		sr := store.SecurityGroupRule{SecurityGroupID: groupID, ProjectID: g.ProjectID, Direction: "ingress", EtherType: "IPv4",
			Protocol: r.Protocol, PortMin: &port, PortMax: &port, RemoteIPPrefix: r.CIDR}
		if p, err := netip.ParsePrefix(r.CIDR); err == nil && p.Addr().Is6() {
			sr.EtherType = "IPv6"
		}
		want[sr.Fingerprint()] = sr
	}
	for _, r := range have {
		if r.Direction != "ingress" {
			continue
		}
		if _, ok := want[r.Fingerprint()]; ok {
			delete(want, r.Fingerprint())
			continue
		}
		if err := tx.DeleteSecurityGroupRule(ctx, r.ID); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := want[k]
		r.ID, r.Revision, r.CreatedAt, r.UpdatedAt = uuid.NewString(), 1, now, now
		if err := tx.PutSecurityGroupRule(ctx, &r, true); err != nil {
			return err
		}
	}
	return nil
}

// BindVIPTx binds a VIP port to host (a failover to another host).
func (s *Service) BindVIPTx(ctx context.Context, tx *store.Tx, portID, host string) error {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return err
	}
	p, err := tx.GetPort(ctx, portID)
	if err != nil {
		return err
	}
	if p.HostID == host {
		return nil
	}
	bind(&p, host)
	p.Status = "DOWN"
	p.Revision++
	p.UpdatedAt = s.now()
	return tx.PutPort(ctx, &p, false)
}

// DeleteVIPTx removes a load balancer's VIP: its port (or gives the user's
// port back: owner, device, binding and groups cleared, the project's
// default group restored) and its security group. Absent parts are not an
// error, so a retried delete converges.
func (s *Service) DeleteVIPTx(ctx context.Context, tx *store.Tx, vip VIP) error {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return err
	}
	if vip.PortID != "" {
		p, err := tx.GetPort(ctx, vip.PortID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case vip.UserPort:
			p.DeviceOwner, p.DeviceID = "", ""
			bind(&p, "")
			p.Status = "DOWN"
			p.Tags = slices.DeleteFunc(p.Tags, func(t string) bool { return t == LBOwnerTag(vip.GroupID) || len(t) > 15 && t[:15] == "onestack:owner=" })
			groups := []string{}
			if p.PortSecurity {
				sg, err := s.ensureDefaultSGTx(ctx, tx, p.ProjectID)
				if err != nil {
					return err
				}
				groups = []string{sg}
			}
			p.SecurityGroups = groups
			p.Revision++
			p.UpdatedAt = s.now()
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
			if err := tx.SetPortGroups(ctx, p.ID, groups); err != nil {
				return err
			}
		default:
			if err := s.deletePortTx(ctx, tx, p); err != nil {
				return err
			}
		}
	}
	if vip.GroupID != "" {
		if err := tx.DeleteSecurityGroup(ctx, vip.GroupID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// MemberPortsRequest asks for a load balancer's ports on member subnets
// that are not on the VIP's network.
type MemberPortsRequest struct {
	LoadBalancerID, ProjectID string
	// Host runs the load balancer: the ports are bound there.
	Host string
	// GroupID is the load balancer's own security group (egress only: the
	// members' replies come back as part of the connections it opens).
	GroupID string
	// Subnets are the member subnets that need a port; Have the ports the
	// load balancer has, by subnet.
	Subnets []string
	Have    map[string]string
}

// SetMemberPortsTx makes a load balancer's member-network ports exactly
// one per subnet of req.Subnets, bound to req.Host, device_owner
// Octavia:member and device_id lb-<id> (the data plane wires them into
// the VIP's namespace), tagged as its VIP; ports of subnets no longer
// needed are deleted. It returns the ports by subnet. c must be allowed
// to use the subnets (checked when the members were added).
func (s *Service) SetMemberPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, req MemberPortsRequest) (map[string]string, error) {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return nil, err
	}
	out := map[string]string{}
	want := map[string]bool{}
	for _, sub := range req.Subnets {
		want[sub] = true
	}
	for sub, id := range req.Have {
		p, err := tx.GetPort(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue // made again below if still wanted
		case err != nil:
			return nil, err
		case !want[sub]:
			if err := s.deletePortTx(ctx, tx, p); err != nil {
				return nil, err
			}
			continue
		}
		if p.HostID != req.Host {
			bind(&p, req.Host)
			p.Status = "DOWN"
			p.Revision++
			p.UpdatedAt = s.now()
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return nil, err
			}
		}
		out[sub] = id
	}
	subs := make([]string, 0, len(want))
	for sub := range want {
		if _, ok := out[sub]; !ok {
			subs = append(subs, sub)
		}
	}
	slices.Sort(subs)
	owner, device := OwnerLoadBalancerMember, lbDevice(req.LoadBalancerID)
	for _, sub := range subs {
		sn, err := tx.GetSubnet(ctx, sub)
		if err != nil {
			return nil, oserr.BadRequest("Validation failure: member subnet %s not found.", sub)
		}
		groups := []string{req.GroupID}
		in := PortInput{NetworkID: sn.NetworkID, DeviceOwner: &owner, DeviceID: &device, Name: ptr("octavia-lb-" + req.LoadBalancerID + "-member"),
			PortSecurity: ptr(true), SecurityGroups: &groups, FixedIPs: &[]FixedIPRequest{{SubnetID: sub}}}
		p, err := s.createPortTx(ctx, tx, c, req.ProjectID, in)
		if err != nil {
			return nil, vipError(err)
		}
		p.Tags = append(p.Tags, LBOwnerTag(req.LoadBalancerID))
		bind(&p, req.Host)
		p.Revision++
		p.UpdatedAt = s.now()
		if err := tx.PutPort(ctx, &p, false); err != nil {
			return nil, err
		}
		out[sub] = p.ID
	}
	return out, nil
}
