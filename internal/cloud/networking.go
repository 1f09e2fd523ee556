package cloud

import (
	"context"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	netsvc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

// connectNetworking gives Nova its ports from Neutron and the agents their
// data plane.
func (c *Cloud) connectNetworking(n *netsvc.Service) {
	c.netPlane, c.network = n, n
	c.Compute.SetNetworking(networkingAdapter{n})
}

// networkingAdapter is the networking service as the compute service uses
// it. Every change wakes the agents' network watches once committed.
type networkingAdapter struct{ n *netsvc.Service }

func (a networkingAdapter) ServerPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, serverID, zone string, reqs []computesvc.NetworkRequest, auto bool) ([]hostapi.NIC, error) {
	prs := make([]netsvc.PortRequest, len(reqs))
	for i, r := range reqs {
		prs[i] = netsvc.PortRequest{NetworkID: r.NetworkID, PortID: r.PortID, FixedIP: r.FixedIP}
	}
	tx.AfterCommit(a.n.Notify)
	return a.n.ServerPortsTx(ctx, tx, c, serverID, zone, prs, auto)
}

func (a networkingAdapter) BindServerPortsTx(ctx context.Context, tx *store.Tx, serverID, host string) error {
	tx.AfterCommit(a.n.Notify)
	return a.n.BindServerPortsTx(ctx, tx, serverID, host)
}

func (a networkingAdapter) ReleaseServerPortsTx(ctx context.Context, tx *store.Tx, serverID string) error {
	tx.AfterCommit(a.n.Notify)
	return a.n.ReleaseServerPortsTx(ctx, tx, serverID)
}

func (a networkingAdapter) ServerAddresses(ctx context.Context, ids []string) (map[string][]computesvc.Address, error) {
	in, err := a.n.ServerAddresses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]computesvc.Address, len(in))
	for id, addrs := range in {
		for _, ad := range addrs {
			out[id] = append(out[id], computesvc.Address{Network: ad.NetworkName, MAC: ad.MAC, IP: ad.IP, Version: ad.Version, Type: ad.Type})
		}
	}
	return out, nil
}
