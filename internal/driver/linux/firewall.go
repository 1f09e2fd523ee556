package linux

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// The firewall is two nftables tables named "onestack" in the host
// namespace, written with nft -f (one atomic transaction per change):
//
//   - bridge onestack: port security on frames entering the bridge from a
//     guest tap (source MAC, ARP sender, source IP, checked against sets
//     keyed by tap), the DHCP port's frames kept off the tunnels, and the
//     packet mark: the number of the port a frame enters by (prerouting),
//     then of the port it leaves by (forward).
//   - ip onestack: the stateful part. This kernel has no
//     nf_conntrack_bridge, so bridged IPv4 goes through br_netfilter
//     (net.bridge.bridge-nf-call-iptables=1, set in the host namespace
//     only), which runs the ip family's hooks, conntrack included, on
//     bridged frames. There the interfaces are the bridge, not the port
//     (br_netfilter swaps skb->dev), hence the mark: it picks the conntrack
//     zone (one per network) and the egress chain at prerouting, and the
//     ingress chain at forward.
//
// Ports are only set and map elements: verdict maps send a port to the
// chain of its combination of security groups, which jumps to one chain
// per group. A rule change rewrites one group chain, a port change its
// elements: the cost does not grow with the number of ports (nft itself
// reads the table's chains and sets before a change, and there are as many
// as groups and combinations, not ports).
const fwTable = "onestack"

const (
	objSet = iota
	objChain
	objElem
)

// nftObj is one incrementally managed piece of the ruleset.
type nftObj struct {
	kind int
	fam  string // bridge, ip
	name string // set, chain or map name
	decl string // set declaration ("type ipv4_addr; flags interval;")
	body []string
	elem string // map element key
}

func (o nftObj) equal(p nftObj) bool {
	if o.kind != p.kind || o.fam != p.fam || o.name != p.name || o.decl != p.decl || o.elem != p.elem || len(o.body) != len(p.body) {
		return false
	}
	for i := range o.body {
		if o.body[i] != p.body[i] {
			return false
		}
	}
	return true
}

func (o nftObj) create(b *strings.Builder) {
	switch o.kind {
	case objSet:
		fmt.Fprintf(b, "add set %s %s %s { %s }\nflush set %s %s %s\n", o.fam, fwTable, o.name, o.decl, o.fam, fwTable, o.name)
		if len(o.body) > 0 {
			fmt.Fprintf(b, "add element %s %s %s { %s }\n", o.fam, fwTable, o.name, strings.Join(o.body, ", "))
		}
	case objChain:
		fmt.Fprintf(b, "add chain %s %s %s\nflush chain %s %s %s\n", o.fam, fwTable, o.name, o.fam, fwTable, o.name)
		for _, r := range o.body {
			fmt.Fprintf(b, "add rule %s %s %s %s\n", o.fam, fwTable, o.name, r)
		}
	case objElem:
		fmt.Fprintf(b, "add element %s %s %s { %s }\n", o.fam, fwTable, o.name, o.body[0])
	}
}

// baseRuleset declares the tables, their hooks and maps.
const baseRuleset = `table bridge onestack {
	set tunnel_src { type ifname . ether_addr; }
	set secured { type ifname; }
	set macs { type ifname . ether_addr; }
	set ips { type ifname . ipv4_addr; flags interval; }
	map portmark { type ifname : mark; }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		iifname . ether saddr @tunnel_src drop
		meta mark set 0
		meta mark set iifname map @portmark
		iifname != @secured accept
		iifname . ether saddr != @macs drop
		ether type arp iifname . arp saddr ether != @macs drop
		ether type arp arp saddr ip 0.0.0.0 accept
		ether type arp iifname . arp saddr ip != @ips drop
		ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept
		ether type ip iifname . ip saddr != @ips drop
		ether type ip6 drop
	}
	chain forward_port {
		type filter hook forward priority -200; policy accept;
		oifname . ether saddr @tunnel_src drop
		meta mark set 0
		meta mark set oifname map @portmark
	}
}
table ip onestack {
	map zones { typeof meta mark : ct zone; }
	map egress { type mark : verdict; }
	map ingress { type mark : verdict; }
	chain zone {
		type filter hook prerouting priority raw; policy accept;
		ct zone set meta mark map @zones
	}
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		meta mark vmap @egress
	}
	chain forward_port {
		type filter hook forward priority 0; policy accept;
		meta mark vmap @ingress
	}
}
`

