package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/store"
)

// The hosts' side: which host runs which load balancer, the desired state
// each host's agent applies, and what the agents report back.

func hostID(name string) string { return "lbhost:" + name }

// seenHost records that host's agent is watching (at most every
// seenEvery per host) and places load balancers that wait for a host.
func (s *Service) seenHost(ctx context.Context, host string) error {
	now := s.now()
	s.mu.Lock()
	last := s.seen[host]
	if now.Sub(last) < seenEvery {
		s.mu.Unlock()
		return nil
	}
	s.seen[host] = now
	s.mu.Unlock()
	return s.write(ctx, func(tx *store.Tx, rev int64) error {
		h := Host{Name: host, LastSeen: now}
		o := store.LBObject{ID: hostID(host), Kind: KindHost, Doc: encode(h), CreatedAt: now, UpdatedAt: now}
		if err := tx.UpdateLBObject(ctx, o); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateLBObject(ctx, o); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		// Load balancers made before any host watched wait for one.
		waiting, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindLoadBalancer, HostSet: true})
		if err != nil {
			return err
		}
		for _, o := range waiting {
			t, err := loadTree(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			if t.LB.ProvisioningStatus == PendingDelete {
				if err := s.purge(ctx, tx, t); err != nil {
					return err
				}
				continue
			}
			host, err := s.pickHost(ctx, tx, t.LB.AvailabilityZone, "")
			if err != nil {
				return err
			}
			if host == "" {
				continue // none in its zone yet
			}
			if err := s.bindPorts(ctx, tx, t, host); err != nil {
				return err
			}
			t.LB.Host, t.LB.Revision = host, rev
			t.touch(t.LB.ID)
			if err := s.event(ctx, tx, t.LB, KindLoadBalancer, t.LB.ID, "placed", "placed on host "+host); err != nil {
				return err
			}
			if err := t.save(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// liveHosts are the hosts whose agent watched within HostTimeout.
func (s *Service) liveHosts(ctx context.Context, tx *store.Tx) ([]string, error) {
	objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindHost})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		h, err := decode[Host](o)
		if err != nil {
			return nil, err
		}
		if s.now().Sub(h.LastSeen) < s.cfg.HostTimeout {
			out = append(out, h.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// pickHost returns the live host with the fewest load balancers among
// those of the availability zone zone (all when ""), other than avoid
// when another is live; "" when none is live.
func (s *Service) pickHost(ctx context.Context, tx *store.Tx, zone, avoid string) (string, error) {
	hosts, err := s.liveHosts(ctx, tx)
	if err != nil || len(hosts) == 0 {
		return "", err
	}
	if hosts, err = s.inZone(ctx, tx, zone, hosts); err != nil || len(hosts) == 0 {
		return "", err
	}
	if len(hosts) > 1 {
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return h == avoid })
	}
	counts, err := tx.LBHostCounts(ctx)
	if err != nil {
		return "", err
	}
	best := hosts[0]
	for _, h := range hosts[1:] {
		if counts[h] < counts[best] {
			best = h
		}
	}
	return best, nil
}

// computeZone is the compute availability zone an Octavia availability
// zone narrows placement to (its profile's compute_zone), "" for none.
func (s *Service) computeZone(ctx context.Context, tx *store.Tx, zone string) (string, error) {
	if zone == "" {
		return "", nil
	}
	z, err := get[Zone](ctx, tx, KindZone, zoneID(zone))
	if isNotFound(err) {
		return "", nil // removed since: no narrowing
	}
	if err != nil {
		return "", err
	}
	zp, err := get[ZoneProfile](ctx, tx, KindZoneProfile, z.ProfileID)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var data struct {
		ComputeZone string `json:"compute_zone"`
	}
	_ = json.Unmarshal([]byte(zp.ZoneData), &data) // checked when the profile was written
	return data.ComputeZone, nil
}

// zoneVIPNetworks are the networks an Octavia availability zone lets VIPs
// be on (its profile's valid_vip_networks), nil for any.
func (s *Service) zoneVIPNetworks(ctx context.Context, tx *store.Tx, zone string) ([]string, error) {
	if zone == "" {
		return nil, nil
	}
	z, err := get[Zone](ctx, tx, KindZone, zoneID(zone))
	if err != nil {
		return nil, err
	}
	zp, err := get[ZoneProfile](ctx, tx, KindZoneProfile, z.ProfileID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var data struct {
		Networks []string `json:"valid_vip_networks"`
	}
	_ = json.Unmarshal([]byte(zp.ZoneData), &data)
	return data.Networks, nil
}

// inZone keeps the hosts in the compute zone an Octavia availability zone
// names: a host is in the zone of its zoned host aggregate, else in the
// compute service's default zone (as Nova places servers).
func (s *Service) inZone(ctx context.Context, tx *store.Tx, zone string, hosts []string) ([]string, error) {
	cz, err := s.computeZone(ctx, tx, zone)
	if err != nil || cz == "" {
		return hosts, err
	}
	aggs, err := tx.ListAggregates(ctx)
	if err != nil {
		return nil, err
	}
	of := map[string]string{}
	for _, a := range aggs {
		if a.Zone == "" {
			continue
		}
		for _, h := range a.Hosts {
			of[h] = a.Zone
		}
	}
	var out []string
	for _, h := range hosts {
		hz, ok := of[h]
		if !ok {
			hz = s.cfg.DefaultComputeZone
		}
		if hz == cz {
			out = append(out, h)
		}
	}
	return out, nil
}

// HostSet is every load balancer host runs, with its desired state.
func (s *Service) HostSet(ctx context.Context, host string) (hostapi.LoadBalancerSet, error) {
	set := hostapi.LoadBalancerSet{Host: host, LoadBalancers: []hostapi.LoadBalancer{}}
	var trees []*Tree
	err := s.read(ctx, func(tx *store.Tx) error {
		rev, err := tx.LBaaSRevision(ctx)
		if err != nil {
			return err
		}
		set.Revision = rev
		lbs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindLoadBalancer, Host: host})
		if err != nil || len(lbs) == 0 {
			return err
		}
		ids := make([]string, len(lbs))
		for i, o := range lbs {
			ids[i] = o.ID
		}
		objs, err := tx.ListLBObjects(ctx, store.LBQuery{LoadBalancerIDs: ids})
		if err != nil {
			return err
		}
		trees, err = buildTrees(objs)
		return err
	})
	if err != nil {
		return set, err
	}
	for _, t := range trees {
		set.LoadBalancers = append(set.LoadBalancers, s.desired(ctx, t))
	}
	return set, nil
}

// desired is a tree as its host applies it: objects being deleted left
// out, certificates resolved into PEM bundles.
func (s *Service) desired(ctx context.Context, t *Tree) hostapi.LoadBalancer {
	lb := hostapi.LoadBalancer{ID: t.LB.ID, Revision: t.LB.Revision, Delete: t.LB.ProvisioningStatus == PendingDelete,
		AdminUp: t.LB.AdminStateUp, VIPPortID: t.LB.VIPPortID, VIPAddress: t.LB.VIPAddress,
		Listeners: []hostapi.Listener{}, Pools: []hostapi.Pool{}}
	if lb.Delete {
		return lb
	}
	live := func(m Meta) bool { return m.ProvisioningStatus != PendingDelete }
	for _, id := range sorted(t, t.Pools) {
		p := t.Pools[id]
		if !live(p.Meta) {
			continue
		}
		hp := hostapi.Pool{ID: p.ID, Protocol: p.Protocol, Algorithm: p.LBAlgorithm, AdminUp: p.AdminStateUp, Members: []hostapi.Member{}, TLS: p.TLSEnabled}
		if sp := p.SessionPersistence; sp != nil {
			hp.Persistence = &hostapi.Persistence{Type: sp.Type, CookieName: sp.CookieName, Granularity: sp.PersistenceGranularity}
			if sp.PersistenceTimeout != nil {
				hp.Persistence.Timeout = *sp.PersistenceTimeout
			}
		}
		if p.CACertRef != "" {
			if ca, err := s.loadCA(ctx, nil, p.CACertRef, false); err == nil {
				hp.TLSCA = ca
			}
		}
		if h := t.Monitors[p.HealthMonitorID]; h != nil && live(h.Meta) {
			hm := &hostapi.Monitor{ID: h.ID, Type: h.Type, Delay: h.Delay, Timeout: h.Timeout, MaxRetries: h.MaxRetries,
				MaxRetriesDown: h.MaxRetriesDown, HTTPMethod: h.HTTPMethod, URLPath: h.URLPath, ExpectedCodes: h.ExpectedCodes,
				DomainName: h.DomainName, AdminUp: h.AdminStateUp}
			if h.HTTPVersion != nil {
				hm.HTTPVersion = fmt.Sprintf("%.1f", *h.HTTPVersion)
			}
			hp.Monitor = hm
		}
		for _, mid := range sorted(t, t.Members) {
			m := t.Members[mid]
			if m.PoolID != p.ID || !live(m.Meta) {
				continue
			}
			hm := hostapi.Member{ID: m.ID, Address: m.Address, Port: m.ProtocolPort, Weight: m.Weight, Backup: m.Backup,
				AdminUp: m.AdminStateUp, MonitorAddress: m.MonitorAddress}
			if m.MonitorPort != nil {
				hm.MonitorPort = *m.MonitorPort
			}
			hp.Members = append(hp.Members, hm)
		}
		lb.Pools = append(lb.Pools, hp)
	}
	for _, id := range sorted(t, t.Listeners) {
		l := t.Listeners[id]
		if !live(l.Meta) {
			continue
		}
		hl := hostapi.Listener{ID: l.ID, Protocol: l.Protocol, Port: l.ProtocolPort, AdminUp: l.AdminStateUp,
			ConnectionLimit: l.ConnectionLimit, DefaultPoolID: l.DefaultPoolID, TimeoutClientData: l.TimeoutClientData,
			TimeoutMemberConnect: l.TimeoutMemberConnect, TimeoutMemberData: l.TimeoutMemberData, TimeoutTCPInspect: l.TimeoutTCPInspect,
			InsertHeaders: l.InsertHeaders, AllowedCIDRs: l.AllowedCIDRs, ClientAuth: l.ClientAuth, TLSCiphers: l.TLSCiphers,
			TLSVersion: l.TLSVersions, ALPN: l.ALPN, HSTSMaxAge: l.HSTSMaxAge, HSTSSub: l.HSTSIncludeSubdomains, HSTSPre: l.HSTSPreload}
		if p := t.Pools[l.DefaultPoolID]; p == nil || !live(p.Meta) {
			hl.DefaultPoolID = ""
		}
		for _, ref := range append([]string{l.DefaultTLSRef}, l.SNIRefs...) {
			if ref == "" {
				continue
			}
			if b, err := s.LoadBundle(ctx, nil, ref); err == nil {
				hl.Certificates = append(hl.Certificates, b.PEM)
			}
		}
		if l.ClientCARef != "" {
			hl.ClientCA, _ = s.loadCA(ctx, nil, l.ClientCARef, false)
		}
		if l.ClientCRLRef != "" {
			hl.ClientCRL, _ = s.loadCA(ctx, nil, l.ClientCRLRef, true)
		}
		var pols []*L7Policy
		for _, pid := range sorted(t, t.Policies) {
			if p := t.Policies[pid]; p.ListenerID == l.ID && live(p.Meta) {
				pols = append(pols, p)
			}
		}
		slices.SortStableFunc(pols, func(a, b *L7Policy) int { return a.Position - b.Position })
		for _, p := range pols {
			hpol := hostapi.L7Policy{ID: p.ID, Action: p.Action, Position: p.Position, PoolID: p.RedirectPoolID, URL: p.RedirectURL,
				Prefix: p.RedirectPrefix, AdminUp: p.AdminStateUp, Rules: []hostapi.L7Rule{}}
			if p.RedirectHTTPCode != nil {
				hpol.HTTPCode = *p.RedirectHTTPCode
			}
			for _, rid := range sorted(t, t.Rules) {
				r := t.Rules[rid]
				if r.PolicyID != p.ID || !live(r.Meta) {
					continue
				}
				hpol.Rules = append(hpol.Rules, hostapi.L7Rule{ID: r.ID, Type: r.Type, Compare: r.CompareType, Key: r.Key, Value: r.Value,
					Invert: r.Invert, AdminUp: r.AdminStateUp})
			}
			hl.L7Policies = append(hl.L7Policies, hpol)
		}
		lb.Listeners = append(lb.Listeners, hl)
	}
	return lb
}

// WatchLoadBalancers implements hostapi.LoadBalancerPlane: it waits up to
// 25 s for the revision to pass since.
func (s *Service) WatchLoadBalancers(ctx context.Context, host string, since int64) (hostapi.LoadBalancerSet, error) {
	return s.WatchLoadBalancersWait(ctx, host, since, 25*time.Second)
}

// WatchLoadBalancersWait is WatchLoadBalancers with a chosen wait. Changes
// made in this process wake it at once; another controller's are seen
// within a second.
func (s *Service) WatchLoadBalancersWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.LoadBalancerSet, error) {
	if err := s.seenHost(ctx, host); err != nil {
		return hostapi.LoadBalancerSet{}, err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		wake := s.changes()
		var rev int64
		if err := s.read(ctx, func(tx *store.Tx) (err error) {
			rev, err = tx.LBaaSRevision(ctx)
			return err
		}); err != nil {
			return hostapi.LoadBalancerSet{}, err
		}
		if rev > since {
			return s.HostSet(ctx, host)
		}
		select {
		case <-ctx.Done():
			return hostapi.LoadBalancerSet{}, ctx.Err()
		case <-deadline.C:
			return s.HostSet(ctx, host)
		case <-wake:
		case <-poll.C:
		}
	}
}

// ReportLoadBalancers implements hostapi.LoadBalancerPlane: an applied
// revision makes the tree ACTIVE (objects being deleted go), a failed one
// ERROR with the host's reason; member health sets operating statuses;
// counters are kept for stats. A report of a host that no longer runs the
// load balancer (it moved) is ignored. Status changes do not move the
// desired-state revision, so they wake no watch.
func (s *Service) ReportLoadBalancers(ctx context.Context, r hostapi.LoadBalancerReport) error {
	for _, st := range r.LoadBalancers {
		if err := s.report(ctx, r.Host, st); err != nil {
			return fmt.Errorf("load balancer %s: %w", st.ID, err)
		}
	}
	return nil
}

func (s *Service) report(ctx context.Context, host string, st hostapi.LoadBalancerStatus) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		t, err := loadTree(ctx, tx, st.ID)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.LB.Host != host {
			return nil
		}
		now := s.now()
		if st.Deleted {
			if t.LB.ProvisioningStatus == PendingDelete {
				return s.purge(ctx, tx, t)
			}
			return nil
		}
		current := st.Revision == t.LB.Revision
		switch {
		case current && st.Error != "" && isPending(t.LB.ProvisioningStatus):
			s.fail(t, st.Error, now)
			if err := s.event(ctx, tx, t.LB, KindLoadBalancer, t.LB.ID, "failed", "host "+host+" could not apply the change: "+st.Error); err != nil {
				return err
			}
		case current && st.Error == "" && isPending(t.LB.ProvisioningStatus):
			elapsed := now.Sub(t.LB.UpdatedAt).Round(time.Millisecond)
			s.activate(t, now)
			t.LB.Applied = st.Revision
			if err := s.event(ctx, tx, t.LB, KindLoadBalancer, t.LB.ID, "applied", fmt.Sprintf("host %s applied revision %d in %s", host, st.Revision, elapsed)); err != nil {
				return err
			}
		}
		changes := s.health(t, st, now)
		for _, msg := range changes {
			if err := s.event(ctx, tx, t.LB, KindMember, "", "health", msg); err != nil {
				return err
			}
		}
		if st.Listeners != nil {
			t.LB.Stats = map[string]Stats{}
			for id, ls := range st.Listeners {
				t.LB.Stats[id] = Stats{BytesIn: ls.BytesIn, BytesOut: ls.BytesOut, ActiveConnections: ls.ActiveConnections,
					TotalConnections: ls.TotalConnections, RequestErrors: ls.RequestErrors}
			}
			t.touch(t.LB.ID)
		}
		return t.save(ctx, tx)
	})
}

