package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTwoControllers runs two `onestack controller` processes on one
// PostgreSQL database (sharing the data directory, so one set of token
// keys) and two fake `onestack agent` hosts that know both controllers.
// Servers are booted through both controllers at once; one controller is
// killed with SIGKILL in the middle of the storm. The other finishes the
// work: every accepted boot ends ACTIVE, once, with one allocation and one
// guest, and none is lost or duplicated.
func TestTwoControllers(t *testing.T) {
	requireCLI(t)
	base := os.Getenv(postgresEnv)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI: .ci/run must start PostgreSQL", postgresEnv)
		}
		t.Skipf("%s not set: two controllers need PostgreSQL", postgresEnv)
	}
	db := freshPostgres(t, base)
	dataDir := t.TempDir()
	password := "pw-" + randomHex(t, 12)
	// Clients reach the controllers through one address, as through a
	// load balancer: the catalog both controllers publish names it.
	lb := newBalancer(t)
	a := startController(t, db, dataDir, password, lb.URL)
	b := startController(t, db, dataDir, password, lb.URL)
	lb.setBackends(a.Listen, b.Listen)

	agents := fmt.Sprintf("%s,%s", a.URL, b.URL)
	for _, h := range []string{"ctl-host-1", "ctl-host-2"} {
		startAgent(t, "--controller", agents, "--host", h, "--hypervisor", "fake", "--clouds-yaml", filepath.Join(dataDir, "clouds.yaml"))
	}
	env := append((&Cloud{URL: lb.URL}).PasswordEnv("admin", password, "admin"), "OS_COMPUTE_API_VERSION=2.79")
	envA, envB := env, env
	up := 0
	for i := 0; i < 30 && up < 2; i++ {
		out := MustRun(t, envB, "hypervisor", "list", "-f", "value", "-c", "State").Stdout
		up = strings.Count(out, "up")
	}
	if up < 2 {
		t.Fatal("the two agents never both appeared up")
	}
	src := filepath.Join(t.TempDir(), "img.raw")
	if err := os.WriteFile(src, []byte("two controllers"), 0o600); err != nil {
		t.Fatal(err)
	}
	MustRun(t, envA, "image", "create", "--file", src, "--disk-format", "raw", "img")
	MustRun(t, envA, "flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1", "f1")
	MustRun(t, envA, "quota", "set", "--instances", "100", "--cores", "100", "--ram", "102400", "admin")

	// The storm: two clients, one per controller, each booting servers in
	// batches of 5 (min-count); controller A is killed after its third batch.
	var mu sync.Mutex
	accepted := map[string]bool{}  // server names whose create answered 2xx
	ambiguous := map[string]bool{} // created when a controller died mid-request: may exist
	boot := func(env Env, prefix string, batches int, after func(int)) {
		for i := 0; i < batches; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			r := Run(t, env, "server", "create", "--image", "img", "--flavor", "f1", "--nic", "none", "--min", "5", "--max", "5", name)
			mu.Lock()
			for j := 1; j <= 5; j++ {
				if r.Code == 0 {
					accepted[fmt.Sprintf("%s-%d", name, j)] = true
				} else if strings.Contains(r.Stderr, "502") || strings.Contains(r.Stderr, "Bad Gateway") {
					ambiguous[fmt.Sprintf("%s-%d", name, j)] = true
				}
			}
			mu.Unlock()
			if after != nil {
				after(i)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		boot(envA, "via-a", 6, func(i int) {
			if i == 2 {
				a.Kill(t)
			}
		})
	}()
	go func() {
		defer wg.Done()
		boot(envB, "via-b", 6, nil)
	}()
	wg.Wait()
	if len(accepted) < 30 {
		t.Fatalf("only %d boots were accepted; want at least the 30 through controller B and 15 through A before it died", len(accepted))
	}

	// Controller B finishes every accepted boot: each ACTIVE exactly once.
	type row struct {
		Name, Status string
	}
	var servers []row
	for i := 0; i < 60; i++ {
		servers = nil
		RunJSON(t, envB, &servers, "server", "list", "--limit", "-1")
		active := 0
		for _, s := range servers {
			if s.Status == "ACTIVE" {
				active++
			}
		}
		if active == len(servers) && active >= len(accepted) {
			break
		}
		time.Sleep(time.Second)
	}
	seen := map[string]int{}
	for _, s := range servers {
		seen[s.Name]++
		if s.Status != "ACTIVE" {
			t.Errorf("server %s is %s after the storm, want ACTIVE", s.Name, s.Status)
		}
	}
	for name := range accepted {
		if seen[name] != 1 {
			t.Errorf("accepted boot %s appears %d times, want once", name, seen[name])
		}
	}
	for name, n := range seen {
		if !accepted[name] && !ambiguous[name] {
			t.Errorf("server %s exists (%d times) though its create failed outright", name, n)
		}
		if n > 1 {
			t.Errorf("server %s exists %d times", name, n)
		}
	}
	t.Logf("%d boots accepted, %d cut off by the kill, %d servers ACTIVE", len(accepted), len(ambiguous), len(servers))
	// One allocation per server: the hosts' used vCPUs (flavor f1 has one).
	var hvs []map[string]any
	RunJSON(t, envB, &hvs, "hypervisor", "list", "--long")
	used := 0.0
	for _, h := range hvs {
		v, _ := h["vCPUs Used"].(float64)
		used += v
	}
	if int(used) != len(servers) {
		t.Errorf("the hosts have %v vCPUs allocated for %d one-vCPU servers: %v", used, len(servers), hvs)
	}
	del := []string{"server", "delete"}
	for _, s := range servers {
		del = append(del, s.Name)
	}
	MustRun(t, envB, del...)
	left := -1
	for i := 0; i < 60 && left != 0; i++ {
		left = len(strings.Fields(MustRun(t, envB, "server", "list", "-f", "value", "-c", "ID").Stdout))
	}
	if left != 0 {
		t.Errorf("%d servers left after deleting them all", left)
	}
}

