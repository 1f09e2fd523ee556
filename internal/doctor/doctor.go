// Package doctor checks a live cloud's invariants: what the store says
// against itself (tasks that never end, faults, placement allocations,
// volumes against their attachments and the servers' volumes, what load
// balancers own against the load balancers)
// and against the hosts of this machine (guest processes and files). It
// is an operator tool above the store and the drivers; it changes
// nothing, and says for each problem the command that repairs it.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/driver/qemu"
	compute "github.com/onestack/onestack/internal/service/compute"
	lbsvc "github.com/onestack/onestack/internal/service/loadbalancer"
	netsvc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

// Problem is one broken invariant.
type Problem struct {
	// Subject names what is wrong: "server ID (name)", "host NAME", …
	Subject string
	// Problem says what is wrong, Repair the command that fixes it.
	Problem, Repair string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s\n  repair: %s", p.Subject, p.Problem, p.Repair)
}

// Config says what to check.
type Config struct {
	DB *store.DB
	// HostDirs maps the names of the qemu hosts on this machine to their
	// state directories; their guests are checked against the records.
	HostDirs map[string]string
	// StuckAfter is how long a task may run before it counts as stuck
	// (10 minutes when zero).
	StuckAfter time.Duration
	Now        func() time.Time
}

// Check runs every check and returns the problems found, sorted.
func Check(ctx context.Context, cfg Config) ([]Problem, error) {
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var hosts []store.ComputeHost
	servers := map[string][]store.Server{} // host -> live servers on it or moving off it
	allocs := map[string][]store.Allocation{}
	var unplaced []store.Server
	err := cfg.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		if hosts, err = tx.ListHosts(ctx); err != nil {
			return err
		}
		for _, h := range hosts {
			if servers[h.Host], err = tx.ServersOnHost(ctx, h.Host); err != nil {
				return err
			}
			if allocs[h.ID], err = tx.ProviderAllocations(ctx, h.ID); err != nil {
				return err
			}
		}
		unplaced, err = tx.ServersToSchedule(ctx, 10000)
		return err
	})
	if err != nil {
		return nil, err
	}
	var ps []Problem
	seen := map[string]bool{}
	for _, h := range hosts {
		for _, v := range servers[h.Host] {
			if seen[v.ID] {
				continue
			}
			seen[v.ID] = true
			ps = append(ps, checkServer(cfg, v)...)
		}
		ps = append(ps, checkAllocations(h, servers[h.Host], allocs[h.ID])...)
	}
	for _, v := range unplaced {
		ps = append(ps, checkServer(cfg, v)...)
	}
	portProblems, err := checkPorts(ctx, cfg, servers)
	if err != nil {
		return nil, err
	}
	ps = append(ps, portProblems...)
	lbProblems, err := checkLoadBalancers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ps = append(ps, lbProblems...)
	volumeProblems, err := checkVolumes(ctx, cfg, servers, unplaced)
	if err != nil {
		return nil, err
	}
	ps = append(ps, volumeProblems...)
	procs, err := qemu.Processes()
	if err != nil {
		return nil, err
	}
	for name, dir := range cfg.HostDirs {
		local, err := checkHost(name, dir, servers[name], procs)
		if err != nil {
			return nil, err
		}
		ps = append(ps, local...)
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Subject != ps[j].Subject {
			return ps[i].Subject < ps[j].Subject
		}
		return ps[i].Problem < ps[j].Problem
	})
	return ps, nil
}

func subject(v store.Server) string { return fmt.Sprintf("server %s (%s)", v.ID, v.Name) }

// checkServer finds records that cannot be right whatever the hosts say.
func checkServer(cfg Config, v store.Server) []Problem {
	var ps []Problem
	age := cfg.Now().Sub(v.UpdatedAt)
	switch {
	case v.TaskState == "deleting" && age > cfg.StuckAfter:
		ps = append(ps, Problem{subject(v), fmt.Sprintf("deleting for %s: its host never confirmed", age.Round(time.Second)),
			fmt.Sprintf("openstack server set --state error %s && openstack server delete %s", v.ID, v.ID)})
	case v.TaskState != "" && age > cfg.StuckAfter:
		ps = append(ps, Problem{subject(v), fmt.Sprintf("task %s has run for %s (vm_state %s, host %q)", v.TaskState, age.Round(time.Second), v.VMState, v.Host),
			fmt.Sprintf("openstack server set --state active %s", v.ID)})
	}
	if v.VMState == "error" && v.Fault == nil {
		ps = append(ps, Problem{subject(v), "in ERROR without a fault saying why",
			fmt.Sprintf("openstack server rebuild %s (or openstack server delete %s)", v.ID, v.ID)})
	}
	return ps
}

