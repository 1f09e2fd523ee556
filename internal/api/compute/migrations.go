package compute

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

func (a *API) migrationRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-migrations", admin("os_compute_api:os-migrations:index"), a.listMigrations),
	}
}

// listMigrations is GET /os-migrations: filters host, source_compute,
// status, instance_uuid, migration_type (2.23); limit, marker and
// changes-since (2.59); changes-before (2.66). Flavor ids are strings
// here, so old/new_instance_type_id (Nova's integer row ids) are null;
// node names are the host names.
func (a *API) listMigrations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	l := svc.MigrationList{Filter: svc.MigrationFilter{Host: q.Get("host"), SourceCompute: q.Get("source_compute"),
		Status: q.Get("status"), ServerID: q.Get("instance_uuid")}}
	if at(r, 23) {
		l.Filter.Type = q.Get("migration_type")
	}
	if at(r, 59) {
		l.Marker = q.Get("marker")
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return oserr.BadRequest("limit must be an integer 0 or greater.")
			}
			l.Filter.Limit = min(n, 1000)
		}
		for _, p := range []struct {
			name string
			dst  **time.Time
			mv   int
		}{{"changes-since", &l.Filter.ChangesSince, 59}, {"changes-before", &l.Filter.ChangesBefore, 66}} {
			if v := q.Get(p.name); v != "" && at(r, p.mv) {
				t, err := parseTime(v)
				if err != nil {
					return oserr.BadRequest("Invalid filter %s=%s: give an ISO 8601 time.", p.name, v)
				}
				*p.dst = &t
			}
		}
	}
	var recs []store.MigrationRecord
	if !at(r, 59) || q.Get("limit") != "0" {
		var err error
		if recs, err = a.svc.Migrations(r.Context(), auth.From(r.Context()), l); err != nil {
			return err
		}
	}
	items := make([]any, 0, len(recs))
	for _, m := range recs {
		item := map[string]any{"id": m.ID, "status": m.Status, "instance_uuid": m.ServerID,
			"source_node": nullable(m.SourceCompute), "source_compute": nullable(m.SourceCompute),
			"dest_node": nullable(m.DestCompute), "dest_compute": nullable(m.DestCompute), "dest_host": nil,
			"old_instance_type_id": nil, "new_instance_type_id": nil,
			"created_at": usageTS(&m.CreatedAt), "updated_at": usageTS(&m.UpdatedAt)}
		if at(r, 23) {
			item["migration_type"] = m.Type
		}
		if at(r, 59) {
			item["uuid"] = m.UUID
		}
		items = append(items, item)
	}
	body := map[string]any{"migrations": items}
	if at(r, 59) && l.Filter.Limit > 0 && len(recs) == l.Filter.Limit {
		next := url.Values{}
		for k, vs := range q {
			if k != "marker" {
				next[k] = vs
			}
		}
		next.Set("marker", recs[len(recs)-1].UUID)
		body["migrations_links"] = []any{map[string]any{"rel": "next", "href": a.base + "/v2.1/os-migrations?" + next.Encode()}}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}
