package network_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/provider"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

func publicNetwork(t *testing.T, sc *gophercloud.ServiceClient) networks.Network {
	t.Helper()
	pages, err := networks.List(sc, networks.ListOpts{Name: "public"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := networks.ExtractNetworks(pages)
	if len(ns) != 1 {
		t.Fatalf("public networks: %d", len(ns))
	}
	return ns[0]
}

func TestNetworkLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// Bootstrap: the external network, visible to everyone.
		pub := publicNetwork(t, e.alice)
		var ext struct {
			networks.Network
			external.NetworkExternalExt
			provider.NetworkProviderExt
		}
		if err := networks.Get(ctx, e.admin, pub.ID).ExtractInto(&ext); err != nil {
			t.Fatal(err)
		}
		if !ext.External || ext.NetworkType != "flat" || ext.PhysicalNetwork != "public" || ext.Shared || len(ext.Subnets) != 1 {
			t.Errorf("public: %+v", ext)
		}
		psub, err := subnets.Get(ctx, e.admin, ext.Subnets[0]).Extract()
		if err != nil || psub.CIDR != "172.24.4.0/24" || psub.GatewayIP != "172.24.4.1" || psub.EnableDHCP ||
			len(psub.AllocationPools) != 1 || psub.AllocationPools[0].Start != "172.24.4.2" || psub.AllocationPools[0].End != "172.24.4.254" {
			t.Errorf("public-subnet: %+v %v", psub, err)
		}

		// A tenant network with a subnet gets a DHCP port.
		up := true
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "web", AdminStateUp: &up}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		var nx struct {
			networks.Network
			provider.NetworkProviderExt
		}
		if err := networks.Get(ctx, e.admin, n.ID).ExtractInto(&nx); err != nil {
			t.Fatal(err)
		}
		if nx.NetworkType != "vxlan" || nx.SegmentationID == "" || nx.Status != "ACTIVE" {
			t.Errorf("tenant network as admin sees it: %+v", nx)
		}
		raw := e.call(t, "GET", "/networks/"+n.ID, e.aliceTok, nil).JSON(t)["network"].(map[string]any)
		if raw["mtu"].(float64) != 1450 || raw["revision_number"].(float64) != 1 || raw["project_id"] != e.shopID {
			t.Errorf("network body: %v", raw)
		}
		if _, ok := raw["provider:network_type"]; ok {
			t.Errorf("a member sees provider attributes: %v", raw)
		}
		sn, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.1.0.0/24", IPVersion: gophercloud.IPv4,
			DNSNameservers: []string{"10.1.0.53"}, HostRoutes: []subnets.HostRoute{{DestinationCIDR: "10.9.0.0/16", NextHop: "10.1.0.9"}}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if sn.GatewayIP != "10.1.0.1" || len(sn.AllocationPools) != 1 || sn.AllocationPools[0].Start != "10.1.0.2" || sn.AllocationPools[0].End != "10.1.0.254" || !sn.EnableDHCP {
			t.Errorf("subnet: %+v", sn)
		}
		// Overlap within the network is refused.
		_, err = subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.1.0.128/25", IPVersion: gophercloud.IPv4}).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Errorf("overlapping subnet: %v", err)
		}
		dhcp := listPorts(t, e.admin, ports.ListOpts{NetworkID: n.ID, DeviceOwner: "network:dhcp"})
		if len(dhcp) != 1 || len(dhcp[0].FixedIPs) != 1 || dhcp[0].FixedIPs[0].IPAddress != "10.1.0.2" {
			t.Fatalf("dhcp port: %+v", dhcp)
		}

		// A port: MAC, address, default security group, binding.
		p, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID, Name: "p1"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.MACAddress, "fa:16:3e:") || len(p.FixedIPs) != 1 || p.FixedIPs[0].IPAddress != "10.1.0.3" || p.Status != "DOWN" || len(p.SecurityGroups) != 1 {
			t.Errorf("port: %+v", p)
		}
		def, err := groups.Get(ctx, e.alice, p.SecurityGroups[0]).Extract()
		if err != nil || def.Name != "default" || len(def.Rules) != 4 {
			t.Errorf("default group: %+v %v", def, err)
		}
		var bound struct {
			ports.Port
			portsbinding.PortsBindingExt
		}
		host := "host-1"
		if err := ports.Update(ctx, e.admin, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, HostID: &host}).ExtractInto(&bound); err != nil {
			t.Fatal(err)
		}
		if bound.HostID != "host-1" || bound.VIFType != "bridge" || bound.VNICType != "normal" {
			t.Errorf("bound port: %+v", bound)
		}
		// A chosen address; the same address twice is IpAddressInUse.
		p2, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "10.1.0.50"}}}).Extract()
		if err != nil || p2.FixedIPs[0].IPAddress != "10.1.0.50" {
			t.Fatalf("port with address: %+v %v", p2, err)
		}
		r := e.call(t, "POST", "/ports", e.aliceTok, `{"port":{"network_id":"`+n.ID+`","fixed_ips":[{"ip_address":"10.1.0.50"}]}}`)
		if r.Status != 409 || !strings.Contains(string(r.Body), `"type":"IpAddressInUse"`) {
			t.Errorf("address twice: %d %s", r.Status, r.Body)
		}

		// Filters, fields, sorting, paging.
		got := listPorts(t, e.alice, ports.ListOpts{NetworkID: n.ID, FixedIPs: []ports.FixedIPOpts{{IPAddress: "10.1.0.50"}}})
		if len(got) != 1 || got[0].ID != p2.ID {
			t.Errorf("fixed_ips filter: %+v", got)
		}
		page := e.call(t, "GET", "/ports?network_id="+n.ID+"&limit=1&sort_key=mac_address&sort_dir=asc&fields=id&fields=mac_address", e.aliceTok, nil).JSON(t)
		items := page["ports"].([]any)
		if len(items) != 1 || len(items[0].(map[string]any)) != 2 || page["ports_links"] == nil {
			t.Errorf("page: %v", page)
		}
		all := listPorts(t, e.alice, ports.ListOpts{Limit: 1})
		if len(all) != 3 { // p1, p2 and the DHCP port (the network owner's, as in Neutron)
			t.Errorf("paged listing (gophercloud follows links): %d ports", len(all))
		}

		// An admin's project filter.
		if got := listPorts(t, e.admin, ports.ListOpts{ProjectID: e.shopID}); len(got) != 3 {
			t.Errorf("admin ports of shop: %d", len(got))
		}
		if got := listPorts(t, e.admin, ports.ListOpts{ProjectID: e.rivalID}); len(got) != 0 {
			t.Errorf("admin ports of rival: %d", len(got))
		}

		// Revision If-Match.
		cur := e.call(t, "GET", "/networks/"+n.ID, e.aliceTok, nil).JSON(t)["network"].(map[string]any)["revision_number"].(float64)
		r = e.call(t, "PUT", "/networks/"+n.ID, e.aliceTok, `{"network":{"name":"x"}}`, "If-Match", "revision_number=999")
		if r.Status != 412 || !strings.Contains(string(r.Body), "RevisionNumberConstraintFailed") {
			t.Errorf("stale If-Match: %d %s", r.Status, r.Body)
		}
		r = e.call(t, "PUT", "/networks/"+n.ID, e.aliceTok, `{"network":{"name":"web2"}}`, "If-Match", "revision_number="+ftoa(cur))
		if r.Status != 200 || r.JSON(t)["network"].(map[string]any)["revision_number"].(float64) != cur+1 {
			t.Errorf("matching If-Match: %d %s", r.Status, r.Body)
		}

		// If-Match on delete.
		r = e.call(t, "DELETE", "/networks/"+n.ID, e.aliceTok, nil, "If-Match", "revision_number=1")
		if r.Status != 412 {
			t.Errorf("delete with a stale If-Match: %d %s", r.Status, r.Body)
		}

		// Tags.
		if r := e.call(t, "PUT", "/networks/"+n.ID+"/tags/blue", e.aliceTok, nil); r.Status != 201 {
			t.Errorf("add tag: %d %s", r.Status, r.Body)
		}
		tagged, _ := networks.List(e.alice, networks.ListOpts{Tags: "blue"}).AllPages(ctx)
		if ns, _ := networks.ExtractNetworks(tagged); len(ns) != 1 || ns[0].ID != n.ID {
			t.Errorf("tags filter: %+v", ns)
		}

		// In use: subnet and network.
		if err := subnets.Delete(ctx, e.alice, sn.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("delete subnet in use: %v", err)
		}
		if err := networks.Delete(ctx, e.alice, n.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("delete network in use: %v", err)
		}
		for _, id := range []string{p.ID, p2.ID} {
			if err := ports.Delete(ctx, e.alice, id).ExtractErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := networks.Delete(ctx, e.alice, n.ID).ExtractErr(); err != nil {
			t.Errorf("delete network (DHCP port and subnet go with it): %v", err)
		}
		if left := listPorts(t, e.admin, ports.ListOpts{NetworkID: n.ID}); len(left) != 0 {
			t.Errorf("ports left: %+v", left)
		}
	})
}

