package linux

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestCleanupOnlyPrefix: Cleanup removes the prefix's namespaces (and
// what is in them) and nothing else, not even a name that merely starts
// with the same characters.
func TestCleanupOnlyPrefix(t *testing.T) {
	needNetAdmin(t)
	prefix := testPrefix(t)
	other := testPrefix(t)
	ctx := context.Background()
	if _, err := SetupTopology(ctx, TopologyConfig{Prefix: prefix, Hosts: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := SetupTopology(ctx, TopologyConfig{Prefix: other, Hosts: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	lookalike := prefix + "x-keep"
	if _, err := ensureNS(lookalike); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNS(lookalike) })
	// A process a crashed run left inside one of its namespaces.
	sleeper := exec.Command("ip", "netns", "exec", prefix+"-h-a", "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()
	t.Cleanup(func() {
		sleeper.Process.Kill()
		<-waited
	})
	// ip netns exec has entered the namespace once sleep runs in it.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.Process.Pid)); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	removed, err := Cleanup(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
		waited <- nil
	case <-time.After(5 * time.Second):
		t.Error("the process inside the prefix's namespace is still running")
	}
	var procs []string
	for _, r := range removed {
		if strings.HasPrefix(r, "process ") {
			procs = append(procs, r)
		}
	}
	if len(procs) != 1 || !strings.HasPrefix(procs[0], fmt.Sprintf("process %d ", sleeper.Process.Pid)) {
		t.Errorf("processes removed: %v", procs)
	}
	want := map[string]bool{"namespace " + prefix + "-ul": true, "namespace " + prefix + "-ext": true,
		"namespace " + prefix + "-h-a": true, "namespace " + prefix + "-h-b": true}
	for _, r := range removed {
		if strings.HasPrefix(r, "process ") {
			continue
		}
		if !want[r] {
			t.Errorf("removed %s", r)
		}
		delete(want, r)
	}
	for r := range want {
		t.Errorf("did not remove %s", r)
	}
	for _, n := range []string{lookalike, other + "-h-a", other + "-ul", other + "-ext"} {
		if !nsExists(n) {
			t.Errorf("%s was removed", n)
		}
	}
	if _, err := Cleanup(ctx, "bad/prefix"); err == nil {
		t.Error("a prefix with / was accepted")
	}
}

// TestTopologyRestart: a second SetupTopology reuses the namespaces and
// links, and a host added later keeps the others' addresses.
func TestTopologyRestart(t *testing.T) {
	needNetAdmin(t)
	prefix := testPrefix(t)
	ctx := context.Background()
	state := t.TempDir() + "/topology.json"
	t1, err := SetupTopology(ctx, TopologyConfig{Prefix: prefix, Hosts: []string{"b", "a"}, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handleAt(t1.HostNS("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l1, err := h.LinkByName(UnderlayLink)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := SetupTopology(ctx, TopologyConfig{Prefix: prefix, Hosts: []string{"c", "a", "b"}, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"a", "b"} {
		if t1.TunnelIP(host) != t2.TunnelIP(host) {
			t.Errorf("host %s moved from %s to %s", host, t1.TunnelIP(host), t2.TunnelIP(host))
		}
	}
	if ip := t2.TunnelIP("c"); ip == "" || ip == t2.TunnelIP("a") || ip == t2.TunnelIP("b") {
		t.Errorf("host c got %q", ip)
	}
	l2, err := h.LinkByName(UnderlayLink)
	if err != nil || l2.Attrs().Index != l1.Attrs().Index {
		t.Errorf("ul0 was recreated: %v", err)
	}
	// The underlay works: c reaches a.
	listen(t, t2.HostNS("a"), t2.TunnelIP("a")+":7000")
	if got, err := dial(t2.HostNS("c"), "", t2.TunnelIP("a")+":7000", 3*time.Second); err != nil || got != t2.TunnelIP("c") {
		t.Errorf("c -> a over the underlay: %q %v", got, err)
	}
}

// TestRestartTeardown: a new driver (agent restart) takes over what the
// old one left without disturbing the guest; Teardown removes it all.
func TestRestartTeardown(t *testing.T) {
	c := newTestCloud(t, "a", "b")
	s := newScenario(c)
	g1 := c.newGuest(t, "a", "g1", s.p1)
	c.applyBoth(t, s)
	if ack := g1.dhcp(t); ack.YourIPAddr.String() != "10.0.0.11" {
		t.Fatalf("address %s", ack.YourIPAddr)
	}
	before := settledDump(t, c.topo.HostNS("a"))
	if err := c.drivers["a"].Close(); err != nil {
		t.Fatal(err)
	}
	// Data plane stays after Close: the bridge is there.
	if !strings.Contains(dump(t, c.topo.HostNS("a")), bridgeName(netID)) {
		t.Fatal("Close removed the bridge")
	}
	d, err := New(c.drivers["a"].cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c.drivers["a"] = d
	rep := c.apply(t, "a", s.hostNetwork("a"))
	if len(rep.Failed) != 0 {
		t.Fatal(rep.Failed)
	}
	if diff := cmp.Diff(before, dump(t, c.topo.HostNS("a"))); diff != "" {
		t.Errorf("a restarted driver changed the data plane (-before +after):\n%s", diff)
	}
	if code, body, err := httpGet(g1.ns, "http://169.254.169.254/openstack/latest/meta_data.json"); err != nil || code != 200 || !strings.Contains(body, "server-1") {
		t.Errorf("metadata after restart: %d %v", code, err)
	}
	if ack := g1.dhcp(t); ack.YourIPAddr.String() != "10.0.0.11" {
		t.Errorf("dhcp after restart: %s", ack.YourIPAddr)
	}
	if err := d.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	hh, _ := handleAt(c.topo.HostNS("a"))
	defer hh.Close()
	links, _ := hh.LinkList()
	for _, l := range links {
		if ownedLink(l.Attrs().Name) {
			t.Errorf("after Teardown: %s", l.Attrs().Name)
		}
	}
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), c.topo.HostNS("a")+"_") {
			t.Errorf("after Teardown: namespace %s", e.Name())
		}
	}
	if rs, _ := nftOutput(context.Background(), c.topo.HostNS("a"), "list", "ruleset"); strings.TrimSpace(rs) != "" {
		t.Errorf("after Teardown: ruleset\n%s", rs)
	}
}

// TestTapAndFailures: Apply makes the tap of a port with no link yet and
// OpenTap attaches to it; ports that cannot be wired are reported with
// the reason.
func TestTapAndFailures(t *testing.T) {
	c := newTestCloud(t, "a")
	s := newScenario(c)
	hn := s.hostNetwork("a")
	dup := testPort("11111111-0000-4000-8000-0000000000ff", "fa:16:3e:00:00:ff", "10.0.0.99", "server-9") // same tap name as p1
	flatPort := testPort("33333333-0000-4000-8000-000000000003", "fa:16:3e:00:00:33", "10.9.0.3", "server-3")
	flatPort.NetworkID = "f1a70000-0000-4000-8000-000000000000"
	hn.Networks = append(hn.Networks, hostapi.Network{ID: flatPort.NetworkID, Type: hostapi.NetworkFlat, PhysicalNetwork: "datacentre", MTU: 1500})
	twin := hostapi.Network{ID: netID[:11] + "-twin", Type: hostapi.NetworkVXLAN, SegmentID: 1999, MTU: 1450} // same bridge name as netID
	twinPort := testPort("44444444-0000-4000-8000-000000000004", "fa:16:3e:00:00:44", "10.0.0.44", "server-4")
	twinPort.NetworkID = twin.ID
	hn.Networks = append(hn.Networks, twin)
	hn.Ports = append(hn.Ports, dup, flatPort, twinPort)
	rep := c.apply(t, "a", hn)
	if !strings.Contains(rep.Failed[twinPort.ID], "same bridge name") {
		t.Errorf("network with a clashing bridge name: %q", rep.Failed[twinPort.ID])
	}
	if !strings.Contains(rep.Failed[dup.ID], "already port "+s.p1.ID) {
		t.Errorf("duplicate device: %q", rep.Failed[dup.ID])
	}
	if !strings.Contains(rep.Failed[flatPort.ID], `physical network "datacentre" has no link on host a`) {
		t.Errorf("unknown physical network: %q", rep.Failed[flatPort.ID])
	}
	if !contains(rep.Up, s.p1.ID) {
		t.Fatalf("p1 not up: %+v", rep)
	}
	// An administratively down port: its tap is down, it is not reported up.
	down := testPort("55555555-0000-4000-8000-000000000005", "fa:16:3e:00:00:55", "10.0.0.55", "server-5")
	down.AdminUp = false
	hn.Ports = append(hn.Ports, down)
	rep = c.apply(t, "a", hn)
	if contains(rep.Up, down.ID) || rep.Failed[down.ID] != "" {
		t.Errorf("admin down port reported: %+v", rep)
	}
	hh, err := handleAt(c.topo.HostNS("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	if l, err := hh.LinkByName(down.Device); err != nil || l.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("admin down tap: %v, flags %v", err, l.Attrs().Flags)
	}
	// What the driver made carries its alias (the root namespace's
	// cleanup removes only those).
	for _, name := range []string{s.p1.Device, bridgeName(netID), vxlanName(1001), hostapi.TapName(s.network("a").DHCP.ID)} {
		if l, err := hh.LinkByName(name); err != nil || l.Attrs().Alias != ownerAlias {
			t.Errorf("%s: alias %q, %v", name, l.Attrs().Alias, err)
		}
	}
	f, err := c.drivers["a"].OpenTap(s.p1.Device)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ifr, err := unix.NewIfreq("")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(int(f.Fd()), unix.TUNGETIFF, ifr); err != nil {
		t.Fatal(err)
	}
	if ifr.Name() != s.p1.Device {
		t.Errorf("fd is attached to %q", ifr.Name())
	}
	if _, err := c.drivers["a"].OpenTap("tapnosuchport"); err == nil || !strings.Contains(err.Error(), "not wired yet") {
		t.Errorf("missing tap: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFirewallRepair: tables changed behind the driver's back (an element
// deleted by hand) are rewritten whole by the next change instead of
// failing it.
func TestFirewallRepair(t *testing.T) {
	c := newTestCloud(t, "a")
	s := newScenario(c)
	c.newGuest(t, "a", "g1", s.p1)
	c.apply(t, "a", s.hostNetwork("a"))
	if err := nft(context.Background(), c.topo.HostNS("a"), fmt.Sprintf("delete element bridge onestack secured { %q }\n", s.p1.Device)); err != nil {
		t.Fatal(err)
	}
	s.p1.FixedIPs = append(s.p1.FixedIPs, hostapi.FixedIP{SubnetID: subnetID, IP: "10.0.0.111"})
	// Port security off and on again: the first change deletes the
	// element that is gone.
	s.p1.PortSecurity = false
	writes := c.drivers["a"].fw.writes
	rep := c.apply(t, "a", s.hostNetwork("a"))
	if len(rep.Failed) != 0 {
		t.Fatalf("after a hand edit: %v", rep.Failed)
	}
	if w := c.drivers["a"].fw.writes - writes; w != 2 {
		t.Errorf("%d firewall writes, want 2 (the change, then the whole tables)", w)
	}
	s.p1.PortSecurity = true
	if rep := c.apply(t, "a", s.hostNetwork("a")); len(rep.Failed) != 0 {
		t.Fatal(rep.Failed)
	}
	rs, _ := nftOutput(context.Background(), c.topo.HostNS("a"), "list", "set", "bridge", "onestack", "secured")
	if !strings.Contains(rs, s.p1.Device) {
		t.Errorf("port not secured again:\n%s", rs)
	}
}
