package metadata

import (
	"encoding/base64"
	"fmt"
	"net/netip"

	"github.com/onestack/onestack/internal/hostapi"
)

// ForGuest is what the desired state of a guest tells it about itself, on
// its config drive and from the metadata service alike.
func ForGuest(g hostapi.Guest) Instance {
	ud, err := base64.StdEncoding.DecodeString(g.UserData)
	if err != nil {
		ud = []byte(g.UserData)
	}
	hostname := g.Hostname
	if hostname == "" {
		hostname = g.Name
	}
	inst := Instance{UUID: g.ServerID, Name: g.Name, Hostname: hostname, ProjectID: g.ProjectID,
		AvailabilityZone: g.Zone, LaunchIndex: g.LaunchIndex, KeyName: g.KeyName, KeyData: g.KeyData,
		Meta: g.Metadata, UserData: ud, FlavorName: g.FlavorName, ImageID: g.ImageID}
	if len(g.NICs) > 0 {
		inst.Network = networkData(g.NICs)
	}
	return inst
}

// networkData renders NICs as Nova does for Neutron ports: a link per
// port named after its tap, and per address a DHCP network when the subnet
// has DHCP, else a static one with its routes and DNS servers.
func networkData(nics []hostapi.NIC) *NetworkData {
	nd := &NetworkData{Links: []Link{}, Networks: []Network{}, Services: []Service{}}
	seenDNS := map[string]bool{}
	for _, nic := range nics {
		link := Link{ID: nic.Device, VIFID: nic.PortID, Type: "bridge", EthernetMACAddress: nic.MAC}
		dhcp := false
		for _, ip := range nic.IPs {
			sub, ok := subnetOf(nic, ip.SubnetID)
			if !ok {
				continue
			}
			n := Network{ID: fmt.Sprintf("network%d", len(nd.Networks)), Link: link.ID, NetworkID: nic.NetworkID}
			v6 := sub.IPVersion == 6
			switch {
			case sub.EnableDHCP && !v6:
				n.Type, dhcp = "ipv4_dhcp", true
			case sub.EnableDHCP && v6:
				n.Type, dhcp = "ipv6_dhcp", true
			default:
				n.Type = "ipv4"
				if v6 {
					n.Type = "ipv6"
				}
				n.IPAddress, n.Netmask = ip.IP, netmask(sub.CIDR)
				n.Routes = []Route{}
				if sub.GatewayIP != "" {
					any := "0.0.0.0"
					if v6 {
						any = "::"
					}
					n.Routes = append(n.Routes, Route{Network: any, Netmask: any, Gateway: sub.GatewayIP})
				}
				for _, r := range sub.HostRoutes {
					if p, err := netip.ParsePrefix(r.Destination); err == nil {
						n.Routes = append(n.Routes, Route{Network: p.Addr().String(), Netmask: netmask(r.Destination), Gateway: r.NextHop})
					}
				}
				n.Services = []Service{}
				for _, d := range sub.DNS {
					n.Services = append(n.Services, Service{Type: "dns", Address: d})
				}
			}
			for _, d := range sub.DNS {
				if !seenDNS[d] {
					seenDNS[d] = true
					nd.Services = append(nd.Services, Service{Type: "dns", Address: d})
				}
			}
			nd.Networks = append(nd.Networks, n)
		}
		if !dhcp && nic.MTU > 0 {
			mtu := nic.MTU
			link.MTU = &mtu // DHCP hands out the MTU itself
		}
		nd.Links = append(nd.Links, link)
	}
	return nd
}

func subnetOf(nic hostapi.NIC, id string) (hostapi.Subnet, bool) {
	for _, s := range nic.Subnets {
		if s.ID == id {
			return s, true
		}
	}
	return hostapi.Subnet{}, false
}

// netmask renders a CIDR's mask: dotted for IPv4, address-style for IPv6.
func netmask(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ""
	}
	n := 4
	if p.Addr().Is6() {
		n = 16
	}
	b := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}
