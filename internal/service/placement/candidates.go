package placement

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/store"
)

// RequestGroup is one group of an allocation candidates request. The
// unsuffixed group (Suffix "") may be satisfied by several providers of one
// tree, one resource class each; a suffixed group by one provider.
type RequestGroup struct {
	Suffix    string
	Resources map[string]int64
	// RequiredTraits: at least one trait of every list.
	RequiredTraits  [][]string
	ForbiddenTraits []string
	// MemberOf: at least one aggregate of every list, on the provider or
	// its root (an aggregate of a root spans its tree).
	MemberOf            [][]string
	ForbiddenAggregates []string
	// InTree limits the group to the tree of this provider.
	InTree string
}

// CandidateQuery is GET /allocation_candidates, parsed.
type CandidateQuery struct {
	Groups []RequestGroup
	// Limit caps the candidates returned; 0 is no limit.
	Limit int
	// Isolate: suffixed groups use different providers (group_policy=isolate).
	Isolate bool
	// RootRequired and RootForbidden are traits the tree's root must have
	// and must not have (microversion 1.35).
	RootRequired, RootForbidden []string
	// SameSubtree lists sets of suffixes whose providers must all sit
	// below one of them (microversion 1.36).
	SameSubtree [][]string
	// Nested lets candidates use providers of trees with more than one
	// provider (microversion 1.29); older clients only see single-provider trees.
	Nested bool
}

// Candidate is one way to satisfy a query.
type Candidate struct {
	// Resources is provider UUID → resource class → amount.
	Resources map[string]map[string]int64
	// Mappings is group suffix → the providers that satisfied the group.
	Mappings map[string][]string
}

// Candidates is the answer to a CandidateQuery: the candidates, and every
// provider of every tree they come from.
type Candidates struct {
	Candidates []Candidate
	Providers  []store.ProviderTree
}

// maxLeavesPerTree bounds the combinations tried in one tree, so a wide
// tree (many NUMA nodes or devices) cannot make one request unbounded.
const maxLeavesPerTree = 10000

// AllocationCandidates finds the ways the query's groups can be allocated.
// Trees are pre-selected in SQL (each requested amount must fit some
// provider of the tree), then solved in memory.
func (s *Service) AllocationCandidates(ctx context.Context, q CandidateQuery) (Candidates, error) {
	var out Candidates
	var trees []store.ProviderTree
	err := s.read(ctx, func(tx *store.Tx) error {
		var classes, traits []string
		var roots []string // nil: any
		restrict := func(rs []string) {
			if roots == nil {
				roots = rs
				return
			}
			roots = slices.DeleteFunc(roots, func(r string) bool { return !slices.Contains(rs, r) })
		}
		for _, g := range q.Groups {
			for rc := range g.Resources {
				classes = append(classes, rc)
			}
			for _, set := range g.RequiredTraits {
				traits = append(traits, set...)
			}
			traits = append(traits, g.ForbiddenTraits...)
		}
		traits = append(append(traits, q.RootRequired...), q.RootForbidden...)
		if err := checkExist(ctx, tx, classes, traits); err != nil {
			return err
		}
		for _, g := range q.Groups {
			if g.InTree != "" {
				p, err := tx.GetProvider(ctx, g.InTree)
				if errors.Is(err, store.ErrNotFound) {
					restrict([]string{})
					continue
				} else if err != nil {
					return err
				}
				restrict([]string{p.RootUUID})
			}
			for _, rc := range sortedKeys(g.Resources) {
				rs, err := tx.RootsWithRoom(ctx, rc, g.Resources[rc])
				if err != nil {
					return err
				}
				restrict(rs)
			}
		}
		if roots == nil {
			roots = []string{} // resourceless queries are rejected by the API; be safe
		}
		var err error
		trees, err = tx.LoadProviders(ctx, roots)
		return err
	})
	if err != nil {
		return out, err
	}
	for start := 0; start < len(trees); {
		end := start + 1
		for end < len(trees) && trees[end].RootUUID == trees[start].RootUUID {
			end++
		}
		tree := trees[start:end]
		start = end
		if !q.Nested && len(tree) > 1 {
			continue
		}
		remaining := 0
		if q.Limit > 0 {
			remaining = q.Limit - len(out.Candidates)
		}
		cs := solveTree(tree, q, remaining)
		if len(cs) == 0 {
			continue
		}
		out.Candidates = append(out.Candidates, cs...)
		out.Providers = append(out.Providers, tree...)
		if q.Limit > 0 && len(out.Candidates) >= q.Limit {
			break
		}
	}
	return out, nil
}

