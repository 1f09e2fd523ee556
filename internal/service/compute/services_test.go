package compute_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func TestServicesAndHypervisors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)
		now := time.Now()
		a := opsHost(t, db, "host-a", now)
		b := opsHost(t, db, "host-b", now.Add(-time.Hour)) // stale heartbeat: down
		c := opsHost(t, db, "host-c", now)

		_, err := s.Services(ctx, opsAlice, "", "")
		wantStatus(t, err, 403)
		svcs, err := s.Services(ctx, opsAdmin, "", "")
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			ID           int
			Binary, Host string
			Zone         string
			Up, Enabled  bool
		}
		var got []row
		for _, cs := range svcs {
			got = append(got, row{cs.ID, cs.Binary, cs.Host, cs.Zone, cs.Up, cs.Enabled})
		}
		want := []row{
			{1, "nova-scheduler", "controller", "internal", true, true},
			{2, "nova-conductor", "controller", "internal", true, true},
			{a.Seq + 2, "nova-compute", "host-a", "nova", true, true},
			{b.Seq + 2, "nova-compute", "host-b", "nova", false, true},
			{c.Seq + 2, "nova-compute", "host-c", "nova", true, true},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("services (-want +got):\n%s", diff)
		}
		only, _ := s.Services(ctx, opsAdmin, "host-a", "nova-compute")
		if len(only) != 1 || only[0].UUID != a.ID {
			t.Errorf("filtered: %+v", only)
		}

		// Disable with a reason, force down, enable (by host and by id).
		no, yes := false, true
		reason := "disk replacement"
		cs, err := s.UpdateServiceByHost(ctx, opsAdmin, "host-a", "nova-compute", compute.ServiceUpdate{Enabled: &no, DisabledReason: &reason})
		if err != nil || cs.Enabled || cs.DisabledReason != reason {
			t.Fatalf("disable: %+v %v", cs, err)
		}
		_, err = s.UpdateServiceByHost(ctx, opsAdmin, "host-a", "nova-scheduler", compute.ServiceUpdate{Enabled: &no})
		wantStatus(t, err, 400)
		_, err = s.UpdateServiceByHost(ctx, opsAdmin, "host-zz", "nova-compute", compute.ServiceUpdate{Enabled: &no})
		wantStatus(t, err, 404)
		cs, err = s.UpdateService(ctx, opsAdmin, compute.ServiceRef{UUID: a.ID}, compute.ServiceUpdate{ForcedDown: &yes})
		if err != nil || !cs.ForcedDown || cs.Up {
			t.Fatalf("force down: %+v %v", cs, err)
		}
		cs, err = s.UpdateService(ctx, opsAdmin, compute.ServiceRef{UUID: a.ID}, compute.ServiceUpdate{Enabled: &yes, ForcedDown: &no})
		if err != nil || !cs.Enabled || cs.DisabledReason != "" || !cs.Up {
			t.Fatalf("enable: %+v %v", cs, err)
		}
		_, err = s.UpdateService(ctx, opsAdmin, compute.ServiceRef{ID: 1}, compute.ServiceUpdate{Enabled: &no})
		wantStatus(t, err, 400)

		// Usage sums the flavors of the host's servers.
		f := store.Flavor{ID: "1", Name: "small", RAM: 2048, VCPUs: 2, Disk: 20, Ephemeral: 5, Swap: 512}
		v1 := opsServer(t, db, "p-shop", "web-1", "host-a", "", f)
		opsServer(t, db, "p-shop", "web-2", "host-a", "", f)
		hv, err := s.Hypervisor(ctx, opsAdmin, compute.ServiceRef{ID: a.Seq}, true)
		if err != nil {
			t.Fatal(err)
		}
		if hv.VCPUsUsed != 4 || hv.MemoryMBUsed != 4096 || hv.LocalGBUsed != 52 || hv.RunningVMs != 2 || hv.FreeRAM() != 32768-4096 || len(hv.Servers) != 2 {
			t.Errorf("host-a usage: %+v", hv)
		}
		_, err = s.Hypervisor(ctx, opsAdmin, compute.ServiceRef{UUID: "00000000-0000-0000-0000-000000000000"}, false)
		wantStatus(t, err, 404)

		hvs, err := s.Hypervisors(ctx, opsAdmin, compute.HypervisorList{Limit: 2})
		if err != nil || len(hvs) != 2 || hvs[0].Host.Host != "host-a" {
			t.Fatalf("page 1: %v %v", hvs, err)
		}
		hvs, err = s.Hypervisors(ctx, opsAdmin, compute.HypervisorList{Limit: 2, Marker: compute.ServiceRef{UUID: hvs[1].Host.ID}, HasMarker: true})
		if err != nil || len(hvs) != 1 || hvs[0].Host.Host != "host-c" {
			t.Fatalf("page 2: %v %v", hvs, err)
		}
		_, err = s.Hypervisors(ctx, opsAdmin, compute.HypervisorList{Marker: compute.ServiceRef{ID: 999}, HasMarker: true})
		wantStatus(t, err, 400)
		hvs, _ = s.Hypervisors(ctx, opsAdmin, compute.HypervisorList{Pattern: "t-b"})
		if len(hvs) != 1 || hvs[0].Host.Host != "host-b" || hvs[0].Service.Up {
			t.Errorf("pattern: %+v", hvs)
		}
		_, err = s.Hypervisors(ctx, opsAdmin, compute.HypervisorList{Pattern: "nothing"})
		wantStatus(t, err, 404)
		st, err := s.HypervisorStatistics(ctx, opsAdmin)
		if err != nil || st.Count != 3 || st.VCPUs != 48 || st.VCPUsUsed != 4 || st.RunningVMs != 2 {
			t.Errorf("statistics: %+v %v", st, err)
		}

		// Availability zones follow aggregates.
		ag, err := s.CreateAggregate(ctx, opsAdmin, "rack", "zone-b")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddAggregateHost(ctx, opsAdmin, ag.ID, "host-b"); err != nil {
			t.Fatal(err)
		}
		zones, err := s.AvailabilityZones(ctx, opsAlice, false)
		if err != nil {
			t.Fatal(err)
		}
		type zrow struct {
			Name      string
			Available bool
			Hosts     int
		}
		var zs []zrow
		for _, z := range zones {
			zs = append(zs, zrow{z.Name, z.Available, len(z.Hosts)})
		}
		if diff := cmp.Diff([]zrow{{"nova", true, 2}, {"zone-b", false, 1}}, zs); diff != "" {
			t.Errorf("zones (-want +got):\n%s", diff)
		}
		_, err = s.AvailabilityZones(ctx, opsAlice, true)
		wantStatus(t, err, 403)
		zones, _ = s.AvailabilityZones(ctx, opsAdmin, true)
		if last := zones[len(zones)-1]; last.Name != "internal" || len(last.Hosts) != 1 || len(last.Hosts[0].Services) != 2 {
			t.Errorf("detail's internal zone: %+v", last)
		}

		// Deleting a service: refused with servers, for the control plane,
		// and gone from aggregates otherwise.
		err = s.DeleteService(ctx, opsAdmin, compute.ServiceRef{UUID: a.ID})
		if e := wantStatus(t, err, 409); !strings.Contains(e.Message, "hosting instances") {
			t.Errorf("delete busy host: %q", e.Message)
		}
		wantStatus(t, s.DeleteService(ctx, opsAdmin, compute.ServiceRef{ID: 2}), 409)
		if err := s.DeleteService(ctx, opsAdmin, compute.ServiceRef{ID: b.Seq + 2}); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, s.DeleteService(ctx, opsAdmin, compute.ServiceRef{ID: b.Seq + 2}), 404)
		ag, _ = s.Aggregate(ctx, opsAdmin, ag.ID)
		if len(ag.Hosts) != 0 {
			t.Errorf("deleted host still in aggregate: %v", ag.Hosts)
		}
		_ = v1
	})
}

