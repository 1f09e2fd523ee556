package qemu

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/guestimage"
	"github.com/onestack/onestack/internal/hostapi"
)

// images serves image files from memory, as the control plane would.
type images struct {
	mu        sync.Mutex
	files     map[string][]byte
	formats   map[string]string
	downloads int
	corrupt   bool
}

func (im *images) DownloadImage(_ context.Context, id string) (io.ReadCloser, hostapi.ImageFile, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	b, ok := im.files[id]
	if !ok {
		return nil, hostapi.ImageFile{}, errors.New("no such image")
	}
	im.downloads++
	m, s := md5.Sum(b), sha512.Sum512(b)
	f := hostapi.ImageFile{ID: id, DiskFormat: im.formats[id], Size: int64(len(b)), Checksum: hex.EncodeToString(m[:]),
		HashAlgo: "sha512", HashValue: hex.EncodeToString(s[:])}
	if im.corrupt {
		b = append(bytes.Clone(b[:len(b)-1]), b[len(b)-1]^1)
	}
	return io.NopCloser(bytes.NewReader(b)), f, nil
}

var (
	tinyOnce sync.Once
	tinyData []byte
	tinyErr  error
	// debs caches the Debian packages the tests download, for the whole
	// test binary; TestMain removes it.
	debs string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "onestack-qemu-test-debs-")
	if err != nil {
		panic(err)
	}
	debs = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tinyImage builds the project's tiny guest image once per test binary.
func tinyImage(t *testing.T) []byte {
	t.Helper()
	for _, bin := range []string{"qemu-system-x86_64", "qemu-img", "genisoimage", "mkfs.fat", "mcopy", "syslinux"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing in CI: .ci/run must install it", bin)
			}
			t.Skipf("%s not installed (make host-packages installs it)", bin)
		}
	}
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "onestack-qemu-test-")
		if err != nil {
			tinyErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "tiny.qcow2")
		if _, tinyErr = guestimage.Build(context.Background(), guestimage.Options{Output: out, CacheDir: debs}); tinyErr == nil {
			tinyData, tinyErr = os.ReadFile(out)
		}
	})
	if tinyErr != nil {
		t.Fatalf("build the tiny image: %v", tinyErr)
	}
	return tinyData
}

func newDriver(t *testing.T, im *images, dir string) *Driver {
	t.Helper()
	d, err := New(Config{Dir: dir, Host: "test-host", Accel: Accel{Name: "tcg", Reason: "test"}, Images: im,
		ShutdownTimeout: 60 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ids, _ := d.List(context.Background())
		for _, id := range ids {
			if err := d.Delete(context.Background(), id); err != nil {
				t.Errorf("cleanup: delete guest %s: %v", id, err)
			}
		}
	})
	return d
}