// startController runs `onestack controller` on a free port, published
// in the catalog as publicURL.
func startController(t *testing.T, database, dataDir, password, publicURL string) *Cloud {
	t.Helper()
	c := &Cloud{Listen: "127.0.0.1:" + freePort(t), DataDir: dataDir, AdminPassword: password, Database: database,
		binary: onestackBinary(t), command: "controller", extraArgs: []string{"--public-url", publicURL}}
	c.URL = "http://" + c.Listen
	c.logf = filepath.Join(t.TempDir(), "controller.log")
	t.Cleanup(func() {
		_ = c.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("controller %s log:\n%s", c.URL, tail(c.log(), 80))
		}
	})
	c.start(t, true)
	return c
}

// startAgent runs `onestack agent` with args until the test ends.
func startAgent(t *testing.T, args ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(onestackBinary(t), append([]string{"agent"}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("agent %v log:\n%s", args, tail(string(b), 60))
		}
	})
}

// balancer is a loopback HTTP load balancer in front of the controllers:
// requests go round-robin, and one that cannot connect to a controller is
// sent to the next, as a load balancer's health checks would.
type balancer struct {
	URL      string
	mu       sync.Mutex
	backends []string // HOST:PORT, set once the controllers listen; guarded by mu
	next     int
}

func (b *balancer) setBackends(addrs ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = addrs
}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	b := &balancer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: b}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	backends, start := b.backends, b.next
	b.next++
	b.mu.Unlock()
	for i := range backends {
		target := backends[(start+i)%len(backends)]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		var op *net.OpError
		if err != nil && errors.As(err, &op) && op.Op == "dial" {
			continue // that controller is gone: the next one answers
		}
		if err != nil {
			// It died with the request in flight: the request may or may
			// not have been done, so it is not repeated (as a balancer
			// never replays a POST).
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no controller answers", http.StatusBadGateway)
}