// activate ends every pending status of t: created and updated objects
// are ACTIVE, deleted ones go.
func (s *Service) activate(t *Tree, now time.Time) {
	for id := range t.kinds {
		m := t.meta(id)
		if m == nil {
			continue
		}
		switch m.ProvisioningStatus {
		case PendingDelete:
			t.remove(id)
		case PendingCreate, PendingUpdate:
			m.ProvisioningStatus, m.UpdatedAt = Active, now
			t.touch(id)
		}
	}
	t.LB.StatusReason = ""
}

// fail puts t's pending objects in ERROR with reason on the load balancer.
func (s *Service) fail(t *Tree, reason string, now time.Time) {
	for id := range t.kinds {
		if m := t.meta(id); m != nil && isPending(m.ProvisioningStatus) {
			m.ProvisioningStatus, m.UpdatedAt = Error, now
			t.touch(id)
		}
	}
	t.LB.StatusReason = reason
	t.touch(t.LB.ID)
}

// health derives operating statuses from the members' health and returns
// the changes users should read as events.
func (s *Service) health(t *Tree, st hostapi.LoadBalancerStatus, now time.Time) []string {
	var changes []string
	set := func(id, status string) {
		m := t.meta(id)
		if m != nil && m.OperatingStatus != status {
			m.OperatingStatus = status
			t.touch(id)
		}
	}
	for _, id := range sorted(t, t.Members) {
		m := t.Members[id]
		status := NoMonitor
		h, known := st.Members[id]
		switch {
		case !m.AdminStateUp:
			status = Offline
		case !known:
			status = m.OperatingStatus
			if status == Offline && m.ProvisioningStatus == Active {
				status = NoMonitor
			}
		case h == hostapi.HealthUp:
			status = Online
		case h == hostapi.HealthDown:
			status = OpError
		case h == hostapi.HealthMaint:
			status = Offline
		case h == hostapi.HealthNoCheck:
			status = NoMonitor
		}
		if status != m.OperatingStatus && (status == OpError || m.OperatingStatus == OpError) {
			changes = append(changes, fmt.Sprintf("member %s (%s:%d) %s -> %s", id, m.Address, m.ProtocolPort, m.OperatingStatus, status))
		}
		set(id, status)
	}
	poolStatus := map[string]string{}
	for _, id := range sorted(t, t.Pools) {
		p := t.Pools[id]
		status := Online
		var n, bad int
		for _, m := range t.Members {
			if m.PoolID != id || !m.AdminStateUp {
				continue
			}
			n++
			if m.OperatingStatus == OpError {
				bad++
			}
		}
		switch {
		case !p.AdminStateUp, len(t.listenersOfPool(id)) == 0:
			status = Offline // as Octavia: a pool no listener uses is offline
		case n > 0 && bad == n:
			status = OpError
		case bad > 0:
			status = Degraded
		}
		poolStatus[id] = status
		set(id, status)
	}
	for id, h := range t.Monitors {
		if h.AdminStateUp {
			set(id, Online)
		} else {
			set(id, Offline)
		}
	}
	for id, p := range t.Policies {
		set(id, map[bool]string{true: Online, false: Offline}[p.AdminStateUp])
	}
	for id, r := range t.Rules {
		set(id, map[bool]string{true: Online, false: Offline}[r.AdminStateUp])
	}
	lbStatus := Online
	for _, id := range sorted(t, t.Listeners) {
		l := t.Listeners[id]
		status := Online
		switch ps := poolStatus[l.DefaultPoolID]; {
		case !l.AdminStateUp:
			status = Offline
		case ps == OpError:
			status = OpError
		case ps == Degraded:
			status = Degraded
		}
		if status == OpError || status == Degraded {
			lbStatus = Degraded
		}
		set(id, status)
	}
	if !t.LB.AdminStateUp {
		lbStatus = Offline
	}
	set(t.LB.ID, lbStatus)
	return changes
}

