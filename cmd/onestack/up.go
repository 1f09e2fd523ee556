package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/identity"
	"github.com/onestack/onestack/internal/cloud"
	idsvc "github.com/onestack/onestack/internal/service/identity"
)

// upConfig is everything `onestack up` is told.
type upConfig struct {
	dataDir       string
	listen        string
	publicURL     string
	database      string
	adminPassword string
	region        string
	tokenTTL      time.Duration
	hashCost      int
	logLevel      string
	hypervisor    string
	accel         string
	cacheDir      string
	hosts         int
	maxRequests   int
	debugListen   string
	externalCIDR  string
	controller    bool
	maxPerClient  int
	retention     time.Duration
}

func parseUp(args []string, getenv func(string) string) (upConfig, error) {
	return parseServe("onestack up", args, getenv, false)
}

// parseServe parses the flags of `onestack up`, or of `onestack
// controller` (control plane only: no in-process hosts, PostgreSQL
// required, watches also see the other controllers' changes).
func parseServe(name string, args []string, getenv func(string) string, controller bool) (upConfig, error) {
	var c upConfig
	c.controller = controller
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the SQLite store, token keys, clouds.yaml and openrc")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8000", "address the APIs listen on")
	fs.StringVar(&c.publicURL, "public-url", "", "base URL clients reach the APIs at (default http://LISTEN)")
	fs.StringVar(&c.database, "database", "", "postgres://USER:PASS@HOST/DB for PostgreSQL; empty for SQLite in the data dir")
	fs.StringVar(&c.adminPassword, "admin-password", getenv("ONESTACK_ADMIN_PASSWORD"), "admin password (random on first start when empty; setting it later resets it)")
	fs.StringVar(&c.region, "region", "RegionOne", "region name in the catalog")
	fs.DurationVar(&c.tokenTTL, "token-ttl", time.Hour, "lifetime of issued tokens")
	fs.IntVar(&c.hashCost, "password-hash-cost", idsvc.DefaultHashCost, "bcrypt cost for passwords and application credential secrets (Keystone uses 12)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.hypervisor, "hypervisor", "qemu", "hypervisor of the in-process hosts: qemu (real guests) or fake (no guests; for scale tests and benchmarks)")
	fs.StringVar(&c.accel, "accel", "auto", "qemu accelerator: auto (boot a probe kernel under KVM once and use KVM only if it works), kvm or tcg (software emulation)")
	fs.StringVar(&c.cacheDir, "cache-dir", defaultCacheDir(getenv), "where downloaded Debian packages are kept (the kernel the KVM probe boots)")
	if !controller {
		fs.IntVar(&c.hosts, "hosts", 1, "how many in-process hosts to run (host-1 … host-N); 0 for a control plane only")
	}
	fs.IntVar(&c.maxRequests, "max-requests", 512, "API requests served at once; beyond it a request waits up to 1 s, then gets 503 with Retry-After (agents' long polls are not counted)")
	fs.IntVar(&c.maxPerClient, "max-requests-per-client", 0, "API requests one client (token, else address) may have in flight; beyond it 429 with Retry-After (default a quarter of --max-requests; -1: no bound)")
	fs.DurationVar(&c.retention, "deleted-retention", 24*time.Hour, "how long deleted servers stay listable (deleted=true, instance actions) before they are purged")
	fs.StringVar(&c.externalCIDR, "external-cidr", cloud.DefaultExternalCIDR, "subnet of the external network 'public'; its first address is the gateway in the outside-world namespace (DATA/external-netns)")
	fs.StringVar(&c.debugListen, "debug-listen", "", "loopback HOST:PORT to serve Go profiles on (/debug/pprof/); off when empty")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := absPaths(&c.dataDir, &c.cacheDir); err != nil {
		return c, err
	}
	if controller {
		if !strings.HasPrefix(c.database, "postgres://") && !strings.HasPrefix(c.database, "postgresql://") {
			return c, fmt.Errorf("onestack controller shares its database with the other controllers: give --database postgres://USER:PASS@HOST/DB (SQLite is for onestack up)")
		}
		c.hypervisor, c.hosts = "none", 0
	}
	if c.publicURL == "" {
		c.publicURL = "http://" + c.listen
	}
	c.publicURL = strings.TrimRight(c.publicURL, "/")
	return c, nil
}

