package compute

import (
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// Server addresses, diagnostics and usage: what the control plane can
// answer from server records alone.
func (a *API) usageRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/servers/{id}/ips", reader, a.listIPs),
		rest.R("GET", "/v2.1/servers/{id}/ips/{network}", reader, a.showIPs),
		rest.R("GET", "/v2.1/servers/{id}/diagnostics", admin("os_compute_api:os-server-diagnostics"), a.diagnostics),
		rest.R("GET", "/v2.1/os-simple-tenant-usage", admin("os_compute_api:os-simple-tenant-usage:list"), a.listUsage),
		rest.R("GET", "/v2.1/os-simple-tenant-usage/{project_id}", reader, a.showUsage),
	}
}

// Servers have no NICs until the networking service exists, so their
// address lists are empty and no network label is found.
func (a *API) listIPs(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"addresses": ipsView(a.addresses(r, []store.Server{v})[v.ID])})
	return nil
}

func (a *API) showIPs(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	label := r.PathValue("network")
	ips := ipsView(a.addresses(r, []store.Server{v})[v.ID])
	if _, ok := ips[label]; !ok {
		return oserr.NotFound("There is no such network label: server %s has no address on a network named %s; see GET /servers/%s/ips.", v.ID, label, v.ID)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{label: ips[label]})
	return nil
}

// ipsView is Nova's /ips: per network name, each address's version and
// addr only.
func ipsView(addrs []svc.Address) map[string]any {
	out := map[string]any{}
	for _, ad := range addrs {
		list, _ := out[ad.Network].([]any)
		out[ad.Network] = append(list, map[string]any{"version": ad.Version, "addr": ad.IP})
	}
	return out
}

// diagnostics answers for servers on fake hosts only, with figures taken
// from the flavor and hypervisor "fake": nothing is measured. From 2.48
// Nova's schema allows only real driver names, so driver is "libvirt"
// there (the driver the qemu hosts will use) and hypervisor says "fake".
func (a *API) diagnostics(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.Diagnostics(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := d.Server
	state := map[string]string{svc.VMActive: "running", svc.VMPaused: "paused", svc.VMSuspended: "suspended",
		svc.VMStopped: "shutdown", svc.VMResized: "running", svc.VMError: "crashed"}[v.VMState]
	if state == "" {
		state = "pending"
	}
	if !at(r, 48) {
		rest.WriteJSON(w, http.StatusOK, map[string]any{"driver": "fake", "hypervisor": d.HypervisorType, "state": state,
			"memory": v.Flavor.RAM * 1024, "num_cpus": v.Flavor.VCPUs, "note": "synthetic diagnostics of a fake guest; nothing is measured"})
		return nil
	}
	cpus := make([]any, 0, v.Flavor.VCPUs)
	for i := 0; i < v.Flavor.VCPUs; i++ {
		cpus = append(cpus, map[string]any{"id": i, "time": nil, "utilisation": nil})
	}
	uptime := any(nil)
	if v.LaunchedAt != nil {
		uptime = int(time.Since(*v.LaunchedAt).Seconds())
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{
		"state": state, "driver": "libvirt", "hypervisor": d.HypervisorType, "hypervisor_os": d.HypervisorType,
		"uptime": uptime, "config_drive": v.ConfigDrive, "num_cpus": v.Flavor.VCPUs, "num_nics": 0, "num_disks": 1,
		"memory_details": map[string]any{"maximum": v.Flavor.RAM, "used": nil},
		"cpu_details":    cpus, "nic_details": []any{},
		"disk_details": []any{map[string]any{"read_bytes": nil, "read_requests": nil, "write_bytes": nil, "write_requests": nil, "errors_count": nil}},
	})
	return nil
}

// usageTime parses Nova's usage period bounds; absent means now.
func usageTime(q url.Values, name string, now time.Time) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return now, nil
	}
	for _, l := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999", time.RFC3339Nano} {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, oserr.BadRequest("Datetime is in invalid format: %s=%q; use YYYY-MM-DDThh:mm:ss[.ffffff].", name, v)
}

