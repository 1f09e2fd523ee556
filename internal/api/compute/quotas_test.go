package compute_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
)

func TestQuotasAndLimits(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	ctx := context.Background()
	admin := nova(t, e.adminPC, "2.79")
	alice := nova(t, e.alicePC, "2.79")

	q, err := quotasets.Get(ctx, alice, e.shopID).Extract()
	if err != nil || q.Instances != 10 || q.Cores != 20 || q.RAM != 51200 || q.KeyPairs != 100 || q.ID != e.shopID {
		t.Fatalf("defaults: %+v %v", q, err)
	}
	five, minus := 5, -1
	q, err = quotasets.Update(ctx, admin, e.shopID, quotasets.UpdateOpts{Instances: &five, Cores: &minus}).Extract()
	if err != nil || q.Instances != 5 || q.Cores != -1 {
		t.Fatalf("update: %+v %v", q, err)
	}
	if _, err := quotasets.Update(ctx, alice, e.shopID, quotasets.UpdateOpts{Instances: &five}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member updates quota: %v", err)
	}
	d, err := quotasets.GetDetail(ctx, alice, e.shopID).Extract()
	if err != nil || d.Instances.Limit != 5 || d.Instances.InUse != 0 {
		t.Fatalf("detail: %+v %v", d, err)
	}
	if _, err := quotasets.Get(ctx, alice, "someone-else").Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member reads another project's quota: %v", err)
	}
	l, err := limits.Get(ctx, alice, nil).Extract()
	if err != nil || l.Absolute.MaxTotalInstances != 5 || l.Absolute.MaxTotalCores != -1 || l.Absolute.MaxTotalKeypairs != 100 {
		t.Fatalf("limits: %+v %v", l, err)
	}
	if l, err := limits.Get(ctx, admin, limits.GetOpts{TenantID: e.shopID}).Extract(); err != nil || l.Absolute.MaxTotalInstances != 5 {
		t.Errorf("admin limits of shop: %+v %v", l, err)
	}
	if _, err := quotasets.Delete(ctx, admin, e.shopID).Extract(); err != nil {
		t.Fatal(err)
	}
	if q, _ := quotasets.Get(ctx, alice, e.shopID).Extract(); q.Instances != 10 {
		t.Errorf("after delete: %+v", q)
	}

	// Microversion gates: network quotas until 2.36, personality until 2.57.
	for _, tc := range []struct {
		mv                 string
		floating, injected bool
	}{{"2.35", true, true}, {"2.36", false, true}, {"2.57", false, false}} {
		qs := e.call(t, "GET", "/os-quota-sets/"+e.shopID, e.aliceTok, tc.mv, "").JSON(t)["quota_set"].(map[string]any)
		_, f := qs["floating_ips"]
		_, i := qs["injected_files"]
		if f != tc.floating || i != tc.injected {
			t.Errorf("quota set at %s: floating_ips %v injected_files %v", tc.mv, f, i)
		}
		abs := e.call(t, "GET", "/limits", e.aliceTok, tc.mv, "").JSON(t)["limits"].(map[string]any)["absolute"].(map[string]any)
		_, f = abs["maxTotalFloatingIps"]
		_, i = abs["maxPersonality"]
		if f != tc.floating || i != tc.injected {
			t.Errorf("limits at %s: maxTotalFloatingIps %v maxPersonality %v", tc.mv, f, i)
		}
	}
	if abs := e.call(t, "GET", "/limits", e.aliceTok, "2.39", "").JSON(t)["limits"].(map[string]any)["absolute"].(map[string]any); abs["maxImageMeta"] != nil {
		t.Errorf("maxImageMeta at 2.39: %v", abs)
	}
	if r := e.call(t, "PUT", "/os-quota-sets/"+e.shopID, e.adminTok, "2.35", `{"quota_set": {"floating_ips": 3}}`); r.Status != 200 {
		t.Errorf("legacy quota before 2.36: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		name, method, path, tok, mv, body string
		status                            int
		key, msg                          string
	}{
		{"legacy at 2.36", "PUT", "/os-quota-sets/" + e.shopID, "admin", "2.36", `{"quota_set": {"floating_ips": 3}}`, 400, "badRequest", "'floating_ips' was unexpected"},
		{"unknown resource", "PUT", "/os-quota-sets/" + e.shopID, "admin", "2.79", `{"quota_set": {"gpus": 3}}`, 400, "badRequest", "'gpus' was unexpected"},
		{"below -1", "PUT", "/os-quota-sets/" + e.shopID, "admin", "2.79", `{"quota_set": {"instances": -2}}`, 400, "badRequest", "instances"},
		{"not a number", "PUT", "/os-quota-sets/" + e.shopID, "admin", "2.79", `{"quota_set": {"instances": "many"}}`, 400, "badRequest", "instances"},
		{"member deletes", "DELETE", "/os-quota-sets/" + e.shopID, "alice", "2.79", "", 403, "forbidden", "os_compute_api:os-quota-sets:delete"},
		{"other project limits", "GET", "/limits?tenant_id=x", "alice", "2.79", "", 403, "forbidden", "admin"},
		{"unknown query", "GET", "/limits?colour=red", "alice", "2.75", "", 400, "badRequest", "colour"},
		{"user quota over the project's", "PUT", "/os-quota-sets/" + e.shopID + "?user_id=u", "admin", "2.79", `{"quota_set": {"instances": 30}}`, 400, "badRequest", "less than or equal to 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.adminTok
			if tc.tok == "alice" {
				tok = e.aliceTok
			}
			novaError(t, e.call(t, tc.method, tc.path, tok, tc.mv, tc.body), tc.status, tc.key, tc.msg)
		})
	}
}

func TestQuotaClassDefault(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	ctx := context.Background()
	admin := nova(t, e.adminPC, "2.79")
	show := e.call(t, "GET", "/os-quota-class-sets/default", e.adminTok, "2.1", "")
	if show.Status != 200 {
		t.Fatalf("show: %d %s", show.Status, show.Body)
	}
	set := show.JSON(t)["quota_class_set"].(map[string]any)
	if set["id"] != "default" || set["instances"] != 10.0 || set["floating_ips"] != 10.0 || set["server_groups"] != nil {
		t.Errorf("class set at 2.1 = %v, want id default, instances 10, network quotas, no server_groups", set)
	}
	up := e.call(t, "PUT", "/os-quota-class-sets/default", e.adminTok, "2.1", `{"quota_class_set": {"instances": 12, "floating_ips": 110}}`)
	if up.Status != 200 {
		t.Fatalf("update: %d %s", up.Status, up.Body)
	}
	if got := up.JSON(t)["quota_class_set"].(map[string]any); got["instances"] != 12.0 || got["floating_ips"] != 110.0 {
		t.Errorf("update answers %v, want instances 12, floating_ips 110", got)
	}
	// The default class is every project's default.
	q, err := quotasets.Get(ctx, admin, e.shopID).Extract()
	if err != nil || q.Instances != 12 {
		t.Fatalf("project quota after class update: %+v %v", q, err)
	}
	novaError(t, e.call(t, "PUT", "/os-quota-class-sets/default", e.adminTok, "2.57", `{"quota_class_set": {"floating_ips": 1}}`), 400, "badRequest", "floating_ips")
	novaError(t, e.call(t, "GET", "/os-quota-class-sets/default", e.aliceTok, "2.1", ""), 403, "forbidden", "admin")
}
