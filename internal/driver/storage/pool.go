package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/onestack/onestack/internal/qmp"
)

// Config configures one pool.
type Config struct {
	// Dir holds the volumes (DATA/volumes by default).
	Dir string
	// RunDir holds the storage daemon's sockets and pid file; empty:
	// /run/onestack/<hash of Dir> (a temporary directory when not root).
	RunDir string
	// Daemon is the qemu-storage-daemon binary (found on PATH when empty).
	Daemon string
	Log    *slog.Logger
}

// Pool is a directory of volumes on one host. Every method is idempotent:
// files appear under their final name only once complete (written to a
// temporary name, then renamed), so a retry after a crash repeats the
// step.
type Pool struct {
	cfg Config
	log *slog.Logger

	locksMu sync.Mutex
	locks   map[string]*sync.Mutex // volume id -> its lock

	// daemonMu serialises the storage daemon's start and its monitor.
	daemonMu sync.Mutex
}

// New returns the pool in cfg.Dir, creating its directories.
func New(cfg Config) (*Pool, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("storage pool: no directory given")
	}
	// The daemon runs in the pool's directory and is handed paths in it:
	// absolute ones, whatever the working directory of a later start.
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("storage pool directory: %w", err)
	}
	cfg.Dir = abs
	if cfg.Daemon == "" {
		cfg.Daemon = "qemu-storage-daemon"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RunDir == "" {
		cfg.RunDir = runDirFor(cfg.Dir)
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return nil, fmt.Errorf("qemu-img not found: install Debian's qemu-utils package")
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "snapshots"), filepath.Join(cfg.Dir, "exports"), filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create storage pool directory: %w", err)
		}
	}
	return &Pool{cfg: cfg, log: cfg.Log.With("storage_pool", cfg.Dir), locks: map[string]*sync.Mutex{}}, nil
}

// runDirFor is a short runtime directory for the pool's sockets: a unix
// socket path is limited to 107 bytes and data directories can be deep.
func runDirFor(dir string) string {
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte("volumes:" + dir))
	base := "/run/onestack"
	if os.Geteuid() != 0 {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("onestack-%d", os.Geteuid()))
	}
	return filepath.Join(base, hex.EncodeToString(sum[:4]))
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func checkID(kind, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%s id %q is not valid: use letters, digits, '-' and '_' (a UUID)", kind, id)
	}
	return nil
}

func (p *Pool) volPath(id string) string    { return filepath.Join(p.cfg.Dir, id+".qcow2") }
func (p *Pool) snapMeta(id string) string   { return filepath.Join(p.cfg.Dir, "snapshots", id+".json") }
func (p *Pool) exportMark(id string) string { return filepath.Join(p.cfg.Dir, "exports", id) }
func (p *Pool) tmpPath(name string) string  { return filepath.Join(p.cfg.Dir, "tmp", name) }

// lock takes the volume's lock: one operation on a volume at a time.
func (p *Pool) lock(id string) func() {
	p.locksMu.Lock()
	mu := p.locks[id]
	if mu == nil {
		mu = &sync.Mutex{}
		p.locks[id] = mu
	}
	p.locksMu.Unlock()
	mu.Lock()
	return mu.Unlock
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Create makes a blank, sparse volume of sizeGB.
func (p *Pool) Create(ctx context.Context, id string, sizeGB int) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if sizeGB <= 0 {
		return fmt.Errorf("volume size must be at least 1 GiB, not %d", sizeGB)
	}
	defer p.lock(id)()
	if exists(p.volPath(id)) {
		return nil
	}
	tmp := p.tmpPath(id + ".create")
	_ = os.Remove(tmp)
	if err := qemuImg(ctx, "create", "-q", "-f", "qcow2", tmp, fmt.Sprintf("%dG", sizeGB)); err != nil {
		return fmt.Errorf("create volume %s: %w", id, err)
	}
	return p.commit(tmp, id)
}

// commit moves a complete volume file to its final name.
func (p *Pool) commit(tmp, id string) error {
	if err := os.Rename(tmp, p.volPath(id)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store volume %s: %w", id, err)
	}
	p.log.Info("volume created", "volume_id", id)
	return nil
}