// Run puts load balancers whose host did not apply a change within
// PendingTimeout in ERROR (a delete then completes without the host: the
// host's agent removes what it still has when it comes back), until ctx
// ends.
func (s *Service) Run(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := s.expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("expiring stuck load balancers failed", "error", err)
		}
	}
}

// expire is one pass of Run.
func (s *Service) expire(ctx context.Context) error {
	var stuck []string
	if err := s.read(ctx, func(tx *store.Tx) error {
		lbs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindLoadBalancer})
		if err != nil {
			return err
		}
		for _, o := range lbs {
			lb, err := decode[LoadBalancer](o)
			if err != nil {
				return err
			}
			if isPending(lb.ProvisioningStatus) && s.now().Sub(lb.UpdatedAt) > s.cfg.PendingTimeout {
				stuck = append(stuck, lb.ID)
			}
		}
		return nil
	}); err != nil || len(stuck) == 0 {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, rev int64) error {
		for _, id := range stuck {
			t, err := loadTree(ctx, tx, id)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if !isPending(t.LB.ProvisioningStatus) || s.now().Sub(t.LB.UpdatedAt) <= s.cfg.PendingTimeout {
				continue
			}
			if t.LB.ProvisioningStatus == PendingDelete {
				if err := s.purge(ctx, tx, t); err != nil {
					return err
				}
				continue
			}
			var why string
			if t.LB.Host == "" && t.LB.AvailabilityZone != "" {
				cz, _ := s.computeZone(ctx, tx, t.LB.AvailabilityZone)
				why = fmt.Sprintf("no host of availability zone %s (compute zone %s) ran a load balancer data plane within %s (add a host to that zone's aggregate, or start one there); delete it and create it again once one runs", t.LB.AvailabilityZone, orNone(cz), s.cfg.PendingTimeout)
			} else if t.LB.Host == "" {
				why = fmt.Sprintf("no host ran a load balancer data plane within %s (start a host: onestack up, or onestack agent with --tunnel-ip); delete it and create it again once one runs", s.cfg.PendingTimeout)
			} else {
				why = fmt.Sprintf("host %s did not apply the change within %s: its agent is down or its load balancer data plane is stuck; 'openstack loadbalancer failover %s' moves it to another host", t.LB.Host, s.cfg.PendingTimeout, id)
			}
			s.fail(t, why, s.now())
			if err := s.event(ctx, tx, t.LB, KindLoadBalancer, id, "failed", why); err != nil {
				return err
			}
			if err := t.save(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// Amphora is the admin view of where a load balancer runs: onestack has
// no amphora guests, and lists each load balancer's HAProxy instance as
// one (role STANDALONE) so the amphora admin API says where it runs.
type Amphora struct {
	ID, LoadBalancerID, Host, HostIP, VIPAddress, VIPPortID, Status string
	CreatedAt, UpdatedAt                                            time.Time
}
