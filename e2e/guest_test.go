package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestRealGuests boots the tiny image as real QEMU guests (software
// emulation: this machine's /dev/kvm cannot run stock guests) through the
// Nova API with the openstack CLI, and checks what a user would: the guest
// prints its ready line on the console log, stop/start/reboot really
// power-cycle it, a snapshot boots, killing onestack leaves guests running
// and a restart adopts them with no duplicate, and deleting leaves nothing.
func TestRealGuests(t *testing.T) {
	requireQemu(t)
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "1")
	t.Cleanup(func() { killGuests(t, c.DataDir) })
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
	MustRun(t, admin, "keypair", "create", "--public-key", writeKey(t, dir), "ops")
	userData := filepath.Join(dir, "user-data")
	if err := os.WriteFile(userData, []byte("#!/bin/sh\necho user-data-says-$((6*7))\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var hvs []struct {
		Type string `json:"Hypervisor Type"`
	}
	RunJSON(t, admin, &hvs, "hypervisor", "list")
	if len(hvs) != 1 || hvs[0].Type != "QEMU" {
		t.Fatalf("hypervisor list = %+v, want one QEMU host", hvs)
	}

	var srv map[string]any
	RunJSON(t, nova, &srv, "server", "create", "--image", "tiny", "--flavor", "g.tiny", "--key-name", "ops", "--nic", "none",
		"--config-drive", "true", "--user-data", userData, "--wait", "vm-1")
	if srv["status"] != "ACTIVE" {
		t.Fatalf("server create --wait ended %v (fault %v)", srv["status"], srv["fault"])
	}
	id := srv["id"].(string)
	console := waitConsole(t, nova, "vm-1", 1)
	for _, want := range []string{"user-data-says-42", "vm-1"} {
		if !strings.Contains(console, want) {
			t.Errorf("console log lacks %q (from the config drive's user data and hostname):\n%s", want, console)
		}
	}
	pid := guestPIDs(t, id)
	if len(pid) != 1 {
		t.Fatalf("qemu processes of %s: %v, want exactly one", id, pid)
	}

	// The interactive serial console: a websocket URL from the CLI, on
	// which the guest's root shell answers.
	var cu struct {
		URL string `json:"url"`
	}
	RunJSON(t, nova, &cu, "console", "url", "show", "--serial", "vm-1")
	if got := serialExchange(t, cu.URL, "echo serial-says-$((40+2))\n", "serial-says-42"); !strings.Contains(got, "serial-says-42") {
		t.Errorf("the serial console at %s answered %q, want the shell's echo", cu.URL, got)
	}
	if r := Run(t, nova, "console", "url", "show", "--novnc", "vm-1"); r.Code == 0 || !strings.Contains(r.Stderr, "Unavailable console type novnc") {
		t.Errorf("console url show --novnc: %s; want 400 Unavailable console type", r)
	}

	// Stop powers the guest off (its process ends); start boots it again.
	MustRun(t, nova, "server", "stop", "vm-1")
	if st := waitStatusWithin(t, nova, "vm-1", "SHUTOFF", stopDeadline); st != "SHUTOFF" {
		t.Fatalf("after stop: %s, want SHUTOFF", st)
	}
	if p := guestPIDs(t, id); len(p) != 0 {
		t.Errorf("a stopped server still has qemu processes %v", p)
	}
	MustRun(t, nova, "server", "start", "vm-1")
	if st := waitStatus(t, nova, "vm-1", "ACTIVE"); st != "ACTIVE" {
		t.Fatalf("after start: %s, want ACTIVE", st)
	}
	waitConsole(t, nova, "vm-1", 2)

	// A soft reboot powers the guest down through ACPI and boots it again;
	// a hard reboot resets it. Each boot prints the ready line once more.
	MustRun(t, nova, "server", "reboot", "--wait", "vm-1")
	waitConsole(t, nova, "vm-1", 3)
	MustRun(t, nova, "server", "reboot", "--hard", "--wait", "vm-1")
	waitConsole(t, nova, "vm-1", 4)
	if st := waitStatus(t, nova, "vm-1", "ACTIVE"); st != "ACTIVE" {
		t.Fatalf("after reboots: %s, want ACTIVE", st)
	}

	// Snapshot the running guest, boot a second server from it.
	MustRun(t, nova, "server", "image", "create", "--name", "vm-1-snap", "--wait", "vm-1")
	var snap struct {
		Status     string `json:"status"`
		DiskFormat string `json:"disk_format"`
	}
	RunJSON(t, admin, &snap, "image", "show", "vm-1-snap")
	if snap.Status != "active" || snap.DiskFormat != "qcow2" {
		t.Fatalf("snapshot image: %+v, want an active qcow2", snap)
	}
	var srv2 map[string]any
	RunJSON(t, nova, &srv2, "server", "create", "--image", "vm-1-snap", "--flavor", "g.tiny", "--nic", "none", "--wait", "vm-2")
	if srv2["status"] != "ACTIVE" {
		t.Fatalf("server from snapshot ended %v (fault %v)", srv2["status"], srv2["fault"])
	}
	id2 := srv2["id"].(string)
	waitConsole(t, nova, "vm-2", 1)

	// kill -9 of onestack: guests keep running; the restarted agent adopts
	// them: same processes, no second one, servers still ACTIVE.
	before := map[string][]int{id: guestPIDs(t, id), id2: guestPIDs(t, id2)}
	c.Kill(t)
	for sid, p := range before {
		if now := guestPIDs(t, sid); fmt.Sprint(now) != fmt.Sprint(p) {
			t.Errorf("after kill -9 of onestack, guest %s processes %v, want %v still running", sid, now, p)
		}
	}
	// While onestack is down vm-2's guest dies too (as in a host crash):
	// the restarted agent starts it again, once.
	for _, p := range before[id2] {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	c.start(t, false)
	for _, name := range []string{"vm-1", "vm-2"} {
		if st := waitStatus(t, nova, name, "ACTIVE"); st != "ACTIVE" {
			t.Errorf("%s after restart: %s, want ACTIVE", name, st)
		}
	}
	waitConsole(t, nova, "vm-2", 2)
	if now := guestPIDs(t, id); fmt.Sprint(now) != fmt.Sprint(before[id]) {
		t.Errorf("after restart, guest %s processes %v, want the adopted %v and no other", id, now, before[id])
	}
	if now := guestPIDs(t, id2); len(now) != 1 || fmt.Sprint(now) == fmt.Sprint(before[id2]) {
		t.Errorf("after restart, guest %s processes %v, want one new process (the old %v was killed)", id2, now, before[id2])
	}

	// onestack doctor finds nothing wrong; a guest whose process dies is
	// reported SHUTOFF (as Nova's power sync), not restarted behind the
	// user's back; files of a guest without a record are reported with
	// the command that removes them.
	doctor := func() (string, bool) {
		out, err := exec.Command(c.binary, "doctor", "--data-dir", c.DataDir).CombinedOutput()
		return string(out), err == nil
	}
	if out, ok := doctor(); !ok {
		t.Errorf("onestack doctor on a healthy cloud:\n%s", out)
	}
	for _, p := range guestPIDs(t, id2) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	st := ""
	for i := 0; i < 60 && st != "SHUTOFF"; i++ {
		st = strings.TrimSpace(MustRun(t, nova, "server", "show", "vm-2", "-f", "value", "-c", "status").Stdout)
	}
	if st != "SHUTOFF" {
		t.Errorf("a server whose guest process died is %s, want SHUTOFF", st)
	}
	if p := guestPIDs(t, id2); len(p) != 0 {
		t.Errorf("the killed guest was started again: %v", p)
	}
	orphan := filepath.Join(c.DataDir, "hosts", "host-1", "guests", "00000000-0000-4000-8000-00000000dead")
	if err := os.MkdirAll(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	out, ok := doctor()
	if ok || !strings.Contains(out, "no record on this host") || !strings.Contains(out, "rm -rf "+orphan) {
		t.Errorf("onestack doctor with an orphan guest directory:\n%s\nwant it reported with its repair", out)
	}
	if err := os.RemoveAll(orphan); err != nil {
		t.Fatal(err)
	}
	if out, ok := doctor(); !ok {
		t.Errorf("onestack doctor after the repair:\n%s", out)
	}

	// Delete: no process, no file, no socket left.
	MustRun(t, nova, "server", "delete", "--wait", "vm-1", "vm-2")
	for _, sid := range []string{id, id2} {
		if p := guestPIDs(t, sid); len(p) != 0 {
			t.Errorf("deleted server %s still has qemu processes %v", sid, p)
		}
	}
	guests := filepath.Join(c.DataDir, "hosts", "host-1", "guests")
	if ents, err := os.ReadDir(guests); err != nil || len(ents) != 0 {
		t.Errorf("guest directories left after delete: %v (err %v)", ents, err)
	}

	// The boot bench runs against this cloud and reports both boots.
	bench := exec.Command(c.binary, "bench", "boot", "--cloud-url", c.URL, "--clouds-yaml", filepath.Join(c.DataDir, "clouds.yaml"),
		"--image-file", img, "--runs", "1", "--data-dir", c.DataDir, "--log-level", "warn")
	benchOut, err := bench.Output()
	if err != nil {
		t.Fatalf("onestack bench boot: %v\n%s", err, benchOut)
	}
	var res struct {
		Accel     string             `json:"accel"`
		Bare      float64            `json:"bare_qemu_to_marker_ms"`
		Cloud     float64            `json:"api_to_marker_ms"`
		Breakdown map[string]float64 `json:"breakdown_median_ms"`
	}
	if err := json.Unmarshal(benchOut, &res); err != nil || res.Accel != "tcg" || res.Bare <= 0 || res.Cloud <= 0 || res.Breakdown["qemu_start_ms"] <= 0 {
		t.Errorf("bench boot printed %s (%v); want both boot times and the breakdown", benchOut, err)
	}
	t.Logf("bench boot: %s", benchOut)
	// Its servers are deleted as it ends; their guests go (bounded wait).
	for i := 0; i < 100; i++ {
		ents, _ := os.ReadDir(guests)
		if len(ents) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the bench's guests are still on the host 10 s after it ended")
}

// waitConsole polls the console log until the ready line appears n times
// (bounded: 60 tries of ~1 s each, a TCG boot takes ~5 s) and returns it.
func waitConsole(t *testing.T, env Env, name string, n int) string {
	t.Helper()
	out := ""
	for i := 0; i < 60; i++ {
		out = MustRun(t, env, "console", "log", "show", name).Stdout
		if strings.Count(out, "onestack-guest-ready") >= n {
			return out
		}
	}
	st := MustRun(t, env, "server", "show", name, "-f", "value", "-c", "status", "-c", "fault").Stdout
	t.Fatalf("console log of %s (server: %s) shows the ready line %d times, want %d:\n%s", name, strings.TrimSpace(st), strings.Count(out, "onestack-guest-ready"), n, out)
	return out
}

// guestPIDs returns the pids of the QEMU processes started for a server
// (their command line carries -uuid ID).
func guestPIDs(t *testing.T, id string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte("\x00-uuid\x00"+id+"\x00")) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(st, []byte(") Z")) {
			continue // a zombie is not a running guest
		}
		pids = append(pids, pid)
	}
	return pids
}

// killGuests ends the guests of the cloud's in-process host: guests
// outlive onestack by design, so a failed test must end them itself.
func killGuests(t *testing.T, dataDir string) {
	killGuestsIn(t, filepath.Join(dataDir, "hosts", "host-1"))
}

// requireQemu skips without QEMU, or fails in CI, where it must be there.
func requireQemu(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"qemu-system-x86_64", "qemu-img", "genisoimage", "mkfs.fat", "mcopy", "syslinux"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing in CI: .ci/run must install it", bin)
			}
			t.Skipf("%s not installed (make host-packages installs it)", bin)
		}
	}
}

