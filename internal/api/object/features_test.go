package object_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
)

// eventually polls cond until it holds or 30 s pass.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// TestExpiry: an object with X-Delete-After or X-Delete-At is readable
// until then, hidden from that second, and the reaper takes it out of
// listings and counters and removes its data; a POST without X-Delete-At
// clears the expiry.
func TestExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/c", tok, nil)
		e.must(201, "PUT", a+"/c/short", tok, []byte("gone soon"), "X-Delete-After", "2")
		at := time.Now().Unix() + 2
		e.must(201, "PUT", a+"/c/at", tok, []byte("gone soon too"))
		e.must(202, "POST", a+"/c/at", tok, nil, "X-Delete-At", fmt.Sprint(at))
		e.must(201, "PUT", a+"/c/kept", tok, []byte("kept"), "X-Delete-After", "2")
		e.must(202, "POST", a+"/c/kept", tok, nil) // clears the expiry
		r := e.must(200, "HEAD", a+"/c/at", tok, nil)
		if r.Header.Get("X-Delete-At") != fmt.Sprint(at) {
			t.Errorf("X-Delete-At %q, want %d", r.Header.Get("X-Delete-At"), at)
		}
		if !eventually(func() bool {
			return e.do("GET", a+"/c/short", tok, nil).Status == 404 && e.do("GET", a+"/c/at", tok, nil).Status == 404
		}) {
			t.Fatal("expired objects are still readable")
		}
		if !eventually(func() bool { return len(lines(e.do("GET", a+"/c", tok, nil).Body)) == 1 }) {
			t.Errorf("expired objects are still listed: %s", e.do("GET", a+"/c", tok, nil).Body)
		}
		r = e.must(204, "HEAD", a+"/c", tok, nil)
		if r.Header.Get("X-Container-Object-Count") != "1" || r.Header.Get("X-Container-Bytes-Used") != "4" {
			t.Errorf("counters after expiry: %v", r.Header)
		}
		e.must(200, "GET", a+"/c/kept", tok, nil)
		if n := countFiles(t, e); n != 1 {
			t.Errorf("%d data files after expiry, want 1", n)
		}
		// Bad expiry headers.
		for _, h := range [][2]string{{"X-Delete-At", "1"}, {"X-Delete-At", "soon"}, {"X-Delete-After", "-5"}, {"X-Delete-After", "x"}} {
			if r := e.do("PUT", a+"/c/bad", tok, []byte("x"), h[0], h[1]); r.Status != 400 {
				t.Errorf("%s: %s: %d %s", h[0], h[1], r.Status, r.Body)
			}
		}
	})
}

// TestQuotas: container quotas (bytes and count, set by the owner) and
// the account's bytes quota (set only by a reseller admin) refuse uploads
// past them with 413 and keep the counters as they were.
func TestQuotas(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/q", tok, nil, "X-Container-Meta-Quota-Bytes", "10", "X-Container-Meta-Quota-Count", "2")
		e.must(201, "PUT", a+"/q/one", tok, []byte("12345"))
		r := e.must(413, "PUT", a+"/q/two", tok, []byte("123456"))
		if !strings.Contains(r.String(), "Upload exceeds quota.") {
			t.Errorf("bytes quota: %s", r.Body)
		}
		e.must(201, "PUT", a+"/q/two", tok, []byte("12345"))
		e.must(201, "PUT", a+"/q/one", tok, []byte("1234")) // a replacement fits
		e.must(413, "PUT", a+"/q/three", tok, []byte(""))   // count
		r = e.must(204, "HEAD", a+"/q", tok, nil)
		if r.Header.Get("X-Container-Object-Count") != "2" || r.Header.Get("X-Container-Bytes-Used") != "9" {
			t.Errorf("counters %v", r.Header)
		}
		e.must(400, "POST", a+"/q", tok, nil, "X-Container-Meta-Quota-Bytes", "lots")

		// Account quota: a member may not set it; a reseller admin may.
		e.must(403, "POST", a, tok, nil, "X-Account-Meta-Quota-Bytes", "100")
		reseller := e.grant(e.bob, "ResellerAdmin")
		e.must(204, "POST", a, reseller.token, nil, "X-Account-Meta-Quota-Bytes", "20")
		e.must(201, "PUT", a+"/other", tok, nil)
		e.must(413, "PUT", a+"/other/big", tok, make([]byte, 12))
		e.must(201, "PUT", a+"/other/small", tok, make([]byte, 11))
		e.must(403, "POST", a, tok, nil, "X-Remove-Account-Meta-Quota-Bytes", "x")
		e.must(204, "POST", a, reseller.token, nil, "X-Remove-Account-Meta-Quota-Bytes", "x")
		e.must(201, "PUT", a+"/other/big", tok, make([]byte, 12))
	})
}

