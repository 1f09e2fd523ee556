package volume_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/service/volume"
	"github.com/onestack/onestack/internal/service/volume/volumetest"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// images is a Glance stand-in holding image data in memory.
type images struct {
	mu       sync.Mutex
	ims      map[string]volume.Image
	data     map[string][]byte
	uploaded map[string][]byte
	sizes    map[string]int64
}

func newImages() *images {
	return &images{ims: map[string]volume.Image{}, data: map[string][]byte{}, uploaded: map[string][]byte{}, sizes: map[string]int64{}}
}

func (i *images) add(im volume.Image, data []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	im.Size = int64(len(data))
	i.ims[im.ID], i.data[im.ID] = im, data
}

func (i *images) Get(_ context.Context, _ *auth.Credentials, id string) (volume.Image, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	im, ok := i.ims[id]
	if !ok {
		return im, oserr.NotFound("no image %s", id)
	}
	return im, nil
}

func (i *images) Open(ctx context.Context, id string) (volume.Image, io.ReadCloser, error) {
	im, err := i.Get(ctx, nil, id)
	i.mu.Lock()
	defer i.mu.Unlock()
	return im, io.NopCloser(bytes.NewReader(i.data[id])), err
}

func (i *images) CreateFor(_ context.Context, _ *auth.Credentials, name, df, cf, _ string, _ bool, props map[string]string) (volume.Image, error) {
	im := volume.Image{ID: "img-" + name, Name: name, DiskFormat: df, ContainerFormat: cf, Status: "queued", Properties: props}
	i.mu.Lock()
	i.ims[im.ID] = im
	i.mu.Unlock()
	return im, nil
}

func (i *images) Upload(_ context.Context, id string, r io.Reader, _ int64) error {
	head := make([]byte, 16)
	n, err := io.ReadFull(r, head)
	if err != nil {
		return err
	}
	m, err := io.Copy(io.Discard, r)
	i.mu.Lock()
	i.uploaded[id] = head[:n]
	i.sizes[id] = int64(n) + m
	i.mu.Unlock()
	return err
}

func creds(project string, roles ...string) *auth.Credentials {
	c := &auth.Credentials{User: auth.Ref{ID: "u-" + project}, Project: &auth.Ref{ID: project, Name: project}}
	for _, r := range roles {
		c.Roles = append(c.Roles, auth.Ref{Name: r})
	}
	return c
}

var (
	alice = creds("proj-a", auth.RoleMember, auth.RoleReader)
	bob   = creds("proj-b", auth.RoleMember, auth.RoleReader)
	admin = creds("admin", auth.RoleAdmin, auth.RoleMember, auth.RoleReader)
)

type env struct {
	db     *store.DB
	svc    *volume.Service
	files  *volumetest.Files
	images *images
}

