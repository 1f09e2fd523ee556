package volume

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

func (a *API) typeRoutes() []rest.Route {
	manage := admin("volume_extension:types_manage")
	specs := admin("volume_extension:types_extra_specs")
	return []rest.Route{
		rest.R("GET", p("/types"), reader, a.listTypes),
		rest.R("POST", p("/types"), manage, a.createType),
		rest.R("GET", p("/types/default"), reader, a.defaultType),
		rest.R("GET", p("/types/{id}"), reader, a.showType),
		rest.R("PUT", p("/types/{id}"), manage, a.updateType),
		rest.R("DELETE", p("/types/{id}"), manage, a.deleteType),
		rest.R("GET", p("/types/{id}/extra_specs"), reader, a.listExtraSpecs),
		rest.R("POST", p("/types/{id}/extra_specs"), specs, a.createExtraSpecs),
		rest.R("GET", p("/types/{id}/extra_specs/{key}"), reader, a.showExtraSpec),
		rest.R("PUT", p("/types/{id}/extra_specs/{key}"), specs, a.updateExtraSpec),
		rest.R("DELETE", p("/types/{id}/extra_specs/{key}"), specs, a.deleteExtraSpec),
		rest.R("GET", p("/types/{id}/os-volume-type-access"), admin("volume_extension:volume_type_access"), a.typeAccess),
		rest.R("POST", p("/types/{id}/action"), admin("volume_extension:volume_type_access:addProjectAccess"), a.typeAction),
	}
}

// typeView is Cinder's volume type; show and list add qos_specs_id.
func (a *API) typeView(r *http.Request, t svc.Type, show bool) map[string]any {
	c := auth.From(r.Context())
	m := map[string]any{"id": t.ID, "name": t.Name, "description": nullable(t.Description), "is_public": t.IsPublic,
		"os-volume-type-access:is_public": t.IsPublic}
	if show {
		m["qos_specs_id"] = nil
	}
	// Cinder shows extra_specs to admins (and to users only a few keys).
	if c.IsAdmin() {
		m["extra_specs"] = t.ExtraSpecs
	} else {
		m["extra_specs"] = map[string]string{}
	}
	return m
}

func (a *API) listTypes(w http.ResponseWriter, r *http.Request) error {
	var pub *bool
	if v := r.URL.Query().Get("is_public"); v != "" && v != "None" {
		b, ok := parseBool(v)
		if !ok {
			return oserr.BadRequest("Invalid is_public filter [%s]; use true, false or None.", v)
		}
		pub = &b
	}
	ts, err := a.svc.ListTypes(r.Context(), auth.From(r.Context()), pub)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, a.typeView(r, t, true))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_types": out})
	return nil
}

// DecodeTypeSpec reads a volume type create or update.
func DecodeTypeSpec(body []byte) (svc.TypeSpec, error) {
	f, err := object(body, "volume_type")
	if err != nil {
		return svc.TypeSpec{}, err
	}
	var s svc.TypeSpec
	if name, ok, err := f.str("name", 255); err != nil {
		return s, err
	} else if ok {
		s.Name = &name
	}
	if d, ok, err := f.str("description", 255); err != nil {
		return s, err
	} else if ok {
		s.Description = &d
	}
	for _, k := range []string{"os-volume-type-access:is_public", "is_public"} {
		if b, ok, err := f.boolean(k); err != nil {
			return s, oserr.BadRequest("Invalid value '%s' for %s: use true or false.", short(f[k]), k)
		} else if ok {
			s.IsPublic = &b
		}
	}
	if m, _, err := f.strMap("extra_specs"); err != nil {
		return s, err
	} else {
		s.ExtraSpecs = m
	}
	return s, nil
}

func (a *API) createType(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	spec, err := DecodeTypeSpec(body)
	if err != nil {
		return err
	}
	t, err := a.svc.CreateType(r.Context(), spec)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_type": a.typeView(r, t, false)})
	return nil
}

func (a *API) defaultType(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.DefaultType(r.Context(), auth.From(r.Context()))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_type": a.typeView(r, t, true)})
	return nil
}

func (a *API) showType(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.GetType(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_type": a.typeView(r, t, true)})
	return nil
}

func (a *API) updateType(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	spec, err := DecodeTypeSpec(body)
	if err != nil {
		return err
	}
	if spec.Name == nil && spec.Description == nil && spec.IsPublic == nil {
		return oserr.BadRequest("Specify volume type name, description, is_public or a combination thereof.")
	}
	t, err := a.svc.UpdateType(r.Context(), r.PathValue("id"), spec, nil)
	if err != nil {
		return err
	}
	view := a.typeView(r, t, false)
	delete(view, "os-volume-type-access:is_public") // not in Cinder's update answer
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_type": view})
	return nil
}

func (a *API) deleteType(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteType(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) listExtraSpecs(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.GetType(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"extra_specs": a.typeView(r, t, true)["extra_specs"]})
	return nil
}

func (a *API) createExtraSpecs(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := object(body, "extra_specs")
	if err != nil {
		return err
	}
	raw, _ := jsonOf(f)
	specs, err := stringMap("extra_specs", raw)
	if err != nil {
		return err
	}
	t, err := a.svc.UpdateType(r.Context(), r.PathValue("id"), svc.TypeSpec{}, func(m map[string]string) error {
		for k, v := range specs {
			m[k] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	_ = t
	rest.WriteJSON(w, http.StatusOK, map[string]any{"extra_specs": specs})
	return nil
}

func (a *API) showExtraSpec(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.GetType(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	v, ok := t.ExtraSpecs[key]
	if !ok || !auth.From(r.Context()).IsAdmin() {
		return oserr.NotFound("Volume Type %s has no extra specs with key %s.", t.ID, key)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: v})
	return nil
}

func (a *API) updateExtraSpec(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	var m map[string]any
	if err := decodeJSON(body, &m); err != nil {
		return err
	}
	raw, _ := jsonOf(m)
	specs, err := stringMap("extra_specs", raw)
	if err != nil {
		return err
	}
	v, ok := specs[key]
	if !ok || len(specs) != 1 {
		return oserr.BadRequest("Request body and URI mismatch: send {\"%s\": \"value\"}.", key)
	}
	if _, err := a.svc.UpdateType(r.Context(), r.PathValue("id"), svc.TypeSpec{}, func(m map[string]string) error {
		m[key] = v
		return nil
	}); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: v})
	return nil
}

func (a *API) deleteExtraSpec(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	id := r.PathValue("id")
	if _, err := a.svc.UpdateType(r.Context(), id, svc.TypeSpec{}, func(m map[string]string) error {
		if _, ok := m[key]; !ok {
			return oserr.NotFound("Volume Type %s has no extra specs with key %s.", id, key)
		}
		delete(m, key)
		return nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) typeAccess(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ps, err := a.svc.TypeAccess(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, map[string]any{"volume_type_id": id, "project_id": p})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume_type_access": out})
	return nil
}

func (a *API) typeAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	act, err := DecodeAction(body)
	if err != nil {
		return err
	}
	var add bool
	switch act.Name {
	case "addProjectAccess":
		add = true
	case "removeProjectAccess":
	default:
		return oserr.BadRequest("There is no such action: %s", act.Name)
	}
	proj, _, err := act.fields.str("project", 64)
	if err != nil {
		return err
	}
	if err := a.svc.SetTypeAccess(r.Context(), r.PathValue("id"), proj, add); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
