package compute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func TestFlavorValidation(t *testing.T) {
	ok := compute.FlavorCreate{Name: "m1.small", RAM: 2048, VCPUs: 1, Disk: 20, RxTxFactor: 1}
	desc := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		edit func(*compute.FlavorCreate)
		want string // "" for valid
	}{
		{"valid", func(*compute.FlavorCreate) {}, ""},
		{"valid id", func(f *compute.FlavorCreate) { f.ID = "m1 small.v2_x-y" }, ""},
		{"empty name", func(f *compute.FlavorCreate) { f.Name = "" }, "name"},
		{"leading space", func(f *compute.FlavorCreate) { f.Name = " x" }, "name"},
		{"newline in name", func(f *compute.FlavorCreate) { f.Name = "a\nb" }, "name"},
		{"long name", func(f *compute.FlavorCreate) { f.Name = strings.Repeat("n", 256) }, "name"},
		{"unicode name", func(f *compute.FlavorCreate) { f.Name = "größe 1" }, ""},
		{"zero ram", func(f *compute.FlavorCreate) { f.RAM = 0 }, "ram"},
		{"zero vcpus", func(f *compute.FlavorCreate) { f.VCPUs = 0 }, "vcpus"},
		{"negative disk", func(f *compute.FlavorCreate) { f.Disk = -1 }, "disk"},
		{"negative swap", func(f *compute.FlavorCreate) { f.Swap = -1 }, "swap"},
		{"huge ram", func(f *compute.FlavorCreate) { f.RAM = compute.MaxInt + 1 }, "ram"},
		{"zero rxtx", func(f *compute.FlavorCreate) { f.RxTxFactor = 0 }, "rxtx_factor"},
		{"bad id", func(f *compute.FlavorCreate) { f.ID = "a/b" }, "id"},
		{"id with edge space", func(f *compute.FlavorCreate) { f.ID = "ab " }, "id"},
		{"description newline", func(f *compute.FlavorCreate) { f.Description = desc("a\nb") }, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			err := f.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			e := wantStatus(t, err, 400)
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not name %s", e.Message, tc.want)
			}
		})
	}
}

