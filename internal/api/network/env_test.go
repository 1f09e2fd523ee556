package network_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/onestack/onestack/internal/cloudtest"
)

// env is a test cloud with the admin, alice (member of "shop"), bob
// (member of "rival") and rita (reader of "shop").
type env struct {
	*cloudtest.Env
	admin, alice, bob, rita             *gophercloud.ServiceClient
	adminTok, aliceTok, bobTok, ritaTok string
	shopID, rivalID                     string
}

const pw = "secret-pw"

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	ce := cloudtest.NewOn(t, backend)
	ctx := context.Background()
	id := cloudtest.Identity(t, ce.Admin(t))
	roleID := func(name string) string {
		pages, err := roles.List(id, roles.ListOpts{Name: name}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := roles.ExtractRoles(pages)
		if len(rs) != 1 {
			t.Fatalf("role %s: %d", name, len(rs))
		}
		return rs[0].ID
	}
	e := &env{Env: ce}
	mk := func(project, user, role string) string {
		ps, _ := projects.List(id, projects.ListOpts{Name: project}).AllPages(ctx)
		pl, _ := projects.ExtractProjects(ps)
		var pid string
		if len(pl) > 0 {
			pid = pl[0].ID
		} else {
			p, err := projects.Create(ctx, id, projects.CreateOpts{Name: project}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			pid = p.ID
		}
		u, err := users.Create(ctx, id, users.CreateOpts{Name: user, Password: pw, DomainID: "default"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if err := roles.Assign(ctx, id, roleID(role), roles.AssignOpts{UserID: u.ID, ProjectID: pid}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	e.shopID = mk("shop", "alice", "member")
	e.rivalID = mk("rival", "bob", "member")
	mk("shop", "rita", "reader")
	e.admin = neutron(t, ce.Admin(t))
	e.alice = neutron(t, ce.Client(t, "alice", pw, "shop"))
	e.bob = neutron(t, ce.Client(t, "bob", pw, "rival"))
	e.rita = neutron(t, ce.Client(t, "rita", pw, "shop"))
	e.adminTok = ce.Token(t, "admin", cloudtest.AdminPassword, "admin")
	e.aliceTok = ce.Token(t, "alice", pw, "shop")
	e.bobTok = ce.Token(t, "bob", pw, "rival")
	e.ritaTok = ce.Token(t, "rita", pw, "shop")
	return e
}

func neutron(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// call sends a raw Neutron request below /network/v2.0.
func (e *env) call(t testing.TB, method, path, token string, body any, headers ...string) cloudtest.Response {
	t.Helper()
	var b []byte
	if body != nil {
		switch v := body.(type) {
		case string:
			b = []byte(v)
		default:
			b, _ = json.Marshal(v)
		}
	}
	return e.Do(t, method, "/network/v2.0"+path, token, b, headers...)
}

// backends runs fn on SQLite and, when configured, PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backendNames(t) {
		t.Run(b, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}
