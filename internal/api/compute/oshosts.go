package compute

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// The deprecated os-hosts API (removed by Nova at 2.43), read from the
// services and hypervisors. Host power actions and host-level enable or
// maintenance are not offered: they answer 501 and point at os-services,
// as Nova's libvirt driver did.
func (a *API) osHostRoutes() []rest.Route {
	adm := admin("os_compute_api:os-hosts")
	return []rest.Route{
		rest.R("GET", "/v2.1/os-hosts", adm, a.listOSHosts),
		rest.R("GET", "/v2.1/os-hosts/{host}", adm, a.showOSHost),
		rest.R("PUT", "/v2.1/os-hosts/{host}", adm, a.updateOSHost),
		rest.R("GET", "/v2.1/os-hosts/{host}/{action}", adm, a.osHostAction),
	}
}

func osHostsGone(r *http.Request) error {
	if at(r, 43) {
		return oserr.NotFound("The os-hosts API was removed in microversion 2.43; use os-services and os-hypervisors.")
	}
	return nil
}

func (a *API) listOSHosts(w http.ResponseWriter, r *http.Request) error {
	if err := osHostsGone(r); err != nil {
		return err
	}
	ss, err := a.svc.Services(r.Context(), auth.From(r.Context()), "", "")
	if err != nil {
		return err
	}
	zone, byZone := r.URL.Query().Get("zone"), r.URL.Query().Get("zone") != ""
	hosts := []any{}
	for _, s := range ss {
		if byZone && s.Zone != zone {
			continue
		}
		hosts = append(hosts, map[string]any{"host_name": s.Host, "service": strings.TrimPrefix(s.Binary, "nova-"), "zone": s.Zone})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"hosts": hosts})
	return nil
}

// computeHost finds the nova-compute service of a host (404 otherwise).
func (a *API) computeHost(r *http.Request, host string) (svc.ComputeService, error) {
	ss, err := a.svc.Services(r.Context(), auth.From(r.Context()), host, svc.BinaryCompute)
	if err != nil {
		return svc.ComputeService{}, err
	}
	if len(ss) == 0 {
		return svc.ComputeService{}, oserr.NotFound("Compute host %s could not be found.", host)
	}
	return ss[0], nil
}

// showOSHost gives the host's totals and what its servers use; the
// per-project breakdown Nova adds is not given.
func (a *API) showOSHost(w http.ResponseWriter, r *http.Request) error {
	if err := osHostsGone(r); err != nil {
		return err
	}
	cs, err := a.computeHost(r, r.PathValue("host"))
	if err != nil {
		return err
	}
	hv, err := a.svc.Hypervisor(r.Context(), auth.From(r.Context()), svc.ServiceRef{UUID: cs.UUID}, false)
	if err != nil {
		return err
	}
	res := func(project string, cpu, mem, disk int) any {
		return map[string]any{"resource": map[string]any{"host": cs.Host, "project": project, "cpu": cpu, "memory_mb": mem, "disk_gb": disk}}
	}
	h := hv.Host
	rest.WriteJSON(w, http.StatusOK, map[string]any{"host": []any{
		res("(total)", h.VCPUs, h.MemoryMB, h.DiskGB),
		res("(used_now)", hv.VCPUsUsed, hv.MemoryMBUsed, hv.LocalGBUsed),
		res("(used_max)", hv.VCPUsUsed, hv.MemoryMBUsed, hv.LocalGBUsed),
	}})
	return nil
}

func (a *API) updateOSHost(w http.ResponseWriter, r *http.Request) error {
	if err := osHostsGone(r); err != nil {
		return err
	}
	var b map[string]json.RawMessage
	if err := rest.Decode(r, &b, false); err != nil {
		return err
	}
	if len(b) == 0 {
		return oserr.BadRequest("Invalid input for os-hosts update: give status and/or maintenance_mode.")
	}
	for k, raw := range b {
		var v string
		if k != "status" && k != "maintenance_mode" {
			return oserr.BadRequest("Invalid input for os-hosts update: additional property %q is not allowed.", k)
		}
		if err := json.Unmarshal(raw, &v); err != nil || (v != "enable" && v != "disable") {
			return oserr.BadRequest("Invalid input for field/attribute %s: use \"enable\" or \"disable\".", k)
		}
	}
	if _, err := a.computeHost(r, r.PathValue("host")); err != nil {
		return err
	}
	return oserr.NotImplemented("Host-level status and maintenance mode are not supported; enable or disable the host's nova-compute with os-services.")
}

func (a *API) osHostAction(w http.ResponseWriter, r *http.Request) error {
	if err := osHostsGone(r); err != nil {
		return err
	}
	switch r.PathValue("action") {
	case "startup", "shutdown", "reboot":
	default:
		return oserr.NotFound("Unknown os-hosts action %q; the actions are startup, shutdown and reboot.", r.PathValue("action"))
	}
	if _, err := a.computeHost(r, r.PathValue("host")); err != nil {
		return err
	}
	return oserr.NotImplemented("Host power actions are not supported on this cloud.")
}
