package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Placement's error codes (the "code" of each error in {"errors": […]}),
// exactly as placement.errors names them: clients branch on them.
const (
	CodeConcurrentUpdate   = "placement.concurrent_update"
	CodeInventoryInUse     = "placement.inventory.inuse"
	CodeDuplicateName      = "placement.duplicate_name"
	CodeProviderInUse      = "placement.resource_provider.inuse"
	CodeCannotDeleteParent = "placement.resource_provider.cannot_delete_parent"
	CodeProviderNotFound   = "placement.resource_provider.not_found"
	CodeDuplicateQuery     = "placement.query.duplicate_key"
	CodeBadQuery           = "placement.query.bad_value"
	CodeMissingQuery       = "placement.query.missing_value"
)

// MaxInt is the largest amount an inventory field or an allocation may
// hold (placement's db MAX_INT, a signed 32-bit integer).
const MaxInt = 1<<31 - 1

// IncompleteConsumer is the project and user recorded for allocations
// written before microversion 1.8, which did not send them (placement's
// incomplete_consumer_project_id / _user_id defaults).
const IncompleteConsumer = "00000000-0000-0000-0000-000000000000"

// Service is the placement service.
type Service struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time
}

// New returns the placement service over db. Call Init once before use.
func New(db *store.DB, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, log: log, now: func() time.Time { return time.Now().UTC() }}
}

// Init creates the standard resource classes and traits that do not exist
// yet; it is idempotent, so every start (and every controller) may run it.
func (s *Service) Init(ctx context.Context) error {
	now := s.now()
	return s.db.Write(ctx, func(tx *store.Tx) error {
		for _, rc := range standardClasses {
			if _, err := tx.EnsureResourceClass(ctx, store.ResourceClass{Name: rc, Standard: true, CreatedAt: now}); err != nil {
				return fmt.Errorf("create standard resource class %s: %w", rc, err)
			}
		}
		for _, tr := range standardTraits {
			if _, err := tx.EnsureTrait(ctx, store.Trait{Name: tr, Standard: true, CreatedAt: now}); err != nil {
				return fmt.Errorf("create standard trait %s: %w", tr, err)
			}
		}
		return nil
	})
}

func (s *Service) read(ctx context.Context, fn func(*store.Tx) error) error {
	return s.db.Read(ctx, fn)
}

func (s *Service) write(ctx context.Context, fn func(*store.Tx) error) error {
	return s.db.Write(ctx, fn)
}

var (
	nameRE       = regexp.MustCompile(`^[A-Z0-9_]+$`)
	customNameRE = regexp.MustCompile(`^CUSTOM_[A-Z0-9_]+$`)
)

// ValidClassName reports whether name is a well-formed resource class or
// trait name: upper-case letters, digits and underscores.
func ValidClassName(name string) bool { return len(name) <= 255 && nameRE.MatchString(name) }

// ValidCustomName reports whether name is a well-formed custom resource
// class or trait name: CUSTOM_ followed by [A-Z0-9_].
func ValidCustomName(name string) bool { return len(name) <= 255 && customNameRE.MatchString(name) }

// NormalizeUUID returns u in the canonical dashed lower-case form, or false
// when u is not a UUID. Placement accepts UUIDs with or without dashes.
func NormalizeUUID(u string) (string, bool) {
	if len(u) != 32 && len(u) != 36 {
		return "", false
	}
	p, err := uuid.Parse(u)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

func providerNotFound(uuid string) error {
	return oserr.NotFound("No resource provider with uuid %s found.", uuid)
}

// getProvider reads a provider, or Placement's 404 for it.
func getProvider(ctx context.Context, tx *store.Tx, uuid string) (store.Provider, error) {
	p, err := tx.GetProvider(ctx, uuid)
	if errors.Is(err, store.ErrNotFound) {
		return p, providerNotFound(uuid)
	}
	return p, err
}

func concurrentUpdate(format string, args ...any) error {
	return oserr.Conflict(format, args...).WithType(CodeConcurrentUpdate)
}

// bump advances a provider's generation, checking it against expect when
// expect is not nil, with Placement's 404 and 409 for what can go wrong.
func (s *Service) bump(ctx context.Context, tx *store.Tx, uuid string, expect *int64) (int64, error) {
	g, err := tx.BumpGeneration(ctx, uuid, expect, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, providerNotFound(uuid)
	case errors.Is(err, store.ErrGeneration):
		cur, _ := tx.GetProvider(ctx, uuid)
		return 0, concurrentUpdate("resource provider generation conflict: resource provider %s is at generation %d, the request named %d; read the provider again and retry with its current generation.",
			uuid, cur.Generation, *expect)
	}
	return g, err
}
