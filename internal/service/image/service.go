package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// GiB is 2^30 bytes.
const GiB = 1 << 30

// Limits are the image quotas. A negative value means no limit.
type Limits struct {
	// ImagesPerProject caps the live images a project owns.
	ImagesPerProject int64
	// BytesPerProject caps the image data a project stores, staged data
	// and uploads in flight included.
	BytesPerProject int64
	// MaxImageSize caps the size of one image.
	MaxImageSize int64
	// MembersPerImage, TagsPerImage and PropertiesPerImage are Glance's
	// image_member_quota, image_tag_quota and image_property_quota.
	MembersPerImage, TagsPerImage, PropertiesPerImage int
}

// DefaultLimits are the limits of a new cloud.
var DefaultLimits = Limits{
	ImagesPerProject:   100,
	BytesPerProject:    100 * GiB,
	MaxImageSize:       100 * GiB,
	MembersPerImage:    128,
	TagsPerImage:       128,
	PropertiesPerImage: 128,
}

// Config tunes the image service.
type Config struct {
	// Limits are the quotas; the zero value means DefaultLimits.
	Limits Limits
	// Heartbeat is how often a transfer records that it is alive; a
	// transfer silent for three heartbeats is taken for dead and undone.
	Heartbeat time.Duration
}

// Service is the image service.
type Service struct {
	db     *store.DB
	files  *FileStore
	log    *slog.Logger
	now    func() time.Time
	worker string // this process's id in the transfers it runs
	beat   time.Duration

	mu     sync.RWMutex
	limits Limits

	// ctx is cancelled by Close; wg counts the goroutines it owns, which
	// start only while closed is false (under mu).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// New returns the image service over db keeping data in files, undoes the
// transfers a stopped process left behind, and starts the janitor that
// keeps undoing those whose worker stops. Close stops it.
func New(ctx context.Context, db *store.DB, files *FileStore, log *slog.Logger, cfg Config) (*Service, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	s := &Service{db: db, files: files, log: log, now: time.Now, worker: uuid.NewString(),
		beat: cfg.Heartbeat, limits: cfg.Limits}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if n, err := files.CleanTemp(); err != nil {
		return nil, fmt.Errorf("clean image temp files: %w", err)
	} else if n > 0 {
		log.Warn("removed partial image data left by a stopped upload", "files", n, "dir", files.Dir())
	}
	// An embedded SQLite store belongs to this one process: whatever
	// transfer it records was run by a process that has stopped. With
	// PostgreSQL another controller may be mid-transfer; only silence
	// (a stale heartbeat) tells a dead transfer from a live one.
	before := s.now().Add(-3 * s.beat)
	if db.Dialect() == "sqlite" {
		before = s.now().Add(time.Hour)
	}
	if err := s.recoverTransfers(ctx, before); err != nil {
		return nil, fmt.Errorf("recover interrupted image transfers: %w", err)
	}
	s.spawn(s.janitor)
	return s, nil
}

// spawn runs fn in a goroutine the service owns; false once closed.
func (s *Service) spawn(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Close stops the janitor and any import in flight and waits for them. An
// import stopped this way is undone on the next start.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Files returns the store image data is kept in.
func (s *Service) Files() *FileStore { return s.files }

// Limits returns the quotas in force.
func (s *Service) Limits() Limits {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.limits
}

// SetLimits changes the quotas for requests from now on.
func (s *Service) SetLimits(l Limits) {
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// janitor undoes, every heartbeat, the transfers whose worker went silent.
func (s *Service) janitor() {
	t := time.NewTicker(s.beat)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
			if err := s.recoverTransfers(ctx, s.now().Add(-3*s.beat)); err != nil && s.ctx.Err() == nil {
				s.log.Error("recover interrupted image transfers", "error", err)
			}
			cancel()
		}
	}
}

// recoverTransfers undoes every transfer silent since before and not run
// by this process: an upload or a stage goes back to queued with its
// partial data removed; an import goes back to uploading when its staged
// data is intact (run the import again), else to queued.
func (s *Service) recoverTransfers(ctx context.Context, before time.Time) error {
	var stale []store.Image
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		stale, err = tx.ListStaleImageTransfers(ctx, before)
		return err
	})
	if err != nil {
		return err
	}
	for _, im := range stale {
		if im.Worker == s.worker {
			continue
		}
		var from, to string
		_, err := s.modify(ctx, im.ID, func(tx *store.Tx, cur *store.Image) error {
			if cur.Transfer == store.TransferNone || cur.Worker != im.Worker {
				return errUnchanged // finished or taken over meanwhile
			}
			from = cur.Status
			keepStaged := false
			if cur.Transfer == store.TransferImport {
				if n, err := statFile(s.files.StagePath(cur.ID)); err == nil && n == cur.StagedSize && n > 0 {
					keepStaged = true
				}
			}
			if keepStaged {
				cur.Status = store.ImageUploading
				cur.Transfer, cur.Worker = store.TransferNone, ""
				delete(cur.Properties, "os_glance_import_task")
				// The staged bytes stay reserved: they are still stored.
			} else {
				if err := s.release(ctx, tx, cur); err != nil {
					return err
				}
				resetToQueued(cur)
				if err := s.files.Remove(cur.ID); err != nil {
					return err
				}
			}
			to = cur.Status
			return nil
		})
		if errors.Is(err, errUnchanged) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("image %s: %w", im.ID, err)
		}
		s.log.Warn("image transfer interrupted: its worker stopped; image reset",
			"image_id", im.ID, "transfer", im.Transfer, "from_status", from, "to_status", to,
			"hint", hintFor(to))
		if im.Transfer == store.TransferImport {
			s.failTasks(ctx, im.ID, "the import was interrupted: the process running it stopped")
		}
	}
	return nil
}

