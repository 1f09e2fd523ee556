package network

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// SubnetPoolInput is a subnet pool create or update; nil fields are not
// given.
type SubnetPoolInput struct {
	ProjectID                                    string
	Name, Description                            *string
	Prefixes                                     *[]string
	DefaultPrefixLen, MinPrefixLen, MaxPrefixLen *int
	Shared, IsDefault                            *bool
}

func subnetPoolNotFound(id string) error {
	return nfErr("Subnet pool", "SubnetPoolNotFound", id)
}

// canSeePool: the owner's pools and shared ones.
func canSeePool(c *auth.Credentials, p store.SubnetPool) bool {
	return owns(c, p.ProjectID) || p.Shared
}

// hostBits is the address length of an IP version.
func hostBits(version int) int {
	if version == 6 {
		return 128
	}
	return 32
}

// CreateSubnetPool creates a subnet pool; shared and is_default are for
// admins, as in Neutron's default policy.
func (s *Service) CreateSubnetPool(ctx context.Context, c *auth.Credentials, in SubnetPoolInput) (store.SubnetPool, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return store.SubnetPool{}, err
	}
	if in.Shared != nil && *in.Shared && !c.IsAdmin() {
		return store.SubnetPool{}, forbidden("create_subnetpool:shared")
	}
	if in.IsDefault != nil && *in.IsDefault && !c.IsAdmin() {
		return store.SubnetPool{}, forbidden("create_subnetpool:is_default")
	}
	if in.Prefixes == nil || len(*in.Prefixes) == 0 {
		return store.SubnetPool{}, oserr.BadRequest("Empty subnet pool prefix list: give prefixes, e.g. [\"10.0.0.0/16\"].").WithType("EmptySubnetPoolPrefixList")
	}
	now := s.now()
	p := store.SubnetPool{ID: newID(), ProjectID: project, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	prefixes, version, err := parsePoolPrefixes(*in.Prefixes)
	if err != nil {
		return store.SubnetPool{}, err
	}
	p.Prefixes, p.IPVersion = prefixStrings(prefixes), version
	p.MinPrefixLen, p.MaxPrefixLen = 8, 32
	if version == 6 {
		p.MinPrefixLen, p.MaxPrefixLen = 64, 128
	}
	if in.MinPrefixLen != nil {
		p.MinPrefixLen = *in.MinPrefixLen
	}
	if in.MaxPrefixLen != nil {
		p.MaxPrefixLen = *in.MaxPrefixLen
	}
	p.DefaultPrefixLen = p.MinPrefixLen
	if in.DefaultPrefixLen != nil {
		p.DefaultPrefixLen = *in.DefaultPrefixLen
	}
	if err := applyPool(&p, in); err != nil {
		return store.SubnetPool{}, err
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		if p.IsDefault {
			if err := checkNoDefaultPool(ctx, tx, p.IPVersion, p.ID); err != nil {
				return err
			}
		}
		return mapConflict(tx.PutSubnetPool(ctx, &p, true), p.IPVersion)
	})
	return p, err
}

// applyPool applies the plain fields of in and checks the prefix bounds.
func applyPool(p *store.SubnetPool, in SubnetPoolInput) error {
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.Shared != nil {
		p.Shared = *in.Shared
	}
	if in.IsDefault != nil {
		p.IsDefault = *in.IsDefault
	}
	if len(p.Name) > 255 || len(p.Description) > 255 {
		return badRequest("Invalid input for name or description: at most 255 characters.")
	}
	bounds := func(typ string, n int, base string, m int) error {
		return oserr.BadRequest("Illegal prefix bounds: %s=%d, %s=%d.", typ, n, base, m).WithType("IllegalSubnetPoolPrefixBounds")
	}
	bits := hostBits(p.IPVersion)
	switch {
	case p.MinPrefixLen < 0:
		return oserr.BadRequest("Unsupported minimum subnet pool prefix %d: give a min_prefixlen from 0 to %d.", p.MinPrefixLen, bits).WithType("UnsupportedMinSubnetPoolPrefix")
	case p.MaxPrefixLen > bits:
		return bounds("max_prefixlen", p.MaxPrefixLen, "ip_version_max", bits)
	case p.MinPrefixLen > p.MaxPrefixLen:
		return bounds("min_prefixlen", p.MinPrefixLen, "max_prefixlen", p.MaxPrefixLen)
	case p.DefaultPrefixLen < p.MinPrefixLen:
		return bounds("default_prefixlen", p.DefaultPrefixLen, "min_prefixlen", p.MinPrefixLen)
	case p.DefaultPrefixLen > p.MaxPrefixLen:
		return bounds("default_prefixlen", p.DefaultPrefixLen, "max_prefixlen", p.MaxPrefixLen)
	}
	return nil
}

