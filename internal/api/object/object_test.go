package object_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/accounts"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/containers"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
)

func extractErr(r containers.DeleteResult) error {
	_, err := r.Extract()
	return err
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestGophercloudLifecycle drives containers and objects through
// gophercloud's objectstorage/v1 packages: create with metadata, upload,
// list with prefix and delimiter, download byte for byte, update metadata,
// copy, delete; the account's counters follow.
func TestGophercloudLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		ctx := context.Background()
		sc := e.aliceSC
		if _, err := containers.Create(ctx, sc, "photos", containers.CreateOpts{Metadata: map[string]string{"Owner": "shop"}}).Extract(); err != nil {
			t.Fatal(err)
		}
		data := map[string][]byte{}
		for _, name := range []string{"2024/01/a.jpg", "2024/01/b.jpg", "2024/02/c.jpg", "readme.txt"} {
			b := make([]byte, 1000+rand.IntN(5000))
			for i := range b {
				b[i] = byte(rand.IntN(256))
			}
			data[name] = b
			res, err := objects.Create(ctx, sc, "photos", name, objects.CreateOpts{Content: bytes.NewReader(b), ContentType: "image/jpeg",
				Metadata: map[string]string{"Camera": "x100"}}).Extract()
			if err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			if res.ETag != md5hex(b) {
				t.Errorf("%s: etag %s, want %s", name, res.ETag, md5hex(b))
			}
		}

		list := func(opts objects.ListOpts) []string {
			t.Helper()
			pages, err := objects.List(sc, "photos", opts).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			names, err := objects.ExtractNames(pages)
			if err != nil {
				t.Fatal(err)
			}
			return names
		}
		if got, want := list(objects.ListOpts{Prefix: "2024/"}), []string{"2024/01/a.jpg", "2024/01/b.jpg", "2024/02/c.jpg"}; !slices.Equal(got, want) {
			t.Errorf("prefix 2024/: %v, want %v", got, want)
		}
		if got, want := list(objects.ListOpts{Delimiter: "/"}), []string{"2024/", "readme.txt"}; !slices.Equal(got, want) {
			t.Errorf("delimiter /: %v, want %v", got, want)
		}
		if got, want := list(objects.ListOpts{Prefix: "2024/", Delimiter: "/"}), []string{"2024/01/", "2024/02/"}; !slices.Equal(got, want) {
			t.Errorf("prefix 2024/ delimiter /: %v, want %v", got, want)
		}
		// Paging through gophercloud (limit 1, marker from the last name).
		if got := list(objects.ListOpts{Limit: 1}); len(got) != 4 {
			t.Errorf("paged listing: %v", got)
		}

		for name, b := range data {
			res := objects.Download(ctx, sc, "photos", name, nil)
			got, err := res.ExtractContent()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Errorf("%s: downloaded %d bytes differ from the %d uploaded", name, len(got), len(b))
			}
		}
		h, err := objects.Get(ctx, sc, "photos", "readme.txt", nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if h.ContentLength != int64(len(data["readme.txt"])) || h.ContentType != "image/jpeg" || h.ETag != md5hex(data["readme.txt"]) {
			t.Errorf("HEAD: %+v", h)
		}
		md, err := objects.Get(ctx, sc, "photos", "readme.txt", nil).ExtractMetadata()
		if err != nil || md["Camera"] != "x100" {
			t.Errorf("metadata %v, %v", md, err)
		}
		if _, err := objects.Update(ctx, sc, "photos", "readme.txt", objects.UpdateOpts{Metadata: map[string]string{"Lens": "23mm"}}).Extract(); err != nil {
			t.Fatal(err)
		}
		md, _ = objects.Get(ctx, sc, "photos", "readme.txt", nil).ExtractMetadata()
		if diff := cmp.Diff(map[string]string{"Lens": "23mm"}, md); diff != "" {
			t.Errorf("a POST replaces an object's metadata (-want +got):\n%s", diff)
		}

		if _, err := objects.Copy(ctx, sc, "photos", "readme.txt", objects.CopyOpts{Destination: "/photos/copy.txt"}).Extract(); err != nil {
			t.Fatal(err)
		}
		dl := objects.Download(ctx, sc, "photos", "copy.txt", nil)
		got, _ := dl.ExtractContent()
		if !bytes.Equal(got, data["readme.txt"]) {
			t.Error("the copy's data differs from its source")
		}
		md, _ = objects.Get(ctx, sc, "photos", "copy.txt", nil).ExtractMetadata()
		if md["Lens"] != "23mm" {
			t.Errorf("the copy did not keep the source's metadata: %v", md)
		}

		cmd, err := containers.Get(ctx, sc, "photos", nil).ExtractMetadata()
		if err != nil || cmd["Owner"] != "shop" {
			t.Errorf("container metadata %v, %v", cmd, err)
		}
		total := int64(0)
		for _, b := range data {
			total += int64(len(b))
		}
		total += int64(len(data["readme.txt"]))
		ch, _ := containers.Get(ctx, sc, "photos", nil).Extract()
		if ch.ObjectCount != 5 || ch.BytesUsed != total {
			t.Errorf("container counts %d objects, %d bytes; want 5, %d", ch.ObjectCount, ch.BytesUsed, total)
		}
		ah, err := accounts.Get(ctx, sc, nil).Extract()
		if err != nil || ah.ObjectCount != 5 || ah.BytesUsed != total || ah.ContainerCount != 1 {
			t.Errorf("account %+v, %v", ah, err)
		}

		// A non-empty container cannot be deleted.
		if err := extractErr(containers.Delete(ctx, sc, "photos")); err == nil {
			t.Error("deleting a non-empty container succeeded")
		}
		for _, name := range []string{"2024/01/a.jpg", "2024/01/b.jpg", "2024/02/c.jpg", "readme.txt", "copy.txt"} {
			if _, err := objects.Delete(ctx, sc, "photos", name, nil).Extract(); err != nil {
				t.Fatal(err)
			}
		}
		if err := extractErr(containers.Delete(ctx, sc, "photos")); err != nil {
			t.Fatal(err)
		}
		ah, _ = accounts.Get(ctx, sc, nil).Extract()
		if ah.ObjectCount != 0 || ah.BytesUsed != 0 || ah.ContainerCount != 0 {
			t.Errorf("account after deletes: %+v", ah)
		}
		if n := countFiles(t, e); n != 0 {
			t.Errorf("%d data files remain after every object was deleted", n)
		}
	})
}