// waitConsole polls a guest's console log until it shows the ready line n
// times (bounded: a TCG boot takes ~5 s, allow 120 s).
func waitConsole(t *testing.T, d *Driver, id string, n int) string {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		out, err := d.ConsoleOutput(id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "onestack-guest-ready") >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("console of %s shows the ready line %d times, want %d:\n%s", id, strings.Count(out, "onestack-guest-ready"), n, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func guestOf(id string, power string) hostapi.Guest {
	return hostapi.Guest{ServerID: id, Name: "t-" + id[:4], ImageID: "tiny", Power: power,
		Flavor: hostapi.Flavor{VCPUs: 1, RAM: 128, Disk: 1}, ConfigDrive: true,
		UserData: "IyEvYmluL3NoCmVjaG8gaGVsbG8tZnJvbS11c2VyLWRhdGEK"} // #!/bin/sh\necho hello-from-user-data
}

// TestGuestLifecycle boots a real guest and drives it through pause,
// suspend (memory saved to disk, process gone), resume, a graceful stop,
// a snapshot and delete, checking what the host shows after each.
func TestGuestLifecycle(t *testing.T) {
	ctx := context.Background()
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	d := newDriver(t, im, t.TempDir())
	id := "0c5e7d5a-1111-4e6b-9f4e-000000000001"
	g := guestOf(id, hostapi.PowerRunning)

	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("Ensure(running) = %q, %v", p, err)
	}
	out := waitConsole(t, d, id, 1)
	if !strings.Contains(out, "hello-from-user-data") {
		t.Errorf("console lacks the user data's output:\n%s", out)
	}
	pid := d.guest(id).pid()

	g.Power = hostapi.PowerPaused
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerPaused {
		t.Fatalf("Ensure(paused) = %q, %v", p, err)
	}
	g.Power = hostapi.PowerSuspended
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerSuspended {
		t.Fatalf("Ensure(suspended) = %q, %v", p, err)
	}
	if alive(pid) {
		t.Errorf("a suspended guest's qemu process %d still runs", pid)
	}
	g.Power = hostapi.PowerRunning
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("Ensure(running) after suspend = %q, %v", p, err)
	}
	if n := strings.Count(mustConsole(t, d, id), "onestack-guest-ready"); n != 1 {
		t.Errorf("resume rebooted the guest: ready line %d times, want 1 (memory restored)", n)
	}
	if _, err := os.Stat(d.guest(id).stateFile()); !os.IsNotExist(err) {
		t.Errorf("the saved memory is left after resume: %v", err)
	}

	// Snapshot while running: a standalone qcow2 (no backing file).
	rc, err := d.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.qcow2")
	f, _ := os.Create(snap)
	_, _ = io.Copy(f, rc)
	f.Close()
	rc.Close()
	info, err := inspect(ctx, snap, "qcow2")
	if err != nil || info.Format != "qcow2" || info.Backing != "" {
		t.Errorf("snapshot: %+v, %v; want a qcow2 without a backing file", info, err)
	}

	g.Power = hostapi.PowerShutdown
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerShutdown {
		t.Fatalf("Ensure(shutdown) = %q, %v", p, err)
	}
	if out := mustConsole(t, d, id); !strings.Contains(out, "reboot: Power down") {
		t.Logf("console after the ACPI stop (no kernel power-down line):\n%s", out)
	}

	if err := d.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.guest(id).dir); !os.IsNotExist(err) {
		t.Errorf("guest directory left after delete: %v", err)
	}
	for _, s := range []string{d.guest(id).qmpSock(), d.guest(id).serialSock()} {
		if _, err := os.Stat(s); !os.IsNotExist(err) {
			t.Errorf("socket %s left after delete", s)
		}
	}
}

func mustConsole(t *testing.T, d *Driver, id string) string {
	t.Helper()
	out, err := d.ConsoleOutput(id)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAdoption starts a guest with one driver and hands the host to a
// second driver, as a restarted agent: it finds the same process and
// starts no other; and an image is downloaded once for two guests.
func TestAdoption(t *testing.T) {
	ctx := context.Background()
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	dir := t.TempDir()
	d1 := newDriver(t, im, dir)
	a, b := "0c5e7d5a-2222-4e6b-9f4e-000000000001", "0c5e7d5a-2222-4e6b-9f4e-000000000002"
	for _, id := range []string{a, b} {
		if _, err := d1.Ensure(ctx, guestOf(id, hostapi.PowerRunning)); err != nil {
			t.Fatal(err)
		}
	}
	if im.downloads != 1 {
		t.Errorf("image downloaded %d times for two guests, want once", im.downloads)
	}
	pid := d1.guest(a).pid()

	d2 := newDriver(t, im, dir)
	ids, _ := d2.List(ctx)
	if len(ids) != 2 {
		t.Fatalf("the second driver lists %v, want both guests", ids)
	}
	if p, err := d2.Ensure(ctx, guestOf(a, hostapi.PowerRunning)); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("Ensure on the adopting driver = %q, %v", p, err)
	}
	if got := d2.guest(a).pid(); got != pid {
		t.Errorf("adopting driver: guest pid %d, want the running %d (no restart)", got, pid)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the adopted guest's process is gone: %v", err)
	}

	// b powers itself off (its power button, from inside as far as the
	// host knows): with nothing asked, it is reported off, not restarted;
	// a start (a task) boots it again.
	waitConsole(t, d2, b, 1)
	bpid := d2.guest(b).pid()
	if err := d2.guest(b).call(ctx, "system_powerdown", nil); err != nil {
		t.Fatal(err)
	}
	if !waitExit(ctx, bpid, 60*time.Second) {
		t.Fatal("guest did not power off")
	}
	if p, err := d2.Ensure(ctx, guestOf(b, hostapi.PowerRunning)); err != nil || p != hostapi.PowerShutdown {
		t.Errorf("Ensure(running, no task) of a guest that powered off = %q, %v; want shutdown, not a restart", p, err)
	}
	// An agent's first pass after it starts recovers it (the host or the
	// agent was down while it stopped).
	rec := guestOf(b, hostapi.PowerRunning)
	rec.Recover = true
	if p, err := d2.Ensure(ctx, rec); err != nil || p != hostapi.PowerRunning {
		t.Errorf("Ensure(running, recover) = %q, %v; want running", p, err)
	}
}

