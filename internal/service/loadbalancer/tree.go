package loadbalancer

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Tree is a load balancer with every object below it, read in one query
// and changed in memory: each change checks the whole tree (ports in use,
// pools referred to) and writes only what it touched, in one transaction.
type Tree struct {
	LB        *LoadBalancer
	Listeners map[string]*Listener
	Pools     map[string]*Pool
	Members   map[string]*Member
	Monitors  map[string]*HealthMonitor
	Policies  map[string]*L7Policy
	Rules     map[string]*L7Rule

	created map[string]bool
	dirty   map[string]bool
	removed map[string]bool
	kinds   map[string]string
	order   map[string]int // creation order, for stable lists
}

func newTree(lb *LoadBalancer) *Tree {
	return &Tree{LB: lb, Listeners: map[string]*Listener{}, Pools: map[string]*Pool{}, Members: map[string]*Member{},
		Monitors: map[string]*HealthMonitor{}, Policies: map[string]*L7Policy{}, Rules: map[string]*L7Rule{},
		created: map[string]bool{}, dirty: map[string]bool{}, removed: map[string]bool{}, kinds: map[string]string{lb.ID: KindLoadBalancer},
		order: map[string]int{}}
}

// loadTree reads load balancer id and its objects.
func loadTree(ctx context.Context, tx *store.Tx, id string) (*Tree, error) {
	objs, err := tx.ListLBObjects(ctx, store.LBQuery{LoadBalancerIDs: []string{id}})
	if err != nil {
		return nil, err
	}
	ts, err := buildTrees(objs)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 || ts[0].LB.ID != id {
		return nil, notFound(KindLoadBalancer, id)
	}
	return ts[0], nil
}

