package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// cliNetwork is what `openstack network show -f json` prints.
type cliNetwork struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	External bool     `json:"router:external"`
	Shared   bool     `json:"shared"`
	MTU      int      `json:"mtu"`
	Subnets  []string `json:"subnets"`
	Type     string   `json:"provider:network_type"`
	Project  string   `json:"project_id"`
}

type cliFixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type cliPort struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	MAC         string       `json:"mac_address"`
	FixedIPs    []cliFixedIP `json:"fixed_ips"`
	DeviceOwner string       `json:"device_owner"`
	Status      string       `json:"status"`
}

// TestNetworkCLI drives Neutron with the openstack CLI as its users do: a
// network with a subnet, a router to the external network "public" with
// the subnet added, a port, a security group with rules, a floating IP
// from public on the port; list, show, delete; another project sees none
// of it.
func TestNetworkCLI(t *testing.T) {
	requireCLI(t)
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		m := c.AdminAPI(t).NewMember("net")
		user := c.PasswordEnv(m.User, m.Password, m.Project)

		var pub cliNetwork
		RunJSON(t, user, &pub, "network", "show", "public")
		if !pub.External || pub.Shared || len(pub.Subnets) != 1 {
			t.Errorf("public: %+v", pub)
		}

		var n cliNetwork
		RunJSON(t, user, &n, "network", "create", "web")
		if n.Status != "ACTIVE" || n.MTU != 1450 || n.Project != m.ProjectID {
			t.Errorf("network create: %+v", n)
		}
		var sn struct {
			ID, CIDR, Name string
			GatewayIP      string `json:"gateway_ip"`
		}
		RunJSON(t, user, &sn, "subnet", "create", "web-v4", "--network", "web", "--subnet-range", "10.42.0.0/24", "--dns-nameserver", "10.42.0.53")
		if sn.GatewayIP != "10.42.0.1" {
			t.Errorf("subnet create: %+v", sn)
		}
		var r struct {
			ID                  string         `json:"id"`
			ExternalGatewayInfo map[string]any `json:"external_gateway_info"`
		}
		RunJSON(t, user, &r, "router", "create", "edge")
		MustRun(t, user, "router", "set", "edge", "--external-gateway", "public")
		MustRun(t, user, "router", "add", "subnet", "edge", "web-v4")
		RunJSON(t, user, &r, "router", "show", "edge")
		if r.ExternalGatewayInfo == nil || r.ExternalGatewayInfo["network_id"] != pub.ID {
			t.Errorf("router gateway: %+v", r)
		}
		var ifaces []map[string]any
		RunJSON(t, user, &ifaces, "port", "list", "--router", "edge")
		if len(ifaces) != 1 || !strings.Contains(fmt.Sprint(ifaces[0]["Fixed IP Addresses"]), "10.42.0.1") {
			t.Errorf("router ports: %+v", ifaces)
		}

		var sg struct{ ID, Name string }
		RunJSON(t, user, &sg, "security", "group", "create", "ssh")
		MustRun(t, user, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "0.0.0.0/0", "ssh")
		MustRun(t, user, "security", "group", "rule", "create", "--protocol", "icmp", "ssh")
		Fail(t, Run(t, user, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "0.0.0.0/0", "ssh"), "already exists")
		var rules []map[string]any
		RunJSON(t, user, &rules, "security", "group", "rule", "list", "ssh")
		if len(rules) != 4 { // two egress defaults, ssh, icmp
			t.Errorf("rules: %v", rules)
		}

		var p cliPort
		RunJSON(t, user, &p, "port", "create", "--network", "web", "--security-group", "ssh", "--fixed-ip", "subnet=web-v4,ip-address=10.42.0.10", "app")
		if !strings.HasPrefix(p.MAC, "fa:16:3e:") || len(p.FixedIPs) != 1 || p.FixedIPs[0].IPAddress != "10.42.0.10" || p.Status != "DOWN" {
			t.Errorf("port create: %+v", p)
		}
		Fail(t, Run(t, user, "port", "create", "--network", "web", "--fixed-ip", "ip-address=10.42.0.10", "dup"), "in use")

		var fip struct {
			ID      string `json:"id"`
			Address string `json:"floating_ip_address"`
			PortID  string `json:"port_id"`
			Fixed   string `json:"fixed_ip_address"`
		}
		RunJSON(t, user, &fip, "floating", "ip", "create", "public")
		if !strings.HasPrefix(fip.Address, "172.24.4.") {
			t.Errorf("floating ip create: %+v", fip)
		}
		MustRun(t, user, "floating", "ip", "set", "--port", "app", fip.ID)
		RunJSON(t, user, &fip, "floating", "ip", "show", fip.ID)
		if fip.PortID != p.ID || fip.Fixed != "10.42.0.10" {
			t.Errorf("floating ip after set: %+v", fip)
		}
		var fips []map[string]any
		RunJSON(t, user, &fips, "floating", "ip", "list")
		if len(fips) != 1 {
			t.Errorf("floating ip list: %v", fips)
		}

		// Another project sees nothing of it but public.
		other := c.AdminAPI(t).NewMember("other")
		oenv := c.PasswordEnv(other.User, other.Password, other.Project)
		var nets []cliNetwork
		RunJSON(t, oenv, &nets, "network", "list")
		if len(nets) != 1 || nets[0].Name != "public" {
			t.Errorf("other project's network list: %+v", nets)
		}
		Fail(t, Run(t, oenv, "port", "show", p.ID), "no port found")
		Fail(t, Run(t, oenv, "router", "delete", r.ID), "no router found")

		// In use, then gone in order.
		Fail(t, Run(t, user, "network", "delete", "web"), "in use", "ports still")
		MustRun(t, user, "floating", "ip", "delete", fip.ID)
		MustRun(t, user, "port", "delete", "app")
		MustRun(t, user, "router", "remove", "subnet", "edge", "web-v4")
		MustRun(t, user, "router", "delete", "edge")
		MustRun(t, user, "security", "group", "delete", "ssh")
		MustRun(t, user, "network", "delete", "web")
		var ports []cliPort
		RunJSON(t, admin, &ports, "port", "list", "--network", "public")
		if len(ports) != 0 {
			t.Errorf("ports left on public: %+v", ports)
		}
		var quota map[string]any
		RunJSON(t, admin, &quota, "quota", "show", m.ProjectID)
		if quota["networks"] != float64(100) && quota["network"] != float64(100) {
			t.Errorf("quota show: %v", quota)
		}
	})
}
