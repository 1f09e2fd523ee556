package qemu

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
)

// cachedImage is an image in the host's cache, verified once.
type cachedImage struct {
	Path        string
	Format      string // qcow2 or raw
	VirtualSize int64
}

// prepare makes the guest's disks exist for want: the root disk a qcow2
// overlay on the cached image grown to the flavor's disk, ephemeral and
// swap disks if the flavor has them, and the config drive if asked.
func (d *Driver) prepare(ctx context.Context, g *guest, want hostapi.Guest, spec guestSpec) error {
	if err := checkVolumes(want); err != nil {
		return hostapi.UserFault("check the server's volumes", err)
	}
	_, fromVolume := want.BootVolume()
	if want.ImageID == "" && !fromVolume {
		return hostapi.UserFault("find the root disk", fmt.Errorf("the server has no image and no root volume to boot from"))
	}
	root := g.rootDisk()
	_, err := os.Stat(root)
	switch {
	case fromVolume:
		// Boot from volume: the root disk is the volume, no overlay.
	case errors.Is(err, os.ErrNotExist):
		t0 := time.Now()
		im, err := d.cachedImage(ctx, want.ImageID)
		if err != nil {
			return err
		}
		g.times.Image = time.Since(t0)
		size := im.VirtualSize
		if gb := int64(want.Flavor.Disk) << 30; gb > 0 {
			if gb < im.VirtualSize {
				return hostapi.UserFault("size the root disk", fmt.Errorf("flavor's disk is too small for image %s: it needs %d GiB (its virtual size); resize to a flavor with a larger disk", want.ImageID, (im.VirtualSize+(1<<30)-1)>>30))
			}
			size = gb
		}
		if err := qemuImg(ctx, "create", "-q", "-f", "qcow2", "-F", im.Format, "-b", im.Path, root+".tmp", fmt.Sprint(size)); err != nil {
			return hostapi.CloudFault("create the root disk", err)
		}
		if err := os.Rename(root+".tmp", root); err != nil {
			return hostapi.CloudFault("create the root disk", err)
		}
		spec = guestSpec{Image: want.ImageID, ImageFormat: im.Format, Flavor: want.Flavor}
	case err != nil:
		return hostapi.CloudFault("read the root disk", err)
	case spec.Flavor.Disk < want.Flavor.Disk:
		// Resized to a larger disk: grow the root disk (never shrink it).
		if err := qemuImg(ctx, "resize", "-q", root, fmt.Sprintf("%dG", want.Flavor.Disk)); err != nil {
			return hostapi.CloudFault(fmt.Sprintf("grow the root disk to %d GiB", want.Flavor.Disk), err)
		}
	}
	if err := ensureBlank(ctx, g.ephDisk(), want.Flavor.Ephemeral, "G"); err != nil {
		return hostapi.CloudFault("create the ephemeral disk", err)
	}
	if err := ensureBlank(ctx, g.swapDisk(), want.Flavor.Swap, "M"); err != nil {
		return hostapi.CloudFault("create the swap disk", err)
	}
	if want.ConfigDrive {
		if _, err := os.Stat(g.configDisk()); errors.Is(err, os.ErrNotExist) {
			if err := metadata.WriteConfigDrive(ctx, metadata.ForGuest(want), g.configDisk()); err != nil {
				return hostapi.CloudFault("build the config drive", err)
			}
		}
	}
	spec.Flavor, spec.ConfigDrive = want.Flavor, want.ConfigDrive
	return hostapi.CloudFault("record the guest's disks", g.writeSpec(spec))
}

// recordBoot keeps where a first boot spent its time.
func (g *guest) recordBoot() {
	b, _ := json.Marshal(g.times)
	_ = writeFileAtomic(g.bootFile(), b)
}

