package compute_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/aggregates"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func TestAggregatesAndZones(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t, backend)
			e.waitHosts(t, 2)
			ctx := context.Background()
			admin := nova(t, e.adminPC, "2.79")

			ag, err := aggregates.Create(ctx, admin, aggregates.CreateOpts{Name: "rack1", AvailabilityZone: "zone-1"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if ag.ID == 0 || ag.UUID == "" || ag.AvailabilityZone != "zone-1" || ag.CreatedAt.IsZero() {
				t.Errorf("created: %+v", ag)
			}
			ag, err = aggregates.AddHost(ctx, admin, ag.ID, aggregates.AddHostOpts{Host: "host-1"}).Extract()
			if err != nil || !cmp.Equal(ag.Hosts, []string{"host-1"}) {
				t.Fatalf("add host: %+v %v", ag, err)
			}
			ag, err = aggregates.SetMetadata(ctx, admin, ag.ID, aggregates.SetMetadataOpts{Metadata: map[string]any{"ssd": "true"}}).Extract()
			if err != nil || ag.Metadata["ssd"] != "true" || ag.Metadata["availability_zone"] != "zone-1" {
				t.Fatalf("set metadata: %+v %v", ag, err)
			}
			ag, err = aggregates.Update(ctx, admin, ag.ID, aggregates.UpdateOpts{Name: "rack-1"}).Extract()
			if err != nil || ag.Name != "rack-1" || ag.UpdatedAt.IsZero() {
				t.Fatalf("update: %+v %v", ag, err)
			}
			pages, err := aggregates.List(admin).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all, _ := aggregates.ExtractAggregates(pages)
			if len(all) != 1 || all[0].Name != "rack-1" {
				t.Errorf("list: %+v", all)
			}

			// The zone shows in os-availability-zone for everyone.
			alice := nova(t, e.alicePC, "2.79")
			pages, err = availabilityzones.List(alice).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			zones, _ := availabilityzones.ExtractAvailabilityZones(pages)
			var names []string
			for _, z := range zones {
				names = append(names, z.ZoneName)
				if !z.ZoneState.Available {
					t.Errorf("zone %s unavailable", z.ZoneName)
				}
			}
			if diff := cmp.Diff([]string{"nova", "zone-1"}, names); diff != "" {
				t.Errorf("zones (-want +got):\n%s", diff)
			}
			pages, err = availabilityzones.ListDetail(admin).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			zones, _ = availabilityzones.ExtractAvailabilityZones(pages)
			detail := map[string][]string{}
			for _, z := range zones {
				for h, svcs := range z.Hosts {
					for b, st := range svcs {
						if !st.Available || !st.Active || st.UpdatedAt.IsZero() {
							t.Errorf("%s/%s/%s: %+v", z.ZoneName, h, b, st)
						}
						detail[z.ZoneName] = append(detail[z.ZoneName], h+"/"+b)
					}
				}
			}
			if detail["zone-1"][0] != "host-1/nova-compute" || detail["nova"][0] != "host-2/nova-compute" || len(detail["internal"]) != 2 {
				t.Errorf("zone detail: %v", detail)
			}
			novaError(t, e.call(t, "GET", "/os-availability-zone/detail", e.aliceTok, "2.79", ""), 403, "forbidden", "admin")

			// A host is in one zone only; an aggregate with hosts is not deleted.
			other, err := aggregates.Create(ctx, admin, aggregates.CreateOpts{Name: "rack2", AvailabilityZone: "zone-2"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			r := e.call(t, "POST", "/os-aggregates/"+strconv.Itoa(other.ID)+"/action", e.adminTok, "2.79", `{"add_host": {"host": "host-1"}}`)
			novaError(t, r, 409, "conflictingRequest", "zone-1")
			novaError(t, e.call(t, "DELETE", "/os-aggregates/"+strconv.Itoa(ag.ID), e.adminTok, "2.79", ""), 400, "badRequest", "not empty")
			if _, err := aggregates.RemoveHost(ctx, admin, ag.ID, aggregates.RemoveHostOpts{Host: "host-1"}).Extract(); err != nil {
				t.Fatal(err)
			}
			if err := aggregates.Delete(ctx, admin, ag.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if _, err := aggregates.Get(ctx, admin, ag.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
				t.Errorf("deleted aggregate: %v", err)
			}
		})
	}
}

func TestAggregateErrors(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	e.waitHosts(t, 1)
	r := e.call(t, "POST", "/os-aggregates", e.adminTok, "2.41", `{"aggregate": {"name": "a"}}`)
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	created := r.JSON(t)["aggregate"].(map[string]any)
	if _, ok := created["hosts"]; ok || created["uuid"] == nil || created["availability_zone"] != nil {
		t.Errorf("create response at 2.41: %v", created)
	}
	if got := e.call(t, "GET", "/os-aggregates/1", e.adminTok, "2.40", "").JSON(t)["aggregate"].(map[string]any); got["uuid"] != nil {
		t.Errorf("uuid before 2.41: %v", got)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		key, msg                 string
	}{
		{"member lists", "GET", "/os-aggregates", "alice", 403, "forbidden", "os_compute_api:os-aggregates:index"},
		{"duplicate", "POST", "/os-aggregates", `{"aggregate": {"name": "a"}}`, 409, "conflictingRequest", "already exists"},
		{"zone with colon", "POST", "/os-aggregates", `{"aggregate": {"name": "b", "availability_zone": "a:b"}}`, 400, "badRequest", "availability_zone"},
		{"name missing", "POST", "/os-aggregates", `{"aggregate": {}}`, 400, "badRequest", "'name' is a required property"},
		{"id not integer", "GET", "/os-aggregates/x", "", 400, "badRequest", "not an integer"},
		{"unknown id", "GET", "/os-aggregates/99", "", 404, "itemNotFound", "Aggregate 99 could not be found"},
		{"empty update", "PUT", "/os-aggregates/1", `{"aggregate": {}}`, 400, "badRequest", "name or availability_zone"},
		{"unknown host", "POST", "/os-aggregates/1/action", `{"add_host": {"host": "nowhere"}}`, 404, "itemNotFound", "Compute host nowhere could not be found"},
		{"host not in aggregate", "POST", "/os-aggregates/1/action", `{"remove_host": {"host": "host-1"}}`, 404, "itemNotFound", "host-1"},
		{"two actions", "POST", "/os-aggregates/1/action", `{"add_host": {"host": "host-1"}, "remove_host": {"host": "host-1"}}`, 400, "badRequest", "exactly one"},
		{"null zone", "POST", "/os-aggregates/1/action", `{"set_metadata": {"metadata": {"availability_zone": null}}}`, 400, "badRequest", "empty named availability zone"},
		{"bad metadata key", "POST", "/os-aggregates/1/action", `{"set_metadata": {"metadata": {"a/b": "x"}}}`, 400, "badRequest", "a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, body := e.adminTok, tc.body
			if body == "alice" {
				tok, body = e.aliceTok, ""
			}
			novaError(t, e.call(t, tc.method, tc.path, tok, "2.79", body), tc.status, tc.key, tc.msg)
		})
	}
}

