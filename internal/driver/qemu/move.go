package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// peer is the guest as it is on the host it moves from.
func (d *Driver) peer(want hostapi.Guest) (*guest, error) {
	if d.cfg.Peer == nil {
		return nil, fmt.Errorf("host %s cannot take guests from %s: moving guests between machines is not supported yet (hosts of one onestack up can)", d.cfg.Host, want.MovingFrom)
	}
	dir, ok := d.cfg.Peer(want.MovingFrom)
	if !ok {
		return nil, fmt.Errorf("host %s cannot take guests from %s: it is not on this machine; moving guests between machines is not supported yet", d.cfg.Host, want.MovingFrom)
	}
	return d.guestIn(dir, want.ServerID), nil
}

// copyIn takes over a stopped guest's disks from the host it moves from
// (cold migration and resize): it waits for the source to power the guest
// off, copies its overlay and rebases it on this host's image cache.
func (d *Driver) copyIn(ctx context.Context, g *guest, want hostapi.Guest) error {
	src, err := d.peer(want)
	if err != nil {
		return err
	}
	// The source host stops the guest (ACPI, then hard after its timeout).
	if pid := src.pid(); pid != 0 && !waitExit(ctx, pid, d.cfg.ShutdownTimeout+30*time.Second) {
		return fmt.Errorf("the guest did not stop on %s within %s; stop the server and try again", want.MovingFrom, d.cfg.ShutdownTimeout+30*time.Second)
	}
	spec, err := src.readSpec()
	if err != nil {
		return fmt.Errorf("read the guest's disks on %s: %w", want.MovingFrom, err)
	}
	im, err := d.cachedImage(ctx, spec.Image)
	if err != nil {
		return err
	}
	tmp := g.rootDisk() + ".tmp"
	if err := copyFile(src.rootDisk(), tmp); err != nil {
		return fmt.Errorf("copy the root disk from %s: %w", want.MovingFrom, err)
	}
	if err := qemuImg(ctx, "rebase", "-u", "-F", im.Format, "-b", im.Path, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	for _, p := range [][2]string{{src.ephDisk(), g.ephDisk()}, {src.swapDisk(), g.swapDisk()}, {src.configDisk(), g.configDisk()}} {
		if _, err := os.Stat(p[0]); err == nil {
			if err := copyFile(p[0], p[1]); err != nil {
				os.Remove(tmp)
				return fmt.Errorf("copy %s from %s: %w", p[0], want.MovingFrom, err)
			}
		}
	}
	if err := os.Rename(tmp, g.rootDisk()); err != nil {
		return err
	}
	d.log.Info("guest disks taken over", "server_id", g.id, "from", want.MovingFrom)
	return g.writeSpec(spec)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// migrateIn moves a running guest here live: a QEMU waiting for the
// incoming state, then the source's QEMU migrates memory and disks (block
// migration of the overlays; both hosts have the image) and stops.
func (d *Driver) migrateIn(ctx context.Context, g *guest, want hostapi.Guest) (string, error) {
	src, err := d.peer(want)
	if err != nil {
		return hostapi.PowerAbsent, err
	}
	if src.pid() == 0 {
		return hostapi.PowerAbsent, fmt.Errorf("the guest is not running on %s; live migration moves running guests (use cold migration for stopped ones)", want.MovingFrom)
	}
	spec, err := src.readSpec()
	if err != nil {
		return hostapi.PowerAbsent, fmt.Errorf("read the guest's disks on %s: %w", want.MovingFrom, err)
	}
	fail := func(err error) (string, error) {
		_ = g.kill(context.WithoutCancel(ctx))
		_ = g.removeDisks()
		return hostapi.PowerAbsent, fmt.Errorf("live migration from %s failed: %w; the guest keeps running there", want.MovingFrom, err)
	}
	im, err := d.cachedImage(ctx, spec.Image)
	if err != nil {
		return fail(err)
	}
	info, err := inspect(ctx, src.rootDisk(), "qcow2")
	if err != nil {
		return fail(err)
	}
	if err := qemuImg(ctx, "create", "-q", "-f", "qcow2", "-F", im.Format, "-b", im.Path, g.rootDisk(), fmt.Sprint(info.VirtualSize)); err != nil {
		return fail(err)
	}
	if err := ensureBlank(ctx, g.ephDisk(), spec.Flavor.Ephemeral, "G"); err != nil {
		return fail(err)
	}
	if err := ensureBlank(ctx, g.swapDisk(), spec.Flavor.Swap, "M"); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(src.configDisk()); err == nil {
		if err := copyFile(src.configDisk(), g.configDisk()); err != nil {
			return fail(err)
		}
	}
	if err := g.writeSpec(spec); err != nil {
		return fail(err)
	}
	shape := want
	shape.Flavor, shape.ConfigDrive = spec.Flavor, spec.ConfigDrive
	g.incoming = "defer"
	if err := d.start(ctx, g, shape, false); err != nil {
		return fail(err)
	}
	_ = os.Remove(g.migrateSock())
	if err := g.call(ctx, "migrate-incoming", map[string]any{"uri": "unix:" + g.migrateSock()}); err != nil {
		return fail(err)
	}
	if err := src.call(ctx, "migrate", map[string]any{"uri": "unix:" + g.migrateSock(), "blk": true, "inc": true}); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		raw, err := src.callRaw(ctx, "query-migrate", nil)
		if err != nil {
			return fail(err)
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		_ = json.Unmarshal(raw, &st)
		if st.Status == "completed" {
			break
		}
		if st.Status == "failed" || st.Status == "cancelled" {
			return fail(errors.New(st.ErrorDesc))
		}
		if time.Now().After(deadline) {
			_ = src.call(ctx, "migrate_cancel", nil)
			return fail(errors.New("it did not converge within 10 minutes (the guest writes memory faster than it can be copied)"))
		}
		select {
		case <-ctx.Done():
			_ = src.call(context.WithoutCancel(ctx), "migrate_cancel", nil)
			return fail(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = os.Remove(g.migrateSock())
	// The source's QEMU is done (postmigrate); its host removes the rest.
	_ = src.kill(ctx)
	d.log.Info("guest migrated live", "server_id", g.id, "from", want.MovingFrom)
	if err := g.waitIncoming(ctx); err != nil {
		return g.power(ctx), err
	}
	return d.converge(ctx, g, want)
}
