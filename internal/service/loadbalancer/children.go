package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Every create, update and delete below the load balancer goes through
// change: 404 unless the caller owns it, 409 while the load balancer is
// PENDING_*, then the object (PENDING_CREATE/UPDATE/DELETE), its parents
// and the load balancer (PENDING_UPDATE) wait for the host to apply the
// new revision.

// lbOf returns the load balancer an object of kind belongs to, the kind's
// 404, or a 403 when it is another project's (Octavia checks its policy
// against the object's project: it says the object exists).
func (s *Service) lbOf(ctx context.Context, c *auth.Credentials, kind, id string) (string, error) {
	var lb string
	err := s.read(ctx, func(tx *store.Tx) error {
		o, err := tx.GetLBObject(ctx, kind, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound(kind, id)
		}
		if err == nil && !visible(c, o.ProjectID) {
			return forbidden()
		}
		lb = o.LoadBalancerID
		return err
	})
	return lb, err
}

// parentLB is lbOf for the parent named in a create: a missing parent is
// a 404 with the parent's name (Octavia answers InvalidSubresource's 400
// for some; the message names the parent either way).
func (s *Service) parentLB(ctx context.Context, c *auth.Credentials, kind, id string) (string, error) {
	if id == "" {
		return "", oserr.BadRequest("Invalid input for field/attribute %s_id. Value: 'None'. Mandatory field missing.", map[string]string{KindLoadBalancer: "loadbalancer", KindListener: "listener", KindPool: "pool", KindL7Policy: "l7policy"}[kind])
	}
	lb, err := s.lbOf(ctx, c, kind, id)
	if isNotFound(err) {
		return "", oserr.NotFound("%s %s not found.", names[kind], id)
	}
	return lb, err
}

// pendUpdate marks the listed objects PENDING_UPDATE unless they are
// being created or deleted.
func (s *Service) pendUpdate(t *Tree, ids ...string) {
	now := s.now()
	for _, id := range ids {
		if m := t.meta(id); m != nil && !isPending(m.ProvisioningStatus) {
			t.pend(id, PendingUpdate, now)
		}
	}
}

// ---- listeners

// CreateListener adds a listener to its load balancer.
func (s *Service) CreateListener(ctx context.Context, c *auth.Credentials, in ListenerInput) (*Tree, string, error) {
	lbID, err := s.parentLB(ctx, c, KindLoadBalancer, in.LoadBalancerID)
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindListener, "", func(tx *store.Tx, t *Tree) error {
		l, err := s.addListener(t, in, s.now())
		if err != nil {
			return err
		}
		id = l.ID
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		if err := s.resolveCerts(ctx, c, t); err != nil {
			return err
		}
		return s.event(ctx, tx, t.LB, KindListener, id, "create", fmt.Sprintf("listener %s %s:%d created", id, l.Protocol, l.ProtocolPort))
	})
	return t, id, err
}

// UpdateListener changes a listener.
func (s *Service) UpdateListener(ctx context.Context, c *auth.Credentials, id string, in ListenerInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindListener, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindListener, id, func(tx *store.Tx, t *Tree) error {
		l := t.Listeners[id]
		if l == nil || l.ProvisioningStatus == PendingDelete {
			return notFound(KindListener, id)
		}
		if err := s.applyListener(t, l, in, false); err != nil {
			return err
		}
		updateMeta(&l.Meta, in.Name, in.Description, in.AdminStateUp, in.Tags, s.now())
		if err := s.resolveCerts(ctx, c, t); err != nil {
			return err
		}
		s.pendUpdate(t, id)
		return s.event(ctx, tx, t.LB, KindListener, id, "update", "listener "+id+" updated")
	})
}

// ---- pools