// TestFailures checks the faults a user sees: a damaged download, an
// image with a backing file, and a guest QEMU refuses to start, each
// naming the cause and what to do, and leaving no process behind.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	tiny := tinyImage(t)
	dir := t.TempDir()
	backed := filepath.Join(dir, "backed.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", backed).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	backedData, _ := os.ReadFile(backed)
	big := filepath.Join(dir, "big.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", big, "2G").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bigData, _ := os.ReadFile(big)
	im := &images{files: map[string][]byte{"tiny": tiny, "backed": backedData, "iso": []byte("x"), "big": bigData},
		formats: map[string]string{"tiny": "qcow2", "backed": "qcow2", "iso": "iso", "big": "qcow2"}}
	d := newDriver(t, im, filepath.Join(dir, "host"))
	withImage := func(id, image string) hostapi.Guest {
		g := guestOf(id, "")
		g.ImageID = image
		return g
	}

	// Each failure names its step, and says whether the request (its
	// image, its flavor) or the cloud is at fault.
	cases := []struct {
		name    string
		g       hostapi.Guest
		corrupt bool
		want    []string
		step    string
		user    bool
	}{
		{"damaged download", guestOf("0c5e7d5a-3333-4e6b-9f4e-000000000001", ""), true, []string{"checksum mismatch", "upload the image again"}, "check the image", false},
		{"backing file", withImage("0c5e7d5a-3333-4e6b-9f4e-000000000002", "backed"), false,
			[]string{"backing file", "flatten"}, "check the image", true},
		{"unbootable format", withImage("0c5e7d5a-3333-4e6b-9f4e-000000000003", "iso"), false,
			[]string{`disk_format "iso"`, "qemu-img convert"}, "check the image", true},
		{"too much memory", func() hostapi.Guest {
			g := guestOf("0c5e7d5a-3333-4e6b-9f4e-000000000004", "")
			g.Flavor.RAM = 64 << 30 // 64 TiB: QEMU refuses it
			return g
		}(), false, []string{"qemu could not start the guest on test-host", "qemu-system-x86_64"}, "start the guest", false},
		{"disk too small", withImage("0c5e7d5a-3333-4e6b-9f4e-000000000005", "big"), false,
			[]string{"flavor's disk is too small for image big", "it needs 2 GiB", "larger disk"}, "size the root disk", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im.mu.Lock()
			im.corrupt = tc.corrupt
			im.mu.Unlock()
			_, err := d.Ensure(ctx, tc.g)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			t.Logf("fault: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var se *hostapi.StepError
			if !errors.As(err, &se) || se.Step != tc.step || se.User != tc.user {
				t.Errorf("error %q: step %+v, want step %q with the request at fault %v", err, se, tc.step, tc.user)
			} else if !strings.HasPrefix(err.Error(), tc.step+": ") {
				t.Errorf("error %q does not start with its step %q", err, tc.step)
			}
			if pid := d.guest(tc.g.ServerID).pid(); pid != 0 {
				t.Errorf("a failed guest left qemu process %d", pid)
			}
		})
	}
}

// TestMoves moves a guest between two hosts of one machine: cold (its
// disk copied after the source stops it, as resize and migrate do) and
// live (memory and disk migrated while it runs: the console shows one boot).
func TestMoves(t *testing.T) {
	ctx := context.Background()
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	root := t.TempDir()
	dirs := map[string]string{"a": filepath.Join(root, "a"), "b": filepath.Join(root, "b")}
	peer := func(h string) (string, bool) { d, ok := dirs[h]; return d, ok }
	mk := func(h string) *Driver {
		d, err := New(Config{Dir: dirs[h], Host: h, Accel: Accel{Name: "tcg"}, Images: im, Peer: peer,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ids, _ := d.List(ctx)
			for _, id := range ids {
				_ = d.Delete(ctx, id)
			}
		})
		return d
	}
	a, b := mk("a"), mk("b")

	// Live: a running guest goes from a to b without rebooting.
	id := "0c5e7d5a-4444-4e6b-9f4e-000000000001"
	g := guestOf(id, hostapi.PowerRunning)
	if _, err := a.Ensure(ctx, g); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, a, id, 1)
	away := g
	away.Away = true
	if p, err := a.Ensure(ctx, away); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("source Ensure(away, running) = %q, %v; want it left running", p, err)
	}
	in := g
	in.MovingFrom, in.Task = "a", "migrating"
	if p, err := b.Ensure(ctx, in); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("live migration to b = %q, %v", p, err)
	}
	if p := a.guest(id).pid(); p != 0 {
		t.Errorf("after live migration the source still runs qemu %d", p)
	}
	if p, _ := a.Ensure(ctx, away); p == hostapi.PowerRunning {
		t.Errorf("the source started the guest it migrated away")
	}
	if err := a.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The guest answers on b: a hard reset there boots it a second time.
	if err := b.guest(id).call(ctx, "system_reset", nil); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, b, id, 1) // the console log starts anew on b

	// Cold: b stops the guest; a takes its disk over with a larger flavor.
	cold := g
	cold.Away, cold.Power = true, hostapi.PowerShutdown
	if p, err := b.Ensure(ctx, cold); err != nil || p != hostapi.PowerShutdown {
		t.Fatalf("source stop for a cold move = %q, %v", p, err)
	}
	back := g
	back.MovingFrom, back.Task, back.Flavor.Disk = "b", "resize_migrating", 2
	if p, err := a.Ensure(ctx, back); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("cold move to a = %q, %v", p, err)
	}
	info, err := inspect(ctx, a.guest(id).rootDisk(), "qcow2")
	if err != nil || info.VirtualSize != 2<<30 {
		t.Errorf("moved root disk: %+v, %v; want grown to 2 GiB", info, err)
	}
	if !strings.HasPrefix(info.Backing, dirs["a"]) {
		t.Errorf("moved root disk backs on %q, want this host's image cache", info.Backing)
	}
	waitConsole(t, a, id, 1)
}

// TestProbe checks the accelerator choice: asked-for accelerators are
// taken as they are; auto boots a real kernel under KVM once, says why it
// chose what it chose, and keeps the verdict. When the verdict is KVM, a
// guest really boots with it.
func TestProbe(t *testing.T) {
	tinyImage(t) // skips without the tools; fetches the kernel's package
	ctx := context.Background()
	for _, want := range []string{"kvm", "tcg"} {
		if a := Probe(ctx, ProbeConfig{Want: want}); a.Name != want {
			t.Errorf("Probe(%s) = %+v", want, a)
		}
	}
	kernel, err := guestimage.Kernel(ctx, debs)
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "accel.json")
	a := Probe(ctx, ProbeConfig{Want: "auto", Kernel: kernel, Cache: cache})
	t.Logf("auto on this machine: %s (%s)", a.Name, a.Reason)
	if (a.Name != "kvm" && a.Name != "tcg") || a.Reason == "" {
		t.Fatalf("Probe(auto) = %+v, want kvm or tcg with a reason", a)
	}
	again := Probe(ctx, ProbeConfig{Want: "auto", Kernel: kernel, Cache: cache})
	if _, err := os.Stat("/dev/kvm"); err != nil {
		// No /dev/kvm: nothing was booted, so nothing is cached; the
		// answer is the same at once.
		if again.Name != "tcg" || !strings.Contains(again.Reason, "/dev/kvm cannot be opened") {
			t.Errorf("second Probe(auto) without /dev/kvm = %+v, want tcg saying why", again)
		}
	} else if again.Name != a.Name || !strings.Contains(again.Reason, "cached verdict") {
		t.Errorf("second Probe(auto) = %+v, want the cached %s verdict", again, a.Name)
	}
	if a.Name != "kvm" {
		return
	}
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	d, err := New(Config{Dir: t.TempDir(), Host: "kvm-host", Accel: a, Images: im, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	id := "0c5e7d5a-5555-4e6b-9f4e-000000000001"
	t.Cleanup(func() { _ = d.Delete(ctx, id) })
	if _, err := d.Ensure(ctx, guestOf(id, hostapi.PowerRunning)); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, d, id, 1)
}