func hintFor(status string) string {
	if status == store.ImageUploading {
		return "the staged data is intact: run the import again"
	}
	return "upload the image data again"
}

// resetToQueued clears an image's data and transfer: it holds no data.
func resetToQueued(im *store.Image) {
	im.Status = store.ImageQueued
	im.Transfer, im.Worker = store.TransferNone, ""
	im.Size, im.VirtualSize, im.Checksum, im.OSHashAlgo, im.OSHashValue = nil, nil, nil, nil, nil
	im.ReservedBytes, im.StagedSize = 0, 0
}

// release gives back the bytes im's transfer reserved.
func (s *Service) release(ctx context.Context, tx *store.Tx, im *store.Image) error {
	if im.ReservedBytes == 0 {
		return nil
	}
	if _, err := tx.ChangeImageUsage(ctx, im.Owner, 0, -im.ReservedBytes, -1, -1); err != nil {
		return err
	}
	im.ReservedBytes = 0
	return nil
}

// errUnchanged ends a modify without writing.
var errUnchanged = errors.New("unchanged")

// modify reads image id, applies fn and writes it back in one transaction,
// retrying from the read when another writer changed the image first.
func (s *Service) modify(ctx context.Context, id string, fn func(tx *store.Tx, im *store.Image) error) (store.Image, error) {
	var out store.Image
	for attempt := 1; ; attempt++ {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			im, err := tx.GetImage(ctx, id)
			if err != nil {
				return err
			}
			if err := fn(tx, &im); err != nil {
				return err
			}
			im.UpdatedAt = s.now()
			if err := tx.UpdateImage(ctx, &im); err != nil {
				return err
			}
			out = im
			return nil
		})
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue
		}
		return out, err
	}
}

// failTasks marks the image's unfinished import tasks failed with msg.
func (s *Service) failTasks(ctx context.Context, imageID, msg string) {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		ts, err := tx.ListImageTasks(ctx, imageID)
		if err != nil {
			return err
		}
		for _, k := range ts {
			if k.Status == TaskSuccess || k.Status == TaskFailure {
				continue
			}
			k.Status, k.Message, k.UpdatedAt = TaskFailure, msg, s.now()
			k.ExpiresAt = k.UpdatedAt.Add(taskTTL)
			if err := tx.UpdateImageTask(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("record failed image import task", "image_id", imageID, "error", err)
	}
}

// ---- access

// caller is what policy needs to know about the bearer of a request.
type caller struct {
	c *auth.Credentials
}

func (k caller) admin() bool     { return k.c.IsAdmin() }
func (k caller) project() string { return k.c.ProjectID() }

// owns reports whether the caller's project owns im (admins own everything).
func (k caller) owns(im *store.Image) bool {
	return k.admin() || (k.project() != "" && im.Owner == k.project())
}

// canWrite reports whether the caller may change im: it owns it and holds
// the member role there.
func (k caller) canWrite(im *store.Image) bool {
	return k.c.CanWrite(im.Owner) || k.admin()
}

// visible returns the image if the caller may see it, else Glance's 404:
// another project's private image does not exist for the caller.
func (s *Service) visible(ctx context.Context, tx *store.Tx, k caller, id string) (store.Image, error) {
	im, err := tx.GetImage(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return im, notFound(id)
	}
	if err != nil {
		return im, err
	}
	ok, err := s.canSee(ctx, tx, k, &im)
	if err != nil {
		return im, err
	}
	if !ok {
		return im, notFound(id)
	}
	return im, nil
}

// canSee reports whether the caller sees im: admins and owners always,
// anyone public and community images, members (whatever their status)
// shared ones.
func (s *Service) canSee(ctx context.Context, tx *store.Tx, k caller, im *store.Image) (bool, error) {
	if k.owns(im) || im.Visibility == VisibilityPublic || im.Visibility == VisibilityCommunity {
		return true, nil
	}
	if im.Visibility != VisibilityShared || k.project() == "" {
		return false, nil
	}
	_, err := tx.GetImageMember(ctx, im.ID, k.project())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func notFound(id string) error {
	return oserr.NotFound("No image found with ID %s; check the id with 'openstack image list'.", id)
}

// notOwner is Glance's 403 for a visible image the caller may not change.
func notOwner(k caller, im *store.Image) error {
	if k.owns(im) {
		return oserr.Forbidden("You are not authorized to change image %s: it needs the member role in its project %s.", im.ID, im.Owner)
	}
	return oserr.Forbidden("You do not own this image: image %s belongs to project %s; only its owner or an admin may change it.", im.ID, im.Owner)
}
