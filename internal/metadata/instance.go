package metadata

// Instance is what the metadata describes: one server as its guest sees it.
// The zero value of an optional field means "not set", as documented per
// field; nothing here is validated, so callers pass what the API accepted.
type Instance struct {
	// UUID is the server id: meta_data.json "uuid", and the source of the
	// EC2 instance-id (see [Lookup]).
	UUID string
	// Name is the display name: meta_data.json "name".
	Name string
	// Hostname is served as is for meta_data.json "hostname" and the EC2
	// hostname, local-hostname and public-hostname. Nova appends
	// [api]dhcp_domain ("novalocal" by default) to the instance hostname;
	// callers wanting that pass the full name.
	Hostname string
	// ProjectID is meta_data.json "project_id" (from 2015-10-15).
	ProjectID string
	// AvailabilityZone is meta_data.json "availability_zone" and EC2
	// placement/availability-zone; empty renders as JSON null, as Nova does
	// for an instance without a zone.
	AvailabilityZone string
	// LaunchIndex is the position of this server in a multi-create request:
	// meta_data.json "launch_index" and EC2 ami-launch-index.
	LaunchIndex int

	// KeyName names the server's keypair; empty means none, and then no
	// public_keys, keys or EC2 public-keys are rendered.
	KeyName string
	// KeyData is the keypair's public key, verbatim.
	KeyData string
	// KeyType is the keypair type in meta_data.json "keys": "ssh" (used
	// when empty) or "x509".
	KeyType string

	// Meta is the server metadata: meta_data.json "meta", left out when
	// empty as Nova does.
	Meta map[string]string
	// UserData is the user data, already base64-decoded. Empty means none:
	// no user_data / user-data files and a 404 when asked for.
	UserData []byte
	// AdminPass, when set, is written to the config drive's meta_data.json
	// as "admin_pass", as Nova's libvirt driver does. It is never served by
	// [Lookup]: Nova's metadata service does not expose it either.
	AdminPass string

	// Network is network_data.json. Nil renders the empty document
	// {"links":[],"networks":[],"services":[]}.
	Network *NetworkData
	// VendorData is Nova's StaticJSON vendor data: vendor_data.json as is,
	// and vendor_data2.json as {"static": VendorData}. Nil renders {}.
	// It must marshal as JSON; if it does not, [Files] and [Lookup] fail.
	VendorData map[string]any

	// ImageID is the Glance image id; EC2 ami-id is "ami-" and its first 8
	// hex digits. Empty (boot from volume) renders ami-id as null.
	ImageID string
	// FlavorName is EC2 instance-type.
	FlavorName string
	// ReservationID is the create request's reservation ("r-xxxxxxxx"):
	// EC2 reservation-id.
	ReservationID string
	// SecurityGroups are the names for EC2 security-groups.
	SecurityGroups []string
	// FixedIPs are the server's fixed addresses; the first IPv4 one is EC2
	// local-ipv4 (null when there is none, as on Nova's config drive).
	FixedIPs []string
	// FloatingIPs are the server's floating addresses; the first is EC2
	// public-ipv4 (empty string when there is none).
	FloatingIPs []string
	// RootDeviceName is the guest's root disk, e.g. "/dev/vda" (used when
	// empty); EC2 block-device-mapping/ami and /root derive from it.
	RootDeviceName string
}

// NetworkData is Nova's network_data.json (schema:
// nova/doc/api_schemas/network_data.json): the L2 links, the L3 networks on
// them and the network-independent services such as DNS. cloud-init and
// glean configure the guest's interfaces from it.
//
// Only the shapes Nova itself emits are modelled: ethernet links, and
// static or DHCP networks; bond and VLAN links (emitted by Ironic) are not.
type NetworkData struct {
	Links    []Link    `json:"links"`
	Networks []Network `json:"networks"`
	Services []Service `json:"services"`
}

// Link is one guest interface in network_data.json.
type Link struct {
	// ID names the link for Network.Link; Nova uses the tap device name,
	// or "interface<N>".
	ID string `json:"id"`
	// VIFID is the Neutron port id.
	VIFID string `json:"vif_id"`
	// Type is "phy", or a legacy VIF type Nova exposes as is ("bridge",
	// "ovs", "tap", "vhostuser", ...).
	Type string `json:"type"`
	// MTU is the network MTU; Nova leaves it null (nil) when a subnet has a
	// DHCP server, which then hands out the MTU itself.
	MTU *int `json:"mtu"`
	// EthernetMACAddress is the port's MAC, e.g. "fa:16:3e:9c:bf:3d".
	EthernetMACAddress string `json:"ethernet_mac_address"`
}

// Network is one L3 network on a link in network_data.json. It renders in
// one of Nova's two shapes: a DHCP network ("ipv4_dhcp", "ipv6_dhcp") with
// only id, type, link and network_id, or, when IPAddress is set, a static
// one ("ipv4", "ipv6", "ipv6_slaac", "ipv6_dhcpv6-stateful",
// "ipv6_dhcpv6-stateless") that adds ip_address, netmask, routes and
// services, lists always present even if empty.
type Network struct {
	// ID is "network<N>", numbered across all links.
	ID        string
	Type      string
	Link      string
	NetworkID string
	// IPAddress, Netmask, Routes and Services are rendered only for a
	// static network. Netmask is dotted for IPv4, an IPv6 address-style
	// mask (e.g. "ffff:ffff:ffff:ffff::") for IPv6.
	IPAddress string
	Netmask   string
	Routes    []Route
	Services  []Service
}

// Route is one route of a static Network; the default route has network and
// netmask "0.0.0.0" ("::" for IPv6).
type Route struct {
	Network string `json:"network"`
	Netmask string `json:"netmask"`
	Gateway string `json:"gateway"`
}

// Service is a network service; Nova emits only {"type": "dns", "address": …}.
type Service struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}
