package linux

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestLoadBalancerNamespacePorts: a load balancer's VIP port and its port
// on a member network share one namespace: both links there with their
// addresses, the default route via the VIP subnet's gateway only (the
// member port brings its subnet's connected route); removing the member
// port leaves the VIP's link and route; removing both removes the
// namespace.
func TestLoadBalancerNamespacePorts(t *testing.T) {
	c := newTestCloud(t, "a")
	s := newScenario(c)
	hn := s.hostNetwork("a")
	const memberNet, memberSub = "9b3c0d2e-0000-4000-8000-000000000003", "9b3c0d2e-0000-4000-8000-0000000000a3"
	hn.Networks = append(hn.Networks, hostapi.Network{ID: memberNet, Type: hostapi.NetworkVXLAN, SegmentID: 1003, MTU: 1450,
		Subnets: []hostapi.Subnet{{ID: memberSub, CIDR: "10.3.0.0/24", IPVersion: 4, GatewayIP: "10.3.0.1"}}})
	vip := hostapi.Port{ID: "77777777-0000-4000-8000-000000000007", NetworkID: netID, MAC: "fa:16:3e:00:00:77", Device: hostapi.TapName("77777777-0000-4000-8000-000000000007"),
		FixedIPs: []hostapi.FixedIP{{SubnetID: subnetID, IP: "10.0.0.77"}}, DeviceOwner: "Octavia", DeviceID: "lb-x", Namespace: "lb-x",
		AdminUp: true, PortSecurity: true, SecurityGroups: []string{sgID}}
	member := hostapi.Port{ID: "88888888-0000-4000-8000-000000000008", NetworkID: memberNet, MAC: "fa:16:3e:00:00:88", Device: hostapi.TapName("88888888-0000-4000-8000-000000000008"),
		FixedIPs: []hostapi.FixedIP{{SubnetID: memberSub, IP: "10.3.0.88"}}, DeviceOwner: "Octavia:member", DeviceID: "lb-x", Namespace: "lb-x",
		NoDefaultRoute: true, AdminUp: true, PortSecurity: true, SecurityGroups: []string{sgID}}
	hn.Ports = append(hn.Ports, vip, member)
	if rep := c.apply(t, "a", hn); len(rep.Failed) != 0 {
		t.Fatalf("failed ports: %v", rep.Failed)
	}
	ns := c.drivers["a"].PortNamespace("lb-x")
	ip := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip -n %s %s: %v\n%s", ns, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	addrs := ip("-4", "-o", "addr", "show")
	for _, want := range []string{NSPortName(vip.ID) + "    inet 10.0.0.77/24", NSPortName(member.ID) + "    inet 10.3.0.88/24"} {
		if !strings.Contains(addrs, want) {
			t.Errorf("namespace %s lacks %q:\n%s", ns, want, addrs)
		}
	}
	routes := ip("-4", "route", "show")
	if !strings.Contains(routes, "default via 10.0.0.1 dev "+NSPortName(vip.ID)) || strings.Contains(routes, "10.3.0.1") ||
		!strings.Contains(routes, "10.3.0.0/24 dev "+NSPortName(member.ID)) {
		t.Errorf("routes in %s: want the default via the VIP's gateway only and the member subnet connected:\n%s", ns, routes)
	}
	// Applying again changes nothing (the member port does not take the
	// default route over).
	if rep := c.apply(t, "a", hn); len(rep.Failed) != 0 {
		t.Fatalf("failed ports: %v", rep.Failed)
	}
	if again := ip("-4", "route", "show"); again != routes {
		t.Errorf("routes changed on a second apply:\n%s\nwas\n%s", again, routes)
	}
	// The member port goes: its link goes, the VIP's stays.
	hn.Ports = hn.Ports[:len(hn.Ports)-1]
	if rep := c.apply(t, "a", hn); len(rep.Failed) != 0 {
		t.Fatalf("failed ports: %v", rep.Failed)
	}
	if links := ip("-o", "link", "show"); strings.Contains(links, NSPortName(member.ID)) || !strings.Contains(links, NSPortName(vip.ID)) {
		t.Errorf("after the member port went, links in %s:\n%s", ns, links)
	}
	if !strings.Contains(ip("-4", "route", "show"), "default via 10.0.0.1") {
		t.Errorf("the VIP's default route went with the member port")
	}
	// Both gone: the namespace goes.
	hn.Ports = hn.Ports[:len(hn.Ports)-1]
	if rep := c.apply(t, "a", hn); len(rep.Failed) != 0 {
		t.Fatalf("failed ports: %v", rep.Failed)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), ns) {
		t.Errorf("namespace %s left after its ports went", ns)
	}
}
