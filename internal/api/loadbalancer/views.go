package loadbalancer

import (
	"sort"

	svc "github.com/onestack/onestack/internal/service/loadbalancer"
)

// Octavia's response bodies, built from a load balancer's tree.

func meta(m svc.Meta, out map[string]any) map[string]any {
	out["id"] = m.ID
	out["project_id"] = m.ProjectID
	out["provisioning_status"] = m.ProvisioningStatus
	out["operating_status"] = m.OperatingStatus
	out["admin_state_up"] = m.AdminStateUp
	out["created_at"] = stamp(m.CreatedAt)
	if m.UpdatedAt.After(m.CreatedAt) {
		out["updated_at"] = stamp(m.UpdatedAt)
	} else {
		out["updated_at"] = nil
	}
	tags := m.Tags
	if tags == nil {
		tags = []string{}
	}
	out["tags"] = tags
	return out
}

// childIDs are the ids of the tree's objects of one kind matching keep, in
// creation order.
func childIDs[T any](t *svc.Tree, m map[string]*T, keep func(*T) bool) []string {
	var out []string
	for id, v := range m {
		if keep(v) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return metaOf(t, out[i]).CreatedAt.Before(metaOf(t, out[j]).CreatedAt) || metaOf(t, out[i]).CreatedAt.Equal(metaOf(t, out[j]).CreatedAt) && out[i] < out[j]
	})
	return out
}

func metaOf(t *svc.Tree, id string) svc.Meta {
	switch {
	case t.Listeners[id] != nil:
		return t.Listeners[id].Meta
	case t.Pools[id] != nil:
		return t.Pools[id].Meta
	case t.Members[id] != nil:
		return t.Members[id].Meta
	case t.Monitors[id] != nil:
		return t.Monitors[id].Meta
	case t.Policies[id] != nil:
		return t.Policies[id].Meta
	case t.Rules[id] != nil:
		return t.Rules[id].Meta
	}
	return t.LB.Meta
}

func lbView(t *svc.Tree) map[string]any {
	lb := t.LB
	out := meta(lb.Meta, map[string]any{"name": lb.Name, "description": lb.Description,
		"vip_address": lb.VIPAddress, "vip_port_id": nullable(lb.VIPPortID), "vip_subnet_id": nullable(lb.VIPSubnetID),
		"vip_network_id": nullable(lb.VIPNetworkID), "vip_qos_policy_id": nullable(lb.VIPQoSPolicyID), "additional_vips": []any{},
		"provider": lb.Provider, "flavor_id": nullable(lb.FlavorID), "availability_zone": nullable(lb.AvailabilityZone),
		"vip_vnic_type": "normal", "status_reason": nullable(lb.StatusReason)})
	out["listeners"] = ids(childIDs(t, t.Listeners, func(*svc.Listener) bool { return true }))
	out["pools"] = ids(childIDs(t, t.Pools, func(*svc.Pool) bool { return true }))
	return out
}