// checkNoDefaultPool refuses a second default pool of an IP version
// (except the pool itself).
func checkNoDefaultPool(ctx context.Context, tx *store.Tx, version int, self string) error {
	d, err := tx.DefaultSubnetPool(ctx, version)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.ID == self) {
		return nil
	}
	if err != nil {
		return err
	}
	return invalid("A default subnetpool for this IP family has already been set (%s). Only one default may exist per IP family: unset is_default on it first", d.ID)
}

// mapConflict turns the store's unique violation (the default-pool
// index) into Neutron's answer.
func mapConflict(err error, version int) error {
	if errors.Is(err, store.ErrConflict) {
		return invalid("A default subnetpool for IPv%d has already been set. Only one default may exist per IP family", version)
	}
	return err
}

// parsePoolPrefixes parses, checks and compacts a pool's prefixes (as
// Neutron, overlapping and adjacent prefixes are merged); all must be of
// one IP version.
func parsePoolPrefixes(in []string) ([]netip.Prefix, int, error) {
	var ps []netip.Prefix
	version := 0
	for _, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, 0, invalid("'%s' is not a valid IP subnet: give prefixes in CIDR notation, e.g. 10.0.0.0/16", s)
		}
		v := 4
		if p.Addr().Is6() {
			v = 6
		}
		if version != 0 && v != version {
			return nil, 0, oserr.BadRequest("Cannot mix IPv4 and IPv6 prefixes in a subnet pool: %s is IPv%d, the others IPv%d.", s, v, version).WithType("PrefixVersionMismatch")
		}
		version = v
		ps = append(ps, p.Masked())
	}
	return compactPrefixes(ps), version, nil
}

// compactPrefixes returns the smallest list of disjoint prefixes covering
// the same addresses, sorted by address.
func compactPrefixes(in []netip.Prefix) []netip.Prefix {
	ps := slices.Clone(in)
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Overlaps(p) {
			continue // sorted: the earlier one contains p
		}
		out = append(out, p)
		// Two halves of one prefix become that prefix.
		for n := len(out); n >= 2; n = len(out) {
			a, b := out[n-2], out[n-1]
			if a.Bits() != b.Bits() || a.Bits() == 0 {
				break
			}
			parent := netip.PrefixFrom(a.Addr(), a.Bits()-1).Masked()
			if parent.Addr() != a.Addr() || !parent.Contains(b.Addr()) {
				break
			}
			out = append(out[:n-2], parent)
		}
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func poolPrefixes(p store.SubnetPool) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range p.Prefixes {
		if x, err := netip.ParsePrefix(s); err == nil {
			out = append(out, x)
		}
	}
	return out
}

// halves splits p into its two halves.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	b := p.Addr().AsSlice()
	b[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	hiAddr, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(hiAddr, p.Bits()+1)
}

// subtract returns the parts of p that a does not cover.
func subtract(p, a netip.Prefix) []netip.Prefix {
	switch {
	case !p.Overlaps(a):
		return []netip.Prefix{p}
	case a.Bits() <= p.Bits(): // a covers p
		return nil
	}
	lo, hi := halves(p)
	return append(subtract(lo, a), subtract(hi, a)...)
}

// freePrefixes is what of the pool's prefixes the allocations leave.
func freePrefixes(pool []netip.Prefix, used []netip.Prefix) []netip.Prefix {
	free := slices.Clone(pool)
	for _, u := range used {
		var next []netip.Prefix
		for _, f := range free {
			next = append(next, subtract(f, u)...)
		}
		free = next
	}
	return free
}