func TestFlavors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)

		// Only admins create.
		wantStatus(t, func() error {
			_, err := s.CreateFlavor(ctx, opsAlice, compute.FlavorCreate{Name: "x", RAM: 1, VCPUs: 1})
			return err
		}(), 403)

		small, err := s.CreateFlavor(ctx, opsAdmin, compute.FlavorCreate{ID: "1", Name: "small", RAM: 512, VCPUs: 1, Disk: 1, IsPublic: true})
		if err != nil {
			t.Fatal(err)
		}
		if small.RxTxFactor != 1 || small.ExtraSpecs == nil {
			t.Errorf("defaults not applied: %+v", small)
		}
		big, err := s.CreateFlavor(ctx, opsAdmin, compute.FlavorCreate{Name: "big", RAM: 8192, VCPUs: 4, Disk: 40, IsPublic: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(big.ID) != 36 {
			t.Errorf("generated id %q is not a UUID", big.ID)
		}
		secret, err := s.CreateFlavor(ctx, opsAdmin, compute.FlavorCreate{ID: "secret", Name: "secret", RAM: 1024, VCPUs: 2, Disk: 10})
		if err != nil {
			t.Fatal(err)
		}
		// Duplicates.
		for _, f := range []compute.FlavorCreate{{ID: "1", Name: "other", RAM: 1, VCPUs: 1}, {Name: "small", RAM: 1, VCPUs: 1}} {
			_, err := s.CreateFlavor(ctx, opsAdmin, f)
			e := wantStatus(t, err, 409)
			if !strings.Contains(e.Message, "already exists") {
				t.Errorf("duplicate message: %q", e.Message)
			}
		}

		ids := func(fs []store.Flavor) []string {
			var out []string
			for _, f := range fs {
				out = append(out, f.ID)
			}
			return out
		}

		// Non-admins see public flavors only, until given access.
		fs, err := s.Flavors(ctx, opsAlice, compute.FlavorList{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"1", big.ID}, ids(fs), sortStrings); diff != "" {
			t.Errorf("alice's flavors (-want +got):\n%s", diff)
		}
		if _, err := s.Flavor(ctx, opsAlice, "secret"); err == nil {
			t.Fatal("alice sees a private flavor without access")
		} else {
			wantStatus(t, err, 404)
		}
		if _, err := s.FlavorAccess(ctx, opsAdmin, "1"); err == nil {
			t.Error("access list of a public flavor should be refused")
		}
		if _, err := s.AddFlavorAccess(ctx, opsAdmin, "1", "p-shop", true); err == nil {
			t.Error("adding access to a public flavor at 2.7+ should conflict")
		} else {
			wantStatus(t, err, 409)
		}
		ps, err := s.AddFlavorAccess(ctx, opsAdmin, "secret", "p-shop", true)
		if err != nil || !cmp.Equal(ps, []string{"p-shop"}) {
			t.Fatalf("add access: %v %v", ps, err)
		}
		_, err = s.AddFlavorAccess(ctx, opsAdmin, "secret", "p-shop", true)
		wantStatus(t, err, 409)
		if _, err := s.Flavor(ctx, opsAlice, "secret"); err != nil {
			t.Errorf("alice cannot see a flavor shared with her project: %v", err)
		}
		fs, _ = s.Flavors(ctx, opsAlice, compute.FlavorList{})
		if len(fs) != 3 {
			t.Errorf("alice sees %v, want 3 flavors", ids(fs))
		}
		fs, _ = s.Flavors(ctx, opsMallory, compute.FlavorList{})
		if len(fs) != 2 {
			t.Errorf("mallory sees %v, want the 2 public flavors", ids(fs))
		}
		_, err = s.RemoveFlavorAccess(ctx, opsAdmin, "secret", "p-nobody")
		wantStatus(t, err, 404)

		// Admin filters: is_public true (default), false, None (all).
		yes, no := true, false
		for _, tc := range []struct {
			name string
			pub  *bool
			want []string
		}{{"public", &yes, []string{"1", big.ID}}, {"private", &no, []string{"secret"}}, {"all", nil, []string{"1", big.ID, "secret"}}} {
			fs, err := s.Flavors(ctx, opsAdmin, compute.FlavorList{IsPublic: tc.pub})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(fs), sortStrings); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
		// Filters, sorting, paging.
		fs, _ = s.Flavors(ctx, opsAdmin, compute.FlavorList{IsPublic: nil, MinRAM: 1000})
		if diff := cmp.Diff([]string{big.ID, "secret"}, ids(fs), sortStrings); diff != "" {
			t.Errorf("minRam (-want +got):\n%s", diff)
		}
		fs, _ = s.Flavors(ctx, opsAdmin, compute.FlavorList{SortKey: "memory_mb", Desc: true})
		if diff := cmp.Diff([]string{big.ID, "secret", "1"}, ids(fs)); diff != "" {
			t.Errorf("sorted by memory desc (-want +got):\n%s", diff)
		}
		page1, _ := s.Flavors(ctx, opsAdmin, compute.FlavorList{SortKey: "name", Page: page.Request{Limit: 2}})
		page2, _ := s.Flavors(ctx, opsAdmin, compute.FlavorList{SortKey: "name", Page: page.Request{Limit: 2, Marker: page1[1].ID}})
		if diff := cmp.Diff([]string{big.ID, "secret", "1"}, append(ids(page1), ids(page2)...)); diff != "" {
			t.Errorf("pages by name (-want +got):\n%s", diff)
		}
		_, err = s.Flavors(ctx, opsAdmin, compute.FlavorList{Page: page.Request{Marker: "nope"}})
		wantStatus(t, err, 400)

		// Extra specs and description.
		_, err = s.SetFlavorExtraSpecs(ctx, opsAlice, "1", map[string]string{"a": "b"})
		wantStatus(t, err, 403)
		specs, err := s.SetFlavorExtraSpecs(ctx, opsAdmin, "1", map[string]string{"hw:cpu_policy": "dedicated", "quota:disk_read_bytes_sec": "1000"})
		if err != nil || len(specs) != 2 {
			t.Fatalf("set extra specs: %v %v", specs, err)
		}
		_, err = s.SetFlavorExtraSpecs(ctx, opsAdmin, "1", map[string]string{"bad/key": "x"})
		wantStatus(t, err, 400)
		if err := s.DeleteFlavorExtraSpec(ctx, opsAdmin, "1", "hw:cpu_policy"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, s.DeleteFlavorExtraSpec(ctx, opsAdmin, "1", "hw:cpu_policy"), 404)
		got, _ := s.FlavorExtraSpecs(ctx, opsAlice, "1")
		if diff := cmp.Diff(map[string]string{"quota:disk_read_bytes_sec": "1000"}, got); diff != "" {
			t.Errorf("extra specs (-want +got):\n%s", diff)
		}
		d := "for the shop"
		f, err := s.UpdateFlavorDescription(ctx, opsAdmin, "1", &d)
		if err != nil || f.Description != d {
			t.Fatalf("update description: %+v %v", f, err)
		}

		// Delete.
		wantStatus(t, s.DeleteFlavor(ctx, opsAlice, secret.ID), 403)
		if err := s.DeleteFlavor(ctx, opsAdmin, secret.ID); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, s.DeleteFlavor(ctx, opsAdmin, secret.ID), 404)
	})
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })
