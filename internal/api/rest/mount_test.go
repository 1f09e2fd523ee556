package rest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
)

// TestMount checks routing, 404 and 405 for a table with a literal path
// beside a wildcard sibling (Nova's /servers/detail and /servers/{id}).
func TestMount(t *testing.T) {
	named := func(name string) rest.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) error {
			rest.WriteJSON(w, http.StatusOK, map[string]string{"route": name})
			return nil
		}
	}
	svc := &rest.Service{Prefix: "/svc", Format: oserr.Keystone, Routes: []rest.Route{
		rest.R("GET", "/v1/servers", nil, named("list")),
		rest.R("POST", "/v1/servers", nil, named("create")),
		rest.R("GET", "/v1/servers/detail", nil, named("detail")),
		rest.R("GET", "/v1/servers/{id}", nil, named("show")),
		rest.R("DELETE", "/v1/servers/{id}", nil, named("delete")),
	}}
	mux := http.NewServeMux()
	svc.Mount(mux) // must not panic

	for _, c := range []struct {
		method, path string
		status       int
		route, allow string
	}{
		{"GET", "/svc/v1/servers", 200, "list", ""},
		{"POST", "/svc/v1/servers", 200, "create", ""},
		{"GET", "/svc/v1/servers/detail", 200, "detail", ""},
		{"HEAD", "/svc/v1/servers/detail", 200, "", ""},
		{"GET", "/svc/v1/servers/abc", 200, "show", ""},
		{"DELETE", "/svc/v1/servers/abc", 200, "delete", ""},
		{"PUT", "/svc/v1/servers/abc", 405, "", "GET, DELETE"},
		{"DELETE", "/svc/v1/servers/detail", 405, "", "GET"},
		{"POST", "/svc/v1/servers/detail", 405, "", "GET"},
		{"PATCH", "/svc/v1/servers", 405, "", "GET, POST"},
		{"GET", "/svc/v1/nope", 404, "", ""},
		{"GET", "/svc", 404, "", ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if got := w.Header().Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q, want %q", got, c.allow)
			}
			if c.method == "HEAD" {
				return
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, w.Body)
			}
			switch {
			case c.route != "" && body["route"] != c.route:
				t.Errorf("served by %v, want %s", body["route"], c.route)
			case c.status >= 400:
				e, _ := body["error"].(map[string]any)
				if e == nil || e["code"] != float64(c.status) {
					t.Errorf("error body %s is not Keystone's {\"error\": {\"code\": %d}}", w.Body, c.status)
				}
			}
		})
	}
}
