package compute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// fakeVolumes is a block storage service in memory: volume statuses and
// attachments, as Cinder keeps them.
type fakeVolumes struct {
	mu      sync.Mutex
	status  map[string]string // volume id -> status
	atts    map[string]string // attachment id -> volume id
	deleted []string
	n       int
}

func newFakeVolumes(ids ...string) *fakeVolumes {
	f := &fakeVolumes{status: map[string]string{}, atts: map[string]string{}}
	for _, id := range ids {
		f.status[id] = "available"
	}
	return f
}

func (f *fakeVolumes) get(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[id]
}

func (f *fakeVolumes) Volume(_ context.Context, _ *auth.Credentials, id string) (compute.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	if !ok {
		return compute.Volume{}, oserr.NotFound("Volume %s could not be found.", id)
	}
	return compute.Volume{ID: id, Status: st, SizeGB: 1}, nil
}

func (f *fakeVolumes) Export(_ context.Context, _ *auth.Credentials, volumeID, _ string) (string, func(bool), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status[volumeID] != "available" {
		return "", nil, oserr.BadRequest("Invalid volume: Volume %s status must be available to attach, but current status is: %s.", volumeID, f.status[volumeID])
	}
	return "nbd+unix:///" + volumeID + "?socket=/run/onestack/test/nbd.sock", func(bool) {}, nil
}

// AttachTx reserves at once: the fake has no transaction to join.
func (f *fakeVolumes) AttachTx(_ context.Context, _ *store.Tx, _ *auth.Credentials, volumeID, _, _, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status[volumeID] != "available" {
		return "", oserr.BadRequest("Invalid volume: Volume %s status must be available to attach, but current status is: %s.", volumeID, f.status[volumeID])
	}
	f.n++
	att := fmt.Sprintf("att-%d", f.n)
	f.atts[att], f.status[volumeID] = volumeID, "attaching"
	return att, nil
}

func (f *fakeVolumes) CompleteTx(_ context.Context, _ *store.Tx, att, _, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[f.atts[att]] = "in-use"
	return nil
}

func (f *fakeVolumes) DetachTx(_ context.Context, _ *store.Tx, att string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.atts[att]; ok {
		f.status[v] = "available"
		delete(f.atts, att)
	}
	return nil
}

func (f *fakeVolumes) DeleteDetachedTx(ctx context.Context, _ *store.Tx, id string) error {
	return f.DeleteVolume(ctx, id)
}

func (f *fakeVolumes) CreateBootVolume(_ context.Context, _ *auth.Credentials, _ string, sizeGB int, _ string) (compute.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("boot-%d", f.n)
	f.status[id] = "available"
	return compute.Volume{ID: id, Status: "available", SizeGB: sizeGB}, nil
}

func (f *fakeVolumes) DeleteVolume(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, id)
	f.deleted = append(f.deleted, id)
	return nil
}

func guestOn(t *testing.T, s *compute.Service, host, id string) hostapi.Guest {
	t.Helper()
	gs, _, err := s.Watch(context.Background(), host, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.ServerID == id {
			return g
		}
	}
	t.Fatalf("server %s is not on host %s", id, host)
	return hostapi.Guest{}
}

func attachedIDs(g hostapi.Guest) []string {
	out := []string{}
	for _, v := range g.Volumes {
		out = append(out, v.AttachmentID)
	}
	return out
}

