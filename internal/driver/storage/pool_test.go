package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newPool(t *testing.T) *Pool {
	t.Helper()
	for _, bin := range []string{"qemu-img", "qemu-io", "qemu-storage-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian's qemu-utils and qemu-system-common)", bin)
		}
	}
	dir := t.TempDir()
	p, err := New(Config{Dir: dir, RunDir: filepath.Join(t.TempDir(), "run")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("stop the storage daemon: %v", err)
		}
	})
	return p
}

// qemuIO runs qemu-io commands against an image or NBD address.
func qemuIO(t *testing.T, target string, cmds ...string) string {
	t.Helper()
	args := []string{"-f", "raw"}
	if !strings.HasPrefix(target, "nbd") {
		args = []string{"-f", "qcow2"}
		if !strings.Contains(strings.Join(cmds, " "), "write") {
			args = append(args, "-U", "-r")
		}
	}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, target)...).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("Pattern verification failed")) || bytes.Contains(out, []byte("failed:")) {
		t.Fatalf("qemu-io %v %s: %v\n%s", cmds, target, err, out)
	}
	return string(out)
}

// readSample reads the volume as raw and returns its size and the first
// byte of each MiB.
func readSample(t *testing.T, p *Pool, id string) (int64, []byte) {
	t.Helper()
	r, size, err := p.Read(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var firsts []byte
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			firsts = append(firsts, buf[0])
			n += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != size {
		t.Fatalf("Read said %d bytes, gave %d", size, n)
	}
	return n, firsts
}

func TestVolumeLifecycle(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	const vol = "6b1e3c2a-0f4e-4c55-9d5e-6f2b7c1a9e01"
	if err := p.Create(ctx, vol, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(ctx, vol, 1); err != nil { // idempotent
		t.Fatalf("create again: %v", err)
	}
	st, _ := os.Stat(p.volPath(vol))
	if st.Size() > 1<<20 {
		t.Errorf("a blank 1 GiB volume takes %d bytes; want it sparse", st.Size())
	}

	// Export, then write and read through NBD as a guest would.
	addr, err := p.Export(ctx, vol)
	if err != nil {
		t.Fatal(err)
	}
	if addr2, err := p.Export(ctx, vol); err != nil || addr2 != addr {
		t.Fatalf("export again: %q, %v; want %q", addr2, err, addr)
	}
	if !strings.HasPrefix(addr, "nbd+unix:///"+vol+"?socket=") {
		t.Fatalf("address %q", addr)
	}
	qemuIO(t, addr, "write -P 0xab 0 1M", "write -P 0xcd 512M 64k")
	qemuIO(t, addr, "read -P 0xab 0 1M", "read -P 0xcd 512M 64k", "read -P 0 1M 1M")

	// A snapshot of the volume in use, then more writes: the snapshot
	// keeps the old bytes.
	const snap = "0d6c6a1e-3b0f-4f43-8a53-2d3b5e5f0c11"
	if err := p.Snapshot(ctx, snap, vol); err != nil {
		t.Fatal(err)
	}
	if err := p.Snapshot(ctx, snap, vol); err != nil {
		t.Fatalf("snapshot again: %v", err)
	}
	qemuIO(t, addr, "write -P 0xee 0 1M")

	// Extend in use is refused with what to do.
	if err := p.Extend(ctx, vol, 2); err == nil || !strings.Contains(err.Error(), "detach it") {
		t.Fatalf("extend in use: %v", err)
	}

	// A new Pool on the same directory (a restarted agent) finds the daemon.
	pid := p.DaemonPID()
	p2, err := New(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p2.DaemonPID() != pid || pid == 0 {
		t.Fatalf("restarted pool sees daemon pid %d, want %d", p2.DaemonPID(), pid)
	}
	if _, err := p2.Export(ctx, vol); err != nil {
		t.Fatal(err)
	}
	if p2.DaemonPID() != pid {
		t.Fatalf("export from a restarted pool started another daemon")
	}

	// From the snapshot: the bytes before the 0xee write.
	const fromSnap = "a3c5e7f9-1111-4222-8333-944455556666"
	if err := p.CreateFromSnapshot(ctx, fromSnap, snap, 1); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, p.volPath(fromSnap), "read -P 0xab 0 1M", "read -P 0xcd 512M 64k")

	// A clone of the volume in use: its bytes now.
	const clone = "b4d6f8a0-2222-4333-8444-a55566667777"
	if err := p.Clone(ctx, clone, vol, 3); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, p.volPath(clone), "read -P 0xee 0 1M", "read -P 0xcd 512M 64k")
	if n, _ := p.Size(ctx, clone); n != 3<<30 {
		t.Errorf("clone size %d, want 3 GiB", n)
	}

	// Deleting a volume with a snapshot is refused; after the snapshot
	// goes, it works.
	if err := p.Delete(ctx, vol); err == nil || !strings.Contains(err.Error(), "has snapshots") {
		t.Fatalf("delete with a snapshot: %v", err)
	}
	if err := p.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatalf("delete snapshot again: %v", err)
	}

	// Read the volume in use as raw (upload to image).
	n, mib := readSample(t, p, vol)
	if n != 1<<30 || mib[0] != 0xee || mib[512] != 0xcd || mib[1] != 0 {
		t.Fatalf("raw read: %d bytes, [0]=%x [512M]=%x", n, mib[0], mib[512])
	}

	if err := p.Unexport(ctx, vol); err != nil {
		t.Fatal(err)
	}
	if err := p.Unexport(ctx, vol); err != nil {
		t.Fatalf("unexport again: %v", err)
	}
	if err := exec.Command("qemu-io", "-f", "raw", "-c", "read 0 512", addr).Run(); err == nil {
		t.Error("the volume is still served after Unexport")
	}
	if err := p.Extend(ctx, vol, 2); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Size(ctx, vol); err != nil || n != 2<<30 {
		t.Fatalf("size after extend: %d, %v", n, err)
	}

	// Delete, then a new volume of the same id reads zeros.
	if err := p.Delete(ctx, vol); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, vol); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	if err := p.Create(ctx, vol, 1); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, p.volPath(vol), "read -P 0 0 1M", "read -P 0 512M 64k")

	vols, snaps, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 3 || len(snaps) != 0 {
		t.Errorf("List: volumes %v snapshots %v", vols, snaps)
	}
}

