package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/onestack/onestack/internal/fault"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// Images is where a host's image cache gets image data: the control
// plane, as the agent sees it.
type Images interface {
	DownloadImage(ctx context.Context, imageID string) (io.ReadCloser, hostapi.ImageFile, error)
}

// Config configures one host's driver.
type Config struct {
	// Dir holds the host's state: images/ (the image cache), guests/ (one
	// directory per guest) and the accelerator verdict.
	Dir string
	// Host names the host in messages.
	Host string
	// Binary is the QEMU system emulator (qemu-system-x86_64 on PATH when
	// empty).
	Binary string
	// Accel is the accelerator decided by Probe: "kvm" or "tcg".
	Accel Accel
	// Images downloads image data for the cache.
	Images Images
	// ShutdownTimeout is how long a guest gets to power off after an ACPI
	// power button press before it is stopped hard (Nova's
	// shutdown_timeout, 60 s when zero).
	ShutdownTimeout time.Duration
	// ShutdownRetry is how often the power button is pressed again while
	// the guest does not power off (Nova's shutdown_retry_interval, 10 s
	// when zero): a guest still booting misses a press.
	ShutdownRetry time.Duration
	// ConsoleCap bounds each guest's console log (1 MiB when zero); the
	// oldest half is dropped when it grows past it.
	ConsoleCap int64
	// Peer returns the state directory of another host on this machine,
	// for moves between them (its disks are copied or migrated live);
	// nil or false: moves to this host are refused.
	Peer func(host string) (dir string, ok bool)
	// VCPUs, MemoryMB and DiskGB override the capacity read from the host.
	VCPUs, MemoryMB, DiskGB int
	Log                     *slog.Logger
	// OpenTap opens a guest NIC's tap in the host's data plane (nil: the
	// host has none and guests with NICs fail with a message saying so).
	OpenTap func(name string) (*os.File, error)
}

// Driver runs each guest as its own qemu-system-x86_64 process, started
// with -daemonize so it outlives the agent, and finds it again through
// its pid file and QMP socket.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	version int // QEMU's version as Nova encodes it: major*1e6+minor*1e3+micro
	verText string

	imageMu sync.Mutex
	images  map[string]*sync.Mutex // image id -> its download lock

	// runMu keeps a delete from removing the runtime directory while a
	// start is about to bind its sockets in it (read-locked by starts).
	runMu sync.RWMutex

	notesMu sync.Mutex
	notes   map[string]string // server id -> what its last Ensure should tell the user
}

// New returns the driver for one host, creating its directories.
func New(cfg Config) (*Driver, error) {
	if cfg.Binary == "" {
		cfg.Binary = "qemu-system-x86_64"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 60 * time.Second
	}
	if cfg.ShutdownRetry <= 0 {
		cfg.ShutdownRetry = 10 * time.Second
	}
	if cfg.ConsoleCap <= 0 {
		cfg.ConsoleCap = 1 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Accel.Name == "" {
		cfg.Accel = Accel{Name: "tcg", Reason: "no accelerator probe ran"}
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%s not found: install Debian's qemu-system-x86 package (apt-get install qemu-system-x86 qemu-utils)", cfg.Binary)
	}
	cfg.Binary = bin
	// Paths handed to QEMU must be absolute: it resolves an overlay's
	// relative backing file against the overlay's own directory.
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, fmt.Errorf("host directory: %w", err)
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return nil, fmt.Errorf("qemu-img not found: install Debian's qemu-utils package")
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "images"), filepath.Join(cfg.Dir, "guests")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create host directory: %w", err)
		}
	}
	d := &Driver{cfg: cfg, log: cfg.Log.With("hypervisor", "qemu", "accel", cfg.Accel.Name), images: map[string]*sync.Mutex{}, notes: map[string]string{}}
	d.verText, d.version = qemuVersion(bin)
	return d, nil
}

var versionRE = regexp.MustCompile(`version (\d+)\.(\d+)\.(\d+)`)

func qemuVersion(bin string) (string, int) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown", 0
	}
	first, _, _ := strings.Cut(string(out), "\n")
	m := versionRE.FindStringSubmatch(first)
	if m == nil {
		return first, 0
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return first, a*1000000 + b*1000 + c
}

// SetOpenTap installs how guest NICs' taps are opened (the host's data
// plane), before the agent runs.
func (d *Driver) SetOpenTap(open func(name string) (*os.File, error)) { d.cfg.OpenTap = open }

