package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onestack/onestack/internal/hostapi"
)

// applyRouter wires router r in a namespace of its own: qr- links into
// each internal network's bridge, qg- into the external one, routes,
// forwarding, and NAT (SNAT to the gateway address, floating IPs). It
// returns the router's port ids, for the report.
func (d *Driver) applyRouter(ctx context.Context, r *hostapi.Router, nets map[string]*hostapi.Network, wantLinks, wantNS map[string]bool) ([]string, error) {
	var ports []string
	for _, p := range r.Interfaces {
		ports = append(ports, p.ID)
	}
	if r.Gateway != nil {
		ports = append(ports, r.Gateway.ID)
	}
	ns := d.childNS("router", r.ID)
	wantNS[ns] = true
	for _, p := range ports {
		wantLinks[hostapi.TapName(p)] = true
	}
	if _, err := ensureNS(ns); err != nil {
		return ports, err
	}
	rh, err := handleAt(ns)
	if err != nil {
		return ports, err
	}
	defer rh.Close()
	if err := writeSysctl(ns, "net/ipv4/ip_forward", "1"); err != nil {
		return ports, err
	}
	wantInner := map[string]bool{}
	wire := func(p hostapi.Port, inner string) (netlink.Link, []string, error) {
		n := nets[p.NetworkID]
		if n == nil {
			return nil, nil, fmt.Errorf("port %s: network %s is not in this host's desired state", p.ID, p.NetworkID)
		}
		br, err := d.h.LinkByName(bridgeName(n.ID))
		if err != nil {
			return nil, nil, fmt.Errorf("port %s: bridge of network %s: %w", p.ID, n.ID, err)
		}
		mac, err := net.ParseMAC(p.MAC)
		if err != nil {
			return nil, nil, fmt.Errorf("port %s has MAC %q: %w", p.ID, p.MAC, err)
		}
		wantInner[inner] = true
		l, err := ensureVethNS(d.h, hostapi.TapName(p.ID), rh, ns, inner, mac, br, netMTU(n))
		if err != nil {
			return nil, nil, fmt.Errorf("port %s: %w", p.ID, err)
		}
		var addrs []string
		for _, f := range p.FixedIPs {
			if a := addrWithPrefix(n, f); a != "" {
				addrs = append(addrs, a)
			}
		}
		return l, addrs, nil
	}
	var errs []error
	for _, p := range r.Interfaces {
		l, addrs, err := wire(p, "qr-"+short11(p.ID))
		if err == nil {
			err = ensureAddrs(rh, l, addrs)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	var qg netlink.Link
	var gwIPs []string
	var defaultVia string
	if g := r.Gateway; g != nil {
		inner := "qg-" + short11(g.ID)
		l, addrs, err := wire(*g, inner)
		if err == nil {
			qg = l
			for _, f := range g.FixedIPs {
				if a, err := netip.ParseAddr(f.IP); err == nil && a.Is4() {
					gwIPs = append(gwIPs, f.IP)
				}
				if n := nets[g.NetworkID]; n != nil {
					for _, s := range n.Subnets {
						if s.ID == f.SubnetID && s.GatewayIP != "" && defaultVia == "" {
							defaultVia = s.GatewayIP
						}
					}
				}
			}
			// Floating addresses live on qg- so the router answers ARP
			// for them.
			for _, fip := range r.FloatingIPs {
				if a, err := netip.ParseAddr(fip.FloatingIP); err == nil && a.Is4() {
					addrs = append(addrs, fip.FloatingIP+"/32")
				}
			}
			err = ensureAddrs(rh, l, addrs)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Links of interfaces removed from the router.
	if links, err := rh.LinkList(); err == nil {
		for _, l := range links {
			name := l.Attrs().Name
			if (strings.HasPrefix(name, "qr-") || strings.HasPrefix(name, "qg-")) && !wantInner[name] {
				if err := rh.LinkDel(l); err != nil {
					errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
				}
			}
		}
	}
	if err := d.routerRoutes(rh, r, qg, defaultVia); err != nil {
		errs = append(errs, err)
	}
	if err := d.routerNAT(ctx, ns, r, qg, gwIPs); err != nil {
		errs = append(errs, err)
	}
	return ports, errors.Join(errs...)
}

func addrWithPrefix(n *hostapi.Network, f hostapi.FixedIP) string {
	a, err := netip.ParseAddr(f.IP)
	if err != nil || !a.Is4() {
		return ""
	}
	for _, s := range n.Subnets {
		if s.ID != f.SubnetID {
			continue
		}
		p, err := netip.ParsePrefix(s.CIDR)
		if err != nil {
			return ""
		}
		return fmt.Sprintf("%s/%d", a, p.Bits())
	}
	return ""
}

// routerRoutes makes the router's non-connected routes exactly the default
// route via the external gateway and the router's static routes.
func (d *Driver) routerRoutes(rh *netlink.Handle, r *hostapi.Router, qg netlink.Link, defaultVia string) error {
	type rt struct{ dst, via string }
	want := map[rt]bool{}
	if qg != nil && defaultVia != "" {
		want[rt{"0.0.0.0/0", defaultVia}] = true
	}
	for _, s := range r.Routes {
		p, err := netip.ParsePrefix(s.Destination)
		a, aerr := netip.ParseAddr(s.NextHop)
		if err != nil || aerr != nil || !p.Addr().Is4() || !a.Is4() {
			continue
		}
		want[rt{p.Masked().String(), a.String()}] = true
	}
	have, err := rh.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	var errs []error
	for _, h := range have {
		if h.Protocol == unix.RTPROT_KERNEL || h.Gw == nil {
			continue
		}
		dst := "0.0.0.0/0"
		if h.Dst != nil {
			dst = h.Dst.String()
		}
		k := rt{dst, h.Gw.String()}
		if want[k] {
			delete(want, k)
			continue
		}
		if err := rh.RouteDel(&h); err != nil {
			errs = append(errs, fmt.Errorf("remove route %s via %s: %w", k.dst, k.via, err))
		}
	}
	keys := make([]rt, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].dst < keys[j].dst })
	for _, k := range keys {
		_, dst, _ := net.ParseCIDR(k.dst)
		route := &netlink.Route{Dst: dst, Gw: net.ParseIP(k.via), Protocol: unix.RTPROT_STATIC}
		if err := rh.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w (is the next hop on a connected subnet?)", k.dst, k.via, err))
		}
	}
	return errors.Join(errs...)
}

// routerNAT writes the router's NAT table when it differs from what was
// last written.
func (d *Driver) routerNAT(ctx context.Context, ns string, r *hostapi.Router, qg netlink.Link, gwIPs []string) error {
	var b strings.Builder
	b.WriteString("table ip onestack_nat {}\ndelete table ip onestack_nat\ntable ip onestack_nat {\n")
	b.WriteString("\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	var fips []hostapi.FloatingIP
	for _, f := range r.FloatingIPs {
		a, err := netip.ParseAddr(f.FloatingIP)
		x, xerr := netip.ParseAddr(f.FixedIP)
		if err == nil && xerr == nil && a.Is4() && x.Is4() {
			fips = append(fips, f)
		}
	}
	sort.Slice(fips, func(i, j int) bool { return fips[i].FloatingIP < fips[j].FloatingIP })
	if qg != nil {
		for _, f := range fips {
			fmt.Fprintf(&b, "\t\tip daddr %s dnat to %s\n", f.FloatingIP, f.FixedIP)
		}
	}
	b.WriteString("\t}\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	if qg != nil {
		name := qg.Attrs().Name
		for _, f := range fips {
			fmt.Fprintf(&b, "\t\toifname %q ip saddr %s snat to %s\n", name, f.FixedIP, f.FloatingIP)
		}
		if r.EnableSNAT && len(gwIPs) > 0 {
			fmt.Fprintf(&b, "\t\toifname %q snat to %s\n", name, gwIPs[0])
		}
	}
	b.WriteString("\t}\n}\n")
	script := b.String()
	if d.nat[ns] == script {
		return nil
	}
	if err := nft(ctx, ns, script); err != nil {
		delete(d.nat, ns)
		return fmt.Errorf("nat: %w", err)
	}
	d.nat[ns] = script
	return nil
}
