package object

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Config shapes the service.
type Config struct {
	// Dir holds the object data (DATA/objects).
	Dir string
	// ReapInterval is how often expired objects are removed (default 1 s:
	// reads hide an expired object at once anyway).
	ReapInterval time.Duration
	// MaxManifestSegments and MaxManifestSize bound an SLO manifest
	// (Swift's defaults: 1000 segments, 8 MiB).
	MaxManifestSegments int
	MaxManifestSize     int64
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Service is the object storage service.
type Service struct {
	db    *store.DB
	files *files
	log   *slog.Logger
	cfg   Config
	// crashed is set when this start found the journal of a process that
	// died: the background scan for orphaned data then runs once.
	crashed bool
	// scanned is closed when the start's scans are done.
	scanned chan struct{}
}

// New opens the object data directory and settles what dead processes
// left in their journals (uploads never recorded, removals that committed)
// before the service answers anything.
func New(ctx context.Context, db *store.DB, log *slog.Logger, cfg Config) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("object storage needs a data directory")
	}
	if cfg.ReapInterval <= 0 {
		cfg.ReapInterval = time.Second
	}
	if cfg.MaxManifestSegments <= 0 {
		cfg.MaxManifestSegments = 1000
	}
	if cfg.MaxManifestSize <= 0 {
		cfg.MaxManifestSize = 8 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f, err := openFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Service{db: db, files: f, log: log, cfg: cfg, scanned: make(chan struct{})}
	journals, n, err := f.sweep(ctx, s.existing)
	s.crashed = journals > 0
	if n > 0 {
		log.Info("removed object data left by a stopped process", "files", n)
	}
	if err != nil {
		f.close()
		return nil, fmt.Errorf("settle object journals: %w", err)
	}
	return s, nil
}

// existing reports which data file ids have a row.
func (s *Service) existing(ctx context.Context, ids []string) (have map[string]bool, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		have, err = tx.ObjectIDs(ctx, ids)
		return err
	})
	return have, err
}

// Close releases the data directory.
func (s *Service) Close() error { return s.files.close() }

// Scanned is closed once the start's scan for orphaned data is done (at
// once when no process had crashed).
func (s *Service) Scanned() <-chan struct{} { return s.scanned }

// Run removes expired objects until ctx ends; after a crash it first
// scans the data for files no row and no journal names.
func (s *Service) Run(ctx context.Context) error {
	if s.crashed {
		n, err := s.files.orphans(ctx, s.existing)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("scan for orphaned object data failed", "error", err)
		} else if n > 0 {
			s.log.Info("removed orphaned object data", "files", n)
		}
	}
	close(s.scanned)
	t := time.NewTicker(s.cfg.ReapInterval)
	defer t.Stop()
	for {
		if err := s.reap(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("removing expired objects failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// notFound is Swift's 404 with what was not found.
func notFound(format string, args ...any) error { return oserr.NotFound(format, args...) }