// firewall keeps what was last written so the next sync writes only the
// difference. A failed write forgets it: the next sync rewrites the
// tables whole, in one transaction.
type firewall struct {
	ns      string
	applied map[string]*unit
	ports   map[string]*portUnit // port id -> its last rendering
	absent  bool                 // the tables were removed and nothing written since
	marks   map[string]uint32    // port id -> mark
	zones   map[string]uint32    // network id -> conntrack zone
	free    []uint32
	next    uint32
	// writes counts nft transactions and nftTime adds up their time,
	// for tests and benchmarks.
	writes  int
	nftTime time.Duration
}

func newFirewall(ns string) *firewall {
	return &firewall{ns: ns, marks: map[string]uint32{}, next: 1, zones: map[string]uint32{}}
}

func (f *firewall) mark(port string) uint32 {
	if m, ok := f.marks[port]; ok {
		return m
	}
	var m uint32
	if n := len(f.free); n > 0 {
		m, f.free = f.free[n-1], f.free[:n-1]
	} else {
		m = f.next
		f.next++
	}
	f.marks[port] = m
	return m
}

// zone is network id's conntrack zone: each network's connections are
// tracked apart, so networks with the same addresses on one host do not
// share state.
func (f *firewall) zone(netID string) uint32 {
	if z, ok := f.zones[netID]; ok {
		return z
	}
	used := make(map[uint32]bool, len(f.zones))
	for _, z := range f.zones {
		used[z] = true
	}
	z := uint32(1)
	for used[z] {
		z++
	}
	f.zones[netID] = z
	return z
}

func (f *firewall) releaseMarks(keep map[string]bool) {
	for p, m := range f.marks {
		if !keep[p] {
			delete(f.marks, p)
			f.free = append(f.free, m)
		}
	}
}

// unit is the objects one thing (a port, a group, a network) puts in the
// ruleset. Units of unchanged ports are reused as is, so the diff skips
// them by pointer.
type unit struct {
	objs map[string]nftObj
}

func (u *unit) add(o nftObj) {
	u.objs[strconv.Itoa(o.kind)+" "+o.fam+" "+o.name+" "+o.elem] = o
}

func newUnit() *unit { return &unit{objs: map[string]nftObj{}} }

// portUnit is a port's rendered unit and what it was rendered from.
type portUnit struct {
	port   hostapi.Port
	mark   uint32
	zone   uint32
	combo  string
	groups []string // the port's known groups, sorted
	u      *unit
}

