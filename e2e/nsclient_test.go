package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/onestack/onestack/internal/driver/haproxy"
)

// Clients that run in a network namespace (the outside world's), from
// this test process: a locked thread enters the namespace, makes the
// socket and goes back, so no thread of the test stays there (the main
// thread's namespace is the process's for onestack cleanup, which kills
// what it finds in its namespaces).

// dialFrom dials addr from namespace ns.
func dialFrom(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("namespace %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter namespace %s: %w", ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		// Back before the thread serves other goroutines; one that cannot
		// stays locked and ends with this goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// nsHTTP is an HTTP client whose connections start in namespace ns; with
// cookies, it keeps them (a browser's session).
func nsHTTP(ns string, timeout time.Duration, cookies bool) *http.Client {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,                                  // every request a new connection: the load balancer picks again
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the test's self-signed certificate
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialFrom(ctx, ns, network, addr)
		},
	}}
	if cookies {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// httpGet returns the body of a 200 answer, trimmed, or why there was none.
func httpGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// udpAsk sends one datagram to addr from namespace ns and returns the
// answer. The guests' UDP service restarts between answers (a few ms):
// a refusal or silence is tried again, up to tries times.
func udpAsk(ns, addr string, tries int) (string, error) {
	var last error
	for i := 0; i < tries; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := dialFrom(ctx, ns, "udp", addr)
		cancel()
		if err != nil {
			return "", err
		}
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 256)
		_, err = c.Write([]byte("who\n"))
		var n int
		if err == nil {
			n, err = c.Read(buf)
		}
		c.Close()
		if err == nil {
			return strings.TrimSpace(string(buf[:n])), nil
		}
		last = err
		var ne net.Error
		if !errors.Is(err, syscall.ECONNREFUSED) && !(errors.As(err, &ne) && ne.Timeout()) {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("UDP %s: no answer in %d tries: %w", addr, tries, last)
}

// remoteHost is an `onestack agent` process standing for another machine:
// a namespace of its own with an underlay link on the cloud's underlay
// switch and a link to the outside world, wired as an installer would (see
// TestRemoteAgentNetworking), and a data directory.
type remoteHost struct {
	name, ns, dir, logPath string
	args                   []string
	cmd                    *exec.Cmd
	exited                 chan struct{}
}

// startRemoteHost wires the namespace, starts the agent and registers
// the cleanups: the agent, then the processes of its load balancers and
// guests, then its namespaces.
func startRemoteHost(t *testing.T, c *Cloud, name, tag, underlayIP string, extra ...string) *remoteHost {
	t.Helper()
	extNS := strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns")))
	ulNS := strings.TrimSuffix(extNS, "-ext") + "-ul"
	h := &remoteHost{name: name, ns: fmt.Sprintf("os%s%d", tag, os.Getpid()%100000), dir: filepath.Join(t.TempDir(), name),
		logPath: filepath.Join(t.TempDir(), name+".log")}
	short := fmt.Sprintf("%s%d", tag, os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		// The data plane's namespaces for this host start with h.ns.
		for _, ns := range namespaces(t, h.ns) {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	t.Cleanup(func() {
		stopLoadBalancersIn(t, filepath.Join(h.dir, "lb"))
		killGuestsIn(t, h.dir)
	})
	ip("netns", "add", h.ns)
	ip("link", "add", "ul0", "netns", h.ns, "type", "veth", "peer", "name", "u"+short, "netns", ulNS)
	ip("-n", ulNS, "link", "set", "u"+short, "master", "br0", "up")
	ip("-n", h.ns, "addr", "add", underlayIP+"/16", "dev", "ul0")
	ip("-n", h.ns, "link", "set", "ul0", "up")
	ip("link", "add", "ext0", "netns", h.ns, "type", "veth", "peer", "name", "x"+short, "netns", extNS)
	ip("-n", extNS, "link", "set", "x"+short, "master", "br-ext", "up")
	ip("-n", h.ns, "link", "set", "ext0", "up")
	h.args = append([]string{"agent", "--controller", c.URL, "--host", name, "--hypervisor", "qemu", "--accel", "tcg",
		"--data-dir", h.dir, "--clouds-yaml", filepath.Join(c.DataDir, "clouds.yaml"),
		"--netns", h.ns, "--tunnel-ip", underlayIP, "--external-interface", "ext0"}, extra...)
	h.start(t)
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			b, _ := os.ReadFile(h.logPath)
			t.Logf("agent %s log:\n%s", name, tail(string(b), 80))
		}
	})
	return h
}

// start runs the agent, appending to its log.
func (h *remoteHost) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(h.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "### onestack %s\n", strings.Join(h.args, " "))
	h.cmd = exec.Command(onestackBinary(t), h.args...)
	h.cmd.Stdout, h.cmd.Stderr = f, f
	h.cmd.Env = cleanEnv()
	if err := h.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	h.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(h.cmd, h.exited)
}

// kill ends the agent with SIGKILL (a crash) and waits for it.
func (h *remoteHost) kill() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.exited
}

// stopLoadBalancersIn ends the HAProxy processes of a load balancer
// directory left by a failed test (as onestack cleanup does, which also
// removes their socket directory), and any still running after.
func stopLoadBalancersIn(t *testing.T, dir string) {
	if ids, err := haproxy.Stop(dir); err != nil || len(ids) > 0 {
		t.Logf("stopped the load balancers %v left in %s (%v)", ids, dir, err)
	}
	for _, pid := range haproxyPIDs(dir) {
		t.Logf("ending HAProxy process %d left by the test", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// haproxyPIDs lists the running HAProxy processes whose configuration is
// under dir (their command line names it).
func haproxyPIDs(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "haproxy") || !strings.Contains(string(cmd), dir+"/") {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
