package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Forest returns the trees c may see: its project's, or for an admin
// every project's (project narrows it when not empty).
func (s *Service) Forest(ctx context.Context, c *auth.Credentials, project string) ([]*Tree, error) {
	if !readsAll(c) {
		project = c.ProjectID()
	}
	var out []*Tree
	err := s.read(ctx, func(tx *store.Tx) error {
		objs, err := tx.ListLBObjects(ctx, store.LBQuery{ProjectID: project})
		if err != nil {
			return err
		}
		kept := objs[:0]
		for _, o := range objs {
			if o.LoadBalancerID != "" {
				kept = append(kept, o)
			}
		}
		out, err = buildTrees(kept)
		return err
	})
	return out, err
}

// Find returns the tree holding object id of kind, if c may see it.
func (s *Service) Find(ctx context.Context, c *auth.Credentials, kind, id string) (*Tree, error) {
	var out *Tree
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = findTree(ctx, tx, c, kind, id)
		return err
	})
	return out, err
}

func findTree(ctx context.Context, tx *store.Tx, c *auth.Credentials, kind, id string) (*Tree, error) {
	o, err := tx.GetLBObject(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(kind, id)
	}
	if err != nil {
		return nil, err
	}
	if !visibleRead(c, o.ProjectID) {
		return nil, forbidden()
	}
	t, err := loadTree(ctx, tx, o.LoadBalancerID)
	if isNotFound(err) {
		return nil, notFound(kind, id)
	}
	return t, err
}

// providerName checks a requested provider.
func (s *Service) providerName(p *string) (string, error) {
	name := str(p)
	switch name {
	case "":
		return s.cfg.DefaultProvider, nil
	case ProviderOnestack, ProviderAmphora, "octavia":
		return name, nil
	}
	return "", oserr.BadRequest("Provider '%s' is not enabled.", name)
}