func TestQuotaSets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)
		f := store.Flavor{ID: "1", Name: "small", RAM: 2048, VCPUs: 2, Disk: 20}
		opsServer(t, db, "p-shop", "a", "host-a", "", f)
		opsServer(t, db, "p-shop", "b", "host-a", "", f)

		_, err := s.ProjectQuotas(ctx, opsMallory, "p-shop")
		wantStatus(t, err, 403)
		q, err := s.ProjectQuotas(ctx, opsAlice, "p-shop")
		if err != nil || q["instances"] != 10 {
			t.Fatalf("defaults: %v %v", q, err)
		}
		_, err = s.UpdateQuotas(ctx, opsAlice, "p-shop", map[string]int64{"instances": 5}, false)
		wantStatus(t, err, 403)
		_, err = s.UpdateQuotas(ctx, opsAdmin, "p-shop", map[string]int64{"instances": 1}, false)
		if e := wantStatus(t, err, 400); !strings.Contains(e.Message, "already used") {
			t.Errorf("below usage: %q", e.Message)
		}
		q, err = s.UpdateQuotas(ctx, opsAdmin, "p-shop", map[string]int64{"instances": 1, "cores": -1}, true)
		if err != nil || q["instances"] != 1 || q["cores"] != -1 {
			t.Fatalf("forced: %v %v", q, err)
		}
		_, err = s.UpdateQuotas(ctx, opsAdmin, "p-shop", map[string]int64{"floating_ips": 1}, true)
		wantStatus(t, err, 400)
		q, used, err := s.ProjectQuotaUsage(ctx, opsAlice, "p-shop", "")
		if err != nil || used["instances"] != 2 || used["cores"] != 4 || used["ram"] != 4096 || q["instances"] != 1 {
			t.Errorf("usage: %v %v %v", q, used, err)
		}
		_, _, err = s.AbsoluteLimits(ctx, opsAlice, "p-other")
		wantStatus(t, err, 403)
		if err := s.DeleteQuotas(ctx, opsAdmin, "p-shop"); err != nil {
			t.Fatal(err)
		}
		if q, _ := s.ProjectQuotas(ctx, opsAdmin, "p-shop"); q["instances"] != 10 {
			t.Errorf("after delete: %v", q)
		}
	})
}
