package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// benchNet is the tenant network the networked boot bench boots on: a
// network, a subnet, a router to the external network "public", ICMP
// allowed in by the default security group, and the outside world's
// namespace the floating IPs are pinged from.
type benchNet struct {
	netID, subnetID, routerID, publicID, ruleID string
	extNS                                       string
}

// setupNet makes the bench's network; teardown removes it.
func (c *client) setupNet(ctx context.Context, dataDir string) (*benchNet, error) {
	ns, err := os.ReadFile(filepath.Join(dataDir, "external-netns"))
	if err != nil {
		return nil, fmt.Errorf("read the outside world's namespace: %w (give --data-dir of a cloud running qemu hosts)", err)
	}
	n := &benchNet{extNS: strings.TrimSpace(string(ns))}
	var nets struct {
		Networks []struct{ ID string } `json:"networks"`
	}
	if err := c.do(ctx, "GET", "/network/v2.0/networks?name=public", nil, &nets); err != nil || len(nets.Networks) == 0 {
		return nil, fmt.Errorf("find the external network public: %v", err)
	}
	n.publicID = nets.Networks[0].ID
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	if err := c.do(ctx, "POST", "/network/v2.0/networks", map[string]any{"network": map[string]any{"name": "bench-net-" + randomHex(3)}}, &net); err != nil {
		return nil, err
	}
	n.netID = net.Network.ID
	var sub struct {
		Subnet struct{ ID string } `json:"subnet"`
	}
	if err := c.do(ctx, "POST", "/network/v2.0/subnets", map[string]any{"subnet": map[string]any{
		"network_id": n.netID, "cidr": "10.199.0.0/24", "ip_version": 4}}, &sub); err != nil {
		return n, err
	}
	n.subnetID = sub.Subnet.ID
	var rt struct {
		Router struct{ ID string } `json:"router"`
	}
	if err := c.do(ctx, "POST", "/network/v2.0/routers", map[string]any{"router": map[string]any{
		"name": "bench-router", "external_gateway_info": map[string]any{"network_id": n.publicID}}}, &rt); err != nil {
		return n, err
	}
	n.routerID = rt.Router.ID
	if err := c.do(ctx, "PUT", "/network/v2.0/routers/"+n.routerID+"/add_router_interface", map[string]any{"subnet_id": n.subnetID}, nil); err != nil {
		return n, err
	}
	var sgs struct {
		SecurityGroups []struct{ ID string } `json:"security_groups"`
	}
	if err := c.do(ctx, "GET", "/network/v2.0/security-groups?name=default&project_id="+c.projectID, nil, &sgs); err != nil || len(sgs.SecurityGroups) == 0 {
		return n, fmt.Errorf("find the project's default security group: %v", err)
	}
	var rule struct {
		Rule struct{ ID string } `json:"security_group_rule"`
	}
	err = c.do(ctx, "POST", "/network/v2.0/security-group-rules", map[string]any{"security_group_rule": map[string]any{
		"security_group_id": sgs.SecurityGroups[0].ID, "direction": "ingress", "protocol": "icmp", "ethertype": "IPv4"}}, &rule)
	if err != nil && !strings.Contains(err.Error(), "409") {
		return n, err
	}
	n.ruleID = rule.Rule.ID
	return n, nil
}

func (c *client) teardownNet(ctx context.Context, n *benchNet) {
	if n == nil {
		return
	}
	if n.ruleID != "" {
		_ = c.do(ctx, "DELETE", "/network/v2.0/security-group-rules/"+n.ruleID, nil, nil)
	}
	if n.routerID != "" {
		_ = c.do(ctx, "PUT", "/network/v2.0/routers/"+n.routerID+"/remove_router_interface", map[string]any{"subnet_id": n.subnetID}, nil)
		_ = c.do(ctx, "DELETE", "/network/v2.0/routers/"+n.routerID, nil, nil)
	}
	if n.netID != "" {
		// The servers' ports go with the servers, asynchronously: retry.
		for i := 0; i < 50; i++ {
			if err := c.do(ctx, "DELETE", "/network/v2.0/networks/"+n.netID, nil, nil); err == nil || strings.Contains(err.Error(), "404") {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// floatingReach gives server id a floating IP as soon as its port exists
// and pings it from the outside world until it answers; it returns when it
// answered, the floating IP's id, or an error.
func (c *client) floatingReach(ctx context.Context, n *benchNet, id string) (time.Time, string, error) {
	var portID string
	for portID == "" {
		var ps struct {
			Ports []struct{ ID string } `json:"ports"`
		}
		if err := c.do(ctx, "GET", "/network/v2.0/ports?device_id="+id, nil, &ps); err != nil {
			return time.Time{}, "", err
		}
		if len(ps.Ports) > 0 {
			portID = ps.Ports[0].ID
			break
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, "", err
		}
	}
	var fip struct {
		FloatingIP struct {
			ID      string `json:"id"`
			Address string `json:"floating_ip_address"`
		} `json:"floatingip"`
	}
	if err := c.do(ctx, "POST", "/network/v2.0/floatingips", map[string]any{"floatingip": map[string]any{
		"floating_network_id": n.publicID, "port_id": portID}}, &fip); err != nil {
		return time.Time{}, "", err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		err := exec.CommandContext(ctx, "ip", "netns", "exec", n.extNS, "ping", "-c", "1", "-W", "0.2", fip.FloatingIP.Address).Run()
		if err == nil {
			return time.Now(), fip.FloatingIP.ID, nil
		}
		if ctx.Err() != nil {
			return time.Time{}, fip.FloatingIP.ID, ctx.Err()
		}
	}
	return time.Time{}, fip.FloatingIP.ID, fmt.Errorf("floating IP %s of server %s never answered ping from %s", fip.FloatingIP.Address, id, n.extNS)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