// allocatePrefix picks a free prefix of length bits: the first of the
// smallest free block that holds it (best fit keeps large blocks whole).
func allocatePrefix(pool, used []netip.Prefix, bits int) (netip.Prefix, bool) {
	var best netip.Prefix
	found := false
	for _, f := range freePrefixes(pool, used) {
		if f.Bits() > bits {
			continue
		}
		if !found || f.Bits() > best.Bits() || (f.Bits() == best.Bits() && f.Addr().Less(best.Addr())) {
			best, found = f, true
		}
	}
	if !found {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(best.Addr(), bits), true
}

// allocateFromPool chooses the cidr of a new subnet from a subnet pool
// (in.SubnetPoolID, or the default pool of in.IPVersion): the cidr asked
// for when it is free in the pool, else the next free prefix of
// in.PrefixLen (the pool's default_prefixlen when not given). It runs in
// the locked networking transaction, so racing creates take turns and
// never get overlapping prefixes.
func (s *Service) allocateFromPool(ctx context.Context, tx *store.Tx, c *auth.Credentials, in SubnetInput) (store.SubnetPool, netip.Prefix, error) {
	var pool store.SubnetPool
	var err error
	if in.SubnetPoolID != "" {
		pool, err = tx.GetSubnetPool(ctx, in.SubnetPoolID)
		if err != nil {
			return pool, netip.Prefix{}, mapNotFound(err, subnetPoolNotFound(in.SubnetPoolID))
		}
		if !canSeePool(c, pool) {
			return pool, netip.Prefix{}, subnetPoolNotFound(in.SubnetPoolID)
		}
	} else {
		if in.IPVersion == nil {
			return pool, netip.Prefix{}, badRequest("Bad subnets request: use_default_subnetpool needs ip_version (4 or 6) to choose the default pool.")
		}
		pool, err = tx.DefaultSubnetPool(ctx, *in.IPVersion)
		if errors.Is(err, store.ErrNotFound) {
			return pool, netip.Prefix{}, badRequest("Bad subnets request: no default subnet pool for IPv%d: give a cidr or a subnetpool_id, or ask an admin to set is_default on a pool.", *in.IPVersion)
		}
		if err != nil {
			return pool, netip.Prefix{}, err
		}
	}
	if in.IPVersion != nil && *in.IPVersion != pool.IPVersion {
		return pool, netip.Prefix{}, invalid("ip_version %d does not match subnet pool %s, which is IPv%d", *in.IPVersion, pool.ID, pool.IPVersion)
	}
	subs, err := tx.PoolSubnets(ctx, pool.ID)
	if err != nil {
		return pool, netip.Prefix{}, err
	}
	var used []netip.Prefix
	for _, sn := range subs {
		if p, err := netip.ParsePrefix(sn.CIDR); err == nil {
			used = append(used, p)
		}
	}
	prefixes := poolPrefixes(pool)
	allocErr := func(status int, format string, args ...any) error {
		e := oserr.BadRequest("Failed to allocate subnet: %s.", fmt.Sprintf(format, args...)).WithType("SubnetAllocationError")
		e.Status = status
		return e
	}
	checkLen := func(bits int) error {
		if bits > pool.MaxPrefixLen {
			return oserr.BadRequest("Unable to allocate subnet with prefix length %d, maximum allowed prefix is %d: ask for /%d or shorter.", bits, pool.MaxPrefixLen, pool.MaxPrefixLen).WithType("MaxPrefixSubnetAllocationError")
		}
		if bits < pool.MinPrefixLen {
			return oserr.BadRequest("Unable to allocate subnet with prefix length %d, minimum allowed prefix is %d: ask for /%d or longer.", bits, pool.MinPrefixLen, pool.MinPrefixLen).WithType("MinPrefixSubnetAllocationError")
		}
		return nil
	}
	if in.CIDR != nil {
		p, err := parseSubnetCIDR(*in.CIDR)
		if err != nil {
			return pool, netip.Prefix{}, err
		}
		if in.PrefixLen != nil && *in.PrefixLen != p.Bits() {
			return pool, netip.Prefix{}, invalid("prefixlen %d does not match cidr %s: give one of them", *in.PrefixLen, p)
		}
		if err := checkLen(p.Bits()); err != nil {
			return pool, netip.Prefix{}, err
		}
		if !slices.ContainsFunc(prefixes, func(x netip.Prefix) bool { return x.Bits() <= p.Bits() && x.Contains(p.Addr()) }) {
			return pool, netip.Prefix{}, allocErr(400, "cidr %s is not within subnet pool %s's prefixes %s; choose a cidr inside them or give prefixlen instead", p, pool.ID, strings.Join(pool.Prefixes, ", "))
		}
		for _, sn := range subs {
			if u, err := netip.ParsePrefix(sn.CIDR); err == nil && u.Overlaps(p) {
				return pool, netip.Prefix{}, allocErr(409, "cidr %s overlaps %s of subnet %s, already allocated from subnet pool %s; choose another cidr or give prefixlen instead", p, u, sn.ID, pool.ID)
			}
		}
		return pool, p, nil
	}
	bits := pool.DefaultPrefixLen
	if in.PrefixLen != nil {
		bits = *in.PrefixLen
	}
	if err := checkLen(bits); err != nil {
		return pool, netip.Prefix{}, err
	}
	p, ok := allocatePrefix(prefixes, used, bits)
	if !ok {
		return pool, netip.Prefix{}, allocErr(409, "Insufficient prefix space to allocate subnet size /%d: subnet pool %s has no free /%d left in %s; ask for a longer prefixlen, add prefixes to the pool or delete subnets allocated from it", bits, pool.ID, bits, strings.Join(pool.Prefixes, ", "))
	}
	return pool, p, nil
}

// GetSubnetPool returns a subnet pool c may see.
func (s *Service) GetSubnetPool(ctx context.Context, c *auth.Credentials, id string) (store.SubnetPool, error) {
	var out store.SubnetPool
	err := s.read(ctx, func(tx *store.Tx) error {
		p, err := tx.GetSubnetPool(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetPoolNotFound(id))
		}
		if !canSeePool(c, p) {
			return subnetPoolNotFound(id)
		}
		out = p
		return nil
	})
	return out, err
}