// CreatePool adds a pool, to a listener (as its default pool) or a load
// balancer.
func (s *Service) CreatePool(ctx context.Context, c *auth.Credentials, in PoolInput) (*Tree, string, error) {
	var lbID string
	var err error
	switch {
	case in.ListenerID != "":
		lbID, err = s.parentLB(ctx, c, KindListener, in.ListenerID)
		if err == nil && in.LoadBalancerID != "" && in.LoadBalancerID != lbID {
			err = validation("Listener %s is not on load balancer %s.", in.ListenerID, in.LoadBalancerID)
		}
	case in.LoadBalancerID != "":
		lbID, err = s.parentLB(ctx, c, KindLoadBalancer, in.LoadBalancerID)
	default:
		err = validation("Must provide at least one of: loadbalancer_id, listener_id")
	}
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindPool, "", func(tx *store.Tx, t *Tree) error {
		in.LoadBalancerID = lbID
		p, err := s.addPool(t, in, s.now())
		if err != nil {
			return err
		}
		id = p.ID
		if p.ListenerID != "" {
			s.pendUpdate(t, p.ListenerID)
		}
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		return s.event(ctx, tx, t.LB, KindPool, id, "create", fmt.Sprintf("pool %s %s %s created", id, p.Protocol, p.LBAlgorithm))
	})
	return t, id, err
}

// UpdatePool changes a pool.
func (s *Service) UpdatePool(ctx context.Context, c *auth.Credentials, id string, in PoolInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindPool, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindPool, id, func(tx *store.Tx, t *Tree) error {
		p := t.Pools[id]
		if p == nil || p.ProvisioningStatus == PendingDelete {
			return notFound(KindPool, id)
		}
		if err := s.applyPool(t, p, in, false); err != nil {
			return err
		}
		updateMeta(&p.Meta, in.Name, in.Description, in.AdminStateUp, in.Tags, s.now())
		s.pendUpdate(t, id)
		s.pendUpdate(t, t.listenersOfPool(id)...)
		return s.event(ctx, tx, t.LB, KindPool, id, "update", "pool "+id+" updated")
	})
}

// ---- members

// CreateMember adds a member to a pool. Its address must be on a subnet of
// the load balancer's VIP network, or on the subnet given (which must be
// one the caller can use and hold the address).
func (s *Service) CreateMember(ctx context.Context, c *auth.Credentials, poolID string, in MemberInput) (*Tree, string, error) {
	lbID, err := s.lbOf(ctx, c, KindPool, poolID)
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindMember, "", func(tx *store.Tx, t *Tree) error {
		p := t.Pools[poolID]
		if p == nil || p.ProvisioningStatus == PendingDelete {
			return notFound(KindPool, poolID)
		}
		if err := s.checkMemberAddress(ctx, tx, c, t, in); err != nil {
			return err
		}
		m, err := s.addMember(t, p, in, s.now())
		if err != nil {
			return err
		}
		id = m.ID
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		s.pendUpdate(t, poolID)
		s.pendUpdate(t, t.listenersOfPool(poolID)...)
		return s.event(ctx, tx, t.LB, KindMember, id, "create", fmt.Sprintf("member %s %s:%d added to pool %s", id, m.Address, m.ProtocolPort, poolID))
	})
	return t, id, err
}

// checkMemberAddress refuses a member address the load balancer cannot
// reach: outside every subnet of the VIP's network when the VIP's subnet
// has no gateway either, unless a subnet is given; and a subnet the caller
// cannot use.
func (s *Service) checkMemberAddress(ctx context.Context, tx *store.Tx, c *auth.Credentials, t *Tree, in MemberInput) error {
	if s.net == nil || in.Address == nil {
		return nil
	}
	if sub := str(in.SubnetID); sub != "" {
		// As Octavia: the subnet says where the load balancer reaches the
		// member (a port there when it is another network); the address
		// may lie beyond it, through its routes.
		if _, err := s.net.Subnet(ctx, tx, c, sub); errors.Is(err, store.ErrNotFound) {
			return oserr.BadRequest("Subnet %s not found.", sub)
		} else if err != nil {
			return err
		}
		return nil
	}
	a, err := netip.ParseAddr(*in.Address)
	if err != nil {
		return nil // addMember says so
	}
	subs, err := s.net.NetworkSubnets(ctx, tx, c, t.LB.VIPNetworkID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, sn := range subs {
		if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(a) {
			return nil
		}
	}
	// Beyond the network, the member is reached through the VIP subnet's
	// gateway (as Octavia accepts it); without one it cannot be reached.
	for _, sn := range subs {
		if sn.ID == t.LB.VIPSubnetID && sn.GatewayIP != "" {
			return nil
		}
	}
	return validation("Member address %s is not in any subnet of the load balancer's network %s, and the VIP's subnet %s has no gateway to reach it through; give subnet_id for a member on another network.", a, t.LB.VIPNetworkID, t.LB.VIPSubnetID)
}

// UpdateMember changes a member.
func (s *Service) UpdateMember(ctx context.Context, c *auth.Credentials, poolID, id string, in MemberInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindMember, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindMember, id, func(tx *store.Tx, t *Tree) error {
		m := t.Members[id]
		if m == nil || m.PoolID != poolID || m.ProvisioningStatus == PendingDelete {
			return notFound(KindMember, id)
		}
		if err := applyMember(m, in); err != nil {
			return err
		}
		updateMeta(&m.Meta, in.Name, nil, in.AdminStateUp, in.Tags, s.now())
		s.pendUpdate(t, id, poolID)
		s.pendUpdate(t, t.listenersOfPool(poolID)...)
		return s.event(ctx, tx, t.LB, KindMember, id, "update", "member "+id+" updated")
	})
}