func TestDaemonRestartServesExportsAgain(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	const vol = "c1c1c1c1-0000-4000-8000-000000000001"
	if err := p.Create(ctx, vol, 1); err != nil {
		t.Fatal(err)
	}
	addr, err := p.Export(ctx, vol)
	if err != nil {
		t.Fatal(err)
	}
	qemuIO(t, addr, "write -P 0x5a 0 64k")
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if p.DaemonPID() != 0 {
		t.Fatal("daemon still runs after Stop")
	}
	// Any operation starts it again with its exports.
	const other = "c1c1c1c1-0000-4000-8000-000000000002"
	if err := p.Create(ctx, other, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Export(ctx, other); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, addr, "read -P 0x5a 0 64k")
}

func TestCreateFromImage(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	dir := t.TempDir()
	img := filepath.Join(dir, "img.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "100M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	qemuIO(t, img, "write -P 0x42 0 1M")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	const vol = "d2d2d2d2-0000-4000-8000-000000000001"
	if err := p.CreateFromImage(ctx, vol, 1, "qcow2", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, p.volPath(vol), "read -P 0x42 0 1M", "read -P 0 1M 1M")
	if n, _ := p.Size(ctx, vol); n != 1<<30 {
		t.Errorf("size %d, want 1 GiB", n)
	}

	// raw data too.
	raw := bytes.Repeat([]byte{0x17}, 1<<20)
	const rawVol = "d2d2d2d2-0000-4000-8000-000000000002"
	if err := p.CreateFromImage(ctx, rawVol, 1, "raw", bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, p.volPath(rawVol), "read -P 0x17 0 1M")

	for name, tc := range map[string]struct {
		format string
		data   []byte
		size   int
		want   string
	}{
		"qcow2 lie":   {"qcow2", raw, 1, "not in qcow2 format"},
		"vmdk":        {"vmdk", raw, 1, "cannot be written"},
		"too small":   {"raw", make([]byte, 3<<30>>10), 0, "at least 1 GiB"},
		"bad backing": {"qcow2", backed(t), 1, "backing file"},
	} {
		t.Run(name, func(t *testing.T) {
			err := p.CreateFromImage(ctx, "e3e3e3e3-"+strings.ReplaceAll(name, " ", "-"), tc.size, tc.format, bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func backed(t *testing.T) []byte {
	dir := t.TempDir()
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", filepath.Join(dir, "b.qcow2"), "1M").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "b.qcow2"))
	return b
}

func TestBadIDs(t *testing.T) {
	p := newPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("a", 65)} {
		if err := p.Create(ctx, id, 1); err == nil {
			t.Errorf("Create(%q) succeeded", id)
		}
		if _, err := p.Export(ctx, id); err == nil {
			t.Errorf("Export(%q) succeeded", id)
		}
	}
	if err := p.DeleteSnapshot(ctx, "no-such-snapshot"); err != nil {
		t.Errorf("delete absent snapshot: %v", err)
	}
	if err := p.Delete(ctx, "no-such-volume"); err != nil {
		t.Errorf("delete absent volume: %v", err)
	}
	if _, err := p.Export(ctx, "no-such-volume"); err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("export absent volume: %v", err)
	}
}

// TestConcurrentExports exports and unexports volumes from several
// goroutines at once (one daemon, one monitor): every export serves its
// own volume.
func TestConcurrentExports(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	const n = 6
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("f0f0f0f0-0000-4000-8000-%012d", i)
		if err := p.Create(ctx, ids[i], 1); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	addrs := make([]string, n)
	errs := make([]error, n)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs[i], errs[i] = p.Export(ctx, ids[i])
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("export %s: %v", ids[i], errs[i])
		}
		qemuIO(t, addrs[i], fmt.Sprintf("write -P %d 0 64k", i+1))
	}
	for i := range ids {
		qemuIO(t, addrs[i], fmt.Sprintf("read -P %d 0 64k", i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Unexport(ctx, ids[i])
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("unexport %s: %v", ids[i], errs[i])
		}
	}
}

// TestRetryAfterCrash leaves what a crash mid-create would (a partial
// file in tmp/, a snapshot record without its snapshot) and retries.
func TestRetryAfterCrash(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	const vol, snap = "e0e0e0e0-0000-4000-8000-000000000001", "e0e0e0e0-0000-4000-8000-000000000002"
	if err := os.WriteFile(p.tmpPath(vol+".create"), []byte("half a volume"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(ctx, vol, 1); err != nil {
		t.Fatalf("create after a crash mid-create: %v", err)
	}
	qemuIO(t, p.volPath(vol), "read -P 0 0 64k")
	if err := writeFileAtomic(p.snapMeta(snap), []byte(`{"volume":"`+vol+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Snapshot(ctx, snap, vol); err != nil {
		t.Fatalf("snapshot after a crash between record and snapshot: %v", err)
	}
	if err := p.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, snaps, _ := p.List(ctx); len(snaps) != 0 {
		t.Errorf("snapshots left: %v", snaps)
	}
}
