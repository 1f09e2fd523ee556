package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// DefaultDomainID is the id of the Default domain, as in every Keystone.
const DefaultDomainID = "default"

// Config tunes the identity service.
type Config struct {
	// TokenTTL is how long an issued token lives (Keystone's default: 1 h).
	TokenTTL time.Duration
	// HashCost is the bcrypt cost for passwords and secrets.
	HashCost int
	// EpochCheck bounds how stale the validation cache may be when another
	// controller changes identity data (writes through this process are seen at once).
	EpochCheck time.Duration
	// AdminProjectID names the cloud admin project (is_admin_project).
	AdminProjectName string
}

// Service is the identity service.
type Service struct {
	db   *store.DB
	keys *KeyRing
	log  *slog.Logger
	cfg  Config
	now  func() time.Time

	mu        sync.RWMutex
	epoch     int64
	checkedAt time.Time
	// gen advances with every local write and every cache reload; a cache
	// fill computed from a read that started under another gen may be
	// stale and is dropped.
	gen     uint64
	revs    revocations
	authz   map[authzKey]*authzEntry
	catalog []CatalogService
}

// New returns the identity service over db, signing with keys.
func New(db *store.DB, keys *KeyRing, log *slog.Logger, cfg Config) *Service {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.HashCost == 0 {
		cfg.HashCost = DefaultHashCost
	}
	if cfg.EpochCheck <= 0 {
		cfg.EpochCheck = time.Second
	}
	if cfg.AdminProjectName == "" {
		cfg.AdminProjectName = "admin"
	}
	return &Service{db: db, keys: keys, log: log, cfg: cfg, now: time.Now, authz: map[authzKey]*authzEntry{}}
}

// Keys returns the key ring tokens are signed with.
func (s *Service) Keys() *KeyRing { return s.keys }

// newID returns a random UUID as 32 hex digits, Keystone's id format.
func newID() string {
	u := uuid.New()
	const hexd = "0123456789abcdef"
	b := make([]byte, 32)
	for i, c := range u {
		b[i*2], b[i*2+1] = hexd[c>>4], hexd[c&0xf]
	}
	return string(b)
}

// write runs fn in one transaction that also advances the identity epoch,
// then drops this process's caches so the change is visible at once.
func (s *Service) write(ctx context.Context, fn func(*store.Tx) error) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.BumpEpoch(ctx, "identity")
		return err
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.checkedAt = time.Time{} // force a reload on the next validation
	s.gen++
	s.mu.Unlock()
	return nil
}

// read runs fn in one read transaction.
func (s *Service) read(ctx context.Context, fn func(*store.Tx) error) error {
	return s.db.Read(ctx, fn)
}

// notFound maps store.ErrNotFound to Keystone's 404 for a resource kind.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("Could not find %s: %s.", kind, id)
	}
	return err
}

// conflict maps store.ErrConflict to Keystone's 409.
func conflict(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return oserr.Conflict("Conflict occurred attempting to store %s", fmt.Sprintf(format, args...))
	}
	return err
}
