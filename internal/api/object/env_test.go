package object_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// swiftEnv is a test cloud with two projects, each with a member user
// ("alice" in project-a, "bob" in project-b), and a reader in project-a.
type swiftEnv struct {
	*cloudtest.Env
	t                 *testing.T
	admin             string // admin token
	alice, bob, carol user   // carol: reader in project-a
	aliceSC, bobSC    *gophercloud.ServiceClient
}

type user struct {
	name, id, project, projectID, token string
}

// account is the user's project's Swift account path.
func (u user) account() string { return "/object/v1/AUTH_" + u.projectID }

func newSwiftEnv(t *testing.T) *swiftEnv { return newSwiftEnvOn(t, "sqlite") }

// eachBackend runs fn against a test cloud on each store backend (SQLite,
// and PostgreSQL when ONESTACK_TEST_POSTGRES is set).
func eachBackend(t *testing.T, fn func(t *testing.T, e *swiftEnv)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, newSwiftEnvOn(t, b)) })
	}
}

func newSwiftEnvOn(t *testing.T, backend string) *swiftEnv {
	t.Helper()
	env := cloudtest.NewOn(t, backend)
	e := &swiftEnv{Env: env, t: t, admin: env.Token(t, "admin", cloudtest.AdminPassword, "admin")}
	pa, pb := e.project("project-a"), e.project("project-b")
	e.alice = e.user("alice", "project-a", pa, "member")
	e.bob = e.user("bob", "project-b", pb, "member")
	e.carol = e.user("carol", "project-a", pa, "reader")
	e.aliceSC = e.client(e.alice)
	e.bobSC = e.client(e.bob)
	return e
}

func (e *swiftEnv) id(r cloudtest.Response, key string) string {
	e.t.Helper()
	if r.Status/100 != 2 {
		e.t.Fatalf("%s: %d %s", key, r.Status, r.Body)
	}
	obj, _ := r.JSON(e.t)[key].(map[string]any)
	s, _ := obj["id"].(string)
	return s
}

func (e *swiftEnv) project(name string) string {
	return e.id(e.Env.Do(e.t, "POST", "/identity/v3/projects", e.admin, []byte(`{"project": {"name": "`+name+`", "domain_id": "default"}}`)), "project")
}

func (e *swiftEnv) user(name, project, projectID, role string) user {
	e.t.Helper()
	r := e.Env.Do(e.t, "GET", "/identity/v3/roles?name="+role, e.admin, nil)
	roles, _ := r.JSON(e.t)["roles"].([]any)
	roleID := roles[0].(map[string]any)["id"].(string)
	u := e.id(e.Env.Do(e.t, "POST", "/identity/v3/users", e.admin, []byte(`{"user": {"name": "`+name+`", "password": "pw-`+name+`", "domain_id": "default"}}`)), "user")
	if r := e.Env.Do(e.t, "PUT", "/identity/v3/projects/"+projectID+"/users/"+u+"/roles/"+roleID, e.admin, nil); r.Status != http.StatusNoContent {
		e.t.Fatalf("grant %s: %d %s", role, r.Status, r.Body)
	}
	return user{name: name, id: u, project: project, projectID: projectID, token: e.Token(e.t, name, "pw-"+name, project)}
}

// grant gives a user a role by name on a project.
func (e *swiftEnv) grant(u user, role string) user {
	e.t.Helper()
	r := e.Env.Do(e.t, "GET", "/identity/v3/roles?name="+role, e.admin, nil)
	roles, _ := r.JSON(e.t)["roles"].([]any)
	if len(roles) != 1 {
		e.t.Fatalf("role %s: %s", role, r.Body)
	}
	roleID := roles[0].(map[string]any)["id"].(string)
	if r := e.Env.Do(e.t, "PUT", "/identity/v3/projects/"+u.projectID+"/users/"+u.id+"/roles/"+roleID, e.admin, nil); r.Status != http.StatusNoContent {
		e.t.Fatalf("grant %s: %d %s", role, r.Status, r.Body)
	}
	u.token = e.Token(e.t, u.name, "pw-"+u.name, u.project)
	return u
}

func (e *swiftEnv) client(u user) *gophercloud.ServiceClient {
	e.t.Helper()
	pc := e.Client(e.t, u.name, "pw-"+u.name, u.project)
	sc, err := openstack.NewObjectStorageV1(pc, gophercloud.EndpointOpts{})
	if err != nil {
		e.t.Fatalf("object storage client: %v", err)
	}
	return sc
}

// resp is a raw answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) String() string { return string(r.Body) }

// do sends a raw request; headers are name, value pairs.
func (e *swiftEnv) do(method, path, token string, body []byte, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless it gets want.
func (e *swiftEnv) must(want int, method, path, token string, body []byte, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// lines splits a plain-text listing.
func lines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// countFiles counts the object data files on disk.
func countFiles(t *testing.T, e *swiftEnv) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(e.Cloud.DataDir(), "objects", "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
