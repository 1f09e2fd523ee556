package compute

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// aggregateRoutes declares os-aggregates (admin only).
func (a *API) aggregateRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-aggregates", admin("os_compute_api:os-aggregates:index"), a.listAggregates),
		rest.R("POST", "/v2.1/os-aggregates", admin("os_compute_api:os-aggregates:create"), a.createAggregate),
		rest.R("GET", "/v2.1/os-aggregates/{id}", admin("os_compute_api:os-aggregates:show"), a.showAggregate),
		rest.R("PUT", "/v2.1/os-aggregates/{id}", admin("os_compute_api:os-aggregates:update"), a.updateAggregate),
		rest.R("DELETE", "/v2.1/os-aggregates/{id}", admin("os_compute_api:os-aggregates:delete"), a.deleteAggregate),
		rest.R("POST", "/v2.1/os-aggregates/{id}/action", admin("os_compute_api:os-aggregates:add_host"), a.aggregateAction),
	}
}

// aggregateView renders an aggregate; brief drops hosts and metadata, as
// Nova's create response does.
func aggregateView(r *http.Request, ag store.Aggregate, brief bool) map[string]any {
	m := map[string]any{"id": ag.ID, "name": ag.Name, "availability_zone": nullable(ag.Zone),
		"created_at": microTS(ag.CreatedAt), "updated_at": nil, "deleted": false, "deleted_at": nil}
	if !ag.UpdatedAt.Equal(ag.CreatedAt) {
		m["updated_at"] = microTS(ag.UpdatedAt)
	}
	if !brief {
		hosts := ag.Hosts
		if hosts == nil {
			hosts = []string{}
		}
		meta := ag.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		m["hosts"], m["metadata"] = hosts, meta
	}
	if at(r, 41) {
		m["uuid"] = ag.UUID // 2.41
	}
	return m
}

func (a *API) listAggregates(w http.ResponseWriter, r *http.Request) error {
	as, err := a.svc.Aggregates(r.Context(), auth.From(r.Context()))
	if err != nil {
		return err
	}
	items := make([]any, len(as))
	for i, ag := range as {
		items[i] = aggregateView(r, ag, false)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"aggregates": items})
	return nil
}

// zoneField reads availability_zone: a zone name or null.
func zoneField(raw []byte) (*string, error) {
	z, err := optStr(raw, "availability_zone")
	if err != nil {
		return nil, err
	}
	if z != nil && !svc.ValidZoneName(strings.TrimSpace(*z)) {
		return nil, oserr.BadRequest("Invalid input for field/attribute availability_zone: %q is not a valid zone name; use 1 to 255 printable characters without ':' and without leading or trailing whitespace.", *z)
	}
	return z, nil
}

func (a *API) createAggregate(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := wrapped(body, "aggregate", []string{"name", "availability_zone"}, []string{"name"})
	if err != nil {
		return err
	}
	name, err := str(m["name"], "name")
	if err != nil {
		return err
	}
	zone := ""
	if raw, ok := m["availability_zone"]; ok {
		z, err := zoneField(raw)
		if err != nil {
			return err
		}
		if z != nil {
			zone = *z
		}
	}
	ag, err := a.svc.CreateAggregate(r.Context(), auth.From(r.Context()), name, zone)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"aggregate": aggregateView(r, ag, true)})
	return nil
}

func (a *API) showAggregate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id", "aggregate")
	if err != nil {
		return err
	}
	ag, err := a.svc.Aggregate(r.Context(), auth.From(r.Context()), id)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"aggregate": aggregateView(r, ag, false)})
	return nil
}

func (a *API) updateAggregate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id", "aggregate")
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := wrapped(body, "aggregate", []string{"name", "availability_zone"}, nil)
	if err != nil {
		return err
	}
	var u svc.AggregateUpdate
	if raw, ok := m["name"]; ok {
		n, err := str(raw, "name")
		if err != nil {
			return err
		}
		u.Name = &n
	}
	if raw, ok := m["availability_zone"]; ok {
		z, err := zoneField(raw)
		if err != nil {
			return err
		}
		u.Zone = &z
	}
	if u.Name == nil && u.Zone == nil {
		return oserr.BadRequest("Invalid input for field/attribute aggregate: give name or availability_zone to update.")
	}
	ag, err := a.svc.UpdateAggregate(r.Context(), auth.From(r.Context()), id, u)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"aggregate": aggregateView(r, ag, false)})
	return nil
}

func (a *API) deleteAggregate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id", "aggregate")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteAggregate(r.Context(), auth.From(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

var hostName = regexp.MustCompile(`^[a-zA-Z0-9-._]{1,255}$`)

func (a *API) aggregateAction(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id", "aggregate")
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	top, err := object(body, "", []string{"add_host", "remove_host", "set_metadata"}, nil)
	if err != nil {
		return err
	}
	if len(top) != 1 {
		return oserr.BadRequest("An aggregate action body has exactly one key: add_host, remove_host or set_metadata.")
	}
	c := auth.From(r.Context())
	var ag store.Aggregate
	for action, raw := range top {
		switch action {
		case "add_host", "remove_host":
			m, err := object(raw, action, []string{"host"}, []string{"host"})
			if err != nil {
				return err
			}
			host, err := str(m["host"], "host")
			if err != nil {
				return err
			}
			if !hostName.MatchString(host) {
				return oserr.BadRequest("Invalid input for field/attribute host: %q is not a host name (letters, digits, '-', '.', '_').", host)
			}
			if action == "add_host" {
				ag, err = a.svc.AddAggregateHost(r.Context(), c, id, host)
			} else {
				ag, err = a.svc.RemoveAggregateHost(r.Context(), c, id, host)
			}
			if err != nil {
				return err
			}
		case "set_metadata":
			m, err := object(raw, action, []string{"metadata"}, []string{"metadata"})
			if err != nil {
				return err
			}
			items, err := object(m["metadata"], "metadata", nil, nil)
			if err != nil {
				return err
			}
			meta := make(map[string]*string, len(items))
			for k, v := range items {
				if meta[k], err = optStr(v, "metadata."+k); err != nil {
					return err
				}
			}
			if ag, err = a.svc.SetAggregateMetadata(r.Context(), c, id, meta); err != nil {
				return err
			}
		}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"aggregate": aggregateView(r, ag, false)})
	return nil
}
