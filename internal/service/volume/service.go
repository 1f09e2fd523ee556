package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Cinder's volume statuses.
const (
	StatusCreating      = "creating"
	StatusAvailable     = "available"
	StatusReserved      = "reserved"
	StatusAttaching     = "attaching"
	StatusInUse         = "in-use"
	StatusDetaching     = "detaching"
	StatusExtending     = "extending"
	StatusDeleting      = "deleting"
	StatusError         = "error"
	StatusErrorDeleting = "error_deleting"
	StatusErrorExtend   = "error_extending"
	StatusUploading     = "uploading"
)

// Cinder's attach statuses (of a volume and of an attachment).
const (
	AttachDetached  = "detached"
	AttachReserved  = "reserved"
	AttachAttaching = "attaching"
	AttachAttached  = "attached"
	AttachDetaching = "detaching"
)

// DefaultTypeName is Cinder's default volume type.
const DefaultTypeName = "__DEFAULT__"

// Image is what the volume service needs of a Glance image.
type Image struct {
	ID, Name, Status string
	DiskFormat       string
	ContainerFormat  string
	Size             int64
	MinDisk          int64
	Properties       map[string]string
}

// Images is the part of Glance the volume service uses; package cloud
// adapts the image service to it.
type Images interface {
	// Get reads an image as c sees it (404 when c may not).
	Get(ctx context.Context, c *auth.Credentials, id string) (Image, error)
	// Open reads an image's data as the volume service (the visibility
	// check was done at create).
	Open(ctx context.Context, id string) (Image, io.ReadCloser, error)
	// CreateFor creates a queued image owned by c's project.
	CreateFor(ctx context.Context, c *auth.Credentials, name, diskFormat, containerFormat, visibility string, protected bool, props map[string]string) (Image, error)
	// Upload writes an image's data as the volume service.
	Upload(ctx context.Context, id string, data io.Reader, size int64) error
}

// Config tunes the service.
type Config struct {
	// Zone is the availability zone of every volume ("nova", as Cinder's default).
	Zone string
	// Host names the backend's host in os-services and os-vol-host-attr:host.
	Host string
	// Poll is how often the worker looks for unfinished work besides the
	// kicks it gets (default 2 s).
	Poll time.Duration
	// Workers bounds the backend operations run at once (default 4).
	Workers int
	Now     func() time.Time
}

// Service is the Block Storage domain.
type Service struct {
	db *store.DB
	// backend is nil while the cloud has no storage pool; read it with pool().
	bmu     sync.RWMutex
	backend Backend
	images  Images
	log     *slog.Logger
	cfg     Config

	kick chan struct{}
	mu   sync.Mutex
	// busy are the ids the worker is processing now.
	busy map[string]bool
	// exporting counts, per volume, the attaches in this process between
	// their export and the transaction recording the attachment: the
	// export sweep leaves those volumes alone.
	exporting map[string]int
	// changed is closed (and replaced) whenever the worker changes a status.
	changed chan struct{}
	started time.Time
}

// New returns the service. backend may be nil until the cloud has a storage
// pool: volumes then fail to create with a message saying so.
func New(ctx context.Context, db *store.DB, backend Backend, images Images, log *slog.Logger, cfg Config) (*Service, error) {
	if cfg.Zone == "" {
		cfg.Zone = "nova"
	}
	if cfg.Host == "" {
		cfg.Host = "onestack@pool"
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: db, backend: backend, images: images, log: log, cfg: cfg, kick: make(chan struct{}, 1),
		busy: map[string]bool{}, exporting: map[string]int{}, changed: make(chan struct{}), started: cfg.Now().UTC()}
	if err := s.ensureDefaultType(ctx); err != nil {
		return nil, fmt.Errorf("volume: default type: %w", err)
	}
	return s, nil
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// HasBackend reports whether a storage pool is wired.
func (s *Service) HasBackend() bool { return s.pool() != nil }

// SetBackend wires the storage pool (the cloud does it once the pool is
// open; tests give a file backend to an in-process cloud).
func (s *Service) SetBackend(b Backend) {
	s.bmu.Lock()
	s.backend = b
	s.bmu.Unlock()
	s.notify()
}

func (s *Service) pool() Backend {
	s.bmu.RLock()
	defer s.bmu.RUnlock()
	return s.backend
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func newUUID() string { return uuid.NewString() }

// notify wakes the worker and whoever waits for a status.
func (s *Service) notify() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) broadcast() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Service) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// ---- errors as Cinder words them

