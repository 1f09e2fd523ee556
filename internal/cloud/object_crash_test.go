package cloud_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// objectCrash is one crash of an object upload or delete: the operation a
// child process runs with the point armed, and what the object must be
// after the restart.
type objectCrash struct {
	point, op string
	want      string // "old", "new" or "absent"
}

var objectCrashes = []objectCrash{
	{fault.ObjectReceiving, "put", "absent"},
	{fault.ObjectWritten, "put", "absent"},
	{fault.ObjectCommitting, "put", "absent"},
	{fault.ObjectCommitted, "put", "new"},
	{fault.ObjectReceiving, "overwrite", "old"},
	{fault.ObjectWritten, "overwrite", "old"},
	{fault.ObjectCommitting, "overwrite", "old"},
	{fault.ObjectCommitted, "overwrite", "new"},
	{fault.ObjectDeleteCommitted, "delete", "absent"},
}

// The data of the object before and after: several chunks each, so a
// torn file would show.
var (
	oldData = bytes.Repeat([]byte("old data "), 400000)
	newData = bytes.Repeat([]byte("NEW-DATA-"), 500000)
)

// TestObjectCrashConvergence kills a cloud (SIGKILL, as kill -9) at each
// step of an object upload, an overwrite and a delete, restarts it on the
// same directory and store, and checks that the object is the old one or
// the new one, whole, or absent, as the crash point decides; that the
// listing and the container's counters agree with it; and that no data
// file is left without its row, nor a row without its file, nor the dead
// process's journal.
func TestObjectCrashConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud twice per crash point")
	}
	for _, backend := range storetest.Backends(t) {
		for _, k := range objectCrashes {
			t.Run(backend+"/"+k.op+"/"+k.point, func(t *testing.T) {
				dir := t.TempDir()
				dbURL := ""
				if backend == "postgres" {
					dbURL = storetest.PostgresURL(t)
				}
				runCrashChild(t, "^TestObjectCrashChild$", k.point, k.op, dir, dbURL)
				e := cloudtest.NewWith(t, cloudtest.Options{Hosts: 1, DataDir: filepath.Join(dir, "cloud"), Database: dbURL})
				checkObjectConverged(t, e, k)
			})
		}
	}
}

// runCrashChild runs a test of this binary in a child process that must
// die of SIGKILL at the point.
func runCrashChild(t *testing.T, test, point, op, dir, dbURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+test, "-test.v")
	cmd.Env = append(os.Environ(), envCrashPoint+"="+point, envCrashOp+"="+op, envCrashDir+"="+dir, envCrashDB+"="+dbURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the crash child did not crash (%v):\n%s", err, out.Bytes())
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the crash child ended with %v, not killed at %s:\n%s", err, point, out.Bytes())
	}
}