// TestVolumeAttachments drives attach and detach through the agent's
// reports: done, failed on the host, refused; and a deleted server's
// volumes released (delete_on_termination ones deleted).
func TestVolumeAttachments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := compute.New(db, nil, noPlacement{}, slog.New(slog.DiscardHandler), compute.Config{})
		vols := newFakeVolumes("vol-a", "vol-b", "vol-c")
		s.SetVolumes(vols)
		opsHost(t, db, "h1", time.Now())
		v := opsServer(t, db, "p-shop", "web", "h1", "", store.Flavor{Name: "m1", VCPUs: 1, RAM: 64, Disk: 1})

		// Attach: reserved and exported, the guest gets it, the agent's
		// report makes it in-use.
		b, err := s.AttachVolume(ctx, opsAlice, v.ID, compute.AttachRequest{VolumeID: "vol-a", Tag: "db", DeleteOnTermination: true})
		if err != nil {
			t.Fatal(err)
		}
		if b.Device != "/dev/vdb" || b.State != compute.BDMAttaching || vols.get("vol-a") != "attaching" {
			t.Fatalf("after attach: %+v, volume %s", b, vols.get("vol-a"))
		}
		g := guestOn(t, s, "h1", v.ID)
		if len(g.Volumes) != 1 || g.Volumes[0].Export == "" || g.Volumes[0].BootIndex != -1 || g.Volumes[0].Serial != "vol-a" {
			t.Fatalf("guest volumes %+v", g.Volumes)
		}
		if err := s.Report(ctx, hostapi.Report{Host: "h1", ServerID: v.ID, Revision: g.Revision, Power: hostapi.PowerRunning, Attached: attachedIDs(g)}); err != nil {
			t.Fatal(err)
		}
		if vols.get("vol-a") != "in-use" {
			t.Fatalf("volume after the host attached it: %s", vols.get("vol-a"))
		}
		if b, err := s.VolumeAttachment(ctx, opsAlice, v.ID, "vol-a"); err != nil || b.State != compute.BDMAttached || b.Tag != "db" {
			t.Fatalf("attachment: %+v, %v", b, err)
		}
		// Refusals: twice, unknown volume, another project's server.
		wantStatus(t, mustErr(s.AttachVolume(ctx, opsAlice, v.ID, compute.AttachRequest{VolumeID: "vol-a"})), 400)
		wantStatus(t, mustErr(s.AttachVolume(ctx, opsAlice, v.ID, compute.AttachRequest{VolumeID: "nope"})), 404)
		wantStatus(t, mustErr(s.AttachVolume(ctx, opsMallory, v.ID, compute.AttachRequest{VolumeID: "vol-b"})), 404)
		if vols.get("vol-b") != "available" {
			t.Fatalf("a refused attach left vol-b %s", vols.get("vol-b"))
		}

		// An attach the host fails: the volume is available again and the
		// action says why.
		if _, err := s.AttachVolume(ctx, opsAlice, v.ID, compute.AttachRequest{VolumeID: "vol-b"}); err != nil {
			t.Fatal(err)
		}
		g = guestOn(t, s, "h1", v.ID)
		var failing string
		for _, gv := range g.Volumes {
			if gv.VolumeID == "vol-b" {
				failing = gv.AttachmentID
			}
		}
		err = s.Report(ctx, hostapi.Report{Host: "h1", ServerID: v.ID, Revision: g.Revision, Power: hostapi.PowerRunning,
			Attached: []string{"att-1"}, VolumeErrors: map[string]string{failing: "QEMU cannot open its export"}})
		if err != nil {
			t.Fatal(err)
		}
		if vols.get("vol-b") != "available" {
			t.Fatalf("after a failed attach vol-b is %s, want available", vols.get("vol-b"))
		}
		if _, err := s.VolumeAttachment(ctx, opsAlice, v.ID, "vol-b"); err == nil {
			t.Fatal("a failed attach is still listed")
		}
		acts, err := s.Actions(ctx, opsAlice, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		act, err := s.Action(ctx, opsAlice, v.ID, acts[0].RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if act.Action != "attach_volume" || act.Message != "Error" || len(act.Events) == 0 ||
			!strings.Contains(act.Events[0].Traceback, "on host h1 failed (qemu): QEMU cannot open its export") {
			t.Fatalf("the failed attach's action: %+v %+v", act.InstanceAction, act.Events)
		}

		// Detach: the guest loses it, the host's report frees the volume.
		if err := s.DetachVolume(ctx, opsAlice, v.ID, "vol-a"); err != nil {
			t.Fatal(err)
		}
		g = guestOn(t, s, "h1", v.ID)
		if len(g.Volumes) != 0 {
			t.Fatalf("a detaching volume is still in the guest's desired state: %+v", g.Volumes)
		}
		if err := s.Report(ctx, hostapi.Report{Host: "h1", ServerID: v.ID, Revision: g.Revision, Power: hostapi.PowerRunning, Attached: []string{}}); err != nil {
			t.Fatal(err)
		}
		if vols.get("vol-a") != "available" {
			t.Fatalf("after detach vol-a is %s", vols.get("vol-a"))
		}
		wantStatus(t, s.DetachVolume(ctx, opsAlice, v.ID, "vol-a"), 404)

		// A root volume cannot be detached; deleting the server releases
		// its volumes and deletes those marked delete_on_termination.
		root := opsServer(t, db, "p-shop", "bfv", "h1", "", store.Flavor{Name: "m1", VCPUs: 1, RAM: 64})
		if _, err := s.AttachVolume(ctx, opsAlice, root.ID, compute.AttachRequest{VolumeID: "vol-c", DeleteOnTermination: true}); err != nil {
			t.Fatal(err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			r, err := tx.GetServer(ctx, root.ID)
			if err != nil {
				return err
			}
			bs := compute.BDMs(r)
			bs[0].BootIndex, bs[0].State = 0, compute.BDMAttached
			b, _ := json.Marshal(bs)
			r.Volumes = string(b)
			return tx.UpdateServer(ctx, &r, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
		e := wantStatus(t, s.DetachVolume(ctx, opsAlice, root.ID, "vol-c"), 400)
		if !strings.Contains(e.Message, "root device") {
			t.Errorf("root detach message: %s", e.Message)
		}
		opsHost(t, db, "h1", time.Now().Add(-time.Hour)) // down: a local delete
		if err := s.Delete(ctx, opsAlice, root.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, ok := vols.status["vol-c"]; ok || len(vols.atts) != 0 {
			t.Fatalf("after deleting the server: volumes %v attachments %v, want vol-c deleted", vols.status, vols.atts)
		}
	})
}

// noPlacement holds no allocations.
type noPlacement struct{}

func (noPlacement) EnsureProvider(context.Context, string, string, map[string]compute.Inventory) error {
	return nil
}
func (noPlacement) ReleaseTx(context.Context, *store.Tx, string) error      { return nil }
func (noPlacement) MoveTx(context.Context, *store.Tx, string, string) error { return nil }

func mustErr(_ compute.BDM, err error) error { return err }
