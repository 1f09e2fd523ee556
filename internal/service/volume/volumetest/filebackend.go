// Package volumetest gives tests a real volume backend: sparse files in a
// directory (the test's t.TempDir()). It is for tests only; the cloud's
// storage pool is internal/driver/storage.
package volumetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const gib = 1 << 30

// Files is a volume.Backend over sparse files: DIR/volumes/ID and
// DIR/snapshots/ID.
type Files struct {
	Dir string
	mu  sync.Mutex
	// Fail, when set, makes the named operation ("create", "delete",
	// "extend", "snapshot", …) fail with this error (fault injection).
	fail map[string]error
	// Calls counts operations by name.
	calls map[string]int
}

// New returns a file backend in t.TempDir().
func New(t testing.TB) *Files {
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Open returns a file backend in dir.
func Open(dir string) (*Files, error) {
	for _, d := range []string{"volumes", "snapshots", "exports"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Files{Dir: dir, fail: map[string]error{}, calls: map[string]int{}}, nil
}

// FailOn makes op fail with err (nil: stop failing).
func (f *Files) FailOn(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, op)
	} else {
		f.fail[op] = err
	}
}

// Calls returns how often op ran.
func (f *Files) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *Files) step(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	return f.fail[op]
}

func (f *Files) vol(id string) string  { return filepath.Join(f.Dir, "volumes", clean(id)) }
func (f *Files) snap(id string) string { return filepath.Join(f.Dir, "snapshots", clean(id)) }

func clean(id string) string { return strings.ReplaceAll(filepath.Base(id), "..", "_") }

// Path is where a volume's data lives.
func (f *Files) Path(id string) string { return f.vol(id) }

// Create makes a blank sparse file of sizeGB.
func (f *Files) Create(_ context.Context, id string, sizeGB int) error {
	if err := f.step("create"); err != nil {
		return err
	}
	return f.sized(f.vol(id), nil, sizeGB)
}

// sized writes data (may be nil) to a temporary file, sizes it and moves it
// into place, so a crash never leaves a half-written volume under its name.
func (f *Files) sized(path string, data io.Reader, sizeGB int) error {
	tmp := path + ".tmp"
	w, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if data != nil {
		if err := copySparse(w, data); err != nil {
			w.Close()
			os.Remove(tmp)
			return err
		}
	}
	st, err := w.Stat()
	if err == nil && st.Size() > int64(sizeGB)*gib {
		err = fmt.Errorf("data of %d bytes does not fit in %d GB; create a larger volume", st.Size(), sizeGB)
	}
	if err == nil {
		err = w.Truncate(int64(sizeGB) * gib)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// copySparse copies r to w, seeking over all-zero blocks so the copy
// stays sparse.
func copySparse(w *os.File, r io.Reader) error {
	if f, ok := r.(*os.File); ok {
		if err := copyData(w, f); err == nil {
			return nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if !bytes.Equal(buf[:n], zero[:n]) {
				if _, werr := w.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return w.Truncate(off)
		}
		if err != nil {
			return err
		}
	}
}

// copyData copies only the data extents of f (SEEK_DATA / SEEK_HOLE).
func copyData(w *os.File, f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	const seekData, seekHole = 3, 4
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data after off
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return err
		}
		if start < off || end <= start {
			return fmt.Errorf("extents of %s changed while copying", f.Name()) // the caller copies it whole
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(w, start), io.LimitReader(f, end-start)); err != nil {
			return err
		}
		off = end
	}
	return w.Truncate(size)
}

// CreateFromImage writes raw data as is and converts qcow2 with qemu-img.
func (f *Files) CreateFromImage(ctx context.Context, id string, sizeGB int, format string, data io.Reader) error {
	if err := f.step("create_from_image"); err != nil {
		return err
	}
	switch format {
	case "raw":
		return f.sized(f.vol(id), data, sizeGB)
	case "qcow2":
		src := f.vol(id) + ".qcow2"
		if err := f.sized(src, data, sizeGB+1); err != nil {
			return err
		}
		defer os.Remove(src)
		out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", src, f.vol(id)+".tmp").CombinedOutput()
		if err != nil {
			return fmt.Errorf("qemu-img convert: %v: %s", err, out)
		}
		if err := os.Truncate(f.vol(id)+".tmp", int64(sizeGB)*gib); err != nil {
			return err
		}
		return os.Rename(f.vol(id)+".tmp", f.vol(id))
	}
	return fmt.Errorf("disk format %q is not raw or qcow2", format)
}

func (f *Files) copyFile(dst, src string, sizeGB int) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	if sizeGB == 0 {
		st, err := r.Stat()
		if err != nil {
			return err
		}
		sizeGB = int((st.Size() + gib - 1) / gib)
	}
	return f.sized(dst, r, sizeGB)
}