// TestBulk: bulk delete through gophercloud and raw (text and XML
// answers), archive extraction into containers.
func TestBulk(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	for _, n := range []string{"a", "b c", "d/e"} {
		e.must(201, "PUT", a+"/c/"+n, tok, []byte(n))
	}
	res, err := objects.BulkDelete(context.Background(), e.aliceSC, "c", []string{"a", "b c", "missing"}).Extract()
	if err != nil || res.NumberDeleted != 2 || res.NumberNotFound != 1 || res.ResponseStatus != "200 OK" {
		t.Errorf("gophercloud bulk delete: %+v %v", res, err)
	}
	r := e.must(200, "DELETE", a+"?bulk-delete", tok, []byte("/c/d%2Fe\n/c\n"), "Content-Type", "text/plain")
	if !strings.Contains(r.String(), "Number Deleted: 2\n") || !strings.Contains(r.String(), "Response Status: 200 OK\n") {
		t.Errorf("bulk delete: %s", r.Body)
	}
	e.must(404, "HEAD", a+"/c", tok, nil)
	e.must(201, "PUT", a+"/keep", tok, nil)
	e.must(201, "PUT", a+"/keep/x", tok, []byte("x"))
	r = e.must(200, "POST", a+"?bulk-delete", tok, []byte("/keep\n"), "Accept", "application/xml")
	if !strings.Contains(r.String(), "<response_status>400 Bad Request</response_status>") || !strings.Contains(r.String(), "<name>/keep</name><status>409 Conflict</status>") {
		t.Errorf("bulk delete of a non-empty container: %s", r.Body)
	}

	// Extract an archive: its first directory level becomes containers.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range map[string]string{"site/index.html": "<h1>hi</h1>", "site/css/a.css": "body{}", "logs/2024/1.log": "log", "toplevel.txt": "skipped"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(data))
	}
	tw.Close()
	gz.Close()
	r = e.must(200, "PUT", a+"?extract-archive=tar.gz", tok, buf.Bytes(), "Accept", "application/json", "X-Object-Meta-Source", "tarball")
	var out map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil || out["Number Files Created"] != 3.0 || out["Response Status"] != "201 Created" {
		t.Errorf("extract: %v %s", err, r.Body)
	}
	if got := e.must(200, "GET", a+"/site/css/a.css", tok, nil); got.String() != "body{}" || got.Header.Get("X-Object-Meta-Source") != "tarball" {
		t.Errorf("extracted object: %v %s", got.Header, got.Body)
	}
	r = e.must(200, "PUT", a+"/site?extract-archive=tar", tok, []byte("not a tar"))
	if !strings.Contains(r.String(), "Response Status: 400 Bad Request") || !strings.Contains(r.String(), "Invalid Tar File") {
		t.Errorf("bad archive: %s", r.Body)
	}
}