// Info describes the host: its CPUs, memory and the disk of its state
// directory, and which accelerator runs guests and why.
func (d *Driver) Info(context.Context) (hostapi.HostInfo, error) {
	vcpus, mem, disk := d.cfg.VCPUs, d.cfg.MemoryMB, d.cfg.DiskGB
	if vcpus == 0 {
		vcpus = runtime.NumCPU()
	}
	if mem == 0 {
		mem = hostMemoryMB()
	}
	if disk == 0 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.cfg.Dir, &st); err == nil {
			disk = int(st.Blocks * uint64(st.Bsize) >> 30)
		}
	}
	model, vendor := cpuModel()
	info, _ := json.Marshal(map[string]any{
		"arch": "x86_64", "model": model, "vendor": vendor,
		"topology": map[string]int{"cells": 1, "sockets": 1, "cores": vcpus, "threads": 1},
		"features": []string{}, "accel": d.cfg.Accel.Name, "accel_reason": d.cfg.Accel.Reason,
		"emulator": d.verText,
	})
	return hostapi.HostInfo{
		HypervisorType: "QEMU", HypervisorVersion: d.version, HostIP: "127.0.0.1",
		VCPUs: vcpus, MemoryMB: mem, DiskGB: disk, CPUInfo: string(info),
	}, nil
}

func hostMemoryMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}

func cpuModel() (model, vendor string) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown", "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "vendor_id":
			if vendor == "" {
				vendor = strings.TrimSpace(v)
			}
		}
	}
	return model, vendor
}

// List returns the guests that have a directory on this host, and caps
// their console logs on the way (List runs at every resync).
func (d *Driver) List(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.cfg.Dir, "guests"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
			d.capConsole(e.Name())
		}
	}
	return ids, nil
}

// Delete stops the guest hard and removes everything it has on the host:
// process, disks, sockets, logs.
func (d *Driver) Delete(ctx context.Context, id string) error {
	g := d.guest(id)
	if err := g.kill(ctx); err != nil {
		return err
	}
	fault.Point(fault.QemuDeleting)
	_ = os.Remove(g.qmpSock())
	_ = os.Remove(g.serialSock())
	d.runMu.Lock()
	_ = os.Remove(d.runDir()) // only when no other guest's sockets are in it
	d.runMu.Unlock()
	if err := os.RemoveAll(g.dir); err != nil {
		return fmt.Errorf("remove guest files in %s: %w", g.dir, err)
	}
	d.log.Info("guest deleted", "server_id", id)
	return nil
}

// Ensure makes the guest match desired: its disks prepared, its process
// running, paused, suspended or stopped, and a task (reboot, rebuild)
// done once.
func (d *Driver) Ensure(ctx context.Context, want hostapi.Guest) (string, error) {
	g := d.guest(want.ServerID)
	g.times.Began = time.Now()
	_, statErr := os.Stat(g.dir)
	firstBoot := os.IsNotExist(statErr)
	g.fresh = firstBoot
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return hostapi.PowerAbsent, hostapi.CloudFault("create the guest's directory", fmt.Errorf("create guest directory on %s: %w", d.cfg.Host, err))
	}
	spec, _ := g.readSpec()
	switch want.Task {
	case "rebuilding":
		if err := g.kill(ctx); err != nil {
			return g.power(ctx), hostapi.CloudFault("stop the guest for the rebuild", err)
		}
		if err := g.removeDisks(); err != nil {
			return hostapi.PowerShutdown, hostapi.CloudFault("remove the old disks for the rebuild", err)
		}
		spec = guestSpec{}
	case "rebooting_hard":
		// As Nova's libvirt driver: the guest's process is destroyed and
		// started again (a new QEMU, whatever state the old one was in).
		if err := g.kill(ctx); err != nil {
			return g.power(ctx), hostapi.CloudFault("stop the guest for the hard reboot", fmt.Errorf("hard reboot of the guest failed: %w", err))
		}
		d.log.Info("guest stopped for a hard reboot", "server_id", want.ServerID)
	case "rebooting":
		if g.power(ctx) == hostapi.PowerRunning {
			if err := d.shutdown(ctx, g); err != nil {
				return g.power(ctx), hostapi.CloudFault("power off the guest for the reboot", err)
			}
		}
	}
	if spec.Flavor != want.Flavor && spec.Image != "" {
		// Resized on this host: restart with the new shape, disks grown.
		if err := g.kill(ctx); err != nil {
			return g.power(ctx), hostapi.CloudFault("stop the guest for the resize", err)
		}
	}
	if want.MovingFrom != "" && spec.Image == "" {
		if want.Task == "migrating" {
			power, err := d.migrateIn(ctx, g, want)
			return power, hostapi.CloudFault("migrate the guest live from "+want.MovingFrom, err)
		}
		if err := d.copyIn(ctx, g, want); err != nil {
			return g.power(ctx), hostapi.CloudFault("copy the guest's disks from "+want.MovingFrom, err)
		}
		spec, _ = g.readSpec()
	}
	t0 := time.Now()
	if err := d.prepare(ctx, g, want, spec); err != nil {
		return g.power(ctx), err
	}
	g.times.Disks = time.Since(t0) - g.times.Image
	fault.Point(fault.QemuDisksReady)
	power, err := d.converge(ctx, g, want)
	if firstBoot && err == nil && g.times.Qemu > 0 {
		g.recordBoot()
	}
	return power, err
}

