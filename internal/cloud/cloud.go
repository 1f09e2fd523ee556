// Package cloud wires an all-in-one onestack: the store, every service and
// every API on one HTTP handler. cmd/onestack and the in-process API tests
// both build their cloud here, so tests exercise exactly what ships.
package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/identity"
	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/api/root"
	"github.com/onestack/onestack/internal/reqid"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// Config is what an all-in-one cloud needs.
type Config struct {
	DataDir   string
	Database  string // empty: SQLite in DataDir
	PublicURL string // base URL clients use, e.g. http://127.0.0.1:8000
	Region    string
	// AdminPassword sets (first start) or resets the admin password; empty
	// keeps the existing one.
	AdminPassword string
	TokenTTL      time.Duration
	HashCost      int
	Version       string
	Log           *slog.Logger
}

// Cloud is a wired, bootstrapped cloud.
type Cloud struct {
	DB       *store.DB
	Identity *idsvc.Service
	// AdminCreated is true when this start created the admin user.
	AdminCreated bool
	Services     []root.Entry
	handler      http.Handler
}

// New opens the store, bootstraps identity and mounts every API.
func New(ctx context.Context, cfg Config) (*Cloud, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "RegionOne"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	db, err := store.Open(ctx, store.Options{URL: cfg.Database, DataDir: cfg.DataDir, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	keys, err := idsvc.LoadKeyRing(filepath.Join(cfg.DataDir, "fernet-keys"), 5)
	if err != nil {
		db.Close()
		return nil, err
	}
	c := &Cloud{DB: db}
	c.Identity = idsvc.New(db, keys, cfg.Log, idsvc.Config{TokenTTL: cfg.TokenTTL, HashCost: cfg.HashCost})
	c.Services = []root.Entry{{Type: "identity", Name: "keystone", Path: identity.Prefix, URL: cfg.PublicURL + identity.Prefix}}
	var eps []idsvc.Endpoint
	for _, s := range c.Services {
		eps = append(eps, idsvc.Endpoint{Type: s.Type, Name: s.Name, URL: s.URL})
	}
	c.AdminCreated, err = c.Identity.Bootstrap(ctx, idsvc.Bootstrap{
		AdminUser: "admin", AdminProject: "admin", AdminPassword: cfg.AdminPassword,
		Region: cfg.Region, Endpoints: eps,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bootstrap identity: %w", err)
	}
	mux := http.NewServeMux()
	identity.New(c.Identity, cfg.PublicURL, cfg.Log).Service().Mount(mux)
	root.Service(cfg.Version, c.Services).Mount(mux)
	c.handler = reqid.Middleware(rest.Logged(cfg.Log, mux))
	return c, nil
}

// Handler serves every API.
func (c *Cloud) Handler() http.Handler { return c.handler }

// Close releases the store.
func (c *Cloud) Close() error { return c.DB.Close() }
