package haproxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testbed is a load balancer namespace (VIP 10.9.0.2) and a members'
// namespace on one veth pair: member processes (this test binary in its
// helper mode, answering their name over HTTP on port 80 and UDP on 5353)
// on their addresses, and clients in the members' namespace (10.9.0.100).
// Everything is removed on cleanup.
type testbed struct {
	lbNS, mNS string
	members   map[string]*exec.Cmd
	addrs     map[string]string
	d         *Driver
}

func newTestbed(tb testing.TB, members map[string]string) *testbed {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (network namespaces)")
	}
	if err := Available(""); err != nil {
		tb.Skip(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	t := &testbed{lbNS: "osth" + suffix + "-lb", mNS: "osth" + suffix + "-m", members: map[string]*exec.Cmd{}, addrs: members}
	tb.Cleanup(func() {
		exec.Command("ip", "netns", "del", t.lbNS).Run()
		exec.Command("ip", "netns", "del", t.mNS).Run()
	})
	sh(tb, "ip", "netns", "add", t.lbNS)
	sh(tb, "ip", "netns", "add", t.mNS)
	sh(tb, "ip", "link", "add", "ovl"+suffix, "netns", t.lbNS, "type", "veth", "peer", "name", "ovm"+suffix, "netns", t.mNS)
	sh(tb, "ip", "-n", t.lbNS, "addr", "add", "10.9.0.2/24", "dev", "ovl"+suffix)
	sh(tb, "ip", "-n", t.lbNS, "link", "set", "ovl"+suffix, "up")
	sh(tb, "ip", "-n", t.lbNS, "link", "set", "lo", "up")
	sh(tb, "ip", "-n", t.mNS, "addr", "add", "10.9.0.100/24", "dev", "ovm"+suffix)
	for _, a := range members {
		sh(tb, "ip", "-n", t.mNS, "addr", "add", a+"/24", "dev", "ovm"+suffix)
	}
	sh(tb, "ip", "-n", t.mNS, "link", "set", "ovm"+suffix, "up")
	sh(tb, "ip", "-n", t.mNS, "link", "set", "lo", "up")
	for name := range members {
		t.start(tb, name)
	}
	d, err := New(Config{Dir: filepath.Join(tb.TempDir(), "lb"), Namespace: func(string) string { return t.lbNS }})
	if err != nil {
		tb.Fatal(err)
	}
	t.d = d
	return t
}

// start runs member name (again).
func (t *testbed) start(tb testing.TB, name string) {
	self, _ := os.Executable()
	cmd := exec.Command("ip", "netns", "exec", t.mNS, self)
	cmd.Env = append(os.Environ(), "ONESTACK_LB_MEMBER="+name, "ONESTACK_LB_ADDR="+t.addrs[name])
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	t.members[name] = cmd
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// kill ends member name at once (kill -9).
func (t *testbed) kill(name string) {
	t.members[name].Process.Kill()
	t.members[name].Wait()
}

// client is an HTTP client in the members' namespace, a new connection
// per request (the load balancer chooses again each time).
func (t *testbed) client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = inNS(t.mNS, func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}}}
}

// dial opens a TCP connection from the members' namespace.
func (t *testbed) dial(addr string) (c net.Conn, err error) {
	err = inNS(t.mNS, func() error {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	return c, err
}