// defaultCacheDir is $XDG_CACHE_HOME/onestack, else ~/.cache/onestack.
func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "onestack")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "onestack")
	}
	return filepath.Join(os.TempDir(), "onestack-cache")
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func up(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := parseUp(args, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg)
}

// controllerCmd runs `onestack controller`: the control plane alone (APIs,
// scheduler, purge) on a PostgreSQL database other controllers share;
// hosts are `onestack agent` processes pointed at any controller.
func controllerCmd(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := parseServe("onestack controller", args, getenv, true)
	if err != nil {
		return err
	}
	return serve(ctx, cfg)
}

func serve(ctx context.Context, cfg upConfig) error {
	var err error
	log, err := newLogger(cfg.logLevel)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	password := cfg.adminPassword
	cloudsFile := filepath.Join(cfg.dataDir, "clouds.yaml")
	_, statErr := os.Stat(cloudsFile)
	generated := false
	if password == "" && errors.Is(statErr, os.ErrNotExist) {
		// First start (or the files were removed): a fresh random password.
		password, generated = randomPassword(), true
	}
	c, err := cloud.New(ctx, cloud.Config{
		DataDir: cfg.dataDir, Database: cfg.database, PublicURL: cfg.publicURL, Region: cfg.region,
		AdminPassword: password, TokenTTL: cfg.tokenTTL, HashCost: cfg.hashCost, Version: version, Log: log,
		Hypervisor: cfg.hypervisor, FakeHosts: cfg.hosts, DeletedRetention: cfg.retention,
		Accel: cfg.accel, CacheDir: cfg.cacheDir, MaxRequests: cfg.maxRequests, MaxRequestsPerClient: cfg.maxPerClient, ExternalCIDR: cfg.externalCIDR,
		Controller: cfg.controller,
		AccelChosen: func(name, reason string) {
			fmt.Fprintf(os.Stderr, "onestack: qemu guests run with %s: %s\n", strings.ToUpper(name), reason)
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if c.AdminCreated || password != "" {
		if err := writeClientConfig(cfg, password); err != nil {
			return err
		}
	}
	if generated && !c.AdminCreated {
		log.Warn("clouds.yaml was missing, so the admin password was reset; the new one is in clouds.yaml", "file", cloudsFile)
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another onestack running? choose another --listen)", cfg.listen, err)
	}
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // image uploads come later; bodies are size-limited per route
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.debugListen != "" {
		if err := serveDebug(ctx, cfg.debugListen, log); err != nil {
			return err
		}
	}
	c.Start(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("onestack is serving", "url", cfg.publicURL, "store", c.DB.Dialect(), "data_dir", cfg.dataDir,
		"clouds_yaml", cloudsFile, "startup", time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "\nonestack is up at %s\n  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=onestack\n  openstack token issue\n", cfg.publicURL, absPath(cloudsFile))
	if ns, err := os.ReadFile(filepath.Join(cfg.dataDir, "external-netns")); err == nil {
		fmt.Fprintf(os.Stderr, "  floating IPs are reached from the namespace %s: ip netns exec %s ping FIP\n", strings.TrimSpace(string(ns)), strings.TrimSpace(string(ns)))
	}
	fmt.Fprintln(os.Stderr)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// writeClientConfig writes DIR/clouds.yaml and DIR/openrc for the admin.
func writeClientConfig(cfg upConfig, password string) error {
	authURL := cfg.publicURL + identity.Prefix + "/v3"
	clouds := fmt.Sprintf(`# Written by onestack up: the admin identity of this cloud.
# Use: export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=onestack
clouds:
  onestack:
    auth:
      auth_url: %s
      username: admin
      password: %q
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: %s
    identity_api_version: 3
    interface: public
`, absPath(filepath.Join(cfg.dataDir, "clouds.yaml")), authURL, password, cfg.region)
	openrc := fmt.Sprintf(`# Written by onestack up. Use: source %s
export OS_AUTH_URL=%s
export OS_USERNAME=admin
export OS_PASSWORD=%s
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=%s
export OS_IDENTITY_API_VERSION=3
export OS_INTERFACE=public
unset OS_CLOUD OS_CLIENT_CONFIG_FILE
`, absPath(filepath.Join(cfg.dataDir, "openrc")), authURL, shellQuote(password), cfg.region)
	for name, body := range map[string]string{"clouds.yaml": clouds, "openrc": openrc} {
		path := filepath.Join(cfg.dataDir, name)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
