package object

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	svc "github.com/onestack/onestack/internal/service/object"
)

// FuzzParseRange: a Range header never panics, and what it resolves to
// lies within the object.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=1-2,4-5,-1", "bytes=9-3", "bytes=--0", "bytes=1-2,,", "BYTES = 0 - 10"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, length int64) {
		if length < 0 {
			length = -length
		}
		rs, ok := ParseRange(h)
		if !ok {
			return
		}
		for _, s := range rangesFor(rs, length) {
			if s.start < 0 || s.end > length || s.start >= s.end && length > 0 {
				t.Fatalf("%q over %d: span %v", h, length, s)
			}
		}
	})
}

// FuzzListParams: any query string decodes or is refused with a 4xx; the
// strings a listing receives are valid UTF-8.
func FuzzListParams(f *testing.F) {
	for _, s := range []string{"limit=10&marker=a", "prefix=%ff", "limit=99999", "path=a/b&delimiter=/", "reverse=yes&end_marker=z", "limit=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		lq, err := ListParams(q, svc.ContainerListingLimit, true)
		if err != nil {
			if e := asOSErr(err); e == nil || e.Status/100 != 4 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		for _, s := range []string{lq.Marker, lq.EndMarker, lq.Prefix, lq.Delimiter} {
			if !utf8.ValidString(s) {
				t.Fatalf("%q: invalid UTF-8 passed on", raw)
			}
		}
		if lq.Limit > svc.ContainerListingLimit {
			t.Fatalf("%q: limit %d", raw, lq.Limit)
		}
	})
}

// FuzzHeaders: metadata headers, expiry headers and paths decode or are
// refused with a 4xx.
func FuzzHeaders(f *testing.F) {
	f.Add("X-Object-Meta-A", "b", "X-Delete-After", "10", "/v1/AUTH_a/c/o//p")
	f.Add("X-Remove-Container-Meta-A", "", "X-Delete-At", "1e10", "/v1")
	f.Add("X-Container-Read", ".r:*,.rlistings", "X-Object-Manifest", "c/p", "//")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, path string) {
		h := map[string]string{headerName(k1): v1, headerName(k2): v2}
		check := func(err error) {
			if err != nil {
				if e := asOSErr(err); e == nil || e.Status/100 != 4 {
					t.Fatalf("%q: %v", h, err)
				}
			}
		}
		_, err := metaChange(h, "container", containerSystem...)
		check(err)
		_, err = metaChange(h, "account")
		check(err)
		_, err = objectHeaders(h)
		check(err)
		at, err := deleteAt(h, time.Unix(1700000000, 0))
		check(err)
		if err == nil && at != 0 && at <= 1700000000 {
			t.Fatalf("%q: expiry %d in the past", h, at)
		}
		if p, ok := ParsePath(path); ok && p.Object != "" && p.Container == "" {
			t.Fatalf("%q: an object without a container", path)
		}
		_, _, _ = ParseSignature(v1)
	})
}

// FuzzBulkDelete: a bulk delete body parses or is refused with a 4xx, and
// every path it yields is valid UTF-8.
func FuzzBulkDelete(f *testing.F) {
	f.Add("/c/o\n/c\n")
	f.Add("c/%2F%2F\r\n\n%ff")
	f.Fuzz(func(t *testing.T, body string) {
		paths, err := ParseBulkDelete(strings.NewReader(body))
		if err != nil {
			if e := asOSErr(err); e == nil || e.Status/100 != 4 {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		for _, p := range paths {
			if !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
				t.Fatalf("%q: path %q", body, p)
			}
		}
	})
}

// FuzzJSONString: a listing's strings are written as ASCII JSON that
// decodes back to them.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"a\"b\\c", "é日\U0001F600", "\x01\x7f\n\t", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		b := appendJSONString(nil, s)
		for _, c := range b {
			if c >= 0x80 {
				t.Fatalf("%q: non-ASCII output %q", s, b)
			}
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("%q: wrote %s, decodes to %q (%v)", s, b, back, err)
		}
	})
}