// ensureBlank creates a blank qcow2 disk of size units (G or M) at path,
// or grows it; size 0 removes it.
func ensureBlank(ctx context.Context, path string, size int, unit string) error {
	if size <= 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := qemuImg(ctx, "create", "-q", "-f", "qcow2", path+".tmp", fmt.Sprintf("%d%s", size, unit)); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// cachedImage returns the image from the host's cache, downloading and
// verifying it first if needed. Guests share one copy; concurrent boots
// of one image download it once.
func (d *Driver) cachedImage(ctx context.Context, id string) (cachedImage, error) {
	d.imageMu.Lock()
	mu := d.images[id]
	if mu == nil {
		mu = &sync.Mutex{}
		d.images[id] = mu
	}
	d.imageMu.Unlock()
	mu.Lock()
	defer mu.Unlock()

	base := filepath.Join(d.cfg.Dir, "images", filepath.Base(id))
	if im, ok := d.readCacheEntry(base); ok {
		return im, nil
	}
	var im cachedImage
	const download, check = "download the image", "check the image"
	data, f, err := d.cfg.Images.DownloadImage(ctx, id)
	if err != nil {
		return im, hostapi.CloudFault(download, fmt.Errorf("download image %s to host %s: %w", id, d.cfg.Host, err))
	}
	defer data.Close()
	switch f.DiskFormat {
	case "qcow2", "raw":
	default:
		return im, hostapi.UserFault(check, fmt.Errorf("image %s has disk_format %q, which this hypervisor does not boot; convert it with `qemu-img convert -O qcow2` and upload it as qcow2", id, f.DiskFormat))
	}
	tmp := base + ".download"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return im, hostapi.CloudFault(download, err)
	}
	defer os.Remove(tmp)
	sum5 := md5.New()
	var sumH hash.Hash
	switch f.HashAlgo {
	case "sha512":
		sumH = sha512.New()
	case "sha256":
		sumH = sha256.New()
	}
	w := io.MultiWriter(out, sum5)
	if sumH != nil {
		w = io.MultiWriter(out, sum5, sumH)
	}
	n, err := io.Copy(w, data)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return im, hostapi.CloudFault(download, fmt.Errorf("download image %s to host %s: %w", id, d.cfg.Host, err))
	}
	if f.Size > 0 && n != f.Size {
		return im, hostapi.CloudFault(download, fmt.Errorf("image %s: downloaded %d bytes, Glance says %d; the download was cut short, try again", id, n, f.Size))
	}
	// A mismatch is the cloud's: the image service checked the data when
	// it was uploaded, so it was damaged since (in the store or on the way).
	if f.Checksum != "" && hex.EncodeToString(sum5.Sum(nil)) != f.Checksum {
		return im, hostapi.CloudFault(check, fmt.Errorf("image %s: checksum mismatch after download (the stored data is damaged); upload the image again", id))
	}
	if sumH != nil && f.HashValue != "" && hex.EncodeToString(sumH.Sum(nil)) != f.HashValue {
		return im, hostapi.CloudFault(check, fmt.Errorf("image %s: %s mismatch after download (the stored data is damaged); upload the image again", id, f.HashAlgo))
	}
	info, err := inspect(ctx, tmp, f.DiskFormat)
	if err != nil {
		return im, hostapi.UserFault(check, fmt.Errorf("image %s: %w", id, err))
	}
	if f.DiskFormat == "qcow2" && info.Format != "qcow2" {
		return im, hostapi.UserFault(check, fmt.Errorf("image %s says disk_format qcow2 but its data is %s; upload it with the right --disk-format", id, info.Format))
	}
	if info.Backing != "" {
		// A backing file name in a user's image would read host files.
		return im, hostapi.UserFault(check, fmt.Errorf("image %s is a qcow2 with a backing file (%s); flatten it with `qemu-img convert -O qcow2` and upload it again", id, info.Backing))
	}
	path := base + "." + f.DiskFormat
	if err := os.Rename(tmp, path); err != nil {
		return im, hostapi.CloudFault(download, err)
	}
	im = cachedImage{Path: path, Format: f.DiskFormat, VirtualSize: info.VirtualSize}
	b, _ := json.Marshal(im)
	if err := writeFileAtomic(base+".json", b); err != nil {
		return im, hostapi.CloudFault(download, err)
	}
	d.log.Info("image cached", "image_id", id, "bytes", n, "format", f.DiskFormat, "virtual_size", info.VirtualSize)
	return im, nil
}

// readCacheEntry reads the cache's entry for an image (base.json) and
// checks that its data is there. The data's path is always base plus the
// format: an entry that says otherwise (a relative path, written before
// onestack made its data directory absolute, or a data directory that was
// moved) is repaired in place, since QEMU would resolve a relative backing
// file against each overlay's own directory and fail.
func (d *Driver) readCacheEntry(base string) (cachedImage, bool) {
	var im cachedImage
	b, err := os.ReadFile(base + ".json")
	if err != nil || json.Unmarshal(b, &im) != nil {
		return im, false
	}
	if im.Format != "qcow2" && im.Format != "raw" {
		return im, false
	}
	path := base + "." + im.Format
	if _, err := os.Stat(path); err != nil {
		return im, false
	}
	if im.Path != path {
		d.log.Warn("image cache entry repaired: its path was not the absolute path of its data", "entry", base+".json", "was", im.Path, "now", path)
		im.Path = path
		b, _ := json.Marshal(im)
		if err := writeFileAtomic(base+".json", b); err != nil {
			d.log.Warn("cannot rewrite the repaired image cache entry; it is repaired again at the next boot", "entry", base+".json", "error", err)
		}
	}
	return im, true
}

type imageInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	Backing     string `json:"backing-filename"`
}

// inspect reads an image's header with qemu-img, as the format it claims.
func inspect(ctx context.Context, path, format string) (imageInfo, error) {
	var info imageInfo
	// -U: a running guest's disk is locked by its QEMU; reading the
	// header is safe.
	args := []string{"info", "-U", "--output=json", path}
	if format == "raw" {
		args = []string{"info", "-U", "--output=json", "-f", "raw", path}
	}
	out, err := exec.CommandContext(ctx, "qemu-img", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return info, fmt.Errorf("qemu-img cannot read it: %s", strings.TrimSpace(string(ee.Stderr)))
		}
		return info, err
	}
	err = json.Unmarshal(out, &info)
	return info, err
}

// qemuImg runs qemu-img, returning its own error line on failure.
func qemuImg(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img %s: %s", args[0], strings.TrimSpace(string(out)))
	}
	return nil
}
