package network

// Network IP availability: /v2.0/network-ip-availabilities, address use per
// network and subnet (admins).

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
)

func availJSON(v svc.IPAvailability) map[string]any {
	subs := []any{}
	total, used := int64(0), 0
	for _, s := range v.Subnets {
		t := json.Number(s.Total.String())
		if s.Total.IsInt64() {
			total += s.Total.Int64()
		}
		used += s.Used
		subs = append(subs, map[string]any{"subnet_id": s.Subnet.ID, "subnet_name": s.Subnet.Name, "cidr": s.Subnet.CIDR,
			"ip_version": s.Subnet.IPVersion, "total_ips": t, "used_ips": s.Used})
	}
	return map[string]any{"network_id": v.Network.ID, "network_name": v.Network.Name, "tenant_id": v.Network.ProjectID,
		"project_id": v.Network.ProjectID, "total_ips": total, "used_ips": used, "subnet_ip_availability": subs}
}

func (a *API) listIPAvailability(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.svc.IPAvailabilities(r.Context())
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(vs))
	for i, v := range vs {
		items[i] = availJSON(v)
	}
	return a.writeList(w, r, "network-ip-availabilities", items, false)
}

func (a *API) showIPAvailability(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.svc.IPAvailabilities(r.Context())
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Network.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, map[string]any{"network_ip_availability": availJSON(v)})
			return nil
		}
	}
	return oserr.NotFound("Network %s could not be found.", r.PathValue("id")).WithType("NetworkNotFound")
}
