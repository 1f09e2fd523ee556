package cloud

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/onestack/onestack/internal/agent"
	"github.com/onestack/onestack/internal/api/agentapi"
	"github.com/onestack/onestack/internal/api/compute"
	"github.com/onestack/onestack/internal/controller/scheduler"
	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/driver/haproxy"
	"github.com/onestack/onestack/internal/driver/qemu"
	"github.com/onestack/onestack/internal/guestimage"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/hostconsole"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// wireCompute builds Nova: the compute service, its API, the scheduler and
// (with the fake hypervisor) the in-process fake hosts.
func (c *Cloud) wireCompute(ctx context.Context) error {
	if c.Placement == nil || c.Image == nil {
		return fmt.Errorf("compute needs the placement and image services wired first")
	}
	c.Compute = computesvc.New(c.DB, imagesFor(c.Image), placementFor(c.Placement), c.cfg.Log.With("service", "compute"), computesvc.Config{DeletedRetention: c.cfg.DeletedRetention, PeerPoll: peerPoll(c.cfg.Controller)})
	c.mount(compute.New(c.Compute, c.env()).Service())
	c.mount(agentapi.Service(c.Compute, agentPlane{c.Compute, c}, agentPlane{c.Compute, c}, c.Identity))

	// Hosts whose agent runs in another process serve their consoles
	// themselves; hosts of this process override these below.
	remote := remoteConsoles{db: c.DB}
	c.Compute.SetConsoleSource(remote.Log)
	c.Compute.SetSerialDialer(remote.Serial)

	sched := scheduler.New(c.Compute, capacityFor(c.Placement), c.cfg.Log.With("service", "scheduler"), scheduler.Config{})
	c.loops = append(c.loops, sched.Run, c.purgeDeleted)

	switch c.cfg.Hypervisor {
	case "fake":
		size := c.cfg.FakeHost
		if size.VCPUs == 0 {
			size = FakeHostSize{VCPUs: 16, MemoryMB: 32768, DiskGB: 1000}
		}
		drivers := map[string]*fake.Driver{}
		c.cfg.Log.Warn("hypervisor is fake: servers get no real guests (for tests and scale benchmarks)", "hosts", c.cfg.FakeHosts)
		for i := 1; i <= c.cfg.FakeHosts; i++ {
			host := fmt.Sprintf("host-%d", i)
			log := c.cfg.Log.With("service", "agent", "host", host)
			d := fake.New(log, size.VCPUs, size.MemoryMB, size.DiskGB)
			drivers[host] = d
			a := agent.New(agentPlane{c.Compute, c}, d, log, agent.Config{Host: host, Network: fake.NewNetwork(log), LoadBalancers: fake.NewLoadBalancers(log)})
			c.loops = append(c.loops, a.Run)
		}
		c.Compute.SetConsoleSource(func(ctx context.Context, host, id string) (string, error) {
			d := drivers[host]
			if d == nil {
				return remote.Log(ctx, host, id)
			}
			return d.ConsoleOutput(id), nil
		})
		c.Compute.SetSerialDialer(nil) // fake guests have no serial port
	case "qemu":
		return c.wireQemuHosts(ctx)
	case "", "none":
	default:
		return fmt.Errorf("hypervisor %q is unknown; use --hypervisor qemu (real guests) or fake (no guests, for scale tests)", c.cfg.Hypervisor)
	}
	return nil
}

