package loadbalancer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/aggregates"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/l7policies"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/providers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

const pw = "secret-pw"

// env is a test cloud with the admin, alice (member of "shop"), bob
// (member of "rival") and rita (reader of "shop"), and a network with a
// subnet of alice's.
type env struct {
	*cloudtest.Env
	admin, alice, bob, rita *gophercloud.ServiceClient
	aliceNet                *gophercloud.ServiceClient
	aliceTok, bobTok        string
	shopID                  string
	netID, subnetID         string
	// user makes a user with one role on a project (made if missing) and
	// returns the project's id.
	user func(project, user, role string) string
}

// backends runs fn on a cloud of each store backend: SQLite and, when
// ONESTACK_TEST_POSTGRES is set, PostgreSQL.
func backends(t *testing.T, o cloudtest.Options, fn func(t *testing.T, e *env)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			o := o
			o.Backend = b
			fn(t, newEnvWith(t, o))
		})
	}
}

func newEnvWith(t *testing.T, o cloudtest.Options) *env {
	t.Helper()
	ce := cloudtest.NewWith(t, o)
	ctx := context.Background()
	id := cloudtest.Identity(t, ce.Admin(t))
	roleID := func(name string) string {
		pages, err := roles.List(id, roles.ListOpts{Name: name}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := roles.ExtractRoles(pages)
		if len(rs) == 0 {
			r, err := roles.Create(ctx, id, roles.CreateOpts{Name: name}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		return rs[0].ID
	}
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
	e := &env{Env: ce, user: mk}
	e.shopID = mk("shop", "alice", "member")
	mk("rival", "bob", "member")
	mk("shop", "rita", "reader")
	e.admin = octavia(t, ce.Admin(t))
	alicePC := ce.Client(t, "alice", pw, "shop")
	e.alice = octavia(t, alicePC)
	e.bob = octavia(t, ce.Client(t, "bob", pw, "rival"))
	e.rita = octavia(t, ce.Client(t, "rita", pw, "shop"))
	e.aliceTok = ce.Token(t, "alice", pw, "shop")
	e.bobTok = ce.Token(t, "bob", pw, "rival")
	nc, err := openstack.NewNetworkV2(alicePC, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	e.aliceNet = nc
	n, err := networks.Create(ctx, nc, networks.CreateOpts{Name: "shop-net"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	s, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.0.0.0/24", IPVersion: gophercloud.IPv4}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	e.netID, e.subnetID = n.ID, s.ID
	return e
}

func octavia(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewLoadBalancerV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// waitActive waits for the load balancer to leave PENDING_* and returns it.
func waitActive(t *testing.T, c *gophercloud.ServiceClient, id string) *loadbalancers.LoadBalancer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lb, err := loadbalancers.Get(context.Background(), c, id).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(lb.ProvisioningStatus, "PENDING_") {
			return lb
		}
		if time.Now().After(deadline) {
			t.Fatalf("load balancer %s still %s", id, lb.ProvisioningStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fault decodes Octavia's error body and checks its shape.
func fault(t *testing.T, err error, status int) string {
	t.Helper()
	var ge gophercloud.ErrUnexpectedResponseCode
	if !asUnexpected(err, &ge) {
		t.Fatalf("want HTTP %d, got %v", status, err)
	}
	if ge.Actual != status {
		t.Fatalf("want HTTP %d, got %d: %s", status, ge.Actual, ge.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(ge.Body, &body); err != nil {
		t.Fatalf("error body is not JSON: %s", ge.Body)
	}
	if _, ok := body["debuginfo"]; !ok || body["faultcode"] != "Client" && body["faultcode"] != "Server" {
		t.Fatalf("error body is not Octavia's: %s", ge.Body)
	}
	msg, _ := body["faultstring"].(string)
	if msg == "" {
		t.Fatalf("no faultstring: %s", ge.Body)
	}
	return msg
}

func asUnexpected(err error, out *gophercloud.ErrUnexpectedResponseCode) bool {
	for err != nil {
		if e, ok := err.(gophercloud.ErrUnexpectedResponseCode); ok {
			*out = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestLoadBalancerLifecycle(t *testing.T) {
	backends(t, cloudtest.Options{}, testLifecycle)
}

func testLifecycle(t *testing.T, e *env) {
	ctx := context.Background()
	lb, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{Name: "shop", VipSubnetID: e.subnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if lb.ProvisioningStatus != "PENDING_CREATE" || lb.VipAddress == "" || lb.VipPortID == "" || lb.Provider != "onestack" {
		t.Fatalf("created: %+v", lb)
	}
	lb = waitActive(t, e.alice, lb.ID)
	if lb.ProvisioningStatus != "ACTIVE" || lb.OperatingStatus != "ONLINE" {
		t.Fatalf("after apply: %s/%s", lb.ProvisioningStatus, lb.OperatingStatus)
	}
	// The VIP is a Neutron port owned by the load balancer.
	vip, err := ports.Get(ctx, e.aliceNet, lb.VipPortID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if vip.DeviceOwner != "Octavia" || vip.DeviceID != "lb-"+lb.ID || !contains(vip.Tags, "onestack:owner=octavia/loadbalancer/"+lb.ID) {
		t.Fatalf("vip port: owner %q device %q tags %v", vip.DeviceOwner, vip.DeviceID, vip.Tags)
	}
	if len(vip.SecurityGroups) != 1 {
		t.Fatalf("vip port groups: %v", vip.SecurityGroups)
	}

	l, err := listeners.Create(ctx, e.alice, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: "HTTP", ProtocolPort: 80, Name: "web"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	// Same port twice: 409.
	_, err = listeners.Create(ctx, e.alice, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: "TCP", ProtocolPort: 80}).Extract()
	if msg := fault(t, err, http.StatusConflict); !strings.Contains(msg, "protocol_port 80") {
		t.Fatalf("duplicate listener: %s", msg)
	}
	p, err := pools.Create(ctx, e.alice, pools.CreateOpts{ListenerID: l.ID, Protocol: "HTTP", LBMethod: "ROUND_ROBIN",
		Persistence: &pools.SessionPersistence{Type: "HTTP_COOKIE"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	m, err := pools.CreateMember(ctx, e.alice, p.ID, pools.CreateMemberOpts{Address: "10.0.0.10", ProtocolPort: 80}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	// A member outside every subnet of the VIP network: reached through
	// the VIP subnet's gateway (as Octavia accepts it)…
	far, err := pools.CreateMember(ctx, e.alice, p.ID, pools.CreateMemberOpts{Address: "192.0.2.10", ProtocolPort: 80}).Extract()
	if err != nil {
		t.Fatalf("member beyond the VIP subnet's gateway: %v", err)
	}
	waitActive(t, e.alice, lb.ID)
	if err := pools.DeleteMember(ctx, e.alice, p.ID, far.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	// …but refused when the VIP's subnet has no gateway: nothing reaches it.
	isoNet, err := networks.Create(ctx, e.aliceNet, networks.CreateOpts{Name: "isolated"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	noGateway := ""
	isoSub, err := subnets.Create(ctx, e.aliceNet, subnets.CreateOpts{NetworkID: isoNet.ID, CIDR: "10.66.0.0/24", IPVersion: gophercloud.IPv4, GatewayIP: &noGateway}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if isoSub.GatewayIP != "" {
		t.Fatalf("subnet without gateway has %q", isoSub.GatewayIP)
	}
	isoLB, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: isoSub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, isoLB.ID)
	isoPool, err := pools.Create(ctx, e.alice, pools.CreateOpts{LoadbalancerID: isoLB.ID, Protocol: "TCP", LBMethod: "ROUND_ROBIN"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, isoLB.ID)
	_, err = pools.CreateMember(ctx, e.alice, isoPool.ID, pools.CreateMemberOpts{Address: "192.0.2.10", ProtocolPort: 80}).Extract()
	if msg := fault(t, err, http.StatusBadRequest); !strings.Contains(msg, "no gateway") || !strings.Contains(msg, "subnet_id") {
		t.Fatalf("member outside a gateway-less VIP network: %s", msg)
	}
	if err := loadbalancers.Delete(ctx, e.alice, isoLB.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	hm, err := monitors.Create(ctx, e.alice, monitors.CreateOpts{PoolID: p.ID, Type: "HTTP", Delay: 2, Timeout: 1, MaxRetries: 2, URLPath: "/"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	// max_retries out of Octavia's 1-10 (a timeout above the delay is
	// accepted, as Octavia does).
	p2, err := pools.Create(ctx, e.alice, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: "HTTP", LBMethod: "LEAST_CONNECTIONS"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	_, err = monitors.Create(ctx, e.alice, monitors.CreateOpts{PoolID: p2.ID, Type: "TCP", Delay: 1, Timeout: 5, MaxRetries: 11}).Extract()
	if msg := fault(t, err, http.StatusBadRequest); !strings.Contains(msg, "max_retries") {
		t.Fatalf("max_retries 11: %s", msg)
	}
	// L7: /api to the second pool; a bad regex refused.
	pol, err := l7policies.Create(ctx, e.alice, l7policies.CreateOpts{ListenerID: l.ID, Action: "REDIRECT_TO_POOL", RedirectPoolID: p2.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	_, err = l7policies.CreateRule(ctx, e.alice, pol.ID, l7policies.CreateRuleOpts{RuleType: "PATH", CompareType: "REGEX", Value: "^/api(["}).Extract()
	if msg := fault(t, err, http.StatusBadRequest); !strings.Contains(msg, "regular expression") {
		t.Fatalf("bad regex: %s", msg)
	}
	if _, err := l7policies.CreateRule(ctx, e.alice, pol.ID, l7policies.CreateRuleOpts{RuleType: "PATH", CompareType: "STARTS_WITH", Value: "/api"}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	// The pool in use by the policy cannot go.
	err = pools.Delete(ctx, e.alice, p2.ID).ExtractErr()
	fault(t, err, http.StatusConflict)

	// Statuses follow the data plane: the fake host reports the
	// monitored member UP.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := pools.GetMember(ctx, e.alice, p.ID, m.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if got.OperatingStatus == "ONLINE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s operating status %s", m.ID, got.OperatingStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err := loadbalancers.GetStatuses(ctx, e.alice, lb.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Loadbalancer.Listeners) != 1 || len(st.Loadbalancer.Listeners[0].Pools) != 2 {
		t.Fatalf("status tree: %+v", st.Loadbalancer)
	}
	if _, err := loadbalancers.GetStats(ctx, e.alice, lb.ID).Extract(); err != nil {
		t.Fatal(err)
	}
	// Isolation: bob reads and changes none of it (403, as Octavia, whose
	// policy is checked against the object's project), and his lists do
	// not show it.
	if _, err := loadbalancers.Get(ctx, e.bob, lb.ID).Extract(); err == nil {
		t.Fatal("bob read alice's load balancer")
	} else {
		fault(t, err, http.StatusForbidden)
	}
	err = pools.Delete(ctx, e.bob, p.ID).ExtractErr()
	fault(t, err, http.StatusForbidden)
	_, err = monitors.Get(ctx, e.bob, hm.ID).Extract()
	fault(t, err, http.StatusForbidden)
	_, err = listeners.Create(ctx, e.bob, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: "TCP", ProtocolPort: 9999}).Extract()
	fault(t, err, http.StatusForbidden)
	if pages, err := loadbalancers.List(e.bob, loadbalancers.ListOpts{}).AllPages(ctx); err != nil {
		t.Fatal(err)
	} else if l, _ := loadbalancers.ExtractLoadBalancers(pages); len(l) != 0 {
		t.Errorf("bob's list shows %d load balancers of alice's", len(l))
	}
	// A reader cannot change anything.
	_, err = loadbalancers.Update(ctx, e.rita, lb.ID, loadbalancers.UpdateOpts{Name: ptr("x")}).Extract()
	fault(t, err, http.StatusForbidden)
	// A VIP on another project's subnet.
	_, err = loadbalancers.Create(ctx, e.bob, loadbalancers.CreateOpts{VipSubnetID: e.subnetID}).Extract()
	if msg := fault(t, err, http.StatusBadRequest); !strings.Contains(msg, e.subnetID) {
		t.Fatalf("foreign subnet: %s", msg)
	}
	// Delete without cascade is refused; with cascade everything goes.
	err = loadbalancers.Delete(ctx, e.alice, lb.ID, loadbalancers.DeleteOpts{}).ExtractErr()
	fault(t, err, http.StatusBadRequest)
	if err := loadbalancers.Delete(ctx, e.alice, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, err := loadbalancers.Get(ctx, e.alice, lb.ID).Extract()
		if err != nil {
			fault(t, err, http.StatusNotFound)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("load balancer not deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := ports.Get(ctx, e.aliceNet, lb.VipPortID).Extract(); err == nil {
		t.Fatal("VIP port left behind")
	}
	all, err := pools.List(e.alice, pools.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := pools.ExtractPools(all); len(ps) != 0 {
		t.Fatalf("pools left: %d", len(ps))
	}
}

// TestPendingIsImmutable: with no host to apply it, a load balancer stays
// PENDING_CREATE and every change to it is refused with Octavia's 409.
func TestPendingIsImmutable(t *testing.T) {
	backends(t, cloudtest.Options{Hosts: -1}, testPendingIsImmutable)
}

func testPendingIsImmutable(t *testing.T, e *env) {
	ctx := context.Background()
	lb, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{Name: "shop", VipSubnetID: e.subnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = listeners.Create(ctx, e.alice, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: "HTTP", ProtocolPort: 80}).Extract()
	if msg := fault(t, err, http.StatusConflict); msg != "Load Balancer "+lb.ID+" is immutable and cannot be updated." {
		t.Fatalf("409 message: %s", msg)
	}
	_, err = loadbalancers.Update(ctx, e.alice, lb.ID, loadbalancers.UpdateOpts{Name: ptr("x")}).Extract()
	if msg := fault(t, err, http.StatusConflict); msg != "Invalid state PENDING_CREATE of loadbalancer resource "+lb.ID {
		t.Fatalf("409 message: %s", msg)
	}
	_, err = pools.Create(ctx, e.alice, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: "TCP", LBMethod: "ROUND_ROBIN"}).Extract()
	fault(t, err, http.StatusConflict)
	// Never placed: a delete removes it and its VIP at once.
	if err := loadbalancers.Delete(ctx, e.alice, lb.ID, loadbalancers.DeleteOpts{}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Get(ctx, e.aliceNet, lb.VipPortID).Extract(); err == nil {
		t.Fatal("VIP port left behind")
	}
}

func TestProvidersAndQuotas(t *testing.T) {
	backends(t, cloudtest.Options{}, testProvidersAndQuotas)
}

func testProvidersAndQuotas(t *testing.T, e *env) {
	ctx := context.Background()
	pages, err := providers.List(e.alice, providers.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := providers.ExtractProviders(pages)
	if len(ps) != 2 || ps[0].Name != "onestack" || ps[1].Name != "amphora" {
		t.Fatalf("providers: %+v", ps)
	}
	one := 1
	if _, err := quotas.Update(ctx, e.admin, e.shopID, quotas.UpdateOpts{Loadbalancer: &one}).Extract(); err != nil {
		t.Fatal(err)
	}
	q, err := quotas.Get(ctx, e.alice, e.shopID).Extract()
	if err != nil || q.Loadbalancer != 1 || q.Listener != -1 {
		t.Fatalf("quota: %+v %v", q, err)
	}
	if _, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipNetworkID: e.netID}).Extract(); err != nil {
		t.Fatal(err)
	}
	_, err = loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipNetworkID: e.netID}).Extract()
	if msg := fault(t, err, http.StatusForbidden); !strings.Contains(msg, "Quota has been met") {
		t.Fatalf("quota: %s", msg)
	}
	// Only admins set quotas.
	_, err = quotas.Update(ctx, e.alice, e.shopID, quotas.UpdateOpts{Loadbalancer: &one}).Extract()
	fault(t, err, http.StatusForbidden)
	// An unknown provider.
	_, err = loadbalancers.Create(ctx, e.admin, loadbalancers.CreateOpts{VipNetworkID: e.netID, Provider: "f5"}).Extract()
	fault(t, err, http.StatusBadRequest)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// TestAvailabilityZonePlacement: an Octavia availability zone whose
// profile names a compute zone puts its load balancers only on the hosts
// of that zone (a Nova aggregate's); failover stays there; a zone with no
// host leaves the load balancer waiting for one.
func TestAvailabilityZonePlacement(t *testing.T) {
	backends(t, cloudtest.Options{Hosts: 3}, testZonePlacement)
}

func testZonePlacement(t *testing.T, e *env) {
	ctx := context.Background()
	nova, err := openstack.NewComputeV2(e.Admin(t), gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregates.Create(ctx, nova, aggregates.CreateOpts{Name: "edge-hosts", AvailabilityZone: "edge"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aggregates.AddHost(ctx, nova, agg.ID, aggregates.AddHostOpts{Host: "host-2"}).Extract(); err != nil {
		t.Fatal(err)
	}
	adminTok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	post := func(path, body string) map[string]any {
		t.Helper()
		r := e.Do(t, "POST", "/load-balancer/v2/lbaas"+path, adminTok, []byte(body))
		if r.Status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
		}
		return r.JSON(t)
	}
	for _, z := range []struct{ name, compute string }{{"edge", "edge"}, {"nowhere", "empty-zone"}} {
		zp := post("/availabilityzoneprofiles", `{"availability_zone_profile": {"name": "`+z.name+`", "provider_name": "onestack", "availability_zone_data": "{\"compute_zone\": \"`+z.compute+`\"}"}}`)
		id := zp["availability_zone_profile"].(map[string]any)["id"].(string)
		post("/availabilityzones", `{"availability_zone": {"name": "`+z.name+`", "availability_zone_profile_id": "`+id+`"}}`)
	}
	amphora := func(lbID string) map[string]any {
		r := e.Do(t, "GET", "/load-balancer/v2/octavia/amphorae?loadbalancer_id="+lbID, adminTok, nil)
		amps := r.JSON(t)["amphorae"].([]any)
		if len(amps) != 1 {
			t.Fatalf("amphorae of %s: %s", lbID, r.Body)
		}
		return amps[0].(map[string]any)
	}
	host := func(lbID string) any { return amphora(lbID)["host"] }
	var ids []string
	for i := 0; i < 3; i++ {
		lb, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: e.subnetID, AvailabilityZone: "edge"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if got := waitActive(t, e.alice, lb.ID); got.ProvisioningStatus != "ACTIVE" {
			t.Fatalf("load balancer in zone edge: %s", got.ProvisioningStatus)
		}
		if h := host(lb.ID); h != "host-2" {
			t.Errorf("load balancer %d in zone edge runs on %v, want host-2 (the only host of compute zone edge)", i, h)
		}
		ids = append(ids, lb.ID)
	}
	// Without a zone, the least loaded host: not host-2, which has three.
	lb, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: e.subnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	if h := host(lb.ID); h == "host-2" {
		t.Errorf("a load balancer without a zone went to host-2, which runs three: want the least loaded host")
	}
	// Failover within the zone: host-2 is its only host; the HAProxy
	// instance is a new one (a new amphora id, as Octavia's).
	before := amphora(ids[0])["id"]
	if err := loadbalancers.Failover(ctx, e.admin, ids[0]).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, ids[0])
	if a := amphora(ids[0]); a["host"] != "host-2" || a["id"] == before {
		t.Errorf("after failover the load balancer in zone edge runs on %v as amphora %v (was %v), want host-2 and a new amphora", a["host"], a["id"], before)
	}
	// A zone whose profile allows VIPs on other networks only.
	zp := post("/availabilityzoneprofiles", `{"availability_zone_profile": {"name": "fenced", "provider_name": "onestack", "availability_zone_data": "{\"valid_vip_networks\": [\"`+e.netID+`-not\"]}"}}`)
	post("/availabilityzones", `{"availability_zone": {"name": "fenced", "availability_zone_profile_id": "`+zp["availability_zone_profile"].(map[string]any)["id"].(string)+`"}}`)
	_, err = loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: e.subnetID, AvailabilityZone: "fenced"}).Extract()
	if msg := fault(t, err, http.StatusBadRequest); !strings.Contains(msg, "VIP network_id is not allowed") {
		t.Errorf("a VIP on a network the zone does not allow: %s", msg)
	}
	// A zone whose compute zone has no host: the load balancer waits.
	lb, err = loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: e.subnetID, AvailabilityZone: "nowhere"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	got, err := loadbalancers.Get(ctx, e.alice, lb.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.ProvisioningStatus != "PENDING_CREATE" || host(lb.ID) != nil {
		t.Errorf("load balancer in a zone without hosts: %s on %v, want PENDING_CREATE on no host", got.ProvisioningStatus, host(lb.ID))
	}
}

// TestMemberOnAnotherNetwork: a member on a subnet of another network
// than the VIP's gives the load balancer a port on that subnet (bound to
// its host, wired into its namespace by the data plane); the last member
// there leaving removes it, and so does cascade delete.
func TestMemberOnAnotherNetwork(t *testing.T) {
	backends(t, cloudtest.Options{}, testMemberOnAnotherNetwork)
}

func testMemberOnAnotherNetwork(t *testing.T, e *env) {
	ctx := context.Background()
	n, err := networks.Create(ctx, e.aliceNet, networks.CreateOpts{Name: "backend-net"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	sn, err := subnets.Create(ctx, e.aliceNet, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.77.0.0/24", IPVersion: gophercloud.IPv4}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := loadbalancers.Create(ctx, e.alice, loadbalancers.CreateOpts{VipSubnetID: e.subnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	p, err := pools.Create(ctx, e.alice, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: "HTTP", LBMethod: "ROUND_ROBIN"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	memberPorts := func() []ports.Port {
		t.Helper()
		pages, err := ports.List(e.aliceNet, ports.ListOpts{DeviceOwner: "Octavia:member"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := ports.ExtractPorts(pages)
		return ps
	}
	var ids []string
	for _, a := range []string{"10.77.0.10", "10.77.0.11"} {
		m, err := pools.CreateMember(ctx, e.alice, p.ID, pools.CreateMemberOpts{Address: a, ProtocolPort: 80, SubnetID: sn.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		waitActive(t, e.alice, lb.ID)
		ids = append(ids, m.ID)
	}
	got := memberPorts()
	if len(got) != 1 || got[0].NetworkID != n.ID || got[0].DeviceID != "lb-"+lb.ID || len(got[0].FixedIPs) != 1 || got[0].FixedIPs[0].SubnetID != sn.ID {
		t.Fatalf("ports of the load balancer on the members' network: %+v, want one on subnet %s with device_id lb-%s", got, sn.ID, lb.ID)
	}
	// A member on the VIP's own network needs no port.
	if _, err := pools.CreateMember(ctx, e.alice, p.ID, pools.CreateMemberOpts{Address: "10.0.0.20", ProtocolPort: 80}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	if n := len(memberPorts()); n != 1 {
		t.Errorf("after a member on the VIP's network: %d member ports, want 1", n)
	}
	// One member left on the subnet keeps the port; none removes it.
	for i, id := range ids {
		if err := pools.DeleteMember(ctx, e.alice, p.ID, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitActive(t, e.alice, lb.ID)
		if want := map[int]int{0: 1, 1: 0}[i]; len(memberPorts()) != want {
			t.Errorf("after deleting %d of 2 members on the other network: %d member ports, want %d", i+1, len(memberPorts()), want)
		}
	}
	if _, err := pools.CreateMember(ctx, e.alice, p.ID, pools.CreateMemberOpts{Address: "10.77.0.12", ProtocolPort: 80, SubnetID: sn.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.alice, lb.ID)
	if n := len(memberPorts()); n != 1 {
		t.Fatalf("member ports after a new member there: %d, want 1", n)
	}
	if err := loadbalancers.Delete(ctx, e.alice, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := loadbalancers.Get(ctx, e.alice, lb.ID).Extract(); err != nil {
			break
		}
		if i > 300 {
			t.Fatal("load balancer not deleted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ps := memberPorts(); len(ps) != 0 {
		t.Errorf("member ports after cascade delete: %+v", ps)
	}
}

// TestOctaviaRoles: Octavia's own roles work as its defaults make them:
// load-balancer_member changes its project's load balancers,
// load-balancer_observer only reads them, load-balancer_global_observer
// reads every project's and changes none, load-balancer_admin administers
// this API (and nothing else: its token is no Keystone admin), and a role
// Octavia does not know gives nothing.
func TestOctaviaRoles(t *testing.T) {
	backends(t, cloudtest.Options{}, testOctaviaRoles)
}

func testOctaviaRoles(t *testing.T, e *env) {
	ctx := context.Background()
	e.user("shop", "lbm", "load-balancer_member")
	e.user("shop", "lbo", "load-balancer_observer")
	e.user("rival", "lbg", "load-balancer_global_observer")
	e.user("rival", "lba", "load-balancer_admin")
	e.user("shop", "aud", "auditor")
	client := func(user, project string) *gophercloud.ServiceClient {
		return octavia(t, e.Client(t, user, pw, project))
	}
	lbm, lbo, lbg, lba, aud := client("lbm", "shop"), client("lbo", "shop"), client("lbg", "rival"), client("lba", "rival"), client("aud", "shop")

	lb, err := loadbalancers.Create(ctx, lbm, loadbalancers.CreateOpts{Name: "by-lb-member", VipSubnetID: e.subnetID}).Extract()
	if err != nil {
		t.Fatalf("load-balancer_member creating in its project: %v", err)
	}
	waitActive(t, lbm, lb.ID)
	if _, err := loadbalancers.Get(ctx, lbo, lb.ID).Extract(); err != nil {
		t.Errorf("load-balancer_observer reading its project's load balancer: %v", err)
	}
	_, err = loadbalancers.Update(ctx, lbo, lb.ID, loadbalancers.UpdateOpts{Name: ptr("x")}).Extract()
	fault(t, err, http.StatusForbidden)
	if _, err := loadbalancers.Get(ctx, lbg, lb.ID).Extract(); err != nil {
		t.Errorf("load-balancer_global_observer reading another project's load balancer: %v", err)
	}
	pages, err := loadbalancers.List(lbg, loadbalancers.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := loadbalancers.ExtractLoadBalancers(pages); len(all) != 1 || all[0].ID != lb.ID {
		t.Errorf("load-balancer_global_observer's list: %+v, want shop's load balancer", all)
	}
	_, err = loadbalancers.Update(ctx, lbg, lb.ID, loadbalancers.UpdateOpts{Name: ptr("x")}).Extract()
	fault(t, err, http.StatusForbidden)
	if _, err := loadbalancers.Update(ctx, lba, lb.ID, loadbalancers.UpdateOpts{Name: ptr("renamed-by-lb-admin")}).Extract(); err != nil {
		t.Errorf("load-balancer_admin updating another project's load balancer: %v", err)
	}
	waitActive(t, lbm, lb.ID)
	if _, err := providers.List(lba, providers.ListOpts{}).AllPages(ctx); err != nil {
		t.Errorf("load-balancer_admin: %v", err)
	}
	if r := e.Do(t, "GET", "/load-balancer/v2/lbaas/flavorprofiles", e.Token(t, "lba", pw, "rival"), nil); r.Status != http.StatusOK {
		t.Errorf("load-balancer_admin listing flavor profiles (admin only): %d %s", r.Status, r.Body)
	}
	// load-balancer_admin is no Keystone admin.
	if r := e.Do(t, "GET", "/identity/v3/users", e.Token(t, "lba", pw, "rival"), nil); r.Status != http.StatusForbidden {
		t.Errorf("load-balancer_admin listing Keystone users: %d, want 403", r.Status)
	}
	_, err = loadbalancers.List(aud, loadbalancers.ListOpts{}).AllPages(ctx)
	fault(t, err, http.StatusForbidden)
}
