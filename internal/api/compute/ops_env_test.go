package compute_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/onestack/onestack/internal/cloudtest"
)

// opsEnv is a test cloud for the operator and per-user resources: the
// admin, and alice, a member of project "shop".
type opsEnv struct {
	*cloudtest.Env
	adminPC, alicePC *gophercloud.ProviderClient
	adminTok         string
	aliceTok         string
	shopID           string
	aliceID          string
}

const alicePW = "alice-pw"

func newOpsEnv(t *testing.T, backend string) *opsEnv {
	t.Helper()
	env := cloudtest.NewOn(t, backend)
	ctx := context.Background()
	e := &opsEnv{Env: env, adminPC: env.Admin(t)}
	id := cloudtest.Identity(t, e.adminPC)
	p, err := projects.Create(ctx, id, projects.CreateOpts{Name: "shop"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Create(ctx, id, users.CreateOpts{Name: "alice", Password: alicePW, DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := roles.List(id, roles.ListOpts{Name: "member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := roles.ExtractRoles(pages)
	if len(rs) != 1 {
		t.Fatalf("role member: found %d", len(rs))
	}
	if err := roles.Assign(ctx, id, rs[0].ID, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.shopID, e.aliceID = p.ID, u.ID
	e.alicePC = env.Client(t, "alice", alicePW, "shop")
	e.adminTok = env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	e.aliceTok = env.Token(t, "alice", alicePW, "shop")
	return e
}

// nova returns a compute client at microversion mv ("" for 2.1).
func nova(t testing.TB, pc *gophercloud.ProviderClient, mv string) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Microversion = mv
	return sc
}

// call sends a raw compute request at microversion mv ("" for none).
func (e *opsEnv) call(t testing.TB, method, path, token, mv, body string) cloudtest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	var h []string
	if mv != "" {
		h = []string{"OpenStack-API-Version", "compute " + mv}
	}
	return e.Do(t, method, "/compute/v2.1"+path, token, b, h...)
}

// waitHosts waits (bounded) until the fake agents have registered n hosts.
func (e *opsEnv) waitHosts(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		hs, err := e.Cloud.Compute.Hosts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d hosts registered", len(hs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// novaError checks a Nova error body: the status, its key and a message
// containing msg.
func novaError(t testing.TB, r cloudtest.Response, status int, key, msg string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	obj, ok := r.JSON(t)[key].(map[string]any)
	if !ok {
		t.Fatalf("no %q object in %s", key, r.Body)
	}
	if code, _ := obj["code"].(float64); int(code) != status {
		t.Errorf("code %v, want %d", obj["code"], status)
	}
	if m, _ := obj["message"].(string); !strings.Contains(m, msg) {
		t.Errorf("message %q does not mention %q", m, msg)
	}
}
