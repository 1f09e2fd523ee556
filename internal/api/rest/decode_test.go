package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/oserr"
)

// decodeTarget has a field of each JSON kind a request body carries.
type decodeTarget struct {
	Name    string            `json:"name"`
	Size    int               `json:"size"`
	Ratio   float64           `json:"ratio"`
	Enabled *bool             `json:"enabled"`
	Tags    []string          `json:"tags"`
	Meta    map[string]string `json:"metadata"`
	Nested  *struct {
		ID string `json:"id"`
	} `json:"nested"`
	Raw json.RawMessage `json:"raw"`
}

func decodeRequest(body []byte, limit int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	return r
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   string
		strict bool
		limit  int64
		status int    // 0: success
		substr string // in the message
	}{
		{name: "object", body: `{"name":"x","size":3,"tags":["a"],"nested":{"id":"n"}}`},
		{name: "whitespace around", body: " \n{\"name\":\"x\"}\n\t "},
		{name: "unknown field, lenient", body: `{"bogus":1}`},
		{name: "unknown field, strict", body: `{"bogus":1}`, strict: true, status: 400, substr: "bogus"},
		{name: "empty", body: ``, status: 400, substr: "empty"},
		{name: "only whitespace", body: "  \n ", status: 400, substr: "empty"},
		{name: "truncated", body: `{"name":"x"`, status: 400, substr: "ends before"},
		{name: "syntax", body: `{"name":x}`, status: 400, substr: "not valid JSON"},
		{name: "wrong type", body: `{"size":"big"}`, status: 400, substr: "'size'"},
		{name: "wrong nested type", body: `{"nested":{"id":1}}`, status: 400, substr: "nested.id"},
		{name: "array for object", body: `[1,2]`, status: 400, substr: "an object"},
		{name: "number overflow", body: `{"size":1e400}`, status: 400},
		{name: "two documents", body: `{} {}`, status: 400, substr: "after the JSON document"},
		{name: "trailing garbage", body: `{}x`, status: 400, substr: "after the JSON document"},
		{name: "trailing bracket", body: `{}]`, status: 400, substr: "after the JSON document"},
		{name: "over the limit", body: `{"name":"` + strings.Repeat("x", 100) + `"}`, limit: 50, status: 413, substr: "50 bytes"},
		{name: "limit reached in trailing data", body: `{}` + strings.Repeat(" ", 100) + `x`, limit: 50, status: 413},
		{name: "exactly the limit", body: `{"name":"xx"}`, limit: int64(len(`{"name":"xx"}`))},
	} {
		t.Run(c.name, func(t *testing.T) {
			limit := c.limit
			if limit == 0 {
				limit = MaxBody
			}
			var v decodeTarget
			err := Decode(decodeRequest([]byte(c.body), limit), &v, c.strict)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want success", c.body, err)
				}
				return
			}
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status != c.status || !strings.Contains(e.Message, c.substr) {
				t.Fatalf("Decode(%q) = %v, want %d containing %q", c.body, err, c.status, c.substr)
			}
		})
	}
	var v decodeTarget
	err := Decode(httptest.NewRequest(http.MethodPost, "/", nil), &v, false)
	if !oserr.Is(err, 400) {
		t.Errorf("Decode without a body = %v, want 400", err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = nil
	if err := Decode(r, &v, false); !oserr.Is(err, 400) {
		t.Errorf("Decode with a nil body = %v, want 400", err)
	}
}

// FuzzDecode: whatever the body, Decode never panics and any error is a
// 400 or, past the limit only, a 413 with a message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"x","size":1,"ratio":0.5,"enabled":true,"tags":["a"],"metadata":{"k":"v"},"nested":{"id":"i"},"raw":[1,{"a":null}]}`,
		`{"size":"1"}`, `{"tags":"a"}`, `{"metadata":{"k":1}}`, `{"bogus":{}}`, `null`, `"s"`, `[]`, `1`, ``, ` `,
		`{} {}`, `{}x`, `{}]`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"size":1e400}`, `{"size":-0}`,
		strings.Repeat("[", 10001), `{"raw":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	} {
		f.Add([]byte(s), false, uint16(0))
		f.Add([]byte(s), true, uint16(8))
	}
	f.Fuzz(func(t *testing.T, body []byte, strict bool, limit uint16) {
		max := int64(limit)
		if max == 0 {
			max = MaxBody
		}
		targets := []any{&decodeTarget{}, &map[string]any{}, &json.RawMessage{}}
		v := targets[int(limit)%len(targets)]
		err := Decode(decodeRequest(body, max), v, strict)
		if err == nil {
			// Decode reads to the end of the body, so it sees the limit.
			if int64(len(body)) > max {
				t.Fatalf("a %d-byte body over a %d-byte limit was accepted", len(body), max)
			}
			return
		}
		var e *oserr.Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode error %T %v is not an *oserr.Error", err, err)
		}
		switch {
		case e.Status == 413 && int64(len(body)) <= max:
			t.Fatalf("413 for a %d-byte body under the %d-byte limit: %s", len(body), max, e.Message)
		case e.Status != 400 && e.Status != 413:
			t.Fatalf("Decode status %d (%s), want 400 or 413", e.Status, e.Message)
		case e.Message == "":
			t.Fatal("Decode error without a message")
		}
	})
}