// desired renders hn's firewall as units keyed by identity, and the
// ports that cannot be filtered with why.
func (f *firewall) desired(hn *hostapi.HostNetwork, physNets map[string]string) (map[string]*unit, map[string]string) {
	units := make(map[string]*unit, len(hn.Ports)+16)
	problems := map[string]string{} // port id -> why it cannot be filtered
	groups := map[string]*hostapi.SecurityGroup{}
	for i := range hn.SecurityGroups {
		groups[hn.SecurityGroups[i].ID] = &hn.SecurityGroups[i]
	}
	keep := map[string]bool{} // devices with a mark
	bridgePort := func(u *unit, dev string, z uint32) {
		if validDevice(dev) && !keep[dev] {
			keep[dev] = true
			u.addBridgePort(dev, f.mark(dev), z)
		}
	}
	zoneOf := map[string]uint32{}
	for i := range hn.Networks {
		n := &hn.Networks[i]
		z := f.zone(n.ID)
		zoneOf[n.ID] = z
		u := newUnit()
		if n.Type == hostapi.NetworkVXLAN && n.SegmentID > 0 {
			bridgePort(u, vxlanName(n.SegmentID), z)
			if n.DHCP != nil && validMAC(strings.ToLower(n.DHCP.MAC)) {
				u.add(nftObj{kind: objElem, fam: "bridge", name: "tunnel_src", elem: vxlanName(n.SegmentID) + "." + n.DHCP.MAC,
					body: []string{fmt.Sprintf("%q . %s", vxlanName(n.SegmentID), strings.ToLower(n.DHCP.MAC))}})
			}
		}
		if l, ok := physNets[n.PhysicalNetwork]; ok && n.Type == hostapi.NetworkFlat && validDevice(l) {
			bridgePort(u, l, z)
		}
		if n.DHCP != nil {
			bridgePort(u, hostapi.TapName(n.DHCP.ID), z)
		}
		units["net "+n.ID] = u
	}
	for id := range f.zones {
		if _, ok := zoneOf[id]; !ok {
			delete(f.zones, id)
		}
	}
	for _, r := range hn.Routers {
		u := newUnit()
		ports := append([]hostapi.Port(nil), r.Interfaces...)
		if r.Gateway != nil {
			ports = append(ports, *r.Gateway)
		}
		for _, p := range ports {
			if z, ok := zoneOf[p.NetworkID]; ok {
				bridgePort(u, hostapi.TapName(p.ID), z)
			}
		}
		units["router "+r.ID] = u
	}
	usedGroups := map[string]bool{}
	remoteGroups := map[string]bool{}
	combos := map[string][]string{} // combination chain suffix -> groups
	cache := make(map[string]*portUnit, len(hn.Ports))
	devices := map[string]bool{}
	for _, p := range hn.Ports {
		if p.Device == "" || devices[p.Device] {
			continue // a duplicate device is reported by Apply
		}
		devices[p.Device] = true
		z, ok := zoneOf[p.NetworkID]
		if !ok {
			continue
		}
		if !p.PortSecurity {
			u := newUnit()
			bridgePort(u, p.Device, z)
			units["port "+p.ID] = u
			continue
		}
		m := f.mark(p.Device)
		var gs []string
		for _, g := range p.SecurityGroups {
			if groups[g] != nil { // an unknown group contributes no rule
				gs = append(gs, g)
				usedGroups[g] = true
			}
		}
		sort.Strings(gs)
		pu := f.ports[p.ID]
		if pu == nil || pu.mark != m || pu.zone != z || !samePort(&pu.port, &p) || !slices.Equal(pu.groups, gs) {
			var err error
			if pu, err = renderPort(p, m, z, gs); err != nil {
				problems[p.ID] = err.Error()
				continue
			}
		}
		combos[pu.combo] = gs
		keep[p.Device] = true
		cache[p.ID] = pu
		units["port "+p.ID] = pu.u
	}
	f.ports = cache
	f.releaseMarks(keep)
	for c, gs := range combos {
		u := newUnit()
		eg := []string{"ct state established,related accept", "ct state invalid drop", "udp sport 68 udp dport 67 accept"}
		in := []string{"ct state established,related accept", "ct state invalid drop", "udp sport 67 udp dport 68 accept"}
		for _, g := range gs {
			eg = append(eg, "jump g-"+nftID(g)+"-e")
			in = append(in, "jump g-"+nftID(g)+"-i")
		}
		u.add(nftObj{kind: objChain, fam: "ip", name: "ce-" + c, body: append(eg, "drop")})
		u.add(nftObj{kind: objChain, fam: "ip", name: "ci-" + c, body: append(in, "drop")})
		units["combo "+c] = u
	}
	for g := range usedGroups {
		var ing, eg []string
		for _, r := range groups[g].Rules {
			rule, ok := sgRule(r)
			if !ok {
				continue
			}
			if r.RemoteGroupID != "" {
				remoteGroups[r.RemoteGroupID] = true
			}
			if r.Direction == "egress" {
				eg = append(eg, rule)
			} else {
				ing = append(ing, rule)
			}
		}
		u := newUnit()
		u.add(nftObj{kind: objChain, fam: "ip", name: "g-" + nftID(g) + "-i", body: ing})
		u.add(nftObj{kind: objChain, fam: "ip", name: "g-" + nftID(g) + "-e", body: eg})
		units["group "+g] = u
	}
	for g := range remoteGroups {
		var members []string
		if sg := groups[g]; sg != nil {
			members = v4Prefixes(sg.Members)
		}
		u := newUnit()
		u.add(nftObj{kind: objSet, fam: "ip", name: "m-" + nftID(g), decl: "type ipv4_addr; flags interval;", body: members})
		units["members "+g] = u
	}
	return units, problems
}

