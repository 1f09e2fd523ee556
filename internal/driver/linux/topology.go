package linux

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Link names inside a topology's host namespaces.
const (
	// UnderlayLink is the host's link to the underlay switch.
	UnderlayLink = "ul0"
	// PublicLink is the host's link to the outside world, the "public"
	// physical network.
	PublicLink = "ext0"
	// PublicPhysNet is the physical network the outside world is on.
	PublicPhysNet = "public"
	underlayMTU   = 1500
)

// TopologyConfig describes the namespaces that stand for a multi-host
// deployment on one machine.
type TopologyConfig struct {
	// Prefix starts every namespace name ("os" and 4 hex characters of
	// the data directory's hash, see Prefix); Cleanup finds them by it.
	Prefix string
	// Hosts are the hosts to give a namespace each.
	Hosts []string
	// ExternalCIDR and ExternalGateway are the outside world's network
	// (the public network's subnet) and its address on it, e.g.
	// "172.24.4.0/24" and "172.24.4.1".
	ExternalCIDR, ExternalGateway string
	// StateFile keeps each host's underlay address across restarts so a
	// host keeps its address when hosts are added; empty keeps none.
	StateFile string
}

// Topology is a set of namespaces standing for a multi-host deployment:
// an underlay namespace whose bridge is the switch between hosts, one
// namespace per host (underlay link ul0, public link ext0) and the
// external "outside world" namespace whose bridge carries the public
// network's gateway address.
type Topology struct {
	cfg     TopologyConfig
	tunnels map[string]string // host -> underlay address
}

// Prefix derives a short name prefix from a data directory: "os" and 4 hex
// characters of its hash, so clouds with different directories coexist.
func Prefix(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return "os" + hex.EncodeToString(sum[:])[:4]
}

type topologyState struct {
	Prefix  string            `json:"prefix"`
	Tunnels map[string]string `json:"tunnels"`
}

// SetupTopology creates the namespaces and links of cfg that do not exist
// yet; run again (after a restart) it reuses what is there.
func SetupTopology(ctx context.Context, cfg TopologyConfig) (*Topology, error) {
	if err := validPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.ExternalCIDR == "" {
		cfg.ExternalCIDR = "172.24.4.0/24"
	}
	if cfg.ExternalGateway == "" {
		cfg.ExternalGateway = "172.24.4.1"
	}
	_, extNet, err := net.ParseCIDR(cfg.ExternalCIDR)
	if err != nil {
		return nil, fmt.Errorf("external cidr %q: %w", cfg.ExternalCIDR, err)
	}
	gw := net.ParseIP(cfg.ExternalGateway).To4()
	if gw == nil || !extNet.Contains(gw) {
		return nil, fmt.Errorf("external gateway %q is not an IPv4 address in %s", cfg.ExternalGateway, cfg.ExternalCIDR)
	}
	t := &Topology{cfg: cfg, tunnels: map[string]string{}}
	if err := t.loadState(); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, ip := range t.tunnels {
		used[ip] = true
	}
	next := 0
	for _, h := range cfg.Hosts {
		if h == "" || strings.ContainsAny(h, "/ \x00") {
			return nil, fmt.Errorf("host name %q cannot name a namespace: use letters, digits, - and _", h)
		}
		if _, ok := t.tunnels[h]; ok {
			continue
		}
		for {
			next++
			ip := fmt.Sprintf("10.250.%d.%d", next/250, next%250+1)
			if !used[ip] {
				t.tunnels[h], used[ip] = ip, true
				break
			}
		}
	}
	if err := t.saveState(); err != nil {
		return nil, err
	}

	// Underlay switch and outside world.
	if _, err := ensureNS(t.underlayNS()); err != nil {
		return nil, err
	}
	if _, err := ensureNS(t.ExternalNS()); err != nil {
		return nil, err
	}
	ul, err := handleAt(t.underlayNS())
	if err != nil {
		return nil, err
	}
	defer ul.Close()
	ext, err := handleAt(t.ExternalNS())
	if err != nil {
		return nil, err
	}
	defer ext.Close()
	ulBr, err := ensureBridge(ul, "br0", underlayMTU)
	if err != nil {
		return nil, fmt.Errorf("underlay bridge: %w", err)
	}
	extBr, err := ensureBridge(ext, "br-ext", underlayMTU)
	if err != nil {
		return nil, fmt.Errorf("external bridge: %w", err)
	}
	ones, _ := extNet.Mask.Size()
	if err := ensureAddrs(ext, extBr, []string{fmt.Sprintf("%s/%d", gw, ones)}); err != nil {
		return nil, fmt.Errorf("external bridge address: %w", err)
	}

	hosts := append([]string(nil), cfg.Hosts...)
	sort.Strings(hosts)
	for _, h := range hosts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hns := t.HostNS(h)
		if _, err := ensureNS(hns); err != nil {
			return nil, err
		}
		if err := t.wireHost(h, hns, ul, ulBr, ext, extBr); err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
	}
	return t, nil
}

