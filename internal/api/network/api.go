// Package network serves Neutron's v2.0 API under /network: routes,
// request decoding, policy and Neutron's wire format (including its
// NeutronError bodies, filters, fields, sorting and paging) over the
// networking service.
package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/page"
	svc "github.com/onestack/onestack/internal/service/network"
)

// Prefix is where Neutron is mounted; clients append /v2.0.
const Prefix = "/network"

// API is the Neutron v2.0 HTTP API.
type API struct {
	svc       *svc.Service
	base      string // e.g. http://127.0.0.1:8000/network
	log       *slog.Logger
	validator auth.Validator
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator}
}

// Service returns the routes ready to mount.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: oserr.Neutron, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Versions: a.versions, Endpoints: []rest.Endpoint{{Type: "network", Name: "neutron"}}}
}

// Policy: Neutron's defaults. Any project member may create and change its
// own resources; readers only read; admins everything. Ownership and
// visibility (shared and external networks) are checked in the service.

func reader(c *auth.Credentials, _ *http.Request) error {
	if c.ProjectID() == "" && !c.IsAdmin() {
		return oserr.Forbidden("Networking needs a project-scoped token; authenticate with a project (e.g. --os-project-name).").WithType("PolicyNotAuthorized")
	}
	return nil
}

func member(c *auth.Credentials, r *http.Request) error {
	if err := reader(c, r); err != nil {
		return err
	}
	if !c.HasRole(auth.RoleMember) && !c.IsAdmin() {
		return oserr.Forbidden("Policy doesn't allow this: your role on project %s is reader, and changes need member.", c.ProjectID()).WithType("PolicyNotAuthorized")
	}
	return nil
}

func admin(rule string) rest.Access {
	return func(c *auth.Credentials, _ *http.Request) error {
		if c.IsAdmin() {
			return nil
		}
		return oserr.Forbidden("(rule:%s) is disallowed by policy.", rule).WithType("PolicyNotAuthorized")
	}
}

