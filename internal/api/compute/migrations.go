package compute

import (
	"net/http"
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
		if q.Has("limit") {
			var err error
			if l.Filter.Limit, err = rest.Limit(q, rest.Limits{Max: maxLimit}); err != nil {
				return err
			}
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
	if at(r, 59) && len(recs) > 0 {
		if links := rest.NextLinks(a.base+"/v2.1/os-migrations", q, len(recs), l.Filter.Limit, recs[len(recs)-1].UUID); links != nil {
			body["migrations_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}
