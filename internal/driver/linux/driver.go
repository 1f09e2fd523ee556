package linux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
)

// Config configures a host's data plane driver.
type Config struct {
	// NetNS is the host's namespace: every link, table and socket lives in
	// it or in namespaces it creates. Empty is the current namespace.
	NetNS string
	Host  string
	// TunnelIP is the local VXLAN endpoint (an address on Underlay).
	TunnelIP string
	// Underlay is the underlay link name in NetNS ("ul0").
	Underlay string
	// PhysNets maps a physical network to its link in NetNS ("public" ->
	// the link to the outside world).
	PhysNets map[string]string
	// Metadata returns what server serverID's guest may learn about
	// itself.
	Metadata func(ctx context.Context, serverID string) (metadata.Instance, error)
	Log      *slog.Logger
}

// Driver makes one host's data plane match a hostapi.HostNetwork.
type Driver struct {
	cfg Config
	log *slog.Logger
	h   *netlink.Handle

	mu      sync.Mutex // serialises Apply, Close and Teardown
	fw      *firewall
	servers map[string]*netServer // network id -> DHCP and metadata
	nat     map[string]string     // router namespace -> NAT script applied
	// fdb is what was last written on each VXLAN device (by ifindex): an
	// unchanged list is not dumped again, as a bridge FDB dump lists every
	// port's entries, thousands on a busy host.
	fdb    map[int]string
	closed bool
	// last is the desired state the last full Apply made without failures,
	// with its report and time: a change of security group rules alone
	// (the common change on a busy host) then rewrites only the firewall,
	// at the same cost with 10 or 10,000 ports, instead of checking every
	// link again. A full Apply runs at least every fullEvery.
	last     *hostapi.HostNetwork
	lastRep  hostapi.NetworkReport
	lastFull time.Time
}

// fullEvery bounds how long drift (a link removed behind the driver's
// back) can go unrepaired while only rules change.
const fullEvery = time.Minute

// rulesOnly reports whether hn differs from the last full Apply in its
// security groups (rules and members) and revision only.
func (d *Driver) rulesOnly(hn *hostapi.HostNetwork) bool {
	if d.last == nil || time.Since(d.lastFull) > fullEvery {
		return false
	}
	a, b := *hn, *d.last
	a.SecurityGroups, b.SecurityGroups, a.Revision, b.Revision = nil, nil, 0, 0
	return reflect.DeepEqual(a, b)
}

