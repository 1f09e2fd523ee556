package linux

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// ensureBridge returns bridge name in h, created (up, STP off) if missing,
// with the given MTU.
func ensureBridge(h *netlink.Handle, name string, mtu int) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("find bridge %s: %w", name, err)
	}
	if err == nil && l.Type() != "bridge" {
		if err := h.LinkDel(l); err != nil {
			return nil, fmt.Errorf("replace %s (a %s, not a bridge): %w", name, l.Type(), err)
		}
		l = nil
	}
	if l == nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
		if err := h.LinkAdd(br); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("find bridge %s: %w", name, err)
		}
		h.LinkSetAlias(l, ownerAlias)
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return nil, fmt.Errorf("set mtu of %s: %w", name, err)
		}
	}
	if err := ensureUp(h, l); err != nil {
		return nil, err
	}
	return l, nil
}

// ensureVXLAN returns the VXLAN device name (VNI vni, local endpoint local,
// port 4789, no learning, no multicast group) enslaved to br.
func ensureVXLAN(h *netlink.Handle, name string, vni int, local net.IP, underlay netlink.Link, br netlink.Link, mtu int) error {
	l, err := h.LinkByName(name)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err == nil {
		v, ok := l.(*netlink.Vxlan)
		if !ok || v.VxlanId != vni || !v.SrcAddr.Equal(local) || v.Learning || v.Port != 4789 {
			if err := h.LinkDel(l); err != nil {
				return fmt.Errorf("replace %s: %w", name, err)
			}
			err = netlink.LinkNotFoundError{}
		}
	}
	if err != nil {
		v := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}, VxlanId: vni, SrcAddr: local, Port: 4789, Learning: false}
		if underlay != nil {
			v.VtepDevIndex = underlay.Attrs().Index
		}
		if err := h.LinkAdd(v); err != nil {
			return fmt.Errorf("create %s (VNI %d, local %s): %w", name, vni, local, err)
		}
		if l, err := h.LinkByName(name); err == nil {
			h.LinkSetAlias(l, ownerAlias)
		}
	}
	return ensurePort(h, name, br, mtu)
}

// ensureAddrs makes l's IPv4 addresses exactly want (CIDR strings).
func ensureAddrs(h *netlink.Handle, l netlink.Link, want []string) error {
	have, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	haveSet := map[string]bool{}
	for _, a := range have {
		s := a.IPNet.String()
		haveSet[s] = true
		if !wantSet[s] {
			if err := h.AddrDel(l, &a); err != nil {
				return fmt.Errorf("remove %s from %s: %w", s, l.Attrs().Name, err)
			}
		}
	}
	for _, w := range want {
		if haveSet[w] {
			continue
		}
		a, err := netlink.ParseAddr(w)
		if err != nil {
			return err
		}
		if err := h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("add %s to %s: %w", w, l.Attrs().Name, err)
		}
	}
	return nil
}

// ensureVethNS creates the veth pair host (in h, into br) <-> inner (in
// namespace ns, with MAC mac) unless host exists with its peer in place.
func ensureVethNS(h *netlink.Handle, host string, inH *netlink.Handle, ns, inner string, mac net.HardwareAddr, br netlink.Link, mtu int) (netlink.Link, error) {
	_, herr := h.LinkByName(host)
	in, ierr := inH.LinkByName(inner)
	if herr != nil || ierr != nil {
		if herr == nil {
			if l, err := h.LinkByName(host); err == nil {
				_ = h.LinkDel(l)
			}
		}
		if ierr == nil {
			_ = inH.LinkDel(in)
		}
		fd, err := nsFd(ns)
		if err != nil {
			return nil, err
		}
		defer fd.Close()
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MTU: mtu}, PeerName: inner, PeerNamespace: netlink.NsFd(int(fd)), PeerHardwareAddr: mac}
		if err := h.LinkAdd(v); err != nil {
			return nil, fmt.Errorf("create veth %s/%s: %w", host, inner, err)
		}
		if l, err := h.LinkByName(host); err == nil {
			h.LinkSetAlias(l, ownerAlias)
		}
		if in, err = inH.LinkByName(inner); err != nil {
			return nil, fmt.Errorf("find %s in %s: %w", inner, ns, err)
		}
	}
	if err := ensurePort(h, host, br, mtu); err != nil {
		return nil, err
	}
	if mac != nil && in.Attrs().HardwareAddr.String() != mac.String() {
		if err := inH.LinkSetHardwareAddr(in, mac); err != nil {
			return nil, fmt.Errorf("set mac of %s: %w", inner, err)
		}
	}
	if in.Attrs().MTU != mtu {
		if err := inH.LinkSetMTU(in, mtu); err != nil {
			return nil, fmt.Errorf("set mtu of %s: %w", inner, err)
		}
	}
	if err := ensureUp(inH, in); err != nil {
		return nil, err
	}
	return inH.LinkByName(inner)
}

