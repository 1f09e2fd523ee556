package network

// Extensions: GET /v2.0/extensions and /v2.0/extensions/{alias}, the Neutron
// API extensions onestack implements.

import (
	"net/http"

	"github.com/onestack/onestack/internal/oserr"
)

// extension is one entry of /v2.0/extensions.
type extension struct{ alias, name, description string }

// extensions lists exactly what this API implements, with Neutron's aliases.
var extensions = []extension{
	{"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
	{"availability_zone", "Availability Zone", "The availability zone extension."},
	{"default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."},
	{"binding", "Port Binding", "Expose port bindings of a virtual port to external application"},
	{"external-net", "Neutron external network", "Adds external network attribute to network resource."},
	{"ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"},
	{"extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"},
	{"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
	{"net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."},
	{"network_availability_zone", "Network Availability Zone", "Availability zone support for network."},
	{"network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."},
	{"pagination", "Pagination support", "Extension that indicates that pagination is enabled."},
	{"port-security", "Port Security", "Provides port security"},
	{"project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."},
	{"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
	{"quotas", "Quota management support", "Expose functions for quotas management per project"},
	{"quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"},
	{"revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."},
	{"router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."},
	{"security-group", "security-group", "The security groups extension."},
	{"sorting", "Sorting support", "Extension that indicates that sorting is enabled."},
	{"standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"},
	{"standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."},
	{"standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."},
	{"standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."},
	{"tag", "Tag support", "Enables to set tag on resources."},
	{"subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"},
	{"stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"},
}

func extJSON(e extension) map[string]any {
	return map[string]any{"alias": e.alias, "name": e.name, "description": e.description, "updated": "2013-01-20T00:00:00-00:00", "links": []any{}}
}

func (a *API) listExtensions(w http.ResponseWriter, _ *http.Request) error {
	out := make([]any, len(extensions))
	for i, e := range extensions {
		out[i] = extJSON(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"extensions": out})
	return nil
}

func (a *API) showExtension(w http.ResponseWriter, r *http.Request) error {
	for _, e := range extensions {
		if e.alias == r.PathValue("alias") {
			writeJSON(w, http.StatusOK, map[string]any{"extension": extJSON(e)})
			return nil
		}
	}
	return oserr.NotFound("Extension with alias %s does not exist", r.PathValue("alias"))
}
