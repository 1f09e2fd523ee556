package compute_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
)

func waitVolume(t *testing.T, c *gophercloud.ServiceClient, id, want string) *volumes.Volume {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := volumes.Get(context.Background(), c, id).Extract()
		if want == "gone" && err != nil && strings.Contains(err.Error(), "404") {
			return nil
		}
		if err != nil && want != "gone" {
			t.Fatal(err)
		}
		if err == nil && v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s: %+v, %v; want %s", id, v, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVolumeAttachmentsAPI drives os-volume_attachments and boot from
// volume with gophercloud against a cloud with the volume service (fake
// hypervisor: its hosts attach at once), on SQLite and PostgreSQL.
func TestVolumeAttachmentsAPI(t *testing.T) {
	backends := []string{"sqlite"}
	if os.Getenv("ONESTACK_TEST_POSTGRES") != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			e := newComputeEnv(t, backend)
			cinder, err := openstack.NewBlockStorageV3(e.Admin(t), gophercloud.EndpointOpts{})
			if err != nil {
				t.Fatal(err)
			}
			vol, err := volumes.Create(ctx, cinder, volumes.CreateOpts{Size: 1, Name: "data"}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			waitVolume(t, cinder, vol.ID, "available")
			sid := e.boot(t, "vm", "1", nil)
			e.waitStatus(t, sid, "ACTIVE")

			att, err := volumeattach.Create(ctx, e.nova, sid, volumeattach.CreateOpts{VolumeID: vol.ID, Tag: "db", DeleteOnTermination: true}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if att.ID != vol.ID || att.VolumeID != vol.ID || att.ServerID != sid || att.Device != "/dev/vdb" || att.Tag == nil || *att.Tag != "db" || att.DeleteOnTermination == nil || !*att.DeleteOnTermination {
				t.Fatalf("attach answered %+v", att)
			}
			v := waitVolume(t, cinder, vol.ID, "in-use")
			if len(v.Attachments) != 1 || v.Attachments[0].ServerID != sid {
				t.Errorf("volume attachments %+v", v.Attachments)
			}
			pages, err := volumeattach.List(e.nova, sid).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, _ := volumeattach.ExtractVolumeAttachments(pages)
			if len(list) != 1 || list[0].VolumeID != vol.ID {
				t.Fatalf("list: %+v", list)
			}
			if got, err := volumeattach.Get(ctx, e.nova, sid, vol.ID).Extract(); err != nil || got.Device != "/dev/vdb" {
				t.Fatalf("show: %+v, %v", got, err)
			}
			srv, err := servers.Get(ctx, e.nova, sid).Extract()
			if err != nil || len(srv.AttachedVolumes) != 1 || srv.AttachedVolumes[0].ID != vol.ID {
				t.Fatalf("server volumes_attached: %+v, %v", srv.AttachedVolumes, err)
			}

			// Refusals, each saying what to change.
			body := `{"volumeAttachment": {"volumeId": "` + vol.ID + `"}}`
			for _, c := range []struct {
				method, path, mv, body string
				status                 int
				says                   string
			}{
				{"POST", "/servers/" + sid + "/os-volume_attachments", "2.79", body, 400, "already attached"},
				{"POST", "/servers/" + sid + "/os-volume_attachments", "2.48", `{"volumeAttachment": {"volumeId": "` + vol.ID + `", "tag": "x"}}`, 400, "tag"},
				{"POST", "/servers/" + sid + "/os-volume_attachments", "2.79", `{"volumeAttachment": {"volumeId": "nope"}}`, 400, "not a UUID"},
				{"POST", "/servers/" + sid + "/os-volume_attachments", "2.79", `{"volumeAttachment": {"volumeId": "6e1b3c2a-0f4e-4c55-9d5e-6f2b7c1a9e01"}}`, 404, "could not be found"},
				{"PUT", "/servers/" + sid + "/os-volume_attachments/" + vol.ID, "2.79", body, 501, "not implemented"},
				{"DELETE", "/servers/" + sid + "/os-volume_attachments/6e1b3c2a-0f4e-4c55-9d5e-6f2b7c1a9e01", "2.79", "", 404, "not attached"},
			} {
				r := e.raw(t, c.method, c.path, c.mv, c.body)
				if r.Status != c.status || !strings.Contains(string(r.Body), c.says) {
					t.Errorf("%s %s at %s: %d %s; want %d saying %q", c.method, c.path, c.mv, r.Status, r.Body, c.status, c.says)
				}
			}
			if err := volumes.Delete(ctx, cinder, vol.ID, nil).ExtractErr(); err == nil || !strings.Contains(err.Error(), "in-use") {
				t.Errorf("deleting an attached volume: %v; want a refusal naming its status", err)
			}

			// Detach: 202, the volume available again.
			if err := volumeattach.Delete(ctx, e.nova, sid, vol.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitVolume(t, cinder, vol.ID, "available")

			// Boot from an image-backed new volume, deleted with the server;
			// the attached data volume (delete_on_termination) goes too.
			bfv, err := servers.Create(ctx, e.nova, servers.CreateOpts{Name: "bfv", FlavorRef: "1", Networks: "none",
				BlockDevice: []servers.BlockDevice{{BootIndex: 0, UUID: e.imageID, SourceType: servers.SourceImage,
					DestinationType: servers.DestinationVolume, VolumeSize: 1, DeleteOnTermination: true}}}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			// The legacy alias boots the same way (one more root volume,
			// deleted with its server below).
			r := e.raw(t, "POST", "/os-volumes_boot", "2.79", `{"server": {"name": "legacy", "flavorRef": "1", "networks": "none", "block_device_mapping_v2": [{"boot_index": 0, "uuid": "`+e.imageID+`", "source_type": "image", "destination_type": "volume", "volume_size": 1, "delete_on_termination": true}]}}`)
			if r.Status != 202 {
				t.Fatalf("POST /os-volumes_boot: %d %s", r.Status, r.Body)
			}
			got := e.waitStatus(t, bfv.ID, "ACTIVE")
			if got.Image != nil && len(got.Image) > 0 {
				t.Errorf("a server booted from a volume shows image %v, want \"\"", got.Image)
			}
			if len(got.AttachedVolumes) != 1 {
				t.Fatalf("boot volume not in volumes_attached: %+v", got.AttachedVolumes)
			}
			root := got.AttachedVolumes[0].ID
			waitVolume(t, cinder, root, "in-use")
			r = e.raw(t, "DELETE", "/servers/"+bfv.ID+"/os-volume_attachments/"+root, "2.79", "")
			if r.Status != 400 || !strings.Contains(string(r.Body), "root device") {
				t.Errorf("detach the root volume: %d %s", r.Status, r.Body)
			}
			if _, err := volumeattach.Create(ctx, e.nova, bfv.ID, volumeattach.CreateOpts{VolumeID: vol.ID, DeleteOnTermination: true}).Extract(); err != nil {
				t.Fatal(err)
			}
			waitVolume(t, cinder, vol.ID, "in-use")
			if err := servers.Delete(ctx, e.nova, bfv.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitVolume(t, cinder, root, "gone")
			waitVolume(t, cinder, vol.ID, "gone")
		})
	}
}
