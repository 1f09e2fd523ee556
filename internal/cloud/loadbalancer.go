package cloud

import (
	"context"
	"fmt"
	"time"

	lbapi "github.com/onestack/onestack/internal/api/loadbalancer"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	lbsvc "github.com/onestack/onestack/internal/service/loadbalancer"
	netsvc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

// loadBalancerService names the load-balancer service's type in cloud.go.
type loadBalancerService = lbsvc.Service

// wireLoadBalancer builds Octavia: the load-balancer service over Neutron
// (the VIP ports and their security groups), its API under /load-balancer
// (catalog type load-balancer, name octavia) and its reconciler (load
// balancers whose host does not apply a change go to ERROR).
func (c *Cloud) wireLoadBalancer(context.Context) error {
	if c.network == nil {
		return fmt.Errorf("load balancing needs the networking service wired first")
	}
	var cfg lbsvc.Config
	if c.Compute != nil {
		cfg.DefaultComputeZone = c.Compute.Config().DefaultZone
	}
	svc := lbsvc.New(c.DB, lbNetwork{c.network}, nil, c.cfg.Log.With("service", "loadbalancer"), cfg)
	c.LoadBalancer = svc
	c.mount(lbapi.New(svc, c.env()).Service())
	c.loops = append(c.loops, svc.Run)
	return nil
}

// lbNetwork is Neutron as the load-balancer service uses it.
type lbNetwork struct{ n *netsvc.Service }

func (a lbNetwork) Subnet(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.Subnet, error) {
	return a.n.SubnetForLB(ctx, tx, c, id)
}

func (a lbNetwork) NetworkSubnets(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) ([]store.Subnet, error) {
	return a.n.NetworkSubnetsForLB(ctx, tx, c, id)
}

func (a lbNetwork) CreateVIPTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, r lbsvc.VIPRequest) (lbsvc.VIP, error) {
	v, err := a.n.CreateVIPTx(ctx, tx, c, netsvc.VIPRequest{LoadBalancerID: r.LoadBalancerID, ProjectID: r.ProjectID, PortID: r.PortID,
		NetworkID: r.NetworkID, SubnetID: r.SubnetID, Address: r.Address, Host: r.Host, ExtraGroups: r.ExtraGroups})
	return lbsvc.VIP{PortID: v.PortID, NetworkID: v.NetworkID, SubnetID: v.SubnetID, Address: v.Address, GroupID: v.GroupID, UserPort: v.UserPort}, err
}

func (a lbNetwork) SetVIPRulesTx(ctx context.Context, tx *store.Tx, groupID string, rules []lbsvc.VIPRule) error {
	rs := make([]netsvc.VIPRule, len(rules))
	for i, r := range rules {
		rs[i] = netsvc.VIPRule{Protocol: r.Protocol, Port: r.Port, CIDR: r.CIDR}
	}
	return a.n.SetVIPRulesTx(ctx, tx, groupID, rs)
}

func (a lbNetwork) BindVIPTx(ctx context.Context, tx *store.Tx, portID, host string) error {
	return a.n.BindVIPTx(ctx, tx, portID, host)
}

func (a lbNetwork) DeleteVIPTx(ctx context.Context, tx *store.Tx, v lbsvc.VIP) error {
	return a.n.DeleteVIPTx(ctx, tx, netsvc.VIP{PortID: v.PortID, NetworkID: v.NetworkID, SubnetID: v.SubnetID, Address: v.Address, GroupID: v.GroupID, UserPort: v.UserPort})
}

func (a lbNetwork) SetMemberPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, r lbsvc.MemberPortsRequest) (map[string]string, error) {
	return a.n.SetMemberPortsTx(ctx, tx, c, netsvc.MemberPortsRequest{LoadBalancerID: r.LoadBalancerID, ProjectID: r.ProjectID,
		Host: r.Host, GroupID: r.GroupID, Subnets: r.Subnets, Have: r.Have})
}

func (a lbNetwork) NotifyNetwork() { a.n.Notify() }

// WatchLoadBalancers implements hostapi.LoadBalancerPlane for the
// in-process agents.
func (p agentPlane) WatchLoadBalancers(ctx context.Context, host string, since int64) (hostapi.LoadBalancerSet, error) {
	if p.c.LoadBalancer == nil {
		<-ctx.Done()
		return hostapi.LoadBalancerSet{}, ctx.Err()
	}
	return p.c.LoadBalancer.WatchLoadBalancers(ctx, host, since)
}

// WatchLoadBalancersWait serves the agent API's load balancer long poll.
func (p agentPlane) WatchLoadBalancersWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.LoadBalancerSet, error) {
	if p.c.LoadBalancer == nil {
		return hostapi.LoadBalancerSet{}, oserr.NotFound("This cloud runs no load-balancer service.")
	}
	return p.c.LoadBalancer.WatchLoadBalancersWait(ctx, host, since, wait)
}

// ReportLoadBalancers implements hostapi.LoadBalancerPlane.
func (p agentPlane) ReportLoadBalancers(ctx context.Context, r hostapi.LoadBalancerReport) error {
	if p.c.LoadBalancer == nil {
		return fmt.Errorf("this cloud runs no load-balancer service")
	}
	return p.c.LoadBalancer.ReportLoadBalancers(ctx, r)
}
