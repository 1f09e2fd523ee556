// Package compute serves Nova's v2.1 API under /compute, with
// microversions up to MaxVersion: routes, request decoding, policy and
// Nova's wire format over the compute service.
package compute

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// Prefix is where Nova is mounted; the versioned API is under Prefix/v2.1.
const Prefix = "/compute"

// Versions served. Every behaviour change up to MaxVersion is implemented
// (see docs/api-coverage.md); fields gated by a microversion name it.
var (
	MinVersion = microversion.Version{Major: 2, Minor: 1}
	MaxVersion = microversion.Version{Major: 2, Minor: 79}
)

var versions = microversion.Range{Service: "compute", Legacy: "X-OpenStack-Nova-API-Version", Min: MinVersion, Max: MaxVersion}

// API is the Nova v2.1 HTTP API.
type API struct {
	svc       *svc.Service
	base      string // e.g. http://127.0.0.1:8000/compute
	log       *slog.Logger
	validator auth.Validator
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator}
}

type mvKey struct{}

// mv returns the request's negotiated microversion.
func mv(r *http.Request) microversion.Version {
	v, _ := r.Context().Value(mvKey{}).(microversion.Version)
	return v
}

// at is shorthand for "the request's microversion is at least 2.minor".
func at(r *http.Request, minor int) bool {
	return mv(r).AtLeast(microversion.Version{Major: 2, Minor: minor})
}

// Service returns the routes ready to mount.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: oserr.Nova, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Versions:  a.versions,
		Endpoints: []rest.Endpoint{{Type: "compute", Name: "nova", Suffix: "/v2.1"}},
		Unmetered: []string{"/serial-console/"},
		Also: func(mux *http.ServeMux) {
			legacy := a.LegacyV2(mux)
			mux.Handle(Prefix+"/v2", legacy)
			mux.Handle(Prefix+"/v2/", legacy)
		},
		Before: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
			w.Header().Set("X-Compute-Request-Id", reqid.From(r.Context()))
			if !strings.HasPrefix(r.URL.Path, Prefix+"/v2.1/") || r.URL.Path == Prefix+"/v2.1/" {
				return r, nil
			}
			v, err := versions.Negotiate(w, r)
			if err != nil {
				return r, err
			}
			return r.WithContext(context.WithValue(r.Context(), mvKey{}, v)), nil
		}}
}

// Policy: Nova's defaults. "admin_or_owner" for a project's own resources
// (checked in the service, which hides other projects' servers behind
// 404), "admin_api" for operator APIs.

func member(c *auth.Credentials, _ *http.Request) error {
	if c.ProjectID() == "" && !c.IsAdmin() {
		return oserr.Forbidden("Compute needs a project-scoped token; authenticate with a project (e.g. --os-project-name).")
	}
	if !c.HasRole(auth.RoleMember) && !c.IsAdmin() {
		return oserr.Forbidden("Policy doesn't allow this: your role on project %s is reader, and changes need member.", c.ProjectID())
	}
	return nil
}

func reader(c *auth.Credentials, _ *http.Request) error {
	if c.ProjectID() == "" && !c.IsAdmin() {
		return oserr.Forbidden("Compute needs a project-scoped token; authenticate with a project (e.g. --os-project-name).")
	}
	return nil
}

func admin(rule string) rest.Access {
	return func(c *auth.Credentials, _ *http.Request) error {
		if c.IsAdmin() {
			return nil
		}
		return oserr.Forbidden("Policy doesn't allow %s to be performed; it needs the admin role.", rule)
	}
}

