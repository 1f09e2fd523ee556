package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// lbBenchEnv runs the load balancer's benchmark over the guests too
// (requests per second and p99 through the load balancer to three guests
// against one guest directly); it adds about a minute.
const lbBenchEnv = "ONESTACK_E2E_LB_BENCH"

// TestLoadBalancerGuests is what a user of Octavia checks, with the real
// `openstack loadbalancer` CLI and three real guests (software emulation)
// on the two hosts of `onestack up`, each guest's tiny image answering its
// name over HTTP (port 80) and UDP (port 9000). The load balancer is put,
// through an Octavia availability zone naming a compute zone, on a third
// host: an `onestack agent` process in a namespace of its own, reached
// over /agent/v1 only. One boot of the guests serves every case:
//
//   - an HTTP listener answering round robin over the three guests through
//     a floating IP, from the outside world's namespace;
//   - an L7 policy sending /api to a second pool;
//   - session persistence (HTTP_COOKIE): a client with the cookie stays on
//     one guest;
//   - TERMINATED_HTTPS with a self-signed certificate given inline;
//   - a UDP listener, its members checked by an HTTP health monitor on
//     their monitor port;
//   - kill -9 of the load balancer's agent while clients run: HAProxy
//     keeps serving, the restarted agent applies everything again without
//     starting a second HAProxy, and applies a change made after;
//   - a member's guest stopped: the member goes ERROR within the
//     detection window (delay × max_retries_down) and then no client sees
//     an error or the stopped guest;
//   - cascade delete leaves no port, security group, namespace, process or
//     file, and no server besides the user's.
func TestLoadBalancerGuests(t *testing.T) {
	requireQemu(t)
	requireCLI(t)
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is missing in CI: .ci/run must install it")
		}
		t.Skip("haproxy not installed (make host-packages installs it)")
	}
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "2")
	t.Cleanup(func() {
		for _, h := range []string{"host-1", "host-2"} {
			killGuestsIn(t, filepath.Join(c.DataDir, "hosts", h))
			stopLoadBalancersIn(t, filepath.Join(c.DataDir, "hosts", h, "lb"))
		}
	})
	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	api := c.AdminAPI(t)
	dir := t.TempDir()
	extNS := strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns")))
	lbHost := startRemoteHost(t, c, "lb-host", "lb", "10.250.200.29")

	img := filepath.Join(dir, "tiny.qcow2")
	if out, err := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache")).CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare", "--public", "tiny")
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "g.tiny")
	MustRun(t, admin, "network", "create", "net1")
	MustRun(t, admin, "subnet", "create", "--network", "net1", "--subnet-range", "10.30.0.0/24", "sub1")
	MustRun(t, admin, "router", "create", "r1")
	MustRun(t, admin, "router", "set", "--external-gateway", "public", "r1")
	MustRun(t, admin, "router", "add", "subnet", "r1", "sub1")
	for _, rule := range [][]string{{"--protocol", "tcp", "--dst-port", "80"}, {"--protocol", "udp", "--dst-port", "9000"}, {"--protocol", "icmp"}} {
		MustRun(t, admin, append(append([]string{"security", "group", "rule", "create", "--ingress"}, rule...), "default")...)
	}
	start := time.Now()
	guests := []struct{ name, host string }{{"vm-1", "host-1"}, {"vm-2", "host-2"}, {"vm-3", "host-1"}}
	for _, g := range guests {
		MustRun(t, nova, "server", "create", "--image", "tiny", "--flavor", "g.tiny", "--network", "net1", "--availability-zone", "nova:"+g.host, g.name)
	}
	ips := map[string]string{}
	for _, g := range guests {
		if st := waitStatus(t, nova, g.name, "ACTIVE"); st != "ACTIVE" {
			t.Fatalf("%s is %s, want ACTIVE (fault: %s)", g.name, st, MustRun(t, nova, "server", "show", g.name, "-f", "value", "-c", "fault").Stdout)
		}
		waitConsole(t, nova, g.name, 1)
		ips[g.name] = fixedIP(t, nova, g.name)
	}
	t.Logf("three guests ACTIVE and ready in %s", time.Since(start).Round(time.Second))

	// The load balancer's host: an Octavia availability zone whose profile
	// names the compute zone of the remote host's aggregate.
	if !eventually(30, func() bool {
		return strings.Contains(MustRun(t, admin, "hypervisor", "list", "-f", "value", "-c", "Hypervisor Hostname", "-c", "State").Stdout, "lb-host up")
	}) {
		t.Fatal("the remote agent's host lb-host never appeared up in 'openstack hypervisor list'")
	}
	MustRun(t, nova, "aggregate", "create", "--zone", "edge", "edge-hosts")
	MustRun(t, nova, "aggregate", "add", "host", "edge-hosts", "lb-host")
	MustRun(t, admin, "loadbalancer", "availabilityzoneprofile", "create", "--name", "edge-profile", "--provider", "onestack",
		"--availability-zone-data", `{"compute_zone": "edge"}`)
	MustRun(t, admin, "loadbalancer", "availabilityzone", "create", "--name", "edge", "--availabilityzoneprofile", "edge-profile")

	created := time.Now()
	var lb map[string]any
	RunJSON(t, admin, &lb, "loadbalancer", "create", "--name", "web", "--vip-subnet-id", "sub1", "--availability-zone", "edge")
	lbID := lb["id"].(string)
	l := &lbWaiter{t: t, api: api, id: lbID}
	l.active()
	if host := amphoraHost(t, api, lbID); host != "lb-host" {
		t.Fatalf("load balancer in availability zone edge runs on %v, want lb-host (the only host of compute zone edge)", host)
	}
	RunJSON(t, admin, &lb, "loadbalancer", "show", lbID)
	vipPort := lb["vip_port_id"].(string)

	MustRun(t, admin, "loadbalancer", "listener", "create", "--name", "http", "--protocol", "HTTP", "--protocol-port", "80", lbID)
	l.active()
	MustRun(t, admin, "loadbalancer", "pool", "create", "--name", "web-pool", "--listener", "http", "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN")
	l.active()
	webMembers := map[string]string{} // guest -> member id
	for _, g := range guests {
		var m map[string]any
		RunJSON(t, admin, &m, "loadbalancer", "member", "create", "--name", g.name, "--subnet-id", "sub1", "--address", ips[g.name], "--protocol-port", "80", "web-pool")
		webMembers[g.name] = m["id"].(string)
		l.active()
	}
	MustRun(t, admin, "loadbalancer", "healthmonitor", "create", "--name", "web-check", "--type", "HTTP", "--url-path", "/",
		"--delay", "2", "--timeout", "1", "--max-retries", "2", "--max-retries-down", "2", "web-pool")
	l.active()
	l.membersOnline("web-pool", 3)
	t.Logf("load balancer created, listener, pool, 3 members and a monitor ACTIVE and ONLINE %s after create", time.Since(created).Round(time.Second))

	fip := strings.TrimSpace(MustRun(t, admin, "floating", "ip", "create", "public", "-f", "value", "-c", "floating_ip_address").Stdout)
	MustRun(t, admin, "floating", "ip", "set", "--port", vipPort, fip)
	client := nsHTTP(extNS, 20*time.Second, false)
	url := "http://" + fip + "/"
	if !eventually(30, func() bool { _, err := httpGet(client, url); return err == nil }) {
		_, err := httpGet(client, url)
		t.Fatalf("the load balancer's floating IP %s does not answer from %s: %v", fip, extNS, err)
	}

	// Round robin: nine requests, each guest three times, in turn.
	var order []string
	for i := 0; i < 9; i++ {
		name, err := httpGet(client, url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		order = append(order, name)
	}
	counts := map[string]int{}
	for _, n := range order {
		counts[n]++
	}
	if counts["vm-1"] != 3 || counts["vm-2"] != 3 || counts["vm-3"] != 3 {
		t.Errorf("round robin over three guests: answers %v, want each guest 3 times", order)
	}
	for i := 3; i < len(order); i++ {
		if order[i] != order[i-3] {
			t.Errorf("round robin over three guests: answers %v do not repeat every three", order)
			break
		}
	}

	// L7: /api goes to a second pool holding only vm-3.
	MustRun(t, admin, "loadbalancer", "pool", "create", "--name", "api-pool", "--loadbalancer", lbID, "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN")
	l.active()
	MustRun(t, admin, "loadbalancer", "member", "create", "--address", ips["vm-3"], "--protocol-port", "80", "api-pool")
	l.active()
	MustRun(t, admin, "loadbalancer", "l7policy", "create", "--name", "api", "--action", "REDIRECT_TO_POOL", "--redirect-pool", "api-pool", "http")
	l.active()
	MustRun(t, admin, "loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type", "STARTS_WITH", "--value", "/api", "api")
	l.active()
	for i := 0; i < 4; i++ {
		if got, err := httpGet(client, "http://"+fip+"/api"); err != nil || got != "vm-3" {
			t.Errorf("GET /api through the L7 policy: %q, %v; want vm-3 (the only member of api-pool)", got, err)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		if got, err := httpGet(client, url); err == nil {
			seen[got] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("GET / after the L7 policy answered from %v, want the three guests of web-pool", seen)
	}

	// Session persistence: with HAProxy's cookie a client stays on one
	// guest; without it, it goes round.
	MustRun(t, admin, "loadbalancer", "pool", "set", "--session-persistence", "type=HTTP_COOKIE", "web-pool")
	l.active()
	browser := nsHTTP(extNS, 20*time.Second, true)
	first, err := httpGet(browser, url)
	if err != nil {
		t.Fatalf("GET %s with a cookie jar: %v", url, err)
	}
	for i := 0; i < 5; i++ {
		if got, err := httpGet(browser, url); err != nil || got != first {
			t.Errorf("HTTP_COOKIE persistence: request %d answered %q (%v), the session started on %s", i+2, got, err, first)
		}
	}
	seen = map[string]bool{}
	for i := 0; i < 6; i++ {
		if got, err := httpGet(client, url); err == nil {
			seen[got] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("without the cookie, requests went only to %v", seen)
	}

	// TERMINATED_HTTPS with a self-signed certificate given inline.
	certPEM := selfSignedPEM(t, "shop.example")
	ref := "data:application/x-pem-file;base64," + base64.StdEncoding.EncodeToString([]byte(certPEM))
	MustRun(t, admin, "loadbalancer", "listener", "create", "--name", "https", "--protocol", "TERMINATED_HTTPS", "--protocol-port", "443",
		"--default-tls-container-ref", ref, lbID)
	l.active()
	MustRun(t, admin, "loadbalancer", "pool", "create", "--name", "tls-pool", "--listener", "https", "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN")
	l.active()
	for _, g := range []string{"vm-1", "vm-2"} {
		MustRun(t, admin, "loadbalancer", "member", "create", "--address", ips[g], "--protocol-port", "80", "tls-pool")
		l.active()
	}
	seen = map[string]bool{}
	for i := 0; i < 4; i++ {
		got, err := httpGet(client, "https://"+fip+"/")
		if err != nil {
			t.Errorf("GET https://%s/: %v", fip, err)
			continue
		}
		seen[got] = true
	}
	if !seen["vm-1"] || !seen["vm-2"] || seen["vm-3"] {
		t.Errorf("TERMINATED_HTTPS over vm-1 and vm-2 answered from %v", seen)
	}
	if cn := servedCN(t, extNS, fip+":443"); cn != "shop.example" {
		t.Errorf("the HTTPS listener serves a certificate for %q, want shop.example (ours)", cn)
	}

	// UDP, with a health monitor.
	MustRun(t, admin, "loadbalancer", "listener", "create", "--name", "udp", "--protocol", "UDP", "--protocol-port", "9000", lbID)
	l.active()
	MustRun(t, admin, "loadbalancer", "pool", "create", "--name", "udp-pool", "--listener", "udp", "--protocol", "UDP", "--lb-algorithm", "ROUND_ROBIN")
	l.active()
	// The UDP members are checked over HTTP on their port 80: a
	// UDP-CONNECT check cannot tell a powered-off guest from a quiet one
	// until the neighbour entry expires (the driver's test covers it).
	for _, g := range guests {
		MustRun(t, admin, "loadbalancer", "member", "create", "--name", g.name, "--address", ips[g.name], "--protocol-port", "9000",
			"--monitor-port", "80", "udp-pool")
		l.active()
	}
	MustRun(t, admin, "loadbalancer", "healthmonitor", "create", "--name", "udp-check", "--type", "HTTP", "--url-path", "/",
		"--delay", "2", "--timeout", "1", "--max-retries", "2", "--max-retries-down", "2", "udp-pool")
	l.active()
	l.membersOnline("udp-pool", 3)
	seen = map[string]bool{}
	for i := 0; i < 9 && len(seen) < 3; i++ {
		got, err := udpAsk(extNS, fip+":9000", 20)
		if err != nil {
			t.Errorf("UDP %s:9000: %v", fip, err)
			break
		}
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Errorf("the UDP listener answered from %v, want the three guests", seen)
	}

	if os.Getenv(lbBenchEnv) != "" {
		benchGuests(t, admin, extNS, fip, "vm-1")
	}

	// kill -9 of the load balancer's agent, clients running: HAProxy goes
	// on, the restarted agent applies everything again without a second
	// HAProxy, and applies a change made after.
	lbDir := filepath.Join(lbHost.dir, "lb", lbID)
	before := haproxyPIDs(lbDir)
	if len(before) != 1 {
		t.Fatalf("HAProxy processes of the load balancer: %v, want one", before)
	}
	load := startLoad(client, url, 200*time.Millisecond)
	lbHost.kill()
	time.Sleep(3 * time.Second)
	if got, err := udpAsk(extNS, fip+":9000", 20); err != nil {
		t.Errorf("UDP while the agent is down: %q, %v", got, err)
	}
	lbHost.start(t)
	// The restarted agent watches, applies (an unchanged HAProxy is left
	// alone) and reports; then a change goes through it.
	time.Sleep(5 * time.Second)
	if after := haproxyPIDs(lbDir); !slices.Equal(after, before) {
		t.Errorf("after kill -9 and restart of the agent, HAProxy is %v, was %v (want the same process, nothing duplicated)", after, before)
	}
	MustRun(t, admin, "loadbalancer", "pool", "set", "--description", "after the agent's restart", "web-pool")
	l.active()
	if !eventually(15, func() bool { return len(haproxyPIDs(lbDir)) == 1 }) {
		t.Errorf("after a change through the restarted agent, HAProxy processes are %v, want one (the reloaded one)", haproxyPIDs(lbDir))
	}
	if out, err := exec.Command("ip", "netns", "exec", lbHost.ns+"_lb-"+lbID, "nft", "list", "tables").CombinedOutput(); err != nil || strings.Count(string(out), "onestack_lb") != 1 {
		t.Errorf("nft tables in the load balancer's namespace after the restart: %v\n%s (want onestack_lb once)", err, out)
	}
	res := load.stop()
	if res.errors > 0 || res.ok == 0 {
		t.Errorf("clients during the agent's kill -9 and restart: %d answers, %d errors (first: %v); want no error", res.ok, res.errors, res.firstErr)
	}
	t.Logf("agent kill -9 and restart: %d requests answered, %d errors", res.ok, res.errors)

	// A member's guest stops: HAProxy's check and the UDP check take it
	// out within delay × max_retries_down; after, no client sees an error
	// or the stopped guest.
	vm2 := serverID(t, nova, "vm-2")
	load = startLoad(client, url, 100*time.Millisecond)
	stopped := time.Now()
	MustRun(t, nova, "server", "stop", "vm-2")
	detected := l.memberStatus("web-pool", webMembers["vm-2"], "ERROR", 60*time.Second)
	if !eventually(60, func() bool { return len(guestPIDs(t, vm2)) == 0 }) {
		t.Fatal("vm-2's QEMU process still runs 60 s after server stop")
	}
	time.Sleep(3 * time.Second)
	res = load.stop()
	var late []string
	for _, a := range res.answers {
		if a.at.After(detected) && (a.err != nil || a.body == "vm-2") {
			late = append(late, fmt.Sprintf("%s: %q %v", a.at.Sub(detected).Round(time.Millisecond), a.body, a.err))
		}
	}
	if len(late) > 0 {
		t.Errorf("after the member went ERROR, clients still saw errors or vm-2: %v", late)
	}
	last := res.lastFrom("vm-2")
	t.Logf("member death: 'server stop vm-2' sent at 0; last answer from vm-2 at %s (its shutdown stops httpd); member ERROR in the API at %s (delay 2 s × max_retries_down 2, read every second); %d requests, %d errors",
		last.Sub(stopped).Round(100*time.Millisecond), detected.Sub(stopped).Round(100*time.Millisecond), len(res.answers), res.errors)
	var um []map[string]any
	RunJSON(t, admin, &um, "loadbalancer", "member", "list", "udp-pool")
	var udpVM2 string
	for _, m := range um {
		if m["name"] == "vm-2" {
			udpVM2 = m["id"].(string)
		}
	}
	l.memberStatus("udp-pool", udpVM2, "ERROR", 30*time.Second)
	for i := 0; i < 6; i++ {
		if got, err := udpAsk(extNS, fip+":9000", 20); err != nil || got == "vm-2" {
			t.Errorf("UDP after vm-2's member went ERROR: %q, %v", got, err)
		}
	}
	var shown map[string]any
	RunJSON(t, admin, &shown, "loadbalancer", "show", lbID)
	if shown["operating_status"] != "DEGRADED" {
		t.Errorf("load balancer with a failed member: operating_status %v, want DEGRADED", shown["operating_status"])
	}

	// Cascade delete: nothing of the load balancer is left.
	MustRun(t, admin, "loadbalancer", "delete", "--cascade", lbID)
	l.gone()
	if out := MustRun(t, admin, "port", "list", "--device-owner", "Octavia", "-f", "value", "-c", "ID").Stdout; strings.TrimSpace(out) != "" {
		t.Errorf("ports left after cascade delete: %s", out)
	}
	if out := MustRun(t, admin, "security", "group", "list", "-f", "value", "-c", "Name").Stdout; strings.Contains(out, "lb-"+lbID) {
		t.Errorf("security group lb-%s left after cascade delete", lbID)
	}
	if !eventually(20, func() bool { return len(namespaces(t, lbHost.ns+"_lb-")) == 0 && len(haproxyPIDs(lbDir)) == 0 }) {
		t.Errorf("after cascade delete: namespaces %v, HAProxy processes %v", namespaces(t, lbHost.ns+"_lb-"), haproxyPIDs(lbDir))
	}
	if _, err := os.Stat(lbDir); !os.IsNotExist(err) {
		t.Errorf("the load balancer's directory %s is left after cascade delete (%v)", lbDir, err)
	}
	if out := MustRun(t, nova, "server", "list", "--all-projects", "-f", "value", "-c", "Name").Stdout; len(strings.Fields(out)) != 3 {
		t.Errorf("servers after cascade delete: %q, want the three guests only (a load balancer makes none)", out)
	}
	if out := MustRun(t, admin, "floating", "ip", "show", fip, "-f", "value", "-c", "port_id").Stdout; strings.TrimSpace(out) != "None" {
		t.Errorf("the floating IP still points at port %s after cascade delete", out)
	}

	MustRun(t, nova, "server", "delete", "--wait", "vm-1", "vm-2", "vm-3")
	MustRun(t, admin, "floating", "ip", "delete", fip)
	MustRun(t, admin, "router", "remove", "subnet", "r1", "sub1")
	MustRun(t, admin, "router", "delete", "r1")
	MustRun(t, admin, "network", "delete", "net1")
}

// amphoraHost is the host a load balancer runs on, from the amphora
// admin API (onestack adds "host"; the CLI shows only Octavia's columns).
func amphoraHost(t *testing.T, a *api, lbID string) string {
	t.Helper()
	var out struct {
		Amphorae []struct {
			Host string `json:"host"`
		} `json:"amphorae"`
	}
	a.do("GET", "/load-balancer/v2/octavia/amphorae?loadbalancer_id="+lbID, nil, nil, &out, http.StatusOK)
	if len(out.Amphorae) != 1 {
		t.Fatalf("amphorae of load balancer %s: %+v, want one", lbID, out.Amphorae)
	}
	return out.Amphorae[0].Host
}

// lbWaiter waits on a load balancer through the API (the CLI's --wait
// polls every 5 s).
type lbWaiter struct {
	t   *testing.T
	api *api
	id  string
}

// show returns the load balancer, or nil once it is gone.
func (l *lbWaiter) show() map[string]any {
	l.t.Helper()
	var out struct {
		LB map[string]any `json:"loadbalancer"`
	}
	req, _ := http.NewRequest("GET", l.api.c.URL+"/load-balancer/v2/lbaas/loadbalancers/"+l.id, nil)
	req.Header.Set("X-Auth-Token", l.api.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		l.t.Fatalf("GET load balancer %s: %v", l.id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		l.t.Fatalf("GET load balancer %s: %s: %v", l.id, resp.Status, err)
	}
	return out.LB
}

// active waits until the load balancer leaves PENDING_*; it must be ACTIVE.
func (l *lbWaiter) active() {
	l.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		lb := l.show()
		st, _ := lb["provisioning_status"].(string)
		switch {
		case st == "ACTIVE":
			return
		case st == "ERROR":
			l.t.Fatalf("load balancer %s went to ERROR: %v", l.id, lb["status_reason"])
		case time.Now().After(deadline):
			l.t.Fatalf("load balancer %s still %s after 2 minutes", l.id, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// gone waits until the load balancer is deleted.
func (l *lbWaiter) gone() {
	l.t.Helper()
	for i := 0; i < 300; i++ {
		if l.show() == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Fatalf("load balancer %s still there a minute after delete", l.id)
}

// members returns the pool's members' operating statuses by id.
func (l *lbWaiter) members(pool string) map[string]string {
	l.t.Helper()
	var out struct {
		Pools []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"pools"`
	}
	l.api.do("GET", "/load-balancer/v2/lbaas/pools?name="+pool, nil, nil, &out, http.StatusOK)
	if len(out.Pools) != 1 {
		l.t.Fatalf("pool %s: %d found", pool, len(out.Pools))
	}
	var ms struct {
		Members []struct {
			ID              string `json:"id"`
			OperatingStatus string `json:"operating_status"`
		} `json:"members"`
	}
	l.api.do("GET", "/load-balancer/v2/lbaas/pools/"+out.Pools[0].ID+"/members", nil, nil, &ms, http.StatusOK)
	st := map[string]string{}
	for _, m := range ms.Members {
		st[m.ID] = m.OperatingStatus
	}
	return st
}

// membersOnline waits until the pool has n members, all ONLINE.
func (l *lbWaiter) membersOnline(pool string, n int) {
	l.t.Helper()
	var st map[string]string
	for i := 0; i < 150; i++ {
		st = l.members(pool)
		online := 0
		for _, s := range st {
			if s == "ONLINE" {
				online++
			}
		}
		if len(st) == n && online == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Fatalf("members of %s: %v, want %d ONLINE", pool, st, n)
}

// memberStatus waits until a member has the operating status want and
// returns when it saw it.
func (l *lbWaiter) memberStatus(pool, id, want string, within time.Duration) time.Time {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := l.members(pool)[id]
		if st == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("member %s of %s is %s after %s, want %s", id, pool, st, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load is a client requesting a URL at a fixed pace until stopped.
type load struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	res   loadResult
}

type loadAnswer struct {
	at   time.Time
	body string
	err  error
}

type loadResult struct {
	ok, errors int
	firstErr   error
	answers    []loadAnswer
}

// lastFrom is when a body last came from name (zero if never).
func (r loadResult) lastFrom(name string) time.Time {
	var last time.Time
	for _, a := range r.answers {
		if a.err == nil && a.body == name {
			last = a.at
		}
	}
	return last
}

func startLoad(c *http.Client, url string, every time.Duration) *load {
	ld := &load{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ld.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < 10000; i++ { // bounded: at most ~17 minutes at 100 ms
			select {
			case <-ld.stopc:
				return
			case <-tick.C:
			}
			body, err := httpGet(c, url)
			ld.mu.Lock()
			ld.res.answers = append(ld.res.answers, loadAnswer{time.Now(), body, err})
			if err != nil {
				ld.res.errors++
				if ld.res.firstErr == nil {
					ld.res.firstErr = err
				}
			} else {
				ld.res.ok++
			}
			ld.mu.Unlock()
		}
	}()
	return ld
}

func (ld *load) stop() loadResult {
	close(ld.stopc)
	<-ld.done
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return ld.res
}

// serverID is a server's id.
func serverID(t *testing.T, env Env, name string) string {
	t.Helper()
	return strings.TrimSpace(MustRun(t, env, "server", "show", name, "-f", "value", "-c", "id").Stdout)
}

// selfSignedPEM is a certificate for cn and its key, PEM, as a user makes
// one with openssl req -x509.
func selfSignedPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

// servedCN is the common name of the certificate served at addr.
func servedCN(t *testing.T, ns, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := dialFrom(ctx, ns, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: "shop.example"})
	defer c.Close()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return ""
	}
	return certs[0].Subject.CommonName
}

// benchGuests measures requests per second and p99 latency through the
// load balancer (three guests) and to one guest directly (its own
// floating IP), with the same clients, in one run.
func benchGuests(t *testing.T, admin Env, ns, lbFIP, direct string) {
	fip := strings.TrimSpace(MustRun(t, admin, "floating", "ip", "create", "public", "-f", "value", "-c", "floating_ip_address").Stdout)
	defer MustRun(t, admin, "floating", "ip", "delete", fip)
	MustRun(t, admin, "server", "add", "floating", "ip", direct, fip)
	c := nsHTTP(ns, 10*time.Second, false)
	if !eventually(30, func() bool { _, err := httpGet(c, "http://"+fip+"/"); return err == nil }) {
		t.Fatalf("%s's floating IP %s does not answer", direct, fip)
	}
	for _, target := range []struct{ name, url string }{{"load balancer, 3 guests", "http://" + lbFIP + "/"}, {"one guest directly", "http://" + fip + "/"}} {
		r := hammer(c, target.url, 8, 15*time.Second)
		t.Logf("bench %-24s %7.1f requests/s  p50 %6.1f ms  p99 %6.1f ms  errors %d  (8 clients, 15 s, a new connection per request)",
			target.name+":", r.rps, r.p50, r.p99, r.errors)
	}
}

type hammerResult struct {
	rps, p50, p99 float64
	errors        int
}

// hammer runs n clients against url for d and returns the rate and
// latency percentiles of the answers.
func hammer(c *http.Client, url string, n int, d time.Duration) hammerResult {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				s := time.Now()
				_, err := httpGet(c, url)
				el := time.Since(s)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	return hammerResult{rps: float64(len(lat)) / d.Seconds(), p50: pct(0.50), p99: pct(0.99), errors: errs}
}
