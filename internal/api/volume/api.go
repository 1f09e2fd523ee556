// Package volume serves Cinder's v3 API under /volume, with microversions
// from 3.0 to MaxVersion: routes, request decoding, policy and Cinder's
// wire format over the volume service.
package volume

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

// Prefix is where Cinder is mounted; the versioned API is under
// Prefix/v3/{project_id}.
const Prefix = "/volume"

// Versions served. Each behaviour change up to MaxVersion that clients see
// is implemented (docs/api-coverage.md lists them); gated fields name theirs.
var (
	MinVersion = microversion.Version{Major: 3, Minor: 0}
	MaxVersion = microversion.Version{Major: 3, Minor: 60}
)

var versions = microversion.Range{Service: "volume", Min: MinVersion, Max: MaxVersion}

// Format renders errors as Cinder does: {"badRequest": {"code", "message"}}.
var Format = oserr.Nova

// API is the Cinder v3 HTTP API.
type API struct {
	svc       *svc.Service
	base      string // e.g. http://127.0.0.1:8000/volume
	log       *slog.Logger
	validator auth.Validator
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator}
}

type mvKey struct{}

func mv(r *http.Request) microversion.Version {
	v, ok := r.Context().Value(mvKey{}).(microversion.Version)
	if !ok {
		return MinVersion
	}
	return v
}

// at reports whether the request's microversion is at least 3.minor.
func at(r *http.Request, minor int) bool {
	return mv(r).AtLeast(microversion.Version{Major: 3, Minor: minor})
}

// Service returns the routes ready to mount.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: Format, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Versions: a.versions,
		Endpoints: []rest.Endpoint{
			{Type: "volumev3", Name: "cinderv3", Suffix: "/v3/$(project_id)s"},
			{Type: "block-storage", Name: "cinder", Suffix: "/v3/$(project_id)s"},
		},
		Before: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
			if !strings.HasPrefix(r.URL.Path, Prefix+"/v3/") || r.URL.Path == Prefix+"/v3/" {
				return r, nil
			}
			v, err := versions.Negotiate(w, r)
			if err != nil {
				return r, err
			}
			return r.WithContext(context.WithValue(r.Context(), mvKey{}, v)), nil
		}}
}

// Policy: Cinder's defaults. A project's own resources need a token scoped
// to it (the service hides other projects' volumes behind 404); the
// {project_id} in the path must be the token's project unless admin.

func scoped(c *auth.Credentials, r *http.Request) error {
	if c.ProjectID() == "" {
		return oserr.Forbidden("Block Storage needs a project-scoped token; authenticate with a project (e.g. --os-project-name).")
	}
	if p := r.PathValue("project_id"); p != "" && p != c.ProjectID() && !c.IsAdmin() {
		return oserr.BadRequest("Malformed request url: the URL names project %s but the token is scoped to project %s; use the URL from the catalog.", p, c.ProjectID())
	}
	return nil
}

func reader(c *auth.Credentials, r *http.Request) error { return scoped(c, r) }

func member(c *auth.Credentials, r *http.Request) error {
	if err := scoped(c, r); err != nil {
		return err
	}
	if !c.HasRole(auth.RoleMember) && !c.IsAdmin() {
		return oserr.Forbidden("Policy doesn't allow this: your role on project %s is reader, and changes need member.", c.ProjectID())
	}
	return nil
}

func admin(rule string) rest.Access {
	return func(c *auth.Credentials, r *http.Request) error {
		if err := scoped(c, r); err != nil {
			return err
		}
		if c.IsAdmin() {
			return nil
		}
		return oserr.Forbidden("Policy doesn't allow %s to be performed; it needs the admin role.", rule)
	}
}

// p is the versioned path of a project's resource.
func p(rest string) string { return "/v3/{project_id}" + rest }

func (a *API) routes() []rest.Route {
	rs := []rest.Route{
		rest.R("GET", "/v3", nil, a.version),
		rest.R("GET", "/v3/{$}", nil, a.version),
		rest.R("GET", p("/extensions"), reader, a.extensions),
		rest.R("GET", p("/os-availability-zone"), reader, a.zones),
		rest.R("GET", p("/os-services"), admin("volume_extension:services:index"), a.services),
		rest.R("GET", p("/limits"), reader, a.limits),
		rest.R("GET", p("/scheduler-stats/get_pools"), admin("scheduler_extension:scheduler_stats:get_pools"), a.pools),
	}
	for _, more := range [][]rest.Route{a.volumeRoutes(), a.snapshotRoutes(), a.typeRoutes(), a.attachmentRoutes(), a.quotaRoutes(), a.messageRoutes()} {
		rs = append(rs, more...)
	}
	return rs
}

