package network_test

import (
	"testing"

	"github.com/onestack/onestack/internal/api/network"
	"github.com/onestack/onestack/internal/oserr"
)

// badRequestOnly fails unless err is a 4xx *oserr.Error with a message: a
// decoder never panics nor answers bad input with a 500.
func badRequestOnly(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*oserr.Error)
	if !ok || e.Status < 400 || e.Status >= 500 || e.Message == "" {
		t.Fatalf("decoder error %T %v is not a 4xx with a message", err, err)
	}
}

func fuzzDecoder(f *testing.F, member string, seeds ...string) {
	for _, s := range append(seeds, `{}`, `[]`, `null`, `{"`+member+`": null}`, `{"`+member+`": {"x": 1}}`, `{"`+member+`": []}`) {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		if err := network.DecodeForTest(member, body, create); err != nil {
			badRequestOnly(t, err)
		}
	})
}

func FuzzDecodeNetwork(f *testing.F) {
	fuzzDecoder(f, "network",
		`{"network": {"name": "n", "admin_state_up": true, "shared": false, "router:external": false, "mtu": 1400}}`,
		`{"network": {"provider:network_type": "vxlan", "provider:segmentation_id": "42"}}`,
		`{"network": {"provider:network_type": "flat", "provider:physical_network": "public", "provider:segmentation_id": null}}`,
		`{"network": {"availability_zone_hints": ["nova"], "tenant_id": "p"}}`)
}

func FuzzDecodeSubnet(f *testing.F) {
	fuzzDecoder(f, "subnet",
		`{"subnet": {"network_id": "n", "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": null}}`,
		`{"subnet": {"network_id": "n", "cidr": "fd00::/64", "ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}}`,
		`{"subnet": {"network_id": "n", "cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.5", "end": "10.0.0.9"}], "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}], "dns_nameservers": ["8.8.8.8"]}}`,
		`{"subnet": {"network_id": "n", "subnetpool_id": "p", "prefixlen": 26, "ip_version": 4}}`,
		`{"subnet": {"network_id": "n", "use_default_subnetpool": true, "ip_version": 6, "prefixlen": "64"}}`,
		`{"subnet": {"subnetpool_id": null, "prefixlen": null}}`, `{"subnet": {"prefixlen": 999}}`, `{"subnet": {"prefixlen": "x"}}`,
		`{"subnet": {"gateway_ip": 7}}`, `{"subnet": {"ip_version": 5}}`)
}

func FuzzDecodeSubnetPool(f *testing.F) {
	fuzzDecoder(f, "subnetpool",
		`{"subnetpool": {"name": "p", "prefixes": ["10.0.0.0/16", "10.1.0.0/16"], "default_prefixlen": 24, "min_prefixlen": 20, "max_prefixlen": 28}}`,
		`{"subnetpool": {"prefixes": ["fd00::/48"], "default_prefixlen": "64", "shared": true, "is_default": true, "tenant_id": "t"}}`,
		`{"subnetpool": {"default_quota": null, "address_scope_id": null, "description": "d"}}`,
		`{"subnetpool": {"default_quota": 5}}`, `{"subnetpool": {"address_scope_id": "s"}}`, `{"subnetpool": {"min_prefixlen": -1}}`,
		`{"subnetpool": {"max_prefixlen": "x"}}`, `{"subnetpool": {"prefixes": "10.0.0.0/8"}}`)
}

func FuzzDecodePort(f *testing.F) {
	fuzzDecoder(f, "port",
		`{"port": {"network_id": "n", "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}], "mac_address": "fa:16:3e:00:00:01"}}`,
		`{"port": {"network_id": "n", "binding:host_id": "h", "binding:profile": {"a": 1}, "binding:vnic_type": "normal"}}`,
		`{"port": {"allowed_address_pairs": [{"ip_address": "10.0.0.0/24", "mac_address": "fa:16:3e:00:00:02"}], "security_groups": ["g"], "port_security_enabled": false}}`,
		`{"port": {"fixed_ips": [{}]}}`, `{"port": {"binding:profile": "x"}}`, `{"port": {"allowed_address_pairs": [{}]}}`)
}

func FuzzDecodeRouter(f *testing.F) {
	fuzzDecoder(f, "router",
		`{"router": {"name": "r", "external_gateway_info": {"network_id": "n", "enable_snat": false, "external_fixed_ips": [{"ip_address": "172.24.4.9"}]}}}`,
		`{"router": {"external_gateway_info": {}}}`, `{"router": {"external_gateway_info": null, "routes": [{"destination": "10.0.0.0/8", "nexthop": "10.1.0.1"}]}}`,
		`{"router": {"external_gateway_info": {"colour": 1}}}`, `{"router": {"external_gateway_info": 5}}`)
}

func FuzzDecodeFloatingIP(f *testing.F) {
	fuzzDecoder(f, "floatingip",
		`{"floatingip": {"floating_network_id": "n", "port_id": "p", "fixed_ip_address": "10.0.0.3"}}`,
		`{"floatingip": {"port_id": null}}`, `{"floatingip": {"port_id": 3}}`)
}

func FuzzDecodeSecurityGroupRule(f *testing.F) {
	fuzzDecoder(f, "security_group_rule",
		`{"security_group_rule": {"security_group_id": "g", "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": "22"}}`,
		`{"security_group_rule": {"security_group_id": "g", "direction": "egress", "protocol": 1, "port_range_min": null}}`,
		`{"security_group_rule": {"port_range_min": "x"}}`)
}

func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{"revision_number=3", "revision_number=x", "", "*", "revision_number=1, foo", "revision_number=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if _, err := network.IfMatchForTest(h); err != nil {
			badRequestOnly(t, err)
		}
	})
}