// start runs a service with its worker on db; the worker stops when the test ends.
func start(t *testing.T, db *store.DB, files *volumetest.Files, ims *images) *env {
	t.Helper()
	s, err := volume.New(context.Background(), db, nil, ims, slog.New(slog.NewTextHandler(io.Discard, nil)), volume.Config{Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if files != nil {
		s.SetBackend(files)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{db: db, svc: s, files: files, images: ims}
}

func (e *env) wait(t *testing.T, id string) volume.Volume {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := e.svc.WaitStatus(ctx, id)
	if err != nil {
		t.Fatalf("wait for volume %s: %v", id, err)
	}
	out, err := e.svc.Get(ctx, admin, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) waitSnapshot(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sn, err := e.svc.GetSnapshot(context.Background(), admin, id)
		if status == "deleted" && oserr.Is(err, 404) {
			return
		}
		if err == nil && sn.Status == status {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("snapshot %s never became %s", id, status)
}

func TestLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ims := newImages()
		ims.add(volume.Image{ID: "cirros", Name: "cirros", Status: "active", DiskFormat: "raw", ContainerFormat: "bare",
			Properties: map[string]string{"hw_disk_bus": "virtio"}}, bytes.Repeat([]byte("boot"), 1<<18))
		e := start(t, db, volumetest.New(t), ims)

		v, err := e.svc.Create(ctx, alice, volume.CreateSpec{Name: "blank", SizeGB: 1})
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != volume.StatusCreating || v.TypeName != volume.DefaultTypeName {
			t.Fatalf("new volume: %+v", v)
		}
		if got := e.wait(t, v.ID); got.Status != volume.StatusAvailable {
			t.Fatalf("blank volume is %s: %s", got.Status, got.ErrorMessage)
		}
		st, err := os.Stat(e.files.Path(v.ID))
		if err != nil || st.Size() != 1<<30 {
			t.Fatalf("volume file: %v %v", st, err)
		}

		// From image: data and image metadata copied, bootable.
		iv, err := e.svc.Create(ctx, alice, volume.CreateSpec{ImageID: "cirros"})
		if err != nil {
			t.Fatal(err)
		}
		got := e.wait(t, iv.ID)
		if got.Status != volume.StatusAvailable || !got.Bootable || got.ImageMetadata["hw_disk_bus"] != "virtio" || got.SizeGB != 1 {
			t.Fatalf("from image: %+v", got)
		}
		data, _ := os.ReadFile(e.files.Path(iv.ID))
		if !bytes.HasPrefix(data, bytes.Repeat([]byte("boot"), 1<<18)) {
			t.Fatal("image data not in the volume")
		}

		// Snapshot, then a volume from it and a clone.
		sn, err := e.svc.CreateSnapshot(ctx, alice, volume.SnapshotSpec{VolumeID: iv.ID, Name: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		e.waitSnapshot(t, sn.ID, "available")
		fs, err := e.svc.Create(ctx, alice, volume.CreateSpec{SnapshotID: sn.ID, SizeGB: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.wait(t, fs.ID); got.Status != volume.StatusAvailable || got.SizeGB != 2 || !got.Bootable {
			t.Fatalf("from snapshot: %+v", got)
		}
		cl, err := e.svc.Create(ctx, alice, volume.CreateSpec{SourceVolID: iv.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.wait(t, cl.ID); got.Status != volume.StatusAvailable {
			t.Fatalf("clone: %+v", got)
		}
		data, _ = os.ReadFile(e.files.Path(cl.ID))
		if !bytes.HasPrefix(data, []byte("bootboot")) {
			t.Fatal("clone lacks the source's data")
		}

		// Extend.
		if _, err := e.svc.Extend(ctx, alice, v.ID, 3, false); err != nil {
			t.Fatal(err)
		}
		if got := e.wait(t, v.ID); got.Status != volume.StatusAvailable || got.SizeGB != 3 {
			t.Fatalf("extend: %+v", got)
		}
		if _, err := e.svc.Extend(ctx, alice, v.ID, 2, false); !oserr.Is(err, 400) {
			t.Fatalf("shrink: %v", err)
		}

		// Attach through the Nova-side calls; delete refused while in-use.
		a, err := e.svc.ReserveAttachment(ctx, alice, v.ID, "server-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ReserveAttachment(ctx, alice, v.ID, "server-2"); !oserr.Is(err, 400) {
			t.Fatalf("second attach of a reserved volume: %v", err)
		}
		addr, err := e.svc.CompleteAttachment(ctx, a.ID, "host-1", "/dev/vdb")
		if err != nil || addr == "" || !e.files.Exported(v.ID) {
			t.Fatalf("complete: %q %v", addr, err)
		}
		got = e.wait(t, v.ID)
		if got.Status != volume.StatusInUse || got.AttachStatus != volume.AttachAttached || len(got.Attachments) != 1 || got.Attachments[0].Device != "/dev/vdb" {
			t.Fatalf("attached: %+v", got)
		}
		err = e.svc.Delete(ctx, alice, v.ID, false, false)
		var oe *oserr.Error
		if !errors.As(err, &oe) || oe.Status != 400 || !bytes.HasPrefix([]byte(oe.Message), []byte("Invalid volume: Volume status must be available or error")) {
			t.Fatalf("delete in-use: %v", err)
		}
		if _, err := e.svc.ReserveAttachment(ctx, bob, v.ID, "server-x"); !oserr.Is(err, 404) {
			t.Fatalf("other project attach: %v", err)
		}
		if err := e.svc.DeleteAttachment(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.wait(t, v.ID); got.Status != volume.StatusAvailable || e.files.Exported(v.ID) {
			t.Fatalf("detached: %+v", got)
		}

		// Upload to image.
		_, im, err := e.svc.UploadToImage(ctx, alice, iv.ID, volume.UploadSpec{ImageName: "up"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.wait(t, iv.ID); got.Status != volume.StatusAvailable {
			t.Fatalf("after upload: %+v", got)
		}
		ims.mu.Lock()
		n, head := ims.sizes[im.ID], ims.uploaded[im.ID]
		ims.mu.Unlock()
		if n != 1<<30 || !bytes.HasPrefix(head, []byte("bootboot")) {
			t.Fatalf("uploaded %d bytes starting %q", n, head)
		}

		// Delete with snapshots needs cascade.
		if err := e.svc.Delete(ctx, alice, iv.ID, false, false); !oserr.Is(err, 400) {
			t.Fatalf("delete with snapshots: %v", err)
		}
		if err := e.svc.Delete(ctx, alice, iv.ID, true, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.WaitStatus(ctx, iv.ID); !oserr.Is(err, 404) {
			t.Fatalf("deleted volume: %v", err)
		}
		e.waitSnapshot(t, sn.ID, "deleted")
		if _, err := os.Stat(e.files.Path(iv.ID)); !os.IsNotExist(err) {
			t.Fatalf("volume file after delete: %v", err)
		}
	})
}

func TestCreateFailsWithoutBackend(t *testing.T) {
	e := start(t, storetest.New(t), nil, newImages())
	v, err := e.svc.Create(context.Background(), alice, volume.CreateSpec{SizeGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := e.wait(t, v.ID)
	if got.Status != volume.StatusError || got.ErrorMessage == "" {
		t.Fatalf("without a backend: %+v", got)
	}
	if err := e.svc.Delete(context.Background(), alice, v.ID, false, false); err != nil {
		t.Fatalf("delete an error volume: %v", err)
	}
}

// TestQuotaRace: 20 creates at once against a quota of 10 volumes admit
// exactly 10.
func TestQuotaRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := start(t, db, volumetest.New(t), newImages())
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, over := 0, 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.Create(ctx, alice, volume.CreateSpec{SizeGB: 1})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case oserr.Is(err, 413):
					over++
				default:
					t.Errorf("create: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 10 || over != 10 {
			t.Fatalf("%d created, %d over quota; want 10 and 10", ok, over)
		}
		u, err := e.svc.Usage(ctx, "proj-a")
		if err != nil || u["volumes"].InUse != 10 || u["gigabytes"].InUse != 10 {
			t.Fatalf("usage %+v %v", u, err)
		}
	})
}

// TestCrashRecovery: volumes a crash left in creating and deleting are
// finished by the next service's worker.
func TestCrashRecovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		files := volumetest.New(t)
		// First life: the backend fails, as if the process died mid-create;
		// the record stays creating because the worker never ran.
		first, err := volume.New(ctx, db, files, newImages(), slog.New(slog.NewTextHandler(io.Discard, nil)), volume.Config{})
		if err != nil {
			t.Fatal(err)
		}
		stuck, err := first.Create(ctx, alice, volume.CreateSpec{SizeGB: 1})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := first.Create(ctx, alice, volume.CreateSpec{SizeGB: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Reconcile(ctx, "volume:"+gone.ID); err != nil {
			t.Fatal(err)
		}
		if err := first.Delete(ctx, alice, gone.ID, false, false); err != nil {
			t.Fatal(err)
		}
		// A half-written file of the stuck create is there too.
		if err := os.WriteFile(files.Path(stuck.ID)+".tmp", []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Restart: a new service on the same store and pool.
		e := start(t, db, files, newImages())
		if got := e.wait(t, stuck.ID); got.Status != volume.StatusAvailable {
			t.Fatalf("stuck create after restart: %+v", got)
		}
		if _, err := e.svc.WaitStatus(ctx, gone.ID); !oserr.Is(err, 404) {
			t.Fatalf("stuck delete after restart: %v", err)
		}
		vols, _, _ := files.List(ctx)
		if len(vols) != 1 || vols[0] != stuck.ID {
			t.Fatalf("pool holds %v", vols)
		}
	})
}

func TestIsolation(t *testing.T) {
	e := start(t, storetest.New(t), volumetest.New(t), newImages())
	ctx := context.Background()
	v, err := e.svc.Create(ctx, alice, volume.CreateSpec{SizeGB: 1, Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, v.ID)
	if _, err := e.svc.Get(ctx, bob, v.ID); !oserr.Is(err, 404) {
		t.Fatalf("bob reads alice's volume: %v", err)
	}
	n := "x"
	if _, err := e.svc.Update(ctx, bob, v.ID, &n, nil, nil); !oserr.Is(err, 404) {
		t.Fatalf("bob renames: %v", err)
	}
	if err := e.svc.Delete(ctx, bob, v.ID, false, false); !oserr.Is(err, 404) {
		t.Fatalf("bob deletes: %v", err)
	}
	if _, err := e.svc.CreateSnapshot(ctx, bob, volume.SnapshotSpec{VolumeID: v.ID}); !oserr.Is(err, 404) {
		t.Fatalf("bob snapshots: %v", err)
	}
	if _, err := e.svc.Create(ctx, bob, volume.CreateSpec{SourceVolID: v.ID}); !oserr.Is(err, 404) {
		t.Fatalf("bob clones: %v", err)
	}
	vs, _, err := e.svc.List(ctx, bob, volume.ListQuery{})
	if err != nil || len(vs) != 0 {
		t.Fatalf("bob lists %d: %v", len(vs), err)
	}
	reader := creds("proj-a", auth.RoleReader)
	if _, err := e.svc.Update(ctx, reader, v.ID, &n, nil, nil); !oserr.Is(err, 403) {
		t.Fatalf("reader renames: %v", err)
	}
	vs, _, err = e.svc.List(ctx, admin, volume.ListQuery{AllTenants: true})
	if err != nil || len(vs) != 1 {
		t.Fatalf("admin all_tenants lists %d: %v", len(vs), err)
	}
}

// TestAttachInCallersTransaction checks Nova's attach path: the export
// comes first, the attachment is written in the caller's transaction (a
// rolled back one leaves the volume available, and releasing the export
// unused unexports it), complete and detach follow in later transactions,
// and an export a crash left without an attachment is removed by the
// worker's first pass after a restart.
func TestAttachInCallersTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		files := volumetest.New(t)
		first, err := volume.New(ctx, db, files, newImages(), slog.New(slog.NewTextHandler(io.Discard, nil)), volume.Config{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := first.Create(ctx, alice, volume.CreateSpec{SizeGB: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Reconcile(ctx, "volume:"+v.ID); err != nil {
			t.Fatal(err)
		}
		status := func(svc *volume.Service) (string, int) {
			t.Helper()
			got, err := svc.Get(ctx, admin, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			atts, err := svc.ListAttachments(ctx, admin, true, v.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			return got.Status, len(atts)
		}

		// The caller's transaction fails after AttachTx: nothing stays.
		addr, release, err := first.ExportFor(ctx, alice, v.ID, "server-1")
		if err != nil || addr == "" || !files.Exported(v.ID) {
			t.Fatalf("export: %q %v (exported %v)", addr, err, files.Exported(v.ID))
		}
		refused := errors.New("the server changed meanwhile")
		err = db.Write(ctx, func(tx *store.Tx) error {
			if _, err := first.AttachTx(ctx, tx, alice, v.ID, "server-1", "h1", addr); err != nil {
				return err
			}
			return refused
		})
		release(false)
		if !errors.Is(err, refused) {
			t.Fatalf("attach transaction: %v", err)
		}
		if st, n := status(first); st != volume.StatusAvailable || n != 0 || files.Exported(v.ID) {
			t.Fatalf("after a rolled back attach: %s with %d attachments, exported %v", st, n, files.Exported(v.ID))
		}

		// Committed: attaching; completed: in-use; detached: available, unexported.
		addr, release, err = first.ExportFor(ctx, alice, v.ID, "server-1")
		if err != nil {
			t.Fatal(err)
		}
		var att volume.Attachment
		err = db.Write(ctx, func(tx *store.Tx) (err error) {
			att, err = first.AttachTx(ctx, tx, alice, v.ID, "server-1", "h1", addr)
			return err
		})
		release(err == nil)
		if err != nil {
			t.Fatal(err)
		}
		if st, n := status(first); st != volume.StatusAttaching || n != 1 || att.Status != volume.AttachAttaching || att.Address != addr {
			t.Fatalf("after attach: %s with %d attachments, attachment %+v", st, n, att)
		}
		if _, _, err := first.ExportFor(ctx, bob, v.ID, "server-2"); !oserr.Is(err, 404) {
			t.Fatalf("another project's export: %v, want 404", err)
		}
		if _, _, err := first.ExportFor(ctx, alice, v.ID, "server-2"); !oserr.Is(err, 400) {
			t.Fatalf("export of an attaching volume for another server: %v, want 400", err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return first.CompleteTx(ctx, tx, att.ID, "h1", "/dev/vdb") }); err != nil {
			t.Fatal(err)
		}
		if st, _ := status(first); st != volume.StatusInUse || !files.Exported(v.ID) {
			t.Fatalf("after complete: %s, exported %v", st, files.Exported(v.ID))
		}
		for range 2 { // an absent attachment is not an error
			if err := db.Write(ctx, func(tx *store.Tx) error { return first.DetachTx(ctx, tx, att.ID) }); err != nil {
				t.Fatal(err)
			}
		}
		if st, n := status(first); st != volume.StatusAvailable || n != 0 || files.Exported(v.ID) {
			t.Fatalf("after detach: %s with %d attachments, exported %v", st, n, files.Exported(v.ID))
		}

		// A crash after the export: the restarted worker unexports it.
		if _, _, err := first.ExportFor(ctx, alice, v.ID, "server-1"); err != nil {
			t.Fatal(err)
		}
		e := start(t, db, files, newImages())
		deadline := time.Now().Add(20 * time.Second)
		for files.Exported(v.ID) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if files.Exported(v.ID) {
			t.Fatal("an export without an attachment survived the restart")
		}
		if st, n := status(e.svc); st != volume.StatusAvailable || n != 0 {
			t.Fatalf("after the restart: %s with %d attachments", st, n)
		}
	})
}
