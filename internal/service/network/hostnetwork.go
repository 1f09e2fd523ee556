package network

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/store"
)

func newID() string { return uuid.NewString() }

// HostNetwork is the desired data plane of a host (the contract is
// hostapi.HostNetwork): the networks with ports on the host or on a router
// it runs, with their subnets, DHCP port, remote ports and peers; the
// host's ports; their security groups with rules and remote-group members;
// and the routers it runs. A fixed number of queries, whatever the size.
// Routers not yet placed (no host was registered when they were made) are
// placed first.
func (s *Service) HostNetwork(ctx context.Context, host string) (hostapi.HostNetwork, error) {
	if err := s.placePending(ctx); err != nil {
		return hostapi.HostNetwork{}, err
	}
	hn := hostapi.HostNetwork{Host: host, Networks: []hostapi.Network{}, Ports: []hostapi.Port{}, SecurityGroups: []hostapi.SecurityGroup{}, Routers: []hostapi.Router{}}
	err := s.read(ctx, func(tx *store.Tx) error {
		rev, err := tx.NetworkRevision(ctx)
		if err != nil {
			return err
		}
		hn.Revision = rev
		tunnels, err := tx.HostTunnelIPs(ctx)
		if err != nil {
			return err
		}
		hn.TunnelIP = tunnels[host]
		mine, err := tx.ListPorts(ctx, store.Query{All: true, Hosts: []string{host}})
		if err != nil {
			return err
		}
		routers, err := tx.ListRouters(ctx, store.Query{All: true, Hosts: []string{host}})
		if err != nil {
			return err
		}
		routerIDs := make([]string, len(routers))
		for i, r := range routers {
			routerIDs[i] = r.ID
		}
		netSet := map[string]bool{}
		for _, p := range mine {
			netSet[p.NetworkID] = true
		}
		routerPorts := map[string]store.Port{}
		if len(routerIDs) > 0 {
			rps, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: routerIDs})
			if err != nil {
				return err
			}
			for _, p := range rps {
				routerPorts[p.ID] = p
				netSet[p.NetworkID] = true
			}
		}
		netIDs := make([]string, 0, len(netSet))
		for id := range netSet {
			netIDs = append(netIDs, id)
		}
		slices.Sort(netIDs)
		if len(netIDs) == 0 {
			return nil
		}
		nets, err := tx.ListNetworks(ctx, store.Query{All: true, IDs: netIDs})
		if err != nil {
			return err
		}
		subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: netIDs})
		if err != nil {
			return err
		}
		subsBy := map[string][]hostapi.Subnet{}
		subIDs := make([]string, 0, len(subs))
		for _, sn := range subs {
			subsBy[sn.NetworkID] = append(subsBy[sn.NetworkID], hostSubnet(sn))
			subIDs = append(subIDs, sn.ID)
		}
		// Every port of these networks, from columns only: most are other
		// hosts' (remote) ports, which need no more than MAC, addresses
		// and host.
		all, err := tx.PortAddrs(ctx, netIDs, subIDs)
		if err != nil {
			return err
		}
		var dhcpIDs []string
		for _, p := range all {
			if p.DeviceOwner == OwnerDHCP {
				dhcpIDs = append(dhcpIDs, p.ID)
			}
		}
		dhcpPorts := map[string]store.Port{}
		if len(dhcpIDs) > 0 {
			ps, err := tx.ListPorts(ctx, store.Query{All: true, IDs: dhcpIDs})
			if err != nil {
				return err
			}
			for _, p := range ps {
				dhcpPorts[p.ID] = p
			}
		}
		type netExtra struct {
			dhcp   *hostapi.Port
			remote []hostapi.RemotePort
			peers  map[string]bool
		}
		extra := map[string]*netExtra{}
		for _, id := range netIDs {
			extra[id] = &netExtra{peers: map[string]bool{}}
		}
		for _, p := range all {
			x := extra[p.NetworkID]
			switch {
			case p.DeviceOwner == OwnerDHCP:
				if full, ok := dhcpPorts[p.ID]; ok {
					hp := hostPort(full)
					x.dhcp = &hp
				}
			case p.Host != "" && p.Host != host:
				tip := tunnels[p.Host]
				if tip == "" {
					continue
				}
				rp := hostapi.RemotePort{MAC: p.MAC, TunnelIP: tip, IPs: p.IPs}
				x.remote = append(x.remote, rp)
				x.peers[tip] = true
			}
		}
		for _, n := range nets {
			x := extra[n.ID]
			hnet := hostapi.Network{ID: n.ID, Type: n.NetworkType, SegmentID: n.SegmentationID, PhysicalNetwork: n.PhysicalNetwork,
				MTU: n.MTU, External: n.External, Subnets: subsBy[n.ID], DHCP: x.dhcp, Remote: x.remote}
			if hnet.Subnets == nil {
				hnet.Subnets = []hostapi.Subnet{}
			}
			for p := range x.peers {
				hnet.Peers = append(hnet.Peers, p)
			}
			slices.Sort(hnet.Peers)
			hn.Networks = append(hn.Networks, hnet)
		}
		groupSet := map[string]bool{}
		for _, p := range mine {
			if _, isRouter := routerPorts[p.ID]; isRouter {
				continue
			}
			if p.DeviceOwner == OwnerFloatingIP {
				continue
			}
			hn.Ports = append(hn.Ports, hostPort(p))
			if p.PortSecurity {
				for _, g := range p.SecurityGroups {
					groupSet[g] = true
				}
			}
		}
		if len(groupSet) > 0 {
			groups := make([]string, 0, len(groupSet))
			for g := range groupSet {
				groups = append(groups, g)
			}
			slices.Sort(groups)
			rules, err := tx.ListSecurityGroupRules(ctx, store.Query{All: true}, groups)
			if err != nil {
				return err
			}
			remote := map[string]bool{}
			byGroup := map[string][]hostapi.SecurityGroupRule{}
			for _, r := range rules {
				byGroup[r.SecurityGroupID] = append(byGroup[r.SecurityGroupID], hostapi.SecurityGroupRule{ID: r.ID, Direction: r.Direction,
					EtherType: r.EtherType, Protocol: r.Protocol, PortMin: r.PortMin, PortMax: r.PortMax, RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID})
				if r.RemoteGroupID != "" {
					remote[r.RemoteGroupID] = true
				}
			}
			var remoteIDs []string
			for g := range remote {
				remoteIDs = append(remoteIDs, g)
			}
			members, err := tx.GroupMemberIPs(ctx, remoteIDs)
			if err != nil {
				return err
			}
			// Remote groups a rule names are listed too, for their members.
			for g := range remote {
				groupSet[g] = true
			}
			ids := make([]string, 0, len(groupSet))
			for g := range groupSet {
				ids = append(ids, g)
			}
			slices.Sort(ids)
			for _, g := range ids {
				sg := hostapi.SecurityGroup{ID: g, Rules: byGroup[g], Members: members[g]}
				if sg.Rules == nil {
					sg.Rules = []hostapi.SecurityGroupRule{}
				}
				hn.SecurityGroups = append(hn.SecurityGroups, sg)
			}
		}
		if len(routers) > 0 {
			fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, RouterIDs: routerIDs})
			if err != nil {
				return err
			}
			for _, r := range routers {
				hr := hostapi.Router{ID: r.ID, Interfaces: []hostapi.Port{}}
				for _, rt := range r.Routes {
					hr.Routes = append(hr.Routes, hostapi.Route{Destination: rt.Destination, NextHop: rt.NextHop})
				}
				for _, p := range routerPorts {
					if p.DeviceID != r.ID {
						continue
					}
					switch p.DeviceOwner {
					case OwnerRouterInterface:
						hr.Interfaces = append(hr.Interfaces, hostPort(p))
					case OwnerRouterGateway:
						gp := hostPort(p)
						hr.Gateway = &gp
					}
				}
				slices.SortFunc(hr.Interfaces, func(a, b hostapi.Port) int { return compare(a.ID, b.ID) })
				if r.Gateway != nil {
					hr.EnableSNAT = r.Gateway.EnableSNAT
				}
				for _, f := range fips {
					if f.RouterID == r.ID && f.PortID != "" {
						hr.FloatingIPs = append(hr.FloatingIPs, hostapi.FloatingIP{ID: f.ID, FloatingIP: f.FloatingIP, FixedIP: f.FixedIP, PortID: f.PortID})
					}
				}
				hn.Routers = append(hn.Routers, hr)
			}
		}
		return nil
	})
	return hn, err
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func hostPort(p store.Port) hostapi.Port {
	hp := hostapi.Port{ID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, DeviceOwner: p.DeviceOwner, DeviceID: p.DeviceID,
		AdminUp: p.AdminStateUp, PortSecurity: p.PortSecurity, SecurityGroups: p.SecurityGroups, FixedIPs: []hostapi.FixedIP{}}
	if !p.PortSecurity {
		hp.SecurityGroups = nil
	}
	if len(p.DeviceOwner) > 8 && p.DeviceOwner[:8] == "compute:" {
		hp.Device = hostapi.TapName(p.ID)
	}
	if (p.DeviceOwner == OwnerLoadBalancer || p.DeviceOwner == OwnerLoadBalancerMember) && p.DeviceID != "" {
		hp.Device, hp.Namespace = hostapi.TapName(p.ID), p.DeviceID
		// Replies to clients leave by the VIP's gateway; a member
		// network's port only reaches its own subnet.
		hp.NoDefaultRoute = p.DeviceOwner == OwnerLoadBalancerMember
	}
	for _, f := range p.FixedIPs {
		hp.FixedIPs = append(hp.FixedIPs, hostapi.FixedIP{SubnetID: f.SubnetID, IP: f.IP})
	}
	for _, a := range p.AddressPairs {
		hp.AllowedAddressPairs = append(hp.AllowedAddressPairs, hostapi.AddressPair{IP: a.IP, MAC: a.MAC})
	}
	return hp
}

// placePending places routers that have no host yet (made before any host
// registered) on the hosts with the fewest routers, with their ports.
func (s *Service) placePending(ctx context.Context) error {
	var pending bool
	if err := s.read(ctx, func(tx *store.Tx) error {
		rs, err := tx.ListRouters(ctx, store.Query{All: true, Hosts: []string{""}})
		if err != nil || len(rs) == 0 {
			return err
		}
		// Only write (and move the revision) when a host can take them.
		hosts, err := tx.HostTunnelIPs(ctx)
		pending = len(hosts) > 0
		return err
	}); err != nil || !pending {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		rs, err := tx.ListRouters(ctx, store.Query{All: true, Hosts: []string{""}})
		if err != nil {
			return err
		}
		for _, r := range rs {
			host, err := placeRouter(ctx, tx)
			if err != nil || host == "" {
				return err
			}
			r.Host = host
			if err := tx.PutRouter(ctx, &r, false); err != nil {
				return err
			}
			ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{r.ID}})
			if err != nil {
				return err
			}
			for _, p := range ports {
				bind(&p, host)
				p.Status = "ACTIVE"
				p.Revision++
				if err := tx.PutPort(ctx, &p, false); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
