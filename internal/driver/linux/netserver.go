package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
)

// MetadataIP is the metadata service's address, held by each network's
// DHCP namespace.
const MetadataIP = "169.254.169.254"

const leaseTime = 86400 * time.Second

// netView is what a network's DHCP and metadata servers answer from:
// this host's ports on the network. Apply swaps it atomically.
type netView struct {
	network hostapi.Network
	subnets map[string]hostapi.Subnet
	byMAC   map[string]hostapi.Port
	byIP    map[string]hostapi.Port
}

// netServer is a network's DHCP and metadata service in its namespace.
type netServer struct {
	ns      string
	ifindex int
	view    atomic.Pointer[netView]
	dhcp    *server4.Server
	http    *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func (s *netServer) stop() {
	s.cancel()
	if s.dhcp != nil {
		s.dhcp.Close()
	}
	if s.http != nil {
		s.http.Close()
	}
	s.wg.Wait()
}

func (d *Driver) applyDHCP(ctx context.Context, n *hostapi.Network, ports []*hostapi.Port, br netlink.Link, wantLinks, wantNS map[string]bool) error {
	ns := d.childNS("dhcp", n.ID)
	wantNS[ns] = true
	if _, err := ensureNS(ns); err != nil {
		return err
	}
	inH, err := handleAt(ns)
	if err != nil {
		return err
	}
	defer inH.Close()
	mac, err := net.ParseMAC(n.DHCP.MAC)
	if err != nil {
		return fmt.Errorf("dhcp port %s has MAC %q: %w", n.DHCP.ID, n.DHCP.MAC, err)
	}
	host := hostapi.TapName(n.DHCP.ID)
	inner := "ns-" + short11(n.DHCP.ID)
	wantLinks[host] = true
	mtu := netMTU(n)
	in, err := ensureVethNS(d.h, host, inH, ns, inner, mac, br, mtu)
	if err != nil {
		return err
	}
	subnets := map[string]hostapi.Subnet{}
	for _, s := range n.Subnets {
		subnets[s.ID] = s
	}
	addrs := []string{MetadataIP + "/32"}
	for _, f := range n.DHCP.FixedIPs {
		s, ok := subnets[f.SubnetID]
		if !ok {
			continue
		}
		pfx, err := netip.ParsePrefix(s.CIDR)
		a, aerr := netip.ParseAddr(f.IP)
		if err != nil || aerr != nil || !a.Is4() {
			continue
		}
		addrs = append(addrs, fmt.Sprintf("%s/%d", a, pfx.Bits()))
	}
	if err := ensureAddrs(inH, in, addrs); err != nil {
		return err
	}

	v := &netView{network: *n, subnets: subnets, byMAC: make(map[string]hostapi.Port, len(ports)), byIP: make(map[string]hostapi.Port, len(ports))}
	for _, p := range ports {
		v.byMAC[strings.ToLower(p.MAC)] = *p
		for _, f := range p.FixedIPs {
			v.byIP[f.IP] = *p
		}
	}
	s := d.servers[n.ID]
	if s != nil && (s.ns != ns || s.ifindex != in.Attrs().Index) {
		s.stop()
		delete(d.servers, n.ID)
		s = nil
	}
	if s == nil {
		s, err = d.startServer(ns, inner, in.Attrs().Index, v)
		if err != nil {
			return err
		}
		d.servers[n.ID] = s
	}
	s.view.Store(v)
	return nil
}

// startServer opens the DHCP and metadata sockets inside ns (the servers
// then run in ordinary goroutines: a socket keeps its namespace).
func (d *Driver) startServer(ns, ifname string, ifindex int, v *netView) (*netServer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &netServer{ns: ns, ifindex: ifindex, cancel: cancel}
	s.view.Store(v)
	var udp *net.UDPConn
	var ln net.Listener
	err := inNS(ns, func() error {
		var err error
		udp, err = server4.NewIPv4UDPConn(ifname, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort})
		if err != nil {
			return fmt.Errorf("dhcp socket on %s: %w", ifname, err)
		}
		ln, err = net.Listen("tcp4", net.JoinHostPort(MetadataIP, "80"))
		if err != nil {
			udp.Close()
			return fmt.Errorf("metadata listener: %w", err)
		}
		return nil
	})
	if err != nil {
		cancel()
		return nil, err
	}
	log := d.log.With("netns", ns)
	srv, err := server4.NewServer(ifname, nil, s.handleDHCP, server4.WithConn(udp), server4.WithLogger(dhcpLogger{}))
	if err != nil {
		udp.Close()
		ln.Close()
		cancel()
		return nil, err
	}
	s.dhcp = srv
	s.http = &http.Server{
		Handler:           &metadataHandler{s: s, lookup: d.cfg.Metadata, log: log},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(); err != nil && ctx.Err() == nil {
			log.Warn("dhcp server stopped", "error", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metadata server stopped", "error", err)
		}
	}()
	return s, nil
}

type dhcpLogger struct{}

func (dhcpLogger) Printf(string, ...interface{})       {}
func (dhcpLogger) PrintMessage(string, *dhcpv4.DHCPv4) {}

// handleDHCP answers a client that is one of this host's ports on the
// network, with the address and options Neutron's dnsmasq would give.
func (s *netServer) handleDHCP(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	if m.OpCode != dhcpv4.OpcodeBootRequest {
		return
	}
	resp, ok := s.view.Load().reply(m)
	if !ok {
		return
	}
	if _, err := conn.WriteTo(resp.ToBytes(), peer); err != nil {
		return
	}
}

// reply builds the answer to m, or false if m is not for us.
func (v *netView) reply(m *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, bool) {
	p, ok := v.byMAC[strings.ToLower(m.ClientHWAddr.String())]
	if !ok {
		return nil, false
	}
	var ip net.IP
	var sub hostapi.Subnet
	for _, f := range p.FixedIPs {
		s, ok := v.subnets[f.SubnetID]
		a := net.ParseIP(f.IP).To4()
		if ok && s.EnableDHCP && a != nil {
			ip, sub = a, s
			break
		}
	}
	if ip == nil {
		return nil, false
	}
	var server net.IP
	if v.network.DHCP != nil {
		for _, f := range v.network.DHCP.FixedIPs {
			if f.SubnetID == sub.ID {
				server = net.ParseIP(f.IP).To4()
			}
		}
	}
	if server == nil {
		return nil, false
	}
	_, cidr, err := net.ParseCIDR(sub.CIDR)
	if err != nil {
		return nil, false
	}
	var typ dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		typ = dhcpv4.MessageTypeAck
		want := m.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = m.ClientIPAddr
		}
		if want != nil && !want.IsUnspecified() && !want.Equal(ip) {
			typ = dhcpv4.MessageTypeNak
		}
	case dhcpv4.MessageTypeInform:
		typ = dhcpv4.MessageTypeAck
	default:
		return nil, false
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)),
	}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods, v.options(p, ip, sub, cidr, server)...)
		if m.MessageType() != dhcpv4.MessageTypeInform {
			mods = append(mods, dhcpv4.WithYourIP(ip), dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(leaseTime)))
		}
	}
	resp, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return nil, false
	}
	return resp, true
}