// CreateFromImage writes image data (format "raw" or "qcow2") into a new
// volume of sizeGB, converted to the pool's format.
func (p *Pool) CreateFromImage(ctx context.Context, id string, sizeGB int, format string, data io.Reader) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if format != "raw" && format != "qcow2" {
		return fmt.Errorf("image disk_format %q cannot be written to a volume; convert it to qcow2 or raw (qemu-img convert) and upload it again", format)
	}
	defer p.lock(id)()
	if exists(p.volPath(id)) {
		return nil
	}
	src := p.tmpPath(id + ".image")
	defer os.Remove(src)
	f, err := os.OpenFile(src, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read the image data for volume %s: %w", id, err)
	}
	info, err := inspect(ctx, src, format)
	if err != nil {
		return fmt.Errorf("the image data for volume %s: %w", id, err)
	}
	if format == "qcow2" && info.Format != "qcow2" {
		return fmt.Errorf("the image says disk_format qcow2 but its data is %s; upload it with the right --disk-format", info.Format)
	}
	if info.Backing != "" {
		// A backing file name in a user's image would read host files.
		return fmt.Errorf("the image is a qcow2 with a backing file (%s); flatten it with `qemu-img convert -O qcow2` and upload it again", info.Backing)
	}
	if need := (info.VirtualSize + 1<<30 - 1) >> 30; int64(sizeGB) < need {
		return fmt.Errorf("volume size %d GiB is smaller than the image's virtual size (%d bytes); create the volume with at least %d GiB", sizeGB, info.VirtualSize, need)
	}
	tmp := p.tmpPath(id + ".create")
	_ = os.Remove(tmp)
	if err := qemuImg(ctx, "convert", "-q", "-f", format, "-O", "qcow2", src, tmp); err != nil {
		return fmt.Errorf("write the image into volume %s: %w", id, err)
	}
	if err := qemuImg(ctx, "resize", "-q", tmp, fmt.Sprintf("%dG", sizeGB)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("grow volume %s to %d GiB: %w", id, sizeGB, err)
	}
	return p.commit(tmp, id)
}

// Clone makes volume id a copy of sourceID as it is now, of sizeGB (at
// least the source's size). The copy reads a temporary snapshot, so
// writes to a source in use do not tear it.
func (p *Pool) Clone(ctx context.Context, id, sourceID string, sizeGB int) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if err := checkID("volume", sourceID); err != nil {
		return err
	}
	if exists(p.volPath(id)) {
		return nil
	}
	snap := "clone-" + id
	if err := p.snapshot(ctx, sourceID, snap); err != nil {
		return fmt.Errorf("clone volume %s: %w", sourceID, err)
	}
	defer func() {
		if err := p.deleteSnapshot(context.WithoutCancel(ctx), sourceID, snap); err != nil {
			p.log.Warn("cannot remove a clone's temporary snapshot", "volume_id", sourceID, "snapshot", snap, "error", err)
		}
	}()
	return p.fromSnapshot(ctx, id, sourceID, snap, sizeGB)
}

// fromSnapshot writes volume id from snapshot snap of volume src.
func (p *Pool) fromSnapshot(ctx context.Context, id, src, snap string, sizeGB int) error {
	defer p.lock(id)()
	if exists(p.volPath(id)) {
		return nil
	}
	tmp := p.tmpPath(id + ".create")
	_ = os.Remove(tmp)
	// -U: the source may be open in the storage daemon; a snapshot's
	// clusters never change while it exists.
	if err := qemuImg(ctx, "convert", "-q", "-U", "-f", "qcow2", "-l", "snapshot.name="+snap, "-O", "qcow2", p.volPath(src), tmp); err != nil {
		return fmt.Errorf("copy volume %s: %w", src, err)
	}
	info, err := inspect(ctx, tmp, "qcow2")
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if want := int64(sizeGB) << 30; want > info.VirtualSize {
		if err := qemuImg(ctx, "resize", "-q", tmp, fmt.Sprintf("%dG", sizeGB)); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("grow volume %s to %d GiB: %w", id, sizeGB, err)
		}
	}
	return p.commit(tmp, id)
}

type snapshotMeta struct {
	Volume string `json:"volume"`
}

