package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the per-test PostgreSQL databases
)

// openstackCLI is Debian's openstack client. It runs /usr/bin/python3 with
// Debian's modules; a python3 earlier on PATH (pyenv) does not have them.
const openstackCLI = "/usr/bin/openstack"

// postgresEnv names the variable holding a PostgreSQL URL whose role may
// create databases. When set, every test also runs against PostgreSQL.
const postgresEnv = "ONESTACK_TEST_POSTGRES"

var keepData = flag.Bool("keep", false, "keep onestack's data dir and log of each test cloud (printed on cleanup)")

// bin is the onestack binary built once for the whole package.
var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

// onestackBinary builds ./cmd/onestack once per package run, from the module
// root, so `go test ./...` works on a clean clone.
func onestackBinary(t testing.TB) string {
	t.Helper()
	bin.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			bin.err = err
			return
		}
		if bin.dir, err = os.MkdirTemp("", "onestack-e2e-bin-"); err != nil {
			bin.err = err
			return
		}
		bin.path = filepath.Join(bin.dir, "onestack")
		args := []string{"build", "-o", bin.path}
		if os.Getenv("ONESTACK_E2E_RACE") == "1" {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/onestack")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			bin.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if bin.err != nil {
		t.Fatalf("build onestack: %v", bin.err)
	}
	return bin.path
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// requireCLI skips the test when the openstack CLI is missing, except in CI
// (CI=true), where a missing CLI is a broken machine and fails the test.
func requireCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(openstackCLI); err != nil {
		msg := fmt.Sprintf("%s not found: install it with `apt-get install python3-openstackclient` (or `make run`)", openstackCLI)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Cloud is one onestack all-in-one, run as `onestack up`.
type Cloud struct {
	// URL is the listen URL, e.g. http://127.0.0.1:40123.
	URL string
	// Listen is HOST:PORT.
	Listen string
	// DataDir holds clouds.yaml, openrc, fernet-keys and the SQLite database.
	DataDir string
	// AdminPassword is the bootstrap admin's password.
	AdminPassword string
	// Database is the --database URL, empty for SQLite.
	Database string

	binary    string
	logf      string
	proc      *process
	extraArgs []string // more flags for `onestack up`
	// Faults arms fault points (ONESTACK_FAULTS) for the next start only.
	Faults string
	// command is the subcommand that serves: "up" unless set.
	command string
	// workDir is the working directory of the process (the test's when
	// empty); dataDirArg, when set, is given as --data-dir instead of
	// DataDir (a relative path, as `make run` gives); env is added to its
	// environment.
	workDir    string
	dataDirArg string
	env        []string
}

// process is one run of the binary.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// Backend is a storage backend the tests run against.
type Backend struct {
	Name string
	// Database returns the --database flag value for one cloud, or "".
	Database func(t *testing.T) string
}

// backends lists SQLite always and PostgreSQL when ONESTACK_TEST_POSTGRES
// is set.
func backends() []Backend {
	bs := []Backend{{Name: "sqlite", Database: func(*testing.T) string { return "" }}}
	if u := os.Getenv(postgresEnv); u != "" {
		bs = append(bs, Backend{Name: "postgres", Database: func(t *testing.T) string { return freshPostgres(t, u) }})
	}
	return bs
}

// forEachBackend runs fn once per backend, in parallel, each against its own
// cloud started with extraArgs added to `onestack up`.
func forEachBackend(t *testing.T, fn func(t *testing.T, c *Cloud), extraArgs ...string) {
	t.Helper()
	requireCLI(t)
	if os.Getenv(postgresEnv) == "" {
		t.Logf("%s not set: running against SQLite only", postgresEnv)
	}
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := StartCloud(t, b.Database(t), extraArgs...)
			fn(t, c)
		})
	}
}

