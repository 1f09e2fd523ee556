package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestVolumeGuests drives Cinder volumes through real guests with the
// openstack CLI: a blank volume attached live to a running guest, which
// writes to it; detached (the guest lets the PCIe device go) and attached
// to a second guest, which reads the same bytes; deleting it while in use
// is refused; a snapshot of it in use and a volume from the snapshot; a
// bootable volume made from the tiny image boots a server (no image disk),
// and deleting the server leaves the volume available. It logs the figures
// of docs/performance: create → available, attach → visible in the guest,
// and sequential dd in the guest through the attachment vs on the host.
func TestVolumeGuests(t *testing.T) {
	requireQemu(t)
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		t.Skip("qemu-storage-daemon not installed (Debian's qemu-system-common)")
	}
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "1")
	t.Cleanup(func() { killGuests(t, c.DataDir); killStorageDaemon(t, c.DataDir) })
	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	dir := t.TempDir()

	img := filepath.Join(dir, "tiny.qcow2")
	build := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare", "--public", "tiny")
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "g.tiny")
	// vm-b has a local ephemeral disk too, to compare the attachment with.
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "--ephemeral", "1", "g.eph")

	// A blank 1 GiB volume: create → available.
	t0 := time.Now()
	vol := strings.TrimSpace(MustRun(t, admin, "volume", "create", "--size", "1", "-f", "value", "-c", "id", "data").Stdout)
	waitVolume(t, admin, "data", "available")
	t.Logf("figure: volume create 1 GiB blank -> available: %s", time.Since(t0).Round(time.Millisecond))

	for name, flavor := range map[string]string{"vm-a": "g.tiny", "vm-b": "g.eph"} {
		var srv map[string]any
		RunJSON(t, nova, &srv, "server", "create", "--image", "tiny", "--flavor", flavor, "--nic", "none", "--wait", name)
		if srv["status"] != "ACTIVE" {
			t.Fatalf("server create %s --wait ended %v (fault %v)", name, srv["status"], srv["fault"])
		}
		waitConsole(t, nova, name, 1)
	}

	// Attach live; the guest finds the disk by its serial (the volume id)
	// and writes to it.
	t0 = time.Now()
	MustRun(t, nova, "server", "add", "volume", "vm-a", "data")
	dev := guestShell(t, nova, "vm-a", findVolume(vol)+`; echo "found:$d"`, `found:(/dev/vd[a-z]+)`)
	t.Logf("figure: attach -> visible in the guest (%s): %s", dev, time.Since(t0).Round(time.Millisecond))
	waitVolume(t, admin, "data", "in-use")
	var va []struct {
		ID       string `json:"ID"`
		Device   string `json:"Device"`
		ServerID string `json:"Server ID"`
		VolumeID string `json:"Volume ID"`
	}
	RunJSON(t, nova, &va, "server", "volume", "list", "vm-a")
	if len(va) != 1 || va[0].VolumeID != vol || !strings.HasPrefix(va[0].Device, "/dev/vd") {
		t.Errorf("server volume list vm-a = %+v, want the volume at a /dev/vdX", va)
	}
	var show map[string]any
	RunJSON(t, nova, &show, "server", "show", "vm-a")
	if !strings.Contains(fmt.Sprint(show["volumes_attached"]), vol) {
		t.Errorf("server show: volumes_attached = %v, want %s", show["volumes_attached"], vol)
	}
	if got := guestShell(t, nova, "vm-a", findVolume(vol)+`; echo written-by-vm-a | dd of=$d bs=512 conv=sync,fsync 2>/dev/null; echo "wrote:$?"`, `wrote:(\d+)`); got != "0" {
		t.Fatalf("the guest's write to the volume failed: %s", got)
	}

	// In use: a delete is refused, saying why.
	if r := Run(t, admin, "volume", "delete", "data"); r.Code == 0 || !strings.Contains(r.Stderr, "in-use") {
		t.Errorf("volume delete of an attached volume: %s; want a refusal naming its status", r)
	}
	// A snapshot of the volume in use, and a volume from it.
	MustRun(t, admin, "volume", "snapshot", "create", "--volume", "data", "--force", "data-snap")
	waitSnapshot(t, admin, "data-snap", "available")
	MustRun(t, admin, "volume", "create", "--snapshot", "data-snap", "from-snap")
	waitVolume(t, admin, "from-snap", "available")

	// Detach: the guest releases the disk, the volume is available again.
	MustRun(t, nova, "server", "remove", "volume", "vm-a", "data")
	waitVolume(t, admin, "data", "available")
	if got := guestShell(t, nova, "vm-a", `echo "left:$(cat /sys/block/vd*/serial | grep -c `+vol[:20]+`)"`, `left:(\d+)`); got != "0" {
		t.Errorf("after detach vm-a still has the volume (%s disks with its serial)", got)
	}

	// The second guest reads what the first wrote.
	MustRun(t, nova, "server", "add", "volume", "vm-b", "data")
	waitVolume(t, admin, "data", "in-use")
	if got := guestShell(t, nova, "vm-b", findVolume(vol)+`; echo "read:$(dd if=$d bs=15 count=1 2>/dev/null)"`, `read:([a-z-]+)`); got != "written-by-vm-a" {
		t.Errorf("vm-b reads %q from the volume, want vm-a's bytes", got)
	}

	// The figure: sequential dd in the guest through the attachment vs the
	// host on a file of the same pool directory.
	ddBench(t, nova, "vm-b", vol, c.DataDir)
	apiFigures(t, c, admin, nova, "vm-a")

	MustRun(t, nova, "server", "remove", "volume", "vm-b", "data")
	waitVolume(t, admin, "data", "available")

	// Boot from a bootable volume made from the image.
	MustRun(t, admin, "volume", "create", "--image", "tiny", "--size", "1", "--bootable", "root")
	waitVolume(t, admin, "root", "available")
	var srv map[string]any
	RunJSON(t, nova, &srv, "server", "create", "--volume", "root", "--flavor", "g.tiny", "--nic", "none", "--wait", "vm-c")
	if srv["status"] != "ACTIVE" {
		t.Fatalf("server create --volume --wait ended %v (fault %v)", srv["status"], srv["fault"])
	}
	waitConsole(t, nova, "vm-c", 1)
	waitVolume(t, admin, "root", "in-use")
	if r := Run(t, nova, "server", "remove", "volume", "vm-c", "root"); r.Code == 0 || !strings.Contains(r.Stderr, "root device") {
		t.Errorf("detaching the root volume: %s; want a refusal", r)
	}
	MustRun(t, nova, "server", "delete", "--wait", "vm-c")
	waitVolume(t, admin, "root", "available")

	// Boot from an image-backed new volume, deleted with the server.
	RunJSON(t, nova, &srv, "server", "create", "--image", "tiny", "--boot-from-volume", "1", "--flavor", "g.tiny", "--nic", "none", "--wait", "vm-d")
	if srv["status"] != "ACTIVE" {
		t.Fatalf("server create --boot-from-volume --wait ended %v (fault %v)", srv["status"], srv["fault"])
	}
	waitConsole(t, nova, "vm-d", 1)
	var vols []struct {
		ID     string `json:"ID"`
		Status string `json:"Status"`
	}
	RunJSON(t, admin, &vols, "volume", "list")
	if len(vols) != 4 {
		t.Errorf("volume list: %+v, want data, from-snap, root and vm-d's root", vols)
	}
	// The CLI's --boot-from-volume keeps the volume (Nova's default
	// delete_on_termination false): deleting vm-d leaves it available.
	MustRun(t, nova, "server", "delete", "--wait", "vm-a", "vm-b", "vm-d")
	for _, v := range vols {
		waitVolume(t, admin, v.ID, "available")
	}
}

