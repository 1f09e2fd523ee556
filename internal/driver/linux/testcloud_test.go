package linux

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
)

// needNetAdmin skips tests that make kernel objects when this process
// cannot (not root, no nft).
func needNetAdmin(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	for _, tool := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
}

// testPrefix is a fresh prefix whose namespaces are all removed when the
// test ends, passed or not.
func testPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	p := "ost" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if _, err := Cleanup(context.Background(), p); err != nil {
			t.Errorf("cleanup %s: %v", p, err)
		}
	})
	return p
}

// testCloud is a two-host topology with a driver per host.
type testCloud struct {
	topo    *Topology
	drivers map[string]*Driver
	prefix  string
}

func newTestCloud(t testing.TB, hosts ...string) *testCloud {
	t.Helper()
	needNetAdmin(t)
	prefix := testPrefix(t)
	ctx := context.Background()
	topo, err := SetupTopology(ctx, TopologyConfig{Prefix: prefix, Hosts: hosts, ExternalCIDR: "172.24.4.0/24", ExternalGateway: "172.24.4.1"})
	if err != nil {
		t.Fatal(err)
	}
	c := &testCloud{topo: topo, drivers: map[string]*Driver{}, prefix: prefix}
	for _, h := range hosts {
		d, err := New(Config{
			NetNS: topo.HostNS(h), Host: h, TunnelIP: topo.TunnelIP(h), Underlay: UnderlayLink,
			PhysNets: topo.PhysNets(),
			Metadata: func(ctx context.Context, id string) (metadata.Instance, error) {
				return metadata.Instance{UUID: id, Name: "vm-" + id, Hostname: "vm-" + id}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		c.drivers[h] = d
	}
	return c
}

func (c *testCloud) apply(t testing.TB, host string, hn hostapi.HostNetwork) hostapi.NetworkReport {
	t.Helper()
	hn.Host = host
	rep, err := c.drivers[host].Apply(context.Background(), hn)
	if err != nil {
		t.Fatalf("apply on %s: %v", host, err)
	}
	return rep
}

// guest is a namespace standing for a VM: its eth0 is a veth whose peer
// in the host namespace is named as the port's Device.
type guest struct {
	ns  string
	mac string
}

func (c *testCloud) newGuest(t testing.TB, host, name string, p hostapi.Port) *guest {
	t.Helper()
	ns := c.prefix + "-g-" + name
	if _, err := ensureNS(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNS(ns) })
	h, err := handleAt(c.topo.HostNS(host))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	gh, err := handleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	fd, err := nsFd(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	mac, _ := net.ParseMAC(p.MAC)
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p.Device}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd)), PeerHardwareAddr: mac}); err != nil {
		t.Fatal(err)
	}
	l, err := gh.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return &guest{ns: ns, mac: p.MAC}
}

