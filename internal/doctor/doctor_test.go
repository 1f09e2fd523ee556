package doctor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/doctor"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// TestVolumeChecks builds the leftovers a crash between two volume steps
// used to leave, and checks doctor names each with its repair.
func TestVolumeChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		old := now.Add(-time.Hour)
		vol := func(id, status string) store.Volume {
			return store.Volume{ID: id, ProjectID: "p", Name: id, SizeGB: 1, Status: status, AttachStatus: "attached",
				TypeID: "t", Metadata: map[string]string{}, ImageMetadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
		}
		att := func(id, volumeID, server string) store.VolumeAttachment {
			return store.VolumeAttachment{ID: id, VolumeID: volumeID, InstanceUUID: server, Status: "attached", AttachMode: "rw", CreatedAt: now, UpdatedAt: now}
		}
		server := func(id, volumes string, deleted bool) *store.Server {
			return &store.Server{ID: id, ProjectID: "p", UserID: "u", Name: id, Host: "h1", VMState: "active", DesiredPower: "running",
				Volumes: volumes, Deleted: deleted, CreatedAt: now, UpdatedAt: now}
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.UpsertHost(ctx, store.ComputeHost{ID: "6c0d2a3e-5b1f-4a7e-9c3d-2e8f1a4b5c6d", Host: "h1", Enabled: true,
				StatusChangedAt: now, HeartbeatAt: now, HypervisorType: "QEMU", VCPUs: 4, MemoryMB: 4096, DiskGB: 10, CPUInfo: "{}", CreatedAt: now}); err != nil {
				return err
			}
			for _, v := range []store.Volume{vol("stuck", "attaching"), vol("orphan", "in-use"), vol("unmapped", "in-use"), vol("fine", "in-use")} {
				if err := tx.CreateVolume(ctx, v); err != nil {
					return err
				}
			}
			for _, a := range []store.VolumeAttachment{att("a-gone", "orphan", "s-gone"), att("a-unmapped", "unmapped", "s-live"),
				att("a-fine", "fine", "s-live"), att("a-cinder", "fine", "not-a-server")} {
				if err := tx.PutAttachment(ctx, a); err != nil {
					return err
				}
			}
			live := `[{"volume_id":"fine","attachment_id":"a-fine","state":"attached"},` +
				`{"volume_id":"lost","attachment_id":"a-lost","state":"attached"}]`
			if err := tx.CreateServer(ctx, server("s-live", live, false)); err != nil {
				return err
			}
			waiting := `[{"volume_id":"stuck","attachment_id":"a-lost2","state":"attaching","started":"` + old.Format(time.RFC3339Nano) + `"}]`
			if err := tx.CreateServer(ctx, server("s-waiting", waiting, false)); err != nil {
				return err
			}
			return tx.CreateServer(ctx, server("s-gone", "", true))
		})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := doctor.Check(ctx, doctor.Config{DB: db, StuckAfter: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			if strings.Contains(p.Problem, "volume") || strings.HasPrefix(p.Subject, "volume") {
				got = append(got, p.Subject+": "+p.Problem+" => "+p.Repair)
			}
		}
		want := []string{
			"server s-live (s-live): its mapping of volume lost names attachment a-lost, which does not exist => openstack server remove volume s-live lost",
			"server s-waiting (s-waiting): its mapping of volume stuck names attachment a-lost2, which does not exist => openstack server remove volume s-waiting stuck",
			"server s-waiting (s-waiting): volume stuck has been attaching for 1h0m0s: host \"h1\" never confirmed => restart the agent of host h1 (it confirms the attach when it runs), or openstack server delete s-waiting",
			"volume orphan (orphan): its attachment a-gone belongs to server s-gone, which no longer exists: the volume stays in-use => openstack --os-volume-api-version 3.27 volume attachment delete a-gone",
			"volume stuck (stuck): attaching with no attachment: nothing will move it => openstack volume set --state available --detached stuck",
			"volume unmapped (unmapped): its attachment a-unmapped to server s-live is not among the server's volumes: the volume stays in-use => openstack --os-volume-api-version 3.27 volume attachment delete a-unmapped",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("volume problems (-want +got):\n%s", diff)
		}
	})
}
