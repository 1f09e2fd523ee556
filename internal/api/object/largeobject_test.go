package object_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return b
}

// TestStaticLargeObject uploads segments and a manifest (with a range
// and inline data), reads the whole object and ranges of it byte for
// byte, checks its headers and manifest views, refuses manifests whose
// segments are missing or do not match, fails a read whose segment
// changed, and deletes it with its segments.
func TestStaticLargeObject(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/segs", tok, nil)
		e.must(201, "PUT", a+"/c", tok, nil)
		seg1, seg2 := randomBytes(1<<20), randomBytes(700000)
		e.must(201, "PUT", a+"/segs/1", tok, seg1)
		e.must(201, "PUT", a+"/segs/2", tok, seg2)
		manifest := fmt.Sprintf(`[{"path": "/segs/1", "etag": "%s", "size_bytes": %d},
			{"data": "aGVsbG8="},
			{"path": "segs/2", "range": "100-199"},
			{"path": "/segs/2", "etag": null}]`, md5hex(seg1), len(seg1))
		want := append(append(append(bytes.Clone(seg1), "hello"...), seg2[100:200]...), seg2...)
		h := md5.New()
		h.Write([]byte(md5hex(seg1)))
		h.Write([]byte(md5hex([]byte("hello"))))
		h.Write([]byte(md5hex(seg2) + ":100-199;"))
		h.Write([]byte(md5hex(seg2)))
		sloETag := hex.EncodeToString(h.Sum(nil))

		r := e.must(201, "PUT", a+"/c/big?multipart-manifest=put", tok, []byte(manifest), "Content-Type", "video/mp4", "X-Object-Meta-Kind", "movie")
		if r.Header.Get("Etag") != `"`+sloETag+`"` {
			t.Errorf("manifest PUT etag %q, want %q", r.Header.Get("Etag"), `"`+sloETag+`"`)
		}
		r = e.must(200, "HEAD", a+"/c/big", tok, nil)
		if r.Header.Get("X-Static-Large-Object") != "True" || r.Header.Get("Content-Length") != fmt.Sprint(len(want)) ||
			r.Header.Get("Etag") != `"`+sloETag+`"` || r.Header.Get("Content-Type") != "video/mp4" || r.Header.Get("X-Object-Meta-Kind") != "movie" {
			t.Errorf("SLO HEAD: %v", r.Header)
		}
		if got := e.must(200, "GET", a+"/c/big", tok, nil).Body; !bytes.Equal(got, want) {
			t.Fatalf("SLO GET: %d bytes differ from the %d expected", len(got), len(want))
		}
		for _, rng := range [][2]int{{0, 9}, {(1 << 20) - 3, (1 << 20) + 7}, {len(want) - 1000, len(want) - 1}, {(1 << 20) + 50, (1 << 20) + 200000}} {
			got := e.must(206, "GET", a+"/c/big", tok, nil, "Range", fmt.Sprintf("bytes=%d-%d", rng[0], rng[1])).Body
			if !bytes.Equal(got, want[rng[0]:rng[1]+1]) {
				t.Errorf("SLO range %v differs", rng)
			}
		}
		// gophercloud reads it too.
		dl := objects.Download(context.Background(), e.aliceSC, "c", "big", nil)
		if got, err := dl.ExtractContent(); err != nil || !bytes.Equal(got, want) {
			t.Errorf("gophercloud download: %v", err)
		}
		// Listings show the total and the SLO etag.
		var list []map[string]any
		_ = json.Unmarshal(e.must(200, "GET", a+"/c?format=json", tok, nil).Body, &list)
		if len(list) != 1 || list[0]["bytes"] != float64(len(want)) || list[0]["slo_etag"] != `"`+sloETag+`"` {
			t.Errorf("listing %v", list)
		}
		// The manifest itself, as stored and as uploaded.
		var stored []map[string]any
		r = e.must(200, "GET", a+"/c/big?multipart-manifest=get", tok, nil)
		if err := json.Unmarshal(r.Body, &stored); err != nil || len(stored) != 4 || stored[0]["name"] != "/segs/1" || stored[2]["range"] != "100-199" || stored[1]["data"] != "aGVsbG8=" {
			t.Errorf("multipart-manifest=get: %v %s", err, r.Body)
		}
		var raw []map[string]any
		if err := json.Unmarshal(e.must(200, "GET", a+"/c/big?multipart-manifest=get&format=raw", tok, nil).Body, &raw); err != nil ||
			raw[0]["path"] != "/segs/1" || raw[0]["size_bytes"] != float64(len(seg1)) {
			t.Errorf("format=raw: %v %v", err, raw)
		}
		// A copy of the SLO is a plain object with its data.
		e.must(201, "PUT", a+"/c/flat", tok, nil, "X-Copy-From", "c/big")
		if got := e.must(200, "GET", a+"/c/flat", tok, nil).Body; !bytes.Equal(got, want) {
			t.Error("a copy of the SLO has other data")
		}

		// Bad manifests.
		for _, c := range []struct {
			body, want string
			status     int
		}{
			{`{"path": "/segs/1"}`, "Manifest must be a list.", 400},
			{`[{"path": "/segs/1"`, "Manifest must be valid JSON.", 400},
			{`[{"path": "nocontainer"}]`, "Index 0: path does not refer to an object", 400},
			{`[{"path": "/segs/1", "bogus": 1}]`, `Index 0: extraneous keys "bogus"`, 400},
			{`[{"path": "/segs/missing"}]`, "/segs/missing, 404 Not Found", 400},
			{`[{"path": "/segs/1", "etag": "00000000000000000000000000000000"}]`, "/segs/1, Etag Mismatch", 400},
			{`[{"path": "/segs/1", "size_bytes": 5}]`, "/segs/1, Size Mismatch", 400},
			{`[{"path": "/segs/1", "range": "5-2"}]`, "Index 0: invalid range", 400},
			{`[{"data": "aGk="}]`, "Inline data segments require at least one object-backed segment.", 400},
			{`[{"path": "/c/big2"}]`, "Index 0: manifest must not include itself as a segment", 400},
		} {
			r := e.do("PUT", a+"/c/big2?multipart-manifest=put", tok, []byte(c.body))
			if r.Status != c.status || !strings.Contains(r.String(), c.want) {
				t.Errorf("manifest %s: %d %q, want %d %q", c.body, r.Status, r.Body, c.status, c.want)
			}
		}
		e.must(422, "PUT", a+"/c/big2?multipart-manifest=put", tok, []byte(`[{"path": "/segs/1"}]`), "Etag", "0123")
		e.must(400, "PUT", a+"/c/big2", tok, []byte("x"), "X-Static-Large-Object", "True")
		e.must(404, "HEAD", a+"/c/big2", tok, nil)

		// A segment replaced after the manifest: the read fails rather than
		// returning other data.
		e.must(201, "PUT", a+"/segs/1", tok, randomBytes(len(seg1)))
		if r := e.do("GET", a+"/c/big", tok, nil); r.Status == 200 && bytes.Equal(r.Body, want) {
			t.Error("an SLO whose segment changed was read as if nothing happened")
		} else if r.Status == 409 && !strings.Contains(r.String(), "changed since the manifest was written") {
			t.Errorf("changed segment: %d %s", r.Status, r.Body)
		}

		// Delete with its segments.
		r = e.must(200, "DELETE", a+"/c/big?multipart-manifest=delete", tok, nil, "Accept", "application/json")
		var res map[string]any
		if err := json.Unmarshal(r.Body, &res); err != nil || res["Number Deleted"] != 3.0 || res["Response Status"] != "200 OK" {
			t.Errorf("multipart-manifest=delete: %v %s", err, r.Body)
		}
		if got := lines(e.do("GET", a+"/segs", tok, nil).Body); len(got) != 0 {
			t.Errorf("segments left: %v", got)
		}
	})
}

