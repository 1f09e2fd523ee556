package placement

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
)

// consumerBody is one consumer's allocations on the wire: the body of PUT
// /allocations/{consumer_uuid} and each value of POST /allocations.
// allocations is a list before 1.12 and an object keyed by provider from
// it; project_id and user_id from 1.8; consumer_generation from 1.28;
// mappings (ignored) from 1.34; consumer_type from 1.38.
type consumerBody struct {
	Allocations        json.RawMessage `json:"allocations"`
	ProjectID          *string         `json:"project_id"`
	UserID             *string         `json:"user_id"`
	ConsumerGeneration json.RawMessage `json:"consumer_generation"`
	ConsumerType       *string         `json:"consumer_type"`
	Mappings           json.RawMessage `json:"mappings"`
}

func invalid(format string, args ...any) error {
	return oserr.BadRequest("JSON does not validate: "+format, args...)
}

// decodeConsumer checks one consumer's body at microversion v. post is
// true inside POST /allocations and /reshaper, which always allow an empty
// allocations object (remove everything) and always need the project.
func decodeConsumer(raw []byte, v microversion.Version, id string, post bool) (svc.AllocationRequest, error) {
	req := svc.AllocationRequest{Consumer: svc.Consumer{ID: id}, Resources: map[string]map[string]int64{}}
	var body consumerBody
	if err := decodeStrict(raw, &body); err != nil {
		return req, err
	}
	switch {
	case body.Allocations == nil:
		return req, invalid("'allocations' is a required property.")
	case (body.ProjectID != nil || body.UserID != nil) && !v.AtLeast(mv(8)):
		return req, invalid("Additional properties are not allowed ('project_id', 'user_id' were unexpected); they need microversion 1.8.")
	case body.ConsumerGeneration != nil && !v.AtLeast(mv(28)):
		return req, invalid("Additional properties are not allowed ('consumer_generation' was unexpected); it needs microversion 1.28.")
	case body.Mappings != nil && !v.AtLeast(mv(34)):
		return req, invalid("Additional properties are not allowed ('mappings' was unexpected); it needs microversion 1.34.")
	case body.ConsumerType != nil && !v.AtLeast(mv(38)):
		return req, invalid("Additional properties are not allowed ('consumer_type' was unexpected); it needs microversion 1.38.")
	}
	if v.AtLeast(mv(8)) || post {
		if body.ProjectID == nil || body.UserID == nil {
			return req, invalid("'project_id' and 'user_id' are required properties.")
		}
		for name, s := range map[string]string{"project_id": *body.ProjectID, "user_id": *body.UserID} {
			if len(s) < 1 || len(s) > 255 {
				return req, invalid("'%s' must be 1 to 255 characters.", name)
			}
		}
		req.Consumer.ProjectID, req.Consumer.UserID = *body.ProjectID, *body.UserID
	}
	if v.AtLeast(mv(28)) {
		if body.ConsumerGeneration == nil {
			return req, invalid("'consumer_generation' is a required property: send null for a new consumer, or the generation GET /allocations/%s shows.", id)
		}
		if err := json.Unmarshal(body.ConsumerGeneration, &req.Generation); err != nil {
			return req, invalid("'consumer_generation' must be an integer or null.")
		}
		req.CheckGeneration = true
	}
	if v.AtLeast(mv(38)) {
		if body.ConsumerType == nil {
			return req, invalid("'consumer_type' is a required property, e.g. \"INSTANCE\" or \"MIGRATION\".")
		}
		if !svc.ValidClassName(*body.ConsumerType) {
			return req, invalid("'consumer_type' %q does not match '^[A-Z0-9_]+$'.", *body.ConsumerType)
		}
		req.Consumer.Type = *body.ConsumerType
	}
	if body.Mappings != nil {
		var m map[string][]string
		if err := json.Unmarshal(body.Mappings, &m); err != nil || len(m) == 0 {
			return req, invalid("'mappings' must be an object of request group suffixes to lists of provider UUIDs.")
		}
	}
	add := func(provider string, resources map[string]int64) error {
		p, ok := svc.NormalizeUUID(provider)
		if !ok || len(provider) != 36 {
			return invalid("resource provider %q is not a UUID.", provider)
		}
		if len(resources) == 0 {
			return invalid("'resources' of resource provider %s must name at least one resource class.", provider)
		}
		for rc, n := range resources {
			if !svc.ValidClassName(rc) {
				return invalid("resource class %q does not match '^[A-Z0-9_]+$'.", rc)
			}
			if n < 1 {
				return invalid("%s amount %d on resource provider %s is less than the minimum of 1.", rc, n, provider)
			}
		}
		if _, dup := req.Resources[p]; dup {
			return invalid("resource provider %s is listed twice.", p)
		}
		req.Resources[p] = resources
		return nil
	}
	if v.AtLeast(mv(12)) {
		var allocs map[string]struct {
			Resources  map[string]int64 `json:"resources"`
			Generation *int64           `json:"generation"`
		}
		if err := decodeStrict(body.Allocations, &allocs); err != nil {
			return req, err
		}
		if allocs == nil {
			return req, invalid("'allocations' must be an object keyed by resource provider UUID.")
		}
		if len(allocs) == 0 && !post && !v.AtLeast(mv(28)) {
			return req, invalid("'allocations' must name at least one resource provider; from microversion 1.28 an empty object removes every allocation.")
		}
		for _, p := range sortedKeys(allocs) {
			if err := add(p, allocs[p].Resources); err != nil {
				return req, err
			}
		}
		return req, nil
	}
	var list []struct {
		ResourceProvider *struct {
			UUID string `json:"uuid"`
		} `json:"resource_provider"`
		Resources map[string]int64 `json:"resources"`
	}
	if err := decodeStrict(body.Allocations, &list); err != nil {
		return req, err
	}
	if len(list) == 0 {
		return req, invalid("'allocations' must list at least one allocation.")
	}
	for _, item := range list {
		if item.ResourceProvider == nil {
			return req, invalid("'resource_provider' is a required property of each allocation.")
		}
		if err := add(item.ResourceProvider.UUID, item.Resources); err != nil {
			return req, err
		}
	}
	return req, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// decodeManyConsumers reads POST /allocations (and the allocations of
// /reshaper): {consumer_uuid: consumerBody, ...}; empty only if allowEmpty.
func decodeManyConsumers(b []byte, v microversion.Version, allowEmpty bool) ([]svc.AllocationRequest, error) {
	var raw map[string]json.RawMessage
	if err := decodeStrict(b, &raw); err != nil {
		return nil, err
	}
	if raw == nil || (len(raw) == 0 && !allowEmpty) {
		return nil, invalid("the body must be an object keyed by consumer UUID with at least one consumer.")
	}
	var out []svc.AllocationRequest
	for _, id := range sortedKeys(raw) {
		c, ok := svc.NormalizeUUID(id)
		if !ok || len(id) != 36 {
			return nil, invalid("consumer %q is not a UUID.", id)
		}
		req, err := decodeConsumer(raw[id], v, c, true)
		if err != nil {
			return nil, err
		}
		out = append(out, req)
	}
	return out, nil
}

func (a *API) putAllocations(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	id, ok := svc.NormalizeUUID(r.PathValue("consumer_uuid"))
	if !ok {
		return oserr.BadRequest("Malformed consumer_uuid: %s; a consumer is identified by a UUID.", r.PathValue("consumer_uuid"))
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := decodeConsumer(b, v, id, false)
	if err != nil {
		return err
	}
	if err := a.svc.SetAllocations(r.Context(), []svc.AllocationRequest{req}); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) postAllocations(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	reqs, err := decodeManyConsumers(b, v, false)
	if err != nil {
		return err
	}
	if err := a.svc.SetAllocations(r.Context(), reqs); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) getAllocations(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	id := r.PathValue("consumer_uuid")
	if n, ok := svc.NormalizeUUID(id); ok {
		id = n
	}
	ca, err := a.svc.GetConsumerAllocations(r.Context(), id)
	if err != nil {
		return err
	}
	allocs := map[string]map[string]any{}
	var modified time.Time
	for _, al := range ca.Allocations {
		m, ok := allocs[al.ProviderUUID]
		if !ok {
			m = map[string]any{"generation": ca.Generations[al.ProviderUUID], "resources": map[string]int64{}}
			allocs[al.ProviderUUID] = m
		}
		m["resources"].(map[string]int64)[al.ResourceClass] = al.Used
		modified = latest(modified, al.CreatedAt)
	}
	out := map[string]any{"allocations": allocs}
	if c := ca.Consumer; c != nil && v.AtLeast(mv(12)) {
		out["project_id"], out["user_id"] = c.ProjectID, c.UserID
		if v.AtLeast(mv(28)) {
			out["consumer_generation"] = c.Generation
		}
		if v.AtLeast(mv(38)) {
			out["consumer_type"] = consumerType(c.Type)
		}
	}
	return reply(w, v, http.StatusOK, out, modified)
}

func consumerType(t string) string {
	if t == "" {
		return "unknown"
	}
	return t
}

func (a *API) providerAllocations(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, as, cs, err := a.svc.ProviderAllocations(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	allocs := map[string]map[string]any{}
	var modified time.Time
	for _, al := range as {
		m, ok := allocs[al.ConsumerUUID]
		if !ok {
			m = map[string]any{"resources": map[string]int64{}}
			if v.AtLeast(mv(28)) {
				m["consumer_generation"] = cs[al.ConsumerUUID].Generation
			}
			allocs[al.ConsumerUUID] = m
		}
		m["resources"].(map[string]int64)[al.ResourceClass] = al.Used
		modified = latest(modified, al.CreatedAt)
	}
	return reply(w, v, http.StatusOK, map[string]any{"allocations": allocs, "resource_provider_generation": p.Generation}, modified)
}

func (a *API) deleteAllocations(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	id := r.PathValue("consumer_uuid")
	if n, ok := svc.NormalizeUUID(id); ok {
		id = n
	}
	if err := a.svc.DeleteAllocations(r.Context(), id); err != nil {
		return err
	}
	return noContent(w)
}

// ---- reshaper

func (a *API) reshape(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var body struct {
		Inventories *map[string]json.RawMessage `json:"inventories"`
		Allocations json.RawMessage             `json:"allocations"`
	}
	if err := decodeStrict(b, &body); err != nil {
		return err
	}
	if body.Inventories == nil || body.Allocations == nil {
		return invalid("'inventories' and 'allocations' are required properties.")
	}
	if len(*body.Inventories) == 0 {
		return invalid("'inventories' must name at least one resource provider.")
	}
	var invs []svc.ProviderInventories
	for _, p := range sortedKeys(*body.Inventories) {
		id, ok := svc.NormalizeUUID(p)
		if !ok || len(p) != 36 {
			return invalid("resource provider %q is not a UUID.", p)
		}
		gen, inv, err := decodeInventories((*body.Inventories)[p])
		if err != nil {
			return err
		}
		invs = append(invs, svc.ProviderInventories{Provider: id, Generation: gen, Inventories: inv})
	}
	allocs, err := decodeManyConsumers(body.Allocations, v, true)
	if err != nil {
		return err
	}
	if err := a.svc.Reshape(r.Context(), invs, allocs); err != nil {
		return err
	}
	return noContent(w)
}
