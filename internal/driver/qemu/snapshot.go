package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Snapshot returns a standalone qcow2 copy of the guest's root disk (its
// overlay and image flattened) for an image, read once and removed on
// Close. A running guest keeps running: QEMU copies the disk as it was
// when the snapshot began (a backup job), so writes during the copy do
// not tear it.
func (d *Driver) Snapshot(ctx context.Context, id string) (io.ReadCloser, error) {
	g := d.guest(id)
	if _, err := os.Stat(g.rootDisk()); err != nil {
		return nil, fmt.Errorf("guest %s has no root disk on %s", id, d.cfg.Host)
	}
	out := g.rootDisk() + ".snapshot"
	_ = os.Remove(out)
	var err error
	if g.pid() != 0 {
		err = g.backup(ctx, out)
	} else {
		err = qemuImg(ctx, "convert", "-q", "-O", "qcow2", g.rootDisk(), out)
	}
	if err != nil {
		_ = os.Remove(out)
		return nil, err
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, err
	}
	return &removeOnClose{File: f}, nil
}

type removeOnClose struct{ *os.File }

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	_ = os.Remove(r.File.Name())
	return err
}

// backup copies a running guest's root disk with a QMP drive-backup job
// and waits for it to conclude.
func (g *guest) backup(ctx context.Context, out string) error {
	const job = "onestack-snapshot"
	err := g.call(ctx, "drive-backup", map[string]any{
		"job-id": job, "device": "disk0", "sync": "full", "target": out, "format": "qcow2",
		"mode": "absolute-paths", "auto-dismiss": false,
	})
	if err != nil {
		return fmt.Errorf("start the disk copy: %w", err)
	}
	defer func() { _ = g.call(context.WithoutCancel(ctx), "job-dismiss", map[string]any{"id": job}) }()
	for {
		raw, err := g.callRaw(ctx, "query-jobs", nil)
		if err != nil {
			return fmt.Errorf("follow the disk copy: %w", err)
		}
		var jobs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		_ = json.Unmarshal(raw, &jobs)
		for _, j := range jobs {
			if j.ID != job || j.Status != "concluded" {
				continue
			}
			if j.Error != "" {
				return fmt.Errorf("the disk copy failed: %s; check free disk space on the host", j.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			_ = g.call(context.WithoutCancel(ctx), "job-cancel", map[string]any{"id": job})
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
