package network

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// MaxVNI is the largest VXLAN network identifier.
const MaxVNI = 1<<24 - 1

// NetworkInput is a network create or update; nil fields are not given.
type NetworkInput struct {
	ProjectID                      string
	Name, Description              *string
	AdminStateUp, Shared, External *bool
	PortSecurity, IsDefault        *bool
	NetworkType, PhysicalNetwork   *string
	SegmentationID                 *int
	MTU                            *int
	AZHints                        *[]string
}

// NetworkView is a network with what Neutron shows about it.
type NetworkView struct {
	store.Network
	Subnets []string
	Zones   []string
	Status  string
}

func (s *Service) view(n store.Network, subnets []string) NetworkView {
	if subnets == nil {
		subnets = []string{}
	}
	return NetworkView{Network: n, Subnets: subnets, Zones: []string{s.cfg.DefaultZone}, Status: "ACTIVE"}
}

// canSeeNetwork is Neutron's network read policy: the owner, admins, and
// everyone for shared and external networks.
func canSeeNetwork(c *auth.Credentials, n store.Network) bool {
	return owns(c, n.ProjectID) || n.Shared || n.External
}

// CreateNetwork creates a network; provider attributes are for admins.
func (s *Service) CreateNetwork(ctx context.Context, c *auth.Credentials, in NetworkInput) (NetworkView, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return NetworkView{}, err
	}
	if !c.IsAdmin() && (in.NetworkType != nil || in.PhysicalNetwork != nil || in.SegmentationID != nil) {
		return NetworkView{}, forbidden("create_network:provider:network_type")
	}
	if !c.IsAdmin() && in.Shared != nil && *in.Shared {
		return NetworkView{}, forbidden("create_network:shared")
	}
	if !c.IsAdmin() && in.External != nil && *in.External {
		return NetworkView{}, forbidden("create_network:router:external")
	}
	now := s.now()
	n := store.Network{ID: uuid.NewString(), ProjectID: project, AdminStateUp: true, PortSecurity: true,
		NetworkType: "vxlan", AZHints: []string{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	var out NetworkView
	err = s.write(ctx, func(tx *store.Tx) error {
		if err := s.quota(ctx, tx, project, "network", 1); err != nil {
			return err
		}
		if err := s.applyNetwork(ctx, tx, &n, in, true); err != nil {
			return err
		}
		if err := tx.PutNetwork(ctx, &n, true); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return segmentInUse(n)
			}
			return err
		}
		out = s.view(n, nil)
		return nil
	})
	return out, err
}

func segmentInUse(n store.Network) error {
	if n.NetworkType == "flat" {
		return oserr.Conflict("Unable to create the flat network. Physical network %s is in use.", n.PhysicalNetwork).WithType("FlatNetworkInUse")
	}
	return oserr.Conflict("Unable to create the network. The VLAN %d on physical network %s is in use.", n.SegmentationID, n.PhysicalNetwork).WithType("SegmentationIdInUse")
}

// applyNetwork sets the given fields and checks the result.
func (s *Service) applyNetwork(ctx context.Context, tx *store.Tx, n *store.Network, in NetworkInput, create bool) error {
	if in.Name != nil {
		n.Name = *in.Name
	}
	if in.Description != nil {
		n.Description = *in.Description
	}
	if in.AdminStateUp != nil {
		n.AdminStateUp = *in.AdminStateUp
	}
	if in.Shared != nil {
		n.Shared = *in.Shared
	}
	if in.External != nil {
		n.External = *in.External
	}
	if in.PortSecurity != nil {
		n.PortSecurity = *in.PortSecurity
	}
	if in.IsDefault != nil {
		n.IsDefault = *in.IsDefault
	}
	if in.AZHints != nil {
		for _, z := range *in.AZHints {
			if z != s.cfg.DefaultZone {
				return oserr.NotFound("AvailabilityZone %s could not be found.", z).WithType("AvailabilityZoneNotFound")
			}
		}
		n.AZHints = slices.Clone(*in.AZHints)
	}
	if !create {
		if in.NetworkType != nil || in.PhysicalNetwork != nil || in.SegmentationID != nil {
			return badRequest("Invalid input for operation: provider attributes of a network cannot be updated.")
		}
	} else {
		if in.NetworkType != nil {
			n.NetworkType = *in.NetworkType
		}
		switch n.NetworkType {
		case "vxlan":
			if in.PhysicalNetwork != nil && *in.PhysicalNetwork != "" {
				return invalid("provider:physical_network specified for VXLAN network")
			}
			if in.SegmentationID != nil {
				v := *in.SegmentationID
				if v < 1 || v > MaxVNI {
					return invalid("%d is not a valid VXLAN VNI, it must be in range 1-%d", v, MaxVNI)
				}
				n.SegmentationID = v
			} else {
				vni, err := allocateVNI(ctx, tx)
				if err != nil {
					return err
				}
				n.SegmentationID = vni
			}
		case "flat":
			if in.PhysicalNetwork == nil || *in.PhysicalNetwork == "" {
				return invalid("provider:physical_network required for flat provider network")
			}
			if in.SegmentationID != nil {
				return invalid("provider:segmentation_id specified for flat provider network")
			}
			n.PhysicalNetwork = *in.PhysicalNetwork
		default:
			return invalid("network_type value '%s' not supported; use vxlan or flat", n.NetworkType)
		}
		n.MTU = 1450
		if n.NetworkType == "flat" {
			n.MTU = 1500
		}
	}
	if in.MTU != nil {
		max := 1450
		if n.NetworkType == "flat" {
			max = 1500
		}
		if *in.MTU < 68 || *in.MTU > max {
			return invalid("Requested MTU is too big, maximum is %d", max)
		}
		n.MTU = *in.MTU
	}
	if len(n.Name) > 255 || len(n.Description) > 255 {
		return badRequest("Invalid input for name or description: at most 255 characters.")
	}
	return nil
}