func (a *API) routes() []rest.Route {
	rs := []rest.Route{
		rest.R("GET", "/v2.1", nil, a.version),
		rest.R("GET", "/v2.1/{$}", nil, a.version),

		rest.R("GET", "/v2.1/servers", reader, a.listServers),
		rest.R("GET", "/v2.1/servers/detail", reader, a.listServersDetail),
		rest.R("POST", "/v2.1/servers", member, a.createServer),
		rest.R("GET", "/v2.1/servers/{id}", reader, a.showServer),
		rest.R("PUT", "/v2.1/servers/{id}", member, a.updateServer),
		rest.R("DELETE", "/v2.1/servers/{id}", member, a.deleteServer),
		rest.R("POST", "/v2.1/servers/{id}/action", member, a.serverAction),
		rest.R("POST", "/v2.1/servers/{id}/remote-consoles", member, a.createRemoteConsole),
		rest.R("GET", "/v2.1/os-console-auth-tokens/{token}", admin("os_compute_api:os-console-auth-tokens"), a.showConsoleToken),
		rest.R("GET", "/serial-console/{$}", nil, a.serialProxy),

		rest.R("GET", "/v2.1/servers/{id}/metadata", reader, a.listMetadata),
		rest.R("POST", "/v2.1/servers/{id}/metadata", member, a.mergeMetadata),
		rest.R("PUT", "/v2.1/servers/{id}/metadata", member, a.replaceMetadata),
		rest.R("GET", "/v2.1/servers/{id}/metadata/{key}", reader, a.showMetadataItem),
		rest.R("PUT", "/v2.1/servers/{id}/metadata/{key}", member, a.setMetadataItem),
		rest.R("DELETE", "/v2.1/servers/{id}/metadata/{key}", member, a.deleteMetadataItem),

		rest.R("GET", "/v2.1/servers/{id}/tags", reader, a.listTags),
		rest.R("PUT", "/v2.1/servers/{id}/tags", member, a.replaceTags),
		rest.R("DELETE", "/v2.1/servers/{id}/tags", member, a.deleteTags),
		rest.R("GET", "/v2.1/servers/{id}/tags/{tag}", reader, a.checkTag),
		rest.R("PUT", "/v2.1/servers/{id}/tags/{tag}", member, a.addTag),
		rest.R("DELETE", "/v2.1/servers/{id}/tags/{tag}", member, a.deleteTag),

		rest.R("GET", "/v2.1/servers/{id}/os-instance-actions", reader, a.listActions),
		rest.R("GET", "/v2.1/servers/{id}/os-instance-actions/{request_id}", reader, a.showAction),
	}
	// The operator and per-user resources live in their own files.
	for _, more := range [][]rest.Route{a.flavorRoutes(), a.keypairRoutes(), a.hostRoutes(), a.aggregateRoutes(),
		a.quotaRoutes(), a.groupRoutes(), a.imageRoutes(), a.usageRoutes(), a.osHostRoutes(), a.migrationRoutes(), a.eventRoutes(), a.volumeAttachmentRoutes()} {
		rs = append(rs, more...)
	}
	return rs
}

// versionDoc describes v2.1 with its microversion range.
func (a *API) versionDoc() map[string]any {
	return map[string]any{
		"id": "v2.1", "status": "CURRENT", "version": MaxVersion.String(), "min_version": MinVersion.String(),
		"updated": "2013-07-23T11:33:21Z",
		"links": []any{map[string]any{"rel": "self", "href": a.base + "/v2.1/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}},
	}
}

// legacyDoc describes v2.0: the same API without microversions, served
// under /v2 for old clients (Nova lists it first).
func (a *API) legacyDoc() map[string]any {
	return map[string]any{
		"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
		"links": []any{map[string]any{"rel": "self", "href": a.base + "/v2/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}},
	}
}

func (a *API) versions(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{a.legacyDoc(), a.versionDoc()}})
	return nil
}

// LegacyV2 serves /v2: the version document of v2.0, and every other path
// as the same path under /v2.1 at microversion 2.1.
func (a *API) LegacyV2(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, Prefix+"/v2")
		if rest == "" || rest == "/" {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"version": a.legacyDoc()})
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = Prefix + "/v2.1" + rest
		r2.URL.RawPath = ""
		r2.Header.Del("OpenStack-API-Version")
		r2.Header.Del("X-OpenStack-Nova-API-Version")
		next.ServeHTTP(w, r2)
	})
}

func (a *API) version(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"version": a.versionDoc()})
	return nil
}

// link builds Nova's self and bookmark links for a resource path.
func (a *API) links(path string) []any {
	return []any{
		map[string]any{"rel": "self", "href": a.base + "/v2.1/" + path},
		map[string]any{"rel": "bookmark", "href": a.base + "/" + path},
	}
}
