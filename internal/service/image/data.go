package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// reserveChunk is how much byte quota an upload of unknown length reserves
// at a time as its data arrives.
const reserveChunk = 64 << 20

func statFile(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Upload streams image data into a queued image, which is saving while the
// data arrives and active once it is stored, with its size, md5 checksum
// and sha512 hash. size is the length of r, or -1 when unknown. A failed
// or interrupted upload leaves the image queued and no data behind.
func (s *Service) Upload(ctx context.Context, c *auth.Credentials, id string, r io.Reader, size int64) (store.Image, error) {
	return s.receive(ctx, caller{c}, id, r, size, store.TransferUpload)
}

// Stage streams data for a later import (glance-direct) into a queued
// image, which becomes uploading.
func (s *Service) Stage(ctx context.Context, c *auth.Credentials, id string, r io.Reader, size int64) (store.Image, error) {
	return s.receive(ctx, caller{c}, id, r, size, store.TransferStage)
}

// receive runs an upload or a stage: claim the image and quota, stream to
// a temporary file, then move it into place and record the result. Each
// step is its own transaction; the image row says which worker holds the
// transfer, so a crash at any point is undone by recoverTransfers.
func (s *Service) receive(ctx context.Context, k caller, id string, r io.Reader, size int64, transfer string) (store.Image, error) {
	lim := s.Limits()
	target, verb := store.ImageSaving, "upload image data for"
	if transfer == store.TransferStage {
		target, verb = store.ImageUploading, "stage image data for"
	}
	if size > lim.MaxImageSize && lim.MaxImageSize >= 0 {
		return store.Image{}, tooBig(size, lim)
	}
	reserve := size
	if size < 0 {
		reserve = reserveChunk
		if lim.MaxImageSize >= 0 {
			reserve = min(reserve, lim.MaxImageSize)
		}
	}
	im, err := s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return oserr.Forbidden("Not allowed to %s image %s: only its owner (project %s) or an admin may.", verb, id, im.Owner)
		}
		if im.Status != store.ImageQueued {
			return oserr.Conflict("Image status transition from %s to %s is not allowed: data can only be sent to a queued image. "+
				"Create a new image for new data.", im.Status, target)
		}
		if u, err := tx.ChangeImageUsage(ctx, im.Owner, 0, reserve, -1, lim.BytesPerProject); errors.Is(err, store.ErrQuota) {
			return quotaBytes(im, u, reserve, lim)
		} else if err != nil {
			return err
		}
		im.Status, im.Transfer, im.Worker = target, transfer, s.worker
		im.HeartbeatAt, im.ReservedBytes = s.now(), reserve
		return nil
	})
	if err != nil {
		return im, err
	}

	tmp, err := s.files.create()
	if err != nil {
		return im, s.abort(ctx, id, transfer, nil, fmt.Errorf("create temporary file: %w", err))
	}
	reserved, lastBeat := reserve, s.now()
	d, err := copyHashed(tmp, r, func(total int64) error {
		if lim.MaxImageSize >= 0 && total > lim.MaxImageSize {
			return tooBig(total, lim)
		}
		grow := int64(0)
		if total > reserved {
			grow = max(reserveChunk, total-reserved)
			if lim.MaxImageSize >= 0 {
				grow = min(grow, lim.MaxImageSize-reserved) // total <= MaxImageSize: still >= total-reserved
			}
		}
		if grow == 0 && s.now().Sub(lastBeat) < s.beat {
			return nil
		}
		if err := s.heartbeat(ctx, &im, grow, reserved, lim); err != nil {
			return err
		}
		reserved, lastBeat = reserved+grow, s.now()
		return nil
	})
	if err == nil && size >= 0 && d.size != size {
		err = oserr.BadRequest("The upload ended after %d of the %d bytes announced in Content-Length; send the whole image again.", d.size, size)
	}
	if err != nil {
		return im, s.abort(ctx, id, transfer, tmp, err)
	}
	dst := s.files.Path(id)
	if transfer == store.TransferStage {
		dst = s.files.StagePath(id)
	}
	if err := s.files.commit(tmp, dst); err != nil {
		return im, s.abort(ctx, id, transfer, tmp, fmt.Errorf("store image data: %w", err))
	}
	// The data is complete and in place: record it even if the client
	// hangs up now.
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	im, err = s.modify(done, id, func(tx *store.Tx, im *store.Image) error {
		if im.Transfer != transfer || im.Worker != s.worker {
			return errLost
		}
		n := d.size
		im.Transfer, im.Worker = store.TransferNone, ""
		if transfer == store.TransferStage {
			// The staged bytes stay reserved until imported or deleted.
			if _, err := tx.ChangeImageUsage(done, im.Owner, 0, n-im.ReservedBytes, -1, -1); err != nil {
				return err
			}
			im.ReservedBytes, im.StagedSize, im.Size = n, n, &n
			return nil
		}
		if _, err := tx.ChangeImageUsage(done, im.Owner, 0, n-im.ReservedBytes, -1, -1); err != nil {
			return err
		}
		im.ReservedBytes = 0
		activate(im, d)
		return nil
	})
	if err != nil {
		removeMissingOK(dst)
		if errors.Is(err, errLost) || errors.Is(err, store.ErrNotFound) {
			return im, gone(id)
		}
		return im, s.abort(done, id, transfer, nil, err)
	}
	return im, nil
}