// CreateLoadBalancer creates a load balancer (with the listeners and pools
// of a single-call create) and its VIP, placed on the host with the fewest
// load balancers among those whose agent is running. It is PENDING_CREATE
// until that host applies it.
func (s *Service) CreateLoadBalancer(ctx context.Context, c *auth.Credentials, in LoadBalancerInput) (*Tree, error) {
	project := c.ProjectID()
	if in.ProjectID != nil && *in.ProjectID != "" && *in.ProjectID != project {
		if !c.IsAdmin() {
			return nil, forbidden()
		}
		project = *in.ProjectID
	}
	if project == "" {
		return nil, oserr.BadRequest("Missing project ID in request where one is required.")
	}
	provider, err := s.providerName(in.Provider)
	if err != nil {
		return nil, err
	}
	if str(in.VIPPortID) == "" && str(in.VIPNetworkID) == "" && str(in.VIPSubnetID) == "" {
		return nil, validation("VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
	}
	if in.VIPQoSPolicyID != nil && *in.VIPQoSPolicyID != "" {
		return nil, unsupported(provider, "QoS policies on the VIP are not served; leave vip_qos_policy_id out.")
	}
	if a := str(in.VIPAddress); a != "" {
		if _, err := netip.ParseAddr(a); err != nil {
			return nil, oserr.BadRequest("Invalid input for field/attribute vip_address. Value: '%s'. Value should be IPv4 or IPv6 format", a)
		}
	}
	now := s.now()
	var out *Tree
	err = s.write(ctx, func(tx *store.Tx, rev int64) error {
		if err := s.checkQuota(ctx, tx, project, KindLoadBalancer, 1); err != nil {
			return err
		}
		if err := s.checkFlavorZone(ctx, tx, in, provider); err != nil {
			return err
		}
		subnet := str(in.VIPSubnetID)
		network := str(in.VIPNetworkID)
		if subnet != "" {
			sn, err := s.net.Subnet(ctx, tx, c, subnet)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return oserr.BadRequest("Subnet %s not found.", subnet)
				}
				return err
			}
			if network != "" && sn.NetworkID != network {
				return validation("Subnet %s is not on network %s; give a subnet of the VIP network.", subnet, network)
			}
			network = sn.NetworkID
		} else if network != "" {
			subs, err := s.net.NetworkSubnets(ctx, tx, c, network)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Network %s not found.", network)
			}
			if err != nil {
				return err
			}
			if a := str(in.VIPAddress); a != "" {
				for _, sn := range subs {
					if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(netip.MustParseAddr(a)) {
						subnet = sn.ID
					}
				}
				if subnet == "" {
					return validation("Supplied network does not contain a subnet for VIP address specified.")
				}
			} else {
				for _, sn := range subs {
					if sn.IPVersion == 4 && subnet == "" {
						subnet = sn.ID
					}
				}
				if subnet == "" {
					return validation("Supplied network does not contain an IPv4 subnet; the VIP needs one.")
				}
			}
		}
		if nets, err := s.zoneVIPNetworks(ctx, tx, str(in.AvailabilityZone)); err != nil {
			return err
		} else if nets != nil && network != "" && !slices.Contains(nets, network) {
			return validation("Supplied VIP network_id is not allowed by the configuration of this deployment: availability zone %s allows VIPs on %v only.", str(in.AvailabilityZone), nets)
		}
		host, err := s.pickHost(ctx, tx, str(in.AvailabilityZone), "")
		if err != nil {
			return err
		}
		lb := &LoadBalancer{Meta: newMeta(newID(), project, in.Name, in.Description, in.AdminStateUp, in.Tags, now),
			Provider: provider, FlavorID: str(in.FlavorID), AvailabilityZone: str(in.AvailabilityZone), Host: host, Revision: rev,
			Stats: map[string]Stats{}}
		if in.VIPSecurityGroups != nil {
			lb.VIPGroups = slices.Clone(*in.VIPSecurityGroups)
		}
		vip, err := s.net.CreateVIPTx(ctx, tx, c, VIPRequest{LoadBalancerID: lb.ID, ProjectID: project, PortID: str(in.VIPPortID),
			NetworkID: network, SubnetID: subnet, Address: str(in.VIPAddress), Host: host, ExtraGroups: lb.VIPGroups})
		if err != nil {
			return err
		}
		s.touchNetwork(tx)
		lb.VIPAddress, lb.VIPPortID, lb.VIPSubnetID, lb.VIPNetworkID = vip.Address, vip.PortID, vip.SubnetID, vip.NetworkID
		lb.VIPGroupID, lb.VIPUserPort = vip.GroupID, vip.UserPort
		t := newTree(lb)
		t.created[lb.ID] = true
		for _, lin := range in.Listeners {
			lin.LoadBalancerID = lb.ID
			if _, err := s.addListener(t, lin, now); err != nil {
				return err
			}
		}
		for _, pin := range in.Pools {
			pin.LoadBalancerID = lb.ID
			if _, err := s.addPool(t, pin, now); err != nil {
				return err
			}
		}
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		if err := s.resolveCerts(ctx, c, t); err != nil {
			return err
		}
		if err := s.syncVIPRules(ctx, tx, t); err != nil {
			return err
		}
		if err := s.syncMemberPorts(ctx, tx, c, t); err != nil {
			return err
		}
		msg := fmt.Sprintf("created with VIP %s (port %s)", lb.VIPAddress, lb.VIPPortID)
		if host == "" {
			msg += "; no host runs load balancers yet: it waits for one"
		} else {
			msg += "; runs on host " + host
		}
		if err := s.event(ctx, tx, lb, KindLoadBalancer, lb.ID, "create", msg); err != nil {
			return err
		}
		out = t
		return t.save(ctx, tx)
	})
	return out, err
}

// UpdateLoadBalancer changes names, admin state and tags.
func (s *Service) UpdateLoadBalancer(ctx context.Context, c *auth.Credentials, id string, in LoadBalancerInput) (*Tree, error) {
	if in.VIPQoSPolicyID != nil && *in.VIPQoSPolicyID != "" {
		return nil, unsupported(ProviderOnestack, "QoS policies on the VIP are not served; leave vip_qos_policy_id out.")
	}
	if in.VIPSecurityGroups != nil {
		return nil, unsupported(ProviderOnestack, "vip_sg_ids cannot be changed after create; make a new load balancer.")
	}
	return s.change(ctx, c, id, KindLoadBalancer, id, func(tx *store.Tx, t *Tree) error {
		updateMeta(&t.LB.Meta, in.Name, in.Description, in.AdminStateUp, in.Tags, s.now())
		return s.event(ctx, tx, t.LB, KindLoadBalancer, id, "update", "updated")
	})
}