// freshPostgres creates an empty database e2e_<random> on the server of
// base, drops it on cleanup, and returns its URL.
func freshPostgres(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", postgresEnv, err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "e2e_" + randomHex(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s on %s: %v (the role needs CREATEDB)", name, u.Host, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// onestack has stopped by now (its cleanup runs first). A plain
		// DROP also ends autovacuum workers; WITH (FORCE) would try to
		// terminate them as another role and fail without pg_signal_backend.
		var err error
		for i := 0; i < 20; i++ {
			if _, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err == nil {
				return
			}
			time.Sleep(250 * time.Millisecond) // a connection still closing
		}
		t.Errorf("drop database %s: %v", name, err)
	})
	u.Path = "/" + name
	return u.String()
}

// StartCloud runs `onestack up` on a free loopback port with a fresh data
// dir and waits until GET / answers. The process is stopped on cleanup,
// failed test or not.
//
// Without a --hypervisor in extraArgs the cloud runs fake hosts: tests of
// the APIs need no real guests (the qemu tests ask for them).
func StartCloud(t *testing.T, database string, extraArgs ...string) *Cloud {
	t.Helper()
	if !slices.Contains(extraArgs, "--hypervisor") {
		extraArgs = append([]string{"--hypervisor", "fake"}, extraArgs...)
	}
	c := &Cloud{
		extraArgs:     extraArgs,
		Listen:        "127.0.0.1:" + freePort(t),
		DataDir:       t.TempDir(),
		AdminPassword: "pw-" + randomHex(t, 12),
		Database:      database,
		binary:        onestackBinary(t),
	}
	c.logf = filepath.Join(t.TempDir(), "onestack.log")
	if *keepData {
		var err error
		if c.DataDir, err = os.MkdirTemp("", "onestack-e2e-data-"); err != nil {
			t.Fatal(err)
		}
		c.logf = filepath.Join(c.DataDir, "onestack.log")
	}
	c.URL = "http://" + c.Listen
	t.Cleanup(func() {
		if err := c.Stop(10 * time.Second); err != nil {
			t.Errorf("stop onestack: %v", err)
		}
		if slices.Contains(c.extraArgs, "qemu") {
			// The hosts' namespaces outlive onestack (guests keep their
			// network across restarts): remove them as an operator would.
			if out, err := exec.Command(c.binary, "cleanup", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
				t.Errorf("onestack cleanup --data-dir %s: %v\n%s", c.DataDir, err, out)
			}
		}
		if t.Failed() || *keepData {
			t.Logf("onestack log (%s):\n%s", c.logf, tail(c.log(), 200))
		}
		if *keepData {
			t.Logf("kept data dir %s", c.DataDir)
		}
	})
	c.start(t, true)
	return c
}

