package network

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func decodeStrict(r *http.Request, v any) error { return rest.Decode(r, v, true) }

func writeJSON(w http.ResponseWriter, status int, v any) { rest.WriteJSON(w, status, v) }

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

// ---- quotas

func (a *API) listQuotas(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.QuotaProjects(r.Context())
	if err != nil {
		return err
	}
	out := []any{}
	for _, p := range ps {
		q, err := a.svc.Quotas(r.Context(), creds(r), p)
		if err != nil {
			return err
		}
		m := map[string]any{"project_id": p, "tenant_id": p}
		for k, v := range q {
			m[k] = v.Limit
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
	return nil
}

func (a *API) showQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Quotas(r.Context(), creds(r), r.PathValue("project"))
	if err != nil {
		return err
	}
	m := map[string]any{}
	for k, v := range q {
		m[k] = v.Limit
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) showDefaultQuota(w http.ResponseWriter, r *http.Request) error {
	m := map[string]any{}
	for k, v := range a.svc.Config().Quotas {
		m[k] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) showQuotaDetails(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Quotas(r.Context(), creds(r), r.PathValue("project"))
	if err != nil {
		return err
	}
	m := map[string]any{}
	for k, v := range q {
		m[k] = map[string]any{"limit": v.Limit, "used": v.Used, "reserved": v.Reserved}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) updateQuota(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Quota map[string]json.RawMessage `json:"quota"`
	}
	if err := decodeStrict(r, &b); err != nil {
		return err
	}
	if b.Quota == nil {
		return oserr.BadRequest("Resource body required: send {\"quota\": {...}}.")
	}
	limits := map[string]int{}
	for k, raw := range b.Quota {
		if k == "force" || k == "check_limit" {
			continue
		}
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &n) != nil {
				return oserr.BadRequest("Invalid input for %s. Reason: '%s' is not an integer.", k, raw)
			}
		}
		limits[k] = n
	}
	if err := a.svc.SetQuotas(r.Context(), r.PathValue("project"), limits); err != nil {
		return err
	}
	return a.showQuota(w, r)
}

func (a *API) deleteQuota(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.ResetQuotas(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- network IP availability

func availJSON(v svc.IPAvailability) map[string]any {
	subs := []any{}
	total, used := int64(0), 0
	for _, s := range v.Subnets {
		t := json.Number(s.Total.String())
		if s.Total.IsInt64() {
			total += s.Total.Int64()
		}
		used += s.Used
		subs = append(subs, map[string]any{"subnet_id": s.Subnet.ID, "subnet_name": s.Subnet.Name, "cidr": s.Subnet.CIDR,
			"ip_version": s.Subnet.IPVersion, "total_ips": t, "used_ips": s.Used})
	}
	return map[string]any{"network_id": v.Network.ID, "network_name": v.Network.Name, "tenant_id": v.Network.ProjectID,
		"project_id": v.Network.ProjectID, "total_ips": total, "used_ips": used, "subnet_ip_availability": subs}
}

func (a *API) listIPAvailability(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.svc.IPAvailabilities(r.Context())
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(vs))
	for i, v := range vs {
		items[i] = availJSON(v)
	}
	return a.writeList(w, r, "network-ip-availabilities", items, false)
}

func (a *API) showIPAvailability(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.svc.IPAvailabilities(r.Context())
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Network.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, map[string]any{"network_ip_availability": availJSON(v)})
			return nil
		}
	}
	return oserr.NotFound("Network %s could not be found.", r.PathValue("id")).WithType("NetworkNotFound")
}

// ---- tags

func (a *API) tags(r *http.Request, write bool, fn func([]string) ([]string, error)) ([]string, error) {
	kind := r.PathValue("kind")
	if !svc.ValidTagKind(kind) {
		return nil, oserr.NotFound("The resource could not be found: no network API path %s.", r.URL.Path)
	}
	return a.svc.Tags(r.Context(), creds(r), kind, r.PathValue("id"), write, fn)
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	tags, err := a.tags(r, false, func(t []string) ([]string, error) { return t, nil })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": orEmpty(tags)})
	return nil
}

func (a *API) replaceTags(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Tags []string `json:"tags"`
	}
	if err := decodeStrict(r, &b); err != nil {
		return err
	}
	if b.Tags == nil {
		return oserr.BadRequest("Invalid input for tags: send {\"tags\": [...]}.")
	}
	tags, err := a.tags(r, true, func([]string) ([]string, error) {
		out := []string{}
		for _, t := range b.Tags {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": orEmpty(tags)})
	return nil
}

func (a *API) deleteTags(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.tags(r, true, func([]string) ([]string, error) { return []string{}, nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) checkTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, false, func(t []string) ([]string, error) {
		if !slices.Contains(t, tag) {
			return nil, oserr.NotFound("Tag %s could not be found.", tag).WithType("TagNotFound")
		}
		return t, nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, true, func(t []string) ([]string, error) {
		if slices.Contains(t, tag) {
			return t, nil
		}
		return append(t, tag), nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, true, func(t []string) ([]string, error) {
		if !slices.Contains(t, tag) {
			return nil, oserr.NotFound("Tag %s could not be found.", tag).WithType("TagNotFound")
		}
		return slices.DeleteFunc(t, func(x string) bool { return x == tag }), nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