// converge moves the guest's power state to the desired one.
func (d *Driver) converge(ctx context.Context, g *guest, want hostapi.Guest) (string, error) {
	target := want.Power
	if target == "" || target == hostapi.PowerAbsent {
		target = hostapi.PowerRunning
	}
	have := g.power(ctx)
	if have == target {
		return have, nil
	}
	if want.Task == "" && !g.fresh && !want.Recover && target == hostapi.PowerRunning && have == hostapi.PowerShutdown {
		// Nothing asked for a start: the guest powered itself off or its
		// process ended. As Nova's power state sync, report it off (the
		// server becomes SHUTOFF) instead of starting it behind the
		// user's back. (An agent's first pass after it starts restarts
		// such guests instead: the host or the agent was down.)
		d.log.Warn("guest is off though it should run (it powered off or its process ended); reporting it SHUTOFF", "server_id", want.ServerID)
		return have, nil
	}
	if want.Away && target != hostapi.PowerShutdown {
		// Moving off this host: the destination runs it now or soon; a
		// copy here must never run again (two guests, one disk).
		return have, nil
	}
	var err error
	switch target {
	case hostapi.PowerRunning:
		switch have {
		case hostapi.PowerPaused:
			err = g.call(ctx, "cont", nil)
		case hostapi.PowerSuspended:
			err = d.start(ctx, g, want, true)
		default:
			err = d.start(ctx, g, want, false)
		}
	case hostapi.PowerPaused:
		if have != hostapi.PowerRunning {
			if err = d.start(ctx, g, want, have == hostapi.PowerSuspended); err != nil {
				break
			}
		}
		err = g.call(ctx, "stop", nil)
	case hostapi.PowerShutdown:
		if have == hostapi.PowerSuspended {
			err = os.Remove(g.stateFile()) // Nova drops a suspended guest's memory on stop
		} else {
			err = d.shutdown(ctx, g)
		}
	case hostapi.PowerSuspended:
		if have == hostapi.PowerShutdown {
			return have, fmt.Errorf("cannot suspend a stopped guest; start it first")
		}
		err = d.suspend(ctx, g)
	default:
		return have, fmt.Errorf("unknown desired power state %q", target)
	}
	now := g.power(ctx)
	if err != nil {
		return now, hostapi.CloudFault(powerSteps[target], err)
	}
	d.log.Info("guest power changed", "server_id", want.ServerID, "from", have, "to", now)
	return now, nil
}

// powerSteps names the step of a change to each power state, for faults.
var powerSteps = map[string]string{
	hostapi.PowerRunning:   "start the guest",
	hostapi.PowerPaused:    "pause the guest",
	hostapi.PowerShutdown:  "power off the guest",
	hostapi.PowerSuspended: "suspend the guest",
}