func (a *API) usageRequest(r *http.Request, projectID string) (svc.UsageRequest, error) {
	q := r.URL.Query()
	now := time.Now().UTC()
	req := svc.UsageRequest{ProjectID: projectID}
	var err error
	if req.Start, err = usageTime(q, "start", now); err != nil {
		return req, err
	}
	if req.End, err = usageTime(q, "end", now); err != nil {
		return req, err
	}
	if !req.Start.Before(req.End) {
		return req, oserr.BadRequest("Invalid start time. The start time cannot occur after the end time.")
	}
	if at(r, 40) {
		req.Marker = q.Get("marker")
		if q.Has("limit") {
			if req.Limit, err = rest.Limit(q, rest.Limits{Max: maxLimit}); err != nil {
				return req, err
			}
		}
	}
	return req, nil
}

// tenantUsages groups server usages by project in Nova's shape.
func tenantUsages(req svc.UsageRequest, us []svc.ServerUsage, detailed bool) []map[string]any {
	byProject := map[string]map[string]any{}
	var order []string
	for _, u := range us {
		p := u.Server.ProjectID
		t, ok := byProject[p]
		if !ok {
			t = map[string]any{"tenant_id": p, "start": usageTS(&req.Start), "stop": usageTS(&req.End), "total_hours": 0.0,
				"total_local_gb_usage": 0.0, "total_memory_mb_usage": 0.0, "total_vcpus_usage": 0.0}
			if detailed {
				t["server_usages"] = []any{}
			}
			byProject[p] = t
			order = append(order, p)
		}
		t["total_hours"] = t["total_hours"].(float64) + u.Hours
		t["total_local_gb_usage"] = t["total_local_gb_usage"].(float64) + float64(u.LocalGB)*u.Hours
		t["total_memory_mb_usage"] = t["total_memory_mb_usage"].(float64) + float64(u.MemoryMB)*u.Hours
		t["total_vcpus_usage"] = t["total_vcpus_usage"].(float64) + float64(u.VCPUs)*u.Hours
		if detailed {
			state := u.Server.VMState
			if u.Server.TerminatedAt != nil {
				state = "terminated"
			}
			t["server_usages"] = append(t["server_usages"].([]any), map[string]any{
				"instance_id": u.Server.ID, "name": u.Name, "tenant_id": p, "flavor": u.FlavorName, "hours": u.Hours,
				"local_gb": u.LocalGB, "memory_mb": u.MemoryMB, "vcpus": u.VCPUs, "state": state, "uptime": u.UptimeSeconds,
				"started_at": usageTS(u.Server.LaunchedAt), "ended_at": usageTS(u.Server.TerminatedAt),
			})
		}
	}
	sort.Strings(order)
	out := make([]map[string]any, 0, len(order))
	for _, p := range order {
		out = append(out, byProject[p])
	}
	return out
}

func (a *API) usageLinks(r *http.Request, req svc.UsageRequest, us []svc.ServerUsage) []any {
	if len(us) == 0 {
		return nil
	}
	return rest.NextLinks(a.base+r.URL.Path[len(Prefix):], r.URL.Query(), len(us), req.Limit, us[len(us)-1].Server.ID)
}

func (a *API) listUsage(w http.ResponseWriter, r *http.Request) error {
	req, err := a.usageRequest(r, "")
	if err != nil {
		return err
	}
	us, err := a.svc.UsageServers(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	d := r.URL.Query().Get("detailed")
	body := map[string]any{"tenant_usages": tenantUsages(req, us, d != "" && d != "0")}
	if l := a.usageLinks(r, req, us); l != nil {
		body["tenant_usages_links"] = l
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (a *API) showUsage(w http.ResponseWriter, r *http.Request) error {
	req, err := a.usageRequest(r, r.PathValue("project_id"))
	if err != nil {
		return err
	}
	us, err := a.svc.UsageServers(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	usage := map[string]any{} // Nova answers {} for a project without usage
	if ts := tenantUsages(req, us, true); len(ts) > 0 {
		usage = ts[0]
	}
	body := map[string]any{"tenant_usage": usage}
	if l := a.usageLinks(r, req, us); l != nil {
		body["tenant_usage_links"] = l
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}
