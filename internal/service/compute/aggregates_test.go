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

func TestAggregates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)
		now := time.Now()
		opsHost(t, db, "host-a", now)
		opsHost(t, db, "host-b", now)
		opsHost(t, db, "host-c", now)

		_, err := s.CreateAggregate(ctx, opsAlice, "rack1", "")
		wantStatus(t, err, 403)
		rack1, err := s.CreateAggregate(ctx, opsAdmin, "rack1", "zone-1")
		if err != nil {
			t.Fatal(err)
		}
		if rack1.ID == 0 || len(rack1.UUID) != 36 || rack1.Metadata["availability_zone"] != "zone-1" {
			t.Errorf("created: %+v", rack1)
		}
		_, err = s.CreateAggregate(ctx, opsAdmin, "rack1", "")
		wantStatus(t, err, 409)
		_, err = s.CreateAggregate(ctx, opsAdmin, "x", "a:b")
		wantStatus(t, err, 400)
		ssd, err := s.CreateAggregate(ctx, opsAdmin, "ssd", "")
		if err != nil {
			t.Fatal(err)
		}
		rack2, err := s.CreateAggregate(ctx, opsAdmin, "rack2", "zone-2")
		if err != nil {
			t.Fatal(err)
		}

		if _, err := s.AddAggregateHost(ctx, opsAdmin, rack1.ID, "host-a"); err != nil {
			t.Fatal(err)
		}
		_, err = s.AddAggregateHost(ctx, opsAdmin, rack1.ID, "host-a")
		wantStatus(t, err, 409)
		_, err = s.AddAggregateHost(ctx, opsAdmin, rack1.ID, "host-zz")
		wantStatus(t, err, 404)
		_, err = s.AddAggregateHost(ctx, opsAdmin, 999, "host-a")
		wantStatus(t, err, 404)
		// Several aggregates, one zone: ssd has no zone, rack2 another zone.
		if _, err := s.AddAggregateHost(ctx, opsAdmin, ssd.ID, "host-a"); err != nil {
			t.Fatal(err)
		}
		_, err = s.AddAggregateHost(ctx, opsAdmin, rack2.ID, "host-a")
		if e := wantStatus(t, err, 409); !strings.Contains(e.Message, "zone-1") {
			t.Errorf("zone conflict message: %q", e.Message)
		}
		// Moving an aggregate into another host's zone is refused too.
		if _, err := s.AddAggregateHost(ctx, opsAdmin, rack2.ID, "host-b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddAggregateHost(ctx, opsAdmin, ssd.ID, "host-b"); err != nil {
			t.Fatal(err)
		}
		z := "zone-9"
		_, err = s.SetAggregateMetadata(ctx, opsAdmin, ssd.ID, map[string]*string{"availability_zone": &z})
		wantStatus(t, err, 400)

		// Metadata: merge, delete with nil, the zone key moves the zone.
		fast, z3 := "true", "zone-3"
		a, err := s.SetAggregateMetadata(ctx, opsAdmin, rack2.ID, map[string]*string{"ssd": &fast, "availability_zone": &z3})
		if err != nil {
			t.Fatal(err)
		}
		if a.Zone != "zone-3" || a.Metadata["ssd"] != "true" {
			t.Errorf("after set_metadata: %+v", a)
		}
		a, err = s.SetAggregateMetadata(ctx, opsAdmin, rack2.ID, map[string]*string{"ssd": nil})
		if _, ok := a.Metadata["ssd"]; err != nil || ok {
			t.Errorf("delete metadata key: %+v %v", a, err)
		}
		// A zone change with servers on the hosts is refused.
		opsServer(t, db, "p-shop", "vm", "host-b", "", store.Flavor{ID: "1", RAM: 512, VCPUs: 1, Disk: 1})
		z4 := "zone-4"
		_, err = s.UpdateAggregate(ctx, opsAdmin, rack2.ID, compute.AggregateUpdate{Zone: func() **string { p := &z4; return &p }()})
		if e := wantStatus(t, err, 400); !strings.Contains(e.Message, "host-b") {
			t.Errorf("servers-in-zone message: %q", e.Message)
		}
		name := "rack-2"
		a, err = s.UpdateAggregate(ctx, opsAdmin, rack2.ID, compute.AggregateUpdate{Name: &name})
		if err != nil || a.Name != "rack-2" {
			t.Fatalf("rename: %+v %v", a, err)
		}
		_, err = s.UpdateAggregate(ctx, opsAdmin, rack2.ID, compute.AggregateUpdate{Name: func() *string { n := "rack1"; return &n }()})
		wantStatus(t, err, 409)

		// Delete refuses while hosts remain.
		err = s.DeleteAggregate(ctx, opsAdmin, rack1.ID)
		if e := wantStatus(t, err, 400); !strings.Contains(e.Message, "host-a") {
			t.Errorf("delete non-empty message: %q", e.Message)
		}
		a, err = s.RemoveAggregateHost(ctx, opsAdmin, rack1.ID, "host-a")
		if err != nil || len(a.Hosts) != 0 {
			t.Fatalf("remove host: %+v %v", a, err)
		}
		_, err = s.RemoveAggregateHost(ctx, opsAdmin, rack1.ID, "host-a")
		wantStatus(t, err, 404)
		// Removing host-b from rack-2 would move its server to the default zone.
		_, err = s.RemoveAggregateHost(ctx, opsAdmin, rack2.ID, "host-b")
		wantStatus(t, err, 409)
		if err := s.DeleteAggregate(ctx, opsAdmin, rack1.ID); err != nil {
			t.Fatal(err)
		}
		all, err := s.Aggregates(ctx, opsAdmin)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range all {
			names = append(names, a.Name)
		}
		if diff := cmp.Diff([]string{"ssd", "rack-2"}, names); diff != "" {
			t.Errorf("aggregates (-want +got):\n%s", diff)
		}
	})
}
