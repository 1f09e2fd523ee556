package network

// Network IP availability: address use per network and subnet.

import (
	"context"
	"math/big"
	"net/netip"

	"github.com/onestack/onestack/internal/store"
)

// IPAvailability is one network's address use.
type IPAvailability struct {
	Network store.Network
	Subnets []SubnetAvailability
}

// SubnetAvailability is one subnet's address use.
type SubnetAvailability struct {
	Subnet store.Subnet
	Total  *big.Int
	Used   int
}

// IPAvailabilities returns address use per network (admins).
func (s *Service) IPAvailabilities(ctx context.Context) ([]IPAvailability, error) {
	var out []IPAvailability
	err := s.read(ctx, func(tx *store.Tx) error {
		nets, err := tx.ListNetworks(ctx, store.Query{All: true})
		if err != nil {
			return err
		}
		subs, err := tx.ListSubnets(ctx, store.Query{All: true})
		if err != nil {
			return err
		}
		used, err := tx.CountAllocated(ctx)
		if err != nil {
			return err
		}
		by := map[string][]SubnetAvailability{}
		for _, sn := range subs {
			total := new(big.Int)
			for _, r := range sn.AllocationPools {
				a, _ := netip.ParseAddr(r.Start)
				b, _ := netip.ParseAddr(r.End)
				x := new(big.Int).SetBytes(b.AsSlice())
				x.Sub(x, new(big.Int).SetBytes(a.AsSlice()))
				x.Add(x, big.NewInt(1))
				total.Add(total, x)
			}
			by[sn.NetworkID] = append(by[sn.NetworkID], SubnetAvailability{Subnet: sn, Total: total, Used: used[sn.ID]})
		}
		for _, n := range nets {
			out = append(out, IPAvailability{Network: n, Subnets: by[n.ID]})
		}
		return nil
	})
	return out, err
}
