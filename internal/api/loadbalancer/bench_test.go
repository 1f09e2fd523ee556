package loadbalancer_test

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// BenchmarkCreateToActive times a single-call create of a load balancer
// with an HTTP listener, a pool of three members and a health monitor
// through the whole API (token, decode, VIP port and its security group,
// store), until GET shows it ACTIVE: the control plane's part, with the
// fake hosts' data plane applying at once (the real data plane's part is
// internal/driver/haproxy's BenchmarkApplyToTraffic). SQLite, one client;
// it reports p50 and p99 of the create call and of create → ACTIVE.
func BenchmarkCreateToActive(b *testing.B) {
	env := cloudtest.New(b)
	tok := env.Token(b, "admin", cloudtest.AdminPassword, "admin")
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	_ = json.Unmarshal(env.Do(b, "POST", "/network/v2.0/networks", tok, []byte(`{"network": {"name": "bench"}}`)).Body, &net)
	var sub struct {
		Subnet struct{ ID string } `json:"subnet"`
	}
	_ = json.Unmarshal(env.Do(b, "POST", "/network/v2.0/subnets", tok, []byte(`{"subnet": {"network_id": "`+net.Network.ID+`", "cidr": "10.64.0.0/16", "ip_version": 4}}`)).Body, &sub)
	var projects struct {
		Projects []struct{ ID, Name string } `json:"projects"`
	}
	_ = json.Unmarshal(env.Do(b, "GET", "/identity/v3/auth/projects", tok, nil).Body, &projects)
	for _, p := range projects.Projects {
		if p.Name == "admin" {
			env.Do(b, "PUT", "/network/v2.0/quotas/"+p.ID, tok, []byte(`{"quota": {"port": -1, "security_group": -1, "security_group_rule": -1}}`))
		}
	}
	body := []byte(`{"loadbalancer": {"vip_subnet_id": "` + sub.Subnet.ID + `", "listeners": [{"protocol": "HTTP", "protocol_port": 80,
		"default_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
			"healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2, "url_path": "/"},
			"members": [{"address": "10.64.0.11", "protocol_port": 80}, {"address": "10.64.0.12", "protocol_port": 80}, {"address": "10.64.0.13", "protocol_port": 80}]}}]}}`)
	var create, active []float64
	for b.Loop() {
		t0 := time.Now()
		r := env.Do(b, "POST", "/load-balancer/v2/lbaas/loadbalancers", tok, body)
		if r.Status != 201 {
			b.Fatalf("create: %d %s", r.Status, r.Body)
		}
		create = append(create, float64(time.Since(t0).Microseconds())/1000)
		var lb struct {
			LB struct {
				ID                 string `json:"id"`
				ProvisioningStatus string `json:"provisioning_status"`
			} `json:"loadbalancer"`
		}
		_ = json.Unmarshal(r.Body, &lb)
		for i := 0; lb.LB.ProvisioningStatus != "ACTIVE"; i++ {
			if i > 20000 {
				b.Fatalf("load balancer %s still %s", lb.LB.ID, lb.LB.ProvisioningStatus)
			}
			time.Sleep(200 * time.Microsecond)
			_ = json.Unmarshal(env.Do(b, "GET", "/load-balancer/v2/lbaas/loadbalancers/"+lb.LB.ID, tok, nil).Body, &lb)
		}
		active = append(active, float64(time.Since(t0).Microseconds())/1000)
	}
	for _, m := range []struct {
		name string
		v    []float64
	}{{"create", create}, {"active", active}} {
		sort.Float64s(m.v)
		b.ReportMetric(m.v[len(m.v)/2], m.name+"-p50-ms")
		b.ReportMetric(m.v[len(m.v)*99/100], m.name+"-p99-ms")
	}
}
