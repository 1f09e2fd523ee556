package image

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func member(project string) *auth.Credentials {
	return &auth.Credentials{User: auth.Ref{ID: "u-" + project}, Project: &auth.Ref{ID: project},
		Roles: []auth.Ref{{Name: auth.RoleMember}, {Name: auth.RoleReader}}}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newService(t *testing.T, db *store.DB, files *FileStore) *Service {
	t.Helper()
	s, err := New(context.Background(), db, files, quiet(), Config{Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crash puts an image in the state a transfer run by a stopped worker
// leaves: status, transfer, reserved quota, an old heartbeat.
func crash(t *testing.T, db *store.DB, id, status, transfer string, reserved, staged int64, beat time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		im, err := tx.GetImage(ctx, id)
		if err != nil {
			return err
		}
		im.Status, im.Transfer, im.Worker, im.HeartbeatAt = status, transfer, "stopped-worker", beat
		im.ReservedBytes, im.StagedSize = reserved, staged
		if staged > 0 {
			im.Size = &staged
		}
		if _, err := tx.ChangeImageUsage(ctx, im.Owner, 0, reserved, -1, -1); err != nil {
			return err
		}
		if transfer == store.TransferImport {
			if err := tx.CreateImageTask(ctx, store.ImageTask{ID: "task-" + id, ImageID: id, Type: "api_image_import",
				Status: TaskProcessing, Owner: im.Owner, Input: map[string]any{}, Result: map[string]any{},
				CreatedAt: beat, UpdatedAt: beat, ExpiresAt: beat.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return tx.UpdateImage(ctx, &im)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecoverTransfers stops a "process" mid-transfer and starts another on
// the same store: nothing stays saving or importing, quota comes back,
// partial data goes, intact staged data stays for another import.
func TestRecoverTransfers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		files, err := NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s1 := newService(t, db, files)
		c := member("p1")
		ids := map[string]string{}
		for _, name := range []string{"upload", "import-intact", "stage", "import-lost", "live"} {
			im, err := s1.Create(ctx, c, map[string]any{"name": name, "disk_format": "raw", "container_format": "bare"})
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = im.ID
		}
		s1.Close()

		old := time.Now().Add(-time.Hour)
		crash(t, db, ids["upload"], store.ImageSaving, store.TransferUpload, 64<<20, 0, old)
		if err := os.WriteFile(files.StagePath(ids["import-intact"]), []byte("staged data"), 0o600); err != nil {
			t.Fatal(err)
		}
		crash(t, db, ids["import-intact"], store.ImageImporting, store.TransferImport, 11, 11, old)
		if err := os.WriteFile(files.StagePath(ids["stage"]), []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
		crash(t, db, ids["stage"], store.ImageUploading, store.TransferStage, 1000, 0, old)
		crash(t, db, ids["import-lost"], store.ImageImporting, store.TransferImport, 20, 20, old)
		crash(t, db, ids["live"], store.ImageSaving, store.TransferUpload, 5, 0, time.Now().Add(time.Hour))
		tmp, _ := files.create()
		tmp.Close()

		s2 := newService(t, db, files)
		status := func(name string) store.Image {
			im, err := s2.Get(ctx, c, ids[name])
			if err != nil {
				t.Fatal(err)
			}
			return im
		}
		for name, want := range map[string]string{"upload": "queued", "import-intact": "uploading", "stage": "queued", "import-lost": "queued"} {
			im := status(name)
			if im.Status != want || im.Transfer != "" {
				t.Errorf("%s: status %s transfer %q after restart, want %s and none", name, im.Status, im.Transfer, want)
			}
		}
		if _, err := os.Stat(files.StagePath(ids["stage"])); !errors.Is(err, os.ErrNotExist) {
			t.Error("partial staged data was kept")
		}
		if _, err := os.Stat(files.StagePath(ids["import-intact"])); err != nil {
			t.Errorf("intact staged data was removed: %v", err)
		}
		if ents, _ := os.ReadDir(files.Dir() + "/tmp"); len(ents) != 0 {
			t.Errorf("temporary files kept: %v", ents)
		}
		// SQLite belongs to one process: every transfer it records is dead.
		// On PostgreSQL a fresh heartbeat may be another controller's.
		wantLive := store.ImageQueued
		if db.Dialect() == "postgres" {
			wantLive = store.ImageSaving
		}
		if got := status("live").Status; got != wantLive {
			t.Errorf("transfer with a fresh heartbeat: %s after restart, want %s", got, wantLive)
		}
		u, _ := s2.Usage(ctx, c)
		wantBytes := int64(11)
		if wantLive == store.ImageSaving {
			wantBytes += 5
		}
		if u.Bytes != wantBytes {
			t.Errorf("bytes in use = %d, want %d (the intact staged data)", u.Bytes, wantBytes)
		}
		ts, err := s2.Tasks(ctx, c, ids["import-intact"])
		if err != nil || len(ts) != 1 || ts[0].Status != TaskFailure || !strings.Contains(ts[0].Message, "interrupted") {
			t.Errorf("task of the interrupted import = %+v (%v), want failure saying interrupted", ts, err)
		}
		// The intact import can run again.
		if _, err := s2.Import(ctx, c, ids["import-intact"], "glance-direct", "req-1"); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s2, c, ids["import-intact"], store.ImageActive)

		// The janitor takes over transfers whose worker goes silent later.
		crash(t, db, ids["upload"], store.ImageSaving, store.TransferUpload, 7, 0, time.Now())
		waitStatus(t, s2, c, ids["upload"], store.ImageQueued)
	})
}

func waitStatus(t *testing.T, s *Service, c *auth.Credentials, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		im, err := s.Get(context.Background(), c, id)
		if err != nil {
			t.Fatal(err)
		}
		if im.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s is %s, want %s", id, im.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUploadDeletedMidway deletes an image while its data streams in: the
// upload ends with 410 and leaves nothing behind.
func TestUploadDeletedMidway(t *testing.T) {
	db := storetest.New(t)
	files, _ := NewFileStore(t.TempDir())
	s := newService(t, db, files)
	ctx := context.Background()
	c := member("p1")
	im, err := s.Create(ctx, c, map[string]any{"name": "x"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Upload(ctx, c, im.ID, pr, -1)
		done <- err
	}()
	chunk := make([]byte, 1<<20)
	pw.Write(chunk)
	waitStatus(t, s, c, im.ID, store.ImageSaving)
	if err := s.Delete(ctx, c, im.ID); err != nil {
		t.Fatal(err)
	}
	// Enough data to need more quota, which finds the image gone.
	go func() {
		for range 80 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	err = <-done
	pr.Close()
	if !oserr.Is(err, 410) {
		t.Errorf("upload into a deleted image: %v, want 410", err)
	}
	if ents, _ := os.ReadDir(files.Dir() + "/tmp"); len(ents) != 0 {
		t.Errorf("temporary files kept: %v", ents)
	}
	if _, err := os.Stat(files.Path(im.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data of the deleted image exists: %v", err)
	}
}

// TestSnapshotAPI is the path compute takes: a snapshot record, data
// streamed from a reader, then read back for a host.
func TestSnapshotAPI(t *testing.T) {
	db := storetest.New(t)
	files, _ := NewFileStore(t.TempDir())
	s := newService(t, db, files)
	ctx := context.Background()
	c := member("p1")
	im, err := s.CreateSnapshot(ctx, c, SnapshotSpec{Name: "snap", MinDisk: 1, Properties: map[string]string{"image_type": "snapshot", "instance_uuid": "i-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if im.Visibility != VisibilityPrivate || *im.DiskFormat != "qcow2" || im.Properties["image_type"] != "snapshot" || im.Owner != "p1" {
		t.Errorf("snapshot = %+v", im)
	}
	data := bytes.Repeat([]byte("x"), 3<<20)
	im, err = s.Upload(ctx, c, im.ID, bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != store.ImageActive || *im.Size != int64(len(data)) {
		t.Errorf("after upload: %s %d", im.Status, *im.Size)
	}
	_, rc, err := s.Reader(ctx, im.ID)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, data) {
		t.Error("read back differs")
	}
	if p, _ := s.Path(im.ID); p != files.Path(im.ID) {
		t.Errorf("Path = %s", p)
	}
	if _, err := s.Get(ctx, member("p2"), im.ID); !oserr.Is(err, 404) {
		t.Errorf("another project gets the snapshot: %v, want 404", err)
	}
}

// checkRefusal fails unless err is nil or a client error (4xx) with a message.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *oserr.Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Message == "" {
		t.Fatalf("error %v is not a client error with a message", err)
	}
}

func decodeNumbers(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	return v, true
}

// FuzzCreate feeds arbitrary JSON objects to image creation's validation:
// it must refuse with a 4xx and a message, or build an image that keeps
// Glance's invariants.
func FuzzCreate(f *testing.F) {
	for _, seed := range []string{
		`{"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "min_ram": 64, "tags": ["a", "a"]}`,
		`{"id": "00000000-1111-2222-3333-444455556666", "visibility": "community", "os_hidden": true}`,
		`{"kernel_id": null, "ramdisk_id": "00000000-1111-2222-3333-444455556666", "foo": "bar"}`,
		`{"min_disk": 1e3, "protected": "yes", "owner": null}`,
		`{"status": "active"}`, `{"os_glance_x": "1"}`, `{"tags": [1]}`, `{"name": null}`,
	} {
		f.Add([]byte(seed))
	}
	s := &Service{now: time.Now, limits: DefaultLimits}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := decodeNumbers(data)
		attrs, isObj := v.(map[string]any)
		if !ok || !isObj {
			return
		}
		for _, c := range []*auth.Credentials{member("p1"), {Project: &auth.Ref{ID: "admin"}, Roles: []auth.Ref{{Name: auth.RoleAdmin}}}} {
			im, err := s.newImage(caller{c}, attrs, DefaultLimits)
			checkRefusal(t, err)
			if err != nil {
				continue
			}
			checkInvariants(t, &im)
		}
	})
}

// FuzzApplyPatch applies arbitrary change lists to an image: refusals are
// 4xx with a message; accepted changes keep the invariants.
func FuzzApplyPatch(f *testing.F) {
	for _, seed := range []string{
		`[{"op": "replace", "path": "name", "value": "x"}, {"op": "add", "path": "hw_disk_bus", "value": "scsi"}]`,
		`[{"op": "remove", "path": "os_distro"}, {"op": "replace", "path": "tags", "value": ["a"]}]`,
		`[{"op": "add", "path": "min_ram", "value": -1}, {"op": "move", "path": "x"}]`,
		`[{"op": "replace", "path": "visibility", "value": "public"}, {"op": "add", "path": "owner", "value": null}]`,
		`[{"op": "add", "path": "disk_format", "value": "iso"}, {"op": "remove", "path": "name"}]`,
	} {
		f.Add([]byte(seed))
	}
	s := &Service{now: time.Now, limits: DefaultLimits}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := decodeNumbers(data)
		ops, isArr := v.([]any)
		if !ok || !isArr {
			return
		}
		var changes []Change
		for _, o := range ops {
			m, _ := o.(map[string]any)
			op, _ := m["op"].(string)
			path, _ := m["path"].(string)
			changes = append(changes, Change{Op: op, Attr: path, Value: m["value"]})
		}
		name, dfmt := "base", "raw"
		im := store.Image{ID: "00000000-1111-2222-3333-444455556666", Owner: "p1", Status: store.ImageQueued,
			Visibility: VisibilityShared, Name: &name, DiskFormat: &dfmt,
			Properties: map[string]string{"os_distro": "debian"}, Tags: []string{}}
		err := s.apply(caller{member("p1")}, &im, changes, DefaultLimits)
		checkRefusal(t, err)
		if err == nil {
			checkInvariants(t, &im)
		}
	})
}

func checkInvariants(t *testing.T, im *store.Image) {
	t.Helper()
	if !ValidID(im.ID) || im.Status != store.ImageQueued {
		t.Fatalf("id %q status %q", im.ID, im.Status)
	}
	if im.Name != nil && len([]rune(*im.Name)) > 255 {
		t.Fatal("name longer than 255")
	}
	if im.MinRAM < 0 || im.MinDisk < 0 {
		t.Fatal("negative minimum")
	}
	if !contains(Visibilities, im.Visibility) {
		t.Fatalf("visibility %q", im.Visibility)
	}
	if im.Visibility == VisibilityPublic && im.Owner == "p1" {
		t.Fatal("a member made an image public")
	}
	if im.DiskFormat != nil && !contains(DiskFormats, *im.DiskFormat) {
		t.Fatalf("disk format %q", *im.DiskFormat)
	}
	for k := range im.Properties {
		if checkKey(k) != nil || contains(Core, k) {
			t.Fatalf("property %q should not be stored as a property", k)
		}
	}
	seen := map[string]bool{}
	for _, tag := range im.Tags {
		if seen[tag] || len([]rune(tag)) > 255 {
			t.Fatalf("tags %q", im.Tags)
		}
		seen[tag] = true
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

// TestCopyHashed checks the pipelined copy against plain hashing, at sizes
// around its chunk and slot boundaries, and its failures.
func TestCopyHashed(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, slots*chunkSize + 7, 9*chunkSize + 3} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + i>>9)
		}
		var out bytes.Buffer
		calls := 0
		d, err := copyHashed(&out, bytes.NewReader(data), func(int64) error { calls++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		md := md5.Sum(data)
		sha := sha512.Sum512(data)
		if d.size != int64(n) || d.md5 != hex.EncodeToString(md[:]) || d.sha512 != hex.EncodeToString(sha[:]) || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("size %d: digest %d %s, copy equal %v", n, d.size, d.md5, bytes.Equal(out.Bytes(), data))
		}
		if want := (n + chunkSize - 1) / chunkSize; calls != want {
			t.Errorf("size %d: progress called %d times, want %d", n, calls, want)
		}
	}
	big := bytes.NewReader(make([]byte, 10*chunkSize))
	if _, err := copyHashed(&failingWriter{after: 3 * chunkSize}, big, func(int64) error { return nil }); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: %v", err)
	}
	big.Seek(0, io.SeekStart)
	refuse := errors.New("quota")
	if _, err := copyHashed(io.Discard, big, func(total int64) error {
		if total > 2*chunkSize {
			return refuse
		}
		return nil
	}); !errors.Is(err, refuse) {
		t.Errorf("refusing progress: %v", err)
	}
}
