package compute

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// Small operator and guest APIs: server external events, the instance
// usage audit log, server passwords.
func (a *API) eventRoutes() []rest.Route {
	return []rest.Route{
		rest.R("POST", "/v2.1/os-server-external-events", admin("os_compute_api:os-server-external-events:create"), a.externalEvents),
		rest.R("GET", "/v2.1/os-instance_usage_audit_log", admin("os_compute_api:os-instance-usage-audit-log:list"), a.auditLogs),
		rest.R("GET", "/v2.1/os-instance_usage_audit_log/{before}", admin("os_compute_api:os-instance-usage-audit-log:show"), a.auditLog),
		rest.R("GET", "/v2.1/servers/{id}/os-server-password", reader, a.serverPassword),
		rest.R("DELETE", "/v2.1/servers/{id}/os-server-password", member, a.clearServerPassword),
	}
}

var eventNames = map[string]int{"network-changed": 1, "network-vif-plugged": 1, "network-vif-unplugged": 1,
	"network-vif-deleted": 1, "volume-extended": 51, "power-update": 76, "accelerator-request-bound": 82, "volume-reimaged": 93}

// externalEvents accepts events for servers that have a host. Nothing in
// this cloud waits for them yet (no networking or block storage service
// sends them), so an accepted event changes nothing; each event answers
// 200, 404 (no such server) or 422 (not on a host), the whole 200, 207 or
// 404 as Nova does.
func (a *API) externalEvents(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Events []map[string]any `json:"events"`
	}
	if err := rest.Decode(r, &b, true); err != nil {
		return err
	}
	if len(b.Events) == 0 {
		return oserr.BadRequest("Invalid input for field/attribute events: at least one event is required.")
	}
	c := auth.From(r.Context())
	out := make([]any, 0, len(b.Events))
	ok, failed := 0, 0
	for _, e := range b.Events {
		name, _ := e["name"].(string)
		sid, _ := e["server_uuid"].(string)
		if mvMin, known := eventNames[name]; !known || !at(r, mvMin) {
			return oserr.BadRequest("Invalid input for field/attribute name: %q is not an event this microversion accepts.", name)
		}
		if sid == "" {
			return oserr.BadRequest("Invalid input for field/attribute events: 'server_uuid' is a required property.")
		}
		status, _ := e["status"].(string)
		if status == "" {
			status = "completed"
		}
		if status != "completed" && status != "failed" && status != "in-progress" {
			return oserr.BadRequest("Invalid input for field/attribute status: %q is not one of completed, failed, in-progress.", status)
		}
		ev := map[string]any{"name": name, "server_uuid": sid, "status": status}
		if tag, has := e["tag"]; has {
			ev["tag"] = tag
		}
		v, err := a.svc.Get(r.Context(), c, sid)
		switch {
		case oserr.Is(err, 404):
			ev["code"] = 404
			failed++
		case err != nil:
			return err
		case v.Host == "":
			ev["code"] = 422
			failed++
		default:
			ev["code"] = 200
			ok++
		}
		out = append(out, ev)
	}
	status := http.StatusOK
	switch {
	case ok == 0:
		status = http.StatusNotFound
	case failed > 0:
		status = http.StatusMultiStatus
	}
	rest.WriteJSON(w, status, map[string]any{"events": out})
	return nil
}

// The audit log reports the periodic "instance usage audit" task, which
// this cloud does not run: every host is listed as not run.
func (a *API) auditLogs(w http.ResponseWriter, r *http.Request) error {
	return a.writeAuditLog(w, r, "instance_usage_audit_logs", time.Now().UTC())
}

func (a *API) auditLog(w http.ResponseWriter, r *http.Request) error {
	raw, err := url.PathUnescape(r.PathValue("before"))
	if err != nil {
		raw = r.PathValue("before")
	}
	var before time.Time
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05.999999", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999"} {
		if t, err := time.Parse(l, raw); err == nil {
			before = t
			break
		}
	}
	if before.IsZero() {
		return oserr.BadRequest("Invalid timestamp for date %s; use YYYY-MM-DD hh:mm:ss.", raw)
	}
	return a.writeAuditLog(w, r, "instance_usage_audit_log", before)
}

func (a *API) writeAuditLog(w http.ResponseWriter, r *http.Request, key string, before time.Time) error {
	hs, err := a.svc.Hosts(r.Context())
	if err != nil {
		return err
	}
	// Nova's period: the last whole month before the given time.
	end := time.Date(before.Year(), before.Month(), 1, 0, 0, 0, 0, time.UTC)
	begin := end.AddDate(0, -1, 0)
	names := make([]string, 0, len(hs))
	for _, h := range hs {
		names = append(names, h.Host)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: map[string]any{
		"hosts_not_run": names, "log": map[string]any{}, "num_hosts": len(names), "num_hosts_done": 0,
		"num_hosts_not_run": len(names), "num_hosts_running": 0,
		"overall_status":   fmt.Sprintf("0 of %d hosts done", len(names)) + ". 0 errors. (The usage audit task does not run on this cloud.)",
		"period_beginning": begin.Format("2006-01-02 15:04:05"), "period_ending": end.Format("2006-01-02 15:04:05"),
		"total_errors": 0, "total_instances": 0,
	}})
	return nil
}

// Server passwords are posted by guests through the metadata service,
// which does not exist yet: the password is always empty.
func (a *API) serverPassword(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"password": ""})
	return nil
}

func (a *API) clearServerPassword(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
