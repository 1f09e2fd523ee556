package placement

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
	"github.com/onestack/onestack/internal/store"
)

func providerPath(uuid string) string { return Prefix + "/resource_providers/" + uuid }

// providerJSON is a resource provider on the wire; parent and root UUIDs
// from 1.14, links to aggregates from 1.1, traits from 1.6, allocations from 1.11.
func providerJSON(p store.Provider, v microversion.Version) map[string]any {
	self := providerPath(p.UUID)
	links := []map[string]string{{"rel": "self", "href": self}}
	rels := []string{"inventories", "usages"}
	if v.AtLeast(mv(1)) {
		rels = append(rels, "aggregates")
	}
	if v.AtLeast(mv(6)) {
		rels = append(rels, "traits")
	}
	if v.AtLeast(mv(11)) {
		rels = append(rels, "allocations")
	}
	for _, rel := range rels {
		links = append(links, map[string]string{"rel": rel, "href": self + "/" + rel})
	}
	out := map[string]any{"uuid": p.UUID, "name": p.Name, "generation": p.Generation, "links": links}
	if v.AtLeast(mv(14)) {
		out["parent_provider_uuid"] = nullable(p.ParentUUID)
		out["root_provider_uuid"] = p.RootUUID
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (a *API) listProviders(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	q := r.URL.Query()
	allowed := []string{"name", "uuid"}
	if v.AtLeast(mv(3)) {
		allowed = append(allowed, "member_of")
	}
	if v.AtLeast(mv(4)) {
		allowed = append(allowed, "resources")
	}
	if v.AtLeast(mv(14)) {
		allowed = append(allowed, "in_tree")
	}
	if v.AtLeast(mv(18)) {
		allowed = append(allowed, "required")
	}
	if err := checkQuery(q, allowed...); err != nil {
		return err
	}
	f := svc.ProviderFilter{Name: q.Get("name")}
	var err error
	if q.Has("uuid") {
		if f.UUID, err = parseUUIDParam("uuid", q.Get("uuid")); err != nil {
			return err
		}
	}
	if q.Has("in_tree") {
		if f.InTree, err = parseUUIDParam("in_tree", q.Get("in_tree")); err != nil {
			return err
		}
	}
	if q.Has("member_of") {
		if f.MemberOf, f.ForbiddenAggregates, err = parseMemberOf(q["member_of"], v, "member_of"); err != nil {
			return err
		}
	}
	if q.Has("resources") {
		if f.Resources, err = parseResources(q.Get("resources")); err != nil {
			return err
		}
	}
	if q.Has("required") {
		if f.RequiredTraits, f.ForbiddenTraits, err = parseRequired(q["required"], v); err != nil {
			return err
		}
	}
	ps, err := a.svc.ListProviders(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ps))
	var modified time.Time
	for _, p := range ps {
		items = append(items, providerJSON(p, v))
		modified = latest(modified, p.UpdatedAt)
	}
	return reply(w, v, http.StatusOK, map[string]any{"resource_providers": items}, modified)
}

// providerBody is POST and PUT /resource_providers; parent_provider_uuid
// from 1.14 (raw, to tell null from absent).
type providerBody struct {
	Name   *string         `json:"name"`
	UUID   *string         `json:"uuid,omitempty"`
	Parent json.RawMessage `json:"parent_provider_uuid,omitempty"`
}

func decodeProvider(b []byte, v microversion.Version, create bool) (name, id string, parent *string, err error) {
	var body providerBody
	if err := decodeStrict(b, &body); err != nil {
		return "", "", nil, err
	}
	if body.Name == nil {
		return "", "", nil, oserr.BadRequest("JSON does not validate: 'name' is a required property.")
	}
	if body.UUID != nil {
		if !create {
			return "", "", nil, oserr.BadRequest("JSON does not validate: Additional properties are not allowed ('uuid' was unexpected); a provider's uuid cannot change.")
		}
		n, ok := svc.NormalizeUUID(*body.UUID)
		if !ok {
			return "", "", nil, oserr.BadRequest("JSON does not validate: 'uuid' %q is not a 'uuid'.", *body.UUID)
		}
		id = n
	}
	if body.Parent != nil {
		if !v.AtLeast(mv(14)) {
			return "", "", nil, oserr.BadRequest("JSON does not validate: Additional properties are not allowed ('parent_provider_uuid' was unexpected); nested providers need microversion 1.14.")
		}
		var p *string
		if err := json.Unmarshal(body.Parent, &p); err != nil {
			return "", "", nil, oserr.BadRequest("JSON does not validate: 'parent_provider_uuid' must be a UUID string or null.")
		}
		empty := ""
		parent = &empty
		if p != nil {
			n, ok := svc.NormalizeUUID(*p)
			if !ok {
				return "", "", nil, oserr.BadRequest("JSON does not validate: 'parent_provider_uuid' %q is not a 'uuid'.", *p)
			}
			parent = &n
		}
	}
	return *body.Name, id, parent, nil
}

func (a *API) createProvider(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	name, id, parent, err := decodeProvider(b, v, true)
	if err != nil {
		return err
	}
	par := ""
	if parent != nil {
		par = *parent
	}
	p, err := a.svc.CreateProvider(r.Context(), id, name, par)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/resource_providers/"+p.UUID)
	if v.AtLeast(mv(20)) {
		return reply(w, v, http.StatusOK, providerJSON(p, v), p.UpdatedAt)
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, err := a.svc.GetProvider(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, providerJSON(p, v), p.UpdatedAt)
}

func (a *API) updateProvider(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	name, _, parent, err := decodeProvider(b, v, false)
	if err != nil {
		return err
	}
	p, err := a.svc.UpdateProvider(r.Context(), r.PathValue("uuid"), svc.ProviderUpdate{Name: name, Parent: parent, Reparent: v.AtLeast(mv(37))})
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, providerJSON(p, v), p.UpdatedAt)
}

func (a *API) deleteProvider(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteProvider(r.Context(), r.PathValue("uuid")); err != nil {
		return err
	}
	return noContent(w)
}

// ---- usages

func (a *API) providerUsages(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, us, err := a.svc.ProviderUsages(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, map[string]any{"resource_provider_generation": p.Generation, "usages": us}, time.Time{})
}

func (a *API) totalUsages(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	q := r.URL.Query()
	allowed := []string{"project_id", "user_id"}
	if v.AtLeast(mv(38)) {
		allowed = append(allowed, "consumer_type")
	}
	if err := checkQuery(q, allowed...); err != nil {
		return err
	}
	if q.Get("project_id") == "" {
		return badQuery("'project_id' is a required property: send ?project_id=PROJECT.")
	}
	f := svc.UsageFilter{ProjectID: q.Get("project_id"), UserID: q.Get("user_id"), ConsumerType: q.Get("consumer_type")}
	if f.ConsumerType != "" && f.ConsumerType != "all" && f.ConsumerType != "unknown" && !svc.ValidClassName(f.ConsumerType) {
		return badQuery("'consumer_type' %q is invalid: use upper-case letters, digits and underscores, or all, or unknown.", f.ConsumerType)
	}
	byType, total, err := a.svc.TotalUsages(r.Context(), f)
	if err != nil {
		return err
	}
	if !v.AtLeast(mv(38)) {
		return reply(w, v, http.StatusOK, map[string]any{"usages": total}, time.Time{})
	}
	out := map[string]any{}
	for t, u := range byType {
		m := map[string]any{"consumer_count": u.Consumers}
		for rc, n := range u.Resources {
			m[rc] = n
		}
		out[t] = m
	}
	return reply(w, v, http.StatusOK, map[string]any{"usages": out}, time.Time{})
}

// ---- aggregates

func aggregatesJSON(p store.Provider, aggs []string, v microversion.Version) map[string]any {
	if aggs == nil {
		aggs = []string{}
	}
	out := map[string]any{"aggregates": aggs}
	if v.AtLeast(mv(19)) {
		out["resource_provider_generation"] = p.Generation
	}
	return out
}

func (a *API) getAggregates(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, aggs, err := a.svc.ProviderAggregates(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, aggregatesJSON(p, aggs, v), time.Time{})
}

// decodeAggregates reads a list of UUIDs (before 1.19) or
// {"aggregates": [...], "resource_provider_generation": N}.
func decodeAggregates(b []byte, v microversion.Version) (aggs []string, gen *int64, err error) {
	var raw []string
	if v.AtLeast(mv(19)) {
		var body struct {
			Aggregates *[]string `json:"aggregates"`
			Generation *int64    `json:"resource_provider_generation"`
		}
		if err := decodeStrict(b, &body); err != nil {
			return nil, nil, err
		}
		if body.Aggregates == nil || body.Generation == nil {
			return nil, nil, oserr.BadRequest("JSON does not validate: 'aggregates' and 'resource_provider_generation' are required properties.")
		}
		raw, gen = *body.Aggregates, body.Generation
	} else if err := decodeStrict(b, &raw); err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, u := range raw {
		n, ok := svc.NormalizeUUID(u)
		if !ok {
			return nil, nil, oserr.BadRequest("JSON does not validate: aggregate %q is not a 'uuid'.", u)
		}
		if seen[n] {
			return nil, nil, oserr.BadRequest("JSON does not validate: aggregate %s is listed twice; has non-unique elements.", n)
		}
		seen[n] = true
		aggs = append(aggs, n)
	}
	return aggs, gen, nil
}

func (a *API) setAggregates(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	aggs, gen, err := decodeAggregates(b, v)
	if err != nil {
		return err
	}
	p, out, err := a.svc.SetProviderAggregates(r.Context(), r.PathValue("uuid"), gen, aggs)
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, aggregatesJSON(p, out, v), time.Time{})
}

