package doctor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/doctor"
	"github.com/onestack/onestack/internal/store"
)

// TestLoadBalancerChecks: what a load balancer owns (its VIP port and
// security group) left behind by a load balancer whose rows are gone is
// named with its repair, and so is a load balancer whose VIP port is gone;
// a healthy one gives nothing.
func TestLoadBalancerChecks(t *testing.T) {
	e := cloudtest.New(t)
	ctx := context.Background()
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	_ = json.Unmarshal(e.Do(t, "POST", "/network/v2.0/networks", tok, []byte(`{"network": {"name": "n"}}`)).Body, &net)
	var sub struct {
		Subnet struct{ ID string } `json:"subnet"`
	}
	_ = json.Unmarshal(e.Do(t, "POST", "/network/v2.0/subnets", tok, []byte(`{"subnet": {"network_id": "`+net.Network.ID+`", "cidr": "10.5.0.0/24", "ip_version": 4}}`)).Body, &sub)
	lbs := map[string]struct{ ID, VIPPortID string }{}
	for _, name := range []string{"healthy", "rows-lost", "port-lost"} {
		r := e.Do(t, "POST", "/load-balancer/v2/lbaas/loadbalancers", tok, []byte(`{"loadbalancer": {"name": "`+name+`", "vip_subnet_id": "`+sub.Subnet.ID+`"}}`))
		var lb struct {
			LB struct {
				ID        string `json:"id"`
				VIPPortID string `json:"vip_port_id"`
			} `json:"loadbalancer"`
		}
		if err := json.Unmarshal(r.Body, &lb); err != nil || lb.LB.ID == "" {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
		lbs[name] = struct{ ID, VIPPortID string }{lb.LB.ID, lb.LB.VIPPortID}
	}
	check := func() []doctor.Problem {
		t.Helper()
		ps, err := doctor.Check(ctx, doctor.Config{DB: e.Cloud.DB})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if ps := check(); len(ps) != 0 {
		t.Fatalf("three healthy load balancers: %v", ps)
	}
	// The rows of one go, as a crash between two writes of an old version
	// could have left; the VIP port of another goes behind its back.
	if err := e.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteLBObject(ctx, lbs["rows-lost"].ID); err != nil {
			return err
		}
		return tx.DeletePort(ctx, lbs["port-lost"].VIPPortID)
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range check() {
		got = append(got, p.Subject+": "+p.Problem+" / "+p.Repair)
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"port " + lbs["rows-lost"].VIPPortID + ": was made for load balancer " + lbs["rows-lost"].ID + ", which no longer exists",
		"openstack port delete " + lbs["rows-lost"].VIPPortID,
		"was made for load balancer " + lbs["rows-lost"].ID + ", which no longer exists / openstack security group delete",
		"load balancer " + lbs["port-lost"].ID + ": its VIP port " + lbs["port-lost"].VIPPortID + " no longer exists",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("doctor does not say %q; it says:\n%s", want, text)
		}
	}
	if strings.Contains(text, lbs["healthy"].ID) {
		t.Errorf("doctor names the healthy load balancer:\n%s", text)
	}
}
