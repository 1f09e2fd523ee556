// Package haproxy is a host's load balancer data plane: per load balancer,
// Debian's HAProxy running in the namespace the network data plane wired
// the VIP port into (TCP, HTTP, HTTPS and TERMINATED_HTTPS listeners, with
// HAProxy's own health checks, read back from its stats socket), and the
// kernel's NAT for UDP listeners (nftables in the same namespace; HAProxy
// has no UDP). It is a driver: it knows nothing of the store or the API.
package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// Config configures the driver of one host.
type Config struct {
	// Dir holds one directory per load balancer (configuration,
	// certificates, pid file, sockets).
	Dir string
	// Namespace returns the namespace a load balancer's VIP port is wired
	// into on this host (the network data plane's PortNamespace of
	// hostapi.LBNamespace(id)).
	Namespace func(lbID string) string
	// RunDir holds the stats sockets (default /run/onestack/lb-<hash of
	// Dir>: a socket path must be short).
	RunDir string
	// Binary is the haproxy executable ("haproxy" on PATH when empty).
	Binary string
	Log    *slog.Logger
}

// Driver runs the load balancers of one host.
type Driver struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	udp map[string]*udpLB
	// probers are the health check goroutines of UDP pools; Close waits
	// for them.
	probers sync.WaitGroup
}

// New returns a driver; it changes nothing until Apply.
func New(cfg Config) (*Driver, error) {
	if cfg.Dir == "" || cfg.Namespace == nil {
		return nil, errors.New("haproxy: a directory and a namespace function are needed")
	}
	if cfg.Binary == "" {
		cfg.Binary = "haproxy"
	}
	if cfg.RunDir == "" {
		cfg.RunDir = runDir(cfg.Dir)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	return &Driver{cfg: cfg, log: cfg.Log, udp: map[string]*udpLB{}}, nil
}

// Close stops the health checks the driver runs (UDP pools) and waits for
// them, and removes the socket directory if no load balancer uses it.
// Load balancers keep running: HAProxy and the NAT rules outlive the
// agent, and a restarted one checks again.
func (d *Driver) Close() error {
	d.mu.Lock()
	for _, u := range d.udp {
		u.mu.Lock()
		u.stopped = true
		u.mu.Unlock()
		u.cancel()
	}
	d.mu.Unlock()
	d.probers.Wait()
	_ = os.Remove(d.cfg.RunDir) // only when empty: running load balancers keep their sockets
	return nil
}

// Available reports whether the haproxy binary can be run, and why not.
func Available(binary string) error {
	if binary == "" {
		binary = "haproxy"
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Errorf("haproxy is not installed (apt-get install haproxy): %w", err)
	}
	return nil
}

func (d *Driver) files(id string) files {
	return files{dir: filepath.Join(d.cfg.Dir, id), run: d.cfg.RunDir, id: id}
}

// runDir is the default socket directory of a driver with directory dir:
// short, and one per driver (several agents share a machine in tests).
func runDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "/run/onestack/lb-" + hex.EncodeToString(sum[:4])
}

func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}

// Apply makes lb run: HAProxy (started, or reloaded when its configuration
// changed, or left alone) and the UDP rules. Unchanged, it changes nothing.
func (d *Driver) Apply(ctx context.Context, lb hostapi.LoadBalancer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ns := d.cfg.Namespace(lb.ID)
	if !nsExists(ns) {
		return fmt.Errorf("the VIP port %s is not wired on this host yet (namespace %s): %w", lb.VIPPortID, ns, hostapi.ErrNotReady)
	}
	f := d.files(lb.ID)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	if hasTCP(lb) {
		if err := d.applyHAProxy(ctx, lb, ns, f); err != nil {
			return err
		}
	} else if err := d.stopHAProxy(f); err != nil {
		return err
	}
	return d.applyUDP(ctx, lb, ns)
}

func (d *Driver) applyHAProxy(ctx context.Context, lb hostapi.LoadBalancer, ns string, f files) error {
	cfg, extra := render(lb, f)
	changed := false
	for _, b := range extra {
		c, err := writeIfChanged(b.path, b.content, 0o600)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	old, _ := os.ReadFile(f.config())
	if string(old) != cfg {
		tmp := f.config() + ".new"
		if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
			return err
		}
		if out, err := d.run(ctx, "", d.cfg.Binary, "-c", "-f", tmp); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("HAProxy refused the configuration: %s", firstAlert(out, err))
		}
		if err := os.Rename(tmp, f.config()); err != nil {
			return err
		}
		changed = true
	}
	pids := livePIDs(f.pid())
	if len(pids) > 0 && !changed {
		return nil
	}
	// The socket directory is made with the first HAProxy (an agent that
	// never runs one leaves nothing behind).
	if err := os.MkdirAll(d.cfg.RunDir, 0o700); err != nil {
		return err
	}
	args := []string{"netns", "exec", ns, d.cfg.Binary, "-D", "-f", f.config(), "-p", f.pid()}
	if len(pids) > 0 {
		// A soft reload: the new process binds (SO_REUSEPORT) and the old
		// ones finish their connections.
		args = append(args, "-sf")
		for _, p := range pids {
			args = append(args, strconv.Itoa(p))
		}
	}
	if out, err := d.run(ctx, "", "ip", args...); err != nil {
		return fmt.Errorf("HAProxy did not start: %s", firstAlert(out, err))
	}
	// The stats socket answers once HAProxy runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := statsCSV(f.stats()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("HAProxy started but its stats socket %s does not answer", f.stats())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *Driver) run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// firstAlert is the line of HAProxy's output that says what is wrong.