func (a *API) routes() []rest.Route {
	rs := []rest.Route{
		rest.R("GET", "/v2.0", nil, a.resources),
		rest.R("GET", "/v2.0/{$}", nil, a.resources),
		rest.R("GET", "/v2.0/extensions", reader, a.listExtensions),
		rest.R("GET", "/v2.0/extensions/{alias}", reader, a.showExtension),
		rest.R("GET", "/v2.0/availability_zones", reader, a.listZones),
		rest.R("GET", "/v2.0/agents", reader, a.listAgents),

		rest.R("GET", "/v2.0/networks", reader, a.listNetworks),
		rest.R("POST", "/v2.0/networks", member, a.createNetwork),
		rest.R("GET", "/v2.0/networks/{id}", reader, a.showNetwork),
		rest.R("PUT", "/v2.0/networks/{id}", member, a.updateNetwork),
		rest.R("DELETE", "/v2.0/networks/{id}", member, a.deleteNetwork),

		rest.R("GET", "/v2.0/subnets", reader, a.listSubnets),
		rest.R("POST", "/v2.0/subnets", member, a.createSubnet),
		rest.R("GET", "/v2.0/subnets/{id}", reader, a.showSubnet),
		rest.R("PUT", "/v2.0/subnets/{id}", member, a.updateSubnet),
		rest.R("DELETE", "/v2.0/subnets/{id}", member, a.deleteSubnet),

		rest.R("GET", "/v2.0/subnetpools", reader, a.listSubnetPools),
		rest.R("POST", "/v2.0/subnetpools", member, a.createSubnetPool),
		rest.R("GET", "/v2.0/subnetpools/{id}", reader, a.showSubnetPool),
		rest.R("PUT", "/v2.0/subnetpools/{id}", member, a.updateSubnetPool),
		rest.R("DELETE", "/v2.0/subnetpools/{id}", member, a.deleteSubnetPool),

		rest.R("GET", "/v2.0/ports", reader, a.listPorts),
		rest.R("POST", "/v2.0/ports", member, a.createPort),
		rest.R("GET", "/v2.0/ports/{id}", reader, a.showPort),
		rest.R("PUT", "/v2.0/ports/{id}", member, a.updatePort),
		rest.R("DELETE", "/v2.0/ports/{id}", member, a.deletePort),

		rest.R("GET", "/v2.0/security-groups", reader, a.listSecurityGroups),
		rest.R("POST", "/v2.0/security-groups", member, a.createSecurityGroup),
		rest.R("GET", "/v2.0/security-groups/{id}", reader, a.showSecurityGroup),
		rest.R("PUT", "/v2.0/security-groups/{id}", member, a.updateSecurityGroup),
		rest.R("DELETE", "/v2.0/security-groups/{id}", member, a.deleteSecurityGroup),
		rest.R("GET", "/v2.0/security-group-rules", reader, a.listRules),
		rest.R("POST", "/v2.0/security-group-rules", member, a.createRule),
		rest.R("GET", "/v2.0/security-group-rules/{id}", reader, a.showRule),
		rest.R("DELETE", "/v2.0/security-group-rules/{id}", member, a.deleteRule),

		rest.R("GET", "/v2.0/routers", reader, a.listRouters),
		rest.R("POST", "/v2.0/routers", member, a.createRouter),
		rest.R("GET", "/v2.0/routers/{id}", reader, a.showRouter),
		rest.R("PUT", "/v2.0/routers/{id}", member, a.updateRouter),
		rest.R("DELETE", "/v2.0/routers/{id}", member, a.deleteRouter),
		rest.R("PUT", "/v2.0/routers/{id}/add_router_interface", member, a.addInterface),
		rest.R("PUT", "/v2.0/routers/{id}/remove_router_interface", member, a.removeInterface),

		rest.R("GET", "/v2.0/floatingips", reader, a.listFloatingIPs),
		rest.R("POST", "/v2.0/floatingips", member, a.createFloatingIP),
		rest.R("GET", "/v2.0/floatingips/{id}", reader, a.showFloatingIP),
		rest.R("PUT", "/v2.0/floatingips/{id}", member, a.updateFloatingIP),
		rest.R("DELETE", "/v2.0/floatingips/{id}", member, a.deleteFloatingIP),

		rest.R("GET", "/v2.0/quotas", admin("get_quota"), a.listQuotas),
		rest.R("GET", "/v2.0/quotas/{project}", reader, a.showQuota),
		rest.R("GET", "/v2.0/quotas/{project}/default", reader, a.showDefaultQuota),
		rest.R("GET", "/v2.0/quotas/{project}/details.json", reader, a.showQuotaDetails),
		rest.R("GET", "/v2.0/quotas/{project}/details", reader, a.showQuotaDetails),
		rest.R("PUT", "/v2.0/quotas/{project}", admin("update_quota"), a.updateQuota),
		rest.R("DELETE", "/v2.0/quotas/{project}", admin("delete_quota"), a.deleteQuota),

		rest.R("GET", "/v2.0/network-ip-availabilities", admin("get_network_ip_availability"), a.listIPAvailability),
		rest.R("GET", "/v2.0/network-ip-availabilities/{id}", admin("get_network_ip_availability"), a.showIPAvailability),

		rest.R("GET", "/v2.0/{kind}/{id}/tags", reader, a.listTags),
		rest.R("PUT", "/v2.0/{kind}/{id}/tags", member, a.replaceTags),
		rest.R("DELETE", "/v2.0/{kind}/{id}/tags", member, a.deleteTags),
		rest.R("GET", "/v2.0/{kind}/{id}/tags/{tag}", reader, a.checkTag),
		rest.R("PUT", "/v2.0/{kind}/{id}/tags/{tag}", member, a.addTag),
		rest.R("DELETE", "/v2.0/{kind}/{id}/tags/{tag}", member, a.deleteTag),
	}
	return rs
}

func (a *API) versions(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]any{"href": a.base + "/v2.0/", "rel": "self"}},
	}}})
	return nil
}

var collections = []struct{ name, collection string }{
	{"subnet", "subnets"}, {"subnetpool", "subnetpools"}, {"network", "networks"}, {"port", "ports"}, {"security_group", "security-groups"},
	{"security_group_rule", "security-group-rules"}, {"router", "routers"}, {"floatingip", "floatingips"},
	{"quota", "quotas"}, {"network_ip_availability", "network-ip-availabilities"}, {"availability_zone", "availability_zones"},
	{"extension", "extensions"},
}

func (a *API) resources(w http.ResponseWriter, _ *http.Request) error {
	var rs []any
	for _, c := range collections {
		rs = append(rs, map[string]any{"name": c.name, "collection": c.collection,
			"links": []any{map[string]any{"href": a.base + "/v2.0/" + c.collection, "rel": "self"}}})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"resources": rs})
	return nil
}

// listAgents answers Neutron's agent list: onestack runs no Neutron
// agents (each host applies its desired data plane), so it is empty.
func (a *API) listAgents(w http.ResponseWriter, r *http.Request) error {
	return a.writeList(w, r, "agents", nil, false)
}

func (a *API) listZones(w http.ResponseWriter, r *http.Request) error {
	z := a.svc.Config().DefaultZone
	items := []map[string]any{
		{"name": z, "resource": "network", "state": "available"},
		{"name": z, "resource": "router", "state": "available"},
	}
	return a.writeList(w, r, "availability_zones", items, false)
}

// ---- shared wire helpers

