package qemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/qmp"
)

// guest is one guest's files and process on the host. Its state lives
// only in files, so a restarted agent finds it as it was.
type guest struct {
	d   *Driver
	id  string
	dir string
	run string // runtime directory of its sockets
	// times records where this call's boot spent its time.
	times BootTimes
	// incoming, when set, starts QEMU waiting for a migration ("defer").
	incoming string
	// fresh: this call created the guest (it never ran before).
	fresh bool
}

// BootTimes is where a guest's first start spent its time on the host,
// kept in DIR/guests/ID/boot.json for benchmarks.
type BootTimes struct {
	// Began is when the agent asked for the guest; Started when QEMU had
	// it running.
	Began, Started time.Time
	// Image is the image cache (download and checks when cold); Disks the
	// overlays and config drive; Qemu the process start.
	Image, Disks, Qemu time.Duration
}

// guestSpec is what the guest's disks were prepared for.
type guestSpec struct {
	Image       string         `json:"image"`
	ImageFormat string         `json:"image_format"`
	Flavor      hostapi.Flavor `json:"flavor"`
	ConfigDrive bool           `json:"config_drive"`
}

func (d *Driver) guest(id string) *guest {
	return d.guestIn(d.cfg.Dir, id)
}

// guestIn is a guest of the host whose state directory is hostDir: this
// one's, or a peer's on the same machine during a move.
func (d *Driver) guestIn(hostDir, id string) *guest {
	return &guest{d: d, id: id, dir: filepath.Join(hostDir, "guests", filepath.Base(id)), run: runDirFor(hostDir)}
}

func (g *guest) rootDisk() string   { return filepath.Join(g.dir, "disk") }
func (g *guest) ephDisk() string    { return filepath.Join(g.dir, "disk.eph0") }
func (g *guest) swapDisk() string   { return filepath.Join(g.dir, "disk.swap") }
func (g *guest) configDisk() string { return filepath.Join(g.dir, "disk.config") }
func (g *guest) consoleLog() string { return filepath.Join(g.dir, "console.log") }
func (g *guest) pidFile() string    { return filepath.Join(g.dir, "qemu.pid") }
func (g *guest) stateFile() string  { return filepath.Join(g.dir, "memory.state") }
func (g *guest) specFile() string   { return filepath.Join(g.dir, "spec.json") }
func (g *guest) bootFile() string   { return filepath.Join(g.dir, "boot.json") }

// Sockets live in a short runtime directory: a unix socket path is
// limited to 107 bytes and data directories can be deep.
func (g *guest) qmpSock() string     { return filepath.Join(g.run, g.id+".qmp") }
func (g *guest) serialSock() string  { return filepath.Join(g.run, g.id+".serial") }
func (g *guest) migrateSock() string { return filepath.Join(g.run, g.id+".migrate") }

func (d *Driver) runDir() string { return runDirFor(d.cfg.Dir) }

func runDirFor(hostDir string) string {
	sum := sha256.Sum256([]byte(hostDir))
	base := "/run/onestack"
	if os.Geteuid() != 0 {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("onestack-%d", os.Geteuid()))
	}
	return filepath.Join(base, hex.EncodeToString(sum[:4]))
}