// TestObjectCrashChild is the crashing half of TestObjectCrashConvergence;
// it runs only in the child process that test starts.
func TestObjectCrashChild(t *testing.T) {
	point, op, dir := os.Getenv(envCrashPoint), os.Getenv(envCrashOp), os.Getenv(envCrashDir)
	if point == "" {
		t.Skip("the child of TestObjectCrashConvergence")
	}
	e := cloudtest.NewWith(t, cloudtest.Options{Hosts: 1, DataDir: filepath.Join(dir, "cloud"), Database: os.Getenv(envCrashDB)})
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	acct := objectAccount(t, e, tok)
	put := func(data []byte) int {
		req, _ := http.NewRequest("PUT", e.URL+acct+"/c/obj", bytes.NewReader(data))
		req.Header.Set("X-Auth-Token", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if r := e.Do(t, "PUT", acct+"/c", tok, nil); r.Status != http.StatusCreated {
		t.Fatalf("create container: %d %s", r.Status, r.Body)
	}
	if op != "put" {
		if st := put(oldData); st != http.StatusCreated {
			t.Fatalf("put the old object: %d", st)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fault.Enable([]string{point}); err != nil {
		t.Fatal(err)
	}
	switch op {
	case "put", "overwrite":
		put(newData)
	case "delete":
		e.Do(t, "DELETE", acct+"/c/obj", tok, nil)
	}
	time.Sleep(10 * time.Second) // the point is reached by the request
	t.Fatalf("%s: the fault point %s was never reached", op, point)
}

// objectAccount is the admin project's account path.
func objectAccount(t *testing.T, e *cloudtest.Env, tok string) string {
	t.Helper()
	r := e.Do(t, "GET", "/identity/v3/auth/projects", tok, nil)
	projects, _ := r.JSON(t)["projects"].([]any)
	for _, p := range projects {
		if m := p.(map[string]any); m["name"] == "admin" {
			return "/object/v1/AUTH_" + m["id"].(string)
		}
	}
	t.Fatalf("no admin project: %s", r.Body)
	return ""
}

func checkObjectConverged(t *testing.T, e *cloudtest.Env, k objectCrash) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.Cloud.DataDir()), "ready")); err != nil {
		t.Fatalf("the child crashed before its setup was done: %v", err)
	}
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	acct := objectAccount(t, e, tok)
	r := e.Do(t, "GET", acct+"/c/obj", tok, nil)
	switch k.want {
	case "absent":
		if r.Status != http.StatusNotFound {
			t.Errorf("after a crash at %s (%s) the object is there (%d, %d bytes); it never was committed", k.point, k.op, r.Status, len(r.Body))
		}
	case "old", "new":
		want := oldData
		if k.want == "new" {
			want = newData
		}
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, want) {
			t.Errorf("after a crash at %s (%s) the object is %d with %d bytes (old %v, new %v); want the %s one, whole",
				k.point, k.op, r.Status, len(r.Body), bytes.Equal(r.Body, oldData), bytes.Equal(r.Body, newData), k.want)
		}
	}
	listed := strings.TrimSpace(string(e.Do(t, "GET", acct+"/c", tok, nil).Body))
	if (listed == "obj") != (k.want != "absent") {
		t.Errorf("listing %q with the object %s", listed, k.want)
	}

	// The counters agree with the rows; every row has its file, every file
	// its row; the dead process's journal is gone.
	select {
	case <-e.Cloud.Object.Scanned():
	case <-time.After(time.Minute):
		t.Fatal("the scan for orphaned data did not finish")
	}
	var ids map[string]bool
	var ct store.ObjectContainer
	var rows, bytesUsed int64
	err := e.Cloud.DB.Read(context.Background(), func(tx *store.Tx) (err error) {
		account := strings.TrimPrefix(acct, "/object/v1/")
		if ct, err = tx.GetObjectContainer(context.Background(), account, "c"); err != nil {
			return err
		}
		if rows, bytesUsed, err = tx.ObjectContainerTotals(context.Background(), account, "c"); err != nil {
			return err
		}
		objs, err := tx.ListObjects(context.Background(), account, "c", "", store.NameRange{Limit: 10})
		ids = map[string]bool{}
		for _, o := range objs {
			ids[o.ID] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if ct.ObjectCount != rows || ct.BytesUsed != bytesUsed {
		t.Errorf("container counters %d objects, %d bytes; its rows %d, %d", ct.ObjectCount, ct.BytesUsed, rows, bytesUsed)
	}
	root := filepath.Join(e.Cloud.DataDir(), "objects")
	files := map[string]bool{}
	_ = filepath.WalkDir(filepath.Join(root, "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[d.Name()] = true
		}
		return err
	})
	for id := range files {
		if !ids[id] {
			t.Errorf("data file %s has no row (orphaned by the crash at %s)", id, k.point)
		}
	}
	for id := range ids {
		if !files[id] {
			t.Errorf("row %s has no data file", id)
		}
	}
	journals, err := os.ReadDir(filepath.Join(root, "work"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(journals) != 1 {
		var names []string
		for _, j := range journals {
			names = append(names, j.Name())
		}
		t.Errorf("journals after the restart: %v; want only the running process's", names)
	}
}
