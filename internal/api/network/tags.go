package network

// Tags: /v2.0/{kind}/{id}/tags on networks, subnets, ports, routers,
// floating IPs, security groups and subnet pools.

import (
	"net/http"
	"slices"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
)

func (a *API) tags(r *http.Request, write bool, fn func([]string) ([]string, error)) ([]string, error) {
	kind := r.PathValue("kind")
	if !svc.ValidTagKind(kind) {
		return nil, oserr.NotFound("The resource could not be found: no network API path %s.", r.URL.Path)
	}
	return a.svc.Tags(r.Context(), creds(r), kind, r.PathValue("id"), write, fn)
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	tags, err := a.tags(r, false, func(t []string) ([]string, error) { return t, nil })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": orEmpty(tags)})
	return nil
}

func (a *API) replaceTags(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Tags []string `json:"tags"`
	}
	if err := decodeStrict(r, &b); err != nil {
		return err
	}
	if b.Tags == nil {
		return oserr.BadRequest("Invalid input for tags: send {\"tags\": [...]}.")
	}
	tags, err := a.tags(r, true, func([]string) ([]string, error) {
		out := []string{}
		for _, t := range b.Tags {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": orEmpty(tags)})
	return nil
}

func (a *API) deleteTags(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.tags(r, true, func([]string) ([]string, error) { return []string{}, nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) checkTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, false, func(t []string) ([]string, error) {
		if !slices.Contains(t, tag) {
			return nil, oserr.NotFound("Tag %s could not be found.", tag).WithType("TagNotFound")
		}
		return t, nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, true, func(t []string) ([]string, error) {
		if slices.Contains(t, tag) {
			return t, nil
		}
		return append(t, tag), nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.tags(r, true, func(t []string) ([]string, error) {
		if !slices.Contains(t, tag) {
			return nil, oserr.NotFound("Tag %s could not be found.", tag).WithType("TagNotFound")
		}
		return slices.DeleteFunc(t, func(x string) bool { return x == tag }), nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
