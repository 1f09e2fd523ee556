// Package linux is the Linux data plane driver: it makes one host's
// network namespace match the hostapi.HostNetwork the control plane
// computed for it. It sits at the driver layer, below the agent: it knows
// netlink, nftables, DHCP and the metadata service, and nothing about the
// API or the store.
//
// Per network it keeps a bridge (with a VXLAN device or a physical-network
// link), a tap per guest port, a namespace holding the network's DHCP port
// with an in-process DHCPv4 server and metadata server, and per router a
// namespace with NAT. Port security and security groups are one nftables
// ruleset per host namespace, updated incrementally. See
// docs/networking.md for the picture.
//
// Topology and Cleanup build and remove the set of namespaces that stands
// for a multi-host deployment on one machine.
package linux
