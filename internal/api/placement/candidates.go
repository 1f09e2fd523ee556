package placement

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
)

var (
	groupKeyRE     = regexp.MustCompile(`^(resources|required|member_of|in_tree)([1-9][0-9]*)?$`)
	groupKeyRE1_33 = regexp.MustCompile(`^(resources|required|member_of|in_tree)([a-zA-Z0-9_-]{1,64})?$`)
)

// parseCandidateQuery reads GET /allocation_candidates at microversion v.
func parseCandidateQuery(q url.Values, v microversion.Version) (svc.CandidateQuery, map[string]bool, error) {
	cq := svc.CandidateQuery{Nested: v.AtLeast(mv(29))}
	requested := map[string]bool{}
	granular, suffixRE := v.AtLeast(mv(25)), groupKeyRE
	if v.AtLeast(mv(33)) {
		suffixRE = groupKeyRE1_33
	}
	allowed := map[string]int{"resources": 10, "limit": 16, "required": 17, "member_of": 21, "group_policy": 25,
		"in_tree": 31, "root_required": 35, "same_subtree": 36}
	groups := map[string]*svc.RequestGroup{}
	group := func(sfx string) *svc.RequestGroup {
		g, ok := groups[sfx]
		if !ok {
			g = &svc.RequestGroup{Suffix: sfx}
			groups[sfx] = g
		}
		return g
	}
	for _, k := range sortedKeys(q) {
		prefix, sfx := k, ""
		if m := suffixRE.FindStringSubmatch(k); m != nil && granular {
			prefix, sfx = m[1], m[2]
		}
		since, ok := allowed[prefix]
		if !ok || v.Less(mv(since)) || (sfx != "" && !granular) {
			return cq, nil, badQuery("'%s' was unexpected at microversion %s.", k, v)
		}
		vals := q[k]
		var err error
		switch prefix {
		case "resources":
			g := group(sfx)
			if g.Resources, err = parseResources(vals[len(vals)-1]); err != nil {
				return cq, nil, err
			}
			for rc := range g.Resources {
				requested[rc] = true
			}
		case "required":
			g := group(sfx)
			if g.RequiredTraits, g.ForbiddenTraits, err = parseRequired(vals, v); err != nil {
				return cq, nil, err
			}
		case "member_of":
			g := group(sfx)
			if g.MemberOf, g.ForbiddenAggregates, err = parseMemberOf(vals, v, k); err != nil {
				return cq, nil, err
			}
		case "in_tree":
			if group(sfx).InTree, err = parseUUIDParam(k, vals[len(vals)-1]); err != nil {
				return cq, nil, err
			}
		case "limit":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 {
				return cq, nil, badQuery("'limit' must be a positive integer. Got: %s.", vals[0])
			}
			cq.Limit = n
		case "group_policy":
			switch vals[0] {
			case "none":
			case "isolate":
				cq.Isolate = true
			default:
				return cq, nil, badQuery("'group_policy' must be 'none' or 'isolate'. Got: %s.", vals[0])
			}
		case "root_required":
			if len(vals) > 1 {
				return cq, nil, oserr.BadRequest("Query parameter 'root_required' may be specified only once.").WithType(svc.CodeDuplicateQuery)
			}
			if strings.HasPrefix(vals[0], "in:") {
				return cq, nil, badQuery("'root_required' does not support the in: format. Got: %s.", vals[0])
			}
			req, forb, err := parseRequired(vals, v)
			if err != nil {
				return cq, nil, err
			}
			for _, set := range req {
				cq.RootRequired = append(cq.RootRequired, set...)
			}
			cq.RootForbidden = forb
			if c := conflicting(req, forb); len(c) > 0 {
				return cq, nil, badQuery("Conflicting required and forbidden traits found in root_required: %s.", strings.Join(c, "; "))
			}
		case "same_subtree":
			for _, val := range vals {
				var set []string
				for _, s := range strings.Split(val, ",") {
					s = strings.TrimSpace(s)
					if s == "" {
						return cq, nil, badQuery("Empty string (unsuffixed group) can not be specified in `same_subtree`.")
					}
					set = append(set, s)
				}
				cq.SameSubtree = append(cq.SameSubtree, set)
			}
		}
	}

	var resourceless []string
	withResources := 0
	for _, sfx := range sortedKeys(groups) {
		g := groups[sfx]
		if len(g.Resources) > 0 {
			withResources++
			continue
		}
		if !v.AtLeast(mv(36)) {
			if len(g.RequiredTraits) > 0 || len(g.ForbiddenTraits) > 0 {
				return cq, nil, oserr.BadRequest("All traits parameters must be associated with resources. Found the following orphaned traits keys: required%s.", sfx)
			}
			if len(g.MemberOf) > 0 || len(g.ForbiddenAggregates) > 0 {
				return cq, nil, oserr.BadRequest("All member_of parameters must be associated with resources. Found the following orphaned member_of keys: member_of%s.", sfx)
			}
			return cq, nil, oserr.BadRequest("All request groups must specify resources; add resources%s.", sfx)
		}
		resourceless = append(resourceless, sfx)
	}
	if withResources == 0 {
		return cq, nil, oserr.BadRequest("There must be at least one resources or resources[$S] parameter; e.g. ?resources=VCPU:1,MEMORY_MB:512.").WithType(svc.CodeMissingQuery)
	}
	var inSubtree []string
	for _, set := range cq.SameSubtree {
		for _, s := range set {
			if _, ok := groups[s]; !ok {
				return cq, nil, badQuery("Real suffixes should be specified in `same_subtree`: %s not found in %s.", s, strings.Join(sortedKeys(groups), ", "))
			}
			inSubtree = append(inSubtree, s)
		}
	}
	for _, sfx := range resourceless {
		if sfx == "" || !slices.Contains(inSubtree, sfx) {
			return cq, nil, badQuery("Resourceless suffixed group request should be specified in `same_subtree` query param: bad group(s) - %s.", sfx)
		}
	}
	suffixed := 0
	for _, sfx := range sortedKeys(groups) {
		g := groups[sfx]
		if sfx != "" {
			suffixed++
		}
		if v.AtLeast(mv(22)) {
			if c := conflicting(g.RequiredTraits, g.ForbiddenTraits); len(c) > 0 {
				return cq, nil, oserr.BadRequest("Conflicting required and forbidden traits found in the following traits keys: required%s: (%s).", sfx, strings.Join(c, "; "))
			}
		}
		cq.Groups = append(cq.Groups, *g)
	}
	if suffixed > 1 && !q.Has("group_policy") {
		return cq, nil, oserr.BadRequest("The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter; add group_policy=none or group_policy=isolate.")
	}
	return cq, requested, nil
}