// TestVersionedWrites: with X-Versions-Location, a replaced object is
// kept in the versions container and a DELETE brings the previous one
// back (stack mode); with X-History-Location a DELETE archives it.
func TestVersionedWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/versions", tok, nil)
		e.must(201, "PUT", a+"/docs", tok, nil, "X-Versions-Location", "versions")
		if r := e.must(204, "HEAD", a+"/docs", tok, nil); r.Header.Get("X-Versions-Location") != "versions" {
			t.Errorf("X-Versions-Location %q", r.Header.Get("X-Versions-Location"))
		}
		for _, v := range []string{"v1", "v2", "v3"} {
			e.must(201, "PUT", a+"/docs/readme", tok, []byte(v))
		}
		if got := lines(e.must(200, "GET", a+"/versions", tok, nil).Body); len(got) != 2 || !strings.HasPrefix(got[0], "006readme/") {
			t.Errorf("versions: %v", got)
		}
		e.must(204, "DELETE", a+"/docs/readme", tok, nil)
		if got := e.must(200, "GET", a+"/docs/readme", tok, nil).String(); got != "v2" {
			t.Errorf("after a delete the object is %q, want v2", got)
		}
		e.must(204, "DELETE", a+"/docs/readme", tok, nil)
		e.must(204, "DELETE", a+"/docs/readme", tok, nil)
		e.must(404, "GET", a+"/docs/readme", tok, nil)
		for _, c := range []string{"docs", "versions"} {
			if r := e.must(204, "HEAD", a+"/"+c, tok, nil); r.Header.Get("X-Container-Object-Count") != "0" || r.Header.Get("X-Container-Bytes-Used") != "0" {
				t.Errorf("%s counters %v", c, r.Header)
			}
		}
		// History mode: a delete archives.
		e.must(202, "PUT", a+"/docs", tok, nil, "X-History-Location", "versions")
		e.must(201, "PUT", a+"/docs/log", tok, []byte("h1"))
		e.must(204, "DELETE", a+"/docs/log", tok, nil)
		e.must(404, "GET", a+"/docs/log", tok, nil)
		if got := lines(e.must(200, "GET", a+"/versions", tok, nil).Body); len(got) != 1 || !strings.HasPrefix(got[0], "003log/") {
			t.Errorf("history: %v", got)
		}
		e.must(400, "POST", a+"/docs", tok, nil, "X-Versions-Location", "versions", "X-History-Location", "versions")
		if n := countFiles(t, e); n != 1 {
			t.Errorf("%d data files, want 1 (the archived log)", n)
		}
	})
}

// TestStaticWeb serves a public container as a web site: its index,
// listings with a stylesheet, and its error page.
func TestStaticWeb(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/www", tok, nil, "X-Container-Read", ".r:*,.rlistings")
	e.must(201, "PUT", a+"/www/index.html", tok, []byte("<h1>home</h1>"), "Content-Type", "text/html")
	e.must(201, "PUT", a+"/www/docs/guide.html", tok, []byte("guide"))
	e.must(201, "PUT", a+"/www/404error.html", tok, []byte("not here"))
	e.must(204, "POST", a+"/www", tok, nil, "X-Container-Meta-Web-Index", "index.html", "X-Container-Meta-Web-Listings", "true",
		"X-Container-Meta-Web-Listings-Css", "style.css", "X-Container-Meta-Web-Error", "error.html")
	if got := e.must(200, "GET", a+"/www/", "", nil).String(); got != "<h1>home</h1>" {
		t.Errorf("index: %q", got)
	}
	if r := e.do("GET", a+"/www", "", nil); r.Status != 200 || r.String() != "<h1>home</h1>" {
		t.Errorf("container without slash (redirected): %d %q", r.Status, r.Body)
	}
	r := e.must(200, "GET", a+"/www/docs/", "", nil)
	if !strings.Contains(r.String(), `href="./guide%2Ehtml">guide.html</a>`) || !strings.Contains(r.String(), `<link rel="stylesheet" type="text/css" href="../style.css" />`) {
		t.Errorf("listing: %s", r.Body)
	}
	if r := e.must(404, "GET", a+"/www/nothing", "", nil); r.String() != "not here" {
		t.Errorf("error page: %q", r.Body)
	}
	// A token's bearer gets the ordinary API unless X-Web-Mode.
	if got := lines(e.must(200, "GET", a+"/www", tok, nil).Body); len(got) != 3 {
		t.Errorf("API listing: %v", got)
	}
	e.must(200, "GET", a+"/www/", tok, nil, "X-Web-Mode", "true")
}
