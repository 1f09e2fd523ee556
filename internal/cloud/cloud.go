// Package cloud wires an all-in-one onestack: the store, every service and
// every API on one HTTP handler. cmd/onestack and the in-process API tests
// both build their cloud here, so tests exercise exactly what ships.
//
// Each OpenStack service is wired in its own file (identity.go, image.go,
// placement.go, compute.go): a wire function that builds the service, mounts
// its API and returns its catalog entries.
package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/api/root"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	computesvc "github.com/onestack/onestack/internal/service/compute"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	netsvc "github.com/onestack/onestack/internal/service/network"
	placementsvc "github.com/onestack/onestack/internal/service/placement"
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
	// Hypervisor is "fake" (in-process fake hosts, for tests and scale
	// benchmarks) or "qemu"; FakeHosts is how many fake hosts to run.
	Hypervisor string
	FakeHosts  int
	// FakeHost is the capacity of each fake host.
	FakeHost FakeHostSize
	// Accel is the qemu hosts' accelerator: auto (probe), kvm or tcg.
	Accel string
	// CacheDir keeps downloaded Debian packages (the kernel the
	// accelerator probe boots).
	CacheDir string
	// AccelChosen is called once with the accelerator the qemu hosts use
	// and why, so the command can say so in its first lines.
	AccelChosen func(name, reason string)
	// DeletedRetention is how long deleted servers stay readable (Nova's
	// deleted=true listings, instance actions) before they are purged;
	// zero keeps the compute service's default (24 h).
	DeletedRetention time.Duration
	// PurgeInterval is how often deleted servers past the retention are
	// purged; zero means every minute.
	PurgeInterval time.Duration
	// MaxRequests bounds the API requests served at once (512 when zero);
	// beyond it a request waits up to a second, then gets a 503 with
	// Retry-After. The agents' long polls and serial consoles are not counted.
	MaxRequests int
	// MaxRequestsPerClient bounds one client's (token's, else address's)
	// requests in flight; beyond it a request gets a 429 with Retry-After.
	// Zero means a quarter of MaxRequests; negative means no bound.
	MaxRequestsPerClient int
	// ExternalCIDR is the public network's subnet (DefaultExternalCIDR
	// when empty); its first address is the outside world's gateway.
	ExternalCIDR string
	// Controller: one of several controllers sharing the database; watches
	// also poll it for the other controllers' changes.
	Controller bool
}

// FakeHostSize is the capacity a fake host reports.
type FakeHostSize struct{ VCPUs, MemoryMB, DiskGB int }

// Cloud is a wired, bootstrapped cloud.
type Cloud struct {
	cfg      Config
	DB       *store.DB
	Identity *idsvc.Service
	Image    *imageService // Glance (*image.Service); wired in image.go
	Compute  *computesvc.Service
	// Placement is what the scheduler reads capacity from and claims on.
	Placement *placementsvc.Service
	Volume    *volumeService // Cinder (*volume.Service); wired in volume.go
	Object    *objectService // Swift (*object.Service); wired in object.go
	// LoadBalancer is Octavia (*loadbalancer.Service); wired in loadbalancer.go.
	LoadBalancer *loadBalancerService
	// AdminCreated is true when this start created the admin user.
	AdminCreated bool
	Services     []root.Entry
	mux          *http.ServeMux
	handler      http.Handler
	// formats and unmetered are what mount tells the admission control:
	// each prefix's error format, and the paths it does not count.
	formats   map[string]oserr.Format
	unmetered []string
	// verbatim are the services that route themselves and see paths as
	// sent (Swift), served past the mux, which would clean them.
	verbatim map[string]http.Handler
	// closers run in reverse order on Close (files, connections).
	closers []func() error
	// loops are the background reconcilers Start runs (scheduler, agents).
	loops []func(ctx context.Context) error
	// netPlane is the networking service as agents watch it (nil until
	// networking is wired).
	netPlane hostapi.NetworkPlane
	network  *netsvc.Service
	cancel   context.CancelFunc
	done     chan struct{}
}

// New opens the store, wires every service and bootstraps identity with
// the catalog of what is served.
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
	c := &Cloud{cfg: cfg, DB: db, mux: http.NewServeMux(), formats: map[string]oserr.Format{}}
	for _, wire := range []func(context.Context) error{c.wireIdentity, c.wireImage, c.wirePlacement, c.wireCompute, c.wireNetwork, c.wireVolume, c.wireComputeVolumes, c.wireObject, c.wireLoadBalancer} {
		if err := wire(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.bootstrapIdentity(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bootstrap identity: %w", err)
	}
	if err := c.bootstrapNetwork(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bootstrap networking: %w", err)
	}
	root.Service(cfg.Version, c.Services).Mount(c.mux)
	max := cfg.MaxRequests
	if max <= 0 {
		max = 512
	}
	adm := rest.NewAdmission(max, time.Second, c.formats, c.unmetered...).PerClient(perClient(cfg.MaxRequestsPerClient, max))
	c.handler = reqid.Middleware(rest.Logged(cfg.Log, adm.Wrap(http.HandlerFunc(c.route))))
	return c, nil
}

// route sends a request to the verbatim service whose prefix its path is
// under, with the path as sent, and every other request to the mux.
func (c *Cloud) route(w http.ResponseWriter, r *http.Request) {
	for prefix, h := range c.verbatim {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// perClient is the per-client bound for n requests at once overall.
func perClient(n, total int) int {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return max(1, total/4)
	}
	return n
}

// env is what every API package's New takes beside its service.
func (c *Cloud) env() rest.Env {
	return rest.Env{PublicURL: c.cfg.PublicURL, Validator: c.Identity, Log: c.cfg.Log}
}

// mount is the one way a service's API joins the cloud: its routes (with
// its version document and 404/405 in its error format) on the listener,
// its error format and unmetered paths to the admission control, and its
// endpoints to the catalog and GET /. docs/architecture.md has the recipe.
func (c *Cloud) mount(s *rest.Service) {
	s.Mount(c.mux)
	if s.Verbatim != nil {
		if c.verbatim == nil {
			c.verbatim = map[string]http.Handler{}
		}
		c.verbatim[s.Prefix] = s.Handler()
	}
	c.formats[s.Prefix] = s.Format
	for _, u := range s.Unmetered {
		c.unmetered = append(c.unmetered, s.Prefix+u)
	}
	for _, e := range s.Endpoints {
		c.Services = append(c.Services, root.Entry{Type: e.Type, Name: e.Name, Path: s.Prefix, URL: c.cfg.PublicURL + s.Prefix + e.Suffix})
	}
}

// DataDir is the directory of the cloud's SQLite store, keys and images.
func (c *Cloud) DataDir() string { return c.cfg.DataDir }

// Handler serves every API.
func (c *Cloud) Handler() http.Handler { return c.handler }

// Start runs the background reconcilers until Close.
func (c *Cloud) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	g, ctx := errgroup.WithContext(ctx)
	for _, loop := range c.loops {
		g.Go(func() error { return loop(ctx) })
	}
	go func() {
		if err := g.Wait(); err != nil {
			c.cfg.Log.Error("background loop stopped", "error", err)
		}
		close(c.done)
	}()
}

// Close stops background work and releases the store.
func (c *Cloud) Close() error {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	var err error
	for i := len(c.closers) - 1; i >= 0; i-- {
		if e := c.closers[i](); e != nil && err == nil {
			err = e
		}
	}
	if e := c.DB.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