// TestSwiftWire checks the headers and bodies Swift's clients rely on:
// transaction ids, timestamps, 201/202/204, error pages and plain-text
// errors, HEAD without a body.
func TestSwiftWire(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	r := e.must(201, "PUT", a+"/c", tok, nil)
	for _, h := range []string{"X-Trans-Id", "X-Openstack-Request-Id", "Date", "Content-Type"} {
		if r.Header.Get(h) == "" {
			t.Errorf("container PUT answer lacks %s", h)
		}
	}
	if id := r.Header.Get("X-Trans-Id"); len(id) != 34 || !strings.HasPrefix(id, "tx") || r.Header.Get("X-Openstack-Request-Id") != id {
		t.Errorf("trans id %q, request id %q", id, r.Header.Get("X-Openstack-Request-Id"))
	}
	e.must(202, "PUT", a+"/c", tok, nil) // exists: accepted
	e.must(204, "POST", a+"/c", tok, nil, "X-Container-Meta-Color", "blue")
	r = e.must(204, "HEAD", a+"/c", tok, nil)
	if r.Header.Get("X-Container-Meta-Color") != "blue" || r.Header.Get("X-Storage-Policy") != "Policy-0" || r.Header.Get("X-Timestamp") == "" {
		t.Errorf("container HEAD headers %v", r.Header)
	}
	r = e.must(201, "PUT", a+"/c/o", tok, []byte("data"), "X-Object-Meta-Empty", "")
	if r.Header.Get("Etag") != md5hex([]byte("data")) || r.Header.Get("Last-Modified") == "" || r.Header.Get("Content-Length") != "0" {
		t.Errorf("object PUT headers %v", r.Header)
	}
	r = e.must(200, "HEAD", a+"/c/o", tok, nil)
	if len(r.Body) != 0 || r.Header.Get("Content-Length") != "4" || r.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("object HEAD: %v body %q", r.Header, r.Body)
	}
	if v, ok := r.Header["X-Object-Meta-Empty"]; !ok || v[0] != "" {
		t.Errorf("an empty object metadata item is kept, as Swift keeps it: %v", r.Header)
	}
	e.must(202, "POST", a+"/c/o", tok, nil, "X-Object-Meta-A", "1")

	// Errors: Swift's page with our message; plain text where Swift has
	// a sentence of its own.
	r = e.must(404, "GET", a+"/c/missing", tok, nil)
	if !strings.Contains(r.String(), "<h1>Not Found</h1><p>The resource could not be found.</p>") || !strings.Contains(r.String(), "missing") ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("404 page: %s %v", r.Body, r.Header)
	}
	r = e.must(409, "DELETE", a+"/c", tok, nil)
	if !strings.Contains(r.String(), "There was a conflict when trying to complete your request.") || !strings.Contains(r.String(), "not empty") {
		t.Errorf("409 page: %s", r.Body)
	}
	long := strings.Repeat("x", 257)
	r = e.must(400, "PUT", a+"/"+long, tok, nil)
	if r.String() != "Container name length of 257 longer than 256" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("long container name: %q %v", r.Body, r.Header)
	}
	r = e.must(404, "HEAD", a+"/c/missing", tok, nil)
	if len(r.Body) != 0 {
		t.Errorf("HEAD 404 has a body: %q", r.Body)
	}
	r = e.must(401, "GET", a, "", nil)
	if !strings.Contains(r.String(), "Unauthorized") {
		t.Errorf("401: %s", r.Body)
	}
	e.must(401, "GET", a, "not-a-token", nil)
	e.must(405, "PUT", a, tok, nil)
	e.must(405, "DELETE", a, tok, nil)
	e.must(404, "GET", "/object/v1", tok, nil)
	e.must(400, "GET", "/object/v2/AUTH_x", tok, nil)
	e.must(200, "GET", "/object/healthcheck", "", nil)
	r = e.must(200, "GET", "/object/crossdomain.xml", "", nil)
	if !strings.HasPrefix(r.String(), `<?xml version="1.0"?>`) {
		t.Errorf("crossdomain: %s", r.Body)
	}
	var info map[string]map[string]any
	if err := json.Unmarshal(e.must(200, "GET", "/object/info", "", nil).Body, &info); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"swift", "slo", "dlo", "tempurl", "formpost", "bulk_delete", "bulk_upload", "account_quotas", "container_quotas", "staticweb", "versioned_writes"} {
		if _, ok := info[s]; !ok {
			t.Errorf("/info lacks %s", s)
		}
	}
	for _, s := range []string{"container_sync", "symlink", "s3api", "object_versioning"} {
		if _, ok := info[s]; ok {
			t.Errorf("/info advertises %s, which is not served", s)
		}
	}
}