func (t *Topology) wireHost(h, hns string, ul *netlink.Handle, ulBr netlink.Link, ext *netlink.Handle, extBr netlink.Link) error {
	hh, err := handleAt(hns)
	if err != nil {
		return err
	}
	defer hh.Close()
	short := shortHash(h)
	// ul0 <-> u<hash> on the underlay bridge.
	if err := ensureVethTo(hh, UnderlayLink, ul, t.underlayNS(), "u"+short, underlayMTU); err != nil {
		return fmt.Errorf("underlay link: %w", err)
	}
	if err := ensurePort(ul, "u"+short, ulBr, underlayMTU); err != nil {
		return err
	}
	l, err := hh.LinkByName(UnderlayLink)
	if err != nil {
		return err
	}
	if err := ensureAddrs(hh, l, []string{t.tunnels[h] + "/16"}); err != nil {
		return fmt.Errorf("underlay address: %w", err)
	}
	if err := ensureUp(hh, l); err != nil {
		return err
	}
	// ext0 <-> x<hash> on the outside world's bridge.
	if err := ensureVethTo(hh, PublicLink, ext, t.ExternalNS(), "x"+short, underlayMTU); err != nil {
		return fmt.Errorf("public link: %w", err)
	}
	if err := ensurePort(ext, "x"+short, extBr, underlayMTU); err != nil {
		return err
	}
	pl, err := hh.LinkByName(PublicLink)
	if err != nil {
		return err
	}
	return ensureUp(hh, pl)
}

// ensureVethTo creates a veth pair name (in h) <-> peer (in namespace
// peerNS, seen through ph) unless name exists.
func ensureVethTo(h *netlink.Handle, name string, ph *netlink.Handle, peerNS, peer string, mtu int) error {
	if _, err := h.LinkByName(name); err == nil {
		return nil
	}
	// A half-made pair (peer left over) is removed first.
	if l, err := ph.LinkByName(peer); err == nil {
		_ = ph.LinkDel(l)
	}
	fd, err := nsFd(peerNS)
	if err != nil {
		return err
	}
	defer fd.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}, PeerName: peer, PeerNamespace: netlink.NsFd(int(fd))}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", name, peer, err)
	}
	return nil
}

// ensurePort enslaves link name (in h) to br and brings it up.
func ensurePort(h *netlink.Handle, name string, br netlink.Link, mtu int) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if l.Attrs().MTU != mtu && mtu > 0 {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set mtu of %s: %w", name, err)
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := h.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("add %s to %s: %w", name, br.Attrs().Name, err)
		}
	}
	return ensureUp(h, l)
}

func ensureUp(h *netlink.Handle, l netlink.Link) error {
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %s: %w", l.Attrs().Name, err)
	}
	return nil
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func validPrefix(p string) error {
	if len(p) < 3 || len(p) > 12 || strings.ContainsAny(p, "/ -\x00") {
		return fmt.Errorf("prefix %q must be 3 to 12 characters without '/', ' ' or '-'", p)
	}
	return nil
}

func (t *Topology) underlayNS() string { return t.cfg.Prefix + "-ul" }

// HostNS is the namespace name of host.
func (t *Topology) HostNS(host string) string { return t.cfg.Prefix + "-h-" + host }

// TunnelIP is host's underlay address: what its agent registers as its
// host_ip and uses as its VXLAN endpoint.
func (t *Topology) TunnelIP(host string) string { return t.tunnels[host] }

// ExternalNS is the outside world's namespace.
func (t *Topology) ExternalNS() string { return t.cfg.Prefix + "-ext" }

// PhysNets is the physical-network map of every host in the topology.
func (t *Topology) PhysNets() map[string]string {
	return map[string]string{PublicPhysNet: PublicLink}
}

func (t *Topology) loadState() error {
	if t.cfg.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(t.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read topology state: %w", err)
	}
	var st topologyState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("topology state %s is not valid JSON (delete it to start over): %w", t.cfg.StateFile, err)
	}
	if st.Prefix != t.cfg.Prefix {
		return nil
	}
	for h, ip := range st.Tunnels {
		t.tunnels[h] = ip
	}
	return nil
}

func (t *Topology) saveState() error {
	if t.cfg.StateFile == "" {
		return nil
	}
	b, err := json.MarshalIndent(topologyState{Prefix: t.cfg.Prefix, Tunnels: t.tunnels}, "", "  ")
	if err != nil {
		return err
	}
	tmp := t.cfg.StateFile + ".tmp"
	if err := os.MkdirAll(filepath.Dir(t.cfg.StateFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write topology state: %w", err)
	}
	return os.Rename(tmp, t.cfg.StateFile)
}

// Cleanup removes what a (crashed) run with prefix left: the processes
// still inside its namespaces, then the namespaces (and with them every
// link, nftables table and socket in them). It touches nothing whose name
// does not start with prefix, and never the root namespace's links or
// firewall.
func Cleanup(ctx context.Context, prefix string) (removed []string, err error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	entries, rerr := os.ReadDir(netnsDir)
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return nil, fmt.Errorf("list namespaces: %w", rerr)
	}
	var names []string
	inodes := map[uint64]string{}
	for _, e := range entries {
		n := e.Name()
		if n != prefix && !strings.HasPrefix(n, prefix+"-") {
			continue
		}
		names = append(names, n)
		var st syscall.Stat_t
		if syscall.Stat(netnsDir+"/"+n, &st) == nil {
			inodes[st.Ino] = n
		}
	}
	// Processes left inside those namespaces (never this process).
	if len(inodes) > 0 {
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, perr := strconv.Atoi(p.Name())
			if perr != nil || pid == os.Getpid() {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat("/proc/"+p.Name()+"/ns/net", &st) != nil {
				continue
			}
			if ns, ok := inodes[st.Ino]; ok {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					removed = append(removed, fmt.Sprintf("process %d (in %s)", pid, ns))
				}
			}
		}
	}
	var errs []error
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if err := deleteNS(n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "namespace "+n)
	}
	return removed, errors.Join(errs...)
}