// findVolume is guest shell code that sets $d to the disk whose serial is
// the volume id (its first 20 characters), waiting for a hot-plug.
func findVolume(id string) string {
	return fmt.Sprintf(`d=; i=0; while [ $i -lt 40 ]; do for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = "%s" ] && d=/dev/${b##*/}; done; [ -n "$d" ] && break; i=$((i+1)); sleep 0.5; done`, id[:20])
}

// guestShell runs a command on a server's serial console and returns the
// first group of re in its output (the command's echo does not match),
// keeping the console open until then (a console closed early can cut
// the input short).
func guestShell(t *testing.T, env Env, server, cmd, re string) string {
	t.Helper()
	return guestShellURL(t, consoleURL(t, env, server), server, cmd, re, nil)
}

func consoleURL(t *testing.T, env Env, server string) string {
	t.Helper()
	var cu struct {
		URL string `json:"url"`
	}
	RunJSON(t, env, &cu, "console", "url", "show", "--serial", server)
	return cu.URL
}

// guestShellURL is guestShell on a console URL; before, when set, runs once
// the console is connected, just before the command is sent.
func guestShellURL(t *testing.T, url, server, cmd, re string, before func()) string {
	t.Helper()
	rx := regexp.MustCompile(re + `\r?\n`) // a whole line: reads can end mid-line
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatalf("dial the serial console %s: %v", url, err)
	}
	defer ws.CloseNow()
	if before != nil {
		before()
	}
	for _, in := range []string{"\n", cmd + "\n"} {
		if err := ws.Write(ctx, websocket.MessageBinary, []byte(in)); err != nil {
			t.Fatalf("write to the serial console: %v", err)
		}
	}
	var got strings.Builder
	for {
		if m := rx.FindStringSubmatch(got.String()); m != nil {
			ws.Close(websocket.StatusNormalClosure, "")
			return m[1]
		}
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("%s: no %s on the serial console after %q (%v):\n%s", server, re, cmd, err, got.String())
		}
		got.Write(data)
	}
}