// New opens the host namespace; it changes nothing until Apply.
func New(cfg Config) (*Driver, error) {
	if cfg.Host == "" {
		return nil, errors.New("linux data plane: host name is empty")
	}
	if cfg.NetNS != "" && !nsExists(cfg.NetNS) {
		return nil, fmt.Errorf("linux data plane: namespace %s does not exist (set up the topology first)", cfg.NetNS)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h, err := handleAt(cfg.NetNS)
	if err != nil {
		return nil, err
	}
	return &Driver{
		cfg:     cfg,
		log:     cfg.Log.With("host", cfg.Host),
		h:       h,
		fw:      newFirewall(cfg.NetNS),
		servers: map[string]*netServer{},
		nat:     map[string]string{},
		fdb:     map[int]string{},
	}, nil
}

// Names of what the driver makes.
func bridgeName(netID string) string { return "brq" + short11(netID) }
func vxlanName(vni int) string       { return fmt.Sprintf("vxlan-%d", vni) }
func short11(id string) string {
	if len(id) > 11 {
		return id[:11]
	}
	return id
}

// childNS names a namespace the driver makes for a network's DHCP port
// ("dhcp") or a router ("router"); they start with the host's namespace
// name so Cleanup of the prefix finds them.
func (d *Driver) childNS(kind, id string) string {
	if d.cfg.NetNS == "" {
		return "q" + kind + "-" + id
	}
	return d.cfg.NetNS + "_" + kind + "-" + id
}

func (d *Driver) childPrefix() string {
	if d.cfg.NetNS == "" {
		return "q"
	}
	return d.cfg.NetNS + "_"
}

func netMTU(n *hostapi.Network) int {
	if n.MTU > 0 {
		return n.MTU
	}
	if n.Type == hostapi.NetworkVXLAN {
		return 1450
	}
	return 1500
}

// Apply makes the host's data plane match hn and reports each guest,
// router and DHCP port Up or Failed. Applying the same hn again changes
// nothing; what the host has and hn does not is removed. The error is for
// what stops the whole host (its namespace is gone, the firewall cannot be
// written); per-port problems are in the report.
func (d *Driver) Apply(ctx context.Context, hn hostapi.HostNetwork) (hostapi.NetworkReport, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rep := hostapi.NetworkReport{Host: d.cfg.Host, Revision: hn.Revision, Failed: map[string]string{}}
	if d.closed {
		return rep, errors.New("linux data plane: driver is closed")
	}
	// Bridged IPv4 must go through the ip family's hooks for conntrack
	// (see firewall.go); this is the host namespace's own setting.
	if err := writeSysctl(d.cfg.NetNS, "net/bridge/bridge-nf-call-iptables", "1"); err != nil {
		return rep, err
	}
	if d.rulesOnly(&hn) {
		want, problems := d.fw.desired(&hn, d.cfg.PhysNets)
		if len(problems) == 0 && want != nil {
			if err := d.fw.sync(ctx, want); err == nil {
				rep := d.lastRep
				rep.Revision = hn.Revision
				d.last = &hn
				return rep, nil
			}
		}
		// Otherwise the full Apply below says what failed.
	}
	d.last = nil
	tunnelIP := hn.TunnelIP
	if tunnelIP == "" {
		tunnelIP = d.cfg.TunnelIP
	}
	wantLinks := map[string]bool{}
	wantNS := map[string]bool{}
	nets := map[string]*hostapi.Network{}
	netErr := map[string]error{}
	guests := map[string][]*hostapi.Port{} // network id -> its guest ports here
	for i := range hn.Ports {
		if p := &hn.Ports[i]; p.Device != "" {
			guests[p.NetworkID] = append(guests[p.NetworkID], p)
		}
	}
	bridges := map[string]string{}
	for i := range hn.Networks {
		n := &hn.Networks[i]
		nets[n.ID] = n
		if other, dup := bridges[bridgeName(n.ID)]; dup {
			// Two networks on one bridge would join two tenants' links.
			netErr[n.ID] = fmt.Errorf("network %s has the same bridge name %s as network %s (network ids must differ in their first 11 characters)", n.ID, bridgeName(n.ID), other)
			continue
		}
		bridges[bridgeName(n.ID)] = n.ID
		if err := d.applyNetwork(ctx, n, tunnelIP, guests[n.ID], wantLinks, wantNS); err != nil {
			netErr[n.ID] = err
			d.log.Warn("network not wired", "network_id", n.ID, "error", err)
		}
	}
	// One dump of the links instead of a lookup per port: an Apply that
	// changes nothing costs little netlink work per port.
	links, err := listLinks(d.cfg.NetNS)
	if err != nil {
		return rep, err
	}
	devices := map[string]string{}
	up := map[string]bool{}
	for _, p := range hn.Ports {
		if p.Device == "" {
			continue
		}
		if other, dup := devices[p.Device]; dup {
			rep.Failed[p.ID] = fmt.Sprintf("port %s: device %s is already port %s's (port ids must differ in their first 11 characters)", p.ID, p.Device, other)
			continue
		}
		devices[p.Device] = p.ID
		wantLinks[p.Device] = true
		n := nets[p.NetworkID]
		switch {
		case n == nil:
			rep.Failed[p.ID] = fmt.Sprintf("port %s: its network %s is not in this host's desired state", p.ID, p.NetworkID)
		case netErr[p.NetworkID] != nil:
			rep.Failed[p.ID] = fmt.Sprintf("port %s: network %s could not be wired on host %s: %v", p.ID, p.NetworkID, d.cfg.Host, netErr[p.NetworkID])
		case p.Namespace != "":
			if err := d.applyNSPort(p, n, wantNS); err != nil {
				rep.Failed[p.ID] = fmt.Sprintf("port %s on host %s: %v", p.ID, d.cfg.Host, err)
			} else if p.AdminUp {
				up[p.ID] = true
			}
		default:
			if err := d.applyPort(p, n, links); err != nil {
				rep.Failed[p.ID] = fmt.Sprintf("port %s on host %s: %v", p.ID, d.cfg.Host, err)
			} else if p.AdminUp {
				up[p.ID] = true
			}
		}
	}
	for _, n := range hn.Networks {
		if n.DHCP != nil && len(guests[n.ID]) > 0 && netErr[n.ID] == nil && hasDHCP(&n) {
			up[n.DHCP.ID] = true
		}
	}
	for i := range hn.Routers {
		r := &hn.Routers[i]
		ports, err := d.applyRouter(ctx, r, nets, wantLinks, wantNS)
		for _, id := range ports {
			if err != nil {
				rep.Failed[id] = fmt.Sprintf("router %s on host %s: %v", r.ID, d.cfg.Host, err)
			} else {
				up[id] = true
			}
		}
		if err != nil {
			d.log.Warn("router not wired", "router_id", r.ID, "error", err)
		}
	}

	want, problems := d.fw.desired(&hn, d.cfg.PhysNets)
	if len(hn.Networks) == 0 && len(hn.Ports) == 0 && len(hn.Routers) == 0 {
		// Nothing wanted: no tables either.
		if err := d.fw.remove(ctx); err != nil {
			return rep, err
		}
		want = nil
	}
	for id, msg := range problems {
		rep.Failed[id] = "security groups not applied: " + msg
		delete(up, id)
	}
	if want == nil {
		// removed above
	} else if err := d.fw.sync(ctx, want); err != nil {
		for _, p := range hn.Ports {
			if p.Device != "" && p.PortSecurity {
				rep.Failed[p.ID] = fmt.Sprintf("port %s: security groups could not be applied on host %s: %v", p.ID, d.cfg.Host, err)
				delete(up, p.ID)
			}
		}
	}

	if err := d.removeStale(ctx, links, wantLinks, wantNS); err != nil {
		d.log.Warn("stale data plane objects left", "error", err)
	}
	for id := range up {
		if _, failed := rep.Failed[id]; !failed {
			rep.Up = append(rep.Up, id)
		}
	}
	sort.Strings(rep.Up)
	if len(rep.Failed) == 0 {
		rep.Failed = nil
		d.last, d.lastRep, d.lastFull = &hn, rep, time.Now()
	}
	return rep, nil
}

func hasDHCP(n *hostapi.Network) bool {
	for _, s := range n.Subnets {
		if s.EnableDHCP && s.IPVersion != 6 {
			return true
		}
	}
	return false
}

func (d *Driver) applyNetwork(ctx context.Context, n *hostapi.Network, tunnelIP string, guests []*hostapi.Port, wantLinks, wantNS map[string]bool) error {
	if n.ID == "" {
		return errors.New("network has no id")
	}
	mtu := netMTU(n)
	brName := bridgeName(n.ID)
	wantLinks[brName] = true
	br, err := ensureBridge(d.h, brName, mtu)
	if err != nil {
		return err
	}
	switch n.Type {
	case hostapi.NetworkVXLAN:
		if n.SegmentID <= 0 || n.SegmentID >= 1<<24 {
			return fmt.Errorf("vxlan network %s has segment id %d, not a VNI in 1..16777215", n.ID, n.SegmentID)
		}
		local := net.ParseIP(tunnelIP).To4()
		if local == nil {
			return fmt.Errorf("host %s has no IPv4 tunnel address (got %q): set the agent's host_ip", d.cfg.Host, tunnelIP)
		}
		var ul netlink.Link
		if d.cfg.Underlay != "" {
			if ul, err = d.h.LinkByName(d.cfg.Underlay); err != nil {
				return fmt.Errorf("underlay link %s: %w", d.cfg.Underlay, err)
			}
		}
		name := vxlanName(n.SegmentID)
		wantLinks[name] = true
		if err := ensureVXLAN(d.h, name, n.SegmentID, local, ul, br, mtu); err != nil {
			return err
		}
		var fdb []fdbEntry
		seen := map[fdbEntry]bool{}
		addFDB := func(e fdbEntry) {
			if !seen[e] {
				seen[e] = true
				fdb = append(fdb, e)
			}
		}
		for _, p := range n.Peers {
			if ip := net.ParseIP(p).To4(); ip != nil && !ip.Equal(local) {
				addFDB(fdbEntry{mac: "00:00:00:00:00:00", dst: ip.String()})
			}
		}
		for _, r := range n.Remote {
			mac, err := net.ParseMAC(r.MAC)
			ip := net.ParseIP(r.TunnelIP).To4()
			if err != nil || ip == nil || ip.Equal(local) || (n.DHCP != nil && strings.EqualFold(r.MAC, n.DHCP.MAC)) {
				continue
			}
			addFDB(fdbEntry{mac: mac.String(), dst: ip.String()})
		}
		vx, err := d.h.LinkByName(name)
		if err != nil {
			return err
		}
		sort.Slice(fdb, func(i, j int) bool { return fdb[i].mac+fdb[i].dst < fdb[j].mac+fdb[j].dst })
		key := fmt.Sprint(fdb)
		if d.fdb[vx.Attrs().Index] != key {
			delete(d.fdb, vx.Attrs().Index)
			if err := ensureFDB(d.h, vx, fdb); err != nil {
				return err
			}
			d.fdb[vx.Attrs().Index] = key
		}
	case hostapi.NetworkFlat:
		link, ok := d.cfg.PhysNets[n.PhysicalNetwork]
		if !ok {
			return fmt.Errorf("physical network %q has no link on host %s (configure the agent's physical networks)", n.PhysicalNetwork, d.cfg.Host)
		}
		wantLinks[link] = true
		if err := ensurePort(d.h, link, br, mtu); err != nil {
			return err
		}
	default:
		return fmt.Errorf("network type %q is not supported (vxlan or flat)", n.Type)
	}
	if n.DHCP != nil && len(guests) > 0 && hasDHCP(n) {
		if err := d.applyDHCP(ctx, n, guests, br, wantLinks, wantNS); err != nil {
			return fmt.Errorf("dhcp: %w", err)
		}
	}
	return nil
}

// applyPort wires a guest port's link: the tap Apply creates, or a link
// that already exists (a veth a test made), into the network's bridge.
func (d *Driver) applyPort(p hostapi.Port, n *hostapi.Network, links map[string]netlink.Link) error {
	mtu := netMTU(n)
	br, ok := links[bridgeName(n.ID)]
	if !ok {
		var err error
		if br, err = d.h.LinkByName(bridgeName(n.ID)); err != nil {
			return fmt.Errorf("bridge of network %s: %w", n.ID, err)
		}
		links[br.Attrs().Name] = br
	}
	if !validDevice(p.Device) {
		return fmt.Errorf("device name %q is not a link name (1-15 of a-z, A-Z, 0-9, '-', '_', '.')", p.Device)
	}
	l, ok := links[p.Device]
	if !ok {
		var err error
		if err := d.createTap(p.Device, mtu); err != nil {
			return err
		}
		if l, err = d.h.LinkByName(p.Device); err != nil {
			return fmt.Errorf("find tap %s: %w", p.Device, err)
		}
	}
	if l.Attrs().MTU != mtu {
		if err := d.h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set mtu %d on %s: %w", mtu, p.Device, err)
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := d.h.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("add %s to bridge %s: %w", p.Device, br.Attrs().Name, err)
		}
	}
	if !p.AdminUp {
		if l.Attrs().Flags&net.FlagUp != 0 {
			return d.h.LinkSetDown(l)
		}
		return nil
	}
	return ensureUp(d.h, l)
}

