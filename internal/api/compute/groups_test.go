package compute_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
)

func TestServerGroupsGophercloud(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	ctx := context.Background()

	// Before 2.64: a list of one policy, and metadata.
	old := nova(t, e.alicePC, "2.15")
	g, err := servergroups.Create(ctx, old, servergroups.CreateOpts{Name: "web", Policies: []string{"soft-anti-affinity"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Policies) != 1 || g.Policies[0] != "soft-anti-affinity" || g.Policy != nil || g.ProjectID != e.shopID || g.UserID != e.aliceID {
		t.Errorf("group at 2.15: %+v", g)
	}
	// From 2.64: one policy and its rules.
	alice := nova(t, e.alicePC, "2.64")
	g2, err := servergroups.Create(ctx, alice, servergroups.CreateOpts{Name: "db", Policy: "anti-affinity",
		Rules: &servergroups.Rules{MaxServerPerHost: 3}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if g2.Policy == nil || *g2.Policy != "anti-affinity" || g2.Rules == nil || g2.Rules.MaxServerPerHost != 3 || g2.Policies != nil {
		t.Errorf("group at 2.64: %+v", g2)
	}
	got, err := servergroups.Get(ctx, alice, g.ID).Extract()
	if err != nil || got.Name != "web" || got.Members == nil {
		t.Fatalf("get: %+v %v", got, err)
	}
	admin := nova(t, e.adminPC, "2.64")
	count := func(sc *gophercloud.ServiceClient, all bool) int {
		pages, err := servergroups.List(sc, servergroups.ListOpts{AllProjects: all}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gs, _ := servergroups.ExtractServerGroups(pages)
		return len(gs)
	}
	if n := count(alice, false); n != 2 {
		t.Errorf("alice lists %d groups", n)
	}
	if n := count(admin, false); n != 0 {
		t.Errorf("admin's own project lists %d groups", n)
	}
	if n := count(admin, true); n != 2 {
		t.Errorf("admin all_projects lists %d groups", n)
	}
	if _, err := servergroups.Get(ctx, nova(t, e.adminPC, "2.64"), g.ID).Extract(); err != nil {
		t.Errorf("admin get: %v", err)
	}
	if err := servergroups.Delete(ctx, alice, g.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := servergroups.Get(ctx, alice, g.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("deleted group: %v", err)
	}

	for _, tc := range []struct {
		name, mv, body string
		status         int
		msg            string
	}{
		{"soft before 2.15", "2.14", `{"server_group": {"name": "x", "policies": ["soft-affinity"]}}`, 400, "policies"},
		{"two policies", "2.1", `{"server_group": {"name": "x", "policies": ["affinity", "anti-affinity"]}}`, 400, "exactly one"},
		{"policies at 2.64", "2.64", `{"server_group": {"name": "x", "policies": ["affinity"]}}`, 400, "'policies' was unexpected"},
		{"policy missing", "2.64", `{"server_group": {"name": "x"}}`, 400, "'policy' is a required property"},
		{"rules for affinity", "2.64", `{"server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}}`, 400, "Only anti-affinity"},
		{"unknown rule", "2.64", `{"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"spread": 2}}}`, 400, "'spread' was unexpected"},
		{"zero rule", "2.64", `{"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}}`, 400, "max_server_per_host"},
		{"name type", "2.64", `{"server_group": {"name": 1, "policy": "affinity"}}`, 400, "expected a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			novaError(t, e.call(t, "POST", "/os-server-groups", e.aliceTok, tc.mv, tc.body), tc.status, "badRequest", tc.msg)
		})
	}
	novaError(t, e.call(t, "GET", "/os-server-groups/5bb1bd2a-0000-4000-8000-000000000000", e.aliceTok, "2.64", ""), 404, "itemNotFound", "could not be found")
	novaError(t, e.call(t, "GET", "/os-server-groups?offset=-1", e.aliceTok, "2.64", ""), 400, "badRequest", "offset")
	novaError(t, e.call(t, "GET", "/os-server-groups?colour=red", e.aliceTok, "2.75", ""), 400, "badRequest", "colour")
	if r := e.call(t, "PUT", "/os-quota-sets/"+e.shopID, e.adminTok, "2.79", `{"quota_set": {"server_groups": 1}}`); r.Status != 200 {
		t.Fatalf("set quota: %d %s", r.Status, r.Body)
	}
	novaError(t, e.call(t, "POST", "/os-server-groups", e.aliceTok, "2.64", `{"server_group": {"name": "more", "policy": "affinity"}}`), 403, "forbidden", "Quota exceeded, too many server groups")
}
