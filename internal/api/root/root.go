// Package root serves GET /: the document that lists every API this
// onestack serves, so a person or a script can find them without a token.
package root

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
)

// Entry is one served API.
type Entry struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Path string `json:"path"`
	URL  string `json:"url"`
}

// Service returns the root API listing entries.
func Service(version string, entries []Entry) *rest.Service {
	doc := map[string]any{"name": "onestack", "version": version, "services": entries}
	return &rest.Service{
		Prefix: "",
		Format: oserr.Plain,
		Routes: []rest.Route{rest.R("GET", "/{$}", nil, func(w http.ResponseWriter, _ *http.Request) error {
			rest.WriteJSON(w, http.StatusOK, doc)
			return nil
		})},
	}
}