// renderPort renders a port's elements: it is secured, its MACs and
// prefixes, its mark, and the chains of its groups' combination.
func renderPort(p hostapi.Port, m, z uint32, gs []string) (*portUnit, error) {
	if !validDevice(p.Device) {
		return nil, fmt.Errorf("port %s: device name %q is not a link name (1-15 of a-z, A-Z, 0-9, '-', '_', '.')", p.ID, p.Device)
	}
	macs, prefixes, err := portAddresses(p)
	if err != nil {
		return nil, err
	}
	c := shortHash(strings.Join(gs, ","))
	u := newUnit()
	dev := strconv.Quote(p.Device)
	u.add(nftObj{kind: objElem, fam: "bridge", name: "secured", elem: p.Device, body: []string{dev}})
	u.addBridgePort(p.Device, m, z)
	for _, mac := range macs {
		u.add(nftObj{kind: objElem, fam: "bridge", name: "macs", elem: p.Device + " " + mac, body: []string{dev + " . " + mac}})
	}
	for _, pfx := range prefixes {
		u.add(nftObj{kind: objElem, fam: "bridge", name: "ips", elem: p.Device + " " + pfx, body: []string{dev + " . " + pfx}})
	}
	u.add(nftObj{kind: objElem, fam: "ip", name: "egress", elem: strconv.Itoa(int(m)), body: []string{fmt.Sprintf("%d : jump ce-%s", m, c)}})
	u.add(nftObj{kind: objElem, fam: "ip", name: "ingress", elem: strconv.Itoa(int(m)), body: []string{fmt.Sprintf("%d : jump ci-%s", m, c)}})
	cp := p
	cp.FixedIPs = append([]hostapi.FixedIP(nil), p.FixedIPs...)
	cp.SecurityGroups = append([]string(nil), p.SecurityGroups...)
	cp.AllowedAddressPairs = append([]hostapi.AddressPair(nil), p.AllowedAddressPairs...)
	return &portUnit{port: cp, mark: m, zone: z, combo: c, groups: gs, u: u}, nil
}

// addBridgePort gives a bridge port its mark (set on every frame that
// enters or leaves by it: the ip family sees only the bridge) and its
// network's conntrack zone.
func (u *unit) addBridgePort(dev string, m, z uint32) {
	u.add(nftObj{kind: objElem, fam: "bridge", name: "portmark", elem: dev, body: []string{fmt.Sprintf("%q : %d", dev, m)}})
	u.add(nftObj{kind: objElem, fam: "ip", name: "zones", elem: strconv.Itoa(int(m)), body: []string{fmt.Sprintf("%d : %d", m, z)}})
}

// samePort reports whether two ports render the same firewall elements
// (with the same mark): device, MAC, addresses, groups, pairs.
func samePort(a, b *hostapi.Port) bool {
	if a.Device != b.Device || a.MAC != b.MAC || a.PortSecurity != b.PortSecurity ||
		len(a.FixedIPs) != len(b.FixedIPs) || len(a.SecurityGroups) != len(b.SecurityGroups) || len(a.AllowedAddressPairs) != len(b.AllowedAddressPairs) {
		return false
	}
	for i := range a.FixedIPs {
		if a.FixedIPs[i].IP != b.FixedIPs[i].IP {
			return false
		}
	}
	for i := range a.SecurityGroups {
		if a.SecurityGroups[i] != b.SecurityGroups[i] {
			return false
		}
	}
	for i := range a.AllowedAddressPairs {
		if a.AllowedAddressPairs[i] != b.AllowedAddressPairs[i] {
			return false
		}
	}
	return true
}

// portAddresses is what a port may send from: its MACs (own and address
// pairs') and IPv4 prefixes (fixed IPs and address pairs).
func portAddresses(p hostapi.Port) (macs, prefixes []string, err error) {
	seen := map[string]bool{}
	var ips []string
	for _, m := range append([]string{p.MAC}, pairMACs(p)...) {
		m = strings.ToLower(m)
		if !validMAC(m) {
			return nil, nil, fmt.Errorf("port %s: MAC address %q is not valid", p.ID, m)
		}
		if !seen[m] {
			seen[m] = true
			macs = append(macs, m)
		}
	}
	sort.Strings(macs)
	for _, f := range p.FixedIPs {
		ips = append(ips, f.IP)
	}
	for _, ap := range p.AllowedAddressPairs {
		ips = append(ips, ap.IP)
	}
	return macs, v4Prefixes(ips), nil
}

func pairMACs(p hostapi.Port) []string {
	var out []string
	for _, ap := range p.AllowedAddressPairs {
		if ap.MAC != "" {
			out = append(out, ap.MAC)
		}
	}
	return out
}