// TestDynamicLargeObject: a manifest with X-Object-Manifest reads as the
// objects under its prefix, in name order, as they are when read.
func TestDynamicLargeObject(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	var want []byte
	var etags string
	for i := range 5 {
		b := randomBytes(1000 + i)
		want = append(want, b...)
		etags += md5hex(b)
		e.must(201, "PUT", a+fmt.Sprintf("/c/parts/%02d", i), tok, b)
	}
	e.must(201, "PUT", a+"/c/dlo", tok, []byte{}, "X-Object-Manifest", "c/parts/")
	r := e.must(200, "GET", a+"/c/dlo", tok, nil)
	if !bytes.Equal(r.Body, want) || r.Header.Get("X-Object-Manifest") != "c/parts/" || r.Header.Get("Etag") != `"`+md5hex([]byte(etags))+`"` {
		t.Errorf("DLO GET: %d bytes, headers %v", len(r.Body), r.Header)
	}
	if got := e.must(206, "GET", a+"/c/dlo", tok, nil, "Range", "bytes=990-1010").Body; !bytes.Equal(got, want[990:1011]) {
		t.Error("DLO range differs")
	}
	// A new part is read at once.
	extra := randomBytes(10)
	e.must(201, "PUT", a+"/c/parts/99", tok, extra)
	if got := e.must(200, "GET", a+"/c/dlo", tok, nil).Body; !bytes.Equal(got, append(want, extra...)) {
		t.Error("DLO did not pick up a new part")
	}
	// POST can turn an object into a DLO.
	e.must(201, "PUT", a+"/c/later", tok, []byte{})
	e.must(202, "POST", a+"/c/later", tok, nil, "X-Object-Manifest", "c/parts/0")
	if got := e.must(200, "GET", a+"/c/later", tok, nil).Body; !bytes.Equal(got, want[:1000+1001+1002+1003+1004]) {
		t.Errorf("POSTed DLO: %d bytes", len(got))
	}
	e.must(400, "PUT", a+"/c/bad", tok, []byte{}, "X-Object-Manifest", "no-slash")
	// multipart-manifest=get is the manifest object itself.
	if r := e.must(200, "GET", a+"/c/dlo?multipart-manifest=get", tok, nil); len(r.Body) != 0 {
		t.Errorf("DLO manifest=get: %d bytes", len(r.Body))
	}
}