// allocateVNI picks a free VNI: the next after the largest in use, or a
// random free one when the top is taken.
func allocateVNI(ctx context.Context, tx *store.Tx) (int, error) {
	max, err := tx.MaxVNI(ctx)
	if err != nil {
		return 0, err
	}
	if max < MaxVNI {
		return max + 1, nil
	}
	for i := 0; i < 64; i++ {
		v := 1 + rand.IntN(MaxVNI)
		taken, err := tx.SegmentTaken(ctx, fmt.Sprintf("vxlan:%d", v))
		if err != nil {
			return 0, err
		}
		if !taken {
			return v, nil
		}
	}
	return 0, oserr.Unavailable(5, "Unable to create the network. No tenant network is available for allocation.").WithType("NoNetworkAvailable")
}

// GetNetwork returns a network c may see.
func (s *Service) GetNetwork(ctx context.Context, c *auth.Credentials, id string) (NetworkView, error) {
	var out NetworkView
	err := s.read(ctx, func(tx *store.Tx) error {
		n, err := tx.GetNetwork(ctx, id)
		if err != nil {
			return mapNotFound(err, networkNotFound(id))
		}
		if !canSeeNetwork(c, n) {
			return networkNotFound(id)
		}
		subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{id}})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, sn := range subs {
			ids = append(ids, sn.ID)
		}
		out = s.view(n, ids)
		return nil
	})
	return out, err
}

// ListNetworks returns the networks c may see.
func (s *Service) ListNetworks(ctx context.Context, c *auth.Credentials) ([]NetworkView, error) {
	var out []NetworkView
	err := s.read(ctx, func(tx *store.Tx) error {
		q := scope(c)
		q.OrShared = true
		ns, err := tx.ListNetworks(ctx, q)
		if err != nil {
			return err
		}
		ids := make([]string, len(ns))
		for i, n := range ns {
			ids[i] = n.ID
		}
		subnets := map[string][]string{}
		if len(ns) > 0 {
			subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: ids})
			if err != nil {
				return err
			}
			for _, sn := range subs {
				subnets[sn.NetworkID] = append(subnets[sn.NetworkID], sn.ID)
			}
		}
		for _, n := range ns {
			out = append(out, s.view(n, subnets[n.ID]))
		}
		return nil
	})
	return out, err
}

// UpdateNetwork changes a network c owns; ifRev >= 0 is an If-Match revision.
func (s *Service) UpdateNetwork(ctx context.Context, c *auth.Credentials, id string, in NetworkInput, ifRev int64) (NetworkView, error) {
	if !c.IsAdmin() && (in.Shared != nil || in.External != nil) {
		if in.Shared != nil {
			return NetworkView{}, forbidden("update_network:shared")
		}
		return NetworkView{}, forbidden("update_network:router:external")
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		n, err := tx.GetNetwork(ctx, id)
		if err != nil {
			return mapNotFound(err, networkNotFound(id))
		}
		if !owns(c, n.ProjectID) {
			if canSeeNetwork(c, n) {
				return forbidden("update_network")
			}
			return networkNotFound(id)
		}
		if err := revisionCheck(ifRev, n.Revision); err != nil {
			return err
		}
		if err := s.applyNetwork(ctx, tx, &n, in, false); err != nil {
			return err
		}
		n.Revision++
		n.UpdatedAt = s.now()
		return tx.PutNetwork(ctx, &n, false)
	})
	if err != nil {
		return NetworkView{}, err
	}
	return s.GetNetwork(ctx, c, id)
}

// DeleteNetwork deletes a network with its subnets and DHCP port; ports of
// anything else on it make it NetworkInUse.
func (s *Service) DeleteNetwork(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		n, err := tx.GetNetwork(ctx, id)
		if err != nil {
			return mapNotFound(err, networkNotFound(id))
		}
		if !owns(c, n.ProjectID) {
			if canSeeNetwork(c, n) {
				return forbidden("delete_network")
			}
			return networkNotFound(id)
		}
		if err := revisionCheck(ifRev, n.Revision); err != nil {
			return err
		}
		return s.deleteNetworkTx(ctx, tx, n)
	})
}

func (s *Service) deleteNetworkTx(ctx context.Context, tx *store.Tx, n store.Network) error {
	if n.External {
		// Unassociated floating IPs go with their external network.
		fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}})
		if err != nil {
			return err
		}
		for _, f := range fips {
			if f.FloatingNetworkID != n.ID || f.PortID != "" {
				continue
			}
			if err := tx.DeletePort(ctx, f.FloatingPortID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.DeleteFloatingIP(ctx, f.ID); err != nil {
				return err
			}
		}
	}
	ports, err := tx.ListPorts(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
	if err != nil {
		return err
	}
	for _, p := range ports {
		if p.DeviceOwner != OwnerDHCP {
			return oserr.Conflict("Unable to complete operation on network %s. There are one or more ports still in use on the network.", n.ID).WithType("NetworkInUse")
		}
	}
	for _, p := range ports {
		if err := tx.DeletePort(ctx, p.ID); err != nil {
			return err
		}
	}
	subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
	if err != nil {
		return err
	}
	for _, sn := range subs {
		if err := tx.DeleteSubnet(ctx, sn.ID); err != nil {
			return err
		}
	}
	return tx.DeleteNetwork(ctx, n.ID)
}