// start launches the binary with the cloud's flags, appending to its log,
// and waits until it serves. Without setPassword it leaves out
// --admin-password, as a second `make run` does.
func (c *Cloud) start(t *testing.T, setPassword bool) {
	t.Helper()
	cmd := c.command
	if cmd == "" {
		cmd = "up"
	}
	dataDir := c.DataDir
	if c.dataDirArg != "" {
		dataDir = c.dataDirArg
	}
	args := append([]string{cmd, "--data-dir", dataDir, "--listen", c.Listen}, c.extraArgs...)
	if setPassword {
		args = append(args, "--admin-password", c.AdminPassword)
	}
	if c.Database != "" {
		args = append(args, "--database", c.Database)
	}
	logFile, err := os.OpenFile(c.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logFile, "### onestack %s\n", strings.Join(args, " "))
	p := &process{cmd: exec.Command(c.binary, args...), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.Dir = c.workDir
	p.cmd.Env = append(cleanEnv(), c.env...)
	if c.Faults != "" {
		p.cmd.Env = append(p.cmd.Env, "ONESTACK_FAULTS="+c.Faults)
		c.Faults = ""
	}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start onestack: %v", err)
	}
	c.proc = p
	go func() {
		p.waitErr = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	c.waitReady(t, 60*time.Second)
}

// Restart stops the cloud gracefully and starts it again on the same
// address, data dir and database, without --admin-password.
func (c *Cloud) Restart(t *testing.T) {
	t.Helper()
	if err := c.Stop(10 * time.Second); err != nil {
		t.Fatalf("restart: %v", err)
	}
	c.start(t, false)
}

// waitReady polls GET / until it answers 200, the process exits, or the
// deadline passes.
func (c *Cloud) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		resp, err := client.Get(c.URL + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("GET / answered %s", resp.Status)
		}
		last = err
		select {
		case <-c.proc.exited:
			t.Fatalf("onestack exited before serving (%v); log:\n%s", c.proc.waitErr, tail(c.log(), 100))
		case <-deadline.C:
			t.Fatalf("onestack not serving on %s after %s: %v; log:\n%s", c.URL, timeout, last, tail(c.log(), 100))
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM to the process by its pid and waits up to grace for a
// clean exit, then kills it. It returns an error unless the process exited
// with status 0 within grace.
func (c *Cloud) Stop(grace time.Duration) error {
	p := c.proc
	if p == nil {
		return nil
	}
	select {
	case <-p.exited:
		return nil // already stopped
	default:
	}
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("SIGTERM pid %d: %w", pid, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Errorf("onestack (pid %d) exited after SIGTERM with %v, want status 0", pid, p.waitErr)
		}
		return nil
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("onestack (pid %d) still running %s after SIGTERM; killed", pid, grace)
	}
}

func (c *Cloud) log() string {
	b, err := os.ReadFile(c.logf)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = append([]string{fmt.Sprintf("[… %d lines before]", len(ls)-lines)}, ls[len(ls)-lines:]...)
	}
	return strings.Join(ls, "\n")
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// cleanEnv is this process's environment without OS_* (so a developer's own
// cloud settings cannot leak into a test) and without PYTHON* (a pyenv's
// settings break Debian's python3).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OS_") || strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "ONESTACK_FAULTS=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Result is one finished CLI run.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("openstack %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// Env is an identity for the CLI given by environment variables alone.
type Env []string

// CloudEnv selects the admin entry of the cloud's clouds.yaml.
func (c *Cloud) CloudEnv() Env {
	return Env{"OS_CLIENT_CONFIG_FILE=" + filepath.Join(c.DataDir, "clouds.yaml"), "OS_CLOUD=onestack"}
}

// PasswordEnv is a password identity scoped to a project in the Default
// domain, with no clouds.yaml: this CLI misreads --os-* flags mixed with a
// clouds.yaml entry.
func (c *Cloud) PasswordEnv(user, password, project string) Env {
	return Env{
		"OS_AUTH_URL=" + c.URL + "/identity/v3",
		"OS_IDENTITY_API_VERSION=3",
		"OS_USERNAME=" + user,
		"OS_PASSWORD=" + password,
		"OS_PROJECT_NAME=" + project,
		"OS_USER_DOMAIN_NAME=Default",
		"OS_PROJECT_DOMAIN_NAME=Default",
		"OS_REGION_NAME=RegionOne",
	}
}

// AppCredEnv authenticates with an application credential.
func (c *Cloud) AppCredEnv(id, secret string) Env {
	return Env{
		"OS_AUTH_URL=" + c.URL + "/identity/v3",
		"OS_IDENTITY_API_VERSION=3",
		"OS_AUTH_TYPE=v3applicationcredential",
		"OS_APPLICATION_CREDENTIAL_ID=" + id,
		"OS_APPLICATION_CREDENTIAL_SECRET=" + secret,
		"OS_REGION_NAME=RegionOne",
	}
}

// Run runs the openstack CLI with the identity env and returns what it
// printed and its exit code. It fails the test only if the CLI cannot run.
func Run(t *testing.T, env Env, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, openstackCLI, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.Code = exit.ExitCode()
	default:
		t.Fatalf("openstack %s: %v (stderr: %s)", strings.Join(args, " "), err, r.Stderr)
	}
	return r
}

