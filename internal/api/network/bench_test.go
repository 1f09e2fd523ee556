package network_test

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// BenchmarkPortCreateAPI times POST /v2.0/ports through the whole API
// (token check, decode, IPAM, MAC, default security group, store) on
// SQLite, one client, ports accumulating on one subnet; it reports the
// p50 and p99 per request (the target is p99 ≤ 20 ms).
func BenchmarkPortCreateAPI(b *testing.B) {
	env := cloudtest.New(b)
	tok := env.Token(b, "admin", cloudtest.AdminPassword, "admin")
	r := env.Do(b, "POST", "/network/v2.0/networks", tok, []byte(`{"network": {"name": "bench"}}`))
	var net struct {
		Network struct{ ID, ProjectID string } `json:"network"`
	}
	if err := json.Unmarshal(r.Body, &net); err != nil || net.Network.ID == "" {
		b.Fatalf("network: %d %s", r.Status, r.Body)
	}
	if r := env.Do(b, "POST", "/network/v2.0/subnets", tok, []byte(`{"subnet": {"network_id": "`+net.Network.ID+`", "cidr": "10.64.0.0/16", "ip_version": 4}}`)); r.Status != 201 {
		b.Fatalf("subnet: %d %s", r.Status, r.Body)
	}
	var projects struct {
		Projects []struct{ ID, Name string } `json:"projects"`
	}
	_ = json.Unmarshal(env.Do(b, "GET", "/identity/v3/auth/projects", tok, nil).Body, &projects)
	for _, p := range projects.Projects {
		if p.Name == "admin" {
			env.Do(b, "PUT", "/network/v2.0/quotas/"+p.ID, tok, []byte(`{"quota": {"port": -1}}`))
		}
	}
	body := []byte(`{"port": {"network_id": "` + net.Network.ID + `"}}`)
	var ms []float64
	for b.Loop() {
		t0 := time.Now()
		if r := env.Do(b, "POST", "/network/v2.0/ports", tok, body); r.Status != 201 {
			b.Fatalf("port: %d %s", r.Status, r.Body)
		}
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(ms)
	b.ReportMetric(ms[len(ms)/2], "p50-ms")
	b.ReportMetric(ms[len(ms)*99/100], "p99-ms")
}