// activate records the data described by d on im and makes it active.
func activate(im *store.Image, d digest) {
	n, md5, sha := d.size, d.md5, d.sha512
	algo := "sha512"
	im.Status = store.ImageActive
	im.Size, im.Checksum, im.OSHashAlgo, im.OSHashValue = &n, &md5, &algo, &sha
	im.VirtualSize = virtualSize(im.DiskFormat, d)
}

// errLost means the transfer no longer owns the image: it was deleted, or
// the janitor took the transfer for dead.
var errLost = errors.New("transfer lost its image")

func gone(id string) error {
	return &oserr.Error{Status: http.StatusGone,
		Message: fmt.Sprintf("Image %s was deleted (or reset) while its data was being sent; the data was discarded. Create the image again.", id)}
}

func tooBig(n int64, lim Limits) error {
	return oserr.TooLarge("The image is larger than the maximum image size of %s on this cloud (it has at least %s); "+
		"shrink or compress it (for example 'qemu-img convert -O qcow2 -c').", bytesText(lim.MaxImageSize), bytesText(n))
}

// heartbeat records that the transfer is alive and, when grow > 0,
// reserves grow more bytes of quota.
func (s *Service) heartbeat(ctx context.Context, im *store.Image, grow, reserved int64, lim Limits) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if grow > 0 {
			if u, err := tx.ChangeImageUsage(ctx, im.Owner, 0, grow, -1, lim.BytesPerProject); errors.Is(err, store.ErrQuota) {
				return quotaBytes(im, u, grow, lim)
			} else if err != nil {
				return err
			}
		}
		err := tx.HeartbeatImage(ctx, im.ID, s.worker, s.now(), reserved+grow)
		if errors.Is(err, store.ErrNotFound) {
			return gone(im.ID)
		}
		return err
	})
}

