package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"
)

// Config is what one bench run is told (cmd/onestack parses the flags).
type Config struct {
	// CloudURL is the cloud's base URL; it must be a loopback address.
	CloudURL    string
	Credentials Credentials
	// Servers is how many servers to boot; Concurrency how many clients
	// call the API at once.
	Servers     int
	Concurrency int
	// Flavor and Image name what to boot; missing ones are created.
	Flavor, Image string
	// ListLimit is the page size of the timed full listing; ListPasses how
	// many full listings to time; ShowSample how many shows.
	ListLimit  int
	ListPasses int
	ShowSample int
	// WaitTimeout bounds each wait for the cloud (all ACTIVE, all gone).
	WaitTimeout time.Duration
	// Churn, when set, runs the churn mode for this long instead: Rate
	// creates per second, each server deleted Lifetime after its create.
	Churn    time.Duration
	Rate     float64
	Lifetime time.Duration
	// PID is the control plane's process (0: found from the URL's port).
	PID int
	// DataDir is the control plane's data dir, to size its SQLite store.
	DataDir string
	Log     *slog.Logger
}

func (c *Config) defaults() error {
	if c.Servers <= 0 && c.Churn <= 0 {
		return errors.New("give --servers N (at least 1) or --churn DURATION")
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Concurrency > 1024 {
		return errors.New("--concurrency is at most 1024")
	}
	if c.Servers > 1_000_000 {
		return errors.New("--servers is at most 1,000,000")
	}
	if c.Flavor == "" {
		c.Flavor = "bench.tiny"
	}
	if c.Image == "" {
		c.Image = "bench-tiny"
	}
	if c.ListLimit <= 0 {
		c.ListLimit = 1000
	}
	if c.ListPasses <= 0 {
		c.ListPasses = 3
	}
	if c.ShowSample <= 0 {
		c.ShowSample = 500
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = 10 * time.Minute
	}
	if c.Churn > 0 {
		if c.Rate <= 0 {
			c.Rate = 10
		}
		if c.Rate > 1000 {
			return errors.New("--rate is at most 1000 creates per second")
		}
		if c.Lifetime <= 0 {
			c.Lifetime = 30 * time.Second
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Result is the JSON document a run prints.
type Result struct {
	Mode        string `json:"mode"`
	CloudURL    string `json:"cloud_url"`
	Servers     int    `json:"servers"`
	Concurrency int    `json:"concurrency"`
	// Active counts servers seen ACTIVE; Failures calls that failed plus
	// servers that never became ACTIVE or never went away; Errors servers
	// in ERROR.
	Active         int      `json:"active"`
	Failures       int      `json:"failures"`
	Errors         int      `json:"errors"`
	FailureSamples []string `json:"failure_samples,omitempty"`
	// CreateSeconds is the time to send every create; ActiveSeconds from
	// the first create until every server was seen ACTIVE.
	CreateSeconds    float64 `json:"create_seconds"`
	ActiveSeconds    float64 `json:"active_seconds"`
	ActivePerSecond  float64 `json:"active_per_second"`
	DeleteSeconds    float64 `json:"delete_seconds"`
	DeletesPerSecond float64 `json:"deletes_per_second"`
	// Listed is how many servers one full listing returned, in ListPages
	// pages of ListLimit; ListFull the time of each full listing.
	ListLimit int     `json:"list_limit"`
	Listed    int     `json:"listed"`
	ListPages int     `json:"list_pages"`
	ListFull  Latency `json:"list_full"`
	Create    Latency `json:"create"`
	List      Latency `json:"list"`
	Show      Latency `json:"show"`
	Delete    Latency `json:"delete"`
	// ControlPlanePID is the process whose peak RSS (VmHWM) is reported,
	// PeakRSSMB a number of MiB or "unknown".
	ControlPlanePID int     `json:"control_plane_pid,omitempty"`
	PeakRSSMB       any     `json:"peak_rss_mb"`
	Churn           *Churn  `json:"churn,omitempty"`
	Seconds         float64 `json:"seconds"`
}

// failures collects failed calls, keeping a few messages.
type failures struct {
	mu      sync.Mutex
	n       int
	samples []string
}

func (f *failures) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.samples) < 10 {
		f.samples = append(f.samples, err.Error())
	}
}

// Run runs the bench against the cloud and returns its result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	base, err := checkLoopback(cfg.CloudURL)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	c := newClient(base, cfg.Credentials, cfg.Concurrency)
	defer c.close()
	if _, err := c.currentToken(ctx, ""); err != nil {
		return nil, err
	}
	imageID, err := c.ensureImage(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	flavorID, err := c.ensureFlavor(ctx, cfg.Flavor)
	if err != nil {
		return nil, err
	}
	if err := c.unlimitQuotas(ctx); err != nil {
		return nil, err
	}
	r := &Result{Mode: "boot", CloudURL: base, Servers: cfg.Servers, Concurrency: cfg.Concurrency, ListLimit: cfg.ListLimit}
	r.ControlPlanePID = cfg.PID
	if r.ControlPlanePID == 0 {
		r.ControlPlanePID = listenerPID(base)
	}
	b := &run{cfg: cfg, c: c, image: imageID, flavor: flavorID, prefix: "bench-" + randomHex(4) + "-", fails: &failures{}}
	if cfg.Churn > 0 {
		r.Mode, r.Servers = "churn", 0
		if err := b.churn(ctx, r); err != nil {
			return nil, err
		}
	} else if err := b.boot(ctx, r); err != nil {
		return nil, err
	}
	r.Failures, r.FailureSamples = r.Failures+b.fails.n, b.fails.samples
	r.PeakRSSMB = "unknown"
	if r.ControlPlanePID != 0 {
		if kb, ok := procStatusKB(r.ControlPlanePID, "VmHWM"); ok {
			r.PeakRSSMB = round(float64(kb)/1024, 1)
		}
	}
	r.Seconds = round(time.Since(start).Seconds(), 2)
	return r, nil
}

// run is the state of one bench run.
type run struct {
	cfg           Config
	c             *client
	image, flavor string
	prefix        string // every server's name starts with it
	fails         *failures
}

func randomHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = digits[rand.IntN(16)]
	}
	return string(b)
}

