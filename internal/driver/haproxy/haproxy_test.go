package haproxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/onestack/onestack/internal/hostapi"
)

// The helper mode of the test binary: a member server answering its name
// over HTTP (TCP 80) and UDP (5353) on one address, run with ip netns exec.
func TestMain(m *testing.M) {
	if name := os.Getenv("ONESTACK_LB_MEMBER"); name != "" {
		addr := os.Getenv("ONESTACK_LB_ADDR")
		go func() {
			pc, err := net.ListenPacket("udp", addr+":5353")
			if err != nil {
				os.Exit(3)
			}
			buf := make([]byte, 1500)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err == nil {
					pc.WriteTo([]byte(name), from)
				}
			}
		}()
		http.ListenAndServe(addr+":80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNS runs fn with the calling thread in namespace ns (sockets made
// there stay there).
func inNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// TestHAProxyDataPlane: real HAProxy in a namespace balancing real
// servers in another: round robin, a dead member taken out by the health
// check with no client error, an L7 policy, TLS termination, UDP, and
// nothing left after Remove.
func TestHAProxyDataPlane(t *testing.T) {
	tb := newTestbed(t, map[string]string{"m1": "10.9.0.11", "m2": "10.9.0.12"})
	lbNS, mNS, members, d := tb.lbNS, tb.mNS, tb.members, tb.d
	ctx := context.Background()
	lbID := "lb1"
	t.Cleanup(func() {
		d.Remove(ctx, lbID)
		d.Close()
		if _, err := os.Stat(d.cfg.RunDir); !os.IsNotExist(err) {
			t.Errorf("socket directory %s left after Remove and Close", d.cfg.RunDir)
		}
	})
	cert := selfSigned(t)
	mon := &hostapi.Monitor{ID: "hm", Type: "HTTP", Delay: 1, Timeout: 1, MaxRetries: 1, MaxRetriesDown: 1, HTTPMethod: "GET", URLPath: "/", ExpectedCodes: "200", AdminUp: true}
	lb := hostapi.LoadBalancer{ID: lbID, Revision: 1, AdminUp: true, VIPAddress: "10.9.0.2",
		Listeners: []hostapi.Listener{
			{ID: "http", Protocol: "HTTP", Port: 80, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "all",
				TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000,
				L7Policies: []hostapi.L7Policy{{ID: "api", Action: "REDIRECT_TO_POOL", Position: 1, PoolID: "two", AdminUp: true,
					Rules: []hostapi.L7Rule{{ID: "r1", Type: "PATH", Compare: "STARTS_WITH", Value: "/api", AdminUp: true}}}}},
			{ID: "https", Protocol: "TERMINATED_HTTPS", Port: 443, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "all",
				TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000, Certificates: []string{cert}},
			{ID: "udp", Protocol: "UDP", Port: 53, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "udp"},
		},
		Pools: []hostapi.Pool{
			{ID: "all", Protocol: "HTTP", Algorithm: "ROUND_ROBIN", AdminUp: true, Monitor: mon, Members: []hostapi.Member{
				{ID: "m1", Address: "10.9.0.11", Port: 80, Weight: 1, AdminUp: true}, {ID: "m2", Address: "10.9.0.12", Port: 80, Weight: 1, AdminUp: true}}},
			{ID: "two", Protocol: "HTTP", Algorithm: "ROUND_ROBIN", AdminUp: true, Members: []hostapi.Member{
				{ID: "m2b", Address: "10.9.0.12", Port: 80, Weight: 1, AdminUp: true}}},
			{ID: "udp", Protocol: "UDP", Algorithm: "ROUND_ROBIN", AdminUp: true, Monitor: &hostapi.Monitor{ID: "hmu", Type: "UDP-CONNECT",
				Delay: 1, Timeout: 1, MaxRetries: 1, MaxRetriesDown: 2, AdminUp: true}, Members: []hostapi.Member{
				{ID: "u1", Address: "10.9.0.11", Port: 5353, Weight: 1, AdminUp: true}, {ID: "u2", Address: "10.9.0.12", Port: 5353, Weight: 1, AdminUp: true}}},
		}}
	if err := d.Apply(ctx, lb); err != nil {
		t.Fatal(err)
	}
	// Applying the same again changes nothing: the same process runs.
	pids := livePIDs(d.files(lbID).pid())
	if err := d.Apply(ctx, lb); err != nil {
		t.Fatal(err)
	}
	if again := livePIDs(d.files(lbID).pid()); fmt.Sprint(again) != fmt.Sprint(pids) || len(pids) == 0 {
		t.Fatalf("second apply changed HAProxy: %v -> %v", pids, again)
	}
	waitHealth(t, d, lbID, map[string]string{"m1": hostapi.HealthUp, "m2": hostapi.HealthUp, "u1": hostapi.HealthUp, "u2": hostapi.HealthUp})

	client := tb.client(3 * time.Second)
	get := func(url string) string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		return string(body)
	}
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		seen[get("http://10.9.0.2/")]++
	}
	if seen["m1"] != 3 || seen["m2"] != 3 {
		t.Fatalf("round robin over two members: %v", seen)
	}
	for i := 0; i < 3; i++ {
		if got := get("http://10.9.0.2/api/x"); got != "m2" {
			t.Fatalf("/api went to %s, want the second pool (m2)", got)
		}
	}
	if got := get("https://10.9.0.2/"); got != "m1" && got != "m2" {
		t.Fatalf("TLS termination answered %q", got)
	}
	udpSeen := map[string]int{}
	for i := 0; i < 4; i++ {
		udpSeen[udpAsk(t, mNS, "10.9.0.2:53")]++
	}
	if udpSeen["m1"] == 0 || udpSeen["m2"] == 0 {
		t.Fatalf("UDP over two members: %v", udpSeen)
	}
	// m2 dies: the health checks take it out (HAProxy's for HTTP, the
	// driver's UDP-CONNECT for UDP); then no client error.
	members["m2"].Process.Kill()
	members["m2"].Wait()
	start := time.Now()
	waitHealth(t, d, lbID, map[string]string{"m1": hostapi.HealthUp, "m2": hostapi.HealthDown, "u1": hostapi.HealthUp, "u2": hostapi.HealthDown})
	t.Logf("member death detected in %s (delay 1 s, fall 1 for HTTP, 2 for UDP)", time.Since(start).Round(10*time.Millisecond))
	for i := 0; i < 6; i++ {
		if got := get("http://10.9.0.2/"); got != "m1" {
			t.Fatalf("after m2 died, got %q", got)
		}
		if got := udpAsk(t, mNS, "10.9.0.2:53"); got != "m1" {
			t.Fatalf("after m2 died, UDP answered %q", got)
		}
	}
	// Remove leaves no process, file or rule.
	if err := d.Remove(ctx, lbID); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err == nil {
			t.Fatalf("HAProxy %d still runs", p)
		}
	}
	if _, err := os.Stat(d.files(lbID).dir); !os.IsNotExist(err) {
		t.Fatalf("directory left: %v", err)
	}
	if out, _ := exec.Command("ip", "netns", "exec", lbNS, "nft", "list", "ruleset").CombinedOutput(); strings.Contains(string(out), "onestack_lb") {
		t.Fatalf("UDP rules left: %s", out)
	}
}

func waitHealth(t *testing.T, d *Driver, id string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := d.Observe(context.Background(), id)
		ok := err == nil
		for m, h := range want {
			ok = ok && st.Members[m] == h
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %v (err %v), want %v", st.Members, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func udpAsk(t *testing.T, ns, addr string) string {
	t.Helper()
	var answer string
	err := inNS(ns, func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write([]byte("who")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		answer = string(buf[:n])
		return err
	})
	if err != nil {
		t.Fatalf("UDP %s: %v", addr, err)
	}
	return answer
}

func selfSigned(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example"}, DNSNames: []string{"shop.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}
