package placement_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/openstack/placement/v1/resourceproviders"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// pl is a raw placement client at one microversion.
type pl struct {
	t     *testing.T
	env   *cloudtest.Env
	token string
}

func (c pl) do(method, path, version string, body any) cloudtest.Response {
	c.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	var hdr []string
	if version != "" {
		hdr = []string{"OpenStack-API-Version", "placement " + version}
	}
	return c.env.Do(c.t, method, "/placement"+path, c.token, b, hdr...)
}

// must sends a request and fails the test unless the status is want.
func (c pl) must(want int, method, path, version string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, version, body)
	if r.Status != want {
		c.t.Fatalf("%s %s (placement %s): status %d, want %d: %s", method, path, version, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(c.t)
}

func newPL(t *testing.T, env *cloudtest.Env) pl {
	return pl{t: t, env: env, token: env.Token(t, "admin", cloudtest.AdminPassword, "admin")}
}

// placementError returns the one error of a Placement error body.
func placementError(t *testing.T, r cloudtest.Response) map[string]any {
	t.Helper()
	errs, ok := r.JSON(t)["errors"].([]any)
	if !ok || len(errs) != 1 {
		t.Fatalf("not a Placement error body (status %d): %s", r.Status, r.Body)
	}
	return errs[0].(map[string]any)
}

func TestVersionDocumentAndNegotiation(t *testing.T) {
	env := cloudtest.New(t)
	c := pl{t: t, env: env}

	r := c.do("GET", "/", "", nil)
	if r.Status != 200 {
		t.Fatalf("GET /placement/: %d %s", r.Status, r.Body)
	}
	v := r.JSON(t)["versions"].([]any)[0].(map[string]any)
	if v["min_version"] != "1.0" || v["max_version"] != "1.39" || v["id"] != "v1.0" || v["status"] != "CURRENT" {
		t.Errorf("version document = %v", v)
	}
	if got := r.Header.Get("OpenStack-API-Version"); got != "placement 1.0" {
		t.Errorf("OpenStack-API-Version = %q, want placement 1.0 without a request header", got)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "OpenStack-API-Version") {
		t.Errorf("Vary = %v, want OpenStack-API-Version", r.Header.Values("Vary"))
	}
	if r := c.do("GET", "", "latest", nil); r.Status != 200 || r.Header.Get("OpenStack-API-Version") != "placement 1.39" {
		t.Errorf("latest: %d %q", r.Status, r.Header.Get("OpenStack-API-Version"))
	}
	// osc-placement negotiates by asking for its newest version and reading
	// max_version from the 406.
	r = c.do("GET", "/", "1.40", nil)
	if r.Status != 406 {
		t.Fatalf("placement 1.40: status %d, want 406", r.Status)
	}
	e := placementError(t, r)
	if e["max_version"] != "1.39" || e["min_version"] != "1.0" || e["status"] != float64(406) {
		t.Errorf("406 error = %v, want max_version 1.39 and min_version 1.0", e)
	}
	// Negotiation comes before authentication.
	if r := c.do("GET", "/resource_providers", "2.0", nil); r.Status != 406 {
		t.Errorf("placement 2.0 without a token: %d, want 406", r.Status)
	}
	if r := c.do("GET", "/", "1.x", nil); r.Status != 400 {
		t.Errorf("malformed version: %d, want 400", r.Status)
	}
}

// TestErrorBodies checks the status, Placement's error body, its code and
// a request id for what a client can get wrong.
func TestErrorBodies(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	c := newPL(t, env)
	id := cloudtest.Identity(t, env.Admin(t))
	u, err := users.Create(ctx, id, users.CreateOpts{Name: "viewer", Password: "viewer-pw", DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var memberRole string
	pages, _ := roles.List(id, roles.ListOpts{Name: "member"}).AllPages(ctx)
	rs, _ := roles.ExtractRoles(pages)
	memberRole = rs[0].ID
	adminProject := env.Do(t, "GET", "/identity/v3/projects?name=admin", c.token, nil).JSON(t)["projects"].([]any)[0].(map[string]any)["id"].(string)
	if err := roles.Assign(ctx, id, memberRole, roles.AssignOpts{UserID: u.ID, ProjectID: adminProject}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	member := env.Token(t, "viewer", "viewer-pw", "admin")

	const rp = "aaaaaaaa-1111-4111-8111-000000000001"
	// (The test cloud's fake hosts register as providers too, named host-N.)
	c.must(200, "POST", "/resource_providers", "1.20", map[string]any{"name": "err-host", "uuid": rp})
	c.must(200, "PUT", "/resource_providers/"+rp+"/inventories", "1.26", map[string]any{
		"resource_provider_generation": 0, "inventories": map[string]any{"VCPU": map[string]any{"total": 4}, "DISK_GB": map[string]any{"total": 10}}})
	c.must(204, "PUT", "/allocations/cccccccc-1111-4111-8111-000000000001", "1.28", map[string]any{
		"allocations": map[string]any{rp: map[string]any{"resources": map[string]any{"VCPU": 2}}},
		"project_id":  "p", "user_id": "u", "consumer_generation": nil})

	for _, tc := range []struct {
		name, method, path, version, token, body string
		ctype                                    string
		want                                     int
		code, detail                             string
	}{
		{"no token", "GET", "/resource_providers", "", "-", "", "", 401, "placement.undefined_code", "X-Auth-Token"},
		{"not admin", "GET", "/resource_providers", "", member, "", "", 403, "placement.undefined_code", "placement:resource_providers:list"},
		{"unknown path", "GET", "/nothing", "", "", "", "", 404, "placement.undefined_code", "could not be found"},
		{"unknown method", "PATCH", "/resource_providers", "", "", "", "", 405, "placement.undefined_code", "not allowed"},
		{"route too new", "GET", "/traits", "1.5", "", "", "", 404, "placement.undefined_code", "1.6"},
		{"delete all inventories too new", "DELETE", "/resource_providers/" + rp + "/inventories", "1.4", "", "", "", 405, "placement.undefined_code", "1.5"},
		{"missing provider", "GET", "/resource_providers/" + rp[:35] + "9", "", "", "", "", 404, "placement.undefined_code", "No resource provider"},
		{"malformed json", "POST", "/resource_providers", "", "", "{", "", 400, "placement.undefined_code", "not valid JSON"},
		{"unknown field", "POST", "/resource_providers", "", "", `{"name": "x", "color": "red"}`, "", 400, "placement.undefined_code", "color"},
		{"parent before 1.14", "POST", "/resource_providers", "1.13", "", `{"name": "x", "parent_provider_uuid": null}`, "", 400, "placement.undefined_code", "1.14"},
		{"wrong content type", "POST", "/resource_providers", "", "", `{"name": "x"}`, "text/plain", 415, "placement.undefined_code", "application/json"},
		{"duplicate name", "POST", "/resource_providers", "", "", `{"name": "err-host"}`, "", 409, "placement.duplicate_name", "err-host"},
		{"stale generation", "PUT", "/resource_providers/" + rp + "/inventories", "", "", `{"resource_provider_generation": 0, "inventories": {}}`, "", 409, "placement.concurrent_update", "generation"},
		{"inventory in use", "PUT", "/resource_providers/" + rp + "/inventories", "", "", `{"resource_provider_generation": 2, "inventories": {"DISK_GB": {"total": 10}}}`, "", 409, "placement.inventory.inuse", "VCPU"},
		{"reserved equals total before 1.26", "PUT", "/resource_providers/" + rp + "/inventories", "1.25", "", `{"resource_provider_generation": 2, "inventories": {"VCPU": {"total": 4, "reserved": 4}}}`, "", 400, "placement.undefined_code", "1.26"},
		{"unknown class", "PUT", "/resource_providers/" + rp + "/inventories", "", "", `{"resource_provider_generation": 2, "inventories": {"CUSTOM_NOPE": {"total": 1}}}`, "", 400, "placement.undefined_code", "CUSTOM_NOPE"},
		{"over capacity", "PUT", "/allocations/cccccccc-1111-4111-8111-000000000002", "1.28", "", `{"allocations": {"` + rp + `": {"resources": {"VCPU": 3}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}`, "", 409, "placement.undefined_code", "2 VCPU free, 3 requested"},
		{"consumer generation", "PUT", "/allocations/cccccccc-1111-4111-8111-000000000001", "1.28", "", `{"allocations": {"` + rp + `": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}`, "", 409, "placement.concurrent_update", "consumer generation conflict"},
		{"missing consumer_generation", "PUT", "/allocations/cccccccc-1111-4111-8111-000000000001", "1.28", "", `{"allocations": {}, "project_id": "p", "user_id": "u"}`, "", 400, "placement.undefined_code", "consumer_generation"},
		{"allocation on a missing provider", "PUT", "/allocations/cccccccc-1111-4111-8111-000000000003", "1.12", "", `{"allocations": {"dddddddd-1111-4111-8111-000000000001": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u"}`, "", 400, "placement.undefined_code", "does not exist"},
		{"malformed consumer", "PUT", "/allocations/not-a-uuid", "1.12", "", `{"allocations": {}, "project_id": "p", "user_id": "u"}`, "", 400, "placement.undefined_code", "Malformed consumer_uuid"},
		{"delete provider in use", "DELETE", "/resource_providers/" + rp, "", "", "", "", 409, "placement.resource_provider.inuse", "allocations"},
		{"candidates without resources", "GET", "/allocation_candidates?required=HW_CPU_X86_AVX2", "1.17", "", "", "", 400, "placement.undefined_code", "orphaned"},
		{"candidates bad query", "GET", "/allocation_candidates?resources=VCPU:1&color=red", "1.17", "", "", "", 400, "placement.query.bad_value", "color"},
		{"two groups without policy", "GET", "/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1", "1.25", "", "", "", 400, "placement.undefined_code", "group_policy"},
		{"custom trait name", "PUT", "/traits/NOT_CUSTOM", "1.6", "", "", "", 400, "placement.undefined_code", "CUSTOM_"},
		{"standard class delete", "DELETE", "/resource_classes/VCPU", "1.2", "", "", "", 400, "placement.undefined_code", "standard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := c.token
			switch tc.token {
			case "-":
				tok = ""
			case "":
			default:
				tok = tc.token
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			hdr := []string{}
			if tc.version != "" {
				hdr = append(hdr, "OpenStack-API-Version", "placement "+tc.version)
			}
			if tc.ctype != "" {
				hdr = append(hdr, "Content-Type", tc.ctype)
			}
			r := env.Do(t, tc.method, "/placement"+tc.path, tok, body, hdr...)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			e := placementError(t, r)
			if e["status"] != float64(tc.want) || e["title"] != http.StatusText(tc.want) || e["code"] != tc.code {
				t.Errorf("error = %v, want status %d, title %q, code %s", e, tc.want, http.StatusText(tc.want), tc.code)
			}
			if d, _ := e["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q does not mention %q", d, tc.detail)
			}
			if id, _ := e["request_id"].(string); !strings.HasPrefix(id, "req-") || id != r.Header.Get("X-Openstack-Request-Id") {
				t.Errorf("request_id %q, header %q", id, r.Header.Get("X-Openstack-Request-Id"))
			}
		})
	}
}

func placementClient(t *testing.T, env *cloudtest.Env, version string) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewPlacementV1(env.Admin(t), gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Microversion = version
	return sc
}

// TestLifecycle drives a provider through its life with gophercloud (what
// Terraform uses) where it has calls, raw HTTP elsewhere, on every backend.
func TestLifecycle(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := cloudtest.NewOn(t, backend)
			ctx := context.Background()
			sc := placementClient(t, env, "1.39")
			c := newPL(t, env)

			host, err := resourceproviders.Create(ctx, sc, resourceproviders.CreateOpts{Name: "compute-1"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if host.UUID == "" || host.Generation != 0 || host.RootProviderUUID != host.UUID || host.ParentProviderUUID != "" {
				t.Errorf("created provider = %+v", host)
			}
			numa, err := resourceproviders.Create(ctx, sc, resourceproviders.CreateOpts{Name: "compute-1-numa0", ParentProviderUUID: host.UUID}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if numa.RootProviderUUID != host.UUID || numa.ParentProviderUUID != host.UUID {
				t.Errorf("child = %+v, want parent and root %s", numa, host.UUID)
			}
			inv := func(total int, ratio float32) resourceproviders.Inventory {
				return resourceproviders.Inventory{Total: total, MinUnit: 1, MaxUnit: total, StepSize: 1, AllocationRatio: ratio}
			}
			invs, err := resourceproviders.UpdateInventories(ctx, sc, host.UUID, resourceproviders.UpdateInventoriesOpts{
				ResourceProviderGeneration: 0,
				Inventories:                map[string]resourceproviders.Inventory{"VCPU": inv(8, 4), "MEMORY_MB": inv(16384, 1), "DISK_GB": inv(500, 1)},
			}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if invs.ResourceProviderGeneration != 1 || invs.Inventories["VCPU"].Total != 8 || invs.Inventories["VCPU"].AllocationRatio != 4 {
				t.Errorf("inventories = %+v", invs)
			}
			// A stale generation is refused.
			_, err = resourceproviders.UpdateInventories(ctx, sc, host.UUID, resourceproviders.UpdateInventoriesOpts{ResourceProviderGeneration: 0,
				Inventories: map[string]resourceproviders.Inventory{}}).Extract()
			if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
				t.Errorf("stale generation: %v, want 409", err)
			}
			c.must(201, "PUT", "/traits/CUSTOM_RACK_7", "1.39", nil)
			c.must(204, "PUT", "/traits/CUSTOM_RACK_7", "1.39", nil)
			traits, err := resourceproviders.UpdateTraits(ctx, sc, host.UUID, resourceproviders.UpdateTraitsOpts{
				ResourceProviderGeneration: 1, Traits: []string{"CUSTOM_RACK_7", "HW_CPU_X86_AVX2"}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if traits.ResourceProviderGeneration != 2 || len(traits.Traits) != 2 {
				t.Errorf("traits = %+v", traits)
			}
			const agg = "5e2b7b3a-0000-4000-8000-00000000a661"
			aggs, err := resourceproviders.UpdateAggregates(ctx, sc, host.UUID, resourceproviders.UpdateAggregatesOpts{
				ResourceProviderGeneration: new(2), Aggregates: []string{agg}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if aggs.ResourceProviderGeneration == nil || *aggs.ResourceProviderGeneration != 3 || len(aggs.Aggregates) != 1 {
				t.Errorf("aggregates = %+v", aggs)
			}

			// Filters of GET /resource_providers (among this test's providers:
			// the test cloud's fake hosts register too).
			for q, want := range map[string][]string{
				"resources=VCPU:8":                       {host.UUID}, // max_unit 8
				"resources=VCPU:9":                       {},
				"required=CUSTOM_RACK_7":                 {host.UUID},
				"required=!CUSTOM_RACK_7":                {numa.UUID},
				"required=in:CUSTOM_RACK_7,HW_NUMA_ROOT": {host.UUID},
				"member_of=" + agg:                       {host.UUID},
				"member_of=!" + agg:                      {numa.UUID},
				"in_tree=" + numa.UUID:                   {host.UUID, numa.UUID},
				"name=compute-1-numa0":                   {numa.UUID},
			} {
				got := []string{}
				for _, p := range c.must(200, "GET", "/resource_providers?"+q, "1.39", nil)["resource_providers"].([]any) {
					if u := p.(map[string]any)["uuid"].(string); u == host.UUID || u == numa.UUID {
						got = append(got, u)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET /resource_providers?%s (-want +got):\n%s", q, diff)
				}
			}

			// Allocation candidates, then claim the first one.
			ac := c.must(200, "GET", "/allocation_candidates?resources=VCPU:4,MEMORY_MB:2048&required=CUSTOM_RACK_7&limit=5", "1.39", nil)
			reqs := ac["allocation_requests"].([]any)
			if len(reqs) != 1 {
				t.Fatalf("allocation candidates = %v", ac)
			}
			sum := ac["provider_summaries"].(map[string]any)[host.UUID].(map[string]any)
			if cap := sum["resources"].(map[string]any)["VCPU"].(map[string]any)["capacity"]; cap != float64(32) {
				t.Errorf("VCPU capacity in provider summary = %v, want 32", cap)
			}
			if sum["root_provider_uuid"] != host.UUID {
				t.Errorf("summary = %v", sum)
			}
			const server = "5e2b7b3a-0000-4000-8000-0000000005e1"
			body := reqs[0].(map[string]any)
			body["project_id"], body["user_id"], body["consumer_generation"], body["consumer_type"] = "shop", "ops", nil, "INSTANCE"
			c.must(204, "PUT", "/allocations/"+server, "1.39", body)
			got := c.must(200, "GET", "/allocations/"+server, "1.39", nil)
			if got["consumer_generation"] != float64(1) || got["project_id"] != "shop" || got["consumer_type"] != "INSTANCE" {
				t.Errorf("GET allocations = %v", got)
			}
			usages, err := resourceproviders.GetUsages(ctx, sc, host.UUID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]int{"VCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 0}, usages.Usages); diff != "" {
				t.Errorf("usages (-want +got):\n%s", diff)
			}
			total := c.must(200, "GET", "/usages?project_id=shop", "1.38", nil)
			if diff := cmp.Diff(map[string]any{"INSTANCE": map[string]any{"VCPU": float64(4), "MEMORY_MB": float64(2048), "consumer_count": float64(1)}}, total["usages"]); diff != "" {
				t.Errorf("GET /usages (-want +got):\n%s", diff)
			}
			ra := c.must(200, "GET", "/resource_providers/"+host.UUID+"/allocations", "1.28", nil)
			if ra["allocations"].(map[string]any)[server] == nil || ra["resource_provider_generation"] != float64(4) {
				t.Errorf("provider allocations = %v", ra)
			}

			// POST /allocations moves the server to a migration consumer atomically.
			const migration = "5e2b7b3a-0000-4000-8000-0000000000a1"
			c.must(204, "POST", "/allocations", "1.28", map[string]any{
				migration: map[string]any{"allocations": map[string]any{host.UUID: map[string]any{"resources": map[string]any{"VCPU": 4, "MEMORY_MB": 2048}}},
					"project_id": "shop", "user_id": "ops", "consumer_generation": nil},
				server: map[string]any{"allocations": map[string]any{}, "project_id": "shop", "user_id": "ops", "consumer_generation": 1},
			})
			if a := c.must(200, "GET", "/allocations/"+server, "1.28", nil); len(a["allocations"].(map[string]any)) != 0 {
				t.Errorf("server still holds %v", a)
			}
			c.must(204, "DELETE", "/allocations/"+migration, "", nil)
			c.must(404, "DELETE", "/allocations/"+migration, "", nil)

			// Reshape: move VCPU from the root to its NUMA child while in use.
			c.must(204, "PUT", "/allocations/"+server, "1.28", map[string]any{
				"allocations": map[string]any{host.UUID: map[string]any{"resources": map[string]any{"VCPU": 2}}},
				"project_id":  "shop", "user_id": "ops", "consumer_generation": nil})
			hostGen := int(c.must(200, "GET", "/resource_providers/"+host.UUID, "1.30", nil)["generation"].(float64))
			c.must(204, "POST", "/reshaper", "1.30", map[string]any{
				"inventories": map[string]any{
					host.UUID: map[string]any{"resource_provider_generation": hostGen, "inventories": map[string]any{
						"MEMORY_MB": map[string]any{"total": 16384}, "DISK_GB": map[string]any{"total": 500}}},
					numa.UUID: map[string]any{"resource_provider_generation": 0, "inventories": map[string]any{"VCPU": map[string]any{"total": 8}}},
				},
				"allocations": map[string]any{server: map[string]any{
					"allocations": map[string]any{numa.UUID: map[string]any{"resources": map[string]any{"VCPU": 2}}},
					"project_id":  "shop", "user_id": "ops", "consumer_generation": 1}},
			})
			if u := c.must(200, "GET", "/resource_providers/"+numa.UUID+"/usages", "", nil)["usages"]; fmt.Sprint(u) != "map[VCPU:2]" {
				t.Errorf("NUMA usages after reshape = %v", u)
			}

			// Deleting: a parent with children, then in order.
			c.must(409, "DELETE", "/resource_providers/"+host.UUID, "", nil)
			c.must(204, "DELETE", "/allocations/"+server, "", nil)
			if err := resourceproviders.Delete(ctx, sc, numa.UUID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if err := resourceproviders.Delete(ctx, sc, host.UUID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if _, err := resourceproviders.Get(ctx, sc, host.UUID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("deleted provider: %v, want 404", err)
			}
		})
	}
}

// TestOldMicroversions checks the shapes older clients rely on.
func TestOldMicroversions(t *testing.T) {
	env := cloudtest.New(t)
	c := newPL(t, env)
	r := c.do("POST", "/resource_providers", "1.0", map[string]any{"name": "old", "uuid": "0ad0ad00-0000-4000-8000-000000000001"})
	if r.Status != 201 || !strings.HasSuffix(r.Header.Get("Location"), "/placement/resource_providers/0ad0ad00-0000-4000-8000-000000000001") || len(r.Body) != 0 {
		t.Fatalf("POST at 1.0: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	p := c.must(200, "GET", "/resource_providers/0ad0ad00-0000-4000-8000-000000000001", "1.0", nil)
	if _, ok := p["root_provider_uuid"]; ok {
		t.Errorf("root_provider_uuid shown at 1.0: %v", p)
	}
	if len(p["links"].([]any)) != 3 {
		t.Errorf("links at 1.0 = %v, want self, inventories, usages", p["links"])
	}
	c.must(201, "POST", "/resource_providers/0ad0ad00-0000-4000-8000-000000000001/inventories", "1.0", map[string]any{"resource_class": "VCPU", "total": 2})
	// 1.0 allocations are a list, without project or user.
	c.must(204, "PUT", "/allocations/0ad0ad00-0000-4000-8000-0000000000c1", "1.0", map[string]any{
		"allocations": []any{map[string]any{"resource_provider": map[string]any{"uuid": "0ad0ad00-0000-4000-8000-000000000001"}, "resources": map[string]any{"VCPU": 1}}}})
	a := c.must(200, "GET", "/allocations/0ad0ad00-0000-4000-8000-0000000000c1", "1.11", nil)
	if _, ok := a["project_id"]; ok {
		t.Errorf("project_id shown before 1.12: %v", a)
	}
	ac := c.must(200, "GET", "/allocation_candidates?resources=VCPU:1", "1.10", nil)
	list := ac["allocation_requests"].([]any)[0].(map[string]any)["allocations"].([]any)
	if len(list) != 1 {
		t.Errorf("1.10 allocation request = %v, want a list", list)
	}
	// Aggregates before 1.19 are a bare list and keep the generation.
	agg := c.must(200, "PUT", "/resource_providers/0ad0ad00-0000-4000-8000-000000000001/aggregates", "1.1", []string{"0ad0ad00-0000-4000-8000-00000000a660"})
	if _, ok := agg["resource_provider_generation"]; ok || len(agg["aggregates"].([]any)) != 1 {
		t.Errorf("aggregates at 1.1 = %v", agg)
	}
	// 1.7: PUT of a custom resource class creates it, then finds it.
	c.must(201, "PUT", "/resource_classes/CUSTOM_FPGA_X", "1.7", nil)
	c.must(204, "PUT", "/resource_classes/CUSTOM_FPGA_X", "1.7", nil)
	// 1.2–1.6: PUT renames.
	c.must(200, "PUT", "/resource_classes/CUSTOM_FPGA_X", "1.2", map[string]any{"name": "CUSTOM_FPGA_Y"})
	c.must(404, "GET", "/resource_classes/CUSTOM_FPGA_X", "1.2", nil)
	if r := c.do("GET", "/resource_providers", "1.15", nil); r.Header.Get("Last-Modified") == "" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("1.15 headers: %v", r.Header)
	}
}
