package metadata

import "encoding/json"

// staticNetwork and dhcpNetwork are the two shapes Nova gives a network in
// network_data.json (nova/virt/netutils.py _get_nets), in its key order.
type staticNetwork struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Link      string    `json:"link"`
	IPAddress string    `json:"ip_address"`
	Netmask   string    `json:"netmask"`
	Routes    []Route   `json:"routes"`
	NetworkID string    `json:"network_id"`
	Services  []Service `json:"services"`
}

type dhcpNetwork struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Link      string `json:"link"`
	NetworkID string `json:"network_id"`
}

// MarshalJSON renders n in Nova's static shape when it has an address and in
// its DHCP shape otherwise, so guests never see half-filled static settings.
func (n Network) MarshalJSON() ([]byte, error) {
	if n.IPAddress == "" {
		return json.Marshal(dhcpNetwork{ID: n.ID, Type: n.Type, Link: n.Link, NetworkID: n.NetworkID})
	}
	return json.Marshal(staticNetwork{
		ID:        n.ID,
		Type:      n.Type,
		Link:      n.Link,
		IPAddress: n.IPAddress,
		Netmask:   n.Netmask,
		Routes:    nonNil(n.Routes),
		NetworkID: n.NetworkID,
		Services:  nonNil(n.Services),
	})
}

// networkJSON renders network_data.json; lists are [] rather than null.
func networkJSON(nd *NetworkData) ([]byte, error) {
	var out NetworkData
	if nd != nil {
		out = *nd
	}
	out.Links = nonNil(out.Links)
	out.Networks = nonNil(out.Networks)
	out.Services = nonNil(out.Services)
	return marshal(out)
}

// nonNil turns a nil slice into an empty one so it marshals as [] like
// Nova's lists, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
