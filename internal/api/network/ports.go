package network

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

type fixedIPJSON struct {
	SubnetID  string `json:"subnet_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

type pairJSON struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

// portReq is the body of POST and PUT /v2.0/ports.
type portReq struct {
	NetworkID      string          `json:"network_id"`
	Name           *string         `json:"name"`
	Description    *string         `json:"description"`
	AdminStateUp   *bool           `json:"admin_state_up"`
	MAC            *string         `json:"mac_address"`
	FixedIPs       *[]fixedIPJSON  `json:"fixed_ips"`
	DeviceID       *string         `json:"device_id"`
	DeviceOwner    *string         `json:"device_owner"`
	HostID         *string         `json:"binding:host_id"`
	VNICType       *string         `json:"binding:vnic_type"`
	Profile        json.RawMessage `json:"binding:profile"`
	AddressPairs   *[]pairJSON     `json:"allowed_address_pairs"`
	PortSecurity   *bool           `json:"port_security_enabled"`
	SecurityGroups *[]string       `json:"security_groups"`
	TenantID       string          `json:"tenant_id"`
	ProjectID      string          `json:"project_id"`
}

func (b *portReq) input() (svc.PortInput, error) {
	in := svc.PortInput{NetworkID: b.NetworkID, Name: b.Name, Description: b.Description, AdminStateUp: b.AdminStateUp,
		MAC: b.MAC, DeviceID: b.DeviceID, DeviceOwner: b.DeviceOwner, HostID: b.HostID, VNICType: b.VNICType,
		PortSecurity: b.PortSecurity, SecurityGroups: b.SecurityGroups, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	if b.FixedIPs != nil {
		reqs := []svc.FixedIPRequest{}
		for _, f := range *b.FixedIPs {
			if f.SubnetID == "" && f.IPAddress == "" {
				return in, oserr.BadRequest("Invalid input for fixed_ips. Reason: each entry needs subnet_id or ip_address.")
			}
			reqs = append(reqs, svc.FixedIPRequest{SubnetID: f.SubnetID, IP: f.IPAddress})
		}
		in.FixedIPs = &reqs
	}
	if b.AddressPairs != nil {
		ps := []store.AddressPair{}
		for _, p := range *b.AddressPairs {
			if p.IPAddress == "" {
				return in, oserr.BadRequest("AllowedAddressPair must contain ip_address").WithType("AllowedAddressPairsMissingIP")
			}
			ps = append(ps, store.AddressPair{IP: p.IPAddress, MAC: p.MACAddress})
		}
		in.AddressPairs = &ps
	}
	if len(b.Profile) > 0 {
		var m map[string]any
		if string(b.Profile) != "null" {
			if err := json.Unmarshal(b.Profile, &m); err != nil {
				return in, oserr.BadRequest("Invalid input for binding:profile. Reason: it must be an object.")
			}
		}
		in.Profile = &m
	}
	return in, nil
}

func portJSON(c *auth.Credentials, p store.Port) map[string]any {
	ips := []map[string]any{}
	for _, f := range p.FixedIPs {
		ips = append(ips, map[string]any{"subnet_id": f.SubnetID, "ip_address": f.IP})
	}
	pairs := []map[string]any{}
	for _, a := range p.AddressPairs {
		mac := a.MAC
		if mac == "" {
			mac = p.MAC
		}
		pairs = append(pairs, map[string]any{"ip_address": a.IP, "mac_address": mac})
	}
	m := map[string]any{
		"id": p.ID, "name": p.Name, "description": p.Description, "network_id": p.NetworkID, "admin_state_up": p.AdminStateUp,
		"mac_address": p.MAC, "fixed_ips": ips, "device_id": p.DeviceID, "device_owner": p.DeviceOwner, "status": p.Status,
		"allowed_address_pairs": pairs, "port_security_enabled": p.PortSecurity, "security_groups": orEmpty(p.SecurityGroups),
		"binding:vnic_type": p.VNICType,
	}
	if c.IsAdmin() {
		m["binding:host_id"] = p.HostID
		m["binding:vif_type"] = p.VIFType
		m["binding:profile"] = p.Profile
		if m["binding:profile"] == nil || len(p.Profile) == 0 {
			m["binding:profile"] = map[string]any{}
		}
		m["binding:vif_details"] = p.VIFDetails
		if len(p.VIFDetails) == 0 {
			m["binding:vif_details"] = map[string]any{}
		}
	}
	return std(m, p.ProjectID, p.Tags, p.Revision, p.CreatedAt, p.UpdatedAt)
}

func (a *API) listPorts(w http.ResponseWriter, r *http.Request) error {
	c := creds(r)
	q := r.URL.Query()
	f := svc.PortFilter{NetworkIDs: q["network_id"], DeviceIDs: q["device_id"], IDs: q["id"]}
	if ps := append(q["project_id"], q["tenant_id"]...); len(ps) > 0 {
		f.Projects = ps
	}
	ps, err := a.svc.ListPorts(r.Context(), c, f)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(ps))
	for i, p := range ps {
		items[i] = portJSON(c, p)
	}
	return a.writeList(w, r, "ports", items, true)
}

func (a *API) createPort(w http.ResponseWriter, r *http.Request) error {
	items, bulk, err := decodeCreate[portReq](r, "port", "ports")
	if err != nil {
		return err
	}
	c := creds(r)
	return createAll(w, r, items, bulk, "port", "ports", func(b *portReq) (string, map[string]any, error) {
		if b.NetworkID == "" {
			return "", nil, oserr.BadRequest("Failed to parse request. Required attribute 'network_id' not specified")
		}
		in, err := b.input()
		if err != nil {
			return "", nil, err
		}
		p, err := a.svc.CreatePort(r.Context(), c, in)
		return p.ID, portJSON(c, p), err
	}, func(id string) error { return a.svc.DeletePort(r.Context(), c, id, -1) })
}

func (a *API) showPort(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.GetPort(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "port", portJSON(creds(r), p))
	return nil
}

func (a *API) updatePort(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[portReq](r, "port")
	if err != nil {
		return err
	}
	if b.NetworkID != "" || b.TenantID != "" || b.ProjectID != "" {
		return oserr.BadRequest("Cannot update read-only attribute network_id or project_id")
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	p, err := a.svc.UpdatePort(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "port", portJSON(creds(r), p))
	return nil
}

func (a *API) deletePort(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeletePort(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