func ftoa(f float64) string { return strconvF(f) }

func listPorts(t *testing.T, sc *gophercloud.ServiceClient, o ports.ListOpts) []ports.Port {
	t.Helper()
	pages, err := ports.List(sc, o).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestRoutersAndFloatingIPs(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		pub := publicNetwork(t, e.alice)
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "app"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		sn, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "192.168.7.0/24", IPVersion: gophercloud.IPv4}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		fip, err := floatingips.Create(ctx, e.alice, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(fip.FloatingIP, "172.24.4.") || fip.Status != "DOWN" || fip.PortID != "" {
			t.Errorf("floating ip: %+v", fip)
		}
		// No router yet: the port's subnet cannot reach public.
		r := e.call(t, "PUT", "/floatingips/"+fip.ID, e.aliceTok, `{"floatingip":{"port_id":"`+p.ID+`"}}`)
		if r.Status != 404 || !strings.Contains(string(r.Body), "ExternalGatewayForFloatingIPNotFound") {
			t.Errorf("associate without router: %d %s", r.Status, r.Body)
		}
		rt, err := routers.Create(ctx, e.alice, routers.CreateOpts{Name: "edge", GatewayInfo: &routers.GatewayInfo{NetworkID: pub.ID}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if rt.GatewayInfo.NetworkID != pub.ID || len(rt.GatewayInfo.ExternalFixedIPs) != 1 || !*rt.GatewayInfo.EnableSNAT {
			t.Errorf("router: %+v", rt)
		}
		info, err := routers.AddInterface(ctx, e.alice, rt.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract()
		if err != nil || info.SubnetID != sn.ID || info.PortID == "" || info.ID != rt.ID {
			t.Fatalf("add interface: %+v %v", info, err)
		}
		gw, err := ports.Get(ctx, e.alice, info.PortID).Extract()
		if err != nil || gw.FixedIPs[0].IPAddress != "192.168.7.1" || gw.DeviceOwner != "network:router_interface" {
			t.Errorf("interface port: %+v %v", gw, err)
		}
		fip, err = floatingips.Update(ctx, e.alice, fip.ID, floatingips.UpdateOpts{PortID: &p.ID}).Extract()
		if err != nil || fip.PortID != p.ID || fip.RouterID != rt.ID || fip.FixedIP != p.FixedIPs[0].IPAddress {
			t.Fatalf("associate: %+v %v", fip, err)
		}
		// Router and subnet in use.
		if err := routers.Delete(ctx, e.alice, rt.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("delete router with interface: %v", err)
		}
		if _, err := routers.RemoveInterface(ctx, e.alice, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("remove interface needed by a floating IP: %v", err)
		}
		// Deleting the port disassociates.
		if err := ports.Delete(ctx, e.alice, p.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		fip, _ = floatingips.Get(ctx, e.alice, fip.ID).Extract()
		if fip.PortID != "" || fip.Status != "DOWN" {
			t.Errorf("floating ip after its port went: %+v", fip)
		}
		if _, err := routers.RemoveInterface(ctx, e.alice, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract(); err != nil {
			t.Errorf("remove interface: %v", err)
		}
		if err := floatingips.Delete(ctx, e.alice, fip.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if err := routers.Delete(ctx, e.alice, rt.ID).ExtractErr(); err != nil {
			t.Errorf("delete router: %v", err)
		}
		// Public holds no stray ports.
		if left := listPorts(t, e.admin, ports.ListOpts{NetworkID: pub.ID}); len(left) != 0 {
			t.Errorf("ports left on public: %+v", left)
		}
	})
}

func TestSecurityGroups(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		pages, err := groups.List(e.alice, groups.ListOpts{}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gs, _ := groups.ExtractGroups(pages)
		if len(gs) != 1 || gs[0].Name != "default" || len(gs[0].Rules) != 4 {
			t.Fatalf("default group on first list: %+v", gs)
		}
		g, err := groups.Create(ctx, e.alice, groups.CreateOpts{Name: "web"}).Extract()
		if err != nil || len(g.Rules) != 2 {
			t.Fatalf("group: %+v %v", g, err)
		}
		rule, err := rules.Create(ctx, e.alice, rules.CreateOpts{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4,
			Protocol: rules.ProtocolTCP, PortRangeMin: 80, PortRangeMax: 443, RemoteIPPrefix: "10.0.0.0/8"}).Extract()
		if err != nil || rule.Protocol != "tcp" || rule.PortRangeMin != 80 {
			t.Fatalf("rule: %+v %v", rule, err)
		}
		cases := []struct {
			name, body, typ string
			status          int
		}{
			{"duplicate", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","protocol":"tcp","port_range_min":80,"port_range_max":443,"remote_ip_prefix":"10.0.0.0/8"}}`, "SecurityGroupRuleExists", 409},
			{"bad direction", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"sideways"}}`, "HTTPBadRequest", 400},
			{"bad protocol", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","protocol":"tcpx"}}`, "SecurityGroupRuleInvalidProtocol", 400},
			{"range reversed", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","protocol":"tcp","port_range_min":90,"port_range_max":80}}`, "SecurityGroupInvalidPortRange", 400},
			{"icmp code", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","protocol":"icmp","port_range_min":8,"port_range_max":300}}`, "SecurityGroupInvalidIcmpValue", 400},
			{"ethertype vs cidr", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","ethertype":"IPv6","remote_ip_prefix":"10.0.0.0/8"}}`, "SecurityGroupRuleParameterConflict", 400},
			{"bad ethertype", `{"security_group_rule":{"security_group_id":"` + g.ID + `","direction":"ingress","ethertype":"IPv5"}}`, "HTTPBadRequest", 400},
			{"unknown group", `{"security_group_rule":{"security_group_id":"00000000-0000-0000-0000-000000000000","direction":"ingress"}}`, "SecurityGroupNotFound", 404},
		}
		for _, c := range cases {
			r := e.call(t, "POST", "/security-group-rules", e.aliceTok, c.body)
			if r.Status != c.status || !strings.Contains(string(r.Body), `"type":"`+c.typ+`"`) {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
		// icmp by number, remote group.
		if _, err := rules.Create(ctx, e.alice, rules.CreateOpts{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: "1", PortRangeMin: 8, PortRangeMax: 0}).Extract(); err != nil {
			t.Errorf("icmp rule by number: %v", err)
		}
		if _, err := rules.Create(ctx, e.alice, rules.CreateOpts{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType6, RemoteGroupID: g.ID}).Extract(); err != nil {
			t.Errorf("remote group rule: %v", err)
		}
		// A group in use cannot go.
		n, _ := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "n"}).Extract()
		p, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID, SecurityGroups: &[]string{g.ID}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if err := groups.Delete(ctx, e.alice, g.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("delete group in use: %v", err)
		}
		_ = ports.Delete(ctx, e.alice, p.ID).ExtractErr()
		if err := rules.Delete(ctx, e.alice, rule.ID).ExtractErr(); err != nil {
			t.Error(err)
		}
		if err := groups.Delete(ctx, e.alice, g.ID).ExtractErr(); err != nil {
			t.Errorf("delete group: %v", err)
		}
	})
}

func TestBulkCreateAndExternalSubnets(t *testing.T) {
	e := newEnv(t, "sqlite")
	r := e.call(t, "POST", "/networks", e.aliceTok, `{"networks":[{"name":"a"},{"name":"b"}]}`)
	if r.Status != 201 || len(r.JSON(t)["networks"].([]any)) != 2 {
		t.Fatalf("bulk networks: %d %s", r.Status, r.Body)
	}
	// All or nothing: the second fails, the first is undone.
	before := len(e.call(t, "GET", "/networks", e.aliceTok, nil).JSON(t)["networks"].([]any))
	r = e.call(t, "POST", "/networks", e.aliceTok, `{"networks":[{"name":"c"},{"shared":true}]}`)
	after := len(e.call(t, "GET", "/networks", e.aliceTok, nil).JSON(t)["networks"].([]any))
	if r.Status != 403 || after != before {
		t.Errorf("failed bulk: %d %s; networks %d -> %d", r.Status, r.Body, before, after)
	}
	// The external network is visible to all, its subnet only to its owner.
	subs := e.call(t, "GET", "/subnets", e.bobTok, nil).JSON(t)["subnets"].([]any)
	if len(subs) != 0 {
		t.Errorf("bob sees subnets: %v", subs)
	}
	if r := e.call(t, "GET", "/agents", e.bobTok, nil); r.Status != 200 || len(r.JSON(t)["agents"].([]any)) != 0 {
		t.Errorf("agents: %d %s", r.Status, r.Body)
	}
}

func TestDiscoveryAndAvailability(t *testing.T) {
	e := newEnv(t, "sqlite")
	v := e.Do(t, "GET", "/network/", "", nil).JSON(t)["versions"].([]any)[0].(map[string]any)
	if v["id"] != "v2.0" || v["status"] != "CURRENT" {
		t.Errorf("versions: %v", v)
	}
	res := e.Do(t, "GET", "/network/v2.0", "", nil).JSON(t)["resources"].([]any)
	if len(res) < 8 {
		t.Errorf("resources: %v", res)
	}
	exts := e.call(t, "GET", "/extensions", e.aliceTok, nil).JSON(t)["extensions"].([]any)
	aliases := map[string]bool{}
	for _, x := range exts {
		aliases[x.(map[string]any)["alias"].(string)] = true
	}
	for _, want := range []string{"router", "external-net", "security-group", "binding", "provider", "quotas", "standard-attr-tag", "revision-if-match", "extraroute", "port-security", "allowed-address-pairs"} {
		if !aliases[want] {
			t.Errorf("extension %s missing", want)
		}
	}
	if e.call(t, "GET", "/extensions/router", e.aliceTok, nil).Status != 200 {
		t.Error("show extension router")
	}
	// The catalog lists neutron at /network.
	cat := e.Do(t, "GET", "/identity/v3/auth/catalog", e.aliceTok, nil).JSON(t)["catalog"].([]any)
	found := false
	for _, s := range cat {
		m := s.(map[string]any)
		if m["type"] == "network" && m["name"] == "neutron" {
			for _, ep := range m["endpoints"].([]any) {
				found = found || strings.HasSuffix(ep.(map[string]any)["url"].(string), "/network")
			}
		}
	}
	if !found {
		t.Errorf("catalog: no neutron endpoint at /network: %v", cat)
	}
	// IP availability: public's subnet has 253 addresses, none used.
	av := e.call(t, "GET", "/network-ip-availabilities", e.adminTok, nil).JSON(t)["network_ip_availabilities"].([]any)
	if len(av) != 1 || av[0].(map[string]any)["total_ips"].(float64) != 253 || av[0].(map[string]any)["used_ips"].(float64) != 0 {
		t.Errorf("ip availability: %v", av)
	}
	if e.call(t, "GET", "/network-ip-availabilities", e.aliceTok, nil).Status != 403 {
		t.Error("member reads ip availability")
	}
}

func TestIPv6Subnets(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "v6"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.6.0.0/24", IPVersion: gophercloud.IPv4}).Extract(); err != nil {
		t.Fatal(err)
	}
	sn, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "2001:db8:6::/64", IPVersion: gophercloud.IPv6,
		IPv6AddressMode: "slaac", IPv6RAMode: "slaac"}).Extract()
	if err != nil || sn.GatewayIP != "2001:db8:6::1" {
		t.Fatalf("v6 subnet: %+v %v", sn, err)
	}
	p, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID}).Extract()
	if err != nil || len(p.FixedIPs) != 2 {
		t.Fatalf("dual-stack port: %+v %v", p, err)
	}
	mac := strings.Split(p.MACAddress, ":")
	want := netip.MustParseAddr("2001:db8:6:0:f816:3eff:fe" + mac[3] + ":" + mac[4] + mac[5]).String()
	var v6 string
	for _, f := range p.FixedIPs {
		if f.SubnetID == sn.ID {
			v6 = f.IPAddress
		}
	}
	if v6 != want {
		t.Errorf("SLAAC address %s, want EUI-64 %s (fixed ips %+v)", v6, want, p.FixedIPs)
	}
	// Stateful DHCPv6 subnets hand out from the pool.
	sn2, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "fd00:6::/64", IPVersion: gophercloud.IPv6, IPv6AddressMode: "dhcpv6-stateful", IPv6RAMode: "dhcpv6-stateful"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sn2.ID}}}).Extract()
	if err != nil || !strings.HasPrefix(p2.FixedIPs[0].IPAddress, "fd00:6::") {
		t.Errorf("stateful v6 port: %+v %v", p2, err)
	}
}
