package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/onestack/onestack/internal/agent"
	"github.com/onestack/onestack/internal/driver/linux"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
	"github.com/onestack/onestack/internal/oserr"
	computesvc "github.com/onestack/onestack/internal/service/compute"
)

// DefaultExternalCIDR is the public network's subnet when none is given.
const DefaultExternalCIDR = "172.24.4.0/24"

// agentPlane is the control plane as the in-process agents see it: the
// compute service for guests and the networking service for the data
// plane. Networking is wired after compute, so it is looked up on use.
type agentPlane struct {
	*computesvc.Service
	c *Cloud
}

var _ hostapi.NetworkPlane = agentPlane{}

// WatchNetwork implements hostapi.NetworkPlane.
func (p agentPlane) WatchNetwork(ctx context.Context, host string, since int64) (hostapi.HostNetwork, error) {
	if p.c.netPlane == nil {
		<-ctx.Done()
		return hostapi.HostNetwork{}, ctx.Err()
	}
	return p.c.netPlane.WatchNetwork(ctx, host, since)
}

// WatchNetworkWait serves the agent API's network long poll.
func (p agentPlane) WatchNetworkWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.HostNetwork, error) {
	if p.c.network == nil {
		return hostapi.HostNetwork{}, oserr.NotFound("This cloud runs no networking service.")
	}
	return p.c.network.WatchNetworkWait(ctx, host, since, wait)
}

// ReportNetwork implements hostapi.NetworkPlane.
func (p agentPlane) ReportNetwork(ctx context.Context, r hostapi.NetworkReport) error {
	if p.c.netPlane == nil {
		return fmt.Errorf("this cloud runs no networking service")
	}
	return p.c.netPlane.ReportNetwork(ctx, r)
}

// hostNetworks sets up the namespaces that stand for the qemu hosts on
// this machine (one per host, an underlay between them and the external
// network's outside world) and writes the outside world's namespace name
// to DATA/external-netns. Nothing outside those namespaces is touched.
func (c *Cloud) hostNetworks(ctx context.Context, hosts []string) (*linux.Topology, error) {
	dataDir, err := filepath.Abs(c.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cidr := c.cfg.ExternalCIDR
	if cidr == "" {
		cidr = DefaultExternalCIDR
	}
	gw, err := firstHost(cidr)
	if err != nil {
		return nil, fmt.Errorf("external network %s: %w", cidr, err)
	}
	topo, err := linux.SetupTopology(ctx, linux.TopologyConfig{
		Prefix: linux.Prefix(dataDir), Hosts: hosts, ExternalCIDR: cidr, ExternalGateway: gw,
		StateFile: filepath.Join(dataDir, "network-topology.json"),
	})
	if err != nil {
		return nil, fmt.Errorf("set up the hosts' network namespaces: %w (onestack cleanup --data-dir %s removes a broken set)", err, c.cfg.DataDir)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "external-netns"), []byte(topo.ExternalNS()+"\n"), 0o644); err != nil {
		return nil, err
	}
	return topo, nil
}

// hostDataPlane makes the linux data plane of one qemu host. Its metadata
// service answers from the host's agent's desired guests, set once the
// agent exists (ag).
func (c *Cloud) hostDataPlane(topo *linux.Topology, host string, ag **agent.Agent) (*linux.Driver, error) {
	log := c.cfg.Log.With("service", "dataplane", "host", host)
	d, err := linux.New(linux.Config{
		NetNS: topo.HostNS(host), Host: host, TunnelIP: topo.TunnelIP(host), Underlay: "ul0",
		PhysNets: topo.PhysNets(), Log: log,
		Metadata: func(_ context.Context, serverID string) (metadata.Instance, error) {
			if *ag == nil {
				return metadata.Instance{}, fmt.Errorf("host %s is starting", host)
			}
			g, ok := (*ag).Guest(serverID)
			if !ok {
				return metadata.Instance{}, fmt.Errorf("server %s is not on host %s", serverID, host)
			}
			return metadata.ForGuest(g), nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("data plane of host %s: %w", host, err)
	}
	c.closers = append(c.closers, d.Close)
	return d, nil
}

// firstHost is a subnet's first address, its gateway by convention.
func firstHost(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return "", fmt.Errorf("give an IPv4 CIDR of /30 or larger, e.g. %s", DefaultExternalCIDR)
	}
	return p.Masked().Addr().Next().String(), nil
}