func TestServicesAndHypervisorsAPI(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	e.waitHosts(t, 2)
	ctx := context.Background()
	admin := nova(t, e.adminPC, "2.79")

	pages, err := services.List(admin, services.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := services.ExtractServices(pages)
	var rows []string
	var host1 services.Service
	for _, s := range svcs {
		rows = append(rows, s.Binary+"@"+s.Host+"/"+s.Zone+"/"+s.State+"/"+s.Status)
		if s.Host == "host-1" {
			host1 = s
		}
	}
	want := []string{"nova-scheduler@controller/internal/up/enabled", "nova-conductor@controller/internal/up/enabled",
		"nova-compute@host-1/nova/up/enabled", "nova-compute@host-2/nova/up/enabled"}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if _, err := uuid.Parse(host1.ID); err != nil {
		t.Errorf("service id at 2.79 is not a UUID: %q", host1.ID)
	}
	// 2.53: PUT /os-services/{uuid}.
	s, err := services.Update(ctx, admin, host1.ID, services.UpdateOpts{Status: services.ServiceDisabled, DisabledReason: "maintenance"}).Extract()
	if err != nil || s.Status != "disabled" || s.DisabledReason != "maintenance" {
		t.Fatalf("disable: %+v %v", s, err)
	}
	s, err = services.Update(ctx, admin, host1.ID, services.UpdateOpts{ForcedDown: true}).Extract()
	if err != nil || !s.ForcedDown || s.State != "down" {
		t.Fatalf("force down: %+v %v", s, err)
	}
	// The hypervisor shows the same state.
	hpages, err := hypervisors.List(admin, hypervisors.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hvs, err := hypervisors.ExtractHypervisors(hpages)
	if err != nil || len(hvs) != 2 {
		t.Fatalf("hypervisors: %v %v", hvs, err)
	}
	hv := hvs[0] // listed in id order: find host-1
	if hv.HypervisorHostname != "host-1" {
		hv = hvs[1]
	}
	if hv.HypervisorHostname != "host-1" || hv.State != "down" || hv.Status != "disabled" || hv.Service.DisabledReason != "maintenance" ||
		hv.ID != host1.ID || hv.Service.ID != host1.ID || hv.VCPUs != 8 || hv.MemoryMB != 8192 || hv.LocalGB != 100 || hv.FreeRamMB != 8192 {
		t.Errorf("hypervisor host-1: %+v", hv)
	}
	one, err := hypervisors.Get(ctx, admin, hv.ID).Extract()
	if err != nil || one.HypervisorHostname != "host-1" {
		t.Fatalf("get: %+v %v", one, err)
	}
	st, err := hypervisors.GetStatistics(ctx, admin).Extract()
	if err != nil || st.Count != 2 || st.VCPUs != 16 {
		t.Errorf("statistics: %+v %v", st, err)
	}
	// Before 2.53: integer ids, the action paths, force-down at 2.11.
	old := e.call(t, "GET", "/os-hypervisors/detail", e.adminTok, "2.27", "").JSON(t)["hypervisors"].([]any)[0].(map[string]any)
	if _, ok := old["id"].(float64); !ok {
		t.Errorf("hypervisor id before 2.53: %#v", old["id"])
	}
	if _, ok := old["cpu_info"].(string); !ok {
		t.Errorf("cpu_info before 2.28: %#v", old["cpu_info"])
	}
	id := strconv.Itoa(int(old["id"].(float64)))
	if r := e.call(t, "GET", "/os-hypervisors/"+id, e.adminTok, "2.52", ""); r.Status != 200 {
		t.Errorf("show by integer id: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ action, body, field, want string }{
		{"enable", `{"host": "host-1", "binary": "nova-compute"}`, "status", "enabled"},
		{"disable-log-reason", `{"host": "host-1", "binary": "nova-compute", "disabled_reason": "again"}`, "disabled_reason", "again"},
		{"force-down", `{"host": "host-1", "binary": "nova-compute", "forced_down": false}`, "forced_down", "false"},
		{"enable", `{"host": "host-1", "binary": "nova-compute"}`, "status", "enabled"},
	} {
		r := e.call(t, "PUT", "/os-services/"+tc.action, e.adminTok, "2.11", tc.body)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", tc.action, r.Status, r.Body)
		}
		got := r.JSON(t)["service"].(map[string]any)[tc.field]
		if s, ok := got.(bool); ok {
			got = strconv.FormatBool(s)
		}
		if got != tc.want {
			t.Errorf("%s: %s = %v, want %s", tc.action, tc.field, got, tc.want)
		}
	}
	after := e.call(t, "GET", "/os-services?host=host-1", e.adminTok, "2.11", "").JSON(t)["services"].([]any)
	if len(after) != 1 || after[0].(map[string]any)["status"] != "enabled" || after[0].(map[string]any)["forced_down"] != false {
		t.Errorf("after the 2.11 actions: %v", after)
	}
	if _, ok := after[0].(map[string]any)["id"].(float64); !ok {
		t.Errorf("service id before 2.53: %v", after[0])
	}

	// with_servers and hostname pattern (2.53); the old search route before.
	r := e.call(t, "GET", "/os-hypervisors?hypervisor_hostname_pattern=st-2&with_servers=true", e.adminTok, "2.75", "")
	hs := r.JSON(t)["hypervisors"].([]any)
	if len(hs) != 1 || hs[0].(map[string]any)["hypervisor_hostname"] != "host-2" || hs[0].(map[string]any)["servers"] == nil {
		t.Errorf("pattern at 2.75: %s", r.Body)
	}
	r = e.call(t, "GET", "/os-hypervisors/st-2/search", e.adminTok, "2.52", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), "host-2") {
		t.Errorf("search before 2.53: %d %s", r.Status, r.Body)
	}
	// Paging (2.33).
	p1 := e.call(t, "GET", "/os-hypervisors?limit=1", e.adminTok, "2.33", "").JSON(t)
	if len(p1["hypervisors"].([]any)) != 1 || p1["hypervisors_links"] == nil {
		t.Errorf("page 1: %v", p1)
	}

	// A host without an agent can be deleted; one with servers or the
	// control plane cannot.
	ghost := uuid.NewString()
	err = e.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.UpsertHost(ctx, store.ComputeHost{ID: ghost, Host: "ghost", Enabled: true, HeartbeatAt: time.Now(), StatusChangedAt: time.Now(),
			HypervisorType: "QEMU", VCPUs: 1, MemoryMB: 1, DiskGB: 1, CPUInfo: "{}", CreatedAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := services.Delete(ctx, admin, ghost).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, mv, body string
		status                       int
		key, msg                     string
	}{
		{"delete gone", "DELETE", "/os-services/" + ghost, "2.53", "", 404, "itemNotFound", "not found"},
		{"delete scheduler", "DELETE", "/os-services/1", "2.52", "", 409, "conflictingRequest", "control plane"},
		{"delete bad uuid", "DELETE", "/os-services/7", "2.53", "", 400, "badRequest", "Invalid uuid 7"},
		{"delete bad int", "DELETE", "/os-services/x", "2.52", "", 400, "badRequest", "not an integer"},
		{"unknown action", "PUT", "/os-services/reboot", "2.11", `{"host": "host-1", "binary": "nova-compute"}`, 404, "itemNotFound", "Unknown action"},
		{"force-down before 2.11", "PUT", "/os-services/force-down", "2.10", `{"host": "host-1", "binary": "nova-compute", "forced_down": true}`, 404, "itemNotFound", "Unknown action"},
		{"scheduler update", "PUT", "/os-services/disable", "2.11", `{"host": "controller", "binary": "nova-scheduler"}`, 400, "badRequest", "Only nova-compute"},
		{"unknown host", "PUT", "/os-services/disable", "2.11", `{"host": "nowhere", "binary": "nova-compute"}`, 404, "itemNotFound", "nowhere"},
		{"reason missing", "PUT", "/os-services/disable-log-reason", "2.11", `{"host": "host-1", "binary": "nova-compute"}`, 400, "badRequest", "disabled reason"},
		{"reason with enabled", "PUT", "/os-services/" + host1.ID, "2.53", `{"status": "enabled", "disabled_reason": "x"}`, 400, "badRequest", "'disabled_reason' with status 'enabled'"},
		{"no update", "PUT", "/os-services/" + host1.ID, "2.53", `{}`, 400, "badRequest", "No updates were requested"},
		{"old path at 2.53", "PUT", "/os-services/enable", "2.53", `{"host": "host-1", "binary": "nova-compute"}`, 400, "badRequest", "Invalid uuid enable"},
		{"hypervisor bad uuid", "GET", "/os-hypervisors/1", "2.53", "", 400, "badRequest", "Invalid uuid 1"},
		{"hypervisor bad int", "GET", "/os-hypervisors/abc", "2.1", "", 404, "itemNotFound", "Hypervisor with ID 'abc' could not be found"},
		{"hypervisor missing", "GET", "/os-hypervisors/" + ghost, "2.53", "", 404, "itemNotFound", "could not be found"},
		{"pattern paging", "GET", "/os-hypervisors?hypervisor_hostname_pattern=host&limit=1", "2.53", "", 400, "badRequest", "Paging over hypervisors"},
		{"pattern no match", "GET", "/os-hypervisors?hypervisor_hostname_pattern=zzz", "2.53", "", 404, "itemNotFound", "No hypervisor matching 'zzz'"},
		{"search at 2.53", "GET", "/os-hypervisors/host/search", "2.53", "", 404, "itemNotFound", "removed in microversion 2.53"},
		{"unknown query at 2.53", "GET", "/os-hypervisors?colour=red", "2.53", "", 400, "badRequest", "colour"},
		{"uptime", "GET", "/os-hypervisors/" + host1.ID + "/uptime", "2.53", "", 501, "notImplemented", "uptime"},
		{"member lists services", "GET", "/os-services", "2.79", "alice", 403, "forbidden", "os_compute_api:os-services:list"},
		{"member lists hypervisors", "GET", "/os-hypervisors", "2.79", "alice", 403, "forbidden", "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, body := e.adminTok, tc.body
			if body == "alice" {
				tok, body = e.aliceTok, ""
			}
			novaError(t, e.call(t, tc.method, tc.path, tok, tc.mv, body), tc.status, tc.key, tc.msg)
		})
	}
}
