package image

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/image"
)

// FuzzPatchDecoder feeds arbitrary bodies to the JSON-patch decoder in
// both of Glance's flavours: it refuses with a 4xx and a message, or
// yields changes with a known operation and a one-level attribute name.
func FuzzPatchDecoder(f *testing.F) {
	for _, seed := range []string{
		`[{"op": "replace", "path": "/name", "value": "x"}]`,
		`[{"replace": "/name", "value": "x"}, {"remove": "/foo"}]`,
		`[{"op": "add", "path": "/a~1b~0c", "value": "v"}]`,
		`[{"op": "add", "path": "/locations/-", "value": {}}]`,
		`[{"op": "add", "path": "//x", "value": 1}]`,
		`{"op": "add"}`, `[1]`, `[]`, `[{"op": "remove", "path": "/x~"}]`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, draft4 bool) {
		r := httptest.NewRequest("PATCH", "/image/v2/images/x", bytes.NewReader(body))
		v, err := decodeJSON(httptest.NewRecorder(), r)
		if err == nil {
			var changes []svc.Change
			changes, err = parsePatch(v, draft4)
			for _, ch := range changes {
				if ch.Op != svc.OpAdd && ch.Op != svc.OpRemove && ch.Op != svc.OpReplace {
					t.Fatalf("change with operation %q", ch.Op)
				}
				if ch.Attr == "" || ch.Attr == "locations" {
					t.Fatalf("change of attribute %q", ch.Attr)
				}
			}
		}
		if err != nil {
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Message == "" {
				t.Fatalf("error %v is not a client error with a message", err)
			}
		}
	})
}

// FuzzCreateDecoder feeds arbitrary bodies to the create decoder: a JSON
// object comes out, or a 4xx with a message.
func FuzzCreateDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"name": "x", "min_ram": 12345678901234567890}`, `{"name":`, `[]`, `null`, `{} {}`, `{"a": 1.5e300}`, "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/image/v2/images", bytes.NewReader(body))
		m, err := decodeObject(httptest.NewRecorder(), r)
		if err != nil {
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Message == "" {
				t.Fatalf("error %v is not a client error with a message", err)
			}
			return
		}
		if m == nil {
			t.Fatal("no error and no object")
		}
	})
}
