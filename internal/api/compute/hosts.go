package compute

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// hostRoutes declares the operator views of compute hosts: os-services,
// os-hypervisors and os-availability-zone.
func (a *API) hostRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-services", admin("os_compute_api:os-services:list"), a.listServices),
		rest.R("PUT", "/v2.1/os-services/{id}", admin("os_compute_api:os-services:update"), a.updateService),
		rest.R("DELETE", "/v2.1/os-services/{id}", admin("os_compute_api:os-services:delete"), a.deleteService),

		rest.R("GET", "/v2.1/os-hypervisors", admin("os_compute_api:os-hypervisors:list"), a.listHypervisors),
		rest.R("GET", "/v2.1/os-hypervisors/detail", admin("os_compute_api:os-hypervisors:list-detail"), a.listHypervisorsDetail),
		rest.R("GET", "/v2.1/os-hypervisors/statistics", admin("os_compute_api:os-hypervisors:statistics"), a.hypervisorStatistics),
		rest.R("GET", "/v2.1/os-hypervisors/{id}", admin("os_compute_api:os-hypervisors:show"), a.showHypervisor),
		rest.R("GET", "/v2.1/os-hypervisors/{id}/uptime", admin("os_compute_api:os-hypervisors:uptime"), a.hypervisorUptime),
		rest.R("GET", "/v2.1/os-hypervisors/{id}/search", admin("os_compute_api:os-hypervisors:search"), a.searchHypervisors),
		rest.R("GET", "/v2.1/os-hypervisors/{id}/servers", admin("os_compute_api:os-hypervisors:servers"), a.hypervisorServers),

		rest.R("GET", "/v2.1/os-availability-zone", reader, a.listZones),
		rest.R("GET", "/v2.1/os-availability-zone/detail", admin("os_compute_api:os-availability-zone:detail"), a.listZonesDetail),
	}
}

// ---- os-services

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func enabledDisabled(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

// serviceID is the integer id before 2.53, the UUID from 2.53.
func serviceID(r *http.Request, cs svc.ComputeService) any {
	if at(r, 53) {
		return cs.UUID
	}
	return cs.ID
}

func serviceView(r *http.Request, cs svc.ComputeService) map[string]any {
	m := map[string]any{"id": serviceID(r, cs), "binary": cs.Binary, "host": cs.Host, "zone": cs.Zone,
		"status": enabledDisabled(cs.Enabled), "state": upDown(cs.Up), "updated_at": microTS(cs.UpdatedAt),
		"disabled_reason": nullable(cs.DisabledReason)}
	if at(r, 11) {
		m["forced_down"] = cs.ForcedDown // 2.11
	}
	return m
}

func (a *API) listServices(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "host", "binary"); err != nil {
		return err
	}
	q := r.URL.Query()
	ss, err := a.svc.Services(r.Context(), auth.From(r.Context()), q.Get("host"), q.Get("binary"))
	if err != nil {
		return err
	}
	items := make([]any, len(ss))
	for i, cs := range ss {
		items[i] = serviceView(r, cs)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"services": items})
	return nil
}

func (a *API) updateService(w http.ResponseWriter, r *http.Request) error {
	if at(r, 53) {
		return a.updateServiceByID(w, r)
	}
	action := r.PathValue("id")
	actions := []string{"enable", "disable", "disable-log-reason"}
	allowed := []string{"host", "binary", "disabled_reason"}
	if at(r, 11) {
		actions = append(actions, "force-down")
		allowed = append(allowed, "forced_down")
	}
	known := false
	for _, x := range actions {
		known = known || x == action
	}
	if !known {
		return oserr.NotFound("Unknown action %s; use one of %v (or, from microversion 2.53, PUT /os-services/{service_id}).", action, actions)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := object(body, "", allowed, []string{"host", "binary"})
	if err != nil {
		return err
	}
	host, err := str(m["host"], "host")
	if err != nil {
		return err
	}
	binary, err := str(m["binary"], "binary")
	if err != nil {
		return err
	}
	var reason *string
	if raw, ok := m["disabled_reason"]; ok {
		s, err := str(raw, "disabled_reason")
		if err != nil {
			return err
		}
		if s == "" || len(s) > 255 {
			return oserr.BadRequest("Invalid input for field/attribute disabled_reason: give 1 to 255 characters.")
		}
		reason = &s
	}
	out := map[string]any{"host": host, "binary": binary}
	var u svc.ServiceUpdate
	yes, no := true, false
	switch action {
	case "enable":
		u.Enabled, out["status"] = &yes, "enabled"
	case "disable":
		u.Enabled, out["status"] = &no, "disabled"
	case "disable-log-reason":
		if reason == nil {
			return oserr.BadRequest("Missing disabled reason field: give disabled_reason.")
		}
		u.Enabled, u.DisabledReason, out["status"], out["disabled_reason"] = &no, reason, "disabled", *reason
	case "force-down":
		raw, ok := m["forced_down"]
		if !ok {
			return oserr.BadRequest("Missing forced_down field: give forced_down true or false.")
		}
		b, err := boolean(raw, "forced_down")
		if err != nil {
			return err
		}
		u.ForcedDown, out["forced_down"] = &b, b
	}
	if _, err := a.svc.UpdateServiceByHost(r.Context(), auth.From(r.Context()), host, binary, u); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"service": out})
	return nil
}