func (v *netView) options(p hostapi.Port, ip net.IP, sub hostapi.Subnet, cidr *net.IPNet, server net.IP) []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(cidr.Mask)),
		dhcpv4.WithOption(dhcpv4.OptHostName("host-" + strings.ReplaceAll(ip.String(), ".", "-"))),
		dhcpv4.WithOption(dhcpv4.Option{Code: dhcpv4.OptionInterfaceMTU, Value: dhcpv4.Uint16(uint16(netMTU(&v.network)))}),
	}
	var dns []net.IP
	for _, s := range sub.DNS {
		if a := net.ParseIP(s).To4(); a != nil {
			dns = append(dns, a)
		}
	}
	if len(dns) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(dns...)))
	}
	routes := []*dhcpv4.Route{{Dest: &net.IPNet{IP: net.ParseIP(MetadataIP).To4(), Mask: net.CIDRMask(32, 32)}, Router: server}}
	for _, r := range sub.HostRoutes {
		_, dst, err := net.ParseCIDR(r.Destination)
		hop := net.ParseIP(r.NextHop).To4()
		if err != nil || hop == nil || dst.IP.To4() == nil {
			continue
		}
		routes = append(routes, &dhcpv4.Route{Dest: dst, Router: hop})
	}
	if gw := net.ParseIP(sub.GatewayIP).To4(); gw != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(gw)))
		routes = append(routes, &dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Router: gw})
	}
	mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(routes...)))
	return mods
}

// metadataHandler serves the metadata of the guest whose address the
// request comes from; anti-spoofing guarantees the address is its own.
type metadataHandler struct {
	s      *netServer
	lookup func(ctx context.Context, serverID string) (metadata.Instance, error)
	log    interface {
		Warn(msg string, args ...any)
	}
}

func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	p, ok := h.s.view.Load().byIP[host]
	if !ok || p.DeviceID == "" || h.lookup == nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	inst, err := h.lookup(ctx, p.DeviceID)
	if err != nil {
		h.log.Warn("metadata lookup failed", "server_id", p.DeviceID, "port_id", p.ID, "error", err)
		http.Error(w, "500 Internal Server Error: the metadata of this server could not be read", http.StatusInternalServerError)
		return
	}
	body, ct, err := metadata.Lookup(inst, r.URL.Path)
	if errors.Is(err, metadata.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log.Warn("metadata render failed", "server_id", p.DeviceID, "error", err)
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(body)
}
