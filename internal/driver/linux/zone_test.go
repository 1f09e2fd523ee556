package linux

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestOverlappingNetworks: two networks with the same addresses on one
// host track connections apart. A UDP flow allowed on the first network
// must not make the same addresses and ports "established" on the second,
// whose group lets nothing in.
func TestOverlappingNetworks(t *testing.T) {
	c := newTestCloud(t, "a")
	mk := func(n int) hostapi.Network {
		return hostapi.Network{ID: fmt.Sprintf("0e%06d-0000-4000-8000-000000000000", n), Type: hostapi.NetworkVXLAN, SegmentID: 3000 + n, MTU: 1450,
			Subnets: []hostapi.Subnet{{ID: fmt.Sprintf("0e000000-0000-4000-8000-0000000000a%d", n), CIDR: "10.0.0.0/24", IPVersion: 4}}}
	}
	n1, n2 := mk(1), mk(2)
	port := func(n hostapi.Network, id, mac, ip, sg string) hostapi.Port {
		return hostapi.Port{ID: id, NetworkID: n.ID, MAC: mac, Device: hostapi.TapName(id), AdminUp: true, PortSecurity: true,
			FixedIPs: []hostapi.FixedIP{{SubnetID: n.Subnets[0].ID, IP: ip}}, SecurityGroups: []string{sg}}
	}
	p1 := port(n1, "01000000-0000-4000-8000-000000000001", "fa:16:3e:01:00:11", "10.0.0.11", "sga")
	p2 := port(n1, "02000000-0000-4000-8000-000000000002", "fa:16:3e:01:00:12", "10.0.0.12", "sga")
	p3 := port(n2, "03000000-0000-4000-8000-000000000003", "fa:16:3e:02:00:11", "10.0.0.11", "sgb")
	p4 := port(n2, "04000000-0000-4000-8000-000000000004", "fa:16:3e:02:00:12", "10.0.0.12", "sgb")
	hn := hostapi.HostNetwork{Host: "a", TunnelIP: c.topo.TunnelIP("a"), Networks: []hostapi.Network{n1, n2}, Ports: []hostapi.Port{p1, p2, p3, p4},
		SecurityGroups: []hostapi.SecurityGroup{
			{ID: "sga", Rules: []hostapi.SecurityGroupRule{{Direction: "egress", EtherType: "IPv4"}, {Direction: "ingress", EtherType: "IPv4", Protocol: "udp", PortMin: intp(6000), PortMax: intp(6000)}}},
			{ID: "sgb", Rules: []hostapi.SecurityGroupRule{{Direction: "egress", EtherType: "IPv4"}}},
		}}
	guests := map[string]*guest{}
	for i, p := range []hostapi.Port{p1, p2, p3, p4} {
		g := c.newGuest(t, "a", fmt.Sprintf("z%d", i+1), p)
		gh, err := handleAt(g.ns)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := gh.LinkByName("eth0")
		a, _ := netlinkParseAddr(p.FixedIPs[0].IP + "/24")
		if err := gh.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		gh.Close()
		guests[p.ID] = g
	}
	if rep := c.apply(t, "a", hn); len(rep.Failed) != 0 {
		t.Fatal(rep.Failed)
	}
	// Network 1: an allowed flow 10.0.0.11:5000 <-> 10.0.0.12:6000, with
	// a reply, so it is established.
	echo := udpListen(t, guests[p2.ID].ns, true)
	_ = echo
	if !udpExchange(t, guests[p1.ID].ns, true) {
		rs, _ := nftOutput(context.Background(), c.topo.HostNS("a"), "list", "ruleset")
		out, _ := exec.Command("ip", "-n", guests[p1.ID].ns, "neigh").CombinedOutput()
		out2, _ := exec.Command("ip", "-n", guests[p1.ID].ns, "addr").CombinedOutput()
		t.Fatalf("network 1: the allowed UDP flow got no reply; ruleset:\n%s\n%s\n%s", rs, out, out2)
	}
	// Network 2: the same addresses and ports, no ingress rule: dropped.
	got := udpListen(t, guests[p4.ID].ns, false)
	udpExchange(t, guests[p3.ID].ns, false)
	select {
	case <-got:
		t.Error("network 2 let in a packet matching network 1's connection: conntrack is shared")
	case <-time.After(500 * time.Millisecond):
	}
}

// udpListen receives on :6000 in ns (echoing back if echo) and signals
// each datagram.
func udpListen(t *testing.T, ns string, echo bool) <-chan struct{} {
	t.Helper()
	var conn *net.UDPConn
	if err := inNS(ns, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 6000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan struct{}, 16)
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			got <- struct{}{}
			if echo {
				conn.WriteToUDP(buf[:n], from)
			}
		}
	}()
	return got
}

// udpExchange sends from 10.0.0.11:5000 in ns to 10.0.0.12:6000 and, if
// wantReply, waits for the echo.
func udpExchange(t *testing.T, ns string, wantReply bool) bool {
	t.Helper()
	var conn *net.UDPConn
	if err := inNS(ns, func() error {
		var err error
		conn, err = net.DialUDP("udp4", &net.UDPAddr{Port: 5000}, &net.UDPAddr{IP: net.ParseIP("10.0.0.12"), Port: 6000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 5; i++ {
		conn.Write([]byte("ping"))
		if !wantReply {
			continue
		}
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 64)
		if _, err := conn.Read(buf); err == nil {
			return true
		}
	}
	return false
}