func creds(r *http.Request) *auth.Credentials { return auth.From(r.Context()) }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// ifMatch reads Neutron's "If-Match: revision_number=N"; -1 when absent.
func ifMatch(r *http.Request) (int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return -1, nil
	}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "revision_number="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, oserr.BadRequest("Invalid If-Match header %q: use revision_number=N.", h)
			}
			return n, nil
		}
	}
	return 0, oserr.BadRequest("Invalid If-Match header %q: use revision_number=N.", h)
}

// nullString renders "" as JSON null.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// std adds the standard attributes every resource carries.
func std(m map[string]any, project string, tags []string, rev int64, created, updated time.Time) map[string]any {
	m["tenant_id"] = project
	m["project_id"] = project
	m["tags"] = orEmpty(tags)
	m["revision_number"] = rev
	m["created_at"] = stamp(created)
	m["updated_at"] = stamp(updated)
	return m
}

// reservedParams are the list parameters that are not attribute filters.
var reservedParams = append([]string{"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}, rest.TagParams...)

// writeList filters, sorts, pages and trims items as Neutron does for
// GET /v2.0/<collection>: any attribute is a filter (repeat a parameter
// for OR), tags/tags-any/not-tags/not-tags-any, sort_key/sort_dir,
// limit/marker/page_reverse with <collection>_links, and fields=.
func (a *API) writeList(w http.ResponseWriter, r *http.Request, collection string, items []map[string]any, paged bool) error {
	q := r.URL.Query()
	tags := rest.Tags(q)
	out := items[:0:0]
	for _, it := range items {
		have, _ := it["tags"].([]string)
		if matches(it, q) && tags.Match(have) {
			out = append(out, it)
		}
	}
	if keys := q["sort_key"]; len(keys) > 0 {
		dirs := q["sort_dir"]
		for i, k := range keys {
			if len(out) > 0 {
				if _, ok := out[0][k]; !ok {
					return oserr.BadRequest("%s is an invalid attribute for sort_key", k)
				}
			}
			if i < len(dirs) && dirs[i] != "asc" && dirs[i] != "desc" {
				return oserr.BadRequest("%s is an invalid value for sort_dir, valid values are 'asc' and 'desc'", dirs[i])
			}
		}
		slices.SortStableFunc(out, func(x, y map[string]any) int {
			for i, k := range keys {
				c := compareAny(x[k], y[k])
				if i < len(dirs) && dirs[i] == "desc" {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return compareAny(x["id"], y["id"])
		})
	}
	body := map[string]any{}
	if paged {
		limit, err := rest.Limit(q, rest.Limits{})
		if err != nil {
			return oserr.BadRequest("Limit must be an integer 0 or greater and not '%s'", q.Get("limit"))
		}
		if limit > 0 {
			req := page.Request{Limit: limit, Marker: q.Get("marker"), Reverse: strings.EqualFold(q.Get("page_reverse"), "true")}
			p, err := page.Window(out, func(it map[string]any) string { return fmt.Sprint(it["id"]) }, req)
			if err != nil {
				return oserr.NotFound("Marker %s could not be found.", req.Marker)
			}
			out = p
			if links := a.pageLinks(collection, q, out, req); len(links) > 0 {
				body[strings.ReplaceAll(collection, "-", "_")+"_links"] = links
			}
		}
	}
	if fields := q["fields"]; len(fields) > 0 {
		for i, it := range out {
			out[i] = rest.Fields(it, fields)
		}
	}
	body[strings.ReplaceAll(collection, "-", "_")] = orEmpty(out)
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

// pageLinks are Neutron's links of a page: "next" unless a forward page
// came out short, "previous" unless a reversed page came out short. A
// full page always has a next link, even when it is the last; that link's
// page is empty (Neutron's get_pagination_links).
func (a *API) pageLinks(collection string, q url.Values, items []map[string]any, req page.Request) []any {
	base := a.base + "/v2.0/" + collection
	short := len(items) < req.Limit
	var first, last string
	if len(items) > 0 {
		first, last = fmt.Sprint(items[0]["id"]), fmt.Sprint(items[len(items)-1]["id"])
	}
	var links []any
	if !(short && !req.Reverse) {
		links = append(links, map[string]any{"rel": "next", "href": rest.PageLink(base, q, last, false)})
	}
	if !(short && req.Reverse) {
		links = append(links, map[string]any{"rel": "previous", "href": rest.PageLink(base, q, first, true)})
	}
	return links
}

// showOne writes {"<member>": item}, trimmed by fields=.
func showOne(w http.ResponseWriter, r *http.Request, status int, member string, it map[string]any) {
	if fields := r.URL.Query()["fields"]; len(fields) > 0 {
		it = rest.Fields(it, fields)
	}
	rest.WriteJSON(w, status, map[string]any{member: it})
}

func matches(it map[string]any, q url.Values) bool {
	for k, vs := range q {
		if slices.Contains(reservedParams, k) {
			continue
		}
		v, ok := it[k]
		if !ok {
			continue // Neutron ignores filters on attributes a resource lacks
		}
		if !matchAny(k, v, vs) {
			return false
		}
	}
	return true
}

// matchAny reports whether attribute value v equals one of the filter
// values; fixed_ips takes "ip_address=…" and "subnet_id=…".
func matchAny(k string, v any, vs []string) bool {
	for _, want := range vs {
		switch x := v.(type) {
		case nil:
			if want == "" || want == "None" || want == "null" {
				return true
			}
		case bool:
			b, err := strconv.ParseBool(strings.ToLower(want))
			if err == nil && b == x {
				return true
			}
		case []map[string]any:
			key, val, ok := strings.Cut(want, "=")
			for _, e := range x {
				if ok && fmt.Sprint(e[key]) == val {
					return true
				}
			}
		case []string:
			if slices.Contains(x, want) {
				return true
			}
		case map[string]any:
			return true
		default:
			if fmt.Sprint(x) == want {
				return true
			}
		}
	}
	return false
}

func compareAny(x, y any) int {
	switch a := x.(type) {
	case int:
		if b, ok := y.(int); ok {
			return a - b
		}
	case int64:
		if b, ok := y.(int64); ok {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}
	case bool:
		if b, ok := y.(bool); ok {
			switch {
			case a == b:
				return 0
			case !a:
				return -1
			}
			return 1
		}
	}
	return strings.Compare(fmt.Sprint(x), fmt.Sprint(y))
}

// decodeCreate decodes a create body: {"<member>": {...}} or Neutron's
// bulk form {"<collection>": [{...}, ...]}; bulk is true for the latter.
func decodeCreate[T any](r *http.Request, member, collection string) (items []*T, bulk bool, err error) {
	var env map[string]json.RawMessage
	if err := rest.Decode(r, &env, true); err != nil {
		return nil, false, err
	}
	if len(env) != 1 {
		return nil, false, oserr.BadRequest("Resource body required: send {\"%s\": {...}} or {\"%s\": [...]}.", member, collection)
	}
	if raw, ok := env[collection]; ok {
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil || len(raws) == 0 {
			return nil, true, oserr.BadRequest("Bulk operation requires a non-empty list in \"%s\".", collection)
		}
		for _, one := range raws {
			v := new(T)
			if err := decodeRaw(one, v); err != nil {
				return nil, true, err
			}
			items = append(items, v)
		}
		return items, true, nil
	}
	raw, ok := env[member]
	if !ok || string(raw) == "null" {
		return nil, false, oserr.BadRequest("Resource body required: send {\"%s\": {...}}.", member)
	}
	v := new(T)
	if err := decodeRaw(raw, v); err != nil {
		return nil, false, err
	}
	return []*T{v}, false, nil
}

// decodeRaw strictly decodes one JSON value with the API's error messages.
func decodeRaw(raw json.RawMessage, v any) error {
	req, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return rest.Decode(req, v, true)
}

// createAll runs create for each item; a failure undoes the ones made
// (Neutron's bulk create is all or nothing).
func createAll[T any](w http.ResponseWriter, r *http.Request, items []*T, bulk bool, member, collection string,
	create func(*T) (id string, body map[string]any, err error), undo func(id string) error) error {
	var made []string
	var bodies []map[string]any
	for _, it := range items {
		id, body, err := create(it)
		if err != nil {
			for i := len(made) - 1; i >= 0; i-- {
				_ = undo(made[i])
			}
			return err
		}
		made = append(made, id)
		bodies = append(bodies, body)
	}
	if bulk {
		rest.WriteJSON(w, http.StatusCreated, map[string]any{strings.ReplaceAll(collection, "-", "_"): bodies})
		return nil
	}
	showOne(w, r, http.StatusCreated, member, bodies[0])
	return nil
}

// decodeBody decodes {"<member>": {...}} into v, rejecting unknown
// attributes; a missing member is Neutron's "Resource body required".
func decodeBody[T any](r *http.Request, member string) (*T, error) {
	var env map[string]*T
	if err := rest.Decode(r, &env, true); err != nil {
		return nil, err
	}
	v, ok := env[member]
	if !ok || v == nil {
		return nil, oserr.BadRequest("Resource body required: send {\"%s\": {...}}.", member)
	}
	for k := range env {
		if k != member {
			return nil, oserr.BadRequest("Unrecognized attribute(s) '%s': the body holds only \"%s\".", k, member)
		}
	}
	return v, nil
}

// bytesReader, decodeStrict and writeJSON are the shorthands every handler
// file of this package uses.
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func decodeStrict(r *http.Request, v any) error { return rest.Decode(r, v, true) }

func writeJSON(w http.ResponseWriter, status int, v any) { rest.WriteJSON(w, status, v) }
