package haproxy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// UDP listeners. HAProxy has no UDP, so the kernel balances them: in the
// load balancer's namespace, a NAT table sends each new flow to VIP:port
// to a member (numgen round robin over the members, each repeated by its
// weight; jhash of the source for SOURCE_IP and SOURCE_IP_PORT) and
// rewrites its source to the VIP, so replies come back through the
// namespace. Nothing runs in user space on the data path: traffic keeps
// flowing while the agent restarts, and conntrack keeps a flow on its
// member.
//
// Health monitors of UDP pools (UDP-CONNECT, TCP, HTTP, PING) run in the
// driver, from the load balancer's namespace (probe.go): a member failing
// max_retries_down checks in a row leaves the NAT map until it passes
// max_retries in a row, as keepalived's checks do in Octavia's amphora.

// udpLB is what the driver keeps of a load balancer's UDP side. The
// prober goroutine and Apply share it under mu.
type udpLB struct {
	mu      sync.Mutex
	ns      string
	lb      hostapi.LoadBalancer
	script  string                 // the NAT table written last
	members map[string]string      // health per member id, as reported
	checks  map[string]*checkState // per member with a running monitor
	stopped bool                   // removed: the prober writes no more
	cancel  context.CancelFunc
}

// checkState counts a monitored member's consecutive results.
type checkState struct {
	up        bool
	ok, fail  int
	lastProbe time.Time
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

// udpMonitored reports whether a pool's members are checked by the prober.
func udpMonitored(p hostapi.Pool) bool {
	return p.Monitor != nil && p.Monitor.AdminUp
}

// udpScript renders the NAT table of lb's UDP listeners ("" when none),
// leaving out members whose checks failed (down), and returns the health
// of their members.
func udpScript(lb hostapi.LoadBalancer, down map[string]bool) (string, map[string]string) {
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
			switch {
			case !m.AdminUp:
				members[m.ID] = hostapi.HealthMaint
				continue
			case !udpMonitored(p):
				members[m.ID] = hostapi.HealthNoCheck
			case down[m.ID]:
				members[m.ID] = hostapi.HealthDown
				continue
			default:
				members[m.ID] = hostapi.HealthUp
			}
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
	if len(rules) == 0 && len(members) == 0 {
		return "", members
	}
	sort.Strings(rules)
	var b strings.Builder
	b.WriteString("table ip onestack_lb {}\ndelete table ip onestack_lb\ntable ip onestack_lb {\n")
	b.WriteString("\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	if len(rules) > 0 {
		b.WriteString(strings.Join(rules, "\n") + "\n")
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tct status dnat ct original ip daddr %s snat ip to %s\n\t}\n}\n", lb.VIPAddress, lb.VIPAddress)
	return b.String(), members
}

// down is the set of monitored members whose checks failed.
func (u *udpLB) down() map[string]bool {
	out := map[string]bool{}
	for id, c := range u.checks {
		if !c.up {
			out[id] = true
		}
	}
	return out
}

// write renders and writes u's NAT table when it changed; u.mu is held.
func (d *Driver) writeUDP(ctx context.Context, u *udpLB) error {
	script, members := udpScript(u.lb, u.down())
	u.members = members
	if script == u.script {
		return nil
	}
	if script == "" {
		script = "table ip onestack_lb {}\ndelete table ip onestack_lb\n"
	}
	if out, err := d.run(ctx, script, "ip", "netns", "exec", u.ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("UDP listeners: nft refused the rules: %s", strings.TrimSpace(out))
	}
	u.script = script
	return nil
}

