package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// swiftCLI is Debian's swift client (python3-swiftclient).
const swiftCLI = "/usr/bin/swift"

// runSwift runs the swift CLI with the identity env (and, for another
// project's account, its storage URL) and returns what it printed.
func runSwift(t *testing.T, env Env, args ...string) Result {
	t.Helper()
	if _, err := os.Stat(swiftCLI); err != nil {
		msg := swiftCLI + " not found: install it with `apt-get install python3-swiftclient` (make host-packages)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r, err := execSwift(t.TempDir(), env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// execSwift runs the swift CLI in dir; an error means it could not run
// (a failing command is a Result with its exit code).
func execSwift(dir string, env Env, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, swiftCLI, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Args: append([]string{"(swift)"}, args...), Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.Code = exit.ExitCode()
	default:
		return r, fmt.Errorf("swift %s: %v (stderr: %s)", strings.Join(args, " "), err, r.Stderr)
	}
	return r, nil
}

func mustSwift(t *testing.T, env Env, args ...string) Result {
	t.Helper()
	r := runSwift(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("want exit 0, got %s", r)
	}
	return r
}

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObjectStorageCLI drives Swift with the real clients as its users do:
// `openstack container/object` for containers, uploads, listings with a
// prefix and a delimiter, downloads and deletes; the `swift` CLI for a
// large object through SLO, a ranged download compared byte for byte, a
// read ACL for another project's user, a TempURL read without a token and
// expiry. Another project's user is refused on every operation on the
// account that is not its own.
func TestObjectStorageCLI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		adm := c.AdminAPI(t)
		alice, bob := adm.NewMember("swift-a"), adm.NewMember("swift-b")
		aEnv := c.PasswordEnv(alice.User, alice.Password, alice.Project)
		bEnv := c.PasswordEnv(bob.User, bob.Password, bob.Project)
		dir := t.TempDir()
		storage := c.URL + "/object/v1/AUTH_" + alice.ProjectID

		// openstack container/object: create, upload, list, show, save.
		MustRun(t, aEnv, "container", "create", "photos")
		files := map[string][]byte{}
		for _, name := range []string{"2024/01/a.jpg", "2024/02/b.jpg", "index.html"} {
			p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
			files[name] = writeRandom(t, p, 10000)
			MustRun(t, aEnv, "object", "create", "--name", name, "photos", p)
		}
		var list []struct{ Name string }
		RunJSON(t, aEnv, &list, "object", "list", "photos", "--prefix", "2024/")
		if len(list) != 2 || list[0].Name != "2024/01/a.jpg" {
			t.Errorf("object list --prefix: %+v", list)
		}
		// This CLI prints a rolled-up prefix as an empty name; swift shows it.
		var rolled []struct{ Name string }
		RunJSON(t, aEnv, &rolled, "object", "list", "photos", "--delimiter", "/")
		if len(rolled) != 2 || rolled[1].Name != "index.html" {
			t.Errorf("object list --delimiter /: %v", rolled)
		}
		if got := mustSwift(t, aEnv, "list", "photos", "--delimiter", "/").Stdout; got != "2024/\nindex.html\n" {
			t.Errorf("swift list --delimiter /: %q", got)
		}
		var show map[string]any
		RunJSON(t, aEnv, &show, "object", "show", "photos", "index.html")
		if show["content-length"] != "10000" {
			t.Errorf("object show: %v", show)
		}
		saved := filepath.Join(dir, "saved")
		MustRun(t, aEnv, "object", "save", "--file", saved, "photos", "2024/01/a.jpg")
		if got, _ := os.ReadFile(saved); !bytes.Equal(got, files["2024/01/a.jpg"]) {
			t.Error("object save: the downloaded file differs")
		}

		// swift: a 5 MB object as an SLO of 1 MB segments, then a ranged
		// download of it, byte for byte.
		big := filepath.Join(dir, "big.bin")
		bigData := writeRandom(t, big, 5_000_000)
		mustSwift(t, aEnv, "upload", "--use-slo", "--segment-size", "1000000", "--object-name", "videos/big.bin", "photos", big)
		stat := mustSwift(t, aEnv, "stat", "photos", "videos/big.bin").Stdout
		if !strings.Contains(stat, "X-Static-Large-Object: True") || !strings.Contains(stat, "Content Length: 5000000") {
			t.Errorf("swift stat of the SLO:\n%s", stat)
		}
		part := filepath.Join(dir, "part.bin")
		mustSwift(t, aEnv, "download", "photos", "videos/big.bin", "-o", part, "--header", "Range:bytes=999000-3000999")
		if got, _ := os.ReadFile(part); !bytes.Equal(got, bigData[999000:3001000]) {
			t.Errorf("ranged download of the SLO: %d bytes differ from the range", len(got))
		}
		whole := filepath.Join(dir, "whole.bin")
		mustSwift(t, aEnv, "download", "photos", "videos/big.bin", "-o", whole)
		if got, _ := os.ReadFile(whole); !bytes.Equal(got, bigData) {
			t.Error("download of the SLO differs")
		}

		// Bob, another project, is refused everything on alice's account.
		bobOnA := append(Env{"OS_STORAGE_URL=" + storage}, bEnv...)
		refused := [][]string{
			{"stat"}, {"list"}, {"list", "photos"}, {"stat", "photos"}, {"stat", "photos", "index.html"},
			{"download", "photos", "index.html", "-o", filepath.Join(dir, "stolen")},
			{"upload", "photos", big}, {"post", "-m", "owner:bob", "photos"}, {"post", "photos", "index.html", "-m", "x:y"},
			{"post", "-r", ".r:*", "photos"}, {"delete", "photos", "index.html"}, {"post", "bobs-container"},
			{"copy", "photos", "index.html", "-d", "/photos/copy.html"},
		}
		// The CLI takes seconds to start: run the refusals side by side.
		results := make([]Result, len(refused))
		errs := make([]error, len(refused))
		var wg sync.WaitGroup
		for i, args := range refused {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = execSwift(dir, bobOnA, args...)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "403") {
				t.Errorf("bob: swift %s on alice's account: %s", strings.Join(refused[i], " "), r)
			}
		}
		// And his own account shows nothing of hers.
		var bobs []map[string]any
		RunJSON(t, bEnv, &bobs, "container", "list")
		if len(bobs) != 0 {
			t.Errorf("bob's containers: %v", bobs)
		}
		Fail(t, Run(t, bEnv, "object", "show", "photos", "index.html"), "404", "not found")

		// A read ACL for bob (project:user): he reads, still cannot write.
		mustSwift(t, aEnv, "post", "-r", bob.ProjectID+":"+bob.UserID, "photos")
		got := filepath.Join(dir, "bob-read")
		mustSwift(t, bobOnA, "download", "photos", "index.html", "-o", got)
		if b, _ := os.ReadFile(got); !bytes.Equal(b, files["index.html"]) {
			t.Error("bob's ACL'd read differs")
		}
		if r := runSwift(t, bobOnA, "delete", "photos", "index.html"); r.Code == 0 {
			t.Errorf("bob deleted with a read ACL: %s", r)
		}

		// A TempURL made by `swift tempurl`, read with no token at all.
		mustSwift(t, aEnv, "post", "-m", "Temp-URL-Key:e2e-secret")
		path := "/v1/AUTH_" + alice.ProjectID + "/photos/index.html"
		signed := strings.TrimSpace(mustSwift(t, aEnv, "tempurl", "GET", "120", path, "e2e-secret").Stdout)
		res, err := http.Get(c.URL + "/object" + signed)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(body, files["index.html"]) {
			t.Errorf("TempURL read: %d, %d bytes", res.StatusCode, len(body))
		}
		if res, err := http.Get(c.URL + "/object" + path); err == nil {
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("the same object without the signature: %d", res.StatusCode)
			}
		}

		// Expiry: gone from reads and listings after X-Delete-After.
		short := filepath.Join(dir, "short.txt")
		writeRandom(t, short, 100)
		mustSwift(t, aEnv, "upload", "--object-name", "short.txt", "-H", "X-Delete-After:2", "photos", short)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			var names []struct{ Name string }
			RunJSON(t, aEnv, &names, "object", "list", "photos", "--prefix", "short")
			if len(names) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the expiring object is still listed after a minute")
			}
		}
		Fail(t, Run(t, aEnv, "object", "show", "photos", "short.txt"), "404", "not found")

		// Delete: objects (the SLO with its segments), then containers.
		mustSwift(t, aEnv, "delete", "photos", "videos/big.bin")
		for _, name := range []string{"2024/01/a.jpg", "2024/02/b.jpg"} {
			MustRun(t, aEnv, "object", "delete", "photos", name)
		}
		Fail(t, Run(t, aEnv, "container", "delete", "photos"), "409", "conflict")
		MustRun(t, aEnv, "object", "delete", "photos", "index.html")
		MustRun(t, aEnv, "container", "delete", "photos")
		var left []struct{ Name string }
		RunJSON(t, aEnv, &left, "container", "list")
		names := make([]string, 0, len(left))
		for _, l := range left {
			names = append(names, l.Name)
		}
		// swift upload --use-slo made photos_segments, emptied by the delete.
		if slices.Contains(names, "photos") || len(names) > 1 {
			t.Errorf("containers left: %v", names)
		}
		var acct map[string]any
		RunJSON(t, aEnv, &acct, "object", "store", "account", "show")
		if fmt.Sprint(acct["Objects"]) != "0" || fmt.Sprint(acct["Bytes"]) != "0" {
			t.Errorf("account after the deletes: %v", acct)
		}
	})
}