// Kill ends onestack with SIGKILL, as a crash would, and waits for it.
func (c *Cloud) Kill(t *testing.T) {
	t.Helper()
	p := c.proc
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 onestack: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("onestack did not exit after SIGKILL")
	}
}

// TestRemoteQemuAgent runs real guests on an `onestack agent` process
// that reaches the control plane over HTTP only: it downloads the image
// through the agent API, boots the guest, and after a kill -9 of the
// agent the guest is still the same process; the restarted agent adopts
// it and deletes it when the server is deleted.
func TestRemoteQemuAgent(t *testing.T) {
	requireQemu(t)
	c := StartCloud(t, "", "--hosts", "0")
	hostDir := filepath.Join(t.TempDir(), "agent")
	t.Cleanup(func() { killGuestsIn(t, hostDir) })
	dir := t.TempDir()
	img := filepath.Join(dir, "tiny.qcow2")
	if out, err := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache")).CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	startAgent := func() *exec.Cmd {
		f, err := os.OpenFile(filepath.Join(dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		a := exec.Command(c.binary, "agent", "--controller", c.URL, "--host", "remote-q", "--hypervisor", "qemu", "--accel", "tcg",
			"--data-dir", hostDir, "--clouds-yaml", filepath.Join(c.DataDir, "clouds.yaml"))
		a.Stdout, a.Stderr = f, f
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = a.Process.Kill()
			_ = a.Wait()
			f.Close()
		})
		return a
	}
	agent := startAgent()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
			t.Logf("agent log:\n%s", tail(string(b), 60))
		}
	})

	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	found := false
	for i := 0; i < 15 && !found; i++ {
		found = strings.Contains(MustRun(t, admin, "hypervisor", "list", "-f", "value", "-c", "Hypervisor Hostname", "-c", "State").Stdout, "remote-q up")
	}
	if !found {
		t.Fatal("the agent's host remote-q never appeared up in 'openstack hypervisor list'")
	}
	MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare", "--public", "tiny")
	MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "g.tiny")
	var s map[string]any
	RunJSON(t, nova, &s, "server", "create", "--image", "tiny", "--flavor", "g.tiny", "--nic", "none", "--wait", "remote-vm")
	if s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "remote-q" {
		t.Fatalf("server on the remote qemu agent: status %v host %v fault %v", s["status"], s["OS-EXT-SRV-ATTR:host"], s["fault"])
	}
	id := s["id"].(string)
	pids := guestPIDs(t, id)
	if len(pids) != 1 {
		t.Fatalf("qemu processes of %s: %v, want one", id, pids)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "images")); err != nil {
		t.Errorf("the agent has no image cache: %v", err)
	}

	// kill -9 the agent: the guest runs on; a new agent adopts it.
	if err := agent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = agent.Process.Wait()
	if now := guestPIDs(t, id); fmt.Sprint(now) != fmt.Sprint(pids) {
		t.Fatalf("after kill -9 of the agent the guest's processes are %v, want %v", now, pids)
	}
	startAgent()
	// A stop goes through the restarted agent, which must have adopted the
	// guest to power it off. The guest may still be booting (it started a
	// few seconds ago, under TCG): the stop presses its power button again
	// until it answers, and powers it off hard at the shutdown timeout.
	MustRun(t, nova, "server", "stop", "remote-vm")
	if st := waitStatusWithin(t, nova, "remote-vm", "SHUTOFF", stopDeadline); st != "SHUTOFF" {
		t.Fatalf("stop through the restarted agent: %s after %s, want SHUTOFF", st, stopDeadline)
	}
	var acts []struct {
		Action  string `json:"Action"`
		Message string `json:"Message"`
	}
	RunJSON(t, nova, &acts, "server", "event", "list", "--long", "remote-vm")
	for _, a := range acts {
		if a.Action == "stop" && a.Message != "" {
			t.Logf("the stop's action says: %s", a.Message)
		}
	}
	if now := guestPIDs(t, id); len(now) != 0 {
		t.Errorf("after stop the guest still runs as %v", now)
	}
	MustRun(t, nova, "server", "delete", "--wait", "remote-vm")
	if ents, err := os.ReadDir(filepath.Join(hostDir, "guests")); err != nil || len(ents) != 0 {
		t.Errorf("guest files left on the agent's host after delete: %v (err %v)", ents, err)
	}
}

// killGuestsIn ends the QEMU processes of a host directory and removes
// their runtime sockets (for a failed test; guests outlive agents).
func killGuestsIn(t *testing.T, hostDir string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte("qemu-system")) || !bytes.Contains(cmd, []byte(hostDir+"/")) {
			continue
		}
		t.Logf("ending guest process %d left by the test", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	sum := sha256.Sum256([]byte(hostDir))
	_ = os.RemoveAll(filepath.Join("/run/onestack", hex.EncodeToString(sum[:4])))
}

// serialExchange connects to a serial console URL, sends input and reads
// until want appears (or 30 s pass), returning what it read.
func serialExchange(t *testing.T, url, input, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatalf("dial the serial console %s: %v", url, err)
	}
	defer ws.CloseNow()
	// A newline first: the shell prints a prompt; then the command.
	for _, in := range []string{"\n", input} {
		if err := ws.Write(ctx, websocket.MessageBinary, []byte(in)); err != nil {
			t.Fatalf("write to the serial console: %v", err)
		}
	}
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		_, data, err := ws.Read(ctx)
		if err != nil {
			break
		}
		got.Write(data)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	return got.String()
}