// Snapshot records the volume's data as it is now, inside the volume's
// file (a qcow2 internal snapshot: one metadata update, no copy). A
// volume in use is snapshotted through the storage daemon that serves it.
func (p *Pool) Snapshot(ctx context.Context, snapshotID, volumeID string) error {
	if err := checkID("snapshot", snapshotID); err != nil {
		return err
	}
	if err := checkID("volume", volumeID); err != nil {
		return err
	}
	if m, err := p.readSnapMeta(snapshotID); err == nil && m.Volume != volumeID {
		return fmt.Errorf("snapshot %s already exists, of volume %s; choose another snapshot id", snapshotID, m.Volume)
	}
	if !exists(p.volPath(volumeID)) {
		return fmt.Errorf("volume %s does not exist in the storage pool %s; check the volume's host", volumeID, p.cfg.Dir)
	}
	// The record first: a crash between the two leaves a record whose
	// snapshot a retry takes or a delete ignores.
	b, _ := json.Marshal(snapshotMeta{Volume: volumeID})
	if err := writeFileAtomic(p.snapMeta(snapshotID), b); err != nil {
		return err
	}
	return p.snapshot(ctx, volumeID, snapshotID)
}

func (p *Pool) readSnapMeta(id string) (snapshotMeta, error) {
	var m snapshotMeta
	b, err := os.ReadFile(p.snapMeta(id))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// snapshot takes the internal snapshot name of volume vol, once.
func (p *Pool) snapshot(ctx context.Context, vol, name string) error {
	defer p.lock(vol)()
	if !exists(p.volPath(vol)) {
		return fmt.Errorf("volume %s does not exist in the storage pool %s", vol, p.cfg.Dir)
	}
	names, err := snapshots(ctx, p.volPath(vol))
	if err != nil {
		return err
	}
	if names[name] {
		return nil
	}
	if exists(p.exportMark(vol)) {
		return p.monitor(ctx, func(q *qmp.Conn) error {
			if err := p.ensureExport(ctx, q, vol); err != nil {
				return err
			}
			_, err := q.Exec(ctx, "blockdev-snapshot-internal-sync", map[string]any{"device": nodeName(vol), "name": name})
			return err
		})
	}
	return qemuImg(ctx, "snapshot", "-q", "-c", name, p.volPath(vol))
}

// deleteSnapshot removes the internal snapshot name of volume vol.
func (p *Pool) deleteSnapshot(ctx context.Context, vol, name string) error {
	defer p.lock(vol)()
	if !exists(p.volPath(vol)) {
		return nil
	}
	names, err := snapshots(ctx, p.volPath(vol))
	if err != nil {
		return err
	}
	if !names[name] {
		return nil
	}
	if exists(p.exportMark(vol)) {
		return p.monitor(ctx, func(q *qmp.Conn) error {
			if err := p.ensureExport(ctx, q, vol); err != nil {
				return err
			}
			_, err := q.Exec(ctx, "blockdev-snapshot-delete-internal-sync", map[string]any{"device": nodeName(vol), "name": name})
			return err
		})
	}
	return qemuImg(ctx, "snapshot", "-q", "-d", name, p.volPath(vol))
}

// CreateFromSnapshot makes volume id from a snapshot, of sizeGB (at least
// the snapshot's size).
func (p *Pool) CreateFromSnapshot(ctx context.Context, id, snapshotID string, sizeGB int) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if err := checkID("snapshot", snapshotID); err != nil {
		return err
	}
	m, err := p.readSnapMeta(snapshotID)
	if err != nil {
		return fmt.Errorf("snapshot %s is not in the storage pool %s", snapshotID, p.cfg.Dir)
	}
	return p.fromSnapshot(ctx, id, m.Volume, snapshotID, sizeGB)
}

// DeleteSnapshot removes a snapshot; absent is not an error.
func (p *Pool) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	if err := checkID("snapshot", snapshotID); err != nil {
		return err
	}
	m, err := p.readSnapMeta(snapshotID)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", snapshotID, err)
	}
	if err := p.deleteSnapshot(ctx, m.Volume, snapshotID); err != nil {
		return fmt.Errorf("delete snapshot %s of volume %s: %w", snapshotID, m.Volume, err)
	}
	return removeIfExists(p.snapMeta(snapshotID))
}

// Extend grows the volume to sizeGB (never shrinks it). A volume that is
// exported is refused: detach it first.
func (p *Pool) Extend(ctx context.Context, id string, sizeGB int) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	defer p.lock(id)()
	info, err := inspect(ctx, p.volPath(id), "qcow2")
	if err != nil {
		return fmt.Errorf("extend volume %s: %w", id, err)
	}
	size := int64(sizeGB) << 30
	if size <= info.VirtualSize {
		return nil
	}
	if exists(p.exportMark(id)) {
		// An NBD export does not let its volume change size under it.
		return fmt.Errorf("volume %s is attached (exported to guests); detach it, then extend it", id)
	}
	if err := qemuImg(ctx, "resize", "-q", p.volPath(id), fmt.Sprintf("%dG", sizeGB)); err != nil {
		return fmt.Errorf("extend volume %s to %d GiB: %w", id, sizeGB, err)
	}
	return nil
}