// MustRun is Run that fails the test on a non-zero exit.
func MustRun(t *testing.T, env Env, args ...string) Result {
	t.Helper()
	r := Run(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("want exit 0, got %s", r)
	}
	return r
}

// RunJSON runs `openstack ARGS -f json` and decodes stdout into v.
func RunJSON(t *testing.T, env Env, v any, args ...string) {
	t.Helper()
	r := MustRun(t, env, append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("openstack %s: stdout is not the JSON expected (%v):\n%s", strings.Join(args, " "), err, r.Stdout)
	}
}

// Fail asserts a non-zero exit whose stderr contains one of wants
// (case-insensitive).
func Fail(t *testing.T, r Result, wants ...string) {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("want a non-zero exit, got %s", r)
		return
	}
	low := strings.ToLower(r.Stderr)
	for _, w := range wants {
		if strings.Contains(low, strings.ToLower(w)) {
			return
		}
	}
	t.Errorf("want stderr to mention one of %q, got %s", wants, r)
}

// api is a minimal Keystone client for test fixtures and for what the CLI
// does not show (raw status codes). Assertions about what users see go
// through the CLI.
type api struct {
	t     *testing.T
	c     *Cloud
	token string
}

// AdminAPI returns a client holding a project-scoped admin token.
func (c *Cloud) AdminAPI(t *testing.T) *api {
	t.Helper()
	a := &api{t: t, c: c}
	a.token = a.passwordToken("admin", c.AdminPassword, "admin")
	return a
}

func (a *api) passwordToken(user, password, project string) string {
	a.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": user, "password": password, "domain": map[string]string{"id": "default"},
			}},
		},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]string{"id": "default"}}},
	}}
	resp, _ := a.do("POST", "/identity/v3/auth/tokens", nil, body, nil, http.StatusCreated)
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		a.t.Fatal("POST /identity/v3/auth/tokens: no X-Subject-Token header")
	}
	return tok
}

// do sends a request with the client's token and decodes a JSON answer into
// out; it fails the test unless the status is want.
func (a *api) do(method, path string, header http.Header, in, out any, want int) (*http.Response, []byte) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.c.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("X-Auth-Token", a.token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: want %d, got %s: %s", method, path, want, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp, b
}

// Member is a user with the member role on its own project.
type Member struct {
	User, UserID, Password, Project, ProjectID string
}

// NewMember creates, through the API, a project and a user holding only the
// member role on it.
func (a *api) NewMember(prefix string) Member {
	a.t.Helper()
	m := Member{
		User:     prefix + "-user-" + randomHex(a.t, 4),
		Project:  prefix + "-project-" + randomHex(a.t, 4),
		Password: "pw-" + randomHex(a.t, 12),
	}
	var p struct {
		Project struct{ ID string } `json:"project"`
	}
	a.do("POST", "/identity/v3/projects", nil, map[string]any{"project": map[string]any{"name": m.Project, "domain_id": "default"}}, &p, http.StatusCreated)
	m.ProjectID = p.Project.ID
	var u struct {
		User struct{ ID string } `json:"user"`
	}
	a.do("POST", "/identity/v3/users", nil, map[string]any{"user": map[string]any{
		"name": m.User, "password": m.Password, "domain_id": "default", "default_project_id": m.ProjectID,
	}}, &u, http.StatusCreated)
	m.UserID = u.User.ID
	var roles struct {
		Roles []struct{ ID string } `json:"roles"`
	}
	a.do("GET", "/identity/v3/roles?name=member", nil, nil, &roles, http.StatusOK)
	if len(roles.Roles) != 1 {
		a.t.Fatalf("GET /identity/v3/roles?name=member: want 1 role, got %d", len(roles.Roles))
	}
	a.do("PUT", "/identity/v3/projects/"+m.ProjectID+"/users/"+m.UserID+"/roles/"+roles.Roles[0].ID, nil, nil, nil, http.StatusNoContent)
	return m
}