// abort undoes a failed transfer: removes its temporary file, gives back
// its quota and puts the image back to queued (a failed import leaves the
// staged data for another try). It returns cause, mapped for the client.
func (s *Service) abort(ctx context.Context, id, transfer string, tmp *os.File, cause error) error {
	if tmp != nil {
		tmp.Close()
		removeMissingOK(tmp.Name())
	}
	// The request may be gone (client hung up): undo anyway, in bounded time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := s.modify(ctx, id, func(tx *store.Tx, im *store.Image) error {
		if im.Transfer != transfer || im.Worker != s.worker {
			return errUnchanged
		}
		if err := s.release(ctx, tx, im); err != nil {
			return err
		}
		resetToQueued(im)
		return s.files.RemoveStaged(id)
	})
	if err != nil && !errors.Is(err, errUnchanged) && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("undo failed image transfer; the janitor will retry", "image_id", id, "transfer", transfer, "error", err)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(cause, &mbe):
		return oserr.TooLarge("The image is larger than the maximum image size of %s on this cloud; shrink or compress it.", bytesText(mbe.Limit))
	case isAPIErr(cause):
		return cause
	case errors.As(cause, new(*readError)), errors.Is(cause, context.Canceled):
		return oserr.BadRequest("The image data could not be read to its end (the connection was closed or stalled during the upload); "+
			"image %s is queued again: send its data again.", id).WithCause(cause)
	case errors.Is(cause, syscall.ENOSPC):
		return oserr.TooLarge("Image storage media is full: the cloud's image directory has no room for image %s; "+
			"ask an operator to free space, then send the data again.", id).WithCause(cause)
	}
	return oserr.Internal(fmt.Errorf("image %s %s: %w", id, transfer, cause))
}

func isAPIErr(err error) bool {
	var e *oserr.Error
	return errors.As(err, &e)
}

// Data is an open view of an image's stored data.
type Data struct {
	Image store.Image
	// File is nil when the image has no data (it is not active): Glance
	// answers 204 then.
	File *os.File
}

// Open opens an image's data for the caller to download. A deactivated
// image's data is for admins only.
func (s *Service) Open(ctx context.Context, c *auth.Credentials, id string) (Data, error) {
	k := caller{c}
	im, err := s.Get(ctx, c, id)
	if err != nil {
		return Data{}, err
	}
	if im.Status == store.ImageDeactivated && !k.admin() {
		return Data{}, oserr.Forbidden("The requested image has been deactivated. Image data download is forbidden; ask its owner to reactivate image %s.", id)
	}
	if im.Status != store.ImageActive && im.Status != store.ImageDeactivated {
		return Data{Image: im}, nil
	}
	f, err := s.files.Open(id)
	if errors.Is(err, os.ErrNotExist) {
		s.log.Error("active image has no data file; delete the image and upload it again", "image_id", id, "path", s.files.Path(id))
		return Data{Image: im}, nil
	}
	if err != nil {
		return Data{}, err
	}
	return Data{Image: im, File: f}, nil
}

// Import starts the import of an image's staged data (method glance-direct)
// and returns the task that runs it. The image is importing until the data
// is stored (active) or the import failed (queued again, with the task's
// message saying why).
func (s *Service) Import(ctx context.Context, c *auth.Credentials, id, method, requestID string) (store.ImageTask, error) {
	k := caller{c}
	now := s.now()
	task := store.ImageTask{ID: uuid.NewString(), ImageID: id, Type: "api_image_import", Status: TaskProcessing,
		Owner: k.project(), UserID: c.User.ID, RequestID: requestID,
		Input:  map[string]any{"image_id": id, "import_req": map[string]any{"method": map[string]any{"name": method}}, "backend": []any{nil}},
		Result: map[string]any{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(taskTTL)}
	if method != "glance-direct" {
		return task, oserr.BadRequest("Unknown import method name '%s'; this cloud imports with glance-direct (stage the data, then import).", method)
	}
	_, err := s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return notOwner(k, im)
		}
		switch {
		case im.Status == store.ImageActive:
			return oserr.Conflict("Image with status active cannot be target for import: image %s has its data already.", id)
		case im.Status != store.ImageUploading || im.Transfer != store.TransferNone:
			return oserr.Conflict("Image needs to be staged before 'glance-direct' method can be used: image %s is %s; "+
				"send its data with PUT /v2/images/%s/stage first.", id, im.Status, id)
		case im.ContainerFormat == nil:
			return oserr.Conflict("'container_format' needs to be set before import ('openstack image set --container-format bare %s').", id)
		case im.DiskFormat == nil:
			return oserr.Conflict("'disk_format' needs to be set before import ('openstack image set --disk-format raw %s').", id)
		}
		im.Status, im.Transfer, im.Worker, im.HeartbeatAt = store.ImageImporting, store.TransferImport, s.worker, s.now()
		im.Properties["os_glance_import_task"] = task.ID
		task.Owner = im.Owner
		return tx.CreateImageTask(ctx, task)
	})
	if err != nil {
		return task, err
	}
	if !s.spawn(func() { s.runImport(task, id) }) {
		// Shutting down: the import stays as it is and the next start
		// returns the image to uploading (see recoverTransfers).
		return task, oserr.Unavailable(5, "The image service is shutting down; image %s will be ready to import again after the restart.", id)
	}
	return task, nil
}

