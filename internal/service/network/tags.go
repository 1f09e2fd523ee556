package network

import (
	"context"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sort"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// PublicNetwork is the name of the external network Bootstrap makes.
const PublicNetwork = "public"

// Bootstrap makes the external network "public" (flat on physical network
// "public", router:external, owned by adminProject) and its subnet
// "public-subnet" (PublicCIDR, gateway .1, no DHCP) unless they exist.
// It is idempotent: every start runs it.
func (s *Service) Bootstrap(ctx context.Context, adminProject string) error {
	p, err := netip.ParsePrefix(s.cfg.PublicCIDR)
	if err != nil || !p.Addr().Is4() || p.Bits() > 29 {
		return fmt.Errorf("public network CIDR %q: give an IPv4 network of at least 8 addresses, e.g. 172.24.4.0/24", s.cfg.PublicCIDR)
	}
	p = p.Masked()
	return s.write(ctx, func(tx *store.Tx) error {
		nets, err := tx.ListNetworks(ctx, store.Query{Projects: []string{adminProject}})
		if err != nil {
			return err
		}
		var n *store.Network
		for i := range nets {
			if nets[i].Name == PublicNetwork && nets[i].External {
				n = &nets[i]
			}
		}
		if n == nil {
			now := s.now()
			v := store.Network{ID: newID(), ProjectID: adminProject, Name: PublicNetwork, AdminStateUp: true, External: true,
				PortSecurity: true, AZHints: []string{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
			if err := s.applyNetwork(ctx, tx, &v, NetworkInput{NetworkType: ptr("flat"), PhysicalNetwork: ptr(PublicNetwork)}, true); err != nil {
				return err
			}
			if err := tx.PutNetwork(ctx, &v, true); err != nil {
				return err
			}
			n = &v
		}
		subs, err := tx.ListSubnets(ctx, store.Query{All: true, NetworkIDs: []string{n.ID}})
		if err != nil || len(subs) > 0 {
			return err
		}
		now := s.now()
		gw := p.Addr().Next()
		sn := store.Subnet{ID: newID(), NetworkID: n.ID, ProjectID: adminProject, Name: "public-subnet", DNS: []string{},
			HostRoutes: []store.HostRoute{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
		return s.createSubnetTx(ctx, tx, *n, &sn, SubnetInput{CIDR: ptr(p.String()), GatewayIP: ptr(gw.String()), EnableDHCP: ptr(false),
			AllocationPools: &[]store.IPRange{{Start: gw.Next().String(), End: lastHost(p).String()}}})
	})
}

// Quota is one resource's limit and use.
type Quota struct{ Limit, Used, Reserved int }

// Quotas returns a project's limits (with usage).
func (s *Service) Quotas(ctx context.Context, c *auth.Credentials, project string) (map[string]Quota, error) {
	if !c.IsAdmin() && c.ProjectID() != project {
		return nil, forbidden("get_quota")
	}
	out := map[string]Quota{}
	err := s.read(ctx, func(tx *store.Tx) error {
		for r := range s.cfg.Quotas {
			l, err := s.limit(ctx, tx, project, r)
			if err != nil {
				return err
			}
			u, err := tx.NetworkUsage(ctx, project, r)
			if err != nil {
				return err
			}
			out[r] = Quota{Limit: l, Used: u}
		}
		return nil
	})
	return out, err
}

// QuotaProjects lists the projects whose limits differ from the defaults.
func (s *Service) QuotaProjects(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.NetworkQuotaProjects(ctx)
		return err
	})
	return out, err
}

// SetQuotas changes a project's limits (admins).
func (s *Service) SetQuotas(ctx context.Context, project string, limits map[string]int) error {
	for r, v := range limits {
		if _, ok := s.cfg.Quotas[r]; !ok {
			return oserr.BadRequest("Unrecognized attribute(s) '%s'", r)
		}
		if v < -1 {
			return oserr.BadRequest("Invalid input for %s. Reason: '%d' should be greater than or equal to -1.", r, v)
		}
	}
	return s.write(ctx, func(tx *store.Tx) error {
		keys := make([]string, 0, len(limits))
		for r := range limits {
			keys = append(keys, r)
		}
		sort.Strings(keys)
		for _, r := range keys {
			if err := tx.SetNetworkQuota(ctx, project, r, limits[r]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ResetQuotas returns a project to the default limits.
func (s *Service) ResetQuotas(ctx context.Context, project string) error {
	return s.write(ctx, func(tx *store.Tx) error { return tx.DeleteNetworkQuotas(ctx, project) })
}

// Tag kinds: the collection names of resources with tags.
var tagKinds = []string{"networks", "subnets", "ports", "routers", "floatingips", "security-groups", "security_groups", "subnetpools"}

// ValidTagKind reports whether a collection carries tags.
func ValidTagKind(kind string) bool { return slices.Contains(tagKinds, kind) }

// Tags applies fn to the tags of one resource c owns and saves them when
// fn returns true; it returns the tags.
func (s *Service) Tags(ctx context.Context, c *auth.Credentials, kind, id string, write bool, fn func(tags []string) ([]string, error)) ([]string, error) {
	var out []string
	run := s.read
	if write {
		run = s.write
	}
	err := run(ctx, func(tx *store.Tx) error {
		var tags *[]string
		var rev *int64
		var save func() error
		var owner string
		var visible bool
		switch kind {
		case "networks":
			v, err := tx.GetNetwork(ctx, id)
			if err != nil {
				return mapNotFound(err, networkNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeeNetwork(c, v)
			save = func() error { return tx.PutNetwork(ctx, &v, false) }
		case "subnets":
			v, err := tx.GetSubnet(ctx, id)
			if err != nil {
				return mapNotFound(err, subnetNotFound(id))
			}
			n, _ := tx.GetNetwork(ctx, v.NetworkID)
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeeSubnet(c, v, n)
			save = func() error { return tx.PutSubnet(ctx, &v, false) }
		case "ports":
			v, err := tx.GetPort(ctx, id)
			if err != nil {
				return mapNotFound(err, portNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutPort(ctx, &v, false) }
		case "routers":
			v, err := tx.GetRouter(ctx, id)
			if err != nil {
				return mapNotFound(err, routerNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutRouter(ctx, &v, false) }
		case "floatingips":
			v, err := tx.GetFloatingIP(ctx, id)
			if err != nil {
				return mapNotFound(err, fipNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutFloatingIP(ctx, &v, false) }
		case "security-groups", "security_groups":
			v, err := tx.GetSecurityGroup(ctx, id)
			if err != nil {
				return mapNotFound(err, sgNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutSecurityGroup(ctx, &v, false) }
		case "subnetpools":
			v, err := tx.GetSubnetPool(ctx, id)
			if err != nil {
				return mapNotFound(err, subnetPoolNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeePool(c, v)
			save = func() error { return tx.PutSubnetPool(ctx, &v, false) }
		default:
			return oserr.NotFound("The resource could not be found.")
		}
		if !visible {
			return oserr.NotFound("The resource could not be found.")
		}
		if write && !owns(c, owner) {
			return forbidden("update_" + kind + "_tags")
		}
		old := slices.Clone(*tags)
		next, err := fn(old)
		if err != nil {
			return err
		}
		for _, t := range next {
			if err := checkTag(t); err != nil {
				return err
			}
		}
		if len(next) > 60 {
			return badRequest("Invalid input for tags: at most 60 tags per resource.")
		}
		out = next
		if !write || slices.Equal(old, next) {
			return nil
		}
		*tags = next
		*rev++
		return save()
	})
	return out, err
}

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
