// Package loadbalancer serves Octavia's v2 API under /load-balancer:
// routes, request decoding, policy and Octavia's wire format (and its
// {"faultcode", "faultstring", "debuginfo"} errors) over the load-balancer
// service.
package loadbalancer

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/loadbalancer"
)

// Prefix is where Octavia is mounted; its catalog URL is the prefix and
// clients append /v2.
const Prefix = "/load-balancer"

// Format renders errors as Octavia (WSME) does: {"faultcode": "Client" or
// "Server", "faultstring": message, "debuginfo": null}.
func Format(e *oserr.Error, _ string) any {
	code := "Client"
	if e.Status >= 500 {
		code = "Server"
	}
	return map[string]any{"faultcode": code, "faultstring": e.Message, "debuginfo": nil}
}

// API is the Octavia v2 HTTP API.
type API struct {
	svc       *svc.Service
	base      string
	log       *slog.Logger
	validator auth.Validator
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator}
}

// Service returns everything the wiring mounts.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: Format, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Versions:  a.versions,
		Endpoints: []rest.Endpoint{{Type: "load-balancer", Name: "octavia", Suffix: ""}},
	}
}

// versionDates are Octavia's API versions up to the one served (features
// of later versions are not).
var versionDates = []string{
	"2016-12-11T00:00:00Z", "2018-04-20T00:00:00Z", "2018-07-31T00:00:00Z", "2018-12-18T00:00:00Z", "2018-12-19T00:00:00Z",
	"2019-01-21T00:00:00Z", "2019-01-25T00:00:00Z", "2018-01-25T12:00:00Z", "2019-02-12T00:00:00Z", "2019-03-04T00:00:00Z",
	"2019-03-05T00:00:00Z", "2019-06-24T00:00:00Z", "2019-09-11T00:00:00Z", "2019-09-13T00:00:00Z", "2019-11-10T00:00:00Z",
	"2020-03-10T00:00:00Z", "2020-03-15T00:00:00Z", "2020-04-29T00:00:00Z", "2020-04-29T01:00:00Z", "2020-05-12T00:00:00Z",
	"2020-08-02T00:00:00Z", "2020-09-03T00:00:00Z", "2020-09-04T00:00:00Z", "2020-09-07T00:00:00Z", "2020-10-15T00:00:00Z",
	"2021-10-02T00:00:00Z", "2022-08-29T00:00:00Z",
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	var vs []any
	for i, d := range versionDates {
		status := "SUPPORTED"
		if i == len(versionDates)-1 {
			status = "CURRENT"
		}
		vs = append(vs, map[string]any{"id": fmt.Sprintf("v2.%d", i), "status": status, "updated": d,
			"links": []any{map[string]any{"href": a.base + "/v2", "rel": "self"}}})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": vs})
	return nil
}

// ---- policy: Octavia's defaults. Keystone's roles (a project's readers
// read, its members change, admins do the rest and see every project)
// and Octavia's own, which its defaults still honour: load-balancer_admin
// (an admin of this API), load-balancer_member and load-balancer_observer
// (a project's member and reader here), load-balancer_global_observer
// (reads every project) and load-balancer_quota_admin (every project's
// quotas).

const (
	roleLBAdmin    = "load-balancer_admin"
	roleLBMember   = "load-balancer_member"
	roleLBObserver = "load-balancer_observer"
)

// octaviaRoles is c with Octavia's roles mapped onto Keystone's ones the
// service checks (c itself when it has none of them).
func octaviaRoles(c *auth.Credentials) *auth.Credentials {
	var extra []string
	switch {
	case c.HasRole(roleLBAdmin):
		extra = []string{auth.RoleAdmin, auth.RoleMember, auth.RoleReader}
	case c.HasRole(roleLBMember):
		extra = []string{auth.RoleMember, auth.RoleReader}
	case c.HasRole(roleLBObserver), c.HasRole(svc.RoleGlobalObserver):
		extra = []string{auth.RoleReader}
	}
	var add []auth.Ref
	for _, r := range extra {
		if !c.HasRole(r) {
			add = append(add, auth.Ref{Name: r})
		}
	}
	if len(add) == 0 {
		return c
	}
	cc := *c
	cc.Roles = append(slices.Clone(c.Roles), add...)
	return &cc
}

func reader(c *auth.Credentials, _ *http.Request) error {
	c = octaviaRoles(c)
	if c.IsAdmin() || c.HasRole(svc.RoleGlobalObserver) || c.HasRole(svc.RoleQuotaAdmin) || c.ProjectID() != "" && c.HasRole(auth.RoleReader) {
		return nil
	}
	return oserr.Forbidden("Policy does not allow this request to be performed.")
}

func member(c *auth.Credentials, r *http.Request) error {
	c = octaviaRoles(c)
	if c.IsAdmin() || c.ProjectID() != "" && c.HasRole(auth.RoleMember) {
		return nil
	}
	return oserr.Forbidden("Policy does not allow this request to be performed.")
}

func admin(c *auth.Credentials, _ *http.Request) error {
	if !octaviaRoles(c).IsAdmin() {
		return oserr.Forbidden("Policy does not allow this request to be performed.")
	}
	return nil
}

func quotaAdmin(c *auth.Credentials, r *http.Request) error {
	if c.HasRole(svc.RoleQuotaAdmin) {
		return nil
	}
	return admin(c, r)
}

// routes serves every path under /v2 and /v2.0, and the LBaaS resources
// both under /lbaas and directly, as Octavia does (gophercloud uses
// /v2.0/quotas, the openstack CLI /v2/lbaas/...).
func (a *API) routes() []rest.Route {
	var out []rest.Route
	for _, base := range []string{"/v2", "/v2.0"} {
		out = append(out, rest.R("GET", base, nil, a.v2root), rest.R("GET", base+"/{$}", nil, a.v2root))
		out = append(out, a.routesAt(base, base+"/lbaas")...)
		out = append(out, a.routesAt(base, base)...)
	}
	return out
}

func (a *API) routesAt(base, lbaas string) []rest.Route {
	v := func(p string) string { return base + p }
	l := func(p string) string { return lbaas + p }
	var octavia []rest.Route
	if lbaas != base {
		octavia = []rest.Route{
			rest.R("GET", v("/octavia/amphorae"), admin, a.listAmphorae),
			rest.R("GET", v("/octavia/amphorae/{id}"), admin, a.showAmphora),
			rest.R("GET", v("/octavia/amphorae/{id}/stats"), admin, a.amphoraStats),
			rest.R("PUT", v("/octavia/amphorae/{id}/failover"), admin, a.failoverAmphora),
			rest.R("PUT", v("/octavia/amphorae/{id}/config"), admin, a.configAmphora),
		}
	}
	return append(octavia, []rest.Route{

		rest.R("GET", l("/loadbalancers"), reader, a.listLBs),
		rest.R("POST", l("/loadbalancers"), member, a.createLB),
		rest.R("GET", l("/loadbalancers/{id}"), reader, a.showLB),
		rest.R("PUT", l("/loadbalancers/{id}"), member, a.updateLB),
		rest.R("DELETE", l("/loadbalancers/{id}"), member, a.deleteLB),
		rest.R("GET", l("/loadbalancers/{id}/status"), reader, a.lbStatus),
		rest.R("GET", l("/loadbalancers/{id}/statuses"), reader, a.lbStatus),
		rest.R("GET", l("/loadbalancers/{id}/stats"), reader, a.lbStats),
		rest.R("PUT", l("/loadbalancers/{id}/failover"), admin, a.failoverLB),
		rest.R("GET", l("/loadbalancers/{id}/events"), reader, a.lbEvents),

		rest.R("GET", l("/listeners"), reader, a.listListeners),
		rest.R("POST", l("/listeners"), member, a.createListener),
		rest.R("GET", l("/listeners/{id}"), reader, a.showListener),
		rest.R("PUT", l("/listeners/{id}"), member, a.updateListener),
		rest.R("DELETE", l("/listeners/{id}"), member, a.deleteObject(svc.KindListener)),
		rest.R("GET", l("/listeners/{id}/stats"), reader, a.listenerStats),

		rest.R("GET", l("/pools"), reader, a.listPools),
		rest.R("POST", l("/pools"), member, a.createPool),
		rest.R("GET", l("/pools/{id}"), reader, a.showPool),
		rest.R("PUT", l("/pools/{id}"), member, a.updatePool),
		rest.R("DELETE", l("/pools/{id}"), member, a.deleteObject(svc.KindPool)),

		rest.R("GET", l("/pools/{pool}/members"), reader, a.listMembers),
		rest.R("POST", l("/pools/{pool}/members"), member, a.createMember),
		rest.R("PUT", l("/pools/{pool}/members"), member, a.batchMembers),
		rest.R("GET", l("/pools/{pool}/members/{id}"), reader, a.showMember),
		rest.R("PUT", l("/pools/{pool}/members/{id}"), member, a.updateMember),
		rest.R("DELETE", l("/pools/{pool}/members/{id}"), member, a.deleteMember),

		rest.R("GET", l("/healthmonitors"), reader, a.listMonitors),
		rest.R("POST", l("/healthmonitors"), member, a.createMonitor),
		rest.R("GET", l("/healthmonitors/{id}"), reader, a.showMonitor),
		rest.R("PUT", l("/healthmonitors/{id}"), member, a.updateMonitor),
		rest.R("DELETE", l("/healthmonitors/{id}"), member, a.deleteObject(svc.KindHealthMonitor)),

		rest.R("GET", l("/l7policies"), reader, a.listPolicies),
		rest.R("POST", l("/l7policies"), member, a.createPolicy),
		rest.R("GET", l("/l7policies/{id}"), reader, a.showPolicy),
		rest.R("PUT", l("/l7policies/{id}"), member, a.updatePolicy),
		rest.R("DELETE", l("/l7policies/{id}"), member, a.deleteObject(svc.KindL7Policy)),

		rest.R("GET", l("/l7policies/{policy}/rules"), reader, a.listRules),
		rest.R("POST", l("/l7policies/{policy}/rules"), member, a.createRule),
		rest.R("GET", l("/l7policies/{policy}/rules/{id}"), reader, a.showRule),
		rest.R("PUT", l("/l7policies/{policy}/rules/{id}"), member, a.updateRule),
		rest.R("DELETE", l("/l7policies/{policy}/rules/{id}"), member, a.deleteRule),

		rest.R("GET", l("/quotas"), reader, a.listQuotas),
		rest.R("GET", l("/quotas/defaults"), reader, a.quotaDefaults),
		rest.R("GET", l("/quotas/{project}"), reader, a.showQuota),
		rest.R("PUT", l("/quotas/{project}"), quotaAdmin, a.setQuota),
		rest.R("DELETE", l("/quotas/{project}"), quotaAdmin, a.resetQuota),

		rest.R("GET", l("/providers"), reader, a.providers),
		rest.R("GET", l("/providers/{provider}/flavor_capabilities"), admin, a.flavorCaps),
		rest.R("GET", l("/providers/{provider}/availability_zone_capabilities"), admin, a.zoneCaps),

		rest.R("GET", l("/flavorprofiles"), admin, a.listFlavorProfiles),
		rest.R("POST", l("/flavorprofiles"), admin, a.createFlavorProfile),
		rest.R("GET", l("/flavorprofiles/{id}"), admin, a.showFlavorProfile),
		rest.R("PUT", l("/flavorprofiles/{id}"), admin, a.updateFlavorProfile),
		rest.R("DELETE", l("/flavorprofiles/{id}"), admin, a.deleteFlavorProfile),
		rest.R("GET", l("/flavors"), reader, a.listFlavors),
		rest.R("POST", l("/flavors"), admin, a.createFlavor),
		rest.R("GET", l("/flavors/{id}"), reader, a.showFlavor),
		rest.R("PUT", l("/flavors/{id}"), admin, a.updateFlavor),
		rest.R("DELETE", l("/flavors/{id}"), admin, a.deleteFlavor),

		rest.R("GET", l("/availabilityzoneprofiles"), admin, a.listZoneProfiles),
		rest.R("POST", l("/availabilityzoneprofiles"), admin, a.createZoneProfile),
		rest.R("GET", l("/availabilityzoneprofiles/{id}"), admin, a.showZoneProfile),
		rest.R("PUT", l("/availabilityzoneprofiles/{id}"), admin, a.updateZoneProfile),
		rest.R("DELETE", l("/availabilityzoneprofiles/{id}"), admin, a.deleteZoneProfile),
		rest.R("GET", l("/availabilityzones"), reader, a.listZones),
		rest.R("POST", l("/availabilityzones"), admin, a.createZone),
		rest.R("GET", l("/availabilityzones/{name}"), reader, a.showZone),
		rest.R("PUT", l("/availabilityzones/{name}"), admin, a.updateZone),
		rest.R("DELETE", l("/availabilityzones/{name}"), admin, a.deleteZone),
	}...)
}

func (a *API) v2root(w http.ResponseWriter, r *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{"id": "v2", "status": "CURRENT",
		"updated": versionDates[len(versionDates)-1], "links": []any{map[string]any{"href": a.base + "/v2", "rel": "self"}}}}})
	return nil
}

