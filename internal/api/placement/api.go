// Package placement serves OpenStack Placement's API under /placement:
// routes with the microversion each appeared in, query and body decoding,
// policy (admin only, Placement's default) and Placement's wire format and
// {"errors": […]} bodies, over the placement service.
package placement

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
)

// Prefix is where Placement is mounted.
const Prefix = "/placement"

// Versions is the microversion range served. 1.39 is the newest Placement
// microversion (Yoga onwards); every feature up to it is implemented,
// except sharing providers (MISC_SHARES_VIA_AGGREGATE) in allocation
// candidates.
var Versions = microversion.Range{
	Service: "placement",
	Min:     microversion.Version{Major: 1, Minor: 0},
	Max:     microversion.Version{Major: 1, Minor: 39},
}

// API is the Placement HTTP API.
type API struct {
	svc       *svc.Service
	validator auth.Validator
	// base is the public URL of the placement endpoint, for Location headers.
	base string
	log  *slog.Logger
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, validator: env.Validator, base: env.Base(Prefix), log: env.Logger()}
}

// Service returns the routes ready to mount.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: format, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Endpoints: []rest.Endpoint{{Type: "placement", Name: "placement"}}}
}

// handler serves one route at the negotiated microversion.
type handler func(w http.ResponseWriter, r *http.Request, v microversion.Version) error

func mv(minor int) microversion.Version { return microversion.Version{Major: 1, Minor: minor} }

func (a *API) routes() []rest.Route {
	const rp = "/resource_providers/{uuid}"
	return []rest.Route{
		a.public("GET", "", a.root),
		a.public("GET", "/{$}", a.root),

		a.r("GET", "/resource_providers", 0, "resource_providers:list", a.listProviders),
		a.r("POST", "/resource_providers", 0, "resource_providers:create", a.createProvider),
		a.r("GET", rp, 0, "resource_providers:show", a.getProvider),
		a.r("PUT", rp, 0, "resource_providers:update", a.updateProvider),
		a.r("DELETE", rp, 0, "resource_providers:delete", a.deleteProvider),

		a.r("GET", rp+"/inventories", 0, "resource_providers:inventories:list", a.getInventories),
		a.r("POST", rp+"/inventories", 0, "resource_providers:inventories:create", a.createInventory),
		a.r("PUT", rp+"/inventories", 0, "resource_providers:inventories:update", a.setInventories),
		a.gated("DELETE", rp+"/inventories", 5, http.StatusMethodNotAllowed, "resource_providers:inventories:delete", a.deleteInventories),
		a.r("GET", rp+"/inventories/{resource_class}", 0, "resource_providers:inventories:show", a.getInventory),
		a.r("PUT", rp+"/inventories/{resource_class}", 0, "resource_providers:inventories:update", a.updateInventory),
		a.r("DELETE", rp+"/inventories/{resource_class}", 0, "resource_providers:inventories:delete", a.deleteInventory),

		a.r("GET", rp+"/usages", 0, "resource_providers:usages", a.providerUsages),
		a.r("GET", "/usages", 9, "usages", a.totalUsages),

		a.r("GET", rp+"/aggregates", 1, "resource_providers:aggregates:list", a.getAggregates),
		a.r("PUT", rp+"/aggregates", 1, "resource_providers:aggregates:update", a.setAggregates),

		a.r("GET", "/resource_classes", 2, "resource_classes:list", a.listClasses),
		a.r("POST", "/resource_classes", 2, "resource_classes:create", a.createClass),
		a.r("GET", "/resource_classes/{name}", 2, "resource_classes:show", a.getClass),
		a.r("PUT", "/resource_classes/{name}", 2, "resource_classes:update", a.putClass),
		a.r("DELETE", "/resource_classes/{name}", 2, "resource_classes:delete", a.deleteClass),

		a.r("GET", "/traits", 6, "traits:list", a.listTraits),
		a.r("GET", "/traits/{name}", 6, "traits:show", a.getTrait),
		a.r("PUT", "/traits/{name}", 6, "traits:update", a.putTrait),
		a.r("DELETE", "/traits/{name}", 6, "traits:delete", a.deleteTrait),
		a.r("GET", rp+"/traits", 6, "resource_providers:traits:list", a.getProviderTraits),
		a.r("PUT", rp+"/traits", 6, "resource_providers:traits:update", a.setProviderTraits),
		a.r("DELETE", rp+"/traits", 6, "resource_providers:traits:delete", a.deleteProviderTraits),

		a.r("GET", rp+"/allocations", 0, "resource_providers:allocations:list", a.providerAllocations),
		a.r("POST", "/allocations", 13, "allocations:manage", a.postAllocations),
		a.r("GET", "/allocations/{consumer_uuid}", 0, "allocations:list", a.getAllocations),
		a.r("PUT", "/allocations/{consumer_uuid}", 0, "allocations:update", a.putAllocations),
		a.r("DELETE", "/allocations/{consumer_uuid}", 0, "allocations:delete", a.deleteAllocations),

		a.r("GET", "/allocation_candidates", 10, "allocation_candidates:list", a.allocationCandidates),
		a.r("POST", "/reshaper", 30, "reshaper:reshape", a.reshape),
	}
}

