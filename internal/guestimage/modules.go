package guestimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// guestModules are the kernel modules the tiny guest loads, by module name
// (dashes and underscores are the same to the kernel). Debian's cloud
// kernel builds all of them as modules; their dependencies come from each
// module's own depends= field, so only the roots are listed here.
//
// Debian's cloud kernel has no AHCI driver: a CD-ROM on a q35 machine's
// SATA controller is invisible to it. It sees config drives on virtio-blk,
// virtio-scsi or (i440fx "pc" machines) the IDE controller.
var guestModules = []string{
	// virtio transport and devices Nova attaches.
	"virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "virtio_console",
	"virtio_rng", "virtio_balloon",
	// CD-ROMs and SCSI/IDE disks: config drives on virtio-scsi or IDE.
	"sr_mod", "sd_mod", "ata_piix", "ata_generic",
	// Config drive file systems: ISO 9660 (Rock Ridge, Joliet) or vfat.
	"isofs", "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "nls_iso8859_1",
	// ACPI power button, so system_powerdown stops the guest.
	"button", "evdev",
}

// kmod is one loadable module found in a kernel package.
type kmod struct {
	Name    string   // module name, underscores only
	Path    string   // file on the host
	Depends []string // module names from the depends= field
}

// modName normalizes a module or file name to the kernel's spelling.
func modName(s string) string {
	s = filepath.Base(s)
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// indexModules maps the module name of every .ko under dir (the
// kernel/ tree of /lib/modules/RELEASE) to its file.
func indexModules(dir string) (map[string]string, error) {
	idx := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
		case strings.HasSuffix(p, ".ko"):
			idx[modName(p)] = p
		case strings.HasSuffix(p, ".ko.xz"), strings.HasSuffix(p, ".ko.zst"), strings.HasSuffix(p, ".ko.gz"):
			// busybox insmod loads only uncompressed modules; Debian 12
			// ships them uncompressed (CONFIG_MODULE_COMPRESS_NONE).
			return fmt.Errorf("compressed kernel module %s: only uncompressed .ko modules are supported", p)
		}
		return nil
	})
	return idx, err
}

// readModinfo returns the key=value pairs of a module's .modinfo ELF
// section; a key may repeat (alias=, parm=).
func readModinfo(path string) (map[string][]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo of %s: %w", path, err)
	}
	return parseModinfo(data), nil
}

// parseModinfo splits a .modinfo section: NUL-separated "key=value"
// strings, possibly with NUL padding between them.
func parseModinfo(data []byte) map[string][]string {
	info := map[string][]string{}
	for _, field := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(field), "=")
		if !ok || k == "" {
			continue
		}
		info[k] = append(info[k], v)
	}
	return info
}

// dependsOf reads the depends= field: comma-separated module names.
func dependsOf(info map[string][]string) []string {
	var deps []string
	for _, v := range info["depends"] {
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				deps = append(deps, modName(d))
			}
		}
	}
	return deps
}

// resolveModules finds the wanted modules and everything they depend on
// in a kernel's module tree and returns them in an order insmod can
// load them: each module after its dependencies. builtin lists module
// names compiled into the kernel (modules.builtin); a wanted module that
// is built in needs no file and is left out. read returns a module
// file's modinfo (readModinfo; tests pass a fake).
func resolveModules(idx map[string]string, builtin map[string]bool, wanted []string,
	read func(path string) (map[string][]string, error)) ([]kmod, error) {
	mods := map[string]kmod{}
	var visit func(name, from string) error
	visit = func(name, from string) error {
		if _, ok := mods[name]; ok {
			return nil
		}
		path, ok := idx[name]
		if !ok {
			if builtin[name] {
				return nil
			}
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) is not in the kernel package", name, from)
			}
			return fmt.Errorf("module %s is neither in the kernel package nor built in", name)
		}
		info, err := read(path)
		if err != nil {
			return err
		}
		m := kmod{Name: name, Path: path, Depends: dependsOf(info)}
		mods[name] = m
		for _, d := range m.Depends {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, w := range wanted {
		if err := visit(modName(w), ""); err != nil {
			return nil, err
		}
	}
	return orderModules(mods, wanted)
}

// orderModules sorts modules so that each comes after all it depends on
// (depth-first, in the order wanted names them, then by name), and fails
// on a dependency cycle, which the kernel would refuse as well.
func orderModules(mods map[string]kmod, wanted []string) ([]kmod, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var out []kmod
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		m, ok := mods[name]
		if !ok {
			return nil // built in
		}
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(path, " -> "), name)
		}
		state[name] = visiting
		deps := append([]string(nil), m.Depends...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		out = append(out, m)
		return nil
	}
	roots := make([]string, 0, len(mods))
	for _, w := range wanted {
		roots = append(roots, modName(w))
	}
	var rest []string
	for n := range mods {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range append(roots, rest...) {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readBuiltin reads modules.builtin (paths like kernel/fs/ext4/ext4.ko)
// into a set of module names. A missing file means an empty set.
func readBuiltin(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			set[modName(line)] = true
		}
	}
	return set, nil
}
