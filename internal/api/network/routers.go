package network

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

type gatewayJSON struct {
	NetworkID        string         `json:"network_id"`
	EnableSNAT       *bool          `json:"enable_snat"`
	ExternalFixedIPs *[]fixedIPJSON `json:"external_fixed_ips"`
}

type routerReq struct {
	Name         *string         `json:"name"`
	Description  *string         `json:"description"`
	AdminStateUp *bool           `json:"admin_state_up"`
	Gateway      json.RawMessage `json:"external_gateway_info"`
	Routes       json.RawMessage `json:"routes"` // null clears, as []
	TenantID     string          `json:"tenant_id"`
	ProjectID    string          `json:"project_id"`
}

func (b *routerReq) input() (svc.RouterInput, error) {
	in := svc.RouterInput{Name: b.Name, Description: b.Description, AdminStateUp: b.AdminStateUp, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	if len(b.Gateway) > 0 {
		g := svc.GatewayInput{}
		if string(b.Gateway) != "null" && string(b.Gateway) != "{}" {
			var gj gatewayJSON
			dec := json.NewDecoder(bytesReader(b.Gateway))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&gj); err != nil {
				return in, oserr.BadRequest("Invalid input for external_gateway_info. Reason: %v.", err)
			}
			if gj.NetworkID == "" {
				return in, oserr.BadRequest("Invalid input for external_gateway_info. Reason: network_id is required.")
			}
			g.NetworkID, g.EnableSNAT = gj.NetworkID, gj.EnableSNAT
			if gj.ExternalFixedIPs != nil {
				g.FixedIPs = []svc.FixedIPRequest{}
				for _, f := range *gj.ExternalFixedIPs {
					g.FixedIPs = append(g.FixedIPs, svc.FixedIPRequest{SubnetID: f.SubnetID, IP: f.IPAddress})
				}
			}
		}
		in.Gateway = &g
	}
	if len(b.Routes) > 0 {
		var routes []routeJSON
		if string(b.Routes) != "null" {
			if err := decodeRaw(b.Routes, &routes); err != nil {
				return in, err
			}
		}
		rs := []store.HostRoute{}
		for _, r := range routes {
			rs = append(rs, store.HostRoute{Destination: r.Destination, NextHop: r.NextHop})
		}
		in.Routes = &rs
	}
	return in, nil
}

func routerJSON(c *auth.Credentials, v svc.RouterView) map[string]any {
	routes := []routeJSON{}
	for _, r := range v.Routes {
		routes = append(routes, routeJSON{r.Destination, r.NextHop})
	}
	m := map[string]any{"id": v.ID, "name": v.Name, "description": v.Description, "admin_state_up": v.AdminStateUp,
		"status": v.Status, "routes": routes, "external_gateway_info": nil}
	if g := v.Gateway; g != nil {
		ips := []map[string]any{}
		for _, f := range v.GatewayIPs {
			ips = append(ips, map[string]any{"subnet_id": f.SubnetID, "ip_address": f.IP})
		}
		m["external_gateway_info"] = map[string]any{"network_id": g.NetworkID, "enable_snat": g.EnableSNAT, "external_fixed_ips": ips}
	}
	return std(m, v.ProjectID, v.Tags, v.Revision, v.CreatedAt, v.UpdatedAt)
}

func (a *API) listRouters(w http.ResponseWriter, r *http.Request) error {
	c := creds(r)
	rs, err := a.svc.ListRouters(r.Context(), c)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(rs))
	for i, x := range rs {
		items[i] = routerJSON(c, x)
	}
	return a.writeList(w, r, "routers", items, true)
}

func (a *API) createRouter(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody[routerReq](r, "router")
	if err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	x, err := a.svc.CreateRouter(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusCreated, "router", routerJSON(creds(r), x))
	return nil
}

func (a *API) showRouter(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetRouter(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "router", routerJSON(creds(r), x))
	return nil
}

func (a *API) updateRouter(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[routerReq](r, "router")
	if err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	x, err := a.svc.UpdateRouter(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "router", routerJSON(creds(r), x))
	return nil
}