type node struct {
	t      *store.ProviderTree
	parent *node
	inv    map[string]store.Inventory
	traits map[string]bool
	aggs   map[string]bool // its own and its root's
}

func (n *node) hasAll(sets [][]string) bool {
	for _, set := range sets {
		if !slices.ContainsFunc(set, func(t string) bool { return n.traits[t] }) {
			return false
		}
	}
	return true
}

func (n *node) hasAny(traits []string) bool {
	return slices.ContainsFunc(traits, func(t string) bool { return n.traits[t] })
}

func (n *node) inAggs(memberOf [][]string, forbidden []string) bool {
	for _, set := range memberOf {
		if !slices.ContainsFunc(set, func(a string) bool { return n.aggs[a] }) {
			return false
		}
	}
	return !slices.ContainsFunc(forbidden, func(a string) bool { return n.aggs[a] })
}

// ancestorOf reports whether n is a or above it.
func (n *node) ancestorOf(a *node) bool {
	for cur := a; cur != nil; cur = cur.parent {
		if cur == n {
			return true
		}
	}
	return false
}

// fits reports whether n more of class fit a provider that already gives
// extra of it to this candidate.
func (n *node) fits(class string, amount, extra int64) bool {
	i, ok := n.inv[class]
	if !ok || amount < i.MinUnit || amount > i.MaxUnit || amount%i.StepSize != 0 {
		return false
	}
	return float64(i.Used+extra+amount) <= capacity(i.Total, i.Reserved, i.AllocationRatio)
}

// slot is one choice of provider: a suffixed group, or one resource class
// of the unsuffixed group.
type slot struct {
	group   *RequestGroup
	classes []string
	cands   []*node
}