func (g *guest) readSpec() (guestSpec, error) {
	var s guestSpec
	b, err := os.ReadFile(g.specFile())
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func (g *guest) writeSpec(s guestSpec) error {
	b, _ := json.Marshal(s)
	return writeFileAtomic(g.specFile(), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pid returns the guest's QEMU process, or 0 when none runs. The pid file
// alone is not proof: the process must be a QEMU started for this guest.
func (g *guest) pid() int {
	b, err := os.ReadFile(g.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmd, []byte("\x00-uuid\x00"+g.id+"\x00")) {
		return 0
	}
	return pid
}

func (g *guest) clearPid() { _ = os.Remove(g.pidFile()) }

// status asks QEMU for its run state.
func (g *guest) status(ctx context.Context) (string, error) {
	q, err := qmp.Dial(ctx, g.qmpSock())
	if err != nil {
		return "", err
	}
	defer q.Close()
	return q.Status(ctx)
}

// power is the guest's observed power state.
func (g *guest) power(ctx context.Context) string {
	if g.pid() != 0 {
		st, err := g.status(ctx)
		switch {
		case err != nil:
			return hostapi.PowerRunning // the process runs; QMP busy or slow
		case st == "paused", st == "prelaunch", st == "inmigrate", st == "postmigrate", st == "suspended", st == "save-vm", st == "restore-vm":
			return hostapi.PowerPaused
		case st == "shutdown", st == "guest-panicked", st == "internal-error", st == "io-error":
			return hostapi.PowerShutdown
		}
		return hostapi.PowerRunning
	}
	if _, err := os.Stat(g.stateFile()); err == nil {
		return hostapi.PowerSuspended
	}
	if _, err := os.Stat(g.rootDisk()); err == nil {
		return hostapi.PowerShutdown
	}
	if _, err := os.Stat(g.specFile()); err == nil {
		return hostapi.PowerShutdown // booted from a volume: no root disk here
	}
	return hostapi.PowerAbsent
}

// call runs one QMP command on the guest.
func (g *guest) call(ctx context.Context, cmd string, args any) error {
	_, err := g.callRaw(ctx, cmd, args)
	return err
}

func (g *guest) callRaw(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q, err := qmp.Dial(ctx, g.qmpSock())
	if err != nil {
		return nil, fmt.Errorf("connect to the guest's QMP socket: %w", err)
	}
	defer q.Close()
	return q.Exec(ctx, cmd, args)
}

// kill stops the guest's process at once: QMP quit, then SIGKILL.
func (g *guest) kill(ctx context.Context) error {
	pid := g.pid()
	if pid == 0 {
		g.clearPid()
		return nil
	}
	_ = g.call(ctx, "quit", nil)
	if !waitExit(ctx, pid, 5*time.Second) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("kill qemu process %d: %w", pid, err)
		}
		if !waitExit(ctx, pid, 10*time.Second) {
			return fmt.Errorf("qemu process %d of guest %s does not exit", pid, g.id)
		}
	}
	g.clearPid()
	return nil
}

// removeDisks deletes the guest's disks (for a rebuild).
func (g *guest) removeDisks() error {
	for _, p := range []string{g.rootDisk(), g.ephDisk(), g.swapDisk(), g.configDisk(), g.stateFile(), g.specFile()} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// GuestOnDisk is what a host's state directory holds for one guest, for
// checks from outside the agent (onestack doctor).
type GuestOnDisk struct {
	ID, Dir string
	// PID is the guest's QEMU process per its pid file, 0 when none runs.
	PID int
}

// Inspect lists the guests in a host's state directory.
func Inspect(hostDir string) ([]GuestOnDisk, error) {
	ents, err := os.ReadDir(filepath.Join(hostDir, "guests"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(hostDir)
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: Config{Dir: abs}}
	var out []GuestOnDisk
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		g := d.guest(e.Name())
		out = append(out, GuestOnDisk{ID: e.Name(), Dir: g.dir, PID: g.pid()})
	}
	return out, nil
}

// RemoveRuntime removes the runtime directory of a host's guests (their
// QMP and serial sockets), for `onestack cleanup` once none of its guests
// runs. It refuses while one still does.
func RemoveRuntime(hostDir string) error {
	guests, err := Inspect(hostDir)
	if err != nil {
		return err
	}
	for _, g := range guests {
		if g.PID != 0 {
			return fmt.Errorf("guest %s still runs (pid %d); stop it first", g.ID, g.PID)
		}
	}
	abs, err := filepath.Abs(hostDir)
	if err != nil {
		return err
	}
	return os.RemoveAll(runDirFor(abs))
}

// Processes returns, per server id, the QEMU processes on this machine
// whose command line names it (-uuid ID), whoever started them.
func Processes() (map[string][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte("qemu-system")) {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-uuid" {
				out[args[i+1]] = append(out[args[i+1]], pid)
			}
		}
	}
	return out, nil
}