func firstAlert(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "[ALERT]") {
			return strings.TrimSpace(l)
		}
	}
	if s := strings.TrimSpace(out); s != "" {
		return s
	}
	return err.Error()
}

func writeIfChanged(path, content string, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		return false, err
	}
	if strings.HasSuffix(path, ".sh") {
		os.Chmod(tmp, 0o700)
	}
	return true, os.Rename(tmp, path)
}

// livePIDs are the HAProxy processes of a pid file that still run.
func livePIDs(pidFile string) []int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "haproxy" {
			out = append(out, pid)
		}
	}
	return out
}

// stopHAProxy ends the HAProxy processes this driver started for a load
// balancer (by the pids in its pid file, nothing else).
func (d *Driver) stopHAProxy(f files) error {
	pids := livePIDs(f.pid())
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(livePIDs(f.pid())) > 0 {
		if time.Now().After(deadline) {
			for _, p := range livePIDs(f.pid()) {
				syscall.Kill(p, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(f.pid())
	return nil
}

// Remove stops a load balancer and removes its files and rules.
func (d *Driver) Remove(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.files(id)
	if err := d.stopHAProxy(f); err != nil {
		return err
	}
	if err := d.removeUDP(ctx, id); err != nil {
		return err
	}
	if err := os.Remove(f.stats()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(f.dir)
}

// List returns the load balancers with a directory on this host.
func (d *Driver) List(context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Observe reads member health and listener counters from HAProxy's stats
// socket (and the UDP prober).
func (d *Driver) Observe(ctx context.Context, id string) (hostapi.LoadBalancerStatus, error) {
	st := hostapi.LoadBalancerStatus{ID: id, Members: map[string]string{}, Listeners: map[string]hostapi.ListenerStats{}}
	f := d.files(id)
	if len(livePIDs(f.pid())) > 0 {
		rows, err := statsCSV(f.stats())
		if err != nil {
			return st, err
		}
		for _, r := range rows {
			switch r["svname"] {
			case "FRONTEND":
				ls := st.Listeners[r["pxname"]]
				ls.BytesIn += num(r["bin"])
				ls.BytesOut += num(r["bout"])
				ls.ActiveConnections += num(r["scur"])
				ls.TotalConnections += num(r["stot"])
				ls.RequestErrors += num(r["ereq"])
				st.Listeners[r["pxname"]] = ls
			case "BACKEND":
			default:
				h := health(r["status"])
				if prev, ok := st.Members[r["svname"]]; !ok || worse(h, prev) {
					st.Members[r["svname"]] = h
				}
			}
		}
	}
	d.mu.Lock()
	u := d.udp[id]
	d.mu.Unlock()
	if u != nil {
		for mid, h := range u.health() {
			st.Members[mid] = h
		}
		for lid, ls := range u.stats() {
			st.Listeners[lid] = ls
		}
	}
	return st, nil
}

func num(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// health maps HAProxy's server status: "UP", "UP 1/3" (going down),
// "DOWN", "DOWN 1/2" (coming up), "MAINT", "no check".
func health(s string) string {
	switch {
	case strings.HasPrefix(s, "UP"), strings.HasPrefix(s, "NOLB"):
		return hostapi.HealthUp
	case strings.HasPrefix(s, "DOWN"):
		return hostapi.HealthDown
	case strings.HasPrefix(s, "MAINT"), strings.HasPrefix(s, "DRAIN"):
		return hostapi.HealthMaint
	}
	return hostapi.HealthNoCheck
}

func worse(a, b string) bool {
	rank := map[string]int{hostapi.HealthUp: 0, hostapi.HealthNoCheck: 1, hostapi.HealthMaint: 2, hostapi.HealthDown: 3}
	return rank[a] > rank[b]
}

// statsCSV runs "show stat" on a stats socket.
func statsCSV(sock string) ([]map[string]string, error) {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return nil, err
	}
	text := strings.TrimPrefix(string(raw), "# ")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("stats socket %s: unreadable answer: %v", sock, err)
	}
	head := recs[0]
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, v := range rec {
			if i < len(head) {
				m[head[i]] = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// Stop ends every HAProxy process a driver with directory dir started (by
// the pids in each load balancer's pid file, nothing else) and returns the
// ids of the load balancers it stopped; for `onestack cleanup`, after a
// crash. Files stay: a restarted agent applies its load balancers again.
func Stop(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: Config{Dir: dir, RunDir: runDir(dir)}}
	var stopped []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		f := d.files(e.Name())
		if len(livePIDs(f.pid())) == 0 {
			continue
		}
		if err := d.stopHAProxy(f); err != nil {
			return stopped, err
		}
		_ = os.Remove(f.stats())
		stopped = append(stopped, e.Name())
	}
	_ = os.Remove(d.cfg.RunDir)
	return stopped, nil
}