func (a *API) allocationCandidates(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	cq, requested, err := parseCandidateQuery(r.URL.Query(), v)
	if err != nil {
		return err
	}
	res, err := a.svc.AllocationCandidates(r.Context(), cq)
	if err != nil {
		return err
	}
	reqs := make([]any, 0, len(res.Candidates))
	for _, c := range res.Candidates {
		if !v.AtLeast(mv(12)) {
			var list []any
			for _, p := range sortedKeys(c.Resources) {
				list = append(list, map[string]any{"resource_provider": map[string]any{"uuid": p}, "resources": c.Resources[p]})
			}
			reqs = append(reqs, map[string]any{"allocations": list})
			continue
		}
		allocs := map[string]any{}
		for p, rs := range c.Resources {
			allocs[p] = map[string]any{"resources": rs}
		}
		item := map[string]any{"allocations": allocs}
		if v.AtLeast(mv(34)) {
			item["mappings"] = c.Mappings
		}
		reqs = append(reqs, item)
	}
	sums := map[string]any{}
	for _, p := range res.Providers {
		rs := map[string]any{}
		for _, i := range p.Inventories {
			if !v.AtLeast(mv(27)) && !requested[i.ResourceClass] {
				continue
			}
			rs[i.ResourceClass] = map[string]int64{
				"capacity": int64(math.Floor(float64(i.Total-i.Reserved) * i.AllocationRatio)),
				"used":     i.Used,
			}
		}
		sum := map[string]any{"resources": rs}
		if v.AtLeast(mv(17)) {
			traits := p.Traits
			if traits == nil {
				traits = []string{}
			}
			sum["traits"] = traits
		}
		if v.AtLeast(mv(29)) {
			sum["parent_provider_uuid"] = nullable(p.ParentUUID)
			sum["root_provider_uuid"] = p.RootUUID
		}
		sums[p.UUID] = sum
	}
	return reply(w, v, http.StatusOK, map[string]any{"allocation_requests": reqs, "provider_summaries": sums}, time.Time{})
}
