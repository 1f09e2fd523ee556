package cloud

import (
	"context"
	"errors"
	"net/http"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
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
	nics, err := a.n.ServerPortsTx(ctx, tx, c, serverID, zone, prs, auto)
	return nics, novaError(err)
}

// novaError turns a networking error into the one Nova answers a boot
// with: Neutron's type names are not Nova's body keys, and Nova answers a
// missing network or port, an address in use or exhausted with 400, a
// port in use or an ambiguous network with 409 and the port quota with 403.
func novaError(err error) error {
	var e *oserr.Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Status == http.StatusNotFound:
		return oserr.BadRequest("%s", e.Message)
	case e.Type == "OverQuota":
		return oserr.Forbidden("Maximum number of ports exceeded: %s Raise the project's port quota (openstack quota set --ports N) or delete unused ports.", e.Message)
	case e.Type == "PortInUse", e.Type == "NetworkAmbiguous":
		return oserr.Conflict("%s", e.Message)
	case e.Status == http.StatusConflict:
		return oserr.BadRequest("%s", e.Message) // address in use or none left
	}
	c := *e
	c.Type = ""
	return &c
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
