package linux

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// benchHost is one host namespace with n guest ports (real taps) spread
// over networks of at most 1,000 ports (a bridge takes 1,024), all in one
// security group.
func benchHN(n int, tunnelIP string) hostapi.HostNetwork {
	hn := hostapi.HostNetwork{Host: "a", TunnelIP: tunnelIP, Revision: 1,
		SecurityGroups: []hostapi.SecurityGroup{{ID: sgID, Rules: []hostapi.SecurityGroupRule{
			{ID: "e", Direction: "egress", EtherType: "IPv4"},
			{ID: "i", Direction: "ingress", EtherType: "IPv4", RemoteGroupID: sgID},
		}}},
	}
	nets := (n + 999) / 1000
	for k := 0; k < nets; k++ {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", k+1)
		sub := fmt.Sprintf("%08x-0000-4000-8000-0000000000a0", k+1)
		hn.Networks = append(hn.Networks, hostapi.Network{ID: id, Type: hostapi.NetworkVXLAN, SegmentID: 2000 + k, MTU: 1450,
			Subnets: []hostapi.Subnet{{ID: sub, CIDR: fmt.Sprintf("10.%d.0.0/16", k+1), IPVersion: 4, GatewayIP: fmt.Sprintf("10.%d.0.1", k+1), EnableDHCP: true}},
			DHCP: &hostapi.Port{ID: fmt.Sprintf("d%07x-0000-4000-8000-000000000000", k+1), MAC: fmt.Sprintf("fa:16:3f:00:%02x:02", k+1),
				FixedIPs: []hostapi.FixedIP{{SubnetID: sub, IP: fmt.Sprintf("10.%d.0.2", k+1)}}}})
	}
	for i := 0; i < n; i++ {
		k := i / 1000
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xc0000000+i, i)
		ip := fmt.Sprintf("10.%d.%d.%d", k+1, (i%1000)/200+1, i%200+10)
		hn.Ports = append(hn.Ports, hostapi.Port{ID: id, NetworkID: hn.Networks[k].ID, MAC: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255),
			FixedIPs: []hostapi.FixedIP{{SubnetID: hn.Networks[k].Subnets[0].ID, IP: ip}}, Device: hostapi.TapName(id),
			DeviceID: "server", AdminUp: true, PortSecurity: true, SecurityGroups: []string{sgID}})
		hn.SecurityGroups[0].Members = append(hn.SecurityGroups[0].Members, ip)
	}
	return hn
}

func benchHost(b *testing.B, n int) (*testCloud, hostapi.HostNetwork) {
	b.Helper()
	c := newTestCloud(b, "a")
	hn := benchHN(n, c.topo.TunnelIP("a"))
	nets := len(hn.Networks)
	start := time.Now()
	rep := c.apply(b, "a", hn)
	if len(rep.Failed) != 0 || len(rep.Up) != n+nets {
		b.Fatalf("setup: %d up, failed: %v", len(rep.Up), first(rep.Failed))
	}
	b.Logf("%d ports: first apply %v", n, time.Since(start))
	return c, hn
}

func first(m map[string]string) string {
	for k, v := range m {
		return k + ": " + v
	}
	return ""
}

// BenchmarkRuleChange adds or removes one ingress rule of the group all
// ports use and applies the host's whole desired state, as the agent
// does. The ratio of 10,000 to 10 ports is the cost of the scan over the
// desired state; the firewall write itself is one group chain.
func BenchmarkRuleChange(b *testing.B) {
	for _, n := range benchSizes(10, 10000) {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			c, hn := benchHost(b, n)
			base := hn.SecurityGroups[0].Rules
			ctx := context.Background()
			fw := c.drivers["a"].fw
			nft0 := fw.nftTime
			i := 0
			defer func() { b.ReportMetric(float64((fw.nftTime-nft0).Microseconds())/1000/float64(max(i, 1)), "nft-ms/op") }()
			defer reportCPU(b, cpuTime(), &i)
			for b.Loop() {
				i++
				rules := append([]hostapi.SecurityGroupRule(nil), base...)
				if i%2 == 1 {
					rules = append(rules, hostapi.SecurityGroupRule{ID: "x", Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: intp(22), PortMax: intp(22)})
				}
				hn.SecurityGroups = []hostapi.SecurityGroup{{ID: sgID, Rules: rules, Members: hn.SecurityGroups[0].Members}}
				if _, err := c.drivers["a"].Apply(ctx, hn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRuleChangeFirewall is the firewall part of a rule change
// alone: diff and nft write.
func BenchmarkRuleChangeFirewall(b *testing.B) {
	for _, n := range benchSizes(10, 10000) {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			c, hn := benchHost(b, n)
			fw := c.drivers["a"].fw
			base := hn.SecurityGroups[0].Rules
			ctx := context.Background()
			nft0 := fw.nftTime
			i := 0
			defer func() { b.ReportMetric(float64((fw.nftTime-nft0).Microseconds())/1000/float64(max(i, 1)), "nft-ms/op") }()
			defer reportCPU(b, cpuTime(), &i)
			for b.Loop() {
				i++
				rules := append([]hostapi.SecurityGroupRule(nil), base...)
				if i%2 == 1 {
					rules = append(rules, hostapi.SecurityGroupRule{ID: "x", Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: intp(22), PortMax: intp(22)})
				}
				hn.SecurityGroups = []hostapi.SecurityGroup{{ID: sgID, Rules: rules, Members: hn.SecurityGroups[0].Members}}
				want, _ := fw.desired(&hn, nil)
				if err := fw.sync(ctx, want); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyUnchanged applies the same desired state again: what an
// agent's periodic resync costs.
func BenchmarkApplyUnchanged(b *testing.B) {
	for _, n := range benchSizes(10, 1000) {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			c, hn := benchHost(b, n)
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.drivers["a"].Apply(ctx, hn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSizes is the port counts to run, or the one in
// ONESTACK_BENCH_PORTS (a 10,000-port setup takes about 25 s).
func benchSizes(sizes ...int) []int {
	if s := os.Getenv("ONESTACK_BENCH_PORTS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return []int{n}
		}
	}
	return sizes
}

// BenchmarkFirewallDiff is the in-process part of a rule change: render
// the desired ruleset from the whole HostNetwork and diff it with the last
// one (no nft).
func BenchmarkFirewallDiff(b *testing.B) {
	for _, n := range benchSizes(10, 10000) {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			hn := benchHN(n, "10.250.0.2")
			fw := newFirewall("")
			fw.applied, _ = fw.desired(&hn, nil)
			base := hn.SecurityGroups[0].Rules
			i := 0
			defer reportCPU(b, cpuTime(), &i)
			for b.Loop() {
				i++
				rules := append([]hostapi.SecurityGroupRule(nil), base...)
				if i%2 == 1 {
					rules = append(rules, hostapi.SecurityGroupRule{ID: "x", Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: intp(22), PortMax: intp(22)})
				}
				hn.SecurityGroups = []hostapi.SecurityGroup{{ID: sgID, Rules: rules, Members: hn.SecurityGroups[0].Members}}
				want, _ := fw.desired(&hn, nil)
				if script := fw.diff(want); script == "" {
					b.Fatal("no change")
				}
				fw.applied = want
			}
		})
	}
}

// cpuTime is this process's CPU time: on a shared machine it measures the
// work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration, n *int) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(max(*n, 1)), "cpu-ms/op")
}