// claim is what a server should hold in placement (the scheduler's request).
func claim(f store.Flavor) map[string]int64 {
	r := map[string]int64{"VCPU": int64(f.VCPUs), "MEMORY_MB": int64(f.RAM)}
	if disk := int64(f.Disk + f.Ephemeral + (f.Swap+1023)/1024); disk > 0 {
		r["DISK_GB"] = disk
	}
	return r
}

// checkAllocations compares a host's allocations with its servers: each
// server placed there holds its flavor, and nothing else is allocated.
func checkAllocations(h store.ComputeHost, vs []store.Server, as []store.Allocation) []Problem {
	held := map[string]map[string]int64{}
	for _, a := range as {
		if held[a.ConsumerUUID] == nil {
			held[a.ConsumerUUID] = map[string]int64{}
		}
		held[a.ConsumerUUID][a.ResourceClass] += a.Used
	}
	expected := map[string]bool{}
	var ps []Problem
	for _, v := range vs {
		if v.Host == h.Host {
			expected[v.ID] = true
			if v.VMState == "error" && v.LaunchedAt == nil {
				delete(held, v.ID) // a failed build releases its claim
				expected[v.ID] = false
				continue
			}
			want := claim(v.Flavor)
			if got := held[v.ID]; !sameClaim(got, want) {
				ps = append(ps, Problem{subject(v), fmt.Sprintf("holds %s on host %s in placement, its flavor needs %s", fmtClaim(got), h.Host, fmtClaim(want)),
					fmt.Sprintf("openstack --os-placement-api-version 1.28 resource provider allocation set --allocation rp=%s,%s --project-id %s --user-id %s %s",
						h.ID, claimArgs(want), v.ProjectID, v.UserID, v.ID)})
			}
		}
		if v.Migration != nil && v.Migration.MigrationConsumer != "" {
			expected[v.Migration.MigrationConsumer] = true
		}
	}
	for consumer, got := range held {
		if !expected[consumer] {
			ps = append(ps, Problem{"allocation " + consumer, fmt.Sprintf("holds %s on host %s but no live server or move there uses it", fmtClaim(got), h.Host),
				"openstack resource provider allocation delete " + consumer})
		}
	}
	return ps
}

