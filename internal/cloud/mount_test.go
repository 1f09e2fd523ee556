package cloud_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// TestEveryServiceMounted checks the one-call mount for every service in
// the catalog: its endpoint is in the Keystone catalog and in GET /, its
// root answers its version document (Swift: /info) without a token, and an unknown path
// below it answers a 4xx (404; Swift refuses a path that names no account
// with 400) in its own error format with a request id, never the plain
// text of net/http.
func TestEveryServiceMounted(t *testing.T) {
	e := cloudtest.New(t)
	root := e.Do(t, "GET", "/", "", nil)
	var doc struct {
		Services []struct{ Type, Path, URL string }
	}
	if err := json.Unmarshal(root.Body, &doc); err != nil || root.Status != 200 {
		t.Fatalf("GET /: %d %s", root.Status, root.Body)
	}
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	cat := e.Do(t, "GET", "/identity/v3/auth/catalog", tok, nil).JSON(t)["catalog"].([]any)
	inCatalog := map[string]bool{}
	for _, s := range cat {
		inCatalog[s.(map[string]any)["type"].(string)] = true
	}
	for _, want := range []string{"identity", "image", "placement", "compute", "network", "volumev3", "block-storage"} {
		found := false
		for _, s := range doc.Services {
			found = found || s.Type == want
		}
		if !found || !inCatalog[want] {
			t.Errorf("service type %s: in GET / %v, in the catalog %v", want, found, inCatalog[want])
		}
	}
	for _, s := range doc.Services {
		if !strings.HasPrefix(s.URL, e.URL+s.Path) {
			t.Errorf("%s: URL %s is not under its path %s", s.Type, s.URL, s.Path)
		}
		// Swift has no version document; its discovery is /info.
		discovery := map[string]string{"object-store": "/info"}[s.Type]
		if discovery == "" {
			discovery = "/"
		}
		r := e.Do(t, "GET", s.Path+discovery, "", nil)
		if (r.Status != 200 && r.Status != 300) || !json.Valid(r.Body) {
			t.Errorf("%s: GET %s/: %d %s", s.Type, s.Path, r.Status, r.Body)
		}
		r = e.Do(t, "GET", s.Path+"/no-such-path/here", tok, nil)
		if r.Status < 400 || r.Status >= 500 || string(r.Body) == "404 page not found\n" || r.Header.Get("X-Openstack-Request-Id") == "" {
			t.Errorf("%s: an unknown path: %d %q %s", s.Type, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}
}