func listenerView(t *svc.Tree, id string) map[string]any {
	l := t.Listeners[id]
	out := meta(l.Meta, map[string]any{"name": l.Name, "description": l.Description, "protocol": l.Protocol,
		"protocol_port": l.ProtocolPort, "connection_limit": l.ConnectionLimit, "default_tls_container_ref": nullable(l.DefaultTLSRef),
		"sni_container_refs": orEmpty(l.SNIRefs), "default_pool_id": nullable(l.DefaultPoolID),
		"insert_headers": l.InsertHeaders, "loadbalancers": ids([]string{t.LB.ID}),
		"timeout_client_data": l.TimeoutClientData, "timeout_member_connect": l.TimeoutMemberConnect,
		"timeout_member_data": l.TimeoutMemberData, "timeout_tcp_inspect": l.TimeoutTCPInspect,
		"client_ca_tls_container_ref": nullable(l.ClientCARef), "client_authentication": l.ClientAuth,
		"client_crl_container_ref": nullable(l.ClientCRLRef), "tls_ciphers": nullable(l.TLSCiphers),
		"hsts_include_subdomains": l.HSTSIncludeSubdomains, "hsts_preload": l.HSTSPreload})
	if l.InsertHeaders == nil {
		out["insert_headers"] = map[string]string{}
	}
	out["allowed_cidrs"] = nilIfEmpty(l.AllowedCIDRs)
	out["tls_versions"] = nilIfEmpty(l.TLSVersions)
	out["alpn_protocols"] = nilIfEmpty(l.ALPN)
	if l.HSTSMaxAge != nil {
		out["hsts_max_age"] = *l.HSTSMaxAge
	} else {
		out["hsts_max_age"] = nil
	}
	out["l7policies"] = ids(childIDs(t, t.Policies, func(p *svc.L7Policy) bool { return p.ListenerID == id }))
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nilIfEmpty(s []string) any {
	if len(s) == 0 {
		return nil
	}
	return s
}

func poolView(t *svc.Tree, id string) map[string]any {
	p := t.Pools[id]
	out := meta(p.Meta, map[string]any{"name": p.Name, "description": p.Description, "protocol": p.Protocol,
		"lb_algorithm": p.LBAlgorithm, "loadbalancers": ids([]string{t.LB.ID}), "healthmonitor_id": nullable(p.HealthMonitorID),
		"tls_enabled": p.TLSEnabled, "tls_container_ref": nullable(p.TLSContainerRef), "ca_tls_container_ref": nullable(p.CACertRef),
		"crl_container_ref": nullable(p.CRLRef), "tls_ciphers": nullable(p.TLSCiphers)})
	out["tls_versions"] = nilIfEmpty(p.TLSVersions)
	out["alpn_protocols"] = nilIfEmpty(p.ALPN)
	if sp := p.SessionPersistence; sp != nil {
		v := map[string]any{"type": sp.Type, "cookie_name": nullable(sp.CookieName)}
		if p.Protocol == "UDP" {
			v["persistence_timeout"] = sp.PersistenceTimeout
			v["persistence_granularity"] = nullable(sp.PersistenceGranularity)
		}
		out["session_persistence"] = v
	} else {
		out["session_persistence"] = nil
	}
	var listeners []string
	for lid, l := range t.Listeners {
		if l.DefaultPoolID == id {
			listeners = append(listeners, lid)
		}
	}
	for _, pol := range t.Policies {
		if pol.RedirectPoolID == id {
			listeners = append(listeners, pol.ListenerID)
		}
	}
	sort.Strings(listeners)
	uniq := listeners[:0]
	for i, l := range listeners {
		if i == 0 || l != listeners[i-1] {
			uniq = append(uniq, l)
		}
	}
	out["listeners"] = ids(uniq)
	out["members"] = ids(childIDs(t, t.Members, func(m *svc.Member) bool { return m.PoolID == id }))
	return out
}

func memberView(t *svc.Tree, id string) map[string]any {
	m := t.Members[id]
	out := meta(m.Meta, map[string]any{"name": m.Name, "address": m.Address, "protocol_port": m.ProtocolPort,
		"weight": m.Weight, "backup": m.Backup, "subnet_id": nullable(m.SubnetID), "monitor_address": nullable(m.MonitorAddress),
		"vnic_type": m.VNICType})
	if m.MonitorPort != nil {
		out["monitor_port"] = *m.MonitorPort
	} else {
		out["monitor_port"] = nil
	}
	return out
}

func monitorView(t *svc.Tree, id string) map[string]any {
	h := t.Monitors[id]
	out := meta(h.Meta, map[string]any{"name": h.Name, "type": h.Type, "delay": h.Delay, "timeout": h.Timeout,
		"max_retries": h.MaxRetries, "max_retries_down": h.MaxRetriesDown, "http_method": nullable(h.HTTPMethod),
		"url_path": nullable(h.URLPath), "expected_codes": nullable(h.ExpectedCodes), "pools": ids([]string{h.PoolID}),
		"domain_name": nullable(h.DomainName)})
	if h.HTTPVersion != nil {
		out["http_version"] = *h.HTTPVersion
	} else {
		out["http_version"] = nil
	}
	return out
}

func policyView(t *svc.Tree, id string) map[string]any {
	p := t.Policies[id]
	out := meta(p.Meta, map[string]any{"name": p.Name, "description": p.Description, "listener_id": p.ListenerID,
		"action": p.Action, "position": p.Position, "redirect_pool_id": nullable(p.RedirectPoolID),
		"redirect_url": nullable(p.RedirectURL), "redirect_prefix": nullable(p.RedirectPrefix)})
	if p.RedirectHTTPCode != nil {
		out["redirect_http_code"] = *p.RedirectHTTPCode
	} else {
		out["redirect_http_code"] = nil
	}
	out["rules"] = ids(childIDs(t, t.Rules, func(r *svc.L7Rule) bool { return r.PolicyID == id }))
	return out
}

func ruleView(t *svc.Tree, id string) map[string]any {
	r := t.Rules[id]
	return meta(r.Meta, map[string]any{"type": r.Type, "compare_type": r.CompareType, "key": nullable(r.Key),
		"value": r.Value, "invert": r.Invert})
}

// statusTree is GET .../loadbalancers/{id}/status.
func statusTree(t *svc.Tree) map[string]any {
	var listeners []any
	for _, lid := range childIDs(t, t.Listeners, func(*svc.Listener) bool { return true }) {
		l := t.Listeners[lid]
		var pools []any
		poolIDs := map[string]bool{}
		if l.DefaultPoolID != "" {
			poolIDs[l.DefaultPoolID] = true
		}
		for _, p := range t.Policies {
			if p.ListenerID == lid && p.RedirectPoolID != "" {
				poolIDs[p.RedirectPoolID] = true
			}
		}
		for _, pid := range childIDs(t, t.Pools, func(p *svc.Pool) bool { return poolIDs[p.ID] }) {
			p := t.Pools[pid]
			var members []any
			for _, mid := range childIDs(t, t.Members, func(m *svc.Member) bool { return m.PoolID == pid }) {
				m := t.Members[mid]
				members = append(members, map[string]any{"id": m.ID, "name": m.Name, "operating_status": m.OperatingStatus,
					"provisioning_status": m.ProvisioningStatus, "address": m.Address, "protocol_port": m.ProtocolPort})
			}
			pv := map[string]any{"id": p.ID, "name": p.Name, "operating_status": p.OperatingStatus,
				"provisioning_status": p.ProvisioningStatus, "members": orAny(members)}
			if h := t.Monitors[p.HealthMonitorID]; h != nil {
				pv["health_monitor"] = map[string]any{"id": h.ID, "name": h.Name, "type": h.Type,
					"operating_status": h.OperatingStatus, "provisioning_status": h.ProvisioningStatus}
			}
			pools = append(pools, pv)
		}
		listeners = append(listeners, map[string]any{"id": l.ID, "name": l.Name, "operating_status": l.OperatingStatus,
			"provisioning_status": l.ProvisioningStatus, "pools": orAny(pools)})
	}
	return map[string]any{"statuses": map[string]any{"loadbalancer": map[string]any{"id": t.LB.ID, "name": t.LB.Name,
		"operating_status": t.LB.OperatingStatus, "provisioning_status": t.LB.ProvisioningStatus, "listeners": orAny(listeners)}}}
}

func orAny(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

func statsView(s svc.Stats) map[string]any {
	return map[string]any{"stats": map[string]any{"bytes_in": s.BytesIn, "bytes_out": s.BytesOut,
		"active_connections": s.ActiveConnections, "total_connections": s.TotalConnections, "request_errors": s.RequestErrors}}
}
