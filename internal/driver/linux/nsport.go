package linux

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onestack/onestack/internal/hostapi"
)

// NSPortName is the link inside a port's namespace (hostapi.Port.Namespace).
func NSPortName(portID string) string { return "o-" + short11(portID) }

// PortNamespace is the namespace a port with Namespace ns is wired into on
// this host: where a load balancer's processes run.
func (d *Driver) PortNamespace(ns string) string { return d.childPrefix() + ns }

// applyNSPort wires a port whose other end lives in a namespace of its own
// (a load balancer's VIP): the veth p.Device on the network's bridge, its
// peer NSPortName(p.ID) in the namespace with the port's MAC and addresses,
// and a default route via the first subnet's gateway, so replies reach
// clients behind the router (floating IPs). Several ports may share a
// namespace (a load balancer's ports on member networks): those with
// NoDefaultRoute only bring their subnets' connected routes. The firewall treats p.Device as
// any guest port: port security and security groups apply on the bridge.
func (d *Driver) applyNSPort(p hostapi.Port, n *hostapi.Network, wantNS map[string]bool) error {
	if !validDevice(p.Device) {
		return fmt.Errorf("device name %q is not a link name (1-15 of a-z, A-Z, 0-9, '-', '_', '.')", p.Device)
	}
	if p.Namespace == "" || len(p.Namespace) > 64 || !validWord(p.Namespace) {
		return fmt.Errorf("namespace %q is not a namespace name", p.Namespace)
	}
	ns := d.PortNamespace(p.Namespace)
	wantNS[ns] = true
	if _, err := ensureNS(ns); err != nil {
		return err
	}
	nh, err := handleAt(ns)
	if err != nil {
		return err
	}
	defer nh.Close()
	br, err := d.h.LinkByName(bridgeName(n.ID))
	if err != nil {
		return fmt.Errorf("bridge of network %s: %w", n.ID, err)
	}
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return fmt.Errorf("MAC %q: %w", p.MAC, err)
	}
	l, err := ensureVethNS(d.h, p.Device, nh, ns, NSPortName(p.ID), mac, br, netMTU(n))
	if err != nil {
		return err
	}
	if lo, err := nh.LinkByName("lo"); err == nil {
		if err := ensureUp(nh, lo); err != nil {
			return err
		}
	}
	var addrs []string
	var gw string
	for _, f := range p.FixedIPs {
		if a := addrWithPrefix(n, f); a != "" {
			addrs = append(addrs, a)
		}
		for _, s := range n.Subnets {
			if s.ID == f.SubnetID && s.GatewayIP != "" && gw == "" && net.ParseIP(s.GatewayIP).To4() != nil {
				gw = s.GatewayIP
			}
		}
	}
	if err := ensureAddrs(nh, l, addrs); err != nil {
		return err
	}
	if !p.AdminUp {
		if hl, err := d.h.LinkByName(p.Device); err == nil && hl.Attrs().Flags&net.FlagUp != 0 {
			return d.h.LinkSetDown(hl)
		}
		return nil
	}
	if p.NoDefaultRoute {
		return nil // another port of the namespace owns the default route
	}
	return nsDefaultRoute(nh, l, gw)
}

// nsDefaultRoute makes the namespace's default route exactly "via gw" (none
// when gw is empty).
func nsDefaultRoute(h *netlink.Handle, l netlink.Link, gw string) error {
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			continue
		}
		if r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		if gw != "" && r.Gw != nil && r.Gw.String() == gw {
			return nil
		}
		if err := h.RouteDel(&r); err != nil {
			return fmt.Errorf("remove default route via %v: %w", r.Gw, err)
		}
	}
	if gw == "" {
		return nil
	}
	if err := h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gw), Protocol: unix.RTPROT_STATIC}); err != nil {
		return fmt.Errorf("default route via %s: %w (is the gateway on the port's subnet?)", gw, err)
	}
	return nil
}
