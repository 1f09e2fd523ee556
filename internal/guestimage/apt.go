package guestimage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// kernelMetaPackage names the cloud kernel; it depends on the versioned
// package (linux-image-6.1.0-N-cloud-amd64) that holds the files.
const kernelMetaPackage = "linux-image-cloud-amd64"

// deb is a package file in the cache.
type deb struct {
	Package string // e.g. busybox-static
	Version string // e.g. 1:1.35.0-4+deb12u1+b1
	File    string // base name, as apt-get download names it
	Size    int64
	SHA256  string // hex; empty when apt did not print one
	Path    string // in the cache dir, once fetched
}

// errNoLists marks an apt failure that `apt-get update` may cure: the
// package lists are missing or do not know the package.
var errNoLists = errors.New("apt does not know the package")

// apt runs apt-get and apt-cache. It runs `apt-get update` at most once,
// and only when a look-up fails for want of package lists.
type apt struct {
	updated bool
	log     func(msg string, args ...any)
}

// run runs an apt command and returns its standard output.
func (a *apt) run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Unable to locate package") || strings.Contains(msg, "No packages found") ||
			strings.Contains(msg, "has no installation candidate") {
			return nil, fmt.Errorf("%s %s: %s: %w", name, strings.Join(args, " "), msg, errNoLists)
		}
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// withUpdate runs f and, if it failed for want of package lists, runs
// `apt-get update` once and tries again.
func (a *apt) withUpdate(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || !errors.Is(err, errNoLists) || a.updated {
		return err
	}
	a.updated = true
	a.log("package lists lack a package; running apt-get update")
	if _, uerr := a.run(ctx, "", "apt-get", "update"); uerr != nil {
		return fmt.Errorf("%w (and apt-get update failed: %v)", err, uerr)
	}
	return f()
}

// kernelPackage resolves the versioned cloud kernel package name.
func (a *apt) kernelPackage(ctx context.Context) (string, error) {
	var name string
	err := a.withUpdate(ctx, func() error {
		out, err := a.run(ctx, "", "apt-cache", "depends", kernelMetaPackage)
		if err != nil {
			return err
		}
		name = parseKernelDepends(out)
		if name == "" {
			return fmt.Errorf("apt-cache depends %s names no linux-image package: %w", kernelMetaPackage, errNoLists)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolve the cloud kernel package: %w", err)
	}
	return name, nil
}

// parseKernelDepends picks the first "Depends: linux-image-…" line of
// `apt-cache depends` output.
func parseKernelDepends(out []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "|")
		if v, ok := strings.CutPrefix(line, "Depends: "); ok && strings.HasPrefix(v, "linux-image-") {
			return strings.Fields(v)[0]
		}
	}
	return ""
}

// locate asks apt which file each package's candidate version is,
// without downloading (apt-get download --print-uris).
func (a *apt) locate(ctx context.Context, pkgs []string) ([]deb, error) {
	var debs []deb
	err := a.withUpdate(ctx, func() error {
		out, err := a.run(ctx, "", "apt-get", append([]string{"download", "--print-uris"}, pkgs...)...)
		if err != nil {
			return err
		}
		debs, err = parsePrintURIs(out)
		if err != nil {
			return err
		}
		if len(debs) != len(pkgs) {
			return fmt.Errorf("apt-get download --print-uris gave %d files for %d packages: %w", len(debs), len(pkgs), errNoLists)
		}
		return nil
	})
	return debs, err
}

// parsePrintURIs parses lines of the form
//
//	'URL' FILE SIZE SHA256:HEX
func parsePrintURIs(out []byte) ([]deb, error) {
	var debs []deb
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.HasPrefix(f[0], "'") {
			continue
		}
		d := deb{File: f[1]}
		if filepath.Base(d.File) != d.File || !strings.HasSuffix(d.File, ".deb") {
			return nil, fmt.Errorf("unexpected file name %q from apt-get --print-uris", d.File)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected size %q from apt-get --print-uris", f[2])
		}
		d.Size = size
		if len(f) > 3 {
			if h, ok := strings.CutPrefix(f[3], "SHA256:"); ok {
				d.SHA256 = strings.ToLower(h)
			}
		}
		parts := strings.Split(strings.TrimSuffix(d.File, ".deb"), "_")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("unexpected file name %q from apt-get --print-uris", d.File)
		}
		d.Package = parts[0]
		if d.Version, err = url.PathUnescape(parts[1]); err != nil {
			return nil, fmt.Errorf("unexpected file name %q from apt-get --print-uris", d.File)
		}
		debs = append(debs, d)
	}
	return debs, sc.Err()
}

// fetch makes sure every package is in cacheDir, downloading the missing
// ones with apt-get download, and returns them with Path set. A file is
// reused when its size and SHA-256 match what apt expects. Downloads go
// to a scratch directory first and are renamed into place, so a build
// running beside this one never sees half a file.
func (a *apt) fetch(ctx context.Context, cacheDir string, pkgs []string) ([]deb, error) {
	debs, err := a.locate(ctx, pkgs)
	if err != nil {
		return nil, fmt.Errorf("locate packages: %w", err)
	}
	return a.fetchLocated(ctx, cacheDir, debs)
}

// fetchLocated is fetch for packages already located.
func (a *apt) fetchLocated(ctx context.Context, cacheDir string, debs []deb) ([]deb, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	var missing []string
	for i := range debs {
		debs[i].Path = filepath.Join(cacheDir, debs[i].File)
		if err := verifyDeb(debs[i]); err != nil {
			missing = append(missing, debs[i].Package+"="+debs[i].Version)
		}
	}
	if len(missing) == 0 {
		return debs, nil
	}
	a.log("downloading packages", "packages", strings.Join(missing, " "))
	tmp, err := os.MkdirTemp(cacheDir, ".download-")
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	// apt's sandbox user must be able to write where it downloads.
	_ = os.Chmod(tmp, 0o777)
	if _, err := a.run(ctx, tmp, "apt-get", append([]string{"download"}, missing...)...); err != nil {
		return nil, fmt.Errorf("download packages: %w", err)
	}
	for _, d := range debs {
		got := filepath.Join(tmp, d.File)
		if _, err := os.Stat(got); err != nil {
			continue // was already cached
		}
		if err := verifyDeb(deb{File: d.File, Size: d.Size, SHA256: d.SHA256, Path: got}); err != nil {
			return nil, fmt.Errorf("downloaded package: %w", err)
		}
		if err := os.Rename(got, d.Path); err != nil {
			return nil, fmt.Errorf("cache package: %w", err)
		}
	}
	for _, d := range debs {
		if err := verifyDeb(d); err != nil {
			return nil, err
		}
	}
	return debs, nil
}

// verifyDeb checks a cached package file against apt's size and hash.
func verifyDeb(d deb) error {
	f, err := os.Open(d.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != d.Size {
		return fmt.Errorf("%s: size %d, apt expects %d", d.Path, st.Size(), d.Size)
	}
	if d.SHA256 == "" {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256 {
		return fmt.Errorf("%s: sha256 %s, apt expects %s", d.Path, got, d.SHA256)
	}
	return nil
}

// extract unpacks a package's files under dir (dpkg-deb -x: no
// maintainer scripts, no root needed).
func extract(ctx context.Context, d deb, dir string) error {
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", d.Path, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %v: %s", d.File, err, strings.TrimSpace(string(out)))
	}
	return nil
}
