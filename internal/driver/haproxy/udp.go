package haproxy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/onestack/onestack/internal/hostapi"
)

// UDP listeners. HAProxy has no UDP, so the kernel balances them: in the
// load balancer's namespace, a NAT table sends each new flow to VIP:port
// to a member (numgen round robin over the members, each repeated by its
// weight; jhash of the source for SOURCE_IP and SOURCE_IP_PORT) and
// rewrites its source to the VIP, so replies come back through the
// namespace. Nothing runs in user space: traffic keeps flowing while the
// agent restarts, and conntrack keeps a flow on its member. Health
// monitors of UDP pools are not run (members report NO_CHECK).

// udpLB is what the driver keeps of a load balancer's UDP side.
type udpLB struct {
	mu      sync.Mutex
	ns      string
	script  string
	members map[string]string
}

func (u *udpLB) health() map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string]string{}
	for k, v := range u.members {
		out[k] = v
	}
	return out
}

func (u *udpLB) stats() map[string]hostapi.ListenerStats { return nil }

// udpScript renders the NAT table of lb's UDP listeners ("" when none),
// and the health of their members.
func udpScript(lb hostapi.LoadBalancer) (string, map[string]string) {
	pools := map[string]hostapi.Pool{}
	for _, p := range lb.Pools {
		pools[p.ID] = p
	}
	var rules []string
	members := map[string]string{}
	for _, l := range lb.Listeners {
		if l.Protocol != hostapi.ProtoUDP || !l.AdminUp || !lb.AdminUp {
			continue
		}
		p, ok := pools[l.DefaultPoolID]
		if !ok || p.Protocol != hostapi.ProtoUDP || !p.AdminUp {
			continue
		}
		var targets []string
		var backups []string
		for _, m := range p.Members {
			if !m.AdminUp {
				members[m.ID] = hostapi.HealthMaint
				continue
			}
			members[m.ID] = hostapi.HealthNoCheck
			t := fmt.Sprintf("%s . %d", m.Address, m.Port)
			if m.Backup {
				backups = append(backups, t)
				continue
			}
			for i := 0; i < min(max(m.Weight, 0), 16); i++ {
				targets = append(targets, t)
			}
		}
		if len(targets) == 0 {
			targets = backups
		}
		if len(targets) == 0 {
			continue
		}
		sel := fmt.Sprintf("numgen inc mod %d", len(targets))
		switch p.Algorithm {
		case "SOURCE_IP":
			sel = fmt.Sprintf("jhash ip saddr mod %d", len(targets))
		case "SOURCE_IP_PORT":
			sel = fmt.Sprintf("jhash ip saddr . udp sport mod %d", len(targets))
		}
		var elems []string
		for i, t := range targets {
			elems = append(elems, fmt.Sprintf("%d : %s", i, t))
		}
		match := fmt.Sprintf("ip daddr %s udp dport %d", lb.VIPAddress, l.Port)
		if len(l.AllowedCIDRs) > 0 {
			match += " ip saddr { " + strings.Join(l.AllowedCIDRs, ", ") + " }"
		}
		rules = append(rules, fmt.Sprintf("\t\t%s dnat ip to %s map { %s }", match, sel, strings.Join(elems, ", ")))
	}
	if len(rules) == 0 {
		return "", members
	}
	sort.Strings(rules)
	var b strings.Builder
	b.WriteString("table ip onestack_lb {}\ndelete table ip onestack_lb\ntable ip onestack_lb {\n")
	b.WriteString("\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	b.WriteString(strings.Join(rules, "\n") + "\n\t}\n")
	b.WriteString("\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tct status dnat ct original ip daddr %s snat ip to %s\n\t}\n}\n", lb.VIPAddress, lb.VIPAddress)
	return b.String(), members
}

// applyUDP writes the UDP NAT table when it changed (removes it when lb
// has no UDP listener).
func (d *Driver) applyUDP(ctx context.Context, lb hostapi.LoadBalancer, ns string) error {
	script, members := udpScript(lb)
	if script == "" {
		return d.removeUDP(ctx, lb.ID)
	}
	u := d.udp[lb.ID]
	if u != nil && u.script == script && u.ns == ns {
		u.mu.Lock()
		u.members = members
		u.mu.Unlock()
		return nil
	}
	if out, err := d.run(ctx, "", "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"); err != nil {
		return fmt.Errorf("enable forwarding for UDP listeners: %s", firstAlert(out, err))
	}
	if out, err := d.run(ctx, script, "ip", "netns", "exec", ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("UDP listeners: nft refused the rules: %s", strings.TrimSpace(out))
	}
	d.udp[lb.ID] = &udpLB{ns: ns, script: script, members: members}
	return nil
}

// removeUDP deletes the UDP NAT table of a load balancer, if any.
func (d *Driver) removeUDP(ctx context.Context, id string) error {
	ns := d.cfg.Namespace(id)
	delete(d.udp, id)
	if !nsExists(ns) {
		return nil
	}
	out, err := d.run(ctx, "table ip onestack_lb {}\ndelete table ip onestack_lb\n", "ip", "netns", "exec", ns, "nft", "-f", "-")
	if err != nil {
		return fmt.Errorf("remove UDP rules: %s", strings.TrimSpace(out))
	}
	return nil
}
