package network_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/subnetpools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// TestTenantIsolation: bob (another project) can neither see, change nor
// delete alice's network, subnet, port, router, floating IP or security
// group; rita (reader of alice's project) sees them and changes nothing;
// shared and external networks are visible to all.
func TestTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "private"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		sn, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.3.0.0/24", IPVersion: gophercloud.IPv4}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ports.Create(ctx, e.alice, ports.CreateOpts{NetworkID: n.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		rt, err := routers.Create(ctx, e.alice, routers.CreateOpts{Name: "r"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		pub := publicNetwork(t, e.bob)
		fip, err := floatingips.Create(ctx, e.alice, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		g, err := groups.Create(ctx, e.alice, groups.CreateOpts{Name: "g"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		sp, err := subnetpools.Create(ctx, e.alice, subnetpools.CreateOpts{Name: "sp", Prefixes: []string{"10.60.0.0/16"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		res := []struct{ path, member, typ string }{
			{"/networks/" + n.ID, "network", "NetworkNotFound"},
			{"/subnets/" + sn.ID, "subnet", "SubnetNotFound"},
			{"/ports/" + p.ID, "port", "PortNotFound"},
			{"/routers/" + rt.ID, "router", "RouterNotFound"},
			{"/floatingips/" + fip.ID, "floatingip", "FloatingIPNotFound"},
			{"/security-groups/" + g.ID, "security_group", "SecurityGroupNotFound"},
			{"/subnetpools/" + sp.ID, "subnetpool", "SubnetPoolNotFound"},
		}
		for _, r := range res {
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				body := ""
				if m == "PUT" {
					body = `{"` + r.member + `":{"description":"mine now"}}`
				}
				got := e.call(t, m, r.path, e.bobTok, body)
				if got.Status != 404 || !strings.Contains(string(got.Body), `"type":"`+r.typ+`"`) {
					t.Errorf("bob %s %s: %d %s", m, r.path, got.Status, got.Body)
				}
			}
			if got := e.call(t, "GET", r.path, e.ritaTok, nil); got.Status != 200 {
				t.Errorf("rita GET %s: %d %s", r.path, got.Status, got.Body)
			}
			for _, m := range []string{"PUT", "DELETE"} {
				body := ""
				if m == "PUT" {
					body = `{"` + r.member + `":{"description":"x"}}`
				}
				if got := e.call(t, m, r.path, e.ritaTok, body); got.Status != 403 {
					t.Errorf("rita %s %s: %d %s", m, r.path, got.Status, got.Body)
				}
			}
		}
		if got := e.call(t, "POST", "/networks", e.ritaTok, `{"network":{"name":"x"}}`); got.Status != 403 {
			t.Errorf("rita creates a network: %d", got.Status)
		}
		// Lists: bob sees none of alice's, but sees public.
		for _, c := range []string{"networks", "subnets", "ports", "routers", "floatingips", "security-groups", "security-group-rules"} {
			body := string(e.call(t, "GET", "/"+c, e.bobTok, nil).Body)
			if strings.Contains(body, e.shopID) {
				t.Errorf("bob's %s list shows alice's project: %s", c, body)
			}
		}
		if !strings.Contains(string(e.call(t, "GET", "/networks", e.bobTok, nil).Body), pub.ID) {
			t.Errorf("bob does not see the public network")
		}
		// Bob cannot put a port on alice's network, nor a router interface on her subnet.
		if got := e.call(t, "POST", "/ports", e.bobTok, `{"port":{"network_id":"`+n.ID+`"}}`); got.Status != 404 {
			t.Errorf("bob port on alice's network: %d %s", got.Status, got.Body)
		}
		brt, _ := routers.Create(ctx, e.bob, routers.CreateOpts{Name: "b"}).Extract()
		if _, err := routers.AddInterface(ctx, e.bob, brt.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("bob interface on alice's subnet: %v", err)
		}
		// A shared network is visible to bob, its owner's changes are not his to make.
		shared := true
		sh, err := networks.Create(ctx, e.admin, networks.CreateOpts{Name: "shared", Shared: &shared}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := networks.Get(ctx, e.bob, sh.ID).Extract(); err != nil {
			t.Errorf("bob gets a shared network: %v", err)
		}
		if got := e.call(t, "PUT", "/networks/"+sh.ID, e.bobTok, `{"network":{"name":"mine"}}`); got.Status != 403 {
			t.Errorf("bob renames a shared network: %d", got.Status)
		}
		if _, err := ports.Create(ctx, e.bob, ports.CreateOpts{NetworkID: sh.ID}).Extract(); err != nil {
			t.Errorf("bob's port on a shared network: %v", err)
		}
		// A network's owner sees (and may delete, not change) other
		// projects' ports on it, as Neutron's admin_owner_or_network_owner.
		foreign := e.call(t, "POST", "/ports", e.adminTok, `{"port":{"network_id":"`+n.ID+`","project_id":"`+e.rivalID+`"}}`)
		if foreign.Status != 201 {
			t.Fatalf("admin port for rival on alice's network: %d %s", foreign.Status, foreign.Body)
		}
		fid := foreign.JSON(t)["port"].(map[string]any)["id"].(string)
		if got := e.call(t, "GET", "/ports/"+fid, e.aliceTok, nil); got.Status != 200 {
			t.Errorf("network owner reads a port on her network: %d", got.Status)
		}
		if !strings.Contains(string(e.call(t, "GET", "/ports?network_id="+n.ID, e.aliceTok, nil).Body), fid) {
			t.Errorf("network owner's port list misses a port on her network")
		}
		if got := e.call(t, "PUT", "/ports/"+fid, e.aliceTok, `{"port":{"name":"x"}}`); got.Status != 403 {
			t.Errorf("network owner updates another project's port: %d", got.Status)
		}
		if got := e.call(t, "DELETE", "/ports/"+fid, e.aliceTok, nil); got.Status != 204 {
			t.Errorf("network owner deletes a port on her network: %d %s", got.Status, got.Body)
		}

		// Members cannot make shared or provider networks.
		if got := e.call(t, "POST", "/networks", e.aliceTok, `{"network":{"shared":true}}`); got.Status != 403 {
			t.Errorf("member shared network: %d %s", got.Status, got.Body)
		}
		if got := e.call(t, "POST", "/networks", e.aliceTok, `{"network":{"provider:network_type":"flat","provider:physical_network":"x"}}`); got.Status != 403 {
			t.Errorf("member provider network: %d %s", got.Status, got.Body)
		}
	})
}