// dhcp runs a DHCP exchange from the guest and configures what it got:
// address, and the classless static routes.
func (g *guest) dhcp(t testing.TB) *dhcpv4.DHCPv4 {
	t.Helper()
	var cl *nclient4.Client
	if err := inNS(g.ns, func() error {
		var err error
		cl, err = nclient4.New("eth0", nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	lease, err := cl.Request(ctx)
	if err != nil {
		t.Fatalf("dhcp in %s: %v", g.ns, err)
	}
	ack := lease.ACK
	gh, err := handleAt(g.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	l, _ := gh.LinkByName("eth0")
	if mtu := ack.Options.Get(dhcpv4.OptionInterfaceMTU); len(mtu) == 2 {
		gh.LinkSetMTU(l, int(mtu[0])<<8|int(mtu[1]))
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ack.YourIPAddr, Mask: ack.SubnetMask()}}
	if err := gh.AddrReplace(l, addr); err != nil {
		t.Fatal(err)
	}
	for _, r := range ack.ClasslessStaticRoute() {
		if err := gh.RouteReplace(&netlink.Route{Dst: r.Dest, Gw: r.Router, LinkIndex: l.Attrs().Index}); err != nil {
			t.Fatalf("route %v via %v: %v", r.Dest, r.Router, err)
		}
	}
	return ack
}

// listen opens a TCP listener in namespace ns that answers each
// connection with the peer's address, until the test ends.
func listen(t testing.TB, ns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// dial connects from namespace ns (optionally from address src) and
// returns what the listener said: the source address it saw.
func dial(ns, src, addr string, timeout time.Duration) (string, error) {
	var conn net.Conn
	err := inNS(ns, func() error {
		d := net.Dialer{Timeout: timeout}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		var err error
		conn, err = d.Dial("tcp4", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(conn)
	return strings.TrimSpace(string(b)), err
}

// httpGet fetches url from inside namespace ns.
func httpGet(ns, url string) (int, string, error) {
	cl := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := inNS(ns, func() error {
				var err error
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp4", addr)
				return err
			})
			return c, err
		},
	}}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

var volatile = regexp.MustCompile(` state (UP|UNKNOWN|DOWN|LOWERLAYERDOWN)| tentative| dadfailed`)

// dump is everything observable the driver made in a host namespace and
// its child namespaces, for idempotence checks.
func dump(t testing.TB, ns string) string {
	t.Helper()
	var b strings.Builder
	names := []string{ns}
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ns+"_") {
			names = append(names, e.Name())
		}
	}
	for _, n := range names {
		for _, args := range [][]string{
			{"-n", n, "link", "show"}, {"-n", n, "addr", "show"}, {"-n", n, "route", "show"},
		} {
			out, err := exec.Command("ip", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("ip %v: %v %s", args, err, out)
			}
			// Operational state and DAD progress change by themselves.
			out = volatile.ReplaceAll(out, nil)
			fmt.Fprintf(&b, "== %s %v\n%s", n, args, out)
		}
		out, _ := exec.Command("bridge", "-n", n, "fdb", "show").CombinedOutput()
		fmt.Fprintf(&b, "== %s fdb\n", n)
		for _, line := range strings.Split(string(out), "\n") {
			// Learned entries come and go with traffic.
			if strings.Contains(line, "permanent") || strings.Contains(line, " dst ") {
				fmt.Fprintln(&b, line)
			}
		}
		rs, err := nftOutput(context.Background(), n, "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s nft\n%s", n, rs)
	}
	return b.String()
}

// settledDump is dump once the kernel has finished with links that just
// came up (carrier, IPv6 link-local addresses and their multicast
// entries arrive by themselves): two dumps a second apart agree, or the
// last of ten.
func settledDump(t testing.TB, ns string) string {
	t.Helper()
	prev := dump(t, ns)
	for i := 0; i < 10; i++ {
		time.Sleep(time.Second)
		cur := dump(t, ns)
		if cur == prev {
			return cur
		}
		prev = cur
	}
	return prev
}

func netlinkParseAddr(s string) (*netlink.Addr, error) { return netlink.ParseAddr(s) }

// httpGet2 is httpGet from source address src.
func httpGet2(ns, src, url string) (int, string, error) {
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := inNS(ns, func() error {
				var err error
				d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
				c, err = d.DialContext(ctx, "tcp4", addr)
				return err
			})
			return c, err
		},
	}}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// flushNeigh forgets the namespace's neighbour cache (after a MAC change
// in a test).
func flushNeigh(t testing.TB, ns string) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", ns, "neigh", "flush", "all").CombinedOutput(); err != nil {
		t.Logf("neigh flush: %v %s", err, out)
	}
}

// renew takes a lease and renews it (a request from the leased address,
// as a guest does at T1).
func (g *guest) renew(t testing.TB) *dhcpv4.DHCPv4 {
	t.Helper()
	var cl *nclient4.Client
	if err := inNS(g.ns, func() error {
		var err error
		cl, err = nclient4.New("eth0", nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	lease, err := cl.Request(ctx)
	if err != nil {
		t.Fatalf("dhcp in %s: %v", g.ns, err)
	}
	renewed, err := cl.Renew(ctx, lease)
	if err != nil {
		t.Fatalf("dhcp renew in %s: %v", g.ns, err)
	}
	return renewed.ACK
}
