package guestimage

import (
	"compress/gzip"
	"debug/elf"
	"embed"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed files
var files embed.FS

// rootfs is the initramfs being assembled: guest path -> entry.
type rootfs struct {
	entries map[string]rootEntry
}

type rootEntry struct {
	mode         uint32 // type and permission bits, as in the cpio header
	data         []byte // file contents or symlink target
	src          string // host file to read the contents from, if data is nil
	major, minor uint32 // device numbers
}

func newRootfs() *rootfs { return &rootfs{entries: map[string]rootEntry{}} }

func (r *rootfs) dir(p string, perm uint32) {
	r.entries[path.Clean("/"+p)] = rootEntry{mode: modeDir | perm}
}

func (r *rootfs) file(p string, perm uint32, data []byte) {
	r.entries[path.Clean("/"+p)] = rootEntry{mode: modeFile | perm, data: data}
}

func (r *rootfs) copyFile(p string, perm uint32, src string) {
	r.entries[path.Clean("/"+p)] = rootEntry{mode: modeFile | perm, src: src}
}

func (r *rootfs) symlink(p, target string) {
	r.entries[path.Clean("/"+p)] = rootEntry{mode: modeSymlink | 0o777, data: []byte(target)}
}

func (r *rootfs) charDev(p string, perm, major, minor uint32) {
	r.entries[path.Clean("/"+p)] = rootEntry{mode: modeCharDev | perm, major: major, minor: minor}
}

// embedded adds a file from files/ under a guest path.
func (r *rootfs) embedded(p string, perm uint32, name string) error {
	data, err := files.ReadFile("files/" + name)
	if err != nil {
		return err
	}
	r.file(p, perm, data)
	return nil
}

// writeGzipCPIO writes the tree as a gzip-compressed newc archive
// (default level: best compression takes 4x as long for 3% less),
// parents before children, adding missing parent directories (0755).
func (r *rootfs) writeGzipCPIO(w io.Writer) error {
	for p := range r.entries {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := r.entries[d]; !ok {
				r.entries[d] = rootEntry{mode: modeDir | 0o755}
			}
		}
	}
	names := make([]string, 0, len(r.entries))
	for p := range r.entries {
		names = append(names, p)
	}
	// Sorting by path components puts every directory before its contents.
	sort.Slice(names, func(i, j int) bool { return pathLess(names[i], names[j]) })
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	cw := newCPIOWriter(zw)
	for _, p := range names {
		e := r.entries[p]
		perm := e.mode & 0o7777
		switch e.mode & 0o170000 {
		case modeDir:
			err = cw.Dir(p, perm)
		case modeSymlink:
			err = cw.Symlink(p, string(e.data))
		case modeCharDev:
			err = cw.CharDev(p, perm, e.major, e.minor)
		default:
			data := e.data
			if data == nil && e.src != "" {
				if data, err = os.ReadFile(e.src); err != nil {
					return fmt.Errorf("initramfs %s: %w", p, err)
				}
			}
			err = cw.File(p, perm, data)
		}
		if err != nil {
			return err
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// pathLess orders paths component by component, so "/a" < "/a/b" < "/a-b".
func pathLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// inRoot resolves a path inside an extracted package tree, following
// symlinks (absolute ones relative to root) without leaving root.
func inRoot(root, p string) (string, error) {
	cur := path.Clean("/" + p)
	for range 40 {
		host := filepath.Join(root, filepath.FromSlash(cur))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return host, nil
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = path.Clean(target)
		} else {
			cur = path.Clean(path.Join(path.Dir(cur), target))
		}
	}
	return "", fmt.Errorf("%s: too many symlinks", p)
}

// libDirs are where Debian's amd64 packages put shared libraries, and
// where the guest's dynamic loader looks without an ld.so.cache.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}

// addDynamic adds ELF programs from the extracted tree at the same guest
// paths, with their program interpreter and every shared library they
// need, transitively (DT_NEEDED, as ldd would list them). Libraries go
// to /lib/x86_64-linux-gnu under their soname.
func (r *rootfs) addDynamic(root string, programs ...string) error {
	seen := map[string]bool{}
	var add func(guest, host string, isLib bool) error
	add = func(guest, host string, isLib bool) error {
		f, err := elf.Open(host)
		if err != nil {
			return fmt.Errorf("%s: %w", guest, err)
		}
		defer f.Close()
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", guest, err)
		}
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return fmt.Errorf("%s: interpreter: %w", guest, err)
			}
			interp := strings.TrimRight(string(b), "\x00")
			if !seen[interp] {
				// The loader lives beside the libraries (libc names it in
				// DT_NEEDED too); its well-known path is a symlink, as on Debian.
				seen[interp], seen[path.Base(interp)] = true, true
				h, err := inRoot(root, interp)
				if err != nil {
					return fmt.Errorf("%s needs interpreter %s: %w", guest, interp, err)
				}
				lib := path.Join("/lib/x86_64-linux-gnu", path.Base(interp))
				r.copyFile(lib, 0o755, h)
				if lib != interp {
					r.symlink(interp, lib)
				}
			}
		}
		perm := uint32(0o755)
		if isLib {
			perm = 0o644
		}
		r.copyFile(guest, perm, host)
		for _, lib := range needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			var found string
			for _, d := range libDirs {
				if h, err := inRoot(root, path.Join(d, lib)); err == nil {
					found = h
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, which no extracted package provides", guest, lib)
			}
			if err := add(path.Join("/lib/x86_64-linux-gnu", lib), found, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range programs {
		h, err := inRoot(root, p)
		if err != nil {
			return fmt.Errorf("program %s: %w", p, err)
		}
		if err := add(p, h, false); err != nil {
			return err
		}
	}
	return nil
}
