package qemu

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/driver/storage"
	"github.com/onestack/onestack/internal/hostapi"
)

func newPool(t *testing.T) *storage.Pool {
	t.Helper()
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		t.Skip("qemu-storage-daemon not installed (Debian's qemu-system-common)")
	}
	p, err := storage.New(storage.Config{Dir: t.TempDir(), RunDir: filepath.Join(t.TempDir(), "r"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// shell runs a command on the guest's serial console (a root shell) and
// returns its output once a line matches want, a prefix the command
// prints and its echo cannot contain.
func shell(t *testing.T, d *Driver, id, cmd, want string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := d.SerialConsole(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, "\n"+cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var all bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		all.WriteString(line)
		if i := strings.Index(line, want); i >= 0 && !strings.Contains(line, "echo") {
			return strings.TrimSpace(line[i+len(want):])
		}
		if err != nil {
			var ne net.Error
			if ok := errorsAs(err, &ne); ok && ne.Timeout() {
				t.Fatalf("guest %s: no %q within %s after %q; console:\n%s", id, want, timeout, cmd, all.String())
			}
			t.Fatalf("guest %s serial console: %v; console:\n%s", id, err, all.String())
		}
	}
}

func errorsAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// findDisk is shell code that sets $d to the disk whose virtio serial is
// s, waiting up to 60 s for it to appear (a hot-plug takes a moment).
func findDisk(serial string) string {
	return fmt.Sprintf(`d=; i=0; while [ $i -lt 120 ]; do for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = "%s" ] && d=/dev/${b##*/}; done; [ -n "$d" ] && break; i=$((i+1)); sleep 0.5; done`, serial)
}

// TestVolumeHotplug attaches a volume to a running guest, which writes to
// it; detaches it (the guest releases the PCIe device); then boots a
// second guest with the volume attached at start, which reads the same
// bytes; and boots a third guest from a volume made from the image.
func TestVolumeHotplug(t *testing.T) {
	ctx := context.Background()
	tiny := tinyImage(t)
	im := &images{files: map[string][]byte{"tiny": tiny}, formats: map[string]string{"tiny": "qcow2"}}
	d := newDriver(t, im, t.TempDir())
	pool := newPool(t)

	const vol = "7a0c0f0e-5555-4b1c-8d2e-00000000000a"
	if err := pool.Create(ctx, vol, 1); err != nil {
		t.Fatal(err)
	}
	addr, err := pool.Export(ctx, vol)
	if err != nil {
		t.Fatal(err)
	}
	gv := hostapi.GuestVolume{VolumeID: vol, AttachmentID: "att-1", Export: addr, Device: "/dev/vdb", BootIndex: -1, Serial: vol}

	a := "0c5e7d5a-3333-4e6b-9f4e-000000000001"
	ga := guestOf(a, hostapi.PowerRunning)
	if _, err := d.Ensure(ctx, ga); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, d, a, 1)

	ga.Volumes = []hostapi.GuestVolume{gv}
	t0 := time.Now()
	if _, err := d.Ensure(ctx, ga); err != nil {
		t.Fatal(err)
	}
	attached, errs := d.SyncVolumes(ctx, ga)
	if len(errs) > 0 || !slices.Equal(attached, []string{"att-1"}) {
		t.Fatalf("attach: attached %v errors %v", attached, errs)
	}
	dev := shell(t, d, a, findDisk(vol[:20])+`; echo "found:$d"`, "found:", 90*time.Second)
	t.Logf("attach -> visible in the guest as %s: %s", dev, time.Since(t0).Round(time.Millisecond))
	if !strings.HasPrefix(dev, "/dev/vd") {
		t.Fatalf("the guest does not see the volume: %q", dev)
	}
	// A volume QEMU cannot open fails alone, saying why; the guest and
	// its other volume are untouched.
	broken := hostapi.GuestVolume{VolumeID: "7a0c0f0e-5555-4b1c-8d2e-00000000000f", AttachmentID: "att-bad", BootIndex: -1,
		Export: "nbd+unix:///7a0c0f0e-5555-4b1c-8d2e-00000000000f?socket=/nonexistent/nbd.sock", Serial: "7a0c0f0e-5555-4b1c-8d2e-00000000000f"}
	ga.Volumes = []hostapi.GuestVolume{gv, broken}
	attached, errs = d.SyncVolumes(ctx, ga)
	if !slices.Equal(attached, []string{"att-1"}) || !strings.Contains(errs["att-bad"], "cannot open its export") {
		t.Fatalf("attach of a broken export: attached %v errors %v", attached, errs)
	}
	ga.Volumes = []hostapi.GuestVolume{gv}
	// Again: nothing changes.
	if attached, errs := d.SyncVolumes(ctx, ga); len(errs) > 0 || len(attached) != 1 {
		t.Fatalf("sync again: %v %v", attached, errs)
	}
	got := shell(t, d, a, findDisk(vol[:20])+`; echo written-by-guest-a | dd of=$d bs=512 conv=sync 2>/dev/null; sync; echo "wrote:$?"`, "wrote:", 60*time.Second)
	if got != "0" {
		t.Fatalf("guest write failed: %q", got)
	}

	// A guest that does not answer the unplug request (paused here) gets
	// an error that says so, and keeps the volume.
	if err := d.guest(a).call(ctx, "stop", nil); err != nil {
		t.Fatal(err)
	}
	defer func(old time.Duration) { unplugTimeout = old }(unplugTimeout)
	unplugTimeout = 3 * time.Second
	ga.Volumes = nil
	attached, errs = d.SyncVolumes(ctx, ga)
	if !slices.Equal(attached, []string{"att-1"}) || !strings.Contains(errs["att-1"], "did not release the disk") {
		t.Fatalf("detach from a guest that ignores it: attached %v errors %v", attached, errs)
	}
	if err := d.guest(a).call(ctx, "cont", nil); err != nil {
		t.Fatal(err)
	}
	unplugTimeout = 60 * time.Second

	// Detach: the guest lets the device go.
	ga.Volumes = nil
	t0 = time.Now()
	attached, errs = d.SyncVolumes(ctx, ga)
	if len(errs) > 0 || len(attached) != 0 {
		t.Fatalf("detach: attached %v errors %v", attached, errs)
	}
	t.Logf("detach took %s", time.Since(t0).Round(time.Millisecond))
	if n := shell(t, d, a, `echo "left:$(cat /sys/block/vd*/serial | grep -c `+vol[:20]+`)"`, "left:", 30*time.Second); n != "0" {
		t.Errorf("after detach the guest still has the volume (%s disks with its serial)", n)
	}

	// A second guest started with the volume reads what the first wrote.
	b := "0c5e7d5a-3333-4e6b-9f4e-000000000002"
	gb := guestOf(b, hostapi.PowerRunning)
	gb.ConfigDrive = false
	gv.AttachmentID = "att-2"
	gb.Volumes = []hostapi.GuestVolume{gv}
	if _, err := d.Ensure(ctx, gb); err != nil {
		t.Fatal(err)
	}
	if attached, errs := d.SyncVolumes(ctx, gb); len(errs) > 0 || len(attached) != 1 {
		t.Fatalf("cold attach: %v %v", attached, errs)
	}
	waitConsole(t, d, b, 1)
	if got := shell(t, d, b, findDisk(vol[:20])+`; echo "read:$(dd if=$d bs=18 count=1 2>/dev/null)"`, "read:", 60*time.Second); got != "written-by-guest-a" {
		t.Errorf("second guest reads %q, want the first guest's bytes", got)
	}

	// Boot from a volume made from the image: no image disk on the host.
	const root = "7a0c0f0e-5555-4b1c-8d2e-00000000000b"
	if err := pool.CreateFromImage(ctx, root, 1, "qcow2", bytes.NewReader(tiny)); err != nil {
		t.Fatal(err)
	}
	raddr, err := pool.Export(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	c := "0c5e7d5a-3333-4e6b-9f4e-000000000003"
	gc := guestOf(c, hostapi.PowerRunning)
	gc.ImageID = ""
	gc.Volumes = []hostapi.GuestVolume{{VolumeID: root, AttachmentID: "att-3", Export: raddr, Device: "/dev/vda", BootIndex: 0, Serial: root}}
	if _, err := d.Ensure(ctx, gc); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, d, c, 1)
	if exists := fileExists(d.guest(c).rootDisk()); exists {
		t.Error("a guest booted from a volume has an image disk")
	}
	// The root volume stays while the guest runs.
	gc.Volumes = nil
	if _, errs := d.SyncVolumes(ctx, gc); !strings.Contains(errs["att-3"], "root disk") {
		t.Errorf("detaching the root volume: %v", errs)
	}
	gc.Power = hostapi.PowerShutdown
	gc.Volumes = []hostapi.GuestVolume{{VolumeID: root, AttachmentID: "att-3", Export: raddr, Device: "/dev/vda", BootIndex: 0, Serial: root}}
	if p, err := d.Ensure(ctx, gc); err != nil || p != hostapi.PowerShutdown {
		t.Errorf("stop a guest booted from a volume: %q, %v", p, err)
	}
}

func fileExists(p string) bool {
	_, err := exec.Command("test", "-e", p).CombinedOutput()
	return err == nil
}