func waitVolume(t *testing.T, env Env, name, want string) {
	t.Helper()
	st := ""
	for i := 0; i < 120; i++ {
		st = strings.TrimSpace(MustRun(t, env, "volume", "show", name, "-f", "value", "-c", "status").Stdout)
		if st == want {
			return
		}
		if strings.HasPrefix(st, "error") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("volume %s is %s, want %s: %s", name, st, want, MustRun(t, env, "volume", "show", name).Stdout)
}

func waitSnapshot(t *testing.T, env Env, name, want string) {
	t.Helper()
	st := ""
	for i := 0; i < 60 && st != want; i++ {
		st = strings.TrimSpace(MustRun(t, env, "volume", "snapshot", "show", name, "-f", "value", "-c", "status").Stdout)
		if st != want {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if st != want {
		t.Fatalf("snapshot %s is %s, want %s", name, st, want)
	}
}

// ddBench logs 64 MiB sequential write and read rates: in the guest
// through the attached volume, and on the host to a file in the pool's
// directory (both synced; reads after dropping the page cache). Twice:
// buffered (the guest's page cache copies every byte, which TCG emulates
// instruction by instruction) and with O_DIRECT on both sides (the bytes
// move by virtio DMA in QEMU's native code, as they would under KVM).
func ddBench(t *testing.T, env Env, server, vol, dataDir string) {
	t.Helper()
	const mb = 64
	size := mb // MiB moved by the dd being timed
	run := func(tag, op string) float64 {
		// busybox's date has no %N: /proc/uptime in centiseconds.
		cmd := fmt.Sprintf(`%s; sync; echo 3 > /proc/sys/vm/drop_caches; s=$(tr -d . </proc/uptime | cut -d' ' -f1); if %s; then e=$(tr -d . </proc/uptime | cut -d' ' -f1); echo "ms-%s:$(( (e-s)*10 ))"; else echo "ms-%s:-1"; fi`, findVolume(vol), op, tag, tag)
		ms, err := strconv.Atoi(guestShell(t, env, server, cmd, `ms-`+tag+`:(-?\d+)`))
		if err != nil || ms <= 0 {
			t.Fatalf("guest dd %s (%s): %d ms, %v", tag, op, ms, err)
		}
		return float64(size) / (float64(ms) / 1000)
	}
	gw := run("w", fmt.Sprintf("dd if=/dev/zero of=$d bs=1M count=%d conv=fsync 2>/dev/null", mb))
	gr := run("r", fmt.Sprintf("dd if=$d of=/dev/null bs=1M count=%d 2>/dev/null", mb))
	// The guest's local ephemeral disk (a qcow2 file on the host, no NBD):
	// /dev/vdb, the second disk, without a serial.
	if got := guestShell(t, env, server, `echo "eph:$(cat /sys/block/vdb/serial)x$(cat /sys/block/vdb/size)"`, `eph:(\S+)`); got != "x2097152" {
		t.Fatalf("vm-b's /dev/vdb is not its 1 GiB ephemeral disk: %q", got)
	}
	lw := run("lw", fmt.Sprintf("d=/dev/vdb; dd if=/dev/zero of=$d bs=1M count=%d conv=fsync 2>/dev/null", mb))
	lr := run("lr", fmt.Sprintf("d=/dev/vdb; dd if=$d of=/dev/null bs=1M count=%d 2>/dev/null", mb))

	f := filepath.Join(dataDir, "volumes", "dd-bench.raw")
	defer os.Remove(f)
	host := func(args ...string) float64 {
		t0 := time.Now()
		if out, err := exec.Command("dd", args...).CombinedOutput(); err != nil {
			t.Fatalf("host dd: %v %s", err, out)
		}
		return float64(size) / time.Since(t0).Seconds()
	}
	hw := host("if=/dev/zero", "of="+f, "bs=1M", fmt.Sprint("count=", mb), "conv=fsync")
	hr := host("if="+f, "of=/dev/null", "bs=1M", fmt.Sprint("count=", mb), "iflag=direct")
	t.Logf("figure: sequential write %d MiB: guest via NBD %.0f MB/s, host %.0f MB/s (%.0f%%), guest local qcow2 disk %.0f MB/s (NBD %.0f%% of it)", mb, gw, hw, 100*gw/hw, lw, 100*gw/lw)
	t.Logf("figure: sequential read %d MiB: guest via NBD %.0f MB/s, host %.0f MB/s (%.0f%%), guest local qcow2 disk %.0f MB/s (NBD %.0f%% of it)", mb, gr, hr, 100*gr/hr, lr, 100*gr/lr)

	// O_DIRECT, 4 MiB blocks, on both sides (busybox's dd has oflag=direct);
	// 256 MiB, as the rates are higher and the guest's clock is in 10 ms.
	size = 256
	count := fmt.Sprint("count=", size/4)
	dw := run("dw", "dd if=/dev/zero of=$d bs=4M "+count+" oflag=direct conv=fsync 2>/dev/null")
	dr := run("dr", "dd if=$d of=/dev/null bs=4M "+count+" iflag=direct 2>/dev/null")
	hdw := host("if=/dev/zero", "of="+f, "bs=4M", count, "oflag=direct", "conv=fsync")
	hdr := host("if="+f, "of=/dev/null", "bs=4M", count, "iflag=direct")
	t.Logf("figure: O_DIRECT sequential write %d MiB: guest via NBD %.0f MB/s, host %.0f MB/s (%.0f%%)", size, dw, hdw, 100*dw/hdw)
	t.Logf("figure: O_DIRECT sequential read %d MiB: guest via NBD %.0f MB/s, host %.0f MB/s (%.0f%%)", size, dr, hdr, 100*dr/hdr)
}

// killStorageDaemon ends the pool's qemu-storage-daemon if the cloud left
// it running (it is stopped on a clean shutdown).
func killStorageDaemon(t *testing.T, dataDir string) {
	abs, _ := filepath.Abs(filepath.Join(dataDir, "volumes"))
	sum := sha256.Sum256([]byte("volumes:" + abs))
	run := filepath.Join("/run/onestack", hex.EncodeToString(sum[:4]))
	b, err := os.ReadFile(filepath.Join(run, "qsd.pid"))
	if err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmd), run) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = os.RemoveAll(run)
}

// apiFigures measures through the APIs (no CLI start-up in the figures):
// a blank 1 GiB volume created → available, and an attach → the disk
// visible in a running guest.
func apiFigures(t *testing.T, c *Cloud, admin, nova Env, server string) {
	t.Helper()
	a := c.AdminAPI(t)
	project := strings.TrimSpace(MustRun(t, admin, "token", "issue", "-f", "value", "-c", "project_id").Stdout)
	sid := strings.TrimSpace(MustRun(t, nova, "server", "show", "-f", "value", "-c", "id", server).Stdout)
	base := "/volume/v3/" + project + "/volumes"
	var created struct {
		Volume struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"volume"`
	}
	t0 := time.Now()
	a.do("POST", base, nil, map[string]any{"volume": map[string]any{"size": 1, "name": "figure"}}, &created, http.StatusAccepted)
	id := created.Volume.ID
	for created.Volume.Status != "available" {
		if time.Since(t0) > time.Minute || strings.HasPrefix(created.Volume.Status, "error") {
			t.Fatalf("volume %s is %s", id, created.Volume.Status)
		}
		time.Sleep(5 * time.Millisecond)
		a.do("GET", base+"/"+id, nil, nil, &created, http.StatusOK)
	}
	t.Logf("figure (API): volume create 1 GiB blank -> available: %s", time.Since(t0).Round(time.Millisecond))

	url := consoleURL(t, nova, server)
	mv := http.Header{"OpenStack-API-Version": {"compute 2.79"}}
	dev := guestShellURL(t, url, server, findVolume(id)+`; echo "seen:$d"`, `seen:(/dev/vd[a-z]+)`, func() {
		t0 = time.Now()
		a.do("POST", "/compute/v2.1/servers/"+sid+"/os-volume_attachments", mv,
			map[string]any{"volumeAttachment": map[string]any{"volumeId": id}}, nil, http.StatusOK)
	})
	t.Logf("figure (API): attach -> visible in the guest as %s: %s", dev, time.Since(t0).Round(time.Millisecond))
	for created.Volume.Status != "in-use" && time.Since(t0) < time.Minute {
		time.Sleep(20 * time.Millisecond)
		a.do("GET", base+"/"+id, nil, nil, &created, http.StatusOK)
	}
	t.Logf("figure (API): attach -> volume in-use: %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	a.do("DELETE", "/compute/v2.1/servers/"+sid+"/os-volume_attachments/"+id, mv, nil, nil, http.StatusAccepted)
	for created.Volume.Status != "available" && time.Since(t0) < time.Minute {
		time.Sleep(20 * time.Millisecond)
		a.do("GET", base+"/"+id, nil, nil, &created, http.StatusOK)
	}
	t.Logf("figure (API): detach -> volume available: %s", time.Since(t0).Round(time.Millisecond))
	a.do("DELETE", base+"/"+id, nil, nil, nil, http.StatusAccepted)
}
