package qemu

import (
	"context"
	"fmt"
	"github.com/onestack/onestack/internal/fault"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// hotplugPorts is how many PCIe root ports each guest gets for devices
// added while it runs (volumes, NICs): q35 cannot hot-plug without them.
const hotplugPorts = 4

// args is the QEMU command line for a guest.
func (d *Driver) args(g *guest, want hostapi.Guest, restore bool) []string {
	cpu := "max"
	if d.cfg.Accel.Name == "kvm" {
		cpu = "host"
	}
	vcpus, ram := max(want.Flavor.VCPUs, 1), max(want.Flavor.RAM, 64)
	a := []string{
		"-name", "guest=onestack-" + g.id + ",debug-threads=on",
		"-uuid", g.id,
		"-machine", "q35,accel=" + d.cfg.Accel.Name,
		"-cpu", cpu,
		"-smp", fmt.Sprint(vcpus),
		"-m", fmt.Sprint(ram),
		"-nodefaults", "-no-user-config", "-display", "none",
		"-daemonize", "-pidfile", g.pidFile(),
		"-qmp", "unix:" + g.qmpSock() + ",server=on,wait=off",
		"-chardev", "socket,id=serial0,path=" + g.serialSock() + ",server=on,wait=off,logfile=" + g.consoleLog() + ",logappend=on",
		"-serial", "chardev:serial0",
		// cloud-init recognises an OpenStack guest by its SMBIOS product.
		"-smbios", "type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,version=onestack,serial=" + g.id + ",uuid=" + g.id + ",family=Virtual Machine",
		"-device", "virtio-rng-pci",
	}
	if _, fromVolume := want.BootVolume(); !fromVolume { // else the root disk is a volume (volumeArgs)
		a = append(a, "-drive", "file="+g.rootDisk()+",if=none,id=disk0,format=qcow2,cache=writeback,discard=unmap",
			"-device", "virtio-blk-pci,drive=disk0,bootindex=0")
	}
	if want.Flavor.Ephemeral > 0 {
		a = append(a, "-drive", "file="+g.ephDisk()+",if=none,id=disk1,format=qcow2,cache=writeback,discard=unmap",
			"-device", "virtio-blk-pci,drive=disk1")
	}
	if want.Flavor.Swap > 0 {
		a = append(a, "-drive", "file="+g.swapDisk()+",if=none,id=disk2,format=qcow2,cache=writeback,discard=unmap",
			"-device", "virtio-blk-pci,drive=disk2")
	}
	if _, err := os.Stat(g.configDisk()); err == nil && want.ConfigDrive {
		// A read-only virtio disk labelled config-2: cloud-init and the
		// tiny image find it by label, and it needs no SATA drivers.
		a = append(a, "-drive", "file="+g.configDisk()+",if=none,id=config,format=raw,readonly=on",
			"-device", "virtio-blk-pci,drive=config")
	}
	// NICs: each port's tap is opened by the data plane (in the host's
	// network namespace) and handed to QEMU as fd 3+i; QEMU itself stays in
	// the root namespace.
	for i, nic := range want.NICs {
		a = append(a, "-netdev", fmt.Sprintf("tap,id=net%d,fd=%d,vhost=off", i, 3+i),
			"-device", fmt.Sprintf("virtio-net-pci,netdev=net%d,mac=%s,host_mtu=%d", i, nic.MAC, max(nic.MTU, 576)))
	}
	for i := 1; i <= hotplugPorts; i++ {
		a = append(a, "-device", fmt.Sprintf("pcie-root-port,id=hotplug%d,chassis=%d,bus=pcie.0", i, i))
	}
	a = append(a, d.volumeArgs(g, want, restore)...)
	switch {
	case restore:
		a = append(a, "-incoming", "exec:cat "+shellQuote(g.stateFile()))
	case g.incoming != "":
		a = append(a, "-incoming", g.incoming)
	}
	return a
}

// start launches the guest's QEMU. With restore it loads the memory saved
// by suspend and resumes it. QEMU daemonizes once the guest is set up, so
// errors in the command line or the disks come back here, in QEMU's words.
func (d *Driver) start(ctx context.Context, g *guest, want hostapi.Guest, restore bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := d.launch(ctx, g, want, restore); err != nil {
		return err
	}
	g.times.Qemu, g.times.Started = time.Since(t0), time.Now()
	fault.Point(fault.QemuStarted)
	if restore {
		if err := g.waitIncoming(ctx); err != nil {
			return err
		}
		if err := g.call(ctx, "cont", nil); err != nil {
			return fmt.Errorf("resume the restored guest: %w", err)
		}
		_ = os.Remove(g.stateFile())
	}
	d.log.Info("guest started", "server_id", g.id, "pid", g.pid(), "vcpus", want.Flavor.VCPUs, "ram_mb", want.Flavor.RAM, "restored", restore)
	return nil
}

// launch runs QEMU until it daemonizes: by then its sockets are bound.
func (d *Driver) launch(ctx context.Context, g *guest, want hostapi.Guest, restore bool) error {
	d.runMu.RLock()
	defer d.runMu.RUnlock()
	if err := os.MkdirAll(g.run, 0o700); err != nil {
		return fmt.Errorf("create runtime directory: %w", err)
	}
	_ = os.Remove(g.qmpSock())
	_ = os.Remove(g.serialSock())
	g.clearPid()
	cmd := exec.CommandContext(ctx, d.cfg.Binary, d.args(g, want, restore)...)
	cmd.Dir = g.dir
	taps, err := d.openTaps(want.NICs)
	if err != nil {
		return err
	}
	defer closeAll(taps)
	cmd.ExtraFiles = taps
	if out, err := cmd.CombinedOutput(); err != nil {
		return startError(d.cfg.Host, out, err)
	}
	return nil
}

// waitIncoming waits until a guest started with -incoming has loaded its
// memory.
func (g *guest) waitIncoming(ctx context.Context) error {
	for {
		st, err := g.status(ctx)
		if err != nil {
			return fmt.Errorf("restore the guest's memory: %w", err)
		}
		if st != "inmigrate" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restore the guest's memory: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startError turns QEMU's failure into a fault a user can act on: QEMU's
// own error line and what to change.
func startError(host string, out []byte, err error) error {
	line := ""
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			line = l
		}
	}
	if line == "" {
		line = err.Error()
	}
	remedy := "check the host's log for the full qemu command line"
	switch {
	case strings.Contains(line, "Cannot allocate memory"), strings.Contains(line, "cannot set up guest memory"):
		remedy = "free memory on host " + host + " or choose a flavor with less RAM"
	case strings.Contains(line, "kvm"), strings.Contains(line, "KVM"):
		remedy = "KVM does not work on host " + host + "; run its agent with --accel tcg"
	case strings.Contains(line, "Permission denied"):
		remedy = "the agent on " + host + " cannot read the guest's files; check the data directory's permissions"
	case strings.Contains(line, "Failed to bind socket"):
		remedy = "the agent on " + host + " could not create the guest's sockets (in /run/onestack); check that it is writable, then start the server again"
	case strings.Contains(line, "Could not open"):
		remedy = "a disk of the guest is missing or unreadable on " + host + "; rebuild the server"
	}
	return fmt.Errorf("qemu could not start the guest on %s: %s; %s", host, line, remedy)
}

// openTaps opens the taps of a guest's NICs, in order.
func (d *Driver) openTaps(nics []hostapi.NIC) ([]*os.File, error) {
	if len(nics) == 0 {
		return nil, nil
	}
	if d.cfg.OpenTap == nil {
		return nil, fmt.Errorf("host %s has no network data plane, so the guest's %d NIC(s) cannot be attached; run the host with networking", d.cfg.Host, len(nics))
	}
	var files []*os.File
	for _, nic := range nics {
		f, err := d.cfg.OpenTap(nic.Device)
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("attach port %s: open tap %s: %w", nic.PortID, nic.Device, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
