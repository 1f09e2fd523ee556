package metadata

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ConfigDriveLabel is the volume label guests look for: cloud-init and
// cloudbase-init find the config drive by it.
const ConfigDriveLabel = "config-2"

// genisoimageTimeout bounds one genisoimage run; a drive is a few dozen
// small files and builds in milliseconds, so only a hung process hits it.
const genisoimageTimeout = time.Minute

// WriteConfigDrive writes inst's config drive to path: an ISO 9660 image
// with Rock Ridge and Joliet names and the volume label "config-2",
// holding [Files]. It runs Debian's genisoimage with Nova's arguments, so
// guests see the drive a Nova host would build, with publisher "onestack".
//
// Files are staged in a temporary directory that is always removed. The
// image is built next to path and renamed over it only when complete, so a
// failed or cancelled build leaves an existing drive untouched. The image is
// readable by its owner only: it holds user data and the admin password.
func WriteConfigDrive(ctx context.Context, inst Instance, path string) error {
	content, err := Files(inst)
	if err != nil {
		return fmt.Errorf("config drive for server %s: %w", inst.UUID, err)
	}
	if err := writeISO(ctx, content, path); err != nil {
		return fmt.Errorf("config drive for server %s: %w", inst.UUID, err)
	}
	return nil
}

// writeISO builds an ISO at path from slash-separated relative file names.
func writeISO(ctx context.Context, content map[string][]byte, path string) (err error) {
	bin, err := exec.LookPath("genisoimage")
	if err != nil {
		return fmt.Errorf("genisoimage not found in PATH, install it (Debian/Ubuntu: apt-get install genisoimage): %w", err)
	}

	stage, err := os.MkdirTemp("", "onestack-configdrive-")
	if err != nil {
		return fmt.Errorf("stage files: %w", err)
	}
	defer os.RemoveAll(stage)
	for name, data := range content {
		rel := filepath.FromSlash(name)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("stage %q: not a relative path inside the drive", name)
		}
		p := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("stage %s: %w", name, err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("stage %s: %w", name, err)
		}
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, genisoimageTimeout)
	defer cancel()
	// Nova's arguments (nova/virt/configdrive.py): Rock Ridge (-r) and
	// Joliet (-J) names over a relaxed ISO 9660 level so that names such as
	// meta_data.json survive for guests reading plain ISO 9660.
	cmd := exec.CommandContext(ctx, bin,
		"-o", tmpName,
		"-ldots",
		"-allow-lowercase",
		"-allow-multidot",
		"-l",
		"-publisher", "onestack",
		"-quiet",
		"-J",
		"-r",
		"-V", ConfigDriveLabel,
		stage)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("genisoimage stopped: %w", ctxErr)
		}
		return fmt.Errorf("genisoimage: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("install image: %w", err)
	}
	return nil
}
