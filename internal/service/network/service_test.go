package network_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	network "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

const adminProject = "admin-project"

func member(project string) *auth.Credentials {
	return &auth.Credentials{Project: &auth.Ref{ID: project, Name: project}, Roles: []auth.Ref{{Name: auth.RoleMember}, {Name: auth.RoleReader}}}
}

func admin() *auth.Credentials {
	return &auth.Credentials{Project: &auth.Ref{ID: adminProject, Name: "admin"}, Roles: []auth.Ref{{Name: auth.RoleAdmin}, {Name: auth.RoleMember}, {Name: auth.RoleReader}}}
}

func newService(t testing.TB, db *store.DB) *network.Service {
	t.Helper()
	s := network.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), network.Config{})
	if err := s.Bootstrap(context.Background(), adminProject); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second start changes nothing.
	if err := s.Bootstrap(context.Background(), adminProject); err != nil {
		t.Fatal(err)
	}
	return s
}

func registerHost(t testing.TB, db *store.DB, host, ip string) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		now := time.Now()
		_, err := tx.UpsertHost(context.Background(), store.ComputeHost{ID: uuid.NewString(), Host: host, Zone: "nova", Enabled: true,
			HeartbeatAt: now, StatusChangedAt: now, CreatedAt: now, HypervisorType: "fake", HostIP: ip, VCPUs: 8, MemoryMB: 8192, DiskGB: 100, CPUInfo: "{}"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tenantNet(t testing.TB, s *network.Service, c *auth.Credentials, name, cidr string) (network.NetworkView, store.Subnet) {
	t.Helper()
	ctx := context.Background()
	n, err := s.CreateNetwork(ctx, c, network.NetworkInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.CreateSubnet(ctx, c, network.SubnetInput{NetworkID: n.ID, CIDR: &cidr, NoGatewayGiven: true})
	if err != nil {
		t.Fatal(err)
	}
	return n, sn
}

func serverPorts(t testing.TB, db *store.DB, s *network.Service, c *auth.Credentials, server string, reqs []network.PortRequest, auto bool) ([]hostapi.NIC, error) {
	t.Helper()
	var nics []hostapi.NIC
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		nics, err = s.ServerPortsTx(context.Background(), tx, c, server, "nova", reqs, auto)
		return err
	})
	return nics, err
}

func TestServerPortsAndHostNetwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		registerHost(t, db, "host-1", "10.0.0.1")
		registerHost(t, db, "host-2", "10.0.0.2")
		alice := member("shop")
		n, sn := tenantNet(t, s, alice, "web", "10.10.0.0/24")
		_, sn2 := tenantNet(t, s, alice, "db", "10.20.0.0/24")

		// Two NICs, in order; the second at a chosen address.
		nics, err := serverPorts(t, db, s, alice, "vm-1", []network.PortRequest{{NetworkID: n.ID}, {NetworkID: sn2.NetworkID, FixedIP: "10.20.0.77"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(nics) != 2 || nics[0].NetworkID != n.ID || nics[1].IPs[0].IP != "10.20.0.77" || nics[0].MTU != 1450 ||
			nics[0].Device != hostapi.TapName(nics[0].PortID) || len(nics[0].Subnets) != 1 || nics[0].Subnets[0].GatewayIP != "10.10.0.1" {
			t.Fatalf("nics: %+v", nics)
		}
		// A failing request names itself and leaves nothing.
		before, _ := s.ListPorts(ctx, admin(), network.PortFilter{})
		_, err = serverPorts(t, db, s, alice, "vm-x", []network.PortRequest{{NetworkID: n.ID}, {NetworkID: sn2.NetworkID, FixedIP: "10.20.0.77"}}, false)
		var oe *oserr.Error
		if !errors.As(err, &oe) || oe.Type != "IpAddressInUse" || !strings.Contains(oe.Message, "NIC 2") {
			t.Errorf("failing request: %v", err)
		}
		after, _ := s.ListPorts(ctx, admin(), network.PortFilter{})
		if len(after) != len(before) {
			t.Errorf("a failed request left ports: %d -> %d", len(before), len(after))
		}
		// An existing port passed by the user is claimed and kept on delete.
		own, err := s.CreatePort(ctx, alice, network.PortInput{NetworkID: n.ID})
		if err != nil {
			t.Fatal(err)
		}
		nics2, err := serverPorts(t, db, s, alice, "vm-2", []network.PortRequest{{PortID: own.ID}}, false)
		if err != nil || nics2[0].PortID != own.ID {
			t.Fatalf("claim port: %+v %v", nics2, err)
		}
		if _, err := serverPorts(t, db, s, alice, "vm-3", []network.PortRequest{{PortID: own.ID}}, false); !oserr.Is(err, 409) {
			t.Errorf("port claimed twice: %v", err)
		}
		bind := func(server, host string) {
			if err := db.Write(ctx, func(tx *store.Tx) error { return s.BindServerPortsTx(ctx, tx, server, host) }); err != nil {
				t.Fatal(err)
			}
		}
		bind("vm-1", "host-1")
		bind("vm-2", "host-2")

		// A router on web with a floating IP for vm-1's first NIC.
		pub, _ := s.ListNetworks(ctx, alice)
		var pubID string
		for _, x := range pub {
			if x.Name == "public" {
				pubID = x.ID
			}
		}
		r, err := s.CreateRouter(ctx, alice, network.RouterInput{Gateway: &network.GatewayInput{NetworkID: pubID}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Host != "host-1" {
			t.Errorf("router placed on %q, want host-1 (fewest routers, then name)", r.Host)
		}
		if _, err := s.AddRouterInterface(ctx, alice, r.ID, sn.ID, ""); err != nil {
			t.Fatal(err)
		}
		fixed := nics[0].PortID
		fip, err := s.CreateFloatingIP(ctx, alice, network.FloatingIPInput{FloatingNetworkID: pubID, PortID: &fixed})
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := s.CreateRouter(ctx, alice, network.RouterInput{})
		if r2.Host != "host-2" {
			t.Errorf("second router on %q, want host-2", r2.Host)
		}

		hn, err := s.HostNetwork(ctx, "host-1")
		if err != nil {
			t.Fatal(err)
		}
		if hn.TunnelIP != "10.0.0.1" || len(hn.Ports) != 2 || len(hn.Routers) != 1 || hn.Revision == 0 {
			t.Fatalf("host-1: %+v", hn)
		}
		var web *hostapi.Network
		for i := range hn.Networks {
			if hn.Networks[i].ID == n.ID {
				web = &hn.Networks[i]
			}
		}
		if web == nil || web.Type != "vxlan" || web.SegmentID == 0 || web.DHCP == nil || len(web.Subnets) != 1 ||
			len(web.Remote) != 1 || web.Remote[0].TunnelIP != "10.0.0.2" || !slices.Equal(web.Peers, []string{"10.0.0.2"}) {
			t.Errorf("web as host-1 sees it: %+v", web)
		}
		if len(hn.Networks) != 3 { // web, db, public (the router's gateway)
			t.Errorf("host-1 networks: %d", len(hn.Networks))
		}
		hr := hn.Routers[0]
		if hr.Gateway == nil || len(hr.Interfaces) != 1 || hr.Interfaces[0].FixedIPs[0].IP != "10.10.0.1" || !hr.EnableSNAT ||
			len(hr.FloatingIPs) != 1 || hr.FloatingIPs[0].FloatingIP != fip.FloatingIP || hr.FloatingIPs[0].FixedIP != nics[0].IPs[0].IP {
			t.Errorf("router: %+v", hr)
		}
		if len(hn.SecurityGroups) != 1 || len(hn.SecurityGroups[0].Rules) != 4 || len(hn.SecurityGroups[0].Members) != 3 {
			t.Errorf("security groups: %+v", hn.SecurityGroups)
		}

		// Addresses for Nova: fixed, then the floating IP after its fixed one.
		addrs, err := s.ServerAddresses(ctx, []string{"vm-1", "vm-2"})
		if err != nil {
			t.Fatal(err)
		}
		a1 := addrs["vm-1"]
		if len(a1) != 3 || a1[0].NetworkName != "web" || a1[1].Type != "floating" || a1[1].IP != fip.FloatingIP || a1[2].IP != "10.20.0.77" {
			t.Errorf("vm-1 addresses: %+v", a1)
		}

		// The agent reports: ports go ACTIVE.
		if err := s.ReportNetwork(ctx, hostapi.NetworkReport{Host: "host-1", Up: []string{nics[0].PortID}, Failed: map[string]string{nics[1].PortID: "no bridge"}}); err != nil {
			t.Fatal(err)
		}
		p0, _ := s.GetPort(ctx, alice, nics[0].PortID)
		p1, _ := s.GetPort(ctx, alice, nics[1].PortID)
		if p0.Status != "ACTIVE" || p1.VIFType != "binding_failed" || p1.StatusReason != "no bridge" {
			t.Errorf("after report: %s / %s %s", p0.Status, p1.VIFType, p1.StatusReason)
		}
		// The same report again (an agent reports every port after each
		// apply) changes nothing, so it must not move the revision: that
		// would wake every host's watch, the reporting agent's too, in a
		// loop.
		prev, _ := s.HostNetwork(ctx, "host-1")
		if err := s.ReportNetwork(ctx, hostapi.NetworkReport{Host: "host-1", Up: []string{nics[0].PortID}, Failed: map[string]string{nics[1].PortID: "no bridge"}}); err != nil {
			t.Fatal(err)
		}
		if after, _ := s.HostNetwork(ctx, "host-1"); after.Revision != prev.Revision {
			t.Errorf("a report that changes nothing moved the network revision from %d to %d", prev.Revision, after.Revision)
		}

		// Watch: blocks at the current revision, wakes on a change.
		got := make(chan int64, 1)
		go func() {
			hn, _ := s.WatchNetworkWait(ctx, "host-1", hn.Revision+10, 5*time.Second)
			got <- hn.Revision
		}()
		cur, _ := s.HostNetwork(ctx, "host-1")
		go func() {
			hn, _ := s.WatchNetworkWait(ctx, "host-1", cur.Revision, 5*time.Second)
			got <- hn.Revision
		}()
		time.Sleep(50 * time.Millisecond)
		if _, err := s.CreatePort(ctx, alice, network.PortInput{NetworkID: n.ID}); err != nil {
			t.Fatal(err)
		}
		select {
		case rev := <-got:
			if rev <= cur.Revision {
				t.Errorf("watch woke with revision %d, had %d", rev, cur.Revision)
			}
		case <-time.After(3 * time.Second):
			t.Error("watch did not wake on a change")
		}

		// Release: vm-1's ports go, its floating IP is disassociated; vm-2's
		// user port stays, unbound.
		if err := db.Write(ctx, func(tx *store.Tx) error {
			if err := s.ReleaseServerPortsTx(ctx, tx, "vm-1"); err != nil {
				return err
			}
			return s.ReleaseServerPortsTx(ctx, tx, "vm-2")
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetPort(ctx, alice, nics[0].PortID); !oserr.Is(err, 404) {
			t.Errorf("vm-1's port after release: %v", err)
		}
		kept, err := s.GetPort(ctx, alice, own.ID)
		if err != nil || kept.DeviceID != "" || kept.HostID != "" || kept.VIFType != "unbound" {
			t.Errorf("user port after release: %+v %v", kept, err)
		}
		f, _ := s.GetFloatingIP(ctx, alice, fip.ID)
		if f.PortID != "" || f.Status != "DOWN" {
			t.Errorf("floating ip after release: %+v", f)
		}
	})
}

func TestAutoAllocatedNetwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		bob := member("rival")
		nics, err := serverPorts(t, db, s, bob, "vm-a", nil, true)
		if err != nil || len(nics) != 1 {
			t.Fatalf("auto: %+v %v", nics, err)
		}
		ns, _ := s.ListNetworks(ctx, bob)
		var auto []network.NetworkView
		for _, n := range ns {
			if n.Name == network.AutoNetworkName {
				auto = append(auto, n)
			}
		}
		if len(auto) != 1 || nics[0].NetworkID != auto[0].ID || !strings.HasPrefix(nics[0].IPs[0].IP, "10.0.0.") {
			t.Fatalf("auto network: %+v, nic %+v", auto, nics[0])
		}
		rs, _ := s.ListRouters(ctx, bob)
		if len(rs) != 1 || rs[0].Gateway == nil {
			t.Errorf("auto router: %+v", rs)
		}
		// Again: the same network.
		nics2, err := serverPorts(t, db, s, bob, "vm-b", nil, true)
		if err != nil || nics2[0].NetworkID != auto[0].ID {
			t.Errorf("second auto: %+v %v", nics2, err)
		}
		// A project with one network of its own uses it.
		carol := member("carol")
		own, _ := tenantNet(t, s, carol, "mine", "10.7.0.0/24")
		nics3, err := serverPorts(t, db, s, carol, "vm-c", nil, true)
		if err != nil || nics3[0].NetworkID != own.ID {
			t.Errorf("auto with one own network: %+v %v", nics3, err)
		}
	})
}

func TestVNIsUnique(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		seen := map[int]bool{}
		for i := 0; i < 20; i++ {
			n, err := s.CreateNetwork(ctx, member("p"), network.NetworkInput{})
			if err != nil {
				t.Fatal(err)
			}
			if n.SegmentationID < 1 || n.SegmentationID > network.MaxVNI || seen[n.SegmentationID] {
				t.Fatalf("VNI %d", n.SegmentationID)
			}
			seen[n.SegmentationID] = true
		}
		top := network.MaxVNI
		typ := "vxlan"
		if _, err := s.CreateNetwork(ctx, admin(), network.NetworkInput{NetworkType: &typ, SegmentationID: &top}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateNetwork(ctx, admin(), network.NetworkInput{NetworkType: &typ, SegmentationID: &top}); !oserr.Is(err, 409) {
			t.Errorf("same VNI twice: %v", err)
		}
		// With the top VNI taken, new networks still find a free one.
		n, err := s.CreateNetwork(ctx, member("p"), network.NetworkInput{})
		if err != nil || seen[n.SegmentationID] || n.SegmentationID == top {
			t.Errorf("after the top: %d %v", n.SegmentationID, err)
		}
	})
}

// BenchmarkHostNetwork measures one host's desired data plane in a cloud
// of 10 hosts, 20 networks and 2,000 ports.
func BenchmarkHostNetwork(b *testing.B) {
	ctx := context.Background()
	db := storetest.New(b)
	s := newService(b, db)
	for h := 1; h <= 10; h++ {
		registerHost(b, db, fmt.Sprintf("host-%d", h), fmt.Sprintf("10.0.0.%d", h))
	}
	c := member("bench")
	if err := s.SetQuotas(ctx, "bench", map[string]int{"port": -1}); err != nil {
		b.Fatal(err)
	}
	var nets []string
	for i := 0; i < 20; i++ {
		n, _ := tenantNet(b, s, c, fmt.Sprintf("n%d", i), fmt.Sprintf("10.%d.0.0/20", 100+i))
		nets = append(nets, n.ID)
	}
	for i := 0; i < 2000; i++ {
		server := fmt.Sprintf("vm-%d", i)
		if _, err := serverPorts(b, db, s, c, server, []network.PortRequest{{NetworkID: nets[i%20]}}, false); err != nil {
			b.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return s.BindServerPortsTx(ctx, tx, server, fmt.Sprintf("host-%d", 1+i%10)) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		hn, err := s.HostNetwork(ctx, "host-3")
		if err != nil || len(hn.Ports) != 200 {
			b.Fatalf("%d ports, %v", len(hn.Ports), err)
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n)/1000, "ms/host-network")
}

// BenchmarkPortCreate measures creating one port (MAC, address, default
// group) through the service.
func BenchmarkPortCreate(b *testing.B) {
	ctx := context.Background()
	db := storetest.New(b)
	s := newService(b, db)
	c := member("bench")
	if err := s.SetQuotas(ctx, "bench", map[string]int{"port": -1}); err != nil {
		b.Fatal(err)
	}
	n, _ := tenantNet(b, s, c, "n", "10.64.0.0/16")
	b.ResetTimer()
	start := time.Now()
	count := 0
	for b.Loop() {
		if _, err := s.CreatePort(ctx, c, network.PortInput{NetworkID: n.ID}); err != nil {
			b.Fatal(err)
		}
		count++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(count)/1000, "ms/port")
}

// TestRouterPlacedLater: a router made before any host registered is
// placed when the first host asks for its network, with its ports.
func TestRouterPlacedLater(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		alice := member("shop")
		_, sn := tenantNet(t, s, alice, "web", "10.10.0.0/24")
		r, err := s.CreateRouter(ctx, alice, network.RouterInput{})
		if err != nil || r.Host != "" {
			t.Fatalf("router without hosts: %+v %v", r, err)
		}
		info, err := s.AddRouterInterface(ctx, alice, r.ID, sn.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		// No host yet: asking does not move the revision.
		h0, _ := s.HostNetwork(ctx, "host-9")
		h1, _ := s.HostNetwork(ctx, "host-9")
		if h1.Revision != h0.Revision {
			t.Errorf("revision moved without a host: %d -> %d", h0.Revision, h1.Revision)
		}
		registerHost(t, db, "host-1", "10.0.0.1")
		hn, err := s.HostNetwork(ctx, "host-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(hn.Routers) != 1 || len(hn.Routers[0].Interfaces) != 1 {
			t.Fatalf("host-1 routers: %+v", hn.Routers)
		}
		p, _ := s.GetPort(ctx, admin(), info.PortID)
		if p.HostID != "host-1" || p.Status != "ACTIVE" {
			t.Errorf("interface port after placement: %s %s", p.HostID, p.Status)
		}
	})
}

// BenchmarkHostNetwork10k measures one host's desired data plane in a
// cloud of 100 hosts, 100 networks and 10,000 ports (each host has about
// 100 ports spread over its networks).
func BenchmarkHostNetwork10k(b *testing.B) {
	ctx := context.Background()
	db := storetest.New(b)
	s := newService(b, db)
	for h := 0; h < 100; h++ {
		registerHost(b, db, fmt.Sprintf("h%d", h), fmt.Sprintf("10.1.%d.%d", h/250, 1+h%250))
	}
	c := member("bench")
	if err := s.SetQuotas(ctx, "bench", map[string]int{"port": -1, "network": -1, "subnet": -1}); err != nil {
		b.Fatal(err)
	}
	var nets []string
	for i := 0; i < 100; i++ {
		n, _ := tenantNet(b, s, c, fmt.Sprintf("n%d", i), fmt.Sprintf("10.%d.0.0/24", 100+i))
		nets = append(nets, n.ID)
	}
	for i := 0; i < 10000; i++ {
		server := fmt.Sprintf("vm-%d", i)
		if _, err := serverPorts(b, db, s, c, server, []network.PortRequest{{NetworkID: nets[i%100]}}, false); err != nil {
			b.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return s.BindServerPortsTx(ctx, tx, server, fmt.Sprintf("h%d", (i/7)%100)) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		hn, err := s.HostNetwork(ctx, "h3")
		if err != nil || len(hn.Ports) != 105 { // servers 7k..7k+6 for k ≡ 3 (mod 100)
			b.Fatalf("%d ports, %v", len(hn.Ports), err)
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n)/1000, "ms/host-network")
}
