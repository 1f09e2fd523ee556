package identity

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var pathVar = regexp.MustCompile(`\{[^}]*\}`)

func normPath(p string) string { return pathVar.ReplaceAllString(strings.TrimSuffix(p, "/{$}"), "{}") }

// TestJSONHomeMatchesRoutes: JSON-home advertises exactly what is routed.
func TestJSONHomeMatchesRoutes(t *testing.T) {
	routed := map[string]bool{}
	for _, rt := range (&API{}).routes() {
		routed[normPath(rt.Path)] = true
	}
	advertised := map[string]bool{}
	for _, h := range homeResources {
		p := normPath("/v3" + h.path)
		advertised[p] = true
		if !routed[p] {
			t.Errorf("JSON-home advertises %s (%s), which is not routed", h.path, h.rel)
		}
		vars := pathVar.FindAllString(h.path, -1)
		if len(vars) != len(h.vars) {
			t.Errorf("%s: variables %v, href-vars %v", h.rel, vars, h.vars)
		}
		for _, name := range vars {
			if _, ok := h.vars[strings.Trim(name, "{}")]; !ok {
				t.Errorf("%s: no href-var for %s", h.rel, name)
			}
		}
	}
	// The version documents, and the tag collection Keystone's JSON-home
	// does not list either.
	unlisted := []string{"", "/{$}", "/v3", "/v3/{$}", "/v3/projects/{}/tags"}
	for p := range routed {
		if !advertised[p] && !slices.Contains(unlisted, p) {
			t.Errorf("route %s is missing from JSON-home", p)
		}
	}
}

func TestWantsJSONHome(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                      false,
		"application/json":      false,
		"application/json-home": true,
		"application/json-home;q=0.9, application/json;q=0.5": true,
		"application/json, application/json-home":             false,
		"*/*":                              false,
		"application/json-home;q=0":        false,
		"text/html, application/json-home": true,
	} {
		r := httptest.NewRequest(http.MethodGet, "/identity/v3", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsJSONHome(r); got != want {
			t.Errorf("Accept %q: JSON-home %v, want %v", accept, got, want)
		}
	}
}
