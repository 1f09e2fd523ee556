package network_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/subnetpools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// neutronType returns the NeutronError type of a raw answer.
func neutronType(r []byte) string {
	_, rest, _ := strings.Cut(string(r), `"type":"`)
	typ, _, _ := strings.Cut(rest, `"`)
	return typ
}

// TestSubnetPools: create (prefixes compacted, Neutron's defaults),
// show, list with filters, update (prefixes only grow), subnets
// allocated from the pool with distinct prefixes, a cidr outside the pool
// or on an allocation, exhaustion, delete in use, tags, the default pool
// and sharing, and isolation.
func TestSubnetPools(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p, err := subnetpools.Create(ctx, e.alice, subnetpools.CreateOpts{Name: "pool", Description: "d",
			Prefixes:         []string{"10.80.1.0/24", "10.80.0.0/24", "10.80.0.128/25"},
			DefaultPrefixLen: 26, MinPrefixLen: 24, MaxPrefixLen: 28}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		want := subnetpools.SubnetPool{ID: p.ID, Name: "pool", Description: "d", TenantID: e.shopID, ProjectID: e.shopID,
			Prefixes: []string{"10.80.0.0/23"}, DefaultPrefixLen: 26, MinPrefixLen: 24, MaxPrefixLen: 28, IPversion: 4,
			RevisionNumber: 1, Tags: []string{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
		if diff := cmp.Diff(want, *p); diff != "" {
			t.Errorf("created pool (-want +got):\n%s", diff)
		}
		raw := e.call(t, "GET", "/subnetpools/"+p.ID, e.ritaTok, nil).JSON(t)["subnetpool"].(map[string]any)
		if raw["default_quota"] != nil || raw["address_scope_id"] != nil || raw["is_default"] != false || raw["shared"] != false {
			t.Errorf("pool body: %v", raw)
		}
		// Neutron's defaults: v4 min /8 max /32, v6 min /64 max /128; default = min.
		d4, err := subnetpools.Create(ctx, e.alice, subnetpools.CreateOpts{Name: "d4", Prefixes: []string{"10.70.0.0/16"}}).Extract()
		if err != nil || d4.MinPrefixLen != 8 || d4.MaxPrefixLen != 32 || d4.DefaultPrefixLen != 8 {
			t.Errorf("v4 defaults: %+v %v", d4, err)
		}
		d6, err := subnetpools.Create(ctx, e.alice, subnetpools.CreateOpts{Name: "d6", Prefixes: []string{"fd00:70::/48"}}).Extract()
		if err != nil || d6.IPversion != 6 || d6.MinPrefixLen != 64 || d6.MaxPrefixLen != 128 || d6.DefaultPrefixLen != 64 {
			t.Errorf("v6 defaults: %+v %v", d6, err)
		}
		for _, bad := range []struct{ body, typ string }{
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8","fd00::/64"]}}`, "PrefixVersionMismatch"},
			{`{"subnetpool":{"name":"x","prefixes":[]}}`, "EmptySubnetPoolPrefixList"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/33"]}}`, "InvalidInput"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8"],"min_prefixlen":24,"default_prefixlen":16}}`, "IllegalSubnetPoolPrefixBounds"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8"],"max_prefixlen":33}}`, "IllegalSubnetPoolPrefixBounds"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8"],"shared":true}}`, "PolicyNotAuthorized"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8"],"is_default":true}}`, "PolicyNotAuthorized"},
			{`{"subnetpool":{"name":"x","prefixes":["10.0.0.0/8"],"address_scope_id":"a"}}`, "HTTPBadRequest"},
		} {
			r := e.call(t, "POST", "/subnetpools", e.aliceTok, bad.body)
			if r.Status/100 != 4 || neutronType(r.Body) != bad.typ {
				t.Errorf("%s: %d %s, want %s", bad.body, r.Status, r.Body, bad.typ)
			}
		}

		// Lists: own pools, filters, fields.
		pages, err := subnetpools.List(e.alice, subnetpools.ListOpts{Name: "pool"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := subnetpools.ExtractSubnetPools(pages)
		if len(got) != 1 || got[0].ID != p.ID {
			t.Errorf("list by name: %+v", got)
		}
		if l := e.call(t, "GET", "/subnetpools?ip_version=6&fields=id", e.aliceTok, nil).JSON(t)["subnetpools"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != d6.ID {
			t.Errorf("list by ip_version: %v", l)
		}

		// Update: name, prefixes may grow (compacted again), not shrink.
		name := "pool2"
		up, err := subnetpools.Update(ctx, e.alice, p.ID, subnetpools.UpdateOpts{Name: name,
			Prefixes: []string{"10.80.0.0/23", "10.80.2.0/24", "10.80.3.0/24"}}).Extract()
		if err != nil || up.Name != name || !cmp.Equal(up.Prefixes, []string{"10.80.0.0/22"}) || up.RevisionNumber != 2 {
			t.Errorf("update: %+v %v", up, err)
		}
		r := e.call(t, "PUT", "/subnetpools/"+p.ID, e.aliceTok, `{"subnetpool":{"prefixes":["10.80.0.0/23"]}}`)
		if r.Status != 400 || neutronType(r.Body) != "IllegalSubnetPoolPrefixUpdate" {
			t.Errorf("shrink: %d %s", r.Status, r.Body)
		}
		r = e.call(t, "PUT", "/subnetpools/"+p.ID, e.aliceTok, `{"subnetpool":{"name":"x"}}`, "If-Match", "revision_number=1")
		if r.Status != 412 {
			t.Errorf("stale If-Match: %d %s", r.Status, r.Body)
		}

		// Subnets from the pool: distinct prefixes of default_prefixlen or prefixlen.
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "pooled"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		n2, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "pooled2"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		var cidrs []string
		var made []string
		for i, o := range []subnets.CreateOpts{
			{NetworkID: n.ID, IPVersion: gophercloud.IPv4, SubnetPoolID: p.ID},
			{NetworkID: n2.ID, IPVersion: gophercloud.IPv4, SubnetPoolID: p.ID},
			{NetworkID: n.ID, IPVersion: gophercloud.IPv4, SubnetPoolID: p.ID, Prefixlen: 28},
			{NetworkID: n2.ID, IPVersion: gophercloud.IPv4, SubnetPoolID: p.ID, CIDR: "10.80.3.0/24"},
		} {
			sn, err := subnets.Create(ctx, e.alice, o).Extract()
			if err != nil {
				t.Fatalf("subnet %d: %v", i, err)
			}
			if sn.SubnetPoolID != p.ID {
				t.Errorf("subnet %d: subnetpool_id %q", i, sn.SubnetPoolID)
			}
			cidrs = append(cidrs, sn.CIDR)
			made = append(made, sn.ID)
		}
		// Best fit: the /28 comes out of the /26 block left after two /26s.
		if diff := cmp.Diff([]string{"10.80.0.0/26", "10.80.0.64/26", "10.80.0.128/28", "10.80.3.0/24"}, cidrs); diff != "" {
			t.Errorf("allocated cidrs (-want +got):\n%s", diff)
		}
		sn, err := subnets.Get(ctx, e.alice, made[0]).Extract()
		if err != nil || sn.GatewayIP != "10.80.0.1" || sn.AllocationPools[0].Start != "10.80.0.2" {
			t.Errorf("pooled subnet: %+v %v", sn, err)
		}
		if raw := e.call(t, "GET", "/subnets?subnetpool_id="+p.ID, e.aliceTok, nil).JSON(t)["subnets"].([]any); len(raw) != 4 {
			t.Errorf("filter subnets by pool: %d", len(raw))
		}
		for _, bad := range []struct {
			body   string
			status int
			typ    string
		}{
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"subnetpool_id":"` + p.ID + `","cidr":"10.99.0.0/24"}}`, 400, "SubnetAllocationError"},
			{`{"subnet":{"network_id":"` + n2.ID + `","ip_version":4,"subnetpool_id":"` + p.ID + `","cidr":"10.80.0.0/24"}}`, 409, "SubnetAllocationError"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"subnetpool_id":"` + p.ID + `","prefixlen":30}}`, 400, "MaxPrefixSubnetAllocationError"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"subnetpool_id":"` + p.ID + `","prefixlen":20}}`, 400, "MinPrefixSubnetAllocationError"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":6,"subnetpool_id":"` + p.ID + `"}}`, 400, "InvalidInput"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"prefixlen":24}}`, 400, "HTTPBadRequest"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"use_default_subnetpool":true}}`, 400, "HTTPBadRequest"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"subnetpool_id":"3f5e2b1c-0000-4000-8000-000000000000"}}`, 404, "SubnetPoolNotFound"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"subnetpool_id":"` + d4.ID + `","prefixlen":24}}`, 400, "NetworkSubnetPoolAffinityError"},
			{`{"subnet":{"network_id":"` + n.ID + `","ip_version":4,"cidr":"10.55.0.0/24"}}`, 400, "NetworkSubnetPoolAffinityError"},
		} {
			r := e.call(t, "POST", "/subnets", e.aliceTok, bad.body)
			if r.Status != bad.status || neutronType(r.Body) != bad.typ {
				t.Errorf("%s: %d %s, want %d %s", bad.body, r.Status, r.Body, bad.status, bad.typ)
			}
		}
		if r := e.call(t, "PUT", "/subnets/"+made[0], e.aliceTok, `{"subnet":{"subnetpool_id":"x"}}`); r.Status != 400 {
			t.Errorf("update subnetpool_id: %d %s", r.Status, r.Body)
		}

		// Exhaustion: a /26 pool holds four /28s.
		small, err := subnetpools.Create(ctx, e.alice, subnetpools.CreateOpts{Name: "small", Prefixes: []string{"10.81.0.0/26"}, DefaultPrefixLen: 28}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			nn, err := networks.Create(ctx, e.alice, networks.CreateOpts{}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: nn.ID, IPVersion: gophercloud.IPv4, SubnetPoolID: small.ID}).Extract(); err != nil {
				t.Fatalf("small pool subnet %d: %v", i, err)
			}
		}
		n3, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "pooled3"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		r = e.call(t, "POST", "/subnets", e.aliceTok, `{"subnet":{"network_id":"`+n3.ID+`","ip_version":4,"subnetpool_id":"`+small.ID+`"}}`)
		if r.Status != 409 || neutronType(r.Body) != "SubnetAllocationError" || !strings.Contains(string(r.Body), "Insufficient prefix space to allocate subnet size /28") {
			t.Errorf("exhausted: %d %s", r.Status, r.Body)
		}

		// Tags on pools go through the shared tags path.
		if r := e.call(t, "PUT", "/subnetpools/"+p.ID+"/tags/blue", e.aliceTok, nil); r.Status != 201 {
			t.Errorf("add tag: %d %s", r.Status, r.Body)
		}
		if r := e.call(t, "PUT", "/subnetpools/"+p.ID+"/tags", e.aliceTok, `{"tags":["a","b"]}`); r.Status != 200 {
			t.Errorf("replace tags: %d %s", r.Status, r.Body)
		}
		if l := e.call(t, "GET", "/subnetpools?tags=a", e.aliceTok, nil).JSON(t)["subnetpools"].([]any); len(l) != 1 {
			t.Errorf("tag filter: %v", l)
		}
		if r := e.call(t, "GET", "/subnetpools/"+p.ID+"/tags/blue", e.aliceTok, nil); r.Status != 404 {
			t.Errorf("replaced tag still there: %d", r.Status)
		}

		// Isolation: bob neither sees nor uses alice's pool.
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			body := ""
			if m == "PUT" {
				body = `{"subnetpool":{"name":"mine"}}`
			}
			if r := e.call(t, m, "/subnetpools/"+p.ID, e.bobTok, body); r.Status != 404 || neutronType(r.Body) != "SubnetPoolNotFound" {
				t.Errorf("bob %s: %d %s", m, r.Status, r.Body)
			}
		}
		if l := e.call(t, "GET", "/subnetpools", e.bobTok, nil).JSON(t)["subnetpools"].([]any); len(l) != 0 {
			t.Errorf("bob lists alice's pools: %v", l)
		}
		bn, err := networks.Create(ctx, e.bob, networks.CreateOpts{Name: "bobnet"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		r = e.call(t, "POST", "/subnets", e.bobTok, `{"subnet":{"network_id":"`+bn.ID+`","ip_version":4,"subnetpool_id":"`+p.ID+`"}}`)
		if r.Status != 404 || neutronType(r.Body) != "SubnetPoolNotFound" {
			t.Errorf("bob allocates from alice's pool: %d %s", r.Status, r.Body)
		}
		if r := e.call(t, "PUT", "/subnetpools/"+p.ID+"/tags/x", e.bobTok, nil); r.Status != 404 {
			t.Errorf("bob tags alice's pool: %d", r.Status)
		}

		// A shared default pool (admin): everyone sees it and allocates from it.
		yes := true
		def, err := subnetpools.Create(ctx, e.admin, subnetpools.CreateOpts{Name: "default", Prefixes: []string{"10.200.0.0/16"},
			DefaultPrefixLen: 24, Shared: true, IsDefault: true}).Extract()
		if err != nil || !def.IsDefault || !def.Shared {
			t.Fatalf("default pool: %+v %v", def, err)
		}
		r = e.call(t, "POST", "/subnetpools", e.adminTok, `{"subnetpool":{"name":"second","prefixes":["10.201.0.0/16"],"is_default":true}}`)
		if r.Status != 400 || neutronType(r.Body) != "InvalidInput" {
			t.Errorf("second default: %d %s", r.Status, r.Body)
		}
		if _, err := subnetpools.Update(ctx, e.alice, p.ID, subnetpools.UpdateOpts{IsDefault: &yes}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
			t.Errorf("member sets is_default: %v", err)
		}
		r = e.call(t, "POST", "/subnets", e.bobTok, `{"subnet":{"network_id":"`+bn.ID+`","ip_version":4,"use_default_subnetpool":true}}`)
		if r.Status != 201 {
			t.Fatalf("use_default_subnetpool: %d %s", r.Status, r.Body)
		}
		if s := r.JSON(t)["subnet"].(map[string]any); s["cidr"] != "10.200.0.0/24" || s["subnetpool_id"] != def.ID {
			t.Errorf("default pool subnet: %v", s)
		}
		if _, err := subnetpools.Get(ctx, e.bob, def.ID).Extract(); err != nil {
			t.Errorf("bob sees the shared pool: %v", err)
		}
		if r := e.call(t, "DELETE", "/subnetpools/"+def.ID, e.bobTok, nil); r.Status != 403 {
			t.Errorf("bob deletes the shared pool: %d %s", r.Status, r.Body)
		}

		// Delete: refused while subnets use the pool.
		r = e.call(t, "DELETE", "/subnetpools/"+p.ID, e.aliceTok, nil)
		if r.Status != 409 || neutronType(r.Body) != "SubnetPoolInUse" {
			t.Errorf("delete in use: %d %s", r.Status, r.Body)
		}
		for _, id := range made {
			if err := subnets.Delete(ctx, e.alice, id).ExtractErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := subnetpools.Delete(ctx, e.alice, p.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if _, err := subnetpools.Get(ctx, e.alice, p.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("deleted pool: %v", err)
		}

		exts := string(e.call(t, "GET", "/extensions", e.aliceTok, nil).Body)
		for _, alias := range []string{"subnet_allocation", "default-subnetpools"} {
			if !strings.Contains(exts, `"alias":"`+alias+`"`) {
				t.Errorf("extension %s not listed", alias)
			}
		}
	})
}
