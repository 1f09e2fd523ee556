package volume_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/attachments"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumetypes"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

func cinder(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewBlockStorageV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatalf("block storage client: %v", err)
	}
	return sc
}

var ctx = context.Background()

func waitVolume(t testing.TB, sc *gophercloud.ServiceClient, id string, want ...string) *volumes.Volume {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := volumes.Get(ctx, sc, id).Extract()
		if err != nil {
			t.Fatalf("get volume %s: %v", id, err)
		}
		for _, w := range want {
			if v.Status == w {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s is %s, not %v", id, v.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitGone(t testing.TB, sc *gophercloud.ServiceClient, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := volumes.Get(ctx, sc, id).Extract(); gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("volume %s was not deleted", id)
}

func waitSnapshot(t testing.TB, sc *gophercloud.ServiceClient, id, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s, err := snapshots.Get(ctx, sc, id).Extract()
		if want == "deleted" && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return
		}
		if err == nil && s.Status == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("snapshot %s never became %s", id, want)
}

// TestVolumesWithGophercloud drives the volume, snapshot, type, attachment
// and quota APIs with gophercloud on both stores.
func TestVolumesWithGophercloud(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := cloudtest.NewOn(t, backend)
			pc := env.Admin(t)
			sc := cinder(t, pc)
			if !strings.Contains(sc.Endpoint, "/volume/v3/") || strings.Contains(sc.Endpoint, "$(") {
				t.Fatalf("catalog endpoint %q: the project id is not substituted", sc.Endpoint)
			}

			// Blank volume: 202 creating, then available.
			v, err := volumes.Create(ctx, sc, volumes.CreateOpts{Size: 1, Name: "vol-a", Description: "first", Metadata: map[string]string{"k": "v"}}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != "creating" || v.Size != 1 || v.VolumeType != "__DEFAULT__" || v.Bootable != "false" || v.AvailabilityZone != "nova" {
				t.Fatalf("created: %+v", v)
			}
			v = waitVolume(t, sc, v.ID, "available")
			if v.Metadata["k"] != "v" || v.CreatedAt.IsZero() || v.TenantID == "" {
				t.Fatalf("available: %+v", v)
			}

			// Update, metadata, bootable, extend.
			name := "vol-a2"
			if _, err := volumes.Update(ctx, sc, v.ID, volumes.UpdateOpts{Name: &name}).Extract(); err != nil {
				t.Fatal(err)
			}
			if err := volumes.SetBootable(ctx, sc, v.ID, volumes.BootableOpts{Bootable: true}).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			if err := volumes.ExtendSize(ctx, sc, v.ID, volumes.ExtendSizeOpts{NewSize: 2}).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			v = waitVolume(t, sc, v.ID, "available")
			if v.Name != name || v.Size != 2 || v.Bootable != "true" {
				t.Fatalf("after update and extend: %+v", v)
			}

			// Types.
			pub := true
			vt, err := volumetypes.Create(ctx, sc, volumetypes.CreateOpts{Name: "fast", IsPublic: &pub, ExtraSpecs: map[string]string{"volume_backend_name": "pool"}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if vt.ExtraSpecs["volume_backend_name"] != "pool" || !vt.IsPublic {
				t.Fatalf("type: %+v", vt)
			}
			tv, err := volumes.Create(ctx, sc, volumes.CreateOpts{Size: 1, VolumeType: "fast"}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if tv.VolumeType != "fast" {
				t.Fatalf("typed volume: %+v", tv)
			}
			waitVolume(t, sc, tv.ID, "available")
			if err := volumetypes.Delete(ctx, sc, vt.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
				t.Fatalf("delete a type in use: %v", err)
			}

			// Snapshot and a volume from it.
			sn, err := snapshots.Create(ctx, sc, snapshots.CreateOpts{VolumeID: v.ID, Name: "snap"}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			waitSnapshot(t, sc, sn.ID, "available")
			fromSnap, err := volumes.Create(ctx, sc, volumes.CreateOpts{SnapshotID: sn.ID}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if got := waitVolume(t, sc, fromSnap.ID, "available", "error"); got.Status != "available" || got.Size != 2 || got.SnapshotID != sn.ID {
				t.Fatalf("from snapshot: %+v", got)
			}

			// Paging: limit 1 walks every volume once.
			seen := map[string]bool{}
			err = volumes.List(sc, volumes.ListOpts{Limit: 1}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
				vs, err := volumes.ExtractVolumes(p)
				if len(vs) > 1 {
					t.Errorf("page of %d", len(vs))
				}
				for _, x := range vs {
					if seen[x.ID] {
						t.Errorf("volume %s twice", x.ID)
					}
					seen[x.ID] = true
				}
				return true, err
			})
			if err != nil || len(seen) != 3 {
				t.Fatalf("paged %d volumes: %v", len(seen), err)
			}

			// Attachments API (3.27+, complete 3.44).
			sc.Microversion = "3.44"
			att, err := attachments.Create(ctx, sc, attachments.CreateOpts{VolumeUUID: v.ID, InstanceUUID: "0b7f4c2e-7a7b-4c36-9f3a-6f8e5d7c1a20",
				Connector: map[string]any{"host": "host-1", "initiator": "x"}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if att.ConnectionInfo["driver_volume_type"] != "nbd" {
				t.Fatalf("connection info: %+v", att.ConnectionInfo)
			}
			if err := attachments.Complete(ctx, sc, att.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			got := waitVolume(t, sc, v.ID, "in-use")
			if len(got.Attachments) != 1 || got.Attachments[0].ServerID != "0b7f4c2e-7a7b-4c36-9f3a-6f8e5d7c1a20" {
				t.Fatalf("attached: %+v", got.Attachments)
			}
			err = volumes.Delete(ctx, sc, v.ID, volumes.DeleteOpts{}).ExtractErr()
			if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "Invalid volume: Volume status must be available or error") {
				t.Fatalf("delete in-use: %v", err)
			}
			if err := attachments.Delete(ctx, sc, att.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitVolume(t, sc, v.ID, "available")
			sc.Microversion = ""

			// Quotas and limits.
			qs, err := quotasets.GetUsage(ctx, sc, projectOf(t, v)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if qs.Volumes.InUse != 3 || qs.Volumes.Limit != 10 || qs.Gigabytes.InUse != 7 {
				t.Fatalf("quota usage: %+v", qs)
			}
			lim, err := limits.Get(ctx, sc).Extract()
			if err != nil || lim.Absolute.TotalVolumesUsed != 3 || lim.Absolute.MaxTotalVolumes != 10 {
				t.Fatalf("limits %+v: %v", lim, err)
			}

			// Cascade delete.
			if err := volumes.Delete(ctx, sc, v.ID, volumes.DeleteOpts{}).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
				t.Fatalf("delete with a snapshot: %v", err)
			}
			if err := volumes.Delete(ctx, sc, v.ID, volumes.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, sc, v.ID)
			waitSnapshot(t, sc, sn.ID, "deleted")
		})
	}
}

func projectOf(t testing.TB, v *volumes.Volume) string {
	if v.TenantID == "" {
		t.Fatal("volume has no os-vol-tenant-attr:tenant_id")
	}
	return v.TenantID
}

// TestVersions: GET /volume/ lists v3 with its microversion range; the
// OpenStack-API-Version header is negotiated on every v3 call.
func TestVersions(t *testing.T) {
	env := cloudtest.New(t)
	r := env.Do(t, "GET", "/volume/", "", nil)
	if r.Status != http.StatusMultipleChoices {
		t.Fatalf("GET /volume/: %d %s", r.Status, r.Body)
	}
	var doc struct {
		Versions []struct {
			ID, Status, Version string
			MinVersion          string `json:"min_version"`
		}
	}
	_ = json.Unmarshal(r.Body, &doc)
	if len(doc.Versions) != 1 || doc.Versions[0].ID != "v3.0" || doc.Versions[0].Status != "CURRENT" || doc.Versions[0].MinVersion != "3.0" {
		t.Fatalf("versions: %s", r.Body)
	}
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	proj := projectID(t, env, tok)
	for _, c := range []struct {
		header string
		status int
		echo   string
	}{
		{"", 200, "volume 3.0"},
		{"volume 3.27", 200, "volume 3.27"},
		{"volume latest", 200, "volume 3.60"},
		{"volume 3.61", 406, ""},
		{"volume 2.0", 406, ""},
		{"volume x", 400, ""},
	} {
		var hs []string
		if c.header != "" {
			hs = []string{"OpenStack-API-Version", c.header}
		}
		r := env.Do(t, "GET", "/volume/v3/"+proj+"/volumes", tok, nil, hs...)
		if r.Status != c.status {
			t.Errorf("%q: %d %s", c.header, r.Status, r.Body)
		}
		if c.echo != "" && r.Header.Get("OpenStack-API-Version") != c.echo {
			t.Errorf("%q: answered %q", c.header, r.Header.Get("OpenStack-API-Version"))
		}
	}
}

func projectID(t testing.TB, env *cloudtest.Env, tok string) string {
	t.Helper()
	r := env.Do(t, "GET", "/identity/v3/auth/tokens", tok, nil, "X-Subject-Token", tok)
	var doc struct {
		Token struct {
			Project struct{ ID string }
		}
	}
	_ = json.Unmarshal(r.Body, &doc)
	if doc.Token.Project.ID == "" {
		t.Fatalf("token has no project: %s", r.Body)
	}
	return doc.Token.Project.ID
}