func (a *API) deleteRouter(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteRouter(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type interfaceReq struct {
	SubnetID string `json:"subnet_id"`
	PortID   string `json:"port_id"`
}

func (a *API) routerInterface(w http.ResponseWriter, r *http.Request, add bool) error {
	var b interfaceReq
	if err := decodeStrict(r, &b); err != nil {
		return err
	}
	var info svc.InterfaceInfo
	var err error
	if add {
		info, err = a.svc.AddRouterInterface(r.Context(), creds(r), r.PathValue("id"), b.SubnetID, b.PortID)
	} else {
		info, err = a.svc.RemoveRouterInterface(r.Context(), creds(r), r.PathValue("id"), b.SubnetID, b.PortID)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": info.ID, "tenant_id": info.ProjectID, "project_id": info.ProjectID,
		"port_id": info.PortID, "subnet_id": info.SubnetID, "subnet_ids": info.SubnetIDs, "network_id": info.NetworkID})
	return nil
}

func (a *API) addInterface(w http.ResponseWriter, r *http.Request) error {
	return a.routerInterface(w, r, true)
}
func (a *API) removeInterface(w http.ResponseWriter, r *http.Request) error {
	return a.routerInterface(w, r, false)
}

// ---- floating IPs

type fipReq struct {
	FloatingNetworkID string          `json:"floating_network_id"`
	FloatingIP        string          `json:"floating_ip_address"`
	SubnetID          string          `json:"subnet_id"`
	PortID            json.RawMessage `json:"port_id"`
	FixedIP           string          `json:"fixed_ip_address"`
	Description       *string         `json:"description"`
	TenantID          string          `json:"tenant_id"`
	ProjectID         string          `json:"project_id"`
}

func (b *fipReq) input() (svc.FloatingIPInput, error) {
	in := svc.FloatingIPInput{FloatingNetworkID: b.FloatingNetworkID, FloatingIP: b.FloatingIP, SubnetID: b.SubnetID,
		FixedIP: b.FixedIP, Description: b.Description, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	if len(b.PortID) > 0 {
		p := ""
		if string(b.PortID) != "null" {
			if err := json.Unmarshal(b.PortID, &p); err != nil {
				return in, oserr.BadRequest("Invalid input for port_id. Reason: '%s' is not a valid UUID.", b.PortID)
			}
		}
		in.PortID = &p
	}
	return in, nil
}

func fipJSON(f store.FloatingIP) map[string]any {
	m := map[string]any{"id": f.ID, "floating_network_id": f.FloatingNetworkID, "floating_ip_address": f.FloatingIP,
		"port_id": nullString(f.PortID), "fixed_ip_address": nullString(f.FixedIP), "router_id": nullString(f.RouterID),
		"status": f.Status, "description": f.Description}
	return std(m, f.ProjectID, f.Tags, f.Revision, f.CreatedAt, f.UpdatedAt)
}

func (a *API) listFloatingIPs(w http.ResponseWriter, r *http.Request) error {
	fs, err := a.svc.ListFloatingIPs(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(fs))
	for i, f := range fs {
		items[i] = fipJSON(f)
	}
	return a.writeList(w, r, "floatingips", items, true)
}

func (a *API) createFloatingIP(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody[fipReq](r, "floatingip")
	if err != nil {
		return err
	}
	if b.FloatingNetworkID == "" {
		return oserr.BadRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	f, err := a.svc.CreateFloatingIP(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusCreated, "floatingip", fipJSON(f))
	return nil
}

func (a *API) showFloatingIP(w http.ResponseWriter, r *http.Request) error {
	f, err := a.svc.GetFloatingIP(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "floatingip", fipJSON(f))
	return nil
}

func (a *API) updateFloatingIP(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[fipReq](r, "floatingip")
	if err != nil {
		return err
	}
	if b.FloatingNetworkID != "" || b.FloatingIP != "" {
		return oserr.BadRequest("Cannot update read-only attribute floating_network_id or floating_ip_address")
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	f, err := a.svc.UpdateFloatingIP(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "floatingip", fipJSON(f))
	return nil
}

func (a *API) deleteFloatingIP(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteFloatingIP(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