// ListSubnetPools returns the pools c may see: its own and shared ones.
func (s *Service) ListSubnetPools(ctx context.Context, c *auth.Credentials) ([]store.SubnetPool, error) {
	var out []store.SubnetPool
	err := s.read(ctx, func(tx *store.Tx) error {
		q := scope(c)
		q.OrShared = true
		var err error
		out, err = tx.ListSubnetPools(ctx, q)
		return err
	})
	return out, err
}

// UpdateSubnetPool changes a pool c owns. Prefixes may grow, never
// shrink (existing ones must stay covered, as in Neutron); is_default is
// for admins; shared cannot change.
func (s *Service) UpdateSubnetPool(ctx context.Context, c *auth.Credentials, id string, in SubnetPoolInput, ifRev int64) (store.SubnetPool, error) {
	var out store.SubnetPool
	if in.Shared != nil {
		return out, badRequest("Cannot update read-only attribute shared: create a new subnet pool instead.")
	}
	if in.IsDefault != nil && !c.IsAdmin() {
		return out, forbidden("update_subnetpool:is_default")
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		p, err := tx.GetSubnetPool(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetPoolNotFound(id))
		}
		if !owns(c, p.ProjectID) {
			if canSeePool(c, p) {
				return forbidden("update_subnetpool")
			}
			return subnetPoolNotFound(id)
		}
		if err := revisionCheck(ifRev, p.Revision); err != nil {
			return err
		}
		if in.Prefixes != nil {
			next, version, err := parsePoolPrefixes(*in.Prefixes)
			if err != nil {
				return err
			}
			if len(next) == 0 {
				return oserr.BadRequest("Empty subnet pool prefix list: prefixes may only grow.").WithType("EmptySubnetPoolPrefixList")
			}
			if version != p.IPVersion {
				return oserr.BadRequest("Cannot mix IPv4 and IPv6 prefixes in a subnet pool: the pool is IPv%d.", p.IPVersion).WithType("PrefixVersionMismatch")
			}
			for _, old := range poolPrefixes(p) {
				if !slices.ContainsFunc(next, func(x netip.Prefix) bool { return x.Bits() <= old.Bits() && x.Contains(old.Addr()) }) {
					return oserr.BadRequest("Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes (%s is missing); prefixes may be added, not removed.", old).WithType("IllegalSubnetPoolPrefixUpdate")
				}
			}
			p.Prefixes = prefixStrings(next)
		}
		if in.MinPrefixLen != nil {
			p.MinPrefixLen = *in.MinPrefixLen
		}
		if in.MaxPrefixLen != nil {
			p.MaxPrefixLen = *in.MaxPrefixLen
		}
		if in.DefaultPrefixLen != nil {
			p.DefaultPrefixLen = *in.DefaultPrefixLen
		}
		if err := applyPool(&p, in); err != nil {
			return err
		}
		if p.IsDefault {
			if err := checkNoDefaultPool(ctx, tx, p.IPVersion, p.ID); err != nil {
				return err
			}
		}
		p.Revision++
		p.UpdatedAt = s.now()
		if err := mapConflict(tx.PutSubnetPool(ctx, &p, false), p.IPVersion); err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

// DeleteSubnetPool deletes a pool c owns that no subnet uses.
func (s *Service) DeleteSubnetPool(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		p, err := tx.GetSubnetPool(ctx, id)
		if err != nil {
			return mapNotFound(err, subnetPoolNotFound(id))
		}
		if !owns(c, p.ProjectID) {
			if canSeePool(c, p) {
				return forbidden("delete_subnetpool")
			}
			return subnetPoolNotFound(id)
		}
		if err := revisionCheck(ifRev, p.Revision); err != nil {
			return err
		}
		subs, err := tx.PoolSubnets(ctx, id)
		if err != nil {
			return err
		}
		if len(subs) > 0 {
			ids := make([]string, len(subs))
			for i, sn := range subs {
				ids[i] = sn.ID
			}
			return oserr.Conflict("Unable to complete operation on subnet pool %s: %d subnet(s) still use it (%s); delete them first.", id, len(subs), strings.Join(ids, ", ")).WithType("SubnetPoolInUse")
		}
		return tx.DeleteSubnetPool(ctx, id)
	})
}