// applyUDP makes lb's UDP listeners run (removes them when lb has none),
// starting the prober of its monitored UDP pools.
func (d *Driver) applyUDP(ctx context.Context, lb hostapi.LoadBalancer, ns string) error {
	if s, _ := udpScript(lb, nil); s == "" {
		return d.removeUDP(ctx, lb.ID)
	}
	u := d.udp[lb.ID]
	if u != nil && u.ns != ns {
		if err := d.removeUDP(ctx, lb.ID); err != nil {
			return err
		}
		u = nil
	}
	if u == nil {
		if out, err := d.run(ctx, "", "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"); err != nil {
			return fmt.Errorf("enable forwarding for UDP listeners: %s", firstAlert(out, err))
		}
		pctx, cancel := context.WithCancel(context.Background())
		u = &udpLB{ns: ns, checks: map[string]*checkState{}, cancel: cancel}
		d.udp[lb.ID] = u
		d.probers.Add(1)
		go func() {
			defer d.probers.Done()
			d.probeUDP(pctx, u)
		}()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lb = lb
	// Checks of members gone or no longer monitored go; new ones start up,
	// as HAProxy's servers do.
	keep := map[string]bool{}
	for _, p := range lb.Pools {
		if p.Protocol != hostapi.ProtoUDP || !udpMonitored(p) {
			continue
		}
		for _, m := range p.Members {
			if m.AdminUp {
				keep[m.ID] = true
				if u.checks[m.ID] == nil {
					u.checks[m.ID] = &checkState{up: true}
				}
			}
		}
	}
	for id := range u.checks {
		if !keep[id] {
			delete(u.checks, id)
		}
	}
	return d.writeUDP(ctx, u)
}

// removeUDP stops the prober and deletes the UDP NAT table of a load
// balancer, if any.
func (d *Driver) removeUDP(ctx context.Context, id string) error {
	if u := d.udp[id]; u != nil {
		u.mu.Lock()
		u.stopped = true
		u.mu.Unlock()
		u.cancel()
		delete(d.udp, id)
	}
	ns := d.cfg.Namespace(id)
	if !nsExists(ns) {
		return nil
	}
	out, err := d.run(ctx, "table ip onestack_lb {}\ndelete table ip onestack_lb\n", "ip", "netns", "exec", ns, "nft", "-f", "-")
	if err != nil {
		return fmt.Errorf("remove UDP rules: %s", strings.TrimSpace(out))
	}
	return nil
}

// probeUDP runs the health checks of u's monitored UDP pools until ctx
// ends: each member every delay seconds; max_retries_down failures in a
// row take it out of the NAT map, max_retries successes bring it back.
func (d *Driver) probeUDP(ctx context.Context, u *udpLB) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		type job struct {
			id  string
			m   hostapi.Member
			mon hostapi.Monitor
		}
		var jobs []job
		now := time.Now()
		u.mu.Lock()
		ns := u.ns
		for _, p := range u.lb.Pools {
			if p.Protocol != hostapi.ProtoUDP || !udpMonitored(p) {
				continue
			}
			for _, m := range p.Members {
				c := u.checks[m.ID]
				if c == nil || now.Sub(c.lastProbe) < time.Duration(max(p.Monitor.Delay, 1))*time.Second {
					continue
				}
				c.lastProbe = now
				jobs = append(jobs, job{m.ID, m, *p.Monitor})
			}
		}
		u.mu.Unlock()
		if len(jobs) == 0 {
			continue
		}
		results := make([]bool, len(jobs))
		var wg sync.WaitGroup
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = probe(ctx, ns, j.m, j.mon) == nil
			}()
		}
		wg.Wait()
		u.mu.Lock()
		if u.stopped {
			u.mu.Unlock()
			return
		}
		for i, j := range jobs {
			c := u.checks[j.id]
			if c == nil {
				continue
			}
			if results[i] {
				c.ok, c.fail = c.ok+1, 0
				if !c.up && c.ok >= max(j.mon.MaxRetries, 1) {
					c.up = true
					d.log.Info("UDP member passes its checks again", "member_id", j.id, "address", j.m.Address)
				}
			} else {
				c.ok, c.fail = 0, c.fail+1
				if c.up && c.fail >= max(j.mon.MaxRetriesDown, 1) {
					c.up = false
					d.log.Info("UDP member fails its checks: taken out", "member_id", j.id, "address", j.m.Address)
				}
			}
		}
		if err := d.writeUDP(ctx, u); err != nil && ctx.Err() == nil {
			d.log.Warn("updating the UDP members after a health change failed", "error", err)
		}
		u.mu.Unlock()
	}
}