// runImport moves staged data into the store, hashing it on the way.
func (s *Service) runImport(task store.ImageTask, id string) {
	ctx := s.ctx
	log := s.log.With("image_id", id, "task_id", task.ID)
	d, err := s.importData(ctx, id)
	if ctx.Err() != nil {
		// Close: the next start undoes the import (recoverTransfers).
		return
	}
	if err == nil {
		_, err = s.modify(ctx, id, func(tx *store.Tx, im *store.Image) error {
			if im.Transfer != store.TransferImport || im.Worker != s.worker {
				return errLost
			}
			if _, err := tx.ChangeImageUsage(ctx, im.Owner, 0, d.size-im.ReservedBytes, -1, -1); err != nil {
				return err
			}
			im.Transfer, im.Worker, im.ReservedBytes, im.StagedSize = store.TransferNone, "", 0, 0
			delete(im.Properties, "os_glance_import_task")
			im.Properties["os_glance_importing_to_stores"] = ""
			im.Properties["os_glance_failed_import"] = ""
			activate(im, d)
			task.Status, task.Result = TaskSuccess, map[string]any{"image_id": id}
			task.Message = fmt.Sprintf("Copied %d MiB", d.size>>20)
			task.UpdatedAt = s.now()
			task.ExpiresAt = task.UpdatedAt.Add(taskTTL)
			return tx.UpdateImageTask(ctx, task)
		})
	}
	if err == nil {
		log.Info("image imported", "bytes", d.size)
		return
	}
	if errors.Is(err, errLost) || errors.Is(err, store.ErrNotFound) {
		removeMissingOK(s.files.Path(id))
		s.failTasks(ctx, id, "the image was deleted or reset during the import")
		return
	}
	log.Error("image import failed; image queued again", "error", err)
	msg := "the import failed: " + err.Error() + "; stage the data again and import it again"
	_, uerr := s.modify(ctx, id, func(tx *store.Tx, im *store.Image) error {
		if im.Transfer != store.TransferImport || im.Worker != s.worker {
			return errUnchanged
		}
		if err := s.release(ctx, tx, im); err != nil {
			return err
		}
		resetToQueued(im)
		delete(im.Properties, "os_glance_import_task")
		im.Properties["os_glance_failed_import"] = "file"
		return s.files.Remove(id)
	})
	if uerr != nil && !errors.Is(uerr, errUnchanged) {
		log.Error("undo failed image import; the janitor will retry", "error", uerr)
	}
	s.failTasks(ctx, id, msg)
}

// importData hashes the staged data and moves it into the store.
func (s *Service) importData(ctx context.Context, id string) (digest, error) {
	f, err := os.Open(s.files.StagePath(id))
	if err != nil {
		return digest{}, fmt.Errorf("open staged data: %w", err)
	}
	defer f.Close()
	lastBeat := s.now()
	d, err := copyHashed(io.Discard, f, func(int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.now().Sub(lastBeat) < s.beat {
			return nil
		}
		lastBeat = s.now()
		return s.db.Write(ctx, func(tx *store.Tx) error {
			im, err := tx.GetImage(ctx, id)
			if err != nil {
				return err
			}
			return tx.HeartbeatImage(ctx, id, s.worker, lastBeat, im.ReservedBytes)
		})
	})
	if err != nil {
		return d, err
	}
	if err := os.Rename(s.files.StagePath(id), s.files.Path(id)); err != nil {
		return d, fmt.Errorf("move staged data into the store: %w", err)
	}
	return d, nil
}
