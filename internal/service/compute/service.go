package compute

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Image is what compute needs to know about a Glance image to boot it
// (and to show it through Nova's deprecated image API).
type Image struct {
	ID, Name, Status     string
	DiskFormat           string
	MinDisk, MinRAM      int
	Size                 int64
	Properties           map[string]string
	CreatedAt, UpdatedAt time.Time
}

// Images is the part of the image service compute uses.
type Images interface {
	// Boot returns the image as the credentials see it (404 when they cannot).
	Boot(ctx context.Context, c *auth.Credentials, id string) (Image, error)
	// Snapshot creates a queued image owned by the server's project and
	// returns its id; the agent fills it with data later.
	Snapshot(ctx context.Context, c *auth.Credentials, name string, props map[string]string) (string, error)
	// Upload streams data into a snapshot image on the control plane's behalf.
	Upload(ctx context.Context, imageID string, data io.Reader) error
	// Download opens an image's data for a host's image cache, on the
	// control plane's behalf.
	Download(ctx context.Context, imageID string) (io.ReadCloser, hostapi.ImageFile, error)
	// List, Delete and SetProperties serve Nova's image proxy (before
	// microversion 2.36). SetProperties sets and removes user properties
	// in one change and returns the image as it is afterwards.
	List(ctx context.Context, c *auth.Credentials, f ImageFilter) ([]Image, error)
	Delete(ctx context.Context, c *auth.Credentials, id string) error
	SetProperties(ctx context.Context, c *auth.Credentials, id string, set map[string]string, remove []string) (Image, error)
}

// ImageFilter narrows the image proxy's list, as Nova translates its
// filters for Glance. Zero values match everything.
type ImageFilter struct {
	Limit  int
	Marker string
	Name   string
	// Statuses are Glance statuses (Nova's ACTIVE is active, SAVING is
	// queued or saving, …).
	Statuses []string
	// ChangesSince keeps images updated at or after it.
	ChangesSince *time.Time
	// Properties must all match (server → instance_uuid, type → image_type).
	Properties map[string]string
	// MinRAM and MinDisk keep images whose min_ram/min_disk are at least these.
	MinRAM, MinDisk int
}

// Placement is the part of the placement service compute uses.
type Placement interface {
	EnsureProvider(ctx context.Context, uuid, name string, inv map[string]Inventory) error
	ReleaseTx(ctx context.Context, tx *store.Tx, consumerID string) error
	// MoveTx hands every allocation of one consumer to another (for moves).
	MoveTx(ctx context.Context, tx *store.Tx, fromConsumer, toConsumer string) error
}

// Inventory is one resource class of a compute host for placement.
type Inventory struct {
	Total, Reserved, MaxUnit int64
	AllocationRatio          float64
}

// Config tunes compute.
type Config struct {
	// PeerPoll, when set, is how often an agent's watch re-reads the store
	// for changes other controllers made (they cannot wake this process);
	// zero waits for this process's own wake-ups only.
	PeerPoll time.Duration
	// DefaultZone is where hosts without an aggregate zone live ("nova").
	DefaultZone string
	// ServiceDownTime: a host whose agent has not heartbeated for this long is down.
	ServiceDownTime time.Duration
	// Quotas are the default per-project limits.
	Quotas Quotas
	// Allocation ratios reported for every host's inventory.
	CPURatio, RAMRatio, DiskRatio float64
	// DeletedRetention: deleted servers stay listable (changes-since) this long before purge.
	DeletedRetention time.Duration
}

// Service is the compute service.
type Service struct {
	db        *store.DB
	images    Images
	placement Placement
	log       *slog.Logger
	cfg       Config
	now       func() time.Time
	// Hub wakes the scheduler and the agents when servers change.
	Hub      *Hub
	consoles ConsoleSource
	serial   SerialDialer
	tokens   consoleTokens
	// networking is the networking service, nil when the cloud runs none.
	networking Networking
	// volumes is the block storage service, nil when the cloud runs none.
	volumes Volumes
}

// New returns the compute service.
func New(db *store.DB, images Images, placement Placement, log *slog.Logger, cfg Config) *Service {
	if cfg.DefaultZone == "" {
		cfg.DefaultZone = "nova"
	}
	if cfg.ServiceDownTime <= 0 {
		cfg.ServiceDownTime = 60 * time.Second
	}
	if cfg.Quotas == nil {
		cfg.Quotas = DefaultQuotas()
	}
	if cfg.CPURatio == 0 {
		cfg.CPURatio = 4
	}
	if cfg.RAMRatio == 0 {
		cfg.RAMRatio = 1
	}
	if cfg.DiskRatio == 0 {
		cfg.DiskRatio = 1
	}
	if cfg.DeletedRetention == 0 {
		cfg.DeletedRetention = 24 * time.Hour
	}
	return &Service{db: db, images: images, placement: placement, log: log, cfg: cfg, now: time.Now, Hub: NewHub()}
}