// Clone copies another volume.
func (f *Files) Clone(_ context.Context, id, sourceID string, sizeGB int) error {
	if err := f.step("clone"); err != nil {
		return err
	}
	return f.copyFile(f.vol(id), f.vol(sourceID), sizeGB)
}

// Snapshot copies a volume to a snapshot file.
func (f *Files) Snapshot(_ context.Context, snapshotID, volumeID string) error {
	if err := f.step("snapshot"); err != nil {
		return err
	}
	return f.copyFile(f.snap(snapshotID), f.vol(volumeID), 0)
}

// CreateFromSnapshot copies a snapshot into a new volume.
func (f *Files) CreateFromSnapshot(_ context.Context, id, snapshotID string, sizeGB int) error {
	if err := f.step("create_from_snapshot"); err != nil {
		return err
	}
	return f.copyFile(f.vol(id), f.snap(snapshotID), sizeGB)
}

// DeleteSnapshot removes a snapshot file; absent is fine.
func (f *Files) DeleteSnapshot(_ context.Context, snapshotID string) error {
	if err := f.step("delete_snapshot"); err != nil {
		return err
	}
	if err := os.Remove(f.snap(snapshotID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Extend grows a volume file.
func (f *Files) Extend(_ context.Context, id string, sizeGB int) error {
	if err := f.step("extend"); err != nil {
		return err
	}
	return os.Truncate(f.vol(id), int64(sizeGB)*gib)
}

// Delete removes a volume file; absent is fine.
func (f *Files) Delete(_ context.Context, id string) error {
	if err := f.step("delete"); err != nil {
		return err
	}
	if err := os.Remove(f.vol(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Read opens a volume's data.
func (f *Files) Read(_ context.Context, id string) (io.ReadCloser, int64, error) {
	if err := f.step("read"); err != nil {
		return nil, 0, err
	}
	r, err := os.Open(f.vol(id))
	if err != nil {
		return nil, 0, err
	}
	st, err := r.Stat()
	if err != nil {
		r.Close()
		return nil, 0, err
	}
	return r, st.Size(), nil
}

// Export records the volume as exported (a mark in DIR/exports, kept
// across a reopen of the directory as the storage pool keeps its exports)
// and returns an NBD address.
func (f *Files) Export(_ context.Context, id string) (string, error) {
	if err := f.step("export"); err != nil {
		return "", err
	}
	if _, err := os.Stat(f.vol(id)); err != nil {
		return "", fmt.Errorf("volume %s has no data: %w", id, err)
	}
	if err := os.WriteFile(f.exportMark(id), nil, 0o600); err != nil {
		return "", err
	}
	return "nbd+unix:///" + id + "?socket=" + filepath.Join(f.Dir, "nbd.sock"), nil
}

func (f *Files) exportMark(id string) string { return filepath.Join(f.Dir, "exports", clean(id)) }

// Unexport forgets the export.
func (f *Files) Unexport(_ context.Context, id string) error {
	if err := f.step("unexport"); err != nil {
		return err
	}
	if err := os.Remove(f.exportMark(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Exported reports whether a volume is exported.
func (f *Files) Exported(id string) bool {
	_, err := os.Stat(f.exportMark(id))
	return err == nil
}

// Exports lists the exported volumes.
func (f *Files) Exports(context.Context) ([]string, error) {
	es, err := os.ReadDir(filepath.Join(f.Dir, "exports"))
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, err
}

// List returns the volume and snapshot files.
func (f *Files) List(context.Context) (volumes, snapshots []string, err error) {
	ls := func(d string) ([]string, error) {
		es, err := os.ReadDir(filepath.Join(f.Dir, d))
		var out []string
		for _, e := range es {
			if !strings.Contains(e.Name(), ".") {
				out = append(out, e.Name())
			}
		}
		sort.Strings(out)
		return out, err
	}
	if volumes, err = ls("volumes"); err != nil {
		return nil, nil, err
	}
	snapshots, err = ls("snapshots")
	return volumes, snapshots, err
}