// create boots one server and returns its id.
func (b *run) create(ctx context.Context, name string) (string, error) {
	var out struct {
		Server struct {
			ID string `json:"id"`
		} `json:"server"`
	}
	err := b.c.do(ctx, "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{
		"name": name, "imageRef": b.image, "flavorRef": b.flavor, "networks": "none",
	}}, &out)
	if err == nil && out.Server.ID == "" {
		err = fmt.Errorf("create %s: the answer has no server id", name)
	}
	return out.Server.ID, err
}

// parallel runs fn(i) for i in [0, n) on the configured number of clients.
func (b *run) parallel(ctx context.Context, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(b.cfg.Concurrency, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (b *run) boot(ctx context.Context, r *Result) error {
	log := b.cfg.Log
	n := b.cfg.Servers
	ids := make([]string, n)
	var createLat recorder
	log.Info("creating servers", "servers", n, "concurrency", b.cfg.Concurrency, "name_prefix", b.prefix)
	t0 := time.Now()
	b.parallel(ctx, n, func(i int) {
		start := time.Now()
		id, err := b.create(ctx, fmt.Sprintf("%s%06d", b.prefix, i))
		if err != nil {
			b.fails.add(err)
			return
		}
		createLat.add(time.Since(start))
		ids[i] = id
	})
	r.CreateSeconds = round(time.Since(t0).Seconds(), 2)
	r.Create = createLat.summary()
	created := r.Create.Count
	log.Info("creates sent; waiting for ACTIVE", "created", created, "seconds", r.CreateSeconds)

	if err := b.waitCount(ctx, "BUILD", 0); err != nil {
		b.fails.add(err)
	}
	r.ActiveSeconds = round(time.Since(t0).Seconds(), 2)
	active, err := b.count(ctx, "ACTIVE")
	if err != nil {
		return err
	}
	if r.Errors, err = b.count(ctx, "ERROR"); err != nil {
		return err
	}
	r.Active = active
	if stuck := created - active - r.Errors; stuck > 0 {
		r.Failures += stuck
	}
	if r.ActiveSeconds > 0 {
		r.ActivePerSecond = round(float64(active)/r.ActiveSeconds, 1)
	}
	log.Info("servers ACTIVE", "active", active, "errors", r.Errors, "seconds", r.ActiveSeconds, "per_second", r.ActivePerSecond)

	// Full listings, paged to the end, each page timed.
	var listLat, fullLat recorder
	for pass := 0; pass < b.cfg.ListPasses && ctx.Err() == nil; pass++ {
		start := time.Now()
		listed, pages, err := b.listAll(ctx, "/compute/v2.1/servers/detail?limit="+fmt.Sprint(b.cfg.ListLimit), &listLat)
		if err != nil {
			b.fails.add(err)
			continue
		}
		fullLat.add(time.Since(start))
		r.Listed, r.ListPages = listed, pages
	}
	r.List, r.ListFull = listLat.summary(), fullLat.summary()
	log.Info("listed", "servers", r.Listed, "pages", r.ListPages, "page_p99_ms", r.List.P99)

	// Shows of a random sample.
	var live []string
	for _, id := range ids {
		if id != "" {
			live = append(live, id)
		}
	}
	var showLat recorder
	if len(live) > 0 {
		b.parallel(ctx, b.cfg.ShowSample, func(int) {
			id := live[rand.IntN(len(live))]
			start := time.Now()
			if err := b.c.do(ctx, "GET", "/compute/v2.1/servers/"+id, nil, nil); err != nil {
				b.fails.add(err)
				return
			}
			showLat.add(time.Since(start))
		})
	}
	r.Show = showLat.summary()
	log.Info("shown", "count", r.Show.Count, "p99_ms", r.Show.P99)

	// Delete everything and wait until it is gone.
	var delLat recorder
	t1 := time.Now()
	b.parallel(ctx, len(live), func(i int) {
		start := time.Now()
		if err := b.c.do(ctx, "DELETE", "/compute/v2.1/servers/"+live[i], nil, nil); err != nil && !isNotFound(err) {
			b.fails.add(err)
			return
		}
		delLat.add(time.Since(start))
	})
	r.Delete = delLat.summary()
	log.Info("deletes sent; waiting until gone", "count", r.Delete.Count)
	if err := b.waitCount(ctx, "", 0); err != nil {
		b.fails.add(err)
	}
	r.DeleteSeconds = round(time.Since(t1).Seconds(), 2)
	if r.DeleteSeconds > 0 {
		r.DeletesPerSecond = round(float64(r.Delete.Count)/r.DeleteSeconds, 1)
	}
	log.Info("servers gone", "seconds", r.DeleteSeconds, "per_second", r.DeletesPerSecond)
	return ctx.Err()
}

// listAll pages through a server listing to the end, timing each page.
func (b *run) listAll(ctx context.Context, first string, lat *recorder) (servers, pages int, err error) {
	next := first
	// Bounded: no listing of this run has more than a million pages.
	for ; next != "" && pages < 1_000_000; pages++ {
		var page struct {
			Servers []struct {
				ID string `json:"id"`
			} `json:"servers"`
			Links []link `json:"servers_links"`
		}
		start := time.Now()
		if err := b.c.do(ctx, "GET", next, nil, &page); err != nil {
			return servers, pages, err
		}
		if lat != nil {
			lat.add(time.Since(start))
		}
		servers += len(page.Servers)
		next = nextLink(page.Links)
	}
	return servers, pages, nil
}

// count counts this run's servers in a status ("" for any status).
func (b *run) count(ctx context.Context, status string) (int, error) {
	q := url.Values{"name": {b.prefix}, "limit": {"1000"}}
	if status != "" {
		q.Set("status", status)
	}
	n, _, err := b.listAll(ctx, "/compute/v2.1/servers?"+q.Encode(), nil)
	return n, err
}

// waitCount polls until at most want of this run's servers are in status
// ("" for any), within the wait timeout.
func (b *run) waitCount(ctx context.Context, status string, want int) error {
	deadline := time.Now().Add(b.cfg.WaitTimeout)
	last := -1
	for {
		polled := time.Now()
		n, err := b.count(ctx, status)
		if err != nil {
			return err
		}
		if n <= want {
			return nil
		}
		if n != last {
			b.cfg.Log.Debug("waiting", "status", status, "remaining", n)
			last = n
		}
		if time.Now().After(deadline) {
			what := "servers still exist"
			if status != "" {
				what = "servers still in " + status
			}
			return fmt.Errorf("%d %s after %s", n, what, b.cfg.WaitTimeout)
		}
		// Poll at most every 100 ms and spend at most a tenth of the time
		// polling, so the bench does not become the cloud's main load.
		t := time.NewTimer(max(100*time.Millisecond, 10*time.Since(polled)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