// BatchMembers makes a pool's members exactly ms: members matched by
// address and port are updated, new ones created, the rest deleted
// (Octavia's batch update; with additive only nothing is deleted).
func (s *Service) BatchMembers(ctx context.Context, c *auth.Credentials, poolID string, ms []MemberInput, additive bool) error {
	lbID, err := s.lbOf(ctx, c, KindPool, poolID)
	if err != nil {
		return err
	}
	_, err = s.change(ctx, c, lbID, KindMember, "", func(tx *store.Tx, t *Tree) error {
		p := t.Pools[poolID]
		if p == nil || p.ProvisioningStatus == PendingDelete {
			return notFound(KindPool, poolID)
		}
		now := s.now()
		type key struct {
			addr string
			port int
		}
		have := map[key]*Member{}
		for _, m := range t.Members {
			if m.PoolID == poolID {
				have[key{m.Address, m.ProtocolPort}] = m
			}
		}
		seen := map[key]bool{}
		var created, updated, deleted int
		for _, in := range ms {
			if in.Address == nil || in.ProtocolPort == nil {
				return oserr.BadRequest("Invalid input for field/attribute address or protocol_port. Value: 'None'. Mandatory field missing.")
			}
			a, err := netip.ParseAddr(*in.Address)
			if err != nil {
				return oserr.BadRequest("Invalid input for field/attribute address. Value: '%s'. Value should be IPv4 or IPv6 format", *in.Address)
			}
			k := key{a.String(), *in.ProtocolPort}
			if seen[k] {
				return validation("Member must be updated only once in the same request.")
			}
			seen[k] = true
			if m := have[k]; m != nil {
				if err := applyMember(m, in); err != nil {
					return err
				}
				updateMeta(&m.Meta, in.Name, nil, in.AdminStateUp, in.Tags, now)
				s.pendUpdate(t, m.ID)
				updated++
				continue
			}
			if err := s.checkMemberAddress(ctx, tx, c, t, in); err != nil {
				return err
			}
			if _, err := s.addMember(t, p, in, now); err != nil {
				return err
			}
			created++
		}
		if !additive {
			for k, m := range have {
				if !seen[k] {
					t.pend(m.ID, PendingDelete, now)
					deleted++
				}
			}
		}
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		s.pendUpdate(t, poolID)
		s.pendUpdate(t, t.listenersOfPool(poolID)...)
		return s.event(ctx, tx, t.LB, KindPool, poolID, "update", fmt.Sprintf("pool %s members replaced: %d created, %d updated, %d deleted", poolID, created, updated, deleted))
	})
	return err
}

// ---- health monitors

