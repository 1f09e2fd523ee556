package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGuestNetworking is what a user of the networking service checks
// first, with real guests (software emulation) on two hosts, each host in
// its own network namespace: a network, a subnet and a router to the
// public network; one guest on each host gets its address by DHCP, reads
// its metadata (no config drive) and runs its user data, and the two ping
// each other over VXLAN; a floating IP answers ping and SSH with the
// injected key from the outside world's namespace; removing the ICMP rule
// stops the ping; deleting everything leaves no router, DHCP or guest link
// in the hosts, and `onestack cleanup` leaves no namespace.
func TestGuestNetworking(t *testing.T) {
	requireQemu(t)
	requireCLI(t)
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "2")
	t.Cleanup(func() {
		for _, h := range []string{"host-1", "host-2"} {
			killGuestsIn(t, filepath.Join(c.DataDir, "hosts", h))
		}
	})
	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	dir := t.TempDir()
	extNS := strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns")))
	if extNS == "" {
		t.Fatal("onestack up wrote no DATA/external-netns")
	}

	img := filepath.Join(dir, "tiny.qcow2")
	build := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare", "--public", "tiny")
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "g.tiny")
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	MustRun(t, admin, "keypair", "create", "--public-key", key+".pub", "ops")
	userData := filepath.Join(dir, "user-data")
	if err := os.WriteFile(userData, []byte("#!/bin/sh\necho user-data-says-$((6*7))\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	MustRun(t, admin, "network", "create", "net1")
	MustRun(t, admin, "subnet", "create", "--network", "net1", "--subnet-range", "10.10.0.0/24", "--dns-nameserver", "10.10.0.1", "sub1")
	MustRun(t, admin, "router", "create", "r1")
	MustRun(t, admin, "router", "set", "--external-gateway", "public", "r1")
	MustRun(t, admin, "router", "add", "subnet", "r1", "sub1")
	MustRun(t, admin, "security", "group", "rule", "create", "--protocol", "icmp", "--ingress", "default")
	MustRun(t, admin, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--ingress", "default")

	start := time.Now()
	boot := func(name, host string) string {
		var srv map[string]any
		RunJSON(t, nova, &srv, "server", "create", "--image", "tiny", "--flavor", "g.tiny", "--key-name", "ops",
			"--network", "net1", "--user-data", userData, "--availability-zone", "nova:"+host, name)
		return srv["id"].(string)
	}
	boot("vm-a", "host-1")
	boot("vm-b", "host-2")
	for _, name := range []string{"vm-a", "vm-b"} {
		if st := waitStatus(t, nova, name, "ACTIVE"); st != "ACTIVE" {
			fault := MustRun(t, nova, "server", "show", name, "-f", "value", "-c", "fault").Stdout
			t.Fatalf("%s is %s, want ACTIVE (fault: %s)", name, st, fault)
		}
	}
	ips := map[string]string{}
	for _, name := range []string{"vm-a", "vm-b"} {
		console := waitConsole(t, nova, name, 1)
		ip := fixedIP(t, nova, name)
		ips[name] = ip
		for _, want := range []string{"address: eth0 " + ip + "/24", "user-data-says-42", "hostname: " + name} {
			if !strings.Contains(console, want) {
				t.Errorf("console of %s lacks %q (DHCP address, user data and hostname from the metadata service):\n%s", name, want, console)
			}
		}
	}
	t.Logf("two guests ACTIVE with DHCP addresses and metadata in %s", time.Since(start).Round(time.Second))

	// Guest to guest across hosts (VXLAN), through the serial console.
	var cu struct {
		URL string `json:"url"`
	}
	RunJSON(t, nova, &cu, "console", "url", "show", "--serial", "vm-a")
	if got := serialExchange(t, cu.URL, "ping -c 3 -W 2 "+ips["vm-b"]+"\n", "3 packets received"); !strings.Contains(got, "3 packets received") {
		t.Errorf("vm-a (host-1) pinging vm-b (host-2) at %s:\n%s", ips["vm-b"], got)
	}

	// A floating IP reached from the outside world.
	fip := strings.TrimSpace(MustRun(t, admin, "floating", "ip", "create", "public", "-f", "value", "-c", "floating_ip_address").Stdout)
	MustRun(t, admin, "server", "add", "floating", "ip", "vm-a", fip)
	if !eventually(30, func() bool { return pingFrom(extNS, fip) }) {
		t.Fatalf("floating IP %s of vm-a does not answer ping from namespace %s", fip, extNS)
	}
	ssh := exec.Command("ip", "netns", "exec", extNS, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "root@"+fip, "hostname")
	if out, err := ssh.CombinedOutput(); err != nil || !strings.Contains(string(out), "vm-a") {
		t.Errorf("ssh root@%s hostname from %s: %v\n%s\nwant vm-a (the injected key)", fip, extNS, err, out)
	}

	// Security groups: without the ICMP rule the floating IP stops
	// answering ping.
	var rules []struct {
		ID       string `json:"ID"`
		Protocol string `json:"IP Protocol"`
	}
	RunJSON(t, admin, &rules, "security", "group", "rule", "list", "default")
	for _, r := range rules {
		if r.Protocol == "icmp" {
			MustRun(t, admin, "security", "group", "rule", "delete", r.ID)
		}
	}
	if !eventually(10, func() bool { return !pingFrom(extNS, fip) }) {
		t.Errorf("floating IP %s still answers ping after the ICMP rule was deleted", fip)
	}

	// Delete everything: no router, DHCP or guest link is left on the hosts.
	MustRun(t, nova, "server", "delete", "--wait", "vm-a", "vm-b")
	MustRun(t, admin, "floating", "ip", "delete", fip)
	MustRun(t, admin, "router", "remove", "subnet", "r1", "sub1")
	MustRun(t, admin, "router", "delete", "r1")
	MustRun(t, admin, "network", "delete", "net1")
	prefix := strings.TrimSuffix(extNS, "-ext")
	if !eventually(30, func() bool { return len(leftLinks(t, prefix)) == 0 }) {
		t.Errorf("after deleting every network resource, the hosts still have: %v", leftLinks(t, prefix))
	}
	if err := c.Stop(10 * time.Second); err != nil {
		t.Errorf("stop onestack: %v", err)
	}
	if out, err := exec.Command(c.binary, "cleanup", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
		t.Errorf("onestack cleanup: %v\n%s", err, out)
	}
	if ns := namespaces(t, prefix); len(ns) != 0 {
		t.Errorf("namespaces left after onestack cleanup: %v", ns)
	}
}

// fixedIP is a server's first fixed address, from Nova's addresses.
func fixedIP(t *testing.T, env Env, name string) string {
	t.Helper()
	var s struct {
		Addresses map[string][]string `json:"addresses"`
	}
	RunJSON(t, env, &s, "server", "show", name)
	for _, addrs := range s.Addresses {
		if len(addrs) > 0 {
			return addrs[0]
		}
	}
	t.Fatalf("server %s has no address: %+v", name, s)
	return ""
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pingFrom reports whether addr answers one ping from namespace ns.
func pingFrom(ns, addr string) bool {
	return exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", addr).Run() == nil
}

// eventually polls ok up to n times, a second apart.
func eventually(n int, ok func() bool) bool {
	for i := 0; i < n; i++ {
		if ok() {
			return true
		}
		time.Sleep(time.Second)
	}
	return false
}

// hostNS matches a host namespace's name after the cloud's prefix.
var hostNS = regexp.MustCompile(`^-h-host-[0-9]+$`)

// namespaces lists the network namespaces whose name starts with prefix.
func namespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var ns []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// leftLinks lists what the data plane made for networks, routers and
// guests and has not removed: namespaces beyond the hosts', the underlay
// and the outside world, and links in the host namespaces beyond their
// loopback, underlay and physical links.
func leftLinks(t *testing.T, prefix string) []string {
	t.Helper()
	var left []string
	for _, ns := range namespaces(t, prefix) {
		switch {
		case strings.HasSuffix(ns, "-ext"), strings.HasSuffix(ns, "-ul"):
			continue
		case !hostNS.MatchString(strings.TrimPrefix(ns, prefix)):
			left = append(left, "namespace "+ns)
			continue
		}
		out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			f := strings.Fields(string(line))
			if len(f) < 2 {
				continue
			}
			name := strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]
			if name != "lo" && name != "ul0" && name != "ext0" {
				left = append(left, fmt.Sprintf("%s: link %s", ns, name))
			}
		}
	}
	return left
}