// wireQemuHosts runs the in-process hosts with real guests, each with its
// own state directory under DATA/hosts. They share the machine: each
// reports its whole capacity.
func (c *Cloud) wireQemuHosts(ctx context.Context) error {
	kernel := ""
	if c.cfg.Accel == "" || c.cfg.Accel == "auto" {
		k, err := guestimage.Kernel(ctx, c.cfg.CacheDir)
		if err != nil {
			c.cfg.Log.Warn("no kernel to probe KVM with; guests use software emulation", "error", err)
		}
		kernel = k
	}
	hostsDir := filepath.Join(c.cfg.DataDir, "hosts")
	if err := os.MkdirAll(hostsDir, 0o700); err != nil {
		return fmt.Errorf("create hosts directory: %w", err)
	}
	accel := qemu.Probe(ctx, qemu.ProbeConfig{Want: c.cfg.Accel, Kernel: kernel, Cache: filepath.Join(hostsDir, "accel.json")})
	c.cfg.Log.Info("qemu hosts use "+accel.Name, "accel", accel.Name, "reason", accel.Reason, "hosts", c.cfg.FakeHosts)
	if c.cfg.AccelChosen != nil {
		c.cfg.AccelChosen(accel.Name, accel.Reason)
	}
	drivers := map[string]*qemu.Driver{}
	peer := func(host string) (string, bool) {
		_, ok := drivers[host]
		return filepath.Join(hostsDir, host), ok
	}
	var names []string
	for i := 1; i <= c.cfg.FakeHosts; i++ {
		names = append(names, fmt.Sprintf("host-%d", i))
	}
	topo, err := c.hostNetworks(ctx, names)
	if err != nil {
		// Guests without NICs still run; one with NICs fails with a fault
		// that says its host has no data plane.
		c.cfg.Log.Error("the qemu hosts run without networking", "error", err)
	}
	for _, host := range names {
		log := c.cfg.Log.With("service", "agent", "host", host)
		cfg := qemu.Config{Dir: filepath.Join(hostsDir, host), Host: host, Accel: accel, Images: c.Compute, Log: log, Peer: peer}
		// A resync every 15 s notices guests that stopped by themselves
		// (a host's guests are few; the watch answers from an index).
		acfg := agent.Config{Host: host, Resync: 15 * time.Second}
		var ag *agent.Agent
		if topo != nil {
			nd, err := c.hostDataPlane(topo, host, &ag)
			if err != nil {
				return err
			}
			cfg.OpenTap, acfg.Network, acfg.HostIP = nd.OpenTap, nd, topo.TunnelIP(host)
			if err := haproxy.Available(""); err != nil {
				log.Warn("this host runs no load balancers", "error", err)
			} else {
				lbd, err := haproxy.New(haproxy.Config{Dir: filepath.Join(hostsDir, host, "lb"), Log: log.With("service", "loadbalancer"),
					Namespace: func(id string) string { return nd.PortNamespace(hostapi.LBNamespace(id)) }})
				if err != nil {
					return err
				}
				acfg.LoadBalancers = lbd
				c.closers = append(c.closers, lbd.Close)
			}
		}
		d, err := qemu.New(cfg)
		if err != nil {
			return err
		}
		drivers[host] = d
		ag = agent.New(agentPlane{c.Compute, c}, d, log, acfg)
		c.loops = append(c.loops, ag.Run)
	}
	remote := remoteConsoles{db: c.DB}
	c.Compute.SetConsoleSource(func(ctx context.Context, host, id string) (string, error) {
		d := drivers[host]
		if d == nil {
			return remote.Log(ctx, host, id)
		}
		return d.ConsoleOutput(id)
	})
	c.Compute.SetSerialDialer(func(ctx context.Context, host, id string) (net.Conn, error) {
		d := drivers[host]
		if d == nil {
			return remote.Serial(ctx, host, id)
		}
		return d.SerialConsole(ctx, id)
	})
	return nil
}

// purgeDeleted removes servers deleted longer ago than the retention, with
// their instance actions, so churn does not grow the tables. Each pass
// purges in batches of purgeBatch, one short write transaction each, until
// nothing is left or maxPurgeBatches ran (the next pass takes the rest).
func (c *Cloud) purgeDeleted(ctx context.Context) error {
	every := c.cfg.PurgeInterval
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		total, err := c.PurgeDeleted(ctx)
		if total > 0 {
			c.cfg.Log.Info("purged deleted servers", "count", total)
		}
		if err != nil && ctx.Err() == nil {
			c.cfg.Log.Warn("purging deleted servers failed", "error", err)
		}
	}
}

const (
	purgeBatch      = 1000
	maxPurgeBatches = 100
)

// PurgeDeleted runs one purge pass now and returns how many servers it
// removed (the background loop runs one every PurgeInterval).
func (c *Cloud) PurgeDeleted(ctx context.Context) (int, error) {
	cutoff := c.Compute.Now().Add(-c.Compute.Config().DeletedRetention)
	total := 0
	for i := 0; i < maxPurgeBatches; i++ {
		var n int
		err := c.DB.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.PurgeDeletedServers(ctx, cutoff, purgeBatch)
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
	return total, nil
}

// peerPoll is how often a watch re-reads the store for changes another
// controller made (those do not wake this process): never all-in-one.
func peerPoll(controller bool) time.Duration {
	if controller {
		return time.Second
	}
	return 0
}

// remoteConsoles reads the consoles of hosts whose agent runs in another
// process (`onestack agent`), through the console server it registered.
type remoteConsoles struct {
	db     *store.DB
	client hostconsole.Client
}

func (r remoteConsoles) endpoint(ctx context.Context, host string) (string, string, error) {
	var h store.ComputeHost
	err := r.db.Read(ctx, func(tx *store.Tx) (err error) {
		h, err = tx.GetHostByName(ctx, host)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("host %s: %w", host, err)
	}
	if h.ConsoleURL == "" {
		return "", "", fmt.Errorf("host %s registered no console server (its agent runs the fake hypervisor, or an onestack without console serving: restart it with a current one)", host)
	}
	return h.ConsoleURL, h.ConsoleKey, nil
}

// Log reads a guest's console log from its host's agent.
func (r remoteConsoles) Log(ctx context.Context, host, id string) (string, error) {
	u, key, err := r.endpoint(ctx, host)
	if err != nil {
		return "", err
	}
	return r.client.Log(ctx, u, key, id)
}

// Serial opens a guest's serial console through its host's agent.
func (r remoteConsoles) Serial(ctx context.Context, host, id string) (net.Conn, error) {
	u, key, err := r.endpoint(ctx, host)
	if err != nil {
		return nil, err
	}
	return r.client.DialSerial(ctx, u, key, id)
}