func solveTree(tree []store.ProviderTree, q CandidateQuery, limit int) []Candidate {
	nodes := make(map[string]*node, len(tree))
	var order []*node
	for i := range tree {
		t := &tree[i]
		n := &node{t: t, inv: map[string]store.Inventory{}, traits: map[string]bool{}, aggs: map[string]bool{}}
		for _, inv := range t.Inventories {
			n.inv[inv.ResourceClass] = inv
		}
		for _, tr := range t.Traits {
			n.traits[tr] = true
		}
		for _, a := range t.Aggregates {
			n.aggs[a] = true
		}
		nodes[t.UUID] = n
		order = append(order, n)
	}
	root := nodes[tree[0].RootUUID]
	if root == nil {
		return nil
	}
	for _, n := range order {
		n.parent = nodes[n.t.ParentUUID]
		for a := range root.aggs {
			n.aggs[a] = true
		}
	}
	if !root.hasAll(wrap(q.RootRequired)) || root.hasAny(q.RootForbidden) {
		return nil
	}

	var slots []*slot
	var unsuffixed *RequestGroup
	for gi := range q.Groups {
		g := &q.Groups[gi]
		if g.Suffix == "" {
			unsuffixed = g
			for _, rc := range sortedKeys(g.Resources) {
				slots = append(slots, &slot{group: g, classes: []string{rc}})
			}
			continue
		}
		slots = append(slots, &slot{group: g, classes: sortedKeys(g.Resources)})
	}
	for _, sl := range slots {
		g := sl.group
		for _, n := range order {
			if n.hasAny(g.ForbiddenTraits) || !n.inAggs(g.MemberOf, g.ForbiddenAggregates) {
				continue
			}
			if g.Suffix != "" && !n.hasAll(g.RequiredTraits) {
				continue
			}
			if !slices.ContainsFunc(sl.classes, func(rc string) bool { return !n.fits(rc, g.Resources[rc], 0) }) {
				sl.cands = append(sl.cands, n)
			}
		}
		if len(sl.cands) == 0 {
			return nil
		}
	}
	// Suffixed groups first: they are the most constrained.
	slices.SortStableFunc(slots, func(a, b *slot) int {
		return cmpBool(a.group.Suffix == "", b.group.Suffix == "")
	})

	var out []Candidate
	seen := map[string]bool{}
	chosen := make([]*node, len(slots))
	extra := map[key]int64{}
	leaves := 0
	var walk func(i int) bool // false: stop
	walk = func(i int) bool {
		if i == len(slots) {
			leaves++
			if c, ok := candidate(slots, chosen, unsuffixed, q); ok {
				k := c.key()
				if !seen[k] {
					seen[k] = true
					out = append(out, c)
				}
			}
			return leaves < maxLeavesPerTree && (limit <= 0 || len(out) < limit)
		}
		sl := slots[i]
		for _, n := range sl.cands {
			if q.Isolate && sl.group.Suffix != "" && takenByOtherGroup(slots[:i], chosen[:i], sl.group.Suffix, n) {
				continue
			}
			ok := true
			for _, rc := range sl.classes {
				if !n.fits(rc, sl.group.Resources[rc], extra[key{n.t.UUID, rc}]) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			for _, rc := range sl.classes {
				extra[key{n.t.UUID, rc}] += sl.group.Resources[rc]
			}
			chosen[i] = n
			more := walk(i + 1)
			for _, rc := range sl.classes {
				extra[key{n.t.UUID, rc}] -= sl.group.Resources[rc]
			}
			if !more {
				return false
			}
		}
		return true
	}
	walk(0)
	return out
}

// takenByOtherGroup reports whether another suffixed group already chose n.
func takenByOtherGroup(slots []*slot, chosen []*node, suffix string, n *node) bool {
	for j, o := range slots {
		if o.group.Suffix != "" && o.group.Suffix != suffix && chosen[j] == n {
			return true
		}
	}
	return false
}

func wrap(traits []string) [][]string {
	out := make([][]string, len(traits))
	for i, t := range traits {
		out[i] = []string{t}
	}
	return out
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// candidate checks the whole-candidate rules (the unsuffixed group's
// traits over all its providers, same_subtree) and builds it.
func candidate(slots []*slot, chosen []*node, unsuffixed *RequestGroup, q CandidateQuery) (Candidate, bool) {
	c := Candidate{Resources: map[string]map[string]int64{}, Mappings: map[string][]string{}}
	bySuffix := map[string][]*node{}
	union := map[string]bool{}
	for i, sl := range slots {
		n := chosen[i]
		sfx := sl.group.Suffix
		if !slices.Contains(bySuffix[sfx], n) {
			bySuffix[sfx] = append(bySuffix[sfx], n)
			c.Mappings[sfx] = append(c.Mappings[sfx], n.t.UUID)
		}
		if sfx == "" {
			for t := range n.traits {
				union[t] = true
			}
		}
		for _, rc := range sl.classes {
			if c.Resources[n.t.UUID] == nil {
				c.Resources[n.t.UUID] = map[string]int64{}
			}
			c.Resources[n.t.UUID][rc] += sl.group.Resources[rc]
		}
	}
	if unsuffixed != nil {
		for _, set := range unsuffixed.RequiredTraits {
			if !slices.ContainsFunc(set, func(t string) bool { return union[t] }) {
				return c, false
			}
		}
	}
	for _, sfxs := range q.SameSubtree {
		var ns []*node
		for _, sfx := range sfxs {
			ns = append(ns, bySuffix[sfx]...)
		}
		if !slices.ContainsFunc(ns, func(top *node) bool {
			return !slices.ContainsFunc(ns, func(n *node) bool { return !top.ancestorOf(n) })
		}) {
			return c, false
		}
	}
	for sfx := range c.Mappings {
		slices.Sort(c.Mappings[sfx])
	}
	return c, true
}

// key is a canonical form of the allocations, to drop duplicates that
// different choices of providers for the unsuffixed group produce.
func (c Candidate) key() string {
	var b strings.Builder
	for _, p := range sortedKeys(c.Resources) {
		b.WriteString(p)
		for _, rc := range sortedKeys(c.Resources[p]) {
			b.WriteString(" " + rc + ":")
			b.WriteString(strconv.FormatInt(c.Resources[p][rc], 10))
		}
		b.WriteString(";")
	}
	for _, sfx := range sortedKeys(c.Mappings) {
		b.WriteString(sfx + "=" + strings.Join(c.Mappings[sfx], ",") + ";")
	}
	return b.String()
}