// CreateHealthMonitor adds a pool's health monitor.
func (s *Service) CreateHealthMonitor(ctx context.Context, c *auth.Credentials, in HealthMonitorInput) (*Tree, string, error) {
	lbID, err := s.parentLB(ctx, c, KindPool, in.PoolID)
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindHealthMonitor, "", func(tx *store.Tx, t *Tree) error {
		h, err := s.addMonitor(t, in, s.now())
		if err != nil {
			return err
		}
		id = h.ID
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		s.pendUpdate(t, in.PoolID)
		s.pendUpdate(t, t.listenersOfPool(in.PoolID)...)
		return s.event(ctx, tx, t.LB, KindHealthMonitor, id, "create", fmt.Sprintf("health monitor %s %s every %ds created on pool %s", id, h.Type, h.Delay, in.PoolID))
	})
	return t, id, err
}

// UpdateHealthMonitor changes a health monitor.
func (s *Service) UpdateHealthMonitor(ctx context.Context, c *auth.Credentials, id string, in HealthMonitorInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindHealthMonitor, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindHealthMonitor, id, func(tx *store.Tx, t *Tree) error {
		h := t.Monitors[id]
		if h == nil || h.ProvisioningStatus == PendingDelete {
			return notFound(KindHealthMonitor, id)
		}
		if err := applyMonitor(h, in); err != nil {
			return err
		}
		updateMeta(&h.Meta, in.Name, nil, in.AdminStateUp, in.Tags, s.now())
		s.pendUpdate(t, id, h.PoolID)
		s.pendUpdate(t, t.listenersOfPool(h.PoolID)...)
		return s.event(ctx, tx, t.LB, KindHealthMonitor, id, "update", "health monitor "+id+" updated")
	})
}

// ---- L7 policies and rules

// CreateL7Policy adds a policy to a listener.
func (s *Service) CreateL7Policy(ctx context.Context, c *auth.Credentials, in L7PolicyInput) (*Tree, string, error) {
	lbID, err := s.parentLB(ctx, c, KindListener, in.ListenerID)
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindL7Policy, "", func(tx *store.Tx, t *Tree) error {
		p, err := s.addPolicy(t, in, s.now())
		if err != nil {
			return err
		}
		id = p.ID
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		s.pendUpdate(t, in.ListenerID)
		return s.event(ctx, tx, t.LB, KindL7Policy, id, "create", fmt.Sprintf("L7 policy %s %s created on listener %s", id, p.Action, in.ListenerID))
	})
	return t, id, err
}

// UpdateL7Policy changes a policy (and its position).
func (s *Service) UpdateL7Policy(ctx context.Context, c *auth.Credentials, id string, in L7PolicyInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindL7Policy, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindL7Policy, id, func(tx *store.Tx, t *Tree) error {
		p := t.Policies[id]
		if p == nil || p.ProvisioningStatus == PendingDelete {
			return notFound(KindL7Policy, id)
		}
		if err := s.applyPolicy(t, p, in); err != nil {
			return err
		}
		if in.Position != nil {
			if *in.Position < 1 {
				return oserr.BadRequest("Invalid input for field/attribute position. Value: '%d'. Value should be between 1 and 2147483647", *in.Position)
			}
			t.reposition(p.ListenerID, id, *in.Position)
		}
		updateMeta(&p.Meta, in.Name, in.Description, in.AdminStateUp, in.Tags, s.now())
		s.pendUpdate(t, id, p.ListenerID)
		return s.event(ctx, tx, t.LB, KindL7Policy, id, "update", "L7 policy "+id+" updated")
	})
}

// CreateL7Rule adds a rule to a policy.
func (s *Service) CreateL7Rule(ctx context.Context, c *auth.Credentials, policyID string, in L7RuleInput) (*Tree, string, error) {
	lbID, err := s.lbOf(ctx, c, KindL7Policy, policyID)
	if err != nil {
		return nil, "", err
	}
	var id string
	t, err := s.change(ctx, c, lbID, KindL7Rule, "", func(tx *store.Tx, t *Tree) error {
		p := t.Policies[policyID]
		if p == nil || p.ProvisioningStatus == PendingDelete {
			return notFound(KindL7Policy, policyID)
		}
		r, err := s.addRule(t, p, in, s.now())
		if err != nil {
			return err
		}
		id = r.ID
		if err := s.checkTreeQuota(ctx, tx, t); err != nil {
			return err
		}
		s.pendUpdate(t, policyID, p.ListenerID)
		return s.event(ctx, tx, t.LB, KindL7Rule, id, "create", fmt.Sprintf("L7 rule %s %s %s created on policy %s", id, r.Type, r.CompareType, policyID))
	})
	return t, id, err
}