func (a *API) updateServiceByID(w http.ResponseWriter, r *http.Request) error {
	ref, ok := svc.ParseServiceRef(r.PathValue("id"), true)
	if !ok {
		return oserr.BadRequest("Invalid uuid %s: from microversion 2.53 services are named by their UUID id (see 'openstack compute service list').", r.PathValue("id"))
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := object(body, "", []string{"status", "disabled_reason", "forced_down"}, nil)
	if err != nil {
		return err
	}
	var u svc.ServiceUpdate
	var reason *string
	if raw, ok := m["disabled_reason"]; ok {
		s, err := str(raw, "disabled_reason")
		if err != nil {
			return err
		}
		if s == "" || len(s) > 255 {
			return oserr.BadRequest("Invalid input for field/attribute disabled_reason: give 1 to 255 characters.")
		}
		reason = &s
	}
	if raw, ok := m["status"]; ok {
		st, err := str(raw, "status")
		if err != nil {
			return err
		}
		switch st {
		case "enabled":
			if reason != nil {
				return oserr.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid; drop disabled_reason.")
			}
			yes := true
			u.Enabled = &yes
		case "disabled":
			no := false
			u.Enabled, u.DisabledReason = &no, reason
		default:
			return oserr.BadRequest("Invalid input for field/attribute status: %q is not one of enabled, disabled.", st)
		}
	}
	if raw, ok := m["forced_down"]; ok {
		b, err := boolean(raw, "forced_down")
		if err != nil {
			return err
		}
		u.ForcedDown = &b
	}
	if u.Enabled == nil && u.ForcedDown == nil {
		return oserr.BadRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
	}
	cs, err := a.svc.UpdateService(r.Context(), auth.From(r.Context()), ref, u)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"service": serviceView(r, cs)})
	return nil
}

