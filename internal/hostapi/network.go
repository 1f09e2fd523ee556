package hostapi

// This file is the contract between the networking service (Neutron) and
// the data plane each agent runs. The control plane derives, per host, the
// whole desired data plane of that host (HostNetwork); the agent applies it
// idempotently with its data plane driver and reports which ports are
// wired. Level-triggered like guests: a restarted agent reads it again.

// HostNetwork is the desired data plane of one host: every network with a
// port bound to the host (or a router it runs), those ports, the security
// groups they use, and the routers the host runs.
type HostNetwork struct {
	Host string `json:"host"`
	// Revision grows with every change that affects any host's data plane.
	Revision int64 `json:"revision"`
	// TunnelIP is this host's VXLAN endpoint on the underlay.
	TunnelIP       string          `json:"tunnel_ip,omitempty"`
	Networks       []Network       `json:"networks"`
	Ports          []Port          `json:"ports"`
	SecurityGroups []SecurityGroup `json:"security_groups"`
	Routers        []Router        `json:"routers"`
}

// Network types.
const (
	NetworkVXLAN = "vxlan"
	NetworkFlat  = "flat"
)

// Network is one Neutron network as a host's data plane needs it.
type Network struct {
	ID string `json:"id"`
	// Type is NetworkVXLAN or NetworkFlat.
	Type string `json:"type"`
	// SegmentID is the VXLAN VNI (vxlan networks).
	SegmentID int `json:"segment_id,omitempty"`
	// PhysicalNetwork names the provider network a flat network is on
	// ("public" for the external network).
	PhysicalNetwork string   `json:"physical_network,omitempty"`
	MTU             int      `json:"mtu"`
	External        bool     `json:"external,omitempty"`
	Subnets         []Subnet `json:"subnets"`
	// DHCP is the network's DHCP and metadata port (Neutron's
	// network:dhcp port): one MAC and one address per subnet with DHCP.
	// Every host with ports on the network serves DHCP and metadata for
	// its own ports from a namespace holding this port; the data plane
	// keeps its frames off the tunnels so hosts never see each other's
	// copy.
	DHCP *Port `json:"dhcp,omitempty"`
	// Remote lists the ports of this network bound to other hosts, with
	// the tunnel endpoint that reaches each, for static forwarding (FDB)
	// and neighbour entries: no multicast, no learning over the tunnels.
	Remote []RemotePort `json:"remote,omitempty"`
	// Peers are the tunnel endpoints of every other host with ports on
	// this network: broadcast and unknown frames are replicated to them.
	Peers []string `json:"peers,omitempty"`
}

// Subnet is one subnet of a network.
type Subnet struct {
	ID         string   `json:"id"`
	CIDR       string   `json:"cidr"`
	IPVersion  int      `json:"ip_version"`
	GatewayIP  string   `json:"gateway_ip,omitempty"`
	EnableDHCP bool     `json:"enable_dhcp"`
	DNS        []string `json:"dns_nameservers,omitempty"`
	HostRoutes []Route  `json:"host_routes,omitempty"`
}

// Route is a destination CIDR and its next hop.
type Route struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID string `json:"subnet_id"`
	IP       string `json:"ip_address"`
}

// AddressPair is an extra address (or CIDR) and MAC a port may send from.
type AddressPair struct {
	IP  string `json:"ip_address"`
	MAC string `json:"mac_address,omitempty"`
}

