package rest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	"github.com/onestack/onestack/internal/store"
)

// TestUntranslatedStoreErrors checks the fallback for a store error that a
// service returned as it was: a missing row answers 404 and a clash 409
// (never a 500), in the body of the service that answers, and the request
// is logged at warn level under its request id as the bug it is. An error
// the service did translate keeps its own status and message.
func TestUntranslatedStoreErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
		warn   bool
	}{
		{"wrapped not found", fmt.Errorf("read port abc: %w", store.ErrNotFound), 404, true},
		{"bare not found", store.ErrNotFound, 404, true},
		{"unique violation", fmt.Errorf("%w: UNIQUE constraint failed: flavors.name", store.ErrConflict), 409, true},
		{"stale generation", fmt.Errorf("set inventory: %w", store.ErrGeneration), 409, true},
		{"translated", oserr.NotFound("Port abc could not be found.").WithCause(store.ErrNotFound), 404, false},
		{"other error", errors.New("disk on fire"), 500, false},
	} {
		for _, f := range []struct {
			name   string
			format oserr.Format
			// key and status read the body's error object and status.
			key    string
			status func(obj map[string]any) any
		}{
			{"nova", oserr.Nova, map[int]string{404: "itemNotFound", 409: "conflictingRequest", 500: "computeFault"}[c.status],
				func(o map[string]any) any { return o["code"] }},
			{"neutron", oserr.Neutron, "NeutronError",
				func(o map[string]any) any { return o["type"] }},
			{"keystone", oserr.Keystone, "error",
				func(o map[string]any) any { return o["code"] }},
		} {
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				var logs bytes.Buffer
				svc := &rest.Service{Prefix: "/svc", Format: f.format,
					Log:    slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
					Routes: []rest.Route{rest.R("GET", "/thing", nil, func(http.ResponseWriter, *http.Request) error { return c.err })}}
				mux := http.NewServeMux()
				svc.Mount(mux)
				w := httptest.NewRecorder()
				r := httptest.NewRequest("GET", "/svc/thing", nil)
				r.Header.Set("X-OpenStack-Request-Id", "req-3b3a1f4e-8a1d-4d6e-9a51-6f2c0d7e9b11")
				reqid.Middleware(mux).ServeHTTP(w, r)

				if w.Code != c.status {
					t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
				}
				var body map[string]map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %s is not a JSON object of objects: %v", w.Body, err)
				}
				obj := body[f.key]
				if obj == nil || len(body) != 1 {
					t.Fatalf("body %s: want one %q object (%s's format)", w.Body, f.key, f.name)
				}
				want := map[string]any{"nova": float64(c.status), "keystone": float64(c.status),
					"neutron": map[int]string{404: "HTTPNotFound", 409: "HTTPConflict", 500: "HTTPInternalServerError"}[c.status]}[f.name]
				if diff := cmp.Diff(want, f.status(obj)); diff != "" {
					t.Errorf("status field of %s (-want +got):\n%s", w.Body, diff)
				}
				msg, _ := obj["message"].(string)
				if strings.Contains(msg, "constraint") || strings.Contains(msg, "not found:") || msg == "" {
					t.Errorf("message %q: want a message for the client, not the store's text", msg)
				}

				warned := false
				for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
					var rec map[string]any
					if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "WARN" {
						warned = true
						if rec["request_id"] != "req-3b3a1f4e-8a1d-4d6e-9a51-6f2c0d7e9b11" {
							t.Errorf("warning %s lacks the request id", line)
						}
						if !strings.Contains(fmt.Sprint(rec["error"]), c.err.Error()) {
							t.Errorf("warning %s lacks the cause %q", line, c.err)
						}
					}
				}
				if warned != c.warn {
					t.Errorf("logged a warning: %v, want %v; log:\n%s", warned, c.warn, logs.String())
				}
			})
		}
	}
}
