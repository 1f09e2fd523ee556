package network

// Quotas: /v2.0/quotas, a project's network resource limits and their use.

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/oserr"
)

func (a *API) listQuotas(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.QuotaProjects(r.Context())
	if err != nil {
		return err
	}
	out := []any{}
	for _, p := range ps {
		q, err := a.svc.Quotas(r.Context(), creds(r), p)
		if err != nil {
			return err
		}
		m := map[string]any{"project_id": p, "tenant_id": p}
		for k, v := range q {
			m[k] = v.Limit
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
	return nil
}

func (a *API) showQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Quotas(r.Context(), creds(r), r.PathValue("project"))
	if err != nil {
		return err
	}
	m := map[string]any{}
	for k, v := range q {
		m[k] = v.Limit
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) showDefaultQuota(w http.ResponseWriter, r *http.Request) error {
	m := map[string]any{}
	for k, v := range a.svc.Config().Quotas {
		m[k] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) showQuotaDetails(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Quotas(r.Context(), creds(r), r.PathValue("project"))
	if err != nil {
		return err
	}
	m := map[string]any{}
	for k, v := range q {
		m[k] = map[string]any{"limit": v.Limit, "used": v.Used, "reserved": v.Reserved}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
	return nil
}

func (a *API) updateQuota(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Quota map[string]json.RawMessage `json:"quota"`
	}
	if err := decodeStrict(r, &b); err != nil {
		return err
	}
	if b.Quota == nil {
		return oserr.BadRequest("Resource body required: send {\"quota\": {...}}.")
	}
	limits := map[string]int{}
	for k, raw := range b.Quota {
		if k == "force" || k == "check_limit" {
			continue
		}
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &n) != nil {
				return oserr.BadRequest("Invalid input for %s. Reason: '%s' is not an integer.", k, raw)
			}
		}
		limits[k] = n
	}
	if err := a.svc.SetQuotas(r.Context(), r.PathValue("project"), limits); err != nil {
		return err
	}
	return a.showQuota(w, r)
}

func (a *API) deleteQuota(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.ResetQuotas(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
