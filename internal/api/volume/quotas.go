package volume

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

func (a *API) quotaRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", p("/os-quota-sets/{target}"), reader, a.showQuotas),
		rest.R("GET", p("/os-quota-sets/{target}/defaults"), reader, a.quotaDefaults),
		rest.R("PUT", p("/os-quota-sets/{target}"), admin("volume_extension:quotas:update"), a.updateQuotas),
		rest.R("DELETE", p("/os-quota-sets/{target}"), admin("volume_extension:quotas:delete"), a.deleteQuotas),
		rest.R("GET", p("/os-quota-class-sets/{class}"), reader, a.showQuotaClass),
		rest.R("PUT", p("/os-quota-class-sets/{class}"), admin("volume_extension:quota_classes:update"), a.updateQuotaClass),
	}
}

func quotaBody(id string, q svc.Quotas) map[string]any {
	m := map[string]any{"id": id}
	for k, v := range q {
		m[k] = v
	}
	return m
}

func (a *API) showQuotas(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	target := r.PathValue("target")
	if target != c.ProjectID() && !c.IsAdmin() {
		return oserr.Forbidden("Policy doesn't allow volume_extension:quotas:show for project %s; you may read only your own project's quotas.", target)
	}
	usage := false
	if v := r.URL.Query().Get("usage"); v != "" {
		b, ok := parseBool(v)
		if !ok {
			return oserr.BadRequest("Invalid input received: usage must be true or false, not %q.", v)
		}
		usage = b
	}
	if !usage {
		q, err := a.svc.Limits(r.Context(), target)
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_set": quotaBody(target, q)})
		return nil
	}
	u, err := a.svc.Usage(r.Context(), target)
	if err != nil {
		return err
	}
	m := map[string]any{"id": target}
	for k, x := range u {
		m[k] = map[string]any{"limit": x.Limit, "in_use": x.InUse, "reserved": x.Reserved, "allocated": x.Allocated}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_set": m})
	return nil
}

func (a *API) quotaDefaults(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Defaults(r.Context())
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_set": quotaBody(r.PathValue("target"), q)})
	return nil
}

// DecodeQuotaSet reads {"<key>": {"volumes": 10, ...}}.
func DecodeQuotaSet(body []byte, key string) (svc.Quotas, error) {
	f, err := object(body, key)
	if err != nil {
		return nil, err
	}
	q := svc.Quotas{}
	for k := range f {
		if k == "id" || k == "tenant_id" {
			continue
		}
		v, ok, err := f.integer(k)
		if err != nil {
			return nil, oserr.BadRequest("Invalid input received: Quota limit for %s must be an integer, not %s.", k, short(f[k]))
		}
		if ok {
			q[k] = v
		}
	}
	if len(q) == 0 {
		return nil, oserr.BadRequest("Invalid input received: give at least one quota limit, e.g. {\"%s\": {\"volumes\": 20}}.", key)
	}
	return q, nil
}

func (a *API) updateQuotas(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	set, err := DecodeQuotaSet(body, "quota_set")
	if err != nil {
		return err
	}
	target := r.PathValue("target")
	q, err := a.svc.SetQuotas(r.Context(), target, set)
	if err != nil {
		return err
	}
	out := quotaBody(target, q)
	delete(out, "id")
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_set": out})
	return nil
}

func (a *API) deleteQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.ResetQuotas(r.Context(), r.PathValue("target")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) showQuotaClass(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("class") != "default" {
		return oserr.NotFound("Quota class %s could not be found; onestack has the default class only.", r.PathValue("class"))
	}
	q, err := a.svc.Defaults(r.Context())
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_class_set": quotaBody("default", q)})
	return nil
}

func (a *API) updateQuotaClass(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("class") != "default" {
		return oserr.NotFound("Quota class %s could not be found; onestack has the default class only.", r.PathValue("class"))
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	set, err := DecodeQuotaSet(body, "quota_class_set")
	if err != nil {
		return err
	}
	q, err := a.svc.SetQuotas(r.Context(), "", set)
	if err != nil {
		return err
	}
	out := quotaBody("default", q)
	delete(out, "id")
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_class_set": out})
	return nil
}
