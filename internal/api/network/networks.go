package network

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
)

// networkReq is the body of POST and PUT /v2.0/networks.
type networkReq struct {
	Name            *string         `json:"name"`
	Description     *string         `json:"description"`
	AdminStateUp    *bool           `json:"admin_state_up"`
	Shared          *bool           `json:"shared"`
	External        *bool           `json:"router:external"`
	PortSecurity    *bool           `json:"port_security_enabled"`
	NetworkType     *string         `json:"provider:network_type"`
	PhysicalNetwork *string         `json:"provider:physical_network"`
	SegmentationID  json.RawMessage `json:"provider:segmentation_id"`
	MTU             *int            `json:"mtu"`
	AZHints         *[]string       `json:"availability_zone_hints"`
	IsDefault       *bool           `json:"is_default"`
	TenantID        string          `json:"tenant_id"`
	ProjectID       string          `json:"project_id"`
}

func (b *networkReq) input() (svc.NetworkInput, error) {
	in := svc.NetworkInput{Name: b.Name, Description: b.Description, AdminStateUp: b.AdminStateUp, Shared: b.Shared,
		External: b.External, PortSecurity: b.PortSecurity, NetworkType: b.NetworkType, PhysicalNetwork: b.PhysicalNetwork,
		MTU: b.MTU, AZHints: b.AZHints, IsDefault: b.IsDefault, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	if len(b.SegmentationID) > 0 && string(b.SegmentationID) != "null" {
		// Clients send it as a number or a string of digits.
		var n int
		if err := json.Unmarshal(b.SegmentationID, &n); err != nil {
			var s string
			if err := json.Unmarshal(b.SegmentationID, &s); err != nil || s == "" {
				return in, oserr.BadRequest("Invalid input for provider:segmentation_id. Reason: '%s' is not an integer.", b.SegmentationID)
			}
			if err := json.Unmarshal([]byte(s), &n); err != nil {
				return in, oserr.BadRequest("Invalid input for provider:segmentation_id. Reason: '%s' is not an integer.", s)
			}
		}
		in.SegmentationID = &n
	}
	if b.NetworkType != nil && *b.NetworkType == "" {
		in.NetworkType = nil
	}
	return in, nil
}

func networkJSON(c *auth.Credentials, v svc.NetworkView) map[string]any {
	m := map[string]any{
		"id": v.ID, "name": v.Name, "description": v.Description, "admin_state_up": v.AdminStateUp, "status": v.Status,
		"subnets": v.Subnets, "shared": v.Shared, "router:external": v.External, "mtu": v.MTU,
		"port_security_enabled": v.PortSecurity, "availability_zone_hints": orEmpty(v.AZHints), "availability_zones": v.Zones,
		"ipv4_address_scope": nil, "ipv6_address_scope": nil, "is_default": v.IsDefault, "l2_adjacency": true,
	}
	if c.IsAdmin() {
		m["provider:network_type"] = v.NetworkType
		m["provider:physical_network"] = nullString(v.PhysicalNetwork)
		if v.NetworkType == "vxlan" {
			m["provider:segmentation_id"] = v.SegmentationID
		} else {
			m["provider:segmentation_id"] = nil
		}
	}
	return std(m, v.ProjectID, v.Tags, v.Revision, v.CreatedAt, v.UpdatedAt)
}

func (a *API) listNetworks(w http.ResponseWriter, r *http.Request) error {
	c := creds(r)
	ns, err := a.svc.ListNetworks(r.Context(), c)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(ns))
	for i, n := range ns {
		items[i] = networkJSON(c, n)
	}
	return a.writeList(w, r, "networks", items, true)
}

func (a *API) createNetwork(w http.ResponseWriter, r *http.Request) error {
	items, bulk, err := decodeCreate[networkReq](r, "network", "networks")
	if err != nil {
		return err
	}
	c := creds(r)
	return createAll(w, r, items, bulk, "network", "networks", func(b *networkReq) (string, map[string]any, error) {
		in, err := b.input()
		if err != nil {
			return "", nil, err
		}
		n, err := a.svc.CreateNetwork(r.Context(), c, in)
		return n.ID, networkJSON(c, n), err
	}, func(id string) error { return a.svc.DeleteNetwork(r.Context(), c, id, -1) })
}

func (a *API) showNetwork(w http.ResponseWriter, r *http.Request) error {
	n, err := a.svc.GetNetwork(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "network", networkJSON(creds(r), n))
	return nil
}

func (a *API) updateNetwork(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[networkReq](r, "network")
	if err != nil {
		return err
	}
	if b.TenantID != "" || b.ProjectID != "" {
		return oserr.BadRequest("Cannot update read-only attribute project_id")
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	n, err := a.svc.UpdateNetwork(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "network", networkJSON(creds(r), n))
	return nil
}

func (a *API) deleteNetwork(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteNetwork(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
