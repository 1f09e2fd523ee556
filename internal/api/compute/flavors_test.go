package compute_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"

	"github.com/onestack/onestack/internal/storetest"
)

func TestFlavorsGophercloud(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t, backend)
			ctx := context.Background()
			admin := nova(t, e.adminPC, "2.79")
			alice := nova(t, e.alicePC, "2.79")

			zero, one := 0, 1
			private := false
			f, err := flavors.Create(ctx, admin, flavors.CreateOpts{ID: "m1.tiny", Name: "tiny", RAM: 512, VCPUs: 1, Disk: &one,
				Swap: &zero, Ephemeral: &zero, RxTxFactor: 1, Description: "for tests"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if f.ID != "m1.tiny" || f.Description != "for tests" || !f.IsPublic || f.Swap != 0 {
				t.Errorf("created flavor: %+v", f)
			}
			secret, err := flavors.Create(ctx, admin, flavors.CreateOpts{Name: "secret", RAM: 4096, VCPUs: 4, Disk: &one, IsPublic: &private}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if len(secret.ID) != 36 || secret.IsPublic {
				t.Errorf("private flavor: %+v", secret)
			}

			names := func(sc *gophercloud.ServiceClient, opts flavors.ListOpts) []string {
				t.Helper()
				pages, err := flavors.ListDetail(sc, opts).AllPages(ctx)
				if err != nil {
					t.Fatal(err)
				}
				fs, err := flavors.ExtractFlavors(pages)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, f := range fs {
					out = append(out, f.Name)
				}
				return out
			}
			if diff := cmp.Diff([]string{"tiny"}, names(alice, flavors.ListOpts{})); diff != "" {
				t.Errorf("alice's flavors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"secret"}, names(admin, flavors.ListOpts{AccessType: flavors.PrivateAccess})); diff != "" {
				t.Errorf("private flavors (-want +got):\n%s", diff)
			}
			if got := names(admin, flavors.ListOpts{AccessType: flavors.AllAccess}); len(got) != 2 {
				t.Errorf("all flavors: %v", got)
			}
			// Paging follows flavors_links.
			if got := names(admin, flavors.ListOpts{AccessType: flavors.AllAccess, Limit: 1, SortKey: "name"}); !cmp.Equal(got, []string{"secret", "tiny"}) {
				t.Errorf("paged by name: %v", got)
			}

			// Access.
			if err := flavors.AddAccess(ctx, admin, secret.ID, flavors.AddAccessOpts{Tenant: e.shopID}).Err; err != nil {
				t.Fatal(err)
			}
			pages, err := flavors.ListAccesses(admin, secret.ID).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			acc, _ := flavors.ExtractAccesses(pages)
			if len(acc) != 1 || acc[0].TenantID != e.shopID || acc[0].FlavorID != secret.ID {
				t.Errorf("access list: %+v", acc)
			}
			if got := names(alice, flavors.ListOpts{}); len(got) != 2 {
				t.Errorf("alice after access: %v", got)
			}
			if _, err := flavors.Get(ctx, alice, secret.ID).Extract(); err != nil {
				t.Errorf("alice gets the shared flavor: %v", err)
			}
			if err := flavors.RemoveAccess(ctx, admin, secret.ID, flavors.RemoveAccessOpts{Tenant: e.shopID}).Err; err != nil {
				t.Fatal(err)
			}
			if _, err := flavors.Get(ctx, alice, secret.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
				t.Errorf("alice gets an unshared private flavor: %v", err)
			}

			// Extra specs.
			specs, err := flavors.CreateExtraSpecs(ctx, admin, f.ID, flavors.ExtraSpecsOpts{"hw:cpu_policy": "dedicated", "hw:numa_nodes": "1"}).Extract()
			if err != nil || len(specs) != 2 {
				t.Fatalf("create extra specs: %v %v", specs, err)
			}
			one2, err := flavors.UpdateExtraSpec(ctx, admin, f.ID, flavors.ExtraSpecsOpts{"hw:numa_nodes": "2"}).Extract()
			if err != nil || one2["hw:numa_nodes"] != "2" {
				t.Fatalf("update extra spec: %v %v", one2, err)
			}
			got, err := flavors.GetExtraSpec(ctx, alice, f.ID, "hw:numa_nodes").Extract()
			if err != nil || got["hw:numa_nodes"] != "2" {
				t.Fatalf("get extra spec: %v %v", got, err)
			}
			if err := flavors.DeleteExtraSpec(ctx, admin, f.ID, "hw:cpu_policy").ExtractErr(); err != nil {
				t.Fatal(err)
			}
			all, err := flavors.ListExtraSpecs(ctx, alice, f.ID).Extract()
			if diff := cmp.Diff(map[string]string{"hw:numa_nodes": "2"}, all); err != nil || diff != "" {
				t.Errorf("extra specs (-want +got):\n%s %v", diff, err)
			}
			shown, _ := flavors.Get(ctx, alice, f.ID).Extract()
			if shown.ExtraSpecs["hw:numa_nodes"] != "2" {
				t.Errorf("extra_specs in the flavor at 2.61: %+v", shown.ExtraSpecs)
			}

			// Description update (2.55) and delete.
			upd, err := flavors.Update(ctx, admin, f.ID, flavors.UpdateOpts{Description: "tiny things"}).Extract()
			if err != nil || upd.Description != "tiny things" {
				t.Fatalf("update: %+v %v", upd, err)
			}
			if err := flavors.Delete(ctx, admin, secret.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if _, err := flavors.Get(ctx, admin, secret.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
				t.Errorf("deleted flavor: %v", err)
			}
		})
	}
}

// TestFlavorMicroversions checks the wire format at the gates: swap "" then
// 0 (2.75), description (2.55), extra_specs (2.61), unknown query
// parameters refused (2.75), public-flavor access refused (2.7).
func TestFlavorMicroversions(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	r := e.call(t, "POST", "/flavors", e.adminTok, "2.1", `{"flavor": {"name": "a", "ram": "512", "vcpus": 1, "disk": 0, "id": 7}}`)
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		mv        string
		swap      any
		desc, ext bool
	}{{"2.1", "", false, false}, {"2.55", "", true, false}, {"2.61", "", true, true}, {"2.74", "", true, true}, {"2.75", float64(0), true, true}} {
		f := e.call(t, "GET", "/flavors/7", e.aliceTok, tc.mv, "").JSON(t)["flavor"].(map[string]any)
		_, hasDesc := f["description"]
		_, hasExt := f["extra_specs"]
		if f["swap"] != tc.swap || hasDesc != tc.desc || hasExt != tc.ext {
			t.Errorf("at %s: swap %#v description %v extra_specs %v", tc.mv, f["swap"], hasDesc, hasExt)
		}
		if f["OS-FLV-EXT-DATA:ephemeral"] != float64(0) || f["os-flavor-access:is_public"] != true || f["OS-FLV-DISABLED:disabled"] != false {
			t.Errorf("at %s: %v", tc.mv, f)
		}
	}
	brief := e.call(t, "GET", "/flavors", e.aliceTok, "2.55", "").JSON(t)["flavors"].([]any)[0].(map[string]any)
	if len(brief) != 4 { // id, name, links, description
		t.Errorf("brief flavor at 2.55: %v", brief)
	}
	if r := e.call(t, "GET", "/flavors?color=red", e.aliceTok, "2.74", ""); r.Status != 200 {
		t.Errorf("unknown query before 2.75: %d", r.Status)
	}
	novaError(t, e.call(t, "GET", "/flavors?color=red", e.aliceTok, "2.75", ""), 400, "badRequest", "color")
	novaError(t, e.call(t, "GET", "/flavors?sort_key=color", e.aliceTok, "2.1", ""), 400, "badRequest", "sort_key")
	novaError(t, e.call(t, "GET", "/flavors?minRam=lots", e.aliceTok, "2.1", ""), 400, "badRequest", "minRam")
	novaError(t, e.call(t, "GET", "/flavors?marker=nope", e.aliceTok, "2.1", ""), 400, "badRequest", "marker")
	novaError(t, e.call(t, "POST", "/flavors", e.adminTok, "2.54", `{"flavor": {"name": "d", "ram": 1, "vcpus": 1, "disk": 0, "description": "x"}}`), 400, "badRequest", "'description' was unexpected")
	novaError(t, e.call(t, "PUT", "/flavors/7", e.adminTok, "2.54", `{"flavor": {"description": "x"}}`), 404, "itemNotFound", "2.55")
	// Access to a public flavor: recorded before 2.7, refused from 2.7.
	novaError(t, e.call(t, "POST", "/flavors/7/action", e.adminTok, "2.7", `{"addTenantAccess": {"tenant": "p1"}}`), 409, "conflictingRequest", "public flavor")
	if r := e.call(t, "POST", "/flavors/7/action", e.adminTok, "2.6", `{"addTenantAccess": {"tenant": "p1"}}`); r.Status != 200 {
		t.Errorf("access to a public flavor before 2.7: %d %s", r.Status, r.Body)
	}
	novaError(t, e.call(t, "GET", "/flavors/7/os-flavor-access", e.adminTok, "2.1", ""), 404, "itemNotFound", "public flavors")
}

// TestFlavorIsPublicSpellings checks the admin is_public filter accepts
// oslo's boolean spellings (t, f, yes, off, …) and refuses others.
func TestFlavorIsPublicSpellings(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	for _, c := range []struct {
		v      string
		status int
	}{{"t", 200}, {"f", 200}, {"YES", 200}, {"off", 200}, {"0", 200}, {"none", 200}, {"maybe", 400}} {
		if r := e.call(t, "GET", "/flavors/detail?is_public="+c.v, e.adminTok, "2.1", ""); r.Status != c.status {
			t.Errorf("is_public=%s: status %d, want %d: %s", c.v, r.Status, c.status, r.Body)
		}
	}
}
