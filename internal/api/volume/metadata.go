package volume

import (
	"context"
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// metadataOf is one resource's metadata operations: a volume's and a
// snapshot's metadata have the same six routes and bodies in Cinder.
type metadataOf struct {
	kind string // "Volume" or "Snapshot", in messages
	get  func(ctx context.Context, c *auth.Credentials, id string) (map[string]string, error)
	set  func(ctx context.Context, c *auth.Credentials, id string, md map[string]string, replace bool) (map[string]string, error)
	del  func(ctx context.Context, c *auth.Credentials, id, key string) error
}

// routes serves base/{id}/metadata and base/{id}/metadata/{key}.
func (m metadataOf) routes(base string) []rest.Route {
	return []rest.Route{
		rest.R("GET", p(base+"/{id}/metadata"), reader, m.list),
		rest.R("POST", p(base+"/{id}/metadata"), member, func(w http.ResponseWriter, r *http.Request) error { return m.setAll(w, r, false) }),
		rest.R("PUT", p(base+"/{id}/metadata"), member, func(w http.ResponseWriter, r *http.Request) error { return m.setAll(w, r, true) }),
		rest.R("GET", p(base+"/{id}/metadata/{key}"), reader, m.showItem),
		rest.R("PUT", p(base+"/{id}/metadata/{key}"), member, m.setItem),
		rest.R("DELETE", p(base+"/{id}/metadata/{key}"), member, m.deleteItem),
	}
}

func (m metadataOf) list(w http.ResponseWriter, r *http.Request) error {
	md, err := m.get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": md})
	return nil
}

// setAll merges (POST) or replaces (PUT) the metadata.
func (m metadataOf) setAll(w http.ResponseWriter, r *http.Request, replace bool) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	md, err := DecodeMetadata(body)
	if err != nil {
		return err
	}
	out, err := m.set(r.Context(), auth.From(r.Context()), r.PathValue("id"), md, replace)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": out})
	return nil
}

func (m metadataOf) showItem(w http.ResponseWriter, r *http.Request) error {
	id, key := r.PathValue("id"), r.PathValue("key")
	md, err := m.get(r.Context(), auth.From(r.Context()), id)
	if err != nil {
		return err
	}
	val, ok := md[key]
	if !ok {
		return oserr.NotFound("%s %s has no metadata with key %s.", m.kind, id, key)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{key: val}})
	return nil
}

func (m metadataOf) setItem(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	val, err := DecodeMetaItem(body, key)
	if err != nil {
		return err
	}
	if _, err := m.set(r.Context(), auth.From(r.Context()), r.PathValue("id"), map[string]string{key: val}, false); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{key: val}})
	return nil
}

func (m metadataOf) deleteItem(w http.ResponseWriter, r *http.Request) error {
	if err := m.del(r.Context(), auth.From(r.Context()), r.PathValue("id"), r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