// stamp is Octavia's time format: seconds, no zone.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func ids(list []string) []any {
	out := make([]any, 0, len(list))
	for _, id := range list {
		out = append(out, map[string]any{"id": id})
	}
	return out
}

// ---- lists: Octavia filters on any attribute, sorts on sort=key:dir (or
// sort_key/sort_dir), pages with marker, limit and page_reverse, and
// trims with fields.

var listParams = map[string]bool{"limit": true, "marker": true, "sort": true, "sort_key": true, "sort_dir": true,
	"page_reverse": true, "fields": true, "tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true}

// listView filters, sorts and pages items (wire maps) per the query, and
// writes {key: [...], key_links: [...]}.
func (a *API) listView(w http.ResponseWriter, r *http.Request, name string, items []map[string]any) error {
	q := r.URL.Query()
	for k := range q {
		if listParams[k] || k == "project_id" {
			continue
		}
		if len(items) > 0 {
			if _, known := items[0][k]; !known && !(k == "loadbalancer_id" && items[0]["loadbalancers"] != nil) {
				return oserr.BadRequest("One or more arguments are either duplicate or invalid")
			}
		}
	}
	tags := rest.Tags(q)
	kept := items[:0:0]
	for _, it := range items {
		ok := true
		for k, vs := range q {
			if listParams[k] {
				continue
			}
			v, has := it[k]
			if !has && k == "loadbalancer_id" {
				// Listeners and pools name theirs in "loadbalancers".
				if !hasLoadBalancer(it["loadbalancers"], vs[0]) {
					ok = false
					break
				}
				continue
			}
			if !has {
				continue
			}
			if !matches(v, vs[0]) {
				ok = false
				break
			}
		}
		if ok && !tagsMatch(it["tags"], tags.All, tags.Any, tags.NotAll, tags.NotAny) {
			ok = false
		}
		if ok {
			kept = append(kept, it)
		}
	}
	keys, dirs, err := sortKeys(q)
	if err != nil {
		return err
	}
	if len(items) > 0 {
		for _, k := range keys[:len(keys)-2] {
			if _, ok := items[0][k]; !ok {
				return oserr.BadRequest("Supplied sort key '%s' is not valid.", k)
			}
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		for n, k := range keys {
			c := compare(kept[i][k], kept[j][k])
			if c == 0 {
				continue
			}
			if dirs[n] == "desc" {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	limit, err := rest.Limit(q, rest.Limits{Max: 1000})
	if err != nil {
		return oserr.BadRequest("Supplied pagination limit '%s' is not valid.", q.Get("limit"))
	}
	start := 0
	if m := q.Get("marker"); m != "" {
		found := -1
		for i, it := range kept {
			if key(it) == m {
				found = i
			}
		}
		if found < 0 {
			return oserr.BadRequest("Supplied pagination marker '%s' is not valid.", m)
		}
		start = found + 1
		if rev, _ := strconv.ParseBool(q.Get("page_reverse")); rev {
			start = max(0, found-limit)
			kept = kept[:found]
		}
	}
	page := kept[min(start, len(kept)):]
	next := false
	if limit > 0 && len(page) > limit {
		page, next = page[:limit], true
	}
	fields := q["fields"]
	out := make([]any, 0, len(page))
	for _, it := range page {
		out = append(out, rest.Fields(it, fields))
	}
	links := []any{}
	if next && len(page) > 0 {
		links = append(links, map[string]any{"rel": "next", "href": rest.PageLink(a.base+r.URL.Path[len(Prefix):], q, key(page[len(page)-1]), false)})
	}
	if q.Get("marker") != "" && len(page) > 0 {
		links = append(links, map[string]any{"rel": "previous", "href": rest.PageLink(a.base+r.URL.Path[len(Prefix):], q, key(page[0]), true)})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{name: out, name + "_links": links})
	return nil
}

// hasLoadBalancer reports whether a view's "loadbalancers" ([{"id"}])
// holds id.
func hasLoadBalancer(v any, id string) bool {
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["id"] == id {
			return true
		}
	}
	return false
}

// key is an item's marker: its id, or its name for objects without one
// (availability zones).
func key(it map[string]any) string {
	if id, ok := it["id"]; ok {
		return fmt.Sprint(id)
	}
	return fmt.Sprint(it["name"])
}

func sortKeys(q url.Values) ([]string, []string, error) {
	var keys, dirs []string
	if s := q.Get("sort"); s != "" {
		for _, part := range strings.Split(s, ",") {
			k, d, _ := strings.Cut(part, ":")
			if d == "" {
				d = "asc"
			}
			if d != "asc" && d != "desc" {
				return nil, nil, oserr.BadRequest("Supplied sort direction '%s' is not valid.", d)
			}
			keys, dirs = append(keys, k), append(dirs, d)
		}
	} else if k := q.Get("sort_key"); k != "" {
		d := q.Get("sort_dir")
		if d == "" {
			d = "asc"
		}
		if d != "asc" && d != "desc" {
			return nil, nil, oserr.BadRequest("Supplied sort direction '%s' is not valid.", d)
		}
		keys, dirs = []string{k}, []string{d}
	}
	keys, dirs = append(keys, "created_at", "id"), append(dirs, "asc", "asc")
	return keys, dirs, nil
}

func compare(a, b any) int {
	switch x := a.(type) {
	case int:
		if y, ok := b.(int); ok {
			return x - y
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	if a == nil && b == nil {
		return 0
	}
	if a == nil {
		return -1
	}
	if b == nil {
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func matches(v any, want string) bool {
	switch x := v.(type) {
	case bool:
		b, err := strconv.ParseBool(want)
		return err == nil && b == x
	case nil:
		return want == "" || want == "None"
	case string:
		return x == want
	case int:
		return strconv.Itoa(x) == want
	}
	return fmt.Sprint(v) == want
}

func tagsMatch(v any, all, anyOf, notAll, notAny []string) bool {
	tags, _ := v.([]string)
	has := map[string]bool{}
	for _, t := range tags {
		has[t] = true
	}
	for _, t := range all {
		if !has[t] {
			return false
		}
	}
	if len(anyOf) > 0 {
		ok := false
		for _, t := range anyOf {
			ok = ok || has[t]
		}
		if !ok {
			return false
		}
	}
	if len(notAll) > 0 {
		allHave := true
		for _, t := range notAll {
			allHave = allHave && has[t]
		}
		if allHave {
			return false
		}
	}
	for _, t := range notAny {
		if has[t] {
			return false
		}
	}
	return true
}

// projectParam is the project an admin's list narrows to.
func projectParam(r *http.Request) string { return r.URL.Query().Get("project_id") }
