// Package cloudtest runs a real all-in-one cloud in-process for API tests:
// the production wiring (package cloud) on a real store, behind an
// httptest server, with helpers to drive it with gophercloud or raw HTTP.
package cloudtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/onestack/onestack/internal/cloud"
	volumesvc "github.com/onestack/onestack/internal/service/volume"
	"github.com/onestack/onestack/internal/storetest"
)

// AdminPassword is the admin password of every test cloud.
const AdminPassword = "test-admin-secret"

// Env is one running test cloud.
type Env struct {
	Cloud *cloud.Cloud
	URL   string // base URL, e.g. http://127.0.0.1:PORT
}

// New starts a cloud on SQLite with two fake hosts (host-1, host-2), each
// of 8 vCPUs, 8192 MB and 100 GB.
func New(t testing.TB) *Env { return NewOn(t, "sqlite") }

// NewOn starts a cloud on the named store backend ("sqlite" or "postgres").
func NewOn(t testing.TB, backend string) *Env {
	return NewWith(t, Options{Backend: backend})
}

// Options shape a test cloud.
type Options struct {
	Backend string // "sqlite" (default) or "postgres"
	// Hosts is the number of fake hosts (default 2; -1 for none) of Size each
	// (default 8 vCPUs, 8192 MB, 100 GB).
	Hosts int
	Size  cloud.FakeHostSize
	// DeletedRetention is how long deleted servers are kept (default 24 h).
	DeletedRetention time.Duration
	// MaxRequests bounds the requests served at once (default 512).
	MaxRequests int
	// MaxRequestsPerClient bounds one client's requests in flight
	// (default a quarter of MaxRequests; -1: none).
	MaxRequestsPerClient int
	// DataDir and Database, when set, are the cloud's directory and store
	// URL instead of fresh ones: a second cloud on the same ones is the
	// first one restarted (crash tests).
	DataDir, Database string
	// VolumeBackend, when set, is the block storage backend, wired before
	// the cloud's loops start.
	VolumeBackend volumesvc.Backend
}

// NewWith starts a cloud shaped by o.
func NewWith(t testing.TB, o Options) *Env {
	t.Helper()
	backend := o.Backend
	if o.Hosts == 0 {
		o.Hosts = 2
	}
	if o.Size.VCPUs == 0 {
		o.Size = cloud.FakeHostSize{VCPUs: 8, MemoryMB: 8192, DiskGB: 100}
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	cfg := cloud.Config{DataDir: o.DataDir, AdminPassword: AdminPassword, HashCost: 4,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hypervisor: "fake", FakeHosts: o.Hosts, FakeHost: o.Size, DeletedRetention: o.DeletedRetention, MaxRequests: o.MaxRequests,
		MaxRequestsPerClient: o.MaxRequestsPerClient}
	switch {
	case o.Database != "":
		cfg.Database = o.Database
	case backend == "postgres":
		cfg.Database = storetest.PostgresURL(t)
	}
	// The public URL must be known before wiring; reserve the listener first.
	srv := httptest.NewUnstartedServer(nil)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	c, err := cloud.New(context.Background(), cfg)
	if err != nil {
		srv.Close()
		t.Fatalf("start cloud: %v", err)
	}
	if o.VolumeBackend != nil {
		c.Volume.SetBackend(o.VolumeBackend)
	}
	srv.Config.Handler = c.Handler()
	srv.Start()
	c.Start(context.Background())
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return &Env{Cloud: c, URL: cfg.PublicURL}
}

// AuthURL is the Keystone v3 URL.
func (e *Env) AuthURL() string { return e.URL + "/identity/v3" }

// Client authenticates with gophercloud as the given user and project
// (domain Default) and returns the provider client.
func (e *Env) Client(t testing.TB, user, password, project string) *gophercloud.ProviderClient {
	t.Helper()
	opts := gophercloud.AuthOptions{IdentityEndpoint: e.AuthURL(), Username: user, Password: password, DomainName: "Default"}
	if project != "" {
		opts.Scope = &gophercloud.AuthScope{ProjectName: project, DomainName: "Default"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := openstack.AuthenticatedClient(ctx, opts)
	if err != nil {
		t.Fatalf("authenticate %s: %v", user, err)
	}
	return pc
}

// Admin returns an admin client scoped to the admin project.
func (e *Env) Admin(t testing.TB) *gophercloud.ProviderClient {
	return e.Client(t, "admin", AdminPassword, "admin")
}

// Identity returns a Keystone v3 service client.
func Identity(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatalf("identity client: %v", err)
	}
	return sc
}

// Response is a raw HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object (status %d): %q", r.Status, r.Body)
	}
	return m
}

// Do sends a raw request; token may be empty.
func (e *Env) Do(t testing.TB, method, path, token string, body []byte, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Token issues a token for user/password scoped to project (domain Default)
// over raw HTTP, returning the X-Subject-Token.
func (e *Env) Token(t testing.TB, user, password, project string) string {
	t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]any{"name": "Default"}, "password": password}}},
	}}
	if project != "" {
		body["auth"].(map[string]any)["scope"] = map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"name": "Default"}}}
	}
	b, _ := json.Marshal(body)
	r := e.Do(t, "POST", "/identity/v3/auth/tokens", "", b)
	if r.Status != http.StatusCreated {
		t.Fatalf("token for %s: status %d: %s", user, r.Status, r.Body)
	}
	return r.Header.Get("X-Subject-Token")
}
