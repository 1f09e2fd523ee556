package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoteAgentNetworking joins an `onestack agent` process to a cloud's
// data plane the way a second machine would: the test gives it a namespace
// of its own with an underlay link (plugged into the cloud's underlay
// switch) and a link to the outside world, and the agent gets only the
// flags a real deployment uses (--netns, --tunnel-ip,
// --external-interface). A guest on it and one on the cloud's own host
// reach each other over VXLAN, the remote guest's floating IP answers from
// the outside world, its console log and serial console are reached
// through the agent's console server, and deleting everything leaves only
// the links the test made.
func TestRemoteAgentNetworking(t *testing.T) {
	requireQemu(t)
	requireCLI(t)
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "1")
	t.Cleanup(func() { killGuestsIn(t, filepath.Join(c.DataDir, "hosts", "host-1")) })
	extNS := strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns")))
	prefix := strings.TrimSuffix(extNS, "-ext")
	ulNS := prefix + "-ul"

	// The remote host: a namespace standing for another machine, wired as
	// an installer would wire one. Its name is outside the cloud's prefix:
	// onestack did not make it and must not remove it.
	rns := fmt.Sprintf("osrt%d", os.Getpid()%100000)
	short := fmt.Sprintf("%d", os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		// The data plane's own namespaces for this host start with rns_.
		for _, ns := range namespaces(t, rns) {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	ip("netns", "add", rns)
	ip("link", "add", "ul0", "netns", rns, "type", "veth", "peer", "name", "ur"+short, "netns", ulNS)
	ip("-n", ulNS, "link", "set", "ur"+short, "master", "br0", "up")
	ip("-n", rns, "addr", "add", "10.250.200.9/16", "dev", "ul0")
	ip("-n", rns, "link", "set", "ul0", "up")
	ip("link", "add", "ext0", "netns", rns, "type", "veth", "peer", "name", "xr"+short, "netns", extNS)
	ip("-n", extNS, "link", "set", "xr"+short, "master", "br-ext", "up")
	ip("-n", rns, "link", "set", "ext0", "up")

	hostDir := filepath.Join(t.TempDir(), "remote")
	t.Cleanup(func() { killGuestsIn(t, hostDir) })
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(c.binary, "agent", "--controller", c.URL, "--host", "remote-n", "--hypervisor", "qemu", "--accel", "tcg",
		"--data-dir", hostDir, "--clouds-yaml", filepath.Join(c.DataDir, "clouds.yaml"),
		"--netns", rns, "--tunnel-ip", "10.250.200.9", "--external-interface", "ext0")
	agent.Stdout, agent.Stderr = logf, logf
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("agent log:\n%s", tail(string(b), 60))
		}
	})

	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	if !eventually(30, func() bool {
		return strings.Contains(MustRun(t, admin, "hypervisor", "list", "-f", "value", "-c", "Hypervisor Hostname", "-c", "State").Stdout, "remote-n up")
	}) {
		t.Fatal("the remote agent's host remote-n never appeared up in 'openstack hypervisor list'")
	}

	dir := t.TempDir()
	img := filepath.Join(dir, "tiny.qcow2")
	if out, err := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache")).CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare", "--public", "tiny")
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "g.tiny")
	MustRun(t, admin, "network", "create", "net1")
	MustRun(t, admin, "subnet", "create", "--network", "net1", "--subnet-range", "10.20.0.0/24", "sub1")
	MustRun(t, admin, "router", "create", "r1")
	MustRun(t, admin, "router", "set", "--external-gateway", "public", "r1")
	MustRun(t, admin, "router", "add", "subnet", "r1", "sub1")
	MustRun(t, admin, "security", "group", "rule", "create", "--protocol", "icmp", "--ingress", "default")

	for name, host := range map[string]string{"vm-local": "host-1", "vm-remote": "remote-n"} {
		MustRun(t, nova, "server", "create", "--image", "tiny", "--flavor", "g.tiny", "--network", "net1", "--availability-zone", "nova:"+host, name)
	}
	ips := map[string]string{}
	for _, name := range []string{"vm-local", "vm-remote"} {
		if st := waitStatus(t, nova, name, "ACTIVE"); st != "ACTIVE" {
			t.Fatalf("%s is %s, want ACTIVE (fault: %s)", name, st, MustRun(t, nova, "server", "show", name, "-f", "value", "-c", "fault").Stdout)
		}
		console := waitConsole(t, nova, name, 1)
		ips[name] = fixedIP(t, nova, name)
		if want := "address: eth0 " + ips[name] + "/24"; !strings.Contains(console, want) {
			t.Errorf("console of %s lacks %q (its DHCP address):\n%s", name, want, console)
		}
	}
	if host := strings.TrimSpace(MustRun(t, nova, "server", "show", "vm-remote", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host").Stdout); host != "remote-n" {
		t.Fatalf("vm-remote is on %s, want remote-n", host)
	}

	// Across hosts over VXLAN: the cloud's host to the remote agent's.
	var cu struct {
		URL string `json:"url"`
	}
	RunJSON(t, nova, &cu, "console", "url", "show", "--serial", "vm-local")
	if got := serialExchange(t, cu.URL, "ping -c 3 -W 2 "+ips["vm-remote"]+"\n", "3 packets received"); !strings.Contains(got, "3 packets received") {
		t.Errorf("vm-local (host-1) pinging vm-remote (remote-n) at %s:\n%s", ips["vm-remote"], got)
	}
	// The remote guest's serial console, which the control plane reaches
	// through the agent's console server (as it read its console log).
	RunJSON(t, nova, &cu, "console", "url", "show", "--serial", "vm-remote")
	if got := serialExchange(t, cu.URL, "ping -c 3 -W 2 "+ips["vm-local"]+"\n", "3 packets received"); !strings.Contains(got, "3 packets received") {
		t.Errorf("vm-remote (remote-n) pinging vm-local (host-1) at %s:\n%s", ips["vm-local"], got)
	}
	// The remote guest's floating IP from the outside world.
	fip := strings.TrimSpace(MustRun(t, admin, "floating", "ip", "create", "public", "-f", "value", "-c", "floating_ip_address").Stdout)
	MustRun(t, admin, "server", "add", "floating", "ip", "vm-remote", fip)
	if !eventually(30, func() bool { return pingFrom(extNS, fip) }) {
		t.Errorf("floating IP %s of vm-remote does not answer ping from namespace %s", fip, extNS)
	}

	MustRun(t, nova, "server", "delete", "--wait", "vm-local", "vm-remote")
	MustRun(t, admin, "floating", "ip", "delete", fip)
	MustRun(t, admin, "router", "remove", "subnet", "r1", "sub1")
	MustRun(t, admin, "router", "delete", "r1")
	MustRun(t, admin, "network", "delete", "net1")
	left := func() []string {
		var l []string
		for _, ns := range namespaces(t, rns) {
			if ns != rns {
				l = append(l, "namespace "+ns)
			}
		}
		out, _ := exec.Command("ip", "-n", rns, "-o", "link", "show").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				if name := strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]; name != "lo" && name != "ul0" && name != "ext0" {
					l = append(l, "link "+name)
				}
			}
		}
		return l
	}
	if !eventually(30, func() bool { return len(left()) == 0 }) {
		t.Errorf("after deleting every network resource the remote host still has: %v", left())
	}
}