// shutdown presses the guest's ACPI power button and waits up to the
// shutdown timeout for it to power off, pressing again every retry
// interval (as Nova's libvirt driver: a guest still booting has no ACPI
// handler yet and misses a press), then stops it hard and leaves a note
// saying so for the server's events.
func (d *Driver) shutdown(ctx context.Context, g *guest) error {
	pid := g.pid()
	if pid == 0 {
		return nil
	}
	if st, _ := g.status(ctx); st == "running" {
		deadline := time.Now().Add(d.cfg.ShutdownTimeout)
		presses := 0
		for left := time.Until(deadline); left > 0; left = time.Until(deadline) {
			if err := g.call(ctx, "system_powerdown", nil); err != nil {
				if !alive(pid) {
					break // it powered off just now
				}
				d.log.Warn("cannot press the guest's power button", "server_id", g.id, "error", err)
			}
			presses++
			if waitExit(ctx, pid, min(d.cfg.ShutdownRetry, left)) {
				g.clearPid()
				if presses > 1 {
					d.log.Info("guest powered off after the power button was pressed again", "server_id", g.id, "presses", presses)
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if !alive(pid) {
			g.clearPid()
			return nil
		}
		note := fmt.Sprintf("the guest did not shut down within %s; powered off", seconds(d.cfg.ShutdownTimeout))
		d.log.Warn(note+" (it ignored the ACPI power button)", "server_id", g.id, "presses", presses)
		if err := g.kill(ctx); err != nil {
			return err
		}
		d.setNote(g.id, note)
		return nil
	}
	return g.kill(ctx)
}

// seconds writes a duration as Nova's options are given: "60 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

func (d *Driver) setNote(id, note string) {
	d.notesMu.Lock()
	defer d.notesMu.Unlock()
	if d.notes == nil {
		d.notes = map[string]string{}
	}
	d.notes[id] = note
}

// TakeNote returns, once, what the user should know about how the
// guest's last Ensure went although it succeeded ("the guest did not shut
// down within 60 s; powered off"), or "".
func (d *Driver) TakeNote(id string) string {
	d.notesMu.Lock()
	defer d.notesMu.Unlock()
	n := d.notes[id]
	delete(d.notes, id)
	return n
}

// suspend saves the guest's memory to a state file and stops its process
// (libvirt's managed save); starting it again restores the memory.
func (d *Driver) suspend(ctx context.Context, g *guest) error {
	if err := g.call(ctx, "stop", nil); err != nil {
		return fmt.Errorf("pause before suspend: %w", err)
	}
	tmp := g.stateFile() + ".tmp"
	_ = os.Remove(tmp)
	if err := g.call(ctx, "migrate", map[string]any{"uri": "exec:cat > " + shellQuote(tmp)}); err != nil {
		_ = g.call(ctx, "cont", nil)
		return fmt.Errorf("save the guest's memory: %w", err)
	}
	for {
		raw, err := g.callRaw(ctx, "query-migrate", nil)
		if err != nil {
			return fmt.Errorf("save the guest's memory: %w", err)
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		_ = json.Unmarshal(raw, &st)
		switch st.Status {
		case "completed":
			if err := os.Rename(tmp, g.stateFile()); err != nil {
				return err
			}
			return g.kill(ctx)
		case "failed", "cancelled":
			_ = os.Remove(tmp)
			_ = g.call(ctx, "cont", nil)
			return fmt.Errorf("saving the guest's memory failed: %s; check free disk space in %s", st.ErrorDesc, g.dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ConsoleOutput returns the guest's console log (at most the cap).
func (d *Driver) ConsoleOutput(id string) (string, error) {
	g := d.guest(id)
	d.capConsole(id)
	b, err := os.ReadFile(g.consoleLog())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

// capConsole keeps a console log under the cap by dropping its oldest
// half. QEMU appends with O_APPEND, so it carries on at the new end.
func (d *Driver) capConsole(id string) {
	path := d.guest(id).consoleLog()
	st, err := os.Stat(path)
	if err != nil || st.Size() <= d.cfg.ConsoleCap {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	keep := b[len(b)-int(d.cfg.ConsoleCap/2):]
	if i := strings.IndexByte(string(keep), '\n'); i >= 0 {
		keep = keep[i+1:]
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(keep)
}

// waitExit waits until the process pid is gone, up to timeout.
func waitExit(ctx context.Context, pid int, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !alive(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return !alive(pid)
		case <-tick.C:
		}
	}
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// SerialConsole connects to a running guest's serial port (QEMU serves
// one client at a time; what the guest prints also goes to its console
// log).
func (d *Driver) SerialConsole(ctx context.Context, id string) (net.Conn, error) {
	g := d.guest(id)
	if g.pid() == 0 {
		return nil, fmt.Errorf("the guest is not running")
	}
	var dialer net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return dialer.DialContext(ctx, "unix", g.serialSock())
}