// TestListings covers the listing parameters and formats on containers
// and accounts.
func TestListings(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		for _, c := range []string{"a", "b", "c-1", "c-2", "d"} {
			e.must(201, "PUT", a+"/"+c, tok, nil)
		}
		names := []string{"a", "a/b", "a/b/c", "a/c", "b", "b/x", "c", "dir/", "dir/one", "dir/two", "é"}
		for _, n := range names {
			e.must(201, "PUT", a+"/c-1/"+n, tok, []byte(n))
		}
		list := func(path string, headers ...string) []string {
			t.Helper()
			return lines(e.must(200, "GET", path, tok, nil, headers...).Body)
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", names},
			{"?limit=2", names[:2]},
			{"?marker=a/c", names[4:]},
			{"?end_marker=b", names[:4]},
			{"?marker=a&end_marker=b/x", []string{"a/b", "a/b/c", "a/c", "b"}},
			{"?prefix=a/", []string{"a/b", "a/b/c", "a/c"}},
			{"?delimiter=/", []string{"a", "a/", "b", "b/", "c", "dir/", "é"}},
			{"?prefix=a/&delimiter=/", []string{"a/b", "a/b/", "a/c"}},
			{"?delimiter=/&marker=a/", []string{"b", "b/", "c", "dir/", "é"}},
			{"?delimiter=/&limit=3", []string{"a", "a/", "b"}},
			{"?reverse=true", reversed(names)},
			{"?reverse=true&delimiter=/", []string{"é", "dir/", "c", "b/", "b", "a/", "a"}},
			{"?reverse=on&marker=b&limit=2", []string{"a/c", "a/b/c"}},
			{"?path=dir", []string{"dir/one", "dir/two"}},
			{"?path=a", []string{"a/b", "a/c"}},
			{"?prefix=%C3%A9", []string{"é"}},
			{"?prefix=zzz", nil},
		} {
			if got := lines(e.do("GET", a+"/c-1"+c.query, tok, nil).Body); !slices.Equal(got, c.want) {
				t.Errorf("GET c-1%s: %q, want %q", c.query, got, c.want)
			}
		}
		// Empty plain listings are 204; limit=0 lists nothing.
		e.must(204, "GET", a+"/c-1?prefix=zzz", tok, nil)
		e.must(204, "GET", a+"/c-1?limit=0", tok, nil)
		e.must(412, "GET", a+"/c-1?limit=10001", tok, nil)
		r := e.must(400, "GET", a+"/c-1?marker=%ff", tok, nil)
		if r.String() != `"marker" parameter not valid UTF-8` {
			t.Errorf("bad marker: %q", r.Body)
		}

		// JSON and XML, by format or Accept.
		var objs []map[string]any
		r = e.must(200, "GET", a+"/c-1?format=json&prefix=dir/&delimiter=/", tok, nil)
		if err := json.Unmarshal(r.Body, &objs); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("json: %v %s", err, r.Body)
		}
		if len(objs) != 3 || objs[0]["name"] != "dir/" || objs[0]["hash"] != md5hex([]byte("dir/")) || objs[0]["bytes"] != 4.0 ||
			objs[0]["content_type"] == nil || objs[0]["last_modified"] == nil {
			t.Errorf("json listing: %s", r.Body)
		}
		e.must(200, "GET", a+"/c-1?delimiter=/", tok, nil, "Accept", "application/json")
		r = e.must(200, "GET", a+"/c-1?format=xml&limit=1", tok, nil)
		if !strings.HasPrefix(r.String(), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<container name="c-1"><object><name>a</name><hash>`) {
			t.Errorf("xml: %s", r.Body)
		}
		r = e.must(200, "GET", a+"/c-1?delimiter=/&prefix=a/", tok, nil, "Accept", "text/xml")
		if !strings.Contains(r.String(), `<subdir name="a/b/"><name>a/b/</name></subdir>`) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
			t.Errorf("xml subdir: %s", r.Body)
		}
		e.must(406, "GET", a+"/c-1", tok, nil, "Accept", "image/png")

		// Accounts list containers the same way.
		if got, want := list(a+"?prefix=c-"), []string{"c-1", "c-2"}; !slices.Equal(got, want) {
			t.Errorf("account prefix: %v", got)
		}
		if got, want := list(a+"?delimiter=-"), []string{"a", "b", "c-", "d"}; !slices.Equal(got, want) {
			t.Errorf("account delimiter: %v", got)
		}
		if got, want := list(a+"?marker=b&end_marker=d"), []string{"c-1", "c-2"}; !slices.Equal(got, want) {
			t.Errorf("account markers: %v", got)
		}
		if got, want := list(a+"?reverse=1&limit=2"), []string{"d", "c-2"}; !slices.Equal(got, want) {
			t.Errorf("account reverse: %v", got)
		}
		var conts []map[string]any
		_ = json.Unmarshal(e.must(200, "GET", a+"?format=json&prefix=c-1", tok, nil).Body, &conts)
		if len(conts) != 1 || conts[0]["count"] != float64(len(names)) {
			t.Errorf("account json: %v", conts)
		}
		r = e.must(200, "GET", a+"?format=xml&limit=1", tok, nil)
		if !strings.Contains(r.String(), "<account name=\"AUTH_"+e.alice.projectID+"\">\n<container><name>a</name><count>0</count><bytes>0</bytes>") {
			t.Errorf("account xml: %s", r.Body)
		}
	})
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestRangesAndConditionals: single and multiple ranges compared byte for
// byte, suffixes, unsatisfiable and ignored ranges, If-Match,
// If-None-Match, If-Modified-Since, If-Unmodified-Since.
func TestRangesAndConditionals(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	e.must(201, "PUT", a+"/c/o", tok, data, "Content-Type", "application/x-test")
	for _, c := range []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0}, {"bytes=100-199", 100, 199}, {"bytes=9000-", 9000, 9999}, {"bytes=-10", 9990, 9999},
		{"bytes=9990-20000", 9990, 9999}, {"bytes=-20000", 0, 9999},
	} {
		r := e.must(206, "GET", a+"/c/o", tok, nil, "Range", c.rng)
		if !bytes.Equal(r.Body, data[c.start:c.end+1]) {
			t.Errorf("%s: %d bytes, not the range", c.rng, len(r.Body))
		}
		if want := fmt.Sprintf("bytes %d-%d/10000", c.start, c.end); r.Header.Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", c.rng, r.Header.Get("Content-Range"), want)
		}
	}
	r := e.must(206, "GET", a+"/c/o", tok, nil, "Range", "bytes=0-9,100-109,-5")
	ctype := r.Header.Get("Content-Type")
	boundary, ok := strings.CutPrefix(ctype, "multipart/byteranges;boundary=")
	if !ok {
		t.Fatalf("multi-range content type %q", ctype)
	}
	want := ""
	for _, s := range [][2]int{{0, 9}, {100, 109}, {9995, 9999}} {
		want += "--" + boundary + "\r\nContent-Type: application/x-test\r\n" + fmt.Sprintf("Content-Range: bytes %d-%d/10000\r\n\r\n", s[0], s[1]) +
			string(data[s[0]:s[1]+1]) + "\r\n"
	}
	want += "--" + boundary + "--"
	if string(r.Body) != want || r.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
		t.Errorf("multipart/byteranges body differs (%d bytes, want %d)", len(r.Body), len(want))
	}
	r = e.must(416, "GET", a+"/c/o", tok, nil, "Range", "bytes=10000-")
	if r.Header.Get("Content-Range") != "bytes */10000" {
		t.Errorf("416 Content-Range %q", r.Header.Get("Content-Range"))
	}
	for _, ignored := range []string{"bytes=5-3", "bytes=abc", "items=0-1", "bytes=-"} {
		if r := e.must(200, "GET", a+"/c/o", tok, nil, "Range", ignored); len(r.Body) != len(data) {
			t.Errorf("Range %q is ignored, as Swift: got %d bytes", ignored, len(r.Body))
		}
	}
	etag := md5hex(data)
	e.must(200, "GET", a+"/c/o", tok, nil, "If-Match", etag)
	e.must(200, "GET", a+"/c/o", tok, nil, "If-Match", `"`+etag+`"`)
	e.must(412, "GET", a+"/c/o", tok, nil, "If-Match", "nope")
	e.must(304, "GET", a+"/c/o", tok, nil, "If-None-Match", etag)
	e.must(304, "GET", a+"/c/o", tok, nil, "If-None-Match", "*")
	e.must(200, "GET", a+"/c/o", tok, nil, "If-None-Match", "other")
	e.must(412, "GET", a+"/c/missing", tok, nil, "If-Match", "*")
	past, future := time.Now().Add(-24*time.Hour).UTC().Format(http.TimeFormat), time.Now().Add(24*time.Hour).UTC().Format(http.TimeFormat)
	e.must(200, "GET", a+"/c/o", tok, nil, "If-Modified-Since", past)
	e.must(304, "GET", a+"/c/o", tok, nil, "If-Modified-Since", future)
	e.must(200, "GET", a+"/c/o", tok, nil, "If-Unmodified-Since", future)
	e.must(412, "GET", a+"/c/o", tok, nil, "If-Unmodified-Since", past)
	// ctime format, as Python's time.ctime sends it.
	e.must(200, "GET", a+"/c/o", tok, nil, "If-Modified-Since", time.Now().Add(-24*time.Hour).Format(time.ANSIC))
	// If-None-Match: * on PUT refuses to replace.
	e.must(412, "PUT", a+"/c/o", tok, []byte("x"), "If-None-Match", "*")
	e.must(201, "PUT", a+"/c/new", tok, []byte("x"), "If-None-Match", "*")
	e.must(400, "PUT", a+"/c/new2", tok, []byte("x"), "If-None-Match", "abc")
}

// TestChunkedAndStreamedUpload sends bodies without a Content-Length and
// checks the ETag against the data; a wrong ETag (422) and a short body
// leave nothing behind.
func TestChunkedAndStreamedUpload(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	data := bytes.Repeat([]byte("0123456789abcdef"), 300000) // 4.8 MB: several chunks
	req, _ := http.NewRequest("PUT", e.URL+a+"/c/chunked", io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:])))
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Etag", md5hex(data))
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("chunked PUT: %d", res.StatusCode)
	}
	if got := e.must(200, "GET", a+"/c/chunked", tok, nil).Body; !bytes.Equal(got, data) {
		t.Error("chunked upload stored different data")
	}
	r := e.must(422, "PUT", a+"/c/bad-etag", tok, data, "Etag", md5hex([]byte("other")))
	if !strings.Contains(r.String(), "does not match") {
		t.Errorf("422: %s", r.Body)
	}
	e.must(404, "HEAD", a+"/c/bad-etag", tok, nil)
	// A body that ends before its Content-Length: the connection is cut.
	req, _ = http.NewRequest("PUT", e.URL+a+"/c/short", &shortReader{data: data[:1000]})
	req.Header.Set("X-Auth-Token", tok)
	req.ContentLength = 5000
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	e.must(404, "HEAD", a+"/c/short", tok, nil)
	if lines(e.must(200, "GET", a+"/c", tok, nil).Body)[0] != "chunked" {
		t.Error("a failed upload is listed")
	}
	if n := countFiles(t, e); n != 1 {
		t.Errorf("%d data files, want 1 (failed uploads leave none)", n)
	}
}

// shortReader returns data and then fails, as a client that disconnects.
type shortReader struct {
	data []byte
	done bool
}

func (s *shortReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.ErrUnexpectedEOF
	}
	s.done = true
	return copy(p, s.data), nil
}