func (d *Driver) createTap(name string, mtu int) error {
	return inNS(d.cfg.NetNS, func() error {
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE,
		}
		err := netlink.LinkAdd(tap)
		for _, f := range tap.Fds {
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("create tap %s: %w", name, err)
		}
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkSetAlias(l, ownerAlias)
		}
		return nil
	})
}

// OpenTap opens the guest tap name (made by Apply in the host namespace)
// and returns the file QEMU gets with -netdev tap,fd=N. QEMU stays in the
// root namespace: the fd carries the tap with it.
func (d *Driver) OpenTap(name string) (*os.File, error) {
	if _, err := d.h.LinkByName(name); err != nil {
		return nil, fmt.Errorf("tap %s does not exist on host %s (the port is not wired yet): %w", name, d.cfg.Host, err)
	}
	var f *os.File
	err := inNS(d.cfg.NetNS, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:unix.IFNAMSIZ-1], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_ONE_QUEUE
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
			unix.Close(fd)
			return fmt.Errorf("attach to tap %s: %w", name, errno)
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
		return nil
	})
	return f, err
}

// removeStale deletes the links and namespaces the driver made that hn
// no longer wants, and stops their servers.
// links is a dump taken during this pass (nil: take one); links made
// after it are wanted ones.
func (d *Driver) removeStale(ctx context.Context, links map[string]netlink.Link, wantLinks, wantNS map[string]bool) error {
	var errs []error
	if links == nil {
		var err error
		if links, err = listLinks(d.cfg.NetNS); err != nil {
			return err
		}
	}
	for _, l := range links {
		name := l.Attrs().Name
		// In the root namespace, only links this driver made: the host
		// has taps and bridges of its own.
		if ownedLink(name) && !wantLinks[name] && (d.cfg.NetNS != "" || l.Attrs().Alias == ownerAlias) {
			if err := d.h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
			}
		}
	}
	for id, s := range d.servers {
		if !wantNS[s.ns] {
			s.stop()
			delete(d.servers, id)
		}
	}
	for ns := range d.nat {
		if !wantNS[ns] {
			delete(d.nat, ns)
		}
	}
	entries, _ := os.ReadDir(netnsDir)
	pfx := d.childPrefix()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, pfx) || wantNS[n] {
			continue
		}
		rest := strings.TrimPrefix(n, pfx)
		if !strings.HasPrefix(rest, "dhcp-") && !strings.HasPrefix(rest, "router-") && !strings.HasPrefix(rest, "lb-") {
			continue
		}
		if err := deleteNS(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the in-process DHCP and metadata servers and leaves the
// data plane in place: guests keep their network while the agent
// restarts.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	for id, s := range d.servers {
		s.stop()
		delete(d.servers, id)
	}
	d.h.Close()
	return nil
}

// Teardown removes everything the driver made in its namespace: links,
// the firewall, the DHCP and router namespaces. The namespace itself
// (the topology's) stays.
func (d *Driver) Teardown(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("linux data plane: driver is closed")
	}
	defer d.mu.Unlock()
	d.last = nil
	var errs []error
	if err := d.removeStale(ctx, nil, map[string]bool{}, map[string]bool{}); err != nil {
		errs = append(errs, err)
	}
	if err := d.fw.remove(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