// Delete removes the volume and its data. Its file is unlinked: a later
// volume is a new file whose unwritten blocks read as zeros, so nothing of
// this one can be read through it. A volume that still has snapshots is
// refused.
func (p *Pool) Delete(ctx context.Context, id string) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if snaps, err := p.snapshotsOf(id); err != nil {
		return err
	} else if len(snaps) > 0 {
		return fmt.Errorf("volume %s has snapshots (%s); delete them first", id, strings.Join(snaps, ", "))
	}
	if err := p.Unexport(ctx, id); err != nil {
		return fmt.Errorf("delete volume %s: %w", id, err)
	}
	defer p.lock(id)()
	if err := removeIfExists(p.volPath(id)); err != nil {
		return fmt.Errorf("delete volume %s: %w", id, err)
	}
	_ = os.Remove(p.tmpPath(id + ".create"))
	p.log.Info("volume deleted", "volume_id", id)
	return nil
}

// snapshotsOf lists the snapshots recorded for a volume.
func (p *Pool) snapshotsOf(vol string) ([]string, error) {
	_, snaps, err := p.List(context.Background())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range snaps {
		if m, err := p.readSnapMeta(s); err == nil && m.Volume == vol {
			out = append(out, s)
		}
	}
	return out, nil
}

// Read opens the volume's data as raw bytes, as it was when Read was
// called (read from a temporary snapshot). The caller closes it.
func (p *Pool) Read(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	if err := checkID("volume", id); err != nil {
		return nil, 0, err
	}
	snap := "read-" + randomHex()
	if err := p.snapshot(ctx, id, snap); err != nil {
		return nil, 0, fmt.Errorf("read volume %s: %w", id, err)
	}
	defer func() {
		if err := p.deleteSnapshot(context.WithoutCancel(ctx), id, snap); err != nil {
			p.log.Warn("cannot remove a read's temporary snapshot", "volume_id", id, "snapshot", snap, "error", err)
		}
	}()
	out := p.tmpPath(id + "." + snap + ".raw")
	if err := qemuImg(ctx, "convert", "-q", "-U", "-f", "qcow2", "-l", "snapshot.name="+snap, "-O", "raw", p.volPath(id), out); err != nil {
		_ = os.Remove(out)
		return nil, 0, fmt.Errorf("read volume %s: %w", id, err)
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return &removeOnClose{f}, st.Size(), nil
}

type removeOnClose struct{ *os.File }

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	_ = os.Remove(r.File.Name())
	return err
}

// List returns the ids of the volumes and snapshots in the pool.
func (p *Pool) List(context.Context) (volumes, snapshots []string, err error) {
	ents, err := os.ReadDir(p.cfg.Dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".qcow2"); ok && e.Type().IsRegular() {
			volumes = append(volumes, id)
		}
	}
	ents, err = os.ReadDir(filepath.Join(p.cfg.Dir, "snapshots"))
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			snapshots = append(snapshots, id)
		}
	}
	return volumes, snapshots, nil
}

// Size returns the volume's virtual size in bytes.
func (p *Pool) Size(ctx context.Context, id string) (int64, error) {
	if err := checkID("volume", id); err != nil {
		return 0, err
	}
	info, err := inspect(ctx, p.volPath(id), "qcow2")
	return info.VirtualSize, err
}

type imageInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	Backing     string `json:"backing-filename"`
	Snapshots   []struct {
		Name string `json:"name"`
	} `json:"snapshots"`
}

// inspect reads an image's header with qemu-img, as the format it claims.
func inspect(ctx context.Context, path, format string) (imageInfo, error) {
	var info imageInfo
	// -U: a volume in use is locked by the storage daemon; reading the
	// header is safe.
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "-U", "--output=json", "-f", format, path).Output()
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

// snapshots returns the names of a volume file's internal snapshots.
func snapshots(ctx context.Context, path string) (map[string]bool, error) {
	info, err := inspect(ctx, path, "qcow2")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, s := range info.Snapshots {
		names[s.Name] = true
	}
	return names, nil
}

// qemuImg runs qemu-img, returning its own error line on failure.
func qemuImg(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img %s: %s", args[0], strings.TrimSpace(string(out)))
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
