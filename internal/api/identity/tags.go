package identity

import (
	"net/http"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Project tags, as Keystone limits them: at most 80 per project, each at
// most 255 characters without '/' or ','.
const maxTags = 80

func checkTag(tag string) error {
	if tag == "" || len(tag) > 255 || strings.ContainsAny(tag, "/,") {
		return oserr.BadRequest("Invalid project tag %q: tags are 1 to 255 characters without '/' or ','.", tag)
	}
	return nil
}

func (a *API) canReadProject(c *auth.Credentials, r *http.Request) error {
	if c.IsAdmin() || c.ProjectID() == r.PathValue("project_id") {
		return nil
	}
	return oserr.Forbidden("You are not authorized to perform the requested action: identity:get_project_tag; only admins and tokens scoped to that project may.")
}

func (a *API) writeTags(w http.ResponseWriter, p store.Project) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"tags": p.Tags})
	return nil
}

func (a *API) listProjectTags(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.GetProject(r.Context(), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	return a.writeTags(w, p)
}

func (a *API) replaceProjectTags(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Tags []string `json:"tags"`
	}
	if err := rest.Decode(r, &b, false); err != nil {
		return err
	}
	if len(b.Tags) > maxTags {
		return oserr.BadRequest("A project has at most %d tags; you sent %d.", maxTags, len(b.Tags))
	}
	for _, t := range b.Tags {
		if err := checkTag(t); err != nil {
			return err
		}
	}
	p, err := a.svc.UpdateProject(r.Context(), r.PathValue("project_id"), func(p *store.Project) error {
		p.Tags = slices.Compact(slices.Sorted(slices.Values(b.Tags)))
		return nil
	})
	if err != nil {
		return err
	}
	return a.writeTags(w, p)
}

func (a *API) deleteProjectTags(w http.ResponseWriter, r *http.Request) error {
	_, err := a.svc.UpdateProject(r.Context(), r.PathValue("project_id"), func(p *store.Project) error {
		p.Tags = []string{}
		return nil
	})
	return done(w, err)
}

func (a *API) checkProjectTag(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.GetProject(r.Context(), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	if !slices.Contains(p.Tags, r.PathValue("tag")) {
		return oserr.NotFound("Project %s has no tag %q.", p.ID, r.PathValue("tag"))
	}
	return done(w, nil)
}

func (a *API) addProjectTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if err := checkTag(tag); err != nil {
		return err
	}
	p, err := a.svc.UpdateProject(r.Context(), r.PathValue("project_id"), func(p *store.Project) error {
		if !slices.Contains(p.Tags, tag) {
			if len(p.Tags) >= maxTags {
				return oserr.BadRequest("Project %s already has %d tags, the most allowed.", p.ID, maxTags)
			}
			p.Tags = append(p.Tags, tag)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/v3/projects/"+p.ID+"/tags/"+tag)
	w.WriteHeader(http.StatusCreated) // Keystone sends no body here
	return nil
}

func (a *API) deleteProjectTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	_, err := a.svc.UpdateProject(r.Context(), r.PathValue("project_id"), func(p *store.Project) error {
		i := slices.Index(p.Tags, tag)
		if i < 0 {
			return oserr.NotFound("Project %s has no tag %q.", p.ID, tag)
		}
		p.Tags = slices.Delete(p.Tags, i, i+1)
		return nil
	})
	return done(w, err)
}