// r declares an admin-only route (Placement's default policy for every
// rule) that exists from microversion 1.since on, and is a 404 before.
func (a *API) r(method, path string, since int, rule string, h handler) rest.Route {
	return a.gated(method, path, since, http.StatusNotFound, rule, h)
}

// public declares a route that needs no token.
func (a *API) public(method, path string, h handler) rest.Route {
	return rest.R(method, path, nil, func(w http.ResponseWriter, r *http.Request) error {
		v, err := negotiate(w, r)
		if err != nil {
			return err
		}
		return h(w, r, v)
	})
}

// gated is r with the status answered below the route's microversion.
// Like Placement, it negotiates the microversion before authenticating, so
// a client learns the supported range (406) without a token.
func (a *API) gated(method, path string, since, status int, rule string, h handler) rest.Route {
	rule = "placement:" + rule
	return rest.R(method, path, nil, func(w http.ResponseWriter, r *http.Request) error {
		v, err := negotiate(w, r)
		if err != nil {
			return err
		}
		tok := r.Header.Get("X-Auth-Token")
		if tok == "" {
			return oserr.Unauthorized("The request you have made requires authentication: send a token in the X-Auth-Token header (get one with 'openstack token issue').")
		}
		c, err := a.validator.Validate(r.Context(), tok)
		if err != nil {
			return err
		}
		r = r.WithContext(auth.With(r.Context(), c))
		if v.Less(mv(since)) {
			if status == http.StatusMethodNotAllowed {
				return oserr.MethodNotAllowed("The method specified is not allowed for this resource before microversion 1.%d; send OpenStack-API-Version: placement 1.%d.", since, since)
			}
			return oserr.NotFound("The resource could not be found: %s %s needs microversion 1.%d or later; send OpenStack-API-Version: placement 1.%d.", method, r.URL.Path, since, since)
		}
		if !c.IsAdmin() {
			return oserr.Forbidden("Policy does not allow %s to be performed: it needs the admin role.", rule)
		}
		if method == "GET" && !acceptsJSON(r) {
			return oserr.NotAcceptable("Only application/json is provided; send Accept: application/json.")
		}
		return h(w, r, v)
	})
}

// errVersion marks the 406 of an unsupported microversion, whose error
// body also names the supported range (osc-placement reads max_version).
var errVersion = errors.New("unsupported microversion")

func negotiate(w http.ResponseWriter, r *http.Request) (microversion.Version, error) {
	v, err := Versions.Negotiate(w, r)
	if oserr.Is(err, http.StatusNotAcceptable) {
		return v, oserr.From(err).WithCause(errVersion)
	}
	return v, err
}

// format renders Placement's {"errors": [...]}, with the supported range
// on a 406 for the microversion.
func format(e *oserr.Error, requestID string) any {
	body := oserr.Placement(e, requestID)
	if errors.Is(e.Cause, errVersion) {
		if m, ok := body.(map[string]any); ok {
			if errs, ok := m["errors"].([]any); ok && len(errs) == 1 {
				if item, ok := errs[0].(map[string]any); ok {
					item["max_version"] = Versions.Max.String()
					item["min_version"] = Versions.Min.String()
				}
			}
		}
	}
	return body
}

func acceptsJSON(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	if acc == "" {
		return true
	}
	for _, part := range strings.Split(acc, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" || mt == "application/json" {
			return true
		}
	}
	return false
}

// readBody checks the body is JSON and returns it.
func readBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, oserr.BadRequest("content-type header required: send Content-Type: application/json with a JSON body.")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, oserr.UnsupportedMediaType("The media type %s is not supported, use application/json.", ct)
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, oserr.TooLarge("The request body is larger than the limit of %d bytes; send a smaller body.", mbe.Limit)
	} else if err != nil {
		return nil, oserr.BadRequest("The request body could not be read: %v.", err)
	}
	return b, nil
}

// decodeStrict decodes b into v, rejecting unknown fields, with the
// shared decoder's messages.
func decodeStrict(b []byte, v any) error {
	return rest.Decode(&http.Request{Body: io.NopCloser(bytes.NewReader(b))}, v, true)
}

// reply writes a JSON answer; from microversion 1.15 with Last-Modified
// (modified, or now when zero) and Cache-Control: no-cache.
func reply(w http.ResponseWriter, v microversion.Version, status int, body any, modified time.Time) error {
	if v.AtLeast(mv(15)) {
		if modified.IsZero() {
			modified = time.Now()
		}
		w.Header().Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "no-cache")
	}
	rest.WriteJSON(w, status, body)
	return nil
}

func noContent(w http.ResponseWriter) error {
	rest.NoContent(w)
	return nil
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// root is the version document at GET /placement/.
func (a *API) root(w http.ResponseWriter, _ *http.Request, v microversion.Version) error {
	return reply(w, v, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id":          "v" + Versions.Min.String(),
		"min_version": Versions.Min.String(),
		"max_version": Versions.Max.String(),
		"status":      "CURRENT",
		"links":       []any{map[string]any{"rel": "self", "href": ""}},
	}}}, time.Time{})
}
