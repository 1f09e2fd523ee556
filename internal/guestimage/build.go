package guestimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ReadyMarker is the line the guest prints on its serial console once it
// has applied its metadata and run its user data. Tests and the qemu
// driver wait for it in the console log.
const ReadyMarker = "onestack-guest-ready"

// basePackages are the Debian packages besides the kernel: a static
// busybox for everything in userland, dropbear for SSH, OpenBSD's netcat
// for the UDP test service (busybox's nc has no UDP), and the shared
// libraries they need (libgmp10 through libtomcrypt1, libmd0 through
// libbsd0).
var basePackages = []string{
	"busybox-static", "dropbear-bin", "netcat-openbsd",
	"libc6", "libcrypt1", "libgmp10", "libtomcrypt1", "libtommath1", "zlib1g", "libbsd0", "libmd0",
}

// hostTools are the programs Build runs, with the Debian packages that
// provide them.
var hostTools = map[string]string{
	"apt-get":   "apt",
	"apt-cache": "apt",
	"dpkg-deb":  "dpkg",
	"mkfs.fat":  "dosfstools",
	"mcopy":     "mtools",
	"syslinux":  "syslinux",
	"qemu-img":  "qemu-utils",
}

// Options configure Build.
type Options struct {
	// Output is the qcow2 file to write; it is replaced only once the
	// image is complete.
	Output string
	// CacheDir keeps the downloaded .deb files between builds; required.
	CacheDir string
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// Package is a Debian package the image was built from.
type Package struct {
	Name    string
	Version string
}

// Result describes a built image.
type Result struct {
	Path          string        // the qcow2 file
	Size          int64         // its size in bytes
	VirtualSize   int64         // the disk size the guest sees, in bytes
	KernelRelease string        // uname -r of the guest, e.g. 6.1.0-56-cloud-amd64
	Modules       []string      // kernel modules the guest loads, in load order
	Packages      []Package     // what went in, with exact versions
	Duration      time.Duration // how long Build took
}

// CheckHost reports the host tools Build needs that are missing, naming
// the Debian packages to install. Build calls it first; tests call it to
// decide whether they can run.
func CheckHost() error {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fmt.Errorf("the tiny image is built from Debian amd64 packages on a linux/amd64 host, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	var missing, pkgs []string
	seen := map[string]bool{}
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb", "mkfs.fat", "mcopy", "syslinux", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
			if p := hostTools[tool]; !seen[p] {
				seen[p] = true
				pkgs = append(pkgs, p)
			}
		}
	}
	if _, err := os.Stat(mbrCode); err != nil {
		missing = append(missing, mbrCode)
		if !seen["syslinux-common"] {
			pkgs = append(pkgs, "syslinux-common")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing host tools %s: install the Debian packages %s", strings.Join(missing, ", "), strings.Join(pkgs, " "))
	}
	return nil
}

// Build downloads the packages (or takes them from opts.CacheDir),
// assembles the initramfs and writes the bootable qcow2 image to
// opts.Output. It needs no root: the packages are unpacked with dpkg-deb
// and the disk is written with mtools and syslinux's mtools installer.
func Build(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Output == "" {
		return nil, fmt.Errorf("name the output file")
	}
	if opts.CacheDir == "" {
		return nil, fmt.Errorf("name a cache dir for the downloaded packages")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "onestack-guestimage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	a := &apt{log: log.Info}
	kpkg, err := a.kernelPackage(ctx)
	if err != nil {
		return nil, err
	}
	debs, err := a.fetch(ctx, opts.CacheDir, append([]string{kpkg}, basePackages...))
	if err != nil {
		return nil, err
	}
	res := &Result{Path: out}
	root := filepath.Join(work, "root")
	for _, d := range debs {
		if err := extract(ctx, d, root); err != nil {
			return nil, err
		}
		res.Packages = append(res.Packages, Package{Name: d.Package, Version: d.Version})
	}
	log.Info("packages unpacked", "packages", len(debs), "kernel_package", kpkg)

	release, err := kernelRelease(root)
	if err != nil {
		return nil, err
	}
	res.KernelRelease = release
	fs, mods, err := assemble(root, release, res.Packages)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		res.Modules = append(res.Modules, m.Name)
	}
	initrd := filepath.Join(work, "initrd.gz")
	f, err := os.Create(initrd)
	if err != nil {
		return nil, err
	}
	if err := fs.writeGzipCPIO(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("write initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	raw := filepath.Join(work, "disk.raw")
	if err := makeDisk(ctx, raw, filepath.Join(root, "boot", "vmlinuz-"+release), initrd); err != nil {
		return nil, fmt.Errorf("write disk: %w", err)
	}
	st, err := os.Stat(raw)
	if err != nil {
		return nil, err
	}
	res.VirtualSize = st.Size()
	tmp := out + ".part"
	if err := toQCOW2(ctx, raw, tmp); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if st, err = os.Stat(out); err != nil {
		return nil, err
	}
	res.Size = st.Size()
	res.Duration = time.Since(start)
	log.Info("image built", "path", out, "bytes", res.Size, "kernel", release, "modules", len(mods), "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// kernelRelease finds the one /lib/modules/RELEASE with a matching
// /boot/vmlinuz-RELEASE in the extracted tree.
func kernelRelease(root string) (string, error) {
	ents, err := os.ReadDir(filepath.Join(root, "lib", "modules"))
	if err != nil {
		return "", fmt.Errorf("kernel modules: %w", err)
	}
	var found []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(root, "boot", "vmlinuz-"+e.Name())); err == nil {
			found = append(found, e.Name())
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("expected one kernel in the kernel package, found %q", found)
	}
	return found[0], nil
}

// assemble lays out the initramfs: busybox and its applets, dropbear with
// its libraries, the kernel modules and their load order, /init and the
// configuration files.
func assemble(root, release string, pkgs []Package) (*rootfs, []kmod, error) {
	fs := newRootfs()
	for _, d := range []string{"/proc", "/sys", "/dev", "/run", "/mnt", "/root", "/etc/dropbear", "/var/log", "/home"} {
		fs.dir(d, 0o755)
	}
	fs.dir("/root", 0o700)
	fs.dir("/tmp", 0o1777)
	// The kernel opens /dev/console for /init before anything is mounted.
	fs.charDev("/dev/console", 0o600, 5, 1)
	fs.charDev("/dev/null", 0o666, 1, 3)
	fs.symlink("/var/run", "/run")
	// The kernel runs /init: busybox init, which runs /etc/rc.boot.
	fs.symlink("/init", "/bin/busybox")

	// busybox: the one static binary and a symlink per applet.
	bb := filepath.Join(root, "bin", "busybox")
	fs.copyFile("/bin/busybox", 0o755, bb)
	applets, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("list busybox applets: %w", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a = "/" + strings.TrimPrefix(a, "/"); a != "/bin/busybox" {
			fs.symlink(a, "/bin/busybox")
		}
	}

	// dropbear and netcat, with their libraries.
	if err := fs.addDynamic(root, "/usr/sbin/dropbear", "/usr/bin/dropbearkey", "/usr/bin/dbclient", "/bin/nc.openbsd"); err != nil {
		return nil, nil, fmt.Errorf("dropbear and netcat: %w", err)
	}

	// Kernel modules, flat under /lib/modules/RELEASE, and their load order.
	mdir := filepath.Join(root, "lib", "modules", release)
	idx, err := indexModules(filepath.Join(mdir, "kernel"))
	if err != nil {
		return nil, nil, err
	}
	builtin, err := readBuiltin(filepath.Join(mdir, "modules.builtin"))
	if err != nil {
		return nil, nil, err
	}
	mods, err := resolveModules(idx, builtin, guestModules, readModinfo)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", release, err)
	}
	var order strings.Builder
	for _, m := range mods {
		p := "/lib/modules/" + release + "/" + m.Name + ".ko"
		fs.copyFile(p, 0o644, m.Path)
		order.WriteString(p + "\n")
	}
	fs.file("/lib/modules/load-order", 0o644, []byte(order.String()))

	for _, e := range []struct {
		path string
		perm uint32
		name string
	}{
		{"/etc/rc.boot", 0o755, "boot"},
		{"/usr/bin/jsonflat", 0o755, "jsonflat"},
		{"/etc/udhcpc.script", 0o755, "udhcpc.script"},
		{"/etc/acpi/PWRF/00000080", 0o755, "power"},
		{"/etc/inittab", 0o644, "inittab"},
		{"/etc/profile", 0o644, "profile"},
		{"/usr/bin/udpname", 0o755, "udpname"},
	} {
		if err := fs.embedded(e.path, e.perm, e.name); err != nil {
			return nil, nil, err
		}
	}
	// root has no password: SSH takes keys only, the consoles need no login.
	fs.file("/etc/passwd", 0o644, []byte("root:*:0:0:root:/root:/bin/sh\n"))
	fs.file("/etc/group", 0o644, []byte("root:x:0:\ntty:x:5:\n"))
	fs.file("/etc/shells", 0o644, []byte("/bin/sh\n/bin/ash\n"))
	fs.file("/etc/hostname", 0o644, []byte("tiny\n"))
	fs.file("/etc/hosts", 0o644, []byte("127.0.0.1 localhost\n::1 localhost\n"))
	fs.file("/etc/resolv.conf", 0o644, nil)

	var rel bytes.Buffer
	fmt.Fprintf(&rel, "NAME=\"onestack tiny test guest\"\nID=onestack-tiny\nKERNEL=%s\n", release)
	for _, p := range pkgs {
		fmt.Fprintf(&rel, "PACKAGE=%s=%s\n", p.Name, p.Version)
	}
	fs.file("/etc/onestack-tiny-release", 0o644, rel.Bytes())
	return fs, mods, nil
}