func validMAC(m string) bool {
	if len(m) != 17 {
		return false
	}
	for i, c := range m {
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// v4Prefixes turns addresses and CIDRs into canonical IPv4 prefixes
// without overlaps (an anonymous nftables interval set refuses them);
// IPv6 and invalid entries are left out.
func v4Prefixes(in []string) []string {
	var ps []netip.Prefix
	for _, s := range in {
		var p netip.Prefix
		if strings.Contains(s, "/") {
			q, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			p = q.Masked()
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if !p.Addr().Is4() {
			continue
		}
		ps = append(ps, p)
	}
	// Sorted by first address, widest first: prefixes are nested or
	// disjoint, so one is covered by another exactly when the last one
	// kept contains it.
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) && out[n-1].Bits() <= p.Bits() {
			continue
		}
		out = append(out, p)
	}
	strs := make([]string, len(out))
	for i, p := range out {
		if p.Bits() == 32 {
			strs[i] = p.Addr().String()
		} else {
			strs[i] = p.String()
		}
	}
	return strs
}

var protoNumbers = map[string]string{"1": "icmp", "6": "tcp", "17": "udp", "132": "sctp"}

// sgRule renders one IPv4 rule as an nft rule ending in accept; ok is
// false for rules that cannot match IPv4 (IPv6 ethertype).
func sgRule(r hostapi.SecurityGroupRule) (string, bool) {
	if r.EtherType != "" && r.EtherType != "IPv4" {
		return "", false
	}
	var parts []string
	addr := "ip saddr"
	if r.Direction == "egress" {
		addr = "ip daddr"
	}
	switch {
	case r.RemoteGroupID != "":
		parts = append(parts, addr+" @m-"+nftID(r.RemoteGroupID))
	case r.RemoteIPPrefix != "":
		ps := v4Prefixes([]string{r.RemoteIPPrefix})
		if len(ps) == 0 {
			return "", false
		}
		if ps[0] != "0.0.0.0/0" {
			parts = append(parts, addr+" "+ps[0])
		}
	}
	proto := strings.ToLower(r.Protocol)
	if n, ok := protoNumbers[proto]; ok {
		proto = n
	}
	switch proto {
	case "", "any", "0":
	case "tcp", "udp", "sctp":
		parts = append(parts, "meta l4proto "+proto)
		if r.PortMin != nil || r.PortMax != nil {
			lo, hi := 1, 65535
			if r.PortMin != nil {
				lo = *r.PortMin
			}
			if r.PortMax != nil {
				hi = *r.PortMax
			} else {
				hi = lo
			}
			if lo == hi {
				parts = append(parts, fmt.Sprintf("%s dport %d", proto, lo))
			} else {
				parts = append(parts, fmt.Sprintf("%s dport %d-%d", proto, lo, hi))
			}
		}
	case "icmp":
		parts = append(parts, "meta l4proto icmp")
		if r.PortMin != nil {
			parts = append(parts, fmt.Sprintf("icmp type %d", *r.PortMin))
			if r.PortMax != nil {
				parts = append(parts, fmt.Sprintf("icmp code %d", *r.PortMax))
			}
		}
	case "ipv6-icmp", "icmpv6", "58":
		return "", false
	default:
		n, err := strconv.Atoi(proto)
		if err != nil || n < 0 || n > 255 {
			// A protocol name nft knows (gre, esp, ...).
			if !validWord(proto) {
				return "", false
			}
			parts = append(parts, "ip protocol "+proto)
		} else {
			parts = append(parts, fmt.Sprintf("ip protocol %d", n))
		}
	}
	return strings.Join(append(parts, "accept"), " "), true
}

func validWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// sync writes the difference between the applied ruleset and want in one
// transaction (the whole ruleset when nothing is known to be applied).
func (f *firewall) sync(ctx context.Context, want map[string]*unit) error {
	script := f.diff(want)
	if script == "" {
		return nil
	}
	f.writes++
	start := time.Now()
	err := nft(ctx, f.ns, script)
	f.nftTime += time.Since(start)
	if err != nil && f.applied != nil {
		// The tables are not what was last written (changed by hand,
		// or a previous write half known): rewrite them whole.
		f.applied = nil
		f.writes++
		err = nft(ctx, f.ns, f.diff(want))
	}
	if err != nil {
		f.applied = nil
		return fmt.Errorf("write firewall: %w", err)
	}
	f.applied = want
	f.absent = false
	return nil
}

// diff is the nft script taking the applied ruleset to want.
func (f *firewall) diff(wantUnits map[string]*unit) string {
	var b strings.Builder
	full := f.applied == nil
	if full {
		b.WriteString("table bridge onestack {}\ndelete table bridge onestack\ntable ip onestack {}\ndelete table ip onestack\n")
		b.WriteString(baseRuleset)
	}
	// Objects of the units that changed, before and after: an unchanged
	// unit is the same pointer and costs one comparison.
	want := map[string]nftObj{}
	old := map[string]nftObj{}
	for k, u := range wantUnits {
		o := f.applied[k]
		if o == u {
			continue
		}
		for ok, obj := range u.objs {
			want[ok] = obj
		}
		if o != nil {
			for ok, obj := range o.objs {
				old[ok] = obj
			}
		}
	}
	for k, o := range f.applied {
		if _, ok := wantUnits[k]; !ok {
			for ok, obj := range o.objs {
				old[ok] = obj
			}
		}
	}
	var keys, oldKeys []string
	for k, w := range want {
		if o, ok := old[k]; !ok || !o.equal(w) {
			keys = append(keys, k)
		}
	}
	for k, o := range old {
		if w, ok := want[k]; !ok || !w.equal(o) {
			oldKeys = append(oldKeys, k)
		}
	}
	sort.Strings(keys)
	sort.Strings(oldKeys)
	// 1. Elements that go or change.
	for _, k := range oldKeys {
		o := old[k]
		if o.kind != objElem {
			continue
		}
		if w, ok := want[k]; !ok || !w.equal(o) {
			key := strings.SplitN(o.body[0], " : ", 2)[0]
			fmt.Fprintf(&b, "delete element %s %s %s { %s }\n", o.fam, fwTable, o.name, key)
		}
	}
	// 2. Sets, 3. chains (group chains before the combination chains
	// jumping to them), 4. elements.
	for _, kind := range []int{objSet, objChain, objElem} {
		for _, k := range keys {
			if o := want[k]; o.kind == kind {
				if kind == objChain && !strings.HasPrefix(o.name, "g-") {
					continue
				}
				o.create(&b)
			}
		}
		if kind == objChain {
			for _, k := range keys {
				if o := want[k]; o.kind == kind && !strings.HasPrefix(o.name, "g-") {
					o.create(&b)
				}
			}
		}
	}
	// 5. Chains that go: flush all first (they may jump to each other),
	// then delete; 6. sets that go.
	for _, k := range oldKeys {
		if o := old[k]; o.kind == objChain {
			if _, ok := want[k]; !ok {
				fmt.Fprintf(&b, "flush chain %s %s %s\n", o.fam, fwTable, o.name)
			}
		}
	}
	for _, k := range oldKeys {
		if o := old[k]; o.kind == objChain {
			if _, ok := want[k]; !ok {
				fmt.Fprintf(&b, "delete chain %s %s %s\n", o.fam, fwTable, o.name)
			}
		}
	}
	for _, k := range oldKeys {
		if o := old[k]; o.kind == objSet {
			if _, ok := want[k]; !ok {
				fmt.Fprintf(&b, "delete set %s %s %s\n", o.fam, fwTable, o.name)
			}
		}
	}
	return b.String()
}

// remove deletes the firewall tables.
// remove deletes the firewall tables; once they are known to be gone it
// does nothing (an agent with no network resyncs often).
func (f *firewall) remove(ctx context.Context) error {
	if f.absent {
		return nil
	}
	f.applied = nil
	if err := nft(ctx, f.ns, "table bridge onestack {}\ndelete table bridge onestack\ntable ip onestack {}\ndelete table ip onestack\n"); err != nil {
		return err
	}
	f.absent = true
	return nil
}

// nftID makes an id safe inside an nftables chain or set name (ids are
// UUIDs; anything else is replaced by a hash of it).
func nftID(id string) string {
	if len(id) > 0 && len(id) <= 64 && validWord(strings.ToLower(id)) {
		return id
	}
	return "x" + shortHash(id)
}

// validDevice reports whether name is a link name safe to write into an
// nft script.
func validDevice(name string) bool {
	if name == "" || len(name) > 15 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
