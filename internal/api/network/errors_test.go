package network_test

import (
	"encoding/json"
	"testing"
)

// TestErrorBodies: every refusal is a NeutronError with Neutron's type.
func TestErrorBodies(t *testing.T) {
	e := newEnv(t, "sqlite")
	net := e.call(t, "POST", "/networks", e.aliceTok, `{"network":{"name":"n"}}`).JSON(t)["network"].(map[string]any)["id"].(string)
	const nobody = "3f5e2b1c-0000-4000-8000-000000000000"
	cases := []struct {
		name, method, path, token, body string
		status                          int
		typ                             string
	}{
		{"no token", "GET", "/networks", "", "", 401, "HTTPUnauthorized"},
		{"unknown path", "GET", "/nothing", e.aliceTok, "", 404, "HTTPNotFound"},
		{"method", "PATCH", "/networks", e.aliceTok, "{}", 405, "HTTPMethodNotAllowed"},
		{"network", "GET", "/networks/" + nobody, e.aliceTok, "", 404, "NetworkNotFound"},
		{"subnet", "GET", "/subnets/" + nobody, e.aliceTok, "", 404, "SubnetNotFound"},
		{"port", "GET", "/ports/" + nobody, e.aliceTok, "", 404, "PortNotFound"},
		{"router", "DELETE", "/routers/" + nobody, e.aliceTok, "", 404, "RouterNotFound"},
		{"floating ip", "GET", "/floatingips/" + nobody, e.aliceTok, "", 404, "FloatingIPNotFound"},
		{"group", "GET", "/security-groups/" + nobody, e.aliceTok, "", 404, "SecurityGroupNotFound"},
		{"rule", "GET", "/security-group-rules/" + nobody, e.aliceTok, "", 404, "SecurityGroupRuleNotFound"},
		{"subnet pool", "GET", "/subnetpools/" + nobody, e.aliceTok, "", 404, "SubnetPoolNotFound"},
		{"subnet pool prefixes", "POST", "/subnetpools", e.aliceTok, `{"subnetpool":{"name":"p"}}`, 400, "HTTPBadRequest"},
		{"subnet pool unknown", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","ip_version":4,"subnetpool_id":"` + nobody + `"}}`, 404, "SubnetPoolNotFound"},
		{"malformed", "POST", "/networks", e.aliceTok, `{"network":`, 400, "HTTPBadRequest"},
		{"unknown attribute", "POST", "/networks", e.aliceTok, `{"network":{"colour":"red"}}`, 400, "HTTPBadRequest"},
		{"no body", "POST", "/networks", e.aliceTok, `{}`, 400, "HTTPBadRequest"},
		{"wrong type", "POST", "/networks", e.aliceTok, `{"network":{"admin_state_up":"yes"}}`, 400, "HTTPBadRequest"},
		{"bad cidr", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","cidr":"10.0.0.0/33","ip_version":4}}`, 400, "InvalidInput"},
		{"cidr not network", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","cidr":"10.0.0.1/24","ip_version":4}}`, 400, "InvalidInput"},
		{"version mismatch", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","cidr":"10.0.0.0/24","ip_version":6}}`, 400, "InvalidInput"},
		{"gateway outside", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","cidr":"10.0.0.0/24","ip_version":4,"gateway_ip":"10.9.9.9"}}`, 400, "InvalidInput"},
		{"pool outside", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + net + `","cidr":"10.0.0.0/24","ip_version":4,"allocation_pools":[{"start":"10.0.1.1","end":"10.0.1.9"}]}}`, 400, "OutOfBoundsAllocationPool"},
		{"subnet on unknown network", "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"` + nobody + `","cidr":"10.0.0.0/24","ip_version":4}}`, 404, "NetworkNotFound"},
		{"bad mac", "POST", "/ports", e.aliceTok, `{"port":{"network_id":"` + net + `","mac_address":"zz"}}`, 400, "InvalidInput"},
		{"bad vnic", "POST", "/ports", e.aliceTok, `{"port":{"network_id":"` + net + `","binding:vnic_type":"direct"}}`, 400, "InvalidInput"},
		{"member binds", "POST", "/ports", e.aliceTok, `{"port":{"network_id":"` + net + `","binding:host_id":"h"}}`, 403, "PolicyNotAuthorized"},
		{"bad if-match", "PUT", "/networks/" + net, e.aliceTok, `{"network":{"name":"x"}}`, 400, "HTTPBadRequest"},
		{"vni range", "POST", "/networks", e.adminTok, `{"network":{"provider:network_type":"vxlan","provider:segmentation_id":16777216}}`, 400, "InvalidInput"},
		{"bad type", "POST", "/networks", e.adminTok, `{"network":{"provider:network_type":"vlan"}}`, 400, "InvalidInput"},
		{"flat in use", "POST", "/networks", e.adminTok, `{"network":{"provider:network_type":"flat","provider:physical_network":"public"}}`, 409, "FlatNetworkInUse"},
		{"fip on internal", "POST", "/floatingips", e.aliceTok, `{"floatingip":{"floating_network_id":"` + net + `"}}`, 400, "BadRequest"},
		{"reader quota", "PUT", "/quotas/x", e.aliceTok, `{"quota":{"port":1}}`, 403, "PolicyNotAuthorized"},
		{"extension", "GET", "/extensions/nope", e.aliceTok, "", 404, "HTTPNotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.name == "bad if-match" {
				h = []string{"If-Match", "revision=3"}
			}
			r := e.call(t, c.method, c.path, c.token, c.body, h...)
			var body struct {
				NeutronError struct{ Type, Message, Detail string }
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("not JSON: %d %s", r.Status, r.Body)
			}
			if r.Status != c.status || body.NeutronError.Type != c.typ || body.NeutronError.Message == "" {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Body, c.status, c.typ)
			}
		})
	}
}
