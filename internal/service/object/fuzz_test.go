package object

import (
	"testing"

	"github.com/onestack/onestack/internal/oserr"
)

// FuzzParseManifest: any uploaded manifest decodes or is refused with a
// 400 naming its problems; what decodes has a path or data per segment
// and at least one path.
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`[{"path": "/c/o", "etag": "abc", "size_bytes": 10, "range": "1-2"}]`,
		`[{"data": "aGk="}, {"path": "c/o"}]`,
		`[{"path": "/c/o", "size_bytes": "12"}]`,
		`{"path": "/c/o"}`, `[1, "x", null]`, `[{"path": 5}]`, `[{"path": "/c/o", "range": "-0"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		specs, err := ParseManifest(body, "/c/self")
		if err != nil {
			if !oserr.Is(err, 400) {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		paths := 0
		for _, s := range specs {
			switch {
			case s.Data != nil && s.Path != "":
				t.Fatalf("%q: a segment with both data and path", body)
			case s.Data == nil && s.Path == "":
				t.Fatalf("%q: a segment with neither", body)
			case s.Path != "":
				paths++
			}
		}
		if len(specs) > 0 && paths == 0 {
			t.Fatalf("%q: no object-backed segment", body)
		}
	})
}

// FuzzCleanACL: an ACL cleans or is refused with a 400; a cleaned one
// cleans to itself.
func FuzzCleanACL(f *testing.F) {
	for _, s := range []string{".r:*,.rlistings", "a:b, c:d", ".referrer : -*.example.com", ".r:", ".x:y", ",,,"} {
		f.Add("x-container-read", s)
	}
	f.Fuzz(func(t *testing.T, header, acl string) {
		clean, err := CleanACL(header, acl)
		if err != nil {
			if !oserr.Is(err, 400) {
				t.Fatalf("%q: %v", acl, err)
			}
			return
		}
		again, err := CleanACL(header, clean)
		if err != nil || again != clean {
			t.Fatalf("%q cleaned to %q, which cleans to %q (%v)", acl, clean, again, err)
		}
		refs, _ := parseACL(clean)
		_ = referrerAllowed("http://example.com/", refs)
	})
}
