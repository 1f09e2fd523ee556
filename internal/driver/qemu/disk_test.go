package qemu

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestImageCacheRepair starts a host on a data directory whose image cache
// was written by a run with a relative --data-dir: the entry names its data
// by a relative path, which QEMU would resolve against each overlay's own
// directory ("Could not open backing image"). The cache keeps the image (no
// download), the entry is rewritten with the absolute path, the guest's
// overlay is backed by that absolute path, and the guest boots.
func TestImageCacheRepair(t *testing.T) {
	ctx := context.Background()
	tiny := tinyImage(t)
	root := t.TempDir()
	t.Chdir(root) // the old run's working directory: the relative path resolves from here
	hostDir := filepath.Join(root, "data", "hosts", "host-1")
	cache := filepath.Join(hostDir, "images")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(cache, "tiny.qcow2")
	if err := os.WriteFile(data, tiny, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := inspect(ctx, data, "qcow2")
	if err != nil {
		t.Fatal(err)
	}
	// What the cache wrote when the host directory was data/hosts/host-1.
	old, _ := json.Marshal(cachedImage{Path: "data/hosts/host-1/images/tiny.qcow2", Format: "qcow2", VirtualSize: info.VirtualSize})
	entry := filepath.Join(cache, "tiny.json")
	if err := os.WriteFile(entry, old, 0o600); err != nil {
		t.Fatal(err)
	}

	im := &images{files: map[string][]byte{"tiny": tiny}, formats: map[string]string{"tiny": "qcow2"}}
	d := newDriver(t, im, hostDir)
	id := "0c5e7d5a-4444-4e6b-9f4e-000000000001"
	if p, err := d.Ensure(ctx, guestOf(id, hostapi.PowerRunning)); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("Ensure on a cache written with relative paths = %q, %v; want the guest running", p, err)
	}
	if im.downloads != 0 {
		t.Errorf("the image was downloaded %d times; the cached copy should have been kept", im.downloads)
	}
	var got cachedImage
	b, err := os.ReadFile(entry)
	if err != nil || json.Unmarshal(b, &got) != nil {
		t.Fatalf("read the cache entry: %v (%s)", err, b)
	}
	if got.Path != data {
		t.Errorf("cache entry path after the repair = %q, want %q", got.Path, data)
	}
	disk, err := inspect(ctx, d.guest(id).rootDisk(), "qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if disk.Backing != data {
		t.Errorf("root disk backing file = %q, want the absolute %q", disk.Backing, data)
	}
	waitConsole(t, d, id, 1)
}

// TestRelativeHostDir gives the driver a relative directory, as `onestack
// up --data-dir data` once did: the driver works with the absolute path,
// so the overlay's backing file is absolute and the guest boots.
func TestRelativeHostDir(t *testing.T) {
	ctx := context.Background()
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	root := t.TempDir()
	t.Chdir(root)
	d := newDriver(t, im, filepath.Join("data", "hosts", "host-1"))
	id := "0c5e7d5a-4444-4e6b-9f4e-000000000002"
	if p, err := d.Ensure(ctx, guestOf(id, hostapi.PowerRunning)); err != nil || p != hostapi.PowerRunning {
		t.Fatalf("Ensure with a relative host directory = %q, %v; want the guest running", p, err)
	}
	disk, err := inspect(ctx, d.guest(id).rootDisk(), "qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "data", "hosts", "host-1", "images", "tiny.qcow2"); disk.Backing != want {
		t.Errorf("root disk backing file = %q, want %q", disk.Backing, want)
	}
	waitConsole(t, d, id, 1)
}