func (a *API) deleteService(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ref, ok := svc.ParseServiceRef(id, at(r, 53))
	if !ok {
		if at(r, 53) {
			return oserr.BadRequest("Invalid uuid %s: from microversion 2.53 services are named by their UUID id.", id)
		}
		return oserr.BadRequest("Invalid input for service id: %q is not an integer (before microversion 2.53 service ids are integers).", id)
	}
	if err := a.svc.DeleteService(r.Context(), auth.From(r.Context()), ref); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- os-hypervisors

// hypervisorID is compute_hosts.seq before 2.53, the UUID from 2.53.
func hypervisorID(r *http.Request, hv svc.Hypervisor) any {
	if at(r, 53) {
		return hv.Host.ID
	}
	return hv.Host.Seq
}

// hypervisorView renders a hypervisor; withServers lists its servers
// (always a list from 2.75, only when non-empty before).
func hypervisorView(r *http.Request, hv svc.Hypervisor, detail, withServers bool) map[string]any {
	m := map[string]any{"id": hypervisorID(r, hv), "hypervisor_hostname": hv.Host.Host,
		"state": upDown(hv.Service.Up), "status": enabledDisabled(hv.Service.Enabled)}
	if detail {
		h := hv.Host
		m["hypervisor_type"], m["hypervisor_version"], m["host_ip"] = h.HypervisorType, h.HypervisorVersion, h.HostIP
		m["service"] = map[string]any{"id": serviceID(r, hv.Service), "host": h.Host, "disabled_reason": nullable(h.DisabledReason)}
		m["vcpus"], m["memory_mb"], m["local_gb"] = h.VCPUs, h.MemoryMB, h.DiskGB
		m["vcpus_used"], m["memory_mb_used"], m["local_gb_used"] = hv.VCPUsUsed, hv.MemoryMBUsed, hv.LocalGBUsed
		m["free_ram_mb"], m["free_disk_gb"], m["disk_available_least"] = hv.FreeRAM(), hv.FreeDisk(), hv.FreeDisk()
		m["current_workload"], m["running_vms"] = hv.CurrentWorkload, hv.RunningVMs
		if at(r, 28) {
			var info map[string]any // 2.28: an object, not a JSON string
			if json.Unmarshal([]byte(h.CPUInfo), &info) != nil || info == nil {
				info = map[string]any{}
			}
			m["cpu_info"] = info
		} else {
			m["cpu_info"] = h.CPUInfo
		}
	}
	if len(hv.Servers) > 0 || (withServers && at(r, 75)) {
		l := make([]any, len(hv.Servers))
		for i, s := range hv.Servers {
			l[i] = map[string]any{"name": s.Name, "uuid": s.ID}
		}
		m["servers"] = l
	}
	return m
}

func (a *API) listHypervisors(w http.ResponseWriter, r *http.Request) error {
	return a.hypervisorList(w, r, false)
}

func (a *API) listHypervisorsDetail(w http.ResponseWriter, r *http.Request) error {
	return a.hypervisorList(w, r, true)
}

func (a *API) hypervisorList(w http.ResponseWriter, r *http.Request, detail bool) error {
	if err := onlyQuery(r, 53, "limit", "marker", "hypervisor_hostname_pattern", "with_servers"); err != nil {
		return err
	}
	q := r.URL.Query()
	var l svc.HypervisorList
	limit := 0
	if at(r, 33) {
		n, marker, err := page(q)
		if err != nil {
			return err
		}
		limit, l.Limit = n, n
		if marker != "" {
			ref, ok := svc.ParseServiceRef(marker, at(r, 53))
			if !ok {
				return oserr.BadRequest("marker [%s] not found; page with the id of a hypervisor from the previous page.", marker)
			}
			l.Marker, l.HasMarker = ref, true
		}
	}
	if at(r, 53) {
		if v, ok := q["hypervisor_hostname_pattern"]; ok {
			if v[0] == "" || !hostName.MatchString(v[0]) {
				return oserr.BadRequest("Invalid input for query parameters hypervisor_hostname_pattern: %q is not part of a host name.", v[0])
			}
			if q.Has("limit") || q.Has("marker") {
				return oserr.BadRequest("Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported; drop limit and marker.")
			}
			l.Pattern, l.Limit, limit = v[0], 0, 0
		}
		if v, ok := q["with_servers"]; ok {
			b, err := boolString(v[0], "with_servers")
			if err != nil {
				return err
			}
			l.WithServers = b
		}
	}
	hvs, err := a.svc.Hypervisors(r.Context(), auth.From(r.Context()), l)
	if err != nil {
		return err
	}
	items := make([]any, len(hvs))
	for i, hv := range hvs {
		items[i] = hypervisorView(r, hv, detail, l.WithServers)
	}
	body := map[string]any{"hypervisors": items}
	if at(r, 33) && limit > 0 && len(hvs) > 0 {
		path := "os-hypervisors"
		if detail {
			path = "os-hypervisors/detail"
		}
		last := hvs[len(hvs)-1]
		marker := strconv.Itoa(last.Host.Seq)
		if at(r, 53) {
			marker = last.Host.ID
		}
		if links := a.nextLinks(r, path, len(hvs), limit, marker); links != nil {
			body["hypervisors_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

// hypervisorRef validates a hypervisor path id: a UUID from 2.53 (else
// 400), an integer before (else 404, as Nova answers).
func hypervisorRef(r *http.Request) (svc.ServiceRef, error) {
	id := r.PathValue("id")
	ref, ok := svc.ParseServiceRef(id, at(r, 53))
	switch {
	case ok:
		return ref, nil
	case at(r, 53):
		return ref, oserr.BadRequest("Invalid uuid %s: from microversion 2.53 hypervisors are named by their UUID id (see 'openstack hypervisor list').", id)
	}
	return ref, oserr.NotFound("Hypervisor with ID '%s' could not be found; before microversion 2.53 hypervisor ids are integers.", id)
}

func (a *API) showHypervisor(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 53, "with_servers"); err != nil {
		return err
	}
	ref, err := hypervisorRef(r)
	if err != nil {
		return err
	}
	withServers := false
	if v, ok := r.URL.Query()["with_servers"]; ok && at(r, 53) {
		if withServers, err = boolString(v[0], "with_servers"); err != nil {
			return err
		}
	}
	hv, err := a.svc.Hypervisor(r.Context(), auth.From(r.Context()), ref, withServers)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"hypervisor": hypervisorView(r, hv, true, withServers)})
	return nil
}

func (a *API) hypervisorUptime(w http.ResponseWriter, r *http.Request) error {
	ref, err := hypervisorRef(r)
	if err != nil {
		return err
	}
	hv, err := a.svc.Hypervisor(r.Context(), auth.From(r.Context()), ref, false)
	if err != nil {
		return err
	}
	return oserr.NotImplemented("The uptime of hypervisor %s is not reported: onestack's host agents do not collect it; run 'uptime' on host %s instead.", hv.Host.Host, hv.Host.Host)
}

func (a *API) searchHypervisors(w http.ResponseWriter, r *http.Request) error {
	return a.hypervisorPattern(w, r, false)
}

func (a *API) hypervisorServers(w http.ResponseWriter, r *http.Request) error {
	return a.hypervisorPattern(w, r, true)
}

// hypervisorPattern serves the search and servers routes, removed at 2.53
// in favour of hypervisor_hostname_pattern and with_servers.
func (a *API) hypervisorPattern(w http.ResponseWriter, r *http.Request, withServers bool) error {
	if at(r, 53) {
		return oserr.NotFound("GET /os-hypervisors/{pattern}/search and /servers were removed in microversion 2.53; use GET /os-hypervisors?hypervisor_hostname_pattern=...&with_servers=true.")
	}
	hvs, err := a.svc.Hypervisors(r.Context(), auth.From(r.Context()), svc.HypervisorList{Pattern: r.PathValue("id"), WithServers: withServers})
	if err != nil {
		return err
	}
	items := make([]any, len(hvs))
	for i, hv := range hvs {
		items[i] = hypervisorView(r, hv, false, false)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"hypervisors": items})
	return nil
}

func (a *API) hypervisorStatistics(w http.ResponseWriter, r *http.Request) error {
	st, err := a.svc.HypervisorStatistics(r.Context(), auth.From(r.Context()))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"hypervisor_statistics": map[string]any{
		"count": st.Count, "current_workload": st.CurrentWorkload, "disk_available_least": st.DiskAvailableLeast,
		"free_disk_gb": st.FreeDiskGB, "free_ram_mb": st.FreeRAMMB, "local_gb": st.LocalGB, "local_gb_used": st.LocalGBUsed,
		"memory_mb": st.MemoryMB, "memory_mb_used": st.MemoryMBUsed, "running_vms": st.RunningVMs,
		"vcpus": st.VCPUs, "vcpus_used": st.VCPUsUsed,
	}})
	return nil
}

// ---- os-availability-zone

func (a *API) listZones(w http.ResponseWriter, r *http.Request) error {
	zs, err := a.svc.AvailabilityZones(r.Context(), auth.From(r.Context()), false)
	if err != nil {
		return err
	}
	items := make([]any, len(zs))
	for i, z := range zs {
		items[i] = map[string]any{"zoneName": z.Name, "zoneState": map[string]any{"available": z.Available}, "hosts": nil}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": items})
	return nil
}

func (a *API) listZonesDetail(w http.ResponseWriter, r *http.Request) error {
	zs, err := a.svc.AvailabilityZones(r.Context(), auth.From(r.Context()), true)
	if err != nil {
		return err
	}
	items := make([]any, len(zs))
	for i, z := range zs {
		hosts := map[string]any{}
		for _, h := range z.Hosts {
			svcs := map[string]any{}
			for _, cs := range h.Services {
				svcs[cs.Binary] = map[string]any{"available": cs.Up, "active": cs.Enabled, "updated_at": microTS(cs.UpdatedAt)}
			}
			hosts[h.Name] = svcs
		}
		items[i] = map[string]any{"zoneName": z.Name, "zoneState": map[string]any{"available": z.Available}, "hosts": hosts}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": items})
	return nil
}