func (a *API) versionDoc() map[string]any {
	return map[string]any{
		"id": "v3.0", "status": "CURRENT", "version": MaxVersion.String(), "min_version": MinVersion.String(),
		"updated": "2023-08-31T00:00:00Z",
		"links": []any{map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
			map[string]any{"rel": "self", "href": a.base + "/v3/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}},
	}
}

// versions is Cinder's GET /: the versions served (only v3 here; v2 was
// removed from Cinder in Xena). Cinder answers it with 300 Multiple Choices.
func (a *API) versions(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusMultipleChoices, map[string]any{"versions": []any{a.versionDoc()}})
	return nil
}

func (a *API) version(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{a.versionDoc()}})
	return nil
}

// links are Cinder's self and bookmark links of a resource.
func (a *API) links(r *http.Request, kind, id string) []any {
	proj := r.PathValue("project_id")
	return []any{
		map[string]any{"rel": "self", "href": a.base + "/v3/" + proj + "/" + kind + "/" + id},
		map[string]any{"rel": "bookmark", "href": a.base + "/" + proj + "/" + kind + "/" + id},
	}
}

// stamp formats a time as Cinder does: microseconds, no zone.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var extensionList = []struct{ alias, name, desc string }{
	{"os-availability-zone", "AvailabilityZones", "Describe Availability Zones."},
	{"os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."},
	{"os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."},
	{"os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."},
	{"os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."},
	{"os-volume-actions", "VolumeActions", "Enable volume actions."},
	{"os-admin-actions", "AdminActions", "Enable admin actions."},
	{"os-quota-sets", "Quotas", "Quota management support."},
	{"os-quota-class-sets", "QuotaClasses", "Quota classes management support."},
	{"os-services", "Services", "Services support."},
	{"os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."},
	{"os-types-manage", "TypesManage", "Types manage support."},
	{"os-volume-type-access", "VolumeTypeAccess", "Volume type access support."},
	{"os-snapshot-actions", "SnapshotActions", "Enable snapshot manager actions."},
}

func (a *API) extensions(w http.ResponseWriter, _ *http.Request) error {
	out := make([]any, 0, len(extensionList))
	for _, e := range extensionList {
		out = append(out, map[string]any{"alias": e.alias, "name": e.name, "description": e.desc,
			"updated": "2013-01-01T00:00:00+00:00", "links": []any{}})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"extensions": out})
	return nil
}

func (a *API) zones(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": []any{
		map[string]any{"zoneName": a.svc.Config().Zone, "zoneState": map[string]any{"available": true}}}})
	return nil
}

// services lists cinder-scheduler, and cinder-volume for the host that
// runs the storage pool (none while the cloud has no pool).
func (a *API) services(w http.ResponseWriter, r *http.Request) error {
	cfg := a.svc.Config()
	host, _, _ := strings.Cut(cfg.Host, "@")
	now := stamp(time.Now())
	row := func(binary, h string) map[string]any {
		return map[string]any{"binary": binary, "host": h, "zone": cfg.Zone, "status": "enabled", "state": "up",
			"updated_at": now, "disabled_reason": nil}
	}
	out := []any{}
	q := r.URL.Query()
	for _, s := range []map[string]any{row("cinder-scheduler", host), row("cinder-volume", cfg.Host)} {
		if s["binary"] == "cinder-volume" && !a.svc.HasBackend() {
			continue
		}
		if b := q.Get("binary"); b != "" && b != s["binary"] {
			continue
		}
		// Cinder's host filter matches a backend's host@backend too.
		if h := q.Get("host"); h != "" && h != s["host"] && !strings.HasPrefix(s["host"].(string), h+"@") {
			continue
		}
		out = append(out, s)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"services": out})
	return nil
}

// pools lists the one storage pool (Cinder's scheduler stats).
func (a *API) pools(w http.ResponseWriter, r *http.Request) error {
	out := []any{}
	if a.svc.HasBackend() {
		cfg := a.svc.Config()
		p := map[string]any{"name": cfg.Host + "#pool"}
		if v, ok := parseBool(r.URL.Query().Get("detail")); ok && v {
			p["capabilities"] = map[string]any{"pool_name": "pool", "volume_backend_name": "pool", "storage_protocol": "nbd",
				"driver_version": "1.0", "vendor_name": "Open Source", "total_capacity_gb": "infinite", "free_capacity_gb": "infinite",
				"reserved_percentage": 0, "multiattach": false, "thin_provisioning_support": true, "QoS_support": false,
				"timestamp": stamp(time.Now())}
		}
		out = append(out, p)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"pools": out})
	return nil
}

func (a *API) limits(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	u, err := a.svc.Usage(r.Context(), c.ProjectID())
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": map[string]any{
		"maxTotalVolumes": u["volumes"].Limit, "maxTotalSnapshots": u["snapshots"].Limit,
		"maxTotalVolumeGigabytes": u["gigabytes"].Limit, "maxTotalBackups": u["backups"].Limit,
		"maxTotalBackupGigabytes": u["backup_gigabytes"].Limit,
		"totalVolumesUsed":        u["volumes"].InUse, "totalSnapshotsUsed": u["snapshots"].InUse,
		"totalGigabytesUsed": u["gigabytes"].InUse, "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
	}}})
	return nil
}
