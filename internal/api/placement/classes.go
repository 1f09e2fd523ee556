package placement

import (
	"net/http"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
	"github.com/onestack/onestack/internal/store"
)

func classJSON(rc store.ResourceClass) map[string]any {
	return map[string]any{"name": rc.Name, "links": []map[string]string{{"rel": "self", "href": Prefix + "/resource_classes/" + rc.Name}}}
}

func (a *API) listClasses(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	rcs, err := a.svc.ListResourceClasses(r.Context())
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(rcs))
	var modified time.Time
	for _, rc := range rcs {
		items = append(items, classJSON(rc))
		modified = latest(modified, rc.UpdatedAt)
	}
	return reply(w, v, http.StatusOK, map[string]any{"resource_classes": items}, modified)
}

func (a *API) getClass(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	rc, err := a.svc.GetResourceClass(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, classJSON(rc), rc.UpdatedAt)
}

func decodeClassName(b []byte) (string, error) {
	var body struct {
		Name *string `json:"name"`
	}
	if err := decodeStrict(b, &body); err != nil {
		return "", err
	}
	if body.Name == nil {
		return "", oserr.BadRequest("JSON does not validate: 'name' is a required property.")
	}
	return *body.Name, nil
}

func (a *API) createClass(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	name, err := decodeClassName(b)
	if err != nil {
		return err
	}
	if _, err := a.svc.CreateResourceClass(r.Context(), name); err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/resource_classes/"+name)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// putClass renames a custom class (1.2–1.6) or, from 1.7, creates it
// unless it exists (201, or 204 when it existed).
func (a *API) putClass(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	name := r.PathValue("name")
	if v.AtLeast(mv(7)) {
		created, err := a.svc.EnsureResourceClass(r.Context(), name)
		if err != nil {
			return err
		}
		w.Header().Set("Location", a.base+"/resource_classes/"+name)
		if created {
			w.WriteHeader(http.StatusCreated)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		return nil
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	to, err := decodeClassName(b)
	if err != nil {
		return err
	}
	rc, err := a.svc.RenameResourceClass(r.Context(), name, to)
	if err != nil {
		return err
	}
	return reply(w, v, http.StatusOK, classJSON(rc), rc.UpdatedAt)
}

func (a *API) deleteClass(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteResourceClass(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}

// ---- traits

func (a *API) listTraits(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	q := r.URL.Query()
	if err := checkQuery(q, "name", "associated"); err != nil {
		return err
	}
	var f svc.TraitFilter
	if q.Has("name") {
		op, val, ok := strings.Cut(q.Get("name"), ":")
		switch {
		case !ok:
			return oserr.BadRequest("Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"%s\".", q.Get("name"))
		case op == "in":
			f.NameIn = strings.Split(val, ",")
		case op == "startswith":
			f.Prefix = val
		}
	}
	if q.Has("associated") {
		switch strings.ToLower(q.Get("associated")) {
		case "true":
			f.Associated = new(true)
		case "false":
			f.Associated = new(false)
		default:
			return oserr.BadRequest("The query parameter \"associated\" only accepts \"true\" or \"false\".")
		}
	}
	ts, err := a.svc.ListTraits(r.Context(), f)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ts))
	var modified time.Time
	for _, t := range ts {
		names = append(names, t.Name)
		modified = latest(modified, t.CreatedAt)
	}
	return reply(w, v, http.StatusOK, map[string]any{"traits": names}, modified)
}

func (a *API) getTrait(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	t, err := a.svc.GetTrait(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if v.AtLeast(mv(15)) {
		w.Header().Set("Last-Modified", t.CreatedAt.Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "no-cache")
	}
	return noContent(w)
}

func (a *API) putTrait(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	name := r.PathValue("name")
	created, err := a.svc.EnsureTrait(r.Context(), name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/traits/"+name)
	if v.AtLeast(mv(15)) {
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "no-cache")
	}
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

func (a *API) deleteTrait(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteTrait(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}