// buildTrees groups objects (in creation order) into their load
// balancers' trees, in the load balancers' creation order.
func buildTrees(objs []store.LBObject) ([]*Tree, error) {
	byLB := map[string]*Tree{}
	var out []*Tree
	for _, o := range objs {
		if o.Kind != KindLoadBalancer {
			continue
		}
		lb, err := decode[LoadBalancer](o)
		if err != nil {
			return nil, err
		}
		lb.Host = o.Host
		t := newTree(lb)
		byLB[lb.ID] = t
		out = append(out, t)
	}
	for i, o := range objs {
		t := byLB[o.LoadBalancerID]
		if t == nil {
			continue
		}
		t.order[o.ID] = i
		t.kinds[o.ID] = o.Kind
		var err error
		switch o.Kind {
		case KindListener:
			var v *Listener
			if v, err = decode[Listener](o); err == nil {
				t.Listeners[o.ID] = v
			}
		case KindPool:
			var v *Pool
			if v, err = decode[Pool](o); err == nil {
				t.Pools[o.ID] = v
			}
		case KindMember:
			var v *Member
			if v, err = decode[Member](o); err == nil {
				t.Members[o.ID] = v
			}
		case KindHealthMonitor:
			var v *HealthMonitor
			if v, err = decode[HealthMonitor](o); err == nil {
				t.Monitors[o.ID] = v
			}
		case KindL7Policy:
			var v *L7Policy
			if v, err = decode[L7Policy](o); err == nil {
				t.Policies[o.ID] = v
			}
		case KindL7Rule:
			var v *L7Rule
			if v, err = decode[L7Rule](o); err == nil {
				t.Rules[o.ID] = v
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// add puts a new object into the tree.
func (t *Tree) add(kind, id string, v any) {
	t.kinds[id], t.created[id], t.order[id] = kind, true, len(t.order)+1<<20
	switch x := v.(type) {
	case *Listener:
		t.Listeners[id] = x
	case *Pool:
		t.Pools[id] = x
	case *Member:
		t.Members[id] = x
	case *HealthMonitor:
		t.Monitors[id] = x
	case *L7Policy:
		t.Policies[id] = x
	case *L7Rule:
		t.Rules[id] = x
	}
}

func (t *Tree) touch(id string) { t.dirty[id] = true }

// remove drops an object from the store on save.
func (t *Tree) remove(id string) {
	t.removed[id] = true
	switch t.kinds[id] {
	case KindListener:
		delete(t.Listeners, id)
	case KindPool:
		delete(t.Pools, id)
	case KindMember:
		delete(t.Members, id)
	case KindHealthMonitor:
		delete(t.Monitors, id)
	case KindL7Policy:
		delete(t.Policies, id)
	case KindL7Rule:
		delete(t.Rules, id)
	}
}

// meta returns the Meta of any object of the tree.
func (t *Tree) meta(id string) *Meta {
	if id == t.LB.ID {
		return &t.LB.Meta
	}
	if v, ok := t.Listeners[id]; ok {
		return &v.Meta
	}
	if v, ok := t.Pools[id]; ok {
		return &v.Meta
	}
	if v, ok := t.Members[id]; ok {
		return &v.Meta
	}
	if v, ok := t.Monitors[id]; ok {
		return &v.Meta
	}
	if v, ok := t.Policies[id]; ok {
		return &v.Meta
	}
	if v, ok := t.Rules[id]; ok {
		return &v.Meta
	}
	return nil
}

func (t *Tree) doc(id string) (kind, parent, doc string, ok bool) {
	switch kind = t.kinds[id]; kind {
	case KindLoadBalancer:
		return kind, "", encode(t.LB), true
	case KindListener:
		if v := t.Listeners[id]; v != nil {
			return kind, "", encode(v), true
		}
	case KindPool:
		if v := t.Pools[id]; v != nil {
			return kind, v.ListenerID, encode(v), true
		}
	case KindMember:
		if v := t.Members[id]; v != nil {
			return kind, v.PoolID, encode(v), true
		}
	case KindHealthMonitor:
		if v := t.Monitors[id]; v != nil {
			return kind, v.PoolID, encode(v), true
		}
	case KindL7Policy:
		if v := t.Policies[id]; v != nil {
			return kind, v.ListenerID, encode(v), true
		}
	case KindL7Rule:
		if v := t.Rules[id]; v != nil {
			return kind, v.PolicyID, encode(v), true
		}
	}
	return kind, "", "", false
}

// save writes what changed.
func (t *Tree) save(ctx context.Context, tx *store.Tx) error {
	for id := range t.removed {
		if err := tx.DeleteLBObject(ctx, id); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(t.created)+len(t.dirty))
	for id := range t.created {
		ids = append(ids, id)
	}
	for id := range t.dirty {
		if !t.created[id] {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return t.order[a] - t.order[b] })
	for _, id := range ids {
		if t.removed[id] {
			continue
		}
		kind, parent, doc, ok := t.doc(id)
		if !ok {
			continue
		}
		m := t.meta(id)
		o := store.LBObject{ID: id, Kind: kind, ProjectID: t.LB.ProjectID, LoadBalancerID: t.LB.ID, ParentID: parent, Doc: doc,
			CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
		if kind == KindLoadBalancer {
			o.Host = t.LB.Host
		}
		var err error
		if t.created[id] {
			err = tx.CreateLBObject(ctx, o)
		} else {
			err = tx.UpdateLBObject(ctx, o)
		}
		if err != nil {
			return err
		}
	}
	t.created, t.dirty, t.removed = map[string]bool{}, map[string]bool{}, map[string]bool{}
	return nil
}

// sorted returns the ids of m in creation order.
func sorted[T any](t *Tree, m map[string]*T) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if d := t.order[a] - t.order[b]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return ids
}

// listenersOfPool returns the listeners whose default pool, or an L7
// policy's redirect pool, is pool.
func (t *Tree) listenersOfPool(pool string) []string {
	set := map[string]bool{}
	if p := t.Pools[pool]; p != nil && p.ListenerID != "" {
		set[p.ListenerID] = true
	}
	for id, l := range t.Listeners {
		if l.DefaultPoolID == pool {
			set[id] = true
		}
	}
	for _, p := range t.Policies {
		if p.RedirectPoolID == pool {
			set[p.ListenerID] = true
		}
	}
	var out []string
	for id := range set {
		if t.Listeners[id] != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ---- the mutation protocol

// change runs fn on the tree of load balancer lbID for c, with Octavia's
// rules: the caller must own it (404 otherwise), it must not be PENDING_*
// (409), and afterwards the load balancer and the parents fn marks go
// PENDING_UPDATE with the new revision, for the host to apply.
func (s *Service) change(ctx context.Context, c *auth.Credentials, lbID, kind, id string, fn func(tx *store.Tx, t *Tree) error) (*Tree, error) {
	var out *Tree
	err := s.write(ctx, func(tx *store.Tx, rev int64) error {
		t, err := loadTree(ctx, tx, lbID)
		if err != nil {
			if kind != KindLoadBalancer && isNotFound(err) {
				return notFound(kind, id)
			}
			return err
		}
		if !visible(c, t.LB.ProjectID) {
			return forbidden() // as Octavia: its policy is checked against the object's project
		}
		if isPending(t.LB.ProvisioningStatus) {
			if kind == KindLoadBalancer {
				return pendingState(t.LB.ProvisioningStatus, lbID)
			}
			return immutable(KindLoadBalancer, lbID)
		}
		if err := fn(tx, t); err != nil {
			return err
		}
		now := s.now()
		if !isPending(t.LB.ProvisioningStatus) {
			t.LB.ProvisioningStatus = PendingUpdate
		}
		t.LB.StatusReason = ""
		t.LB.Revision = rev
		t.LB.UpdatedAt = now
		t.touch(t.LB.ID)
		if err := s.syncVIPRules(ctx, tx, t); err != nil {
			return err
		}
		if err := s.syncMemberPorts(ctx, tx, c, t); err != nil {
			return err
		}
		out = t
		return t.save(ctx, tx)
	})
	return out, err
}

// pend marks an object and its parents for an update.
func (t *Tree) pend(id, status string, now time.Time) {
	m := t.meta(id)
	if m == nil {
		return
	}
	m.ProvisioningStatus = status
	m.UpdatedAt = now
	t.touch(id)
}

func isPending(s string) bool { return strings.HasPrefix(s, "PENDING_") }

func isNotFound(err error) bool { return oserr.Is(err, http.StatusNotFound) }

// syncMemberPorts gives the load balancer a port on each subnet of its
// live members that is outside the VIP's network, and removes the ports of
// subnets no member uses any more (all of them once it is being deleted).
func (s *Service) syncMemberPorts(ctx context.Context, tx *store.Tx, c *auth.Credentials, t *Tree) error {
	if s.net == nil || t.LB.VIPGroupID == "" {
		return nil
	}
	var subs []string
	seen := map[string]bool{}
	if t.LB.ProvisioningStatus != PendingDelete {
		for _, id := range sorted(t, t.Members) {
			m := t.Members[id]
			if m.ProvisioningStatus == PendingDelete || m.SubnetID == "" || seen[m.SubnetID] {
				continue
			}
			seen[m.SubnetID] = true
			sn, err := tx.GetSubnet(ctx, m.SubnetID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since: nothing to plug
			}
			if err != nil {
				return err
			}
			if sn.NetworkID != t.LB.VIPNetworkID {
				subs = append(subs, m.SubnetID)
			}
		}
	}
	if len(subs) == 0 && len(t.LB.MemberPorts) == 0 {
		return nil
	}
	ports, err := s.net.SetMemberPortsTx(ctx, tx, c, MemberPortsRequest{LoadBalancerID: t.LB.ID, ProjectID: t.LB.ProjectID,
		Host: t.LB.Host, GroupID: t.LB.VIPGroupID, Subnets: subs, Have: t.LB.MemberPorts})
	if err != nil {
		return err
	}
	if !maps.Equal(ports, t.LB.MemberPorts) {
		t.LB.MemberPorts = ports
		if len(ports) == 0 {
			t.LB.MemberPorts = nil
		}
		t.touch(t.LB.ID)
		s.touchNetwork(tx)
	}
	return nil
}

// bindPorts binds the load balancer's VIP and member-network ports to
// host (placement after a wait, failover).
func (s *Service) bindPorts(ctx context.Context, tx *store.Tx, t *Tree, host string) error {
	if s.net == nil {
		return nil
	}
	for _, id := range append([]string{t.LB.VIPPortID}, slices.Sorted(maps.Values(t.LB.MemberPorts))...) {
		if err := s.net.BindVIPTx(ctx, tx, id, host); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	s.touchNetwork(tx)
	return nil
}

// syncVIPRules makes the VIP's security group let in exactly the clients
// of the listeners that are not being deleted.
func (s *Service) syncVIPRules(ctx context.Context, tx *store.Tx, t *Tree) error {
	if s.net == nil || t.LB.VIPGroupID == "" || t.LB.ProvisioningStatus == PendingDelete {
		return nil
	}
	var rules []VIPRule
	for _, id := range sorted(t, t.Listeners) {
		l := t.Listeners[id]
		if l.ProvisioningStatus == PendingDelete {
			continue
		}
		proto := "tcp"
		if l.Protocol == "UDP" {
			proto = "udp"
		}
		cidrs := l.AllowedCIDRs
		if len(cidrs) == 0 {
			cidrs = []string{"0.0.0.0/0"}
		}
		for _, cidr := range cidrs {
			rules = append(rules, VIPRule{Protocol: proto, Port: l.ProtocolPort, CIDR: cidr})
		}
	}
	s.touchNetwork(tx)
	return s.net.SetVIPRulesTx(ctx, tx, t.LB.VIPGroupID, rules)
}
