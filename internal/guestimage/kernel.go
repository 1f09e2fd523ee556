package guestimage

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Kernel returns the path of the Debian cloud kernel (vmlinuz) that the
// tiny image boots, downloading and unpacking its package into cacheDir
// on first use; later calls return the cached file without downloading.
// The qemu driver boots it directly (-kernel) to find out whether KVM
// really works on a host.
//
// When apt cannot name the current kernel package (no package lists and
// no network), Kernel falls back to the newest kernel already in cacheDir.
func Kernel(ctx context.Context, cacheDir string) (string, error) {
	if cacheDir == "" {
		return "", fmt.Errorf("name a cache dir for the kernel")
	}
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return cachedKernel(cacheDir, fmt.Errorf("%s is missing: install Debian's apt and dpkg", tool))
		}
	}
	a := &apt{log: slog.New(slog.NewTextHandler(io.Discard, nil)).Info}
	kpkg, err := a.kernelPackage(ctx)
	if err != nil {
		return cachedKernel(cacheDir, err)
	}
	located, err := a.locate(ctx, []string{kpkg})
	if err != nil {
		return cachedKernel(cacheDir, err)
	}
	dir := filepath.Join(cacheDir, "kernel", strings.TrimSuffix(located[0].File, ".deb"))
	vmlinuz := filepath.Join(dir, "vmlinuz")
	if _, err := os.Stat(vmlinuz); err == nil {
		return vmlinuz, nil
	}
	debs, err := a.fetchLocated(ctx, cacheDir, located)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := extractVmlinuz(ctx, debs[0].Path, vmlinuz); err != nil {
		return "", fmt.Errorf("unpack the kernel from %s: %w", debs[0].File, err)
	}
	return vmlinuz, nil
}

// cachedKernel returns the newest kernel Kernel unpacked before, or err.
func cachedKernel(cacheDir string, err error) (string, error) {
	paths, _ := filepath.Glob(filepath.Join(cacheDir, "kernel", "*", "vmlinuz"))
	type cand struct {
		path string
		mod  int64
	}
	var cands []cand
	for _, p := range paths {
		if st, serr := os.Stat(p); serr == nil {
			cands = append(cands, cand{p, st.ModTime().UnixNano()})
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("find the cloud kernel: %w", err)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mod > cands[j].mod })
	return cands[0].path, nil
}

// extractVmlinuz copies ./boot/vmlinuz-* out of a kernel package's data
// archive (dpkg-deb --fsys-tarfile) to dst, atomically.
func extractVmlinuz(ctx context.Context, debPath, dst string) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Bound Wait should a child of dpkg-deb keep its output open.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	found, copyErr := copyVmlinuz(tar.NewReader(stdout), dst)
	if found && copyErr == nil {
		// boot/ comes first in the archive: skip unpacking the modules.
		// dpkg-deb's decompressor child dies writing to the closed pipe.
		_ = cmd.Process.Kill()
		_ = stdout.Close()
		_ = cmd.Wait()
		return nil
	}
	_, _ = io.Copy(io.Discard, stdout) // let dpkg-deb finish, then reap it
	waitErr := cmd.Wait()
	if copyErr != nil {
		return copyErr
	}
	if waitErr != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile: %v: %s", waitErr, strings.TrimSpace(stderr.String()))
	}
	return fmt.Errorf("no boot/vmlinuz-* in the package")
}

func copyVmlinuz(tr *tar.Reader, dst string) (bool, error) {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		if !strings.HasPrefix(name, "boot/vmlinuz-") || h.Typeflag != tar.TypeReg {
			continue
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".vmlinuz-")
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(tmp, tr); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return false, err
		}
		if err := tmp.Chmod(fs.FileMode(0o644)); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return false, err
		}
		if err := tmp.Close(); err != nil {
			os.Remove(tmp.Name())
			return false, err
		}
		return true, os.Rename(tmp.Name(), dst)
	}
}