// Port is a port bound to this host (a guest NIC, a router interface or a
// DHCP port).
type Port struct {
	ID        string    `json:"id"`
	NetworkID string    `json:"network_id"`
	MAC       string    `json:"mac_address"`
	FixedIPs  []FixedIP `json:"fixed_ips"`
	// DeviceOwner and DeviceID as in Neutron: "compute:<zone>" and the
	// server id for a guest NIC.
	DeviceOwner string `json:"device_owner,omitempty"`
	DeviceID    string `json:"device_id,omitempty"`
	// Device is the host link of a guest NIC (TapName(ID)).
	Device string `json:"device,omitempty"`
	// Namespace, when set, makes the port a veth pair instead of a tap:
	// Device on the bridge, its peer in the namespace "<host
	// namespace>_"+Namespace with the port's MAC and addresses and a
	// default route via its subnet's gateway. A load balancer's VIP is
	// such a port (Namespace LBNamespace(id)), and its processes run there.
	Namespace string `json:"namespace,omitempty"`
	// NoDefaultRoute: a namespace port that sets no default route (a load
	// balancer's port on a member network; the VIP's gives the route).
	NoDefaultRoute bool `json:"no_default_route,omitempty"`
	AdminUp        bool `json:"admin_state_up"`
	PortSecurity   bool `json:"port_security_enabled"`
	// SecurityGroups are ids into HostNetwork.SecurityGroups.
	SecurityGroups      []string      `json:"security_groups,omitempty"`
	AllowedAddressPairs []AddressPair `json:"allowed_address_pairs,omitempty"`
}

// RemotePort is a port of a network bound to another host.
type RemotePort struct {
	MAC      string   `json:"mac_address"`
	IPs      []string `json:"ips,omitempty"`
	TunnelIP string   `json:"tunnel_ip"`
}

// SecurityGroup is a group with its rules and, for rules naming it as a
// remote group, the addresses of its member ports (on every host).
type SecurityGroup struct {
	ID      string              `json:"id"`
	Rules   []SecurityGroupRule `json:"rules"`
	Members []string            `json:"members,omitempty"`
}

// SecurityGroupRule is a Neutron security group rule. Stateful: a rule
// lets a connection in (ingress) or out (egress) and its replies back.
type SecurityGroupRule struct {
	ID        string `json:"id"`
	Direction string `json:"direction"` // ingress, egress
	EtherType string `json:"ethertype"` // IPv4, IPv6
	Protocol  string `json:"protocol,omitempty"`
	// PortMin and PortMax are the port range (tcp/udp/sctp), or the ICMP
	// type and code; 0 with no protocol range means any.
	PortMin        *int   `json:"port_range_min,omitempty"`
	PortMax        *int   `json:"port_range_max,omitempty"`
	RemoteIPPrefix string `json:"remote_ip_prefix,omitempty"`
	RemoteGroupID  string `json:"remote_group_id,omitempty"`
}

// Router is a Neutron router a host runs (in a namespace of its own).
type Router struct {
	ID         string  `json:"id"`
	Interfaces []Port  `json:"interfaces"`
	Gateway    *Port   `json:"gateway,omitempty"`
	EnableSNAT bool    `json:"enable_snat"`
	Routes     []Route `json:"routes,omitempty"`
	// FloatingIPs are DNAT/SNAT pairs: traffic to FloatingIP goes to
	// FixedIP, and FixedIP's traffic out leaves from FloatingIP.
	FloatingIPs []FloatingIP `json:"floating_ips,omitempty"`
}

// FloatingIP maps an external address to a port's fixed address.
type FloatingIP struct {
	ID         string `json:"id"`
	FloatingIP string `json:"floating_ip_address"`
	FixedIP    string `json:"fixed_ip_address"`
	PortID     string `json:"port_id"`
}

// NetworkReport is what an agent observed applying a HostNetwork.
type NetworkReport struct {
	Host     string `json:"host"`
	Revision int64  `json:"revision"`
	// Up lists the ports wired and ready; Failed maps a port to why it
	// could not be wired, in words a user can act on.
	Up     []string          `json:"up,omitempty"`
	Failed map[string]string `json:"failed,omitempty"`
}

// NIC is a guest network interface: a port of the networking service.
type NIC struct {
	PortID    string `json:"port_id"`
	NetworkID string `json:"network_id"`
	MAC       string `json:"mac_address"`
	// Device is the host tap (TapName(PortID)).
	Device string `json:"device"`
	MTU    int    `json:"mtu"`
	// IPs and Subnets describe the NIC's addresses for network_data.json.
	IPs     []FixedIP `json:"fixed_ips,omitempty"`
	Subnets []Subnet  `json:"subnets,omitempty"`
}

// TapName is the host link of a guest NIC for port id, as Neutron names
// it: "tap" and the first 11 characters of the port id.
func TapName(portID string) string {
	if len(portID) > 11 {
		portID = portID[:11]
	}
	return "tap" + portID
}