// DeleteLoadBalancer asks the host to remove the load balancer; with
// cascade its whole tree goes, without it one with listeners or pools is
// refused. Its VIP port and security group are removed once the host
// reports it gone (or after the pending timeout if the host is down).
func (s *Service) DeleteLoadBalancer(ctx context.Context, c *auth.Credentials, id string, cascade bool) error {
	return s.write(ctx, func(tx *store.Tx, rev int64) error {
		t, err := loadTree(ctx, tx, id)
		if err != nil {
			return err
		}
		if !visible(c, t.LB.ProjectID) {
			return forbidden()
		}
		if (len(t.Listeners) > 0 || len(t.Pools) > 0) && !cascade {
			return validation("Cannot delete Load Balancer %s - it has children", id)
		}
		// One no host has taken yet can go at once: nothing runs anywhere.
		if isPending(t.LB.ProvisioningStatus) && t.LB.Host != "" {
			return pendingState(t.LB.ProvisioningStatus, id)
		}
		now := s.now()
		for oid := range t.kinds {
			if m := t.meta(oid); m != nil {
				m.ProvisioningStatus, m.UpdatedAt = PendingDelete, now
				t.touch(oid)
			}
		}
		t.LB.Revision, t.LB.StatusReason = rev, ""
		if err := s.event(ctx, tx, t.LB, KindLoadBalancer, id, "delete", "delete requested"+map[bool]string{true: " (cascade)", false: ""}[cascade]); err != nil {
			return err
		}
		if t.LB.Host == "" {
			// Never placed: nothing runs anywhere.
			return s.purge(ctx, tx, t)
		}
		return t.save(ctx, tx)
	})
}

// purge removes a load balancer's VIP, rows and events.
func (s *Service) purge(ctx context.Context, tx *store.Tx, t *Tree) error {
	if s.net != nil && len(t.LB.MemberPorts) > 0 {
		if _, err := s.net.SetMemberPortsTx(ctx, tx, nil, MemberPortsRequest{LoadBalancerID: t.LB.ID, Have: t.LB.MemberPorts}); err != nil {
			return err
		}
	}
	if s.net != nil {
		if err := s.net.DeleteVIPTx(ctx, tx, VIP{PortID: t.LB.VIPPortID, GroupID: t.LB.VIPGroupID, UserPort: t.LB.VIPUserPort}); err != nil {
			return err
		}
		s.touchNetwork(tx)
	}
	for oid := range t.kinds {
		if err := tx.DeleteLBObject(ctx, oid); err != nil {
			return err
		}
	}
	evs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindEvent, ParentID: t.LB.ID})
	if err != nil {
		return err
	}
	for _, e := range evs {
		if err := tx.DeleteLBObject(ctx, e.ID); err != nil {
			return err
		}
	}
	return nil
}

// Failover moves a load balancer to another running host (or rebuilds it
// on its own when it is the only one): the VIP port is bound to the new
// host, whose agent starts it; the old host's agent removes its copy.
func (s *Service) Failover(ctx context.Context, c *auth.Credentials, id string) error {
	return s.write(ctx, func(tx *store.Tx, rev int64) error {
		t, err := loadTree(ctx, tx, id)
		if err != nil {
			return err
		}
		if !visible(c, t.LB.ProjectID) {
			return forbidden()
		}
		if isPending(t.LB.ProvisioningStatus) {
			return pendingState(t.LB.ProvisioningStatus, id)
		}
		host, err := s.pickHost(ctx, tx, t.LB.AvailabilityZone, t.LB.Host)
		if err != nil {
			return err
		}
		if host == "" {
			host = t.LB.Host
		}
		old := t.LB.Host
		if host != old {
			if err := s.bindPorts(ctx, tx, t, host); err != nil {
				return err
			}
		}
		t.LB.Host = host
		t.LB.Failovers++
		t.LB.ProvisioningStatus, t.LB.StatusReason, t.LB.Revision, t.LB.UpdatedAt = PendingUpdate, "", rev, s.now()
		t.touch(id)
		if err := s.event(ctx, tx, t.LB, KindLoadBalancer, id, "failover", fmt.Sprintf("failover from host %s to host %s", orNone(old), orNone(host))); err != nil {
			return err
		}
		return t.save(ctx, tx)
	})
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// LoadBalancerStats sums the listeners' counters.
func (s *Service) LoadBalancerStats(t *Tree) Stats {
	var sum Stats
	for _, st := range t.LB.Stats {
		sum.BytesIn += st.BytesIn
		sum.BytesOut += st.BytesOut
		sum.ActiveConnections += st.ActiveConnections
		sum.TotalConnections += st.TotalConnections
		sum.RequestErrors += st.RequestErrors
	}
	return sum
}