// UpdateL7Rule changes a rule.
func (s *Service) UpdateL7Rule(ctx context.Context, c *auth.Credentials, policyID, id string, in L7RuleInput) (*Tree, error) {
	lbID, err := s.lbOf(ctx, c, KindL7Rule, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, c, lbID, KindL7Rule, id, func(tx *store.Tx, t *Tree) error {
		r := t.Rules[id]
		if r == nil || r.PolicyID != policyID || r.ProvisioningStatus == PendingDelete {
			return notFound(KindL7Rule, id)
		}
		if err := applyRule(r, in); err != nil {
			return err
		}
		updateMeta(&r.Meta, nil, nil, in.AdminStateUp, in.Tags, s.now())
		s.pendUpdate(t, id, policyID, r.ListenerID)
		return s.event(ctx, tx, t.LB, KindL7Rule, id, "update", "L7 rule "+id+" updated")
	})
}

// ---- deletes

// Delete removes an object below a load balancer with what hangs below it
// (a listener's policies, a pool's members and monitor, a policy's
// rules). A pool an L7 policy redirects to is refused.
func (s *Service) Delete(ctx context.Context, c *auth.Credentials, kind, id string) error {
	lbID, err := s.lbOf(ctx, c, kind, id)
	if err != nil {
		return err
	}
	_, err = s.change(ctx, c, lbID, kind, id, func(tx *store.Tx, t *Tree) error {
		m := t.meta(id)
		if m == nil || t.kinds[id] != kind || m.ProvisioningStatus == PendingDelete {
			return notFound(kind, id)
		}
		now := s.now()
		doomed := []string{id}
		switch kind {
		case KindListener:
			for pid, p := range t.Policies {
				if p.ListenerID == id {
					doomed = append(doomed, pid)
					for rid, r := range t.Rules {
						if r.PolicyID == pid {
							doomed = append(doomed, rid)
						}
					}
				}
			}
			for _, p := range t.Pools {
				if p.ListenerID == id {
					p.ListenerID = ""
					t.touch(p.ID)
				}
			}
		case KindPool:
			for pid, p := range t.Policies {
				if p.RedirectPoolID == id && p.ProvisioningStatus != PendingDelete {
					return oserr.Conflict("Pool %s is in use by L7 policy %s", id, pid)
				}
			}
			for mid, mm := range t.Members {
				if mm.PoolID == id {
					doomed = append(doomed, mid)
				}
			}
			if hm := t.Pools[id].HealthMonitorID; hm != "" {
				doomed = append(doomed, hm)
			}
			for lid, l := range t.Listeners {
				if l.DefaultPoolID == id {
					l.DefaultPoolID = ""
					s.pendUpdate(t, lid)
				}
			}
		case KindMember:
			s.pendUpdate(t, t.Members[id].PoolID)
			s.pendUpdate(t, t.listenersOfPool(t.Members[id].PoolID)...)
		case KindHealthMonitor:
			pool := t.Monitors[id].PoolID
			if p := t.Pools[pool]; p != nil {
				p.HealthMonitorID = ""
			}
			s.pendUpdate(t, pool)
		case KindL7Policy:
			for rid, r := range t.Rules {
				if r.PolicyID == id {
					doomed = append(doomed, rid)
				}
			}
			s.pendUpdate(t, t.Policies[id].ListenerID)
		case KindL7Rule:
			s.pendUpdate(t, t.Rules[id].PolicyID, t.Rules[id].ListenerID)
		}
		for _, d := range doomed {
			t.pend(d, PendingDelete, now)
		}
		if kind == KindL7Policy {
			p := t.Policies[id]
			t.reposition(p.ListenerID, "", 0)
		}
		return s.event(ctx, tx, t.LB, kind, id, "delete", fmt.Sprintf("%s %s delete requested", names[kind], id))
	})
	return err
}