func volumeNotFound(id string) error { return oserr.NotFound("Volume %s could not be found.", id) }
func snapshotNotFound(id string) error {
	return oserr.NotFound("Snapshot %s could not be found.", id)
}
func typeNotFound(id string) error { return oserr.NotFound("Volume type %s could not be found.", id) }

func invalidVolume(format string, args ...any) error {
	return oserr.BadRequest("Invalid volume: "+format, args...)
}

// ---- access

// readable reports whether c may see a resource of project p.
func readable(c *auth.Credentials, p string) bool { return c.IsAdmin() || c.ProjectID() == p }

func writable(c *auth.Credentials, p string) error {
	if c.IsAdmin() {
		return nil
	}
	if !c.HasRole(auth.RoleMember) {
		return oserr.Forbidden("Policy doesn't allow this: your role on project %s is reader, and changes need member.", c.ProjectID())
	}
	return nil
}

// getVolumeTx reads a live volume c may see; 404 otherwise (another
// project's volume is not found, as in Cinder).
func getVolumeTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.Volume, error) {
	v, err := tx.GetVolume(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (v.Deleted || (c != nil && !readable(c, v.ProjectID)))) {
		return v, volumeNotFound(id)
	}
	return v, err
}

// Run is the worker: it finishes every volume and snapshot in a
// transitional status (creating, deleting, extending, uploading), reading
// the store again on each pass, so work a crash interrupted is finished
// after a restart. Its first pass with a backend also unexports the
// volumes a crash left exported without an attachment. It returns when ctx
// ends, after its operations stop.
func (s *Service) Run(ctx context.Context) error {
	var swept Backend // the backend whose exports were swept
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, s.cfg.Workers)
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if b := s.pool(); b != nil && b != swept {
			s.sweepExports(ctx)
			swept = b
		}
		var vols, snaps []string
		err := s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			if vols, err = tx.VolumesInStatus(ctx, StatusCreating, StatusDeleting, StatusExtending, StatusUploading); err != nil {
				return err
			}
			snaps, err = tx.SnapshotsInStatus(ctx, StatusCreating, StatusDeleting)
			return err
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("volume worker: read work", "error", err)
		}
		for _, k := range append(prefixed("snapshot:", snaps), prefixed("volume:", vols)...) {
			s.mu.Lock()
			if s.busy[k] {
				s.mu.Unlock()
				continue
			}
			s.busy[k] = true
			s.mu.Unlock()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer func() {
					s.mu.Lock()
					delete(s.busy, k)
					s.mu.Unlock()
					s.broadcast()
				}()
				if err := s.reconcile(ctx, k); err != nil && ctx.Err() == nil {
					s.log.Warn("volume worker: pass failed; retrying", "key", k, "error", err)
				} else {
					s.notify() // a finished step may unblock another (cascade delete)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-t.C:
		}
	}
}

func prefixed(p string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p + id
	}
	return out
}

// Reconcile runs one pass for a key ("volume:<id>" or "snapshot:<id>") now;
// tests and doctor use it to converge without the loop.
func (s *Service) Reconcile(ctx context.Context, key string) error { return s.reconcile(ctx, key) }

func (s *Service) reconcile(ctx context.Context, key string) error {
	switch {
	case len(key) > 7 && key[:7] == "volume:":
		return s.reconcileVolume(ctx, key[7:])
	case len(key) > 9 && key[:9] == "snapshot:":
		return s.reconcileSnapshot(ctx, key[9:])
	}
	return fmt.Errorf("unknown key %q", key)
}

// noBackend is the message of a volume that cannot be created here.
const noBackend = "No valid backend was found: this cloud has no storage pool for volumes (onestack's storage driver is not configured); ask the operator to enable one, then create the volume again."

// WaitStatus waits until volume id leaves the transitional statuses (or
// ctx ends) and returns it.
func (s *Service) WaitStatus(ctx context.Context, id string) (store.Volume, error) {
	for {
		ch := s.changes()
		var v store.Volume
		err := s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			v, err = getVolumeTx(ctx, tx, nil, id)
			return err
		})
		if err != nil {
			return v, err
		}
		switch v.Status {
		case StatusCreating, StatusDeleting, StatusExtending, StatusUploading:
		default:
			return v, nil
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}