// DB exposes the store to the reconcilers wired with this service.
func (s *Service) DB() *store.DB { return s.db }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

func newUUID() string { return uuid.NewString() }

// notFound maps store.ErrNotFound to Nova's 404 for a resource kind.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("%s %s could not be found.", kind, id)
	}
	return err
}

// Hub carries wake-ups from writers to reconcilers in this process: the
// scheduler waits on Schedule, each agent on its host's channel. Signals
// coalesce (a buffered channel of one); a reconciler that was busy simply
// finds the work on its next pass.
type Hub struct {
	schedule chan struct{}
	mu       sync.Mutex
	hosts    map[string]chan struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{schedule: make(chan struct{}, 1), hosts: map[string]chan struct{}{}}
}

// Schedule is signalled when a server needs a host.
func (h *Hub) Schedule() <-chan struct{} { return h.schedule }

// WakeScheduler signals the scheduler.
func (h *Hub) WakeScheduler() {
	select {
	case h.schedule <- struct{}{}:
	default:
	}
}

// Host returns the channel signalled when a server on host changes.
func (h *Hub) Host(host string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.hosts[host]
	if !ok {
		ch = make(chan struct{}, 1)
		h.hosts[host] = ch
	}
	return ch
}

// WakeHost signals the agent of host.
func (h *Hub) WakeHost(host string) {
	if host == "" {
		return
	}
	h.mu.Lock()
	ch, ok := h.hosts[host]
	if !ok {
		ch = make(chan struct{}, 1)
		h.hosts[host] = ch
	}
	h.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// likePattern turns a Nova name filter into a SQL LIKE pattern when it is
// a plain substring (the common case); ok is false for real regexes.
func likePattern(re string) (string, bool) {
	if strings.ContainsAny(re, `\.^$*+?()[]{}|`) {
		return "", false
	}
	esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(re)
	return "%" + esc + "%", true
}

// UploadImage implements hostapi.Plane: an agent sends a snapshot's data.
// An image deleted while its snapshot is taken is not the server's fault:
// as Nova does, the snapshot is dropped and the server carries on.
func (s *Service) UploadImage(ctx context.Context, imageID string, data io.Reader) error {
	err := s.images.Upload(ctx, imageID, data)
	if oserr.Is(err, 404) || oserr.Is(err, 410) {
		s.log.Info("snapshot image deleted while it was saved; snapshot dropped", "image_id", imageID, "error", err)
		return nil
	}
	return err
}

// DownloadImage implements hostapi.Plane: an agent fetches an image's
// data for its cache.
func (s *Service) DownloadImage(ctx context.Context, imageID string) (io.ReadCloser, hostapi.ImageFile, error) {
	return s.images.Download(ctx, imageID)
}

// Image returns an image as the credentials see it (Nova's image proxy).
func (s *Service) Image(ctx context.Context, c *auth.Credentials, id string) (Image, error) {
	return s.images.Boot(ctx, c, id)
}

// ListImages lists images as the credentials see them (Nova's image proxy).
func (s *Service) ListImages(ctx context.Context, c *auth.Credentials, f ImageFilter) ([]Image, error) {
	return s.images.List(ctx, c, f)
}

// SetImageMetadata replaces (replace=true) or merges an image's user
// properties through Nova's image proxy, within the metadata_items quota,
// and returns the properties afterwards.
func (s *Service) SetImageMetadata(ctx context.Context, c *auth.Credentials, id string, meta map[string]string, replace bool) (map[string]string, error) {
	im, err := s.images.Boot(ctx, c, id)
	if err != nil {
		return nil, err
	}
	var remove []string
	n := len(meta)
	for k := range im.Properties {
		_, kept := meta[k]
		switch {
		case replace && !kept:
			remove = append(remove, k)
		case !replace && !kept:
			n++
		}
	}
	q, err := s.Limits(ctx, c.ProjectID())
	if err != nil {
		return nil, err
	}
	if lim := q["metadata_items"]; lim >= 0 && int64(n) > lim {
		return nil, oserr.Forbidden("Quota exceeded for metadata_items: the image would have %d items, the limit is %d.", n, lim)
	}
	im, err = s.images.SetProperties(ctx, c, id, meta, remove)
	if err != nil {
		return nil, err
	}
	return im.Properties, nil
}

// DeleteImageMetadata removes one user property of an image (Nova's image proxy).
func (s *Service) DeleteImageMetadata(ctx context.Context, c *auth.Credentials, id, key string) error {
	im, err := s.images.Boot(ctx, c, id)
	if err != nil {
		return err
	}
	if _, ok := im.Properties[key]; !ok {
		return oserr.NotFound("Metadata item %s was not found on image %s.", key, id)
	}
	_, err = s.images.SetProperties(ctx, c, id, nil, []string{key})
	return err
}

// DeleteImage deletes an image (Nova's image proxy).
func (s *Service) DeleteImage(ctx context.Context, c *auth.Credentials, id string) error {
	return s.images.Delete(ctx, c, id)
}
