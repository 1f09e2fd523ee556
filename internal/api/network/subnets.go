package network

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

type poolJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type routeJSON struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// subnetReq is the body of POST and PUT /v2.0/subnets.
type subnetReq struct {
	NetworkID       string          `json:"network_id"`
	Name            *string         `json:"name"`
	Description     *string         `json:"description"`
	CIDR            *string         `json:"cidr"`
	IPVersion       *int            `json:"ip_version"`
	GatewayIP       json.RawMessage `json:"gateway_ip"`
	AllocationPools *[]poolJSON     `json:"allocation_pools"`
	DNS             *[]string       `json:"dns_nameservers"`
	HostRoutes      *[]routeJSON    `json:"host_routes"`
	EnableDHCP      *bool           `json:"enable_dhcp"`
	IPv6RAMode      *string         `json:"ipv6_ra_mode"`
	IPv6AddressMode *string         `json:"ipv6_address_mode"`
	SubnetPoolID    *string         `json:"subnetpool_id"`
	PrefixLen       json.RawMessage `json:"prefixlen"`
	UseDefaultPool  *bool           `json:"use_default_subnetpool"`
	ServiceTypes    *[]string       `json:"service_types"`
	TenantID        string          `json:"tenant_id"`
	ProjectID       string          `json:"project_id"`
}

func (b *subnetReq) input(create bool) (svc.SubnetInput, error) {
	in := svc.SubnetInput{NetworkID: b.NetworkID, Name: b.Name, Description: b.Description, CIDR: b.CIDR, IPVersion: b.IPVersion,
		DNS: b.DNS, EnableDHCP: b.EnableDHCP, IPv6RAMode: b.IPv6RAMode, IPv6AddressMode: b.IPv6AddressMode, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	prefixLen, err := intOrNull("prefixlen", b.PrefixLen)
	if err != nil {
		return in, err
	}
	if prefixLen != nil && (*prefixLen < 0 || *prefixLen > 128) {
		return in, oserr.BadRequest("Invalid input for prefixlen. Reason: '%d' is not in the range 0 to 128.", *prefixLen)
	}
	usePool := (b.SubnetPoolID != nil && *b.SubnetPoolID != "") || prefixLen != nil || (b.UseDefaultPool != nil && *b.UseDefaultPool)
	if usePool && !create {
		return in, oserr.BadRequest("Cannot update read-only attribute subnetpool_id, prefixlen or use_default_subnetpool: they only choose a new subnet's cidr.")
	}
	if b.SubnetPoolID != nil {
		in.SubnetPoolID = *b.SubnetPoolID
	}
	in.PrefixLen = prefixLen
	in.UseDefaultSubnetPool = b.UseDefaultPool != nil && *b.UseDefaultPool
	if b.ServiceTypes != nil && len(*b.ServiceTypes) > 0 {
		return in, oserr.BadRequest("Unrecognized attribute(s) 'service_types'")
	}
	if b.IPVersion != nil && *b.IPVersion != 4 && *b.IPVersion != 6 {
		return in, oserr.BadRequest("Invalid input for ip_version. Reason: '%d' is not in [4, 6].", *b.IPVersion)
	}
	switch {
	case len(b.GatewayIP) == 0:
		in.NoGatewayGiven = create
	case string(b.GatewayIP) == "null":
		in.GatewayIP = new(string)
	default:
		var g string
		if err := json.Unmarshal(b.GatewayIP, &g); err != nil {
			return in, oserr.BadRequest("Invalid input for gateway_ip. Reason: '%s' is not a valid IP address.", b.GatewayIP)
		}
		in.GatewayIP = &g
	}
	if b.AllocationPools != nil {
		pools := []store.IPRange{}
		for _, p := range *b.AllocationPools {
			pools = append(pools, store.IPRange{Start: p.Start, End: p.End})
		}
		in.AllocationPools = &pools
	}
	if b.HostRoutes != nil {
		rs := []store.HostRoute{}
		for _, h := range *b.HostRoutes {
			rs = append(rs, store.HostRoute{Destination: h.Destination, NextHop: h.NextHop})
		}
		in.HostRoutes = &rs
	}
	return in, nil
}

func subnetJSON(s store.Subnet) map[string]any {
	pools := []poolJSON{}
	for _, p := range s.AllocationPools {
		pools = append(pools, poolJSON{p.Start, p.End})
	}
	routes := []routeJSON{}
	for _, h := range s.HostRoutes {
		routes = append(routes, routeJSON{h.Destination, h.NextHop})
	}
	m := map[string]any{
		"id": s.ID, "name": s.Name, "description": s.Description, "network_id": s.NetworkID, "ip_version": s.IPVersion,
		"cidr": s.CIDR, "gateway_ip": nullString(s.GatewayIP), "allocation_pools": pools, "host_routes": routes,
		"dns_nameservers": orEmpty(s.DNS), "enable_dhcp": s.EnableDHCP, "ipv6_ra_mode": nullString(s.IPv6RAMode),
		"ipv6_address_mode": nullString(s.IPv6AddressMode), "subnetpool_id": nullString(s.SubnetPoolID),
	}
	return std(m, s.ProjectID, s.Tags, s.Revision, s.CreatedAt, s.UpdatedAt)
}

func (a *API) listSubnets(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.svc.ListSubnets(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(ss))
	for i, s := range ss {
		items[i] = subnetJSON(s)
	}
	return a.writeList(w, r, "subnets", items, true)
}

func (a *API) createSubnet(w http.ResponseWriter, r *http.Request) error {
	items, bulk, err := decodeCreate[subnetReq](r, "subnet", "subnets")
	if err != nil {
		return err
	}
	c := creds(r)
	return createAll(w, r, items, bulk, "subnet", "subnets", func(b *subnetReq) (string, map[string]any, error) {
		if b.NetworkID == "" {
			return "", nil, oserr.BadRequest("Failed to parse request. Required attribute 'network_id' not specified")
		}
		if b.CIDR == nil && (b.SubnetPoolID == nil || *b.SubnetPoolID == "") && (b.UseDefaultPool == nil || !*b.UseDefaultPool) {
			return "", nil, oserr.BadRequest("Bad subnets request: a cidr must be specified in the absence of a subnet pool")
		}
		in, err := b.input(true)
		if err != nil {
			return "", nil, err
		}
		s, err := a.svc.CreateSubnet(r.Context(), c, in)
		return s.ID, subnetJSON(s), err
	}, func(id string) error { return a.svc.DeleteSubnet(r.Context(), c, id, -1) })
}

func (a *API) showSubnet(w http.ResponseWriter, r *http.Request) error {
	s, err := a.svc.GetSubnet(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "subnet", subnetJSON(s))
	return nil
}

func (a *API) updateSubnet(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[subnetReq](r, "subnet")
	if err != nil {
		return err
	}
	if b.NetworkID != "" || b.TenantID != "" || b.ProjectID != "" {
		return oserr.BadRequest("Cannot update read-only attribute network_id or project_id")
	}
	in, err := b.input(false)
	if err != nil {
		return err
	}
	s, err := a.svc.UpdateSubnet(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "subnet", subnetJSON(s))
	return nil
}

func (a *API) deleteSubnet(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteSubnet(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