func sameClaim(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func fmtClaim(m map[string]int64) string {
	if len(m) == 0 {
		return "nothing"
	}
	return claimArgs(m)
}

func claimArgs(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}

// checkHost compares one local qemu host's guests with the records: every
// running server has exactly one guest process, every stopped one none,
// and every guest on the host has a server there.
func checkHost(name, dir string, vs []store.Server, procs map[string][]int) ([]Problem, error) {
	onDisk, err := qemu.Inspect(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect host %s in %s: %w", name, dir, err)
	}
	byID := map[string]qemu.GuestOnDisk{}
	for _, g := range onDisk {
		byID[g.ID] = g
	}
	var ps []Problem
	live := map[string]bool{}
	for _, v := range vs {
		live[v.ID] = true
		if v.Host != name || v.TaskState != "" {
			continue // moving off, or a task in progress: the agent is on it
		}
		g, ok := byID[v.ID]
		pids := procs[v.ID]
		switch v.VMState {
		case "active", "paused":
			if !ok || g.PID == 0 {
				ps = append(ps, Problem{subject(v), fmt.Sprintf("%s on %s but no guest process runs there", strings.ToUpper(v.VMState), name),
					"openstack server reboot --hard " + v.ID})
			}
		case "stopped", "suspended":
			if ok && g.PID != 0 {
				ps = append(ps, Problem{subject(v), fmt.Sprintf("%s but its guest process %d runs on %s", v.VMState, g.PID, name),
					fmt.Sprintf("kill %d", g.PID)})
			}
		}
		for _, pid := range pids {
			if pid != g.PID {
				ps = append(ps, Problem{subject(v), fmt.Sprintf("a second guest process %d runs besides the host's own (%d)", pid, g.PID),
					fmt.Sprintf("kill -9 %d", pid)})
			}
		}
	}
	for _, g := range onDisk {
		if live[g.ID] {
			continue
		}
		repair := "rm -rf " + g.Dir
		what := "guest files"
		if g.PID != 0 {
			repair = fmt.Sprintf("kill -9 %d && %s", g.PID, repair)
			what = fmt.Sprintf("a running guest (process %d)", g.PID)
		}
		ps = append(ps, Problem{"host " + name, fmt.Sprintf("%s for server %s, which has no record on this host", what, g.ID), repair})
	}
	return ps, nil
}

// checkPorts compares the servers' ports with the servers: a port made for
// a server (device_owner compute:*) whose server is gone leaks an address;
// a live server whose NIC's port is gone has lost its network.
func checkPorts(ctx context.Context, cfg Config, servers map[string][]store.Server) ([]Problem, error) {
	var ps []Problem
	err := cfg.DB.Read(ctx, func(tx *store.Tx) error {
		ports, err := tx.ListPorts(ctx, store.Query{All: true})
		if err != nil {
			return err
		}
		byServer := map[string][]store.Port{}
		for _, p := range ports {
			if strings.HasPrefix(p.DeviceOwner, "compute:") && p.DeviceID != "" {
				byServer[p.DeviceID] = append(byServer[p.DeviceID], p)
			}
		}
		ids := make([]string, 0, len(byServer))
		for id := range byServer {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			v, err := tx.GetServer(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && !v.Deleted {
				continue
			}
			for _, p := range byServer[id] {
				ps = append(ps, Problem{"port " + p.ID, fmt.Sprintf("belongs to server %s, which no longer exists: its addresses stay taken", id),
					"openstack port delete " + p.ID})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Live servers whose NICs' ports are gone (the servers Check read).
	err = cfg.DB.Read(ctx, func(tx *store.Tx) error {
		seen := map[string]bool{}
		for _, vs := range servers {
			for _, v := range vs {
				if v.NICs == "" || v.Deleted || seen[v.ID] {
					continue
				}
				seen[v.ID] = true
				for _, n := range compute.NICs(v) {
					if _, err := tx.GetPort(ctx, n.PortID); errors.Is(err, store.ErrNotFound) {
						ps = append(ps, Problem{subject(v), fmt.Sprintf("its NIC's port %s no longer exists: the guest has lost that network", n.PortID),
							"openstack server delete " + v.ID + "   # or rebuild it on a new port"})
					} else if err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return ps, err
}

// checkLoadBalancers finds what the load-balancer service made for a load
// balancer that no longer exists (ports and security groups with its
// owner tag: addresses stay taken, rules stay), and load balancers whose
// VIP port is gone (nothing reaches them).
func checkLoadBalancers(ctx context.Context, cfg Config) ([]Problem, error) {
	var ps []Problem
	err := cfg.DB.Read(ctx, func(tx *store.Tx) error {
		prefix := netsvc.LBOwnerTag("")
		exists := map[string]bool{}
		lbs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: lbsvc.KindLoadBalancer})
		if err != nil {
			return err
		}
		for _, o := range lbs {
			exists[o.ID] = true
		}
		owner := func(tags []string) string {
			for _, t := range tags {
				if id, ok := strings.CutPrefix(t, prefix); ok && !exists[id] {
					return id
				}
			}
			return ""
		}
		ports, err := tx.ListPorts(ctx, store.Query{All: true})
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for _, p := range ports {
			live[p.ID] = true
			if id := owner(p.Tags); id != "" {
				ps = append(ps, Problem{"port " + p.ID, fmt.Sprintf("was made for load balancer %s, which no longer exists: its addresses stay taken", id),
					"openstack port delete " + p.ID})
			}
		}
		groups, err := tx.ListSecurityGroups(ctx, store.Query{All: true})
		if err != nil {
			return err
		}
		for _, g := range groups {
			if id := owner(g.Tags); id != "" {
				ps = append(ps, Problem{"security group " + g.ID, fmt.Sprintf("was made for load balancer %s, which no longer exists", id),
					"openstack security group delete " + g.ID})
			}
		}
		for _, o := range lbs {
			var lb struct{ VIPPortID string }
			if err := json.Unmarshal([]byte(o.Doc), &lb); err != nil {
				return fmt.Errorf("load balancer %s: %w", o.ID, err)
			}
			if lb.VIPPortID != "" && !live[lb.VIPPortID] {
				ps = append(ps, Problem{"load balancer " + o.ID, fmt.Sprintf("its VIP port %s no longer exists: no client reaches it", lb.VIPPortID),
					"openstack loadbalancer delete --cascade " + o.ID + "   # and create it again"})
			}
		}
		return nil
	})
	return ps, err
}

// checkVolumes compares volumes, their attachments and the servers' block
// device mappings: a volume attached (reserved, attaching, in-use,
// detaching) has an attachment; an attachment to a server is in that
// server's mappings, and the server exists; a mapping names an attachment
// that exists; an attach or detach does not wait on its host forever.
func checkVolumes(ctx context.Context, cfg Config, servers map[string][]store.Server, unplaced []store.Server) ([]Problem, error) {
	var ps []Problem
	err := cfg.DB.Read(ctx, func(tx *store.Tx) error {
		vols, err := tx.ListVolumes(ctx, store.VolumeQuery{})
		if err != nil {
			return err
		}
		ids := make([]string, len(vols))
		for i, v := range vols {
			ids[i] = v.ID
		}
		atts, err := tx.AttachmentsOf(ctx, ids)
		if err != nil {
			return err
		}
		attached := map[string]bool{}
		for _, as := range atts {
			for _, a := range as {
				attached[a.ID] = true
			}
		}
		// The live servers' mappings, by attachment.
		mapped := map[string]bool{}
		seen := map[string]bool{}
		live := append([]store.Server(nil), unplaced...)
		for _, vs := range servers {
			live = append(live, vs...)
		}
		for _, v := range live {
			if seen[v.ID] || v.Deleted {
				continue
			}
			seen[v.ID] = true
			for _, b := range compute.BDMs(v) {
				mapped[b.AttachmentID] = true
				if !attached[b.AttachmentID] {
					ps = append(ps, Problem{subject(v), fmt.Sprintf("its mapping of volume %s names attachment %s, which does not exist", b.VolumeID, b.AttachmentID),
						fmt.Sprintf("openstack server remove volume %s %s", v.ID, b.VolumeID)})
				}
				if (b.State == compute.BDMAttaching || b.State == compute.BDMDetaching) && !b.Started.IsZero() && cfg.Now().Sub(b.Started) > cfg.StuckAfter {
					ps = append(ps, Problem{subject(v), fmt.Sprintf("volume %s has been %s for %s: host %q never confirmed", b.VolumeID, b.State,
						cfg.Now().Sub(b.Started).Round(time.Second), v.Host),
						fmt.Sprintf("restart the agent of host %s (it confirms the %s when it runs), or openstack server delete %s", v.Host, strings.TrimSuffix(b.State, "ing"), v.ID)})
				}
			}
		}
		for _, v := range vols {
			as := atts[v.ID]
			switch v.Status {
			case "reserved", "attaching", "in-use", "detaching":
				if len(as) == 0 {
					ps = append(ps, Problem{fmt.Sprintf("volume %s (%s)", v.ID, v.Name), fmt.Sprintf("%s with no attachment: nothing will move it", v.Status),
						"openstack volume set --state available --detached " + v.ID})
				}
			}
			for _, a := range as {
				if a.InstanceUUID == "" || mapped[a.ID] {
					continue
				}
				srv, err := tx.GetServer(ctx, a.InstanceUUID)
				if errors.Is(err, store.ErrNotFound) {
					continue // not a server of this cloud (an attachment made through Cinder's API)
				}
				if err != nil {
					return err
				}
				what := fmt.Sprintf("its attachment %s to server %s is not among the server's volumes", a.ID, srv.ID)
				if srv.Deleted {
					what = fmt.Sprintf("its attachment %s belongs to server %s, which no longer exists", a.ID, srv.ID)
				}
				ps = append(ps, Problem{fmt.Sprintf("volume %s (%s)", v.ID, v.Name), what + ": the volume stays " + v.Status,
					"openstack --os-volume-api-version 3.27 volume attachment delete " + a.ID})
			}
		}
		return nil
	})
	return ps, err
}