// ---- provider traits

func traitsJSON(p store.Provider, ts []store.Trait) (map[string]any, time.Time) {
	names := make([]string, 0, len(ts))
	var modified time.Time
	for _, t := range ts {
		names = append(names, t.Name)
		modified = latest(modified, t.CreatedAt)
	}
	return map[string]any{"traits": names, "resource_provider_generation": p.Generation}, modified
}

func (a *API) getProviderTraits(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, ts, err := a.svc.ProviderTraits(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, modified := traitsJSON(p, ts)
	return reply(w, v, http.StatusOK, body, modified)
}

func (a *API) setProviderTraits(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var body struct {
		Traits     *[]string `json:"traits"`
		Generation *int64    `json:"resource_provider_generation"`
	}
	if err := decodeStrict(b, &body); err != nil {
		return err
	}
	if body.Traits == nil || body.Generation == nil {
		return oserr.BadRequest("JSON does not validate: 'traits' and 'resource_provider_generation' are required properties.")
	}
	for _, t := range *body.Traits {
		if t == "" || len(t) > 255 {
			return oserr.BadRequest("JSON does not validate: trait %q must be 1 to 255 characters.", t)
		}
	}
	p, ts, err := a.svc.SetProviderTraits(r.Context(), r.PathValue("uuid"), *body.Generation, *body.Traits)
	if err != nil {
		return err
	}
	out, modified := traitsJSON(p, ts)
	return reply(w, v, http.StatusOK, out, modified)
}

func (a *API) deleteProviderTraits(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteProviderTraits(r.Context(), r.PathValue("uuid")); err != nil {
		return err
	}
	return noContent(w)
}