// fdbEntry is one static VXLAN forwarding entry: frames to mac go to the
// tunnel endpoint dst (mac 00:00:00:00:00:00 = broadcast/unknown).
type fdbEntry struct{ mac, dst string }

// ensureFDB makes the VXLAN device's permanent entries exactly want.
func ensureFDB(h *netlink.Handle, vx netlink.Link, want []fdbEntry) error {
	have, err := h.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("list fdb of %s: %w", vx.Attrs().Name, err)
	}
	wantSet := map[fdbEntry]bool{}
	for _, e := range want {
		wantSet[e] = true
	}
	haveSet := map[fdbEntry]bool{}
	for _, n := range have {
		if n.IP == nil || n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		e := fdbEntry{mac: n.HardwareAddr.String(), dst: n.IP.String()}
		haveSet[e] = true
		if !wantSet[e] {
			if err := h.NeighDel(&n); err != nil {
				return fmt.Errorf("remove fdb %s -> %s on %s: %w", e.mac, e.dst, vx.Attrs().Name, err)
			}
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].mac+want[i].dst < want[j].mac+want[j].dst })
	for _, e := range want {
		if haveSet[e] {
			continue
		}
		mac, err := net.ParseMAC(e.mac)
		if err != nil {
			return err
		}
		n := &netlink.Neigh{
			LinkIndex:    vx.Attrs().Index,
			Family:       unix.AF_BRIDGE,
			State:        netlink.NUD_PERMANENT,
			Flags:        netlink.NTF_SELF,
			IP:           net.ParseIP(e.dst),
			HardwareAddr: mac,
		}
		if err := h.NeighAppend(n); err != nil {
			return fmt.Errorf("add fdb %s -> %s on %s: %w", e.mac, e.dst, vx.Attrs().Name, err)
		}
	}
	return nil
}

// ownerAlias marks the links the driver made (ip link shows it as
// "alias onestack"): in the root namespace only those are ever removed.
const ownerAlias = "onestack"

// ownedLink reports whether a host-namespace link name is one the driver
// makes (and may remove when nothing wants it).
func ownedLink(name string) bool {
	for _, p := range []string{"brq", "vxlan-", "tap"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// rtextFilterSkipStats asks the kernel to leave statistics out of a link
// dump (RTEXT_FILTER_SKIP_STATS); older kernels ignore it.
const rtextFilterSkipStats = 1 << 3

// listLinks dumps the links of namespace ns with only what Apply looks
// at (name, index, MTU, master, up): on a host with thousands of taps the
// full dump's parsing was most of an unchanged Apply.
func listLinks(ns string) (map[string]netlink.Link, error) {
	var msgs [][]byte
	err := inNS(ns, func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(nl.RTEXT_FILTER_VF|rtextFilterSkipStats)))
		var err error
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	links := make(map[string]netlink.Link, len(msgs))
	for _, m := range msgs {
		ifi := nl.DeserializeIfInfomsg(m)
		attrs, err := nl.ParseRouteAttr(m[ifi.Len():])
		if err != nil {
			continue
		}
		a := netlink.LinkAttrs{Index: int(ifi.Index)}
		if ifi.Flags&unix.IFF_UP != 0 {
			a.Flags |= net.FlagUp
		}
		for _, at := range attrs {
			switch at.Attr.Type {
			case unix.IFLA_IFNAME:
				a.Name = strings.TrimRight(string(at.Value), "\x00")
			case unix.IFLA_MTU:
				a.MTU = int(native.Uint32(at.Value))
			case unix.IFLA_MASTER:
				a.MasterIndex = int(native.Uint32(at.Value))
			case unix.IFLA_IFALIAS:
				a.Alias = strings.TrimRight(string(at.Value), "\x00")
			}
		}
		if a.Name != "" {
			links[a.Name] = &netlink.Device{LinkAttrs: a}
		}
	}
	return links, nil
}

var native = nl.NativeEndian()
