package compute

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// quotaRoutes declares os-quota-sets and limits.
func (a *API) quotaRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-quota-sets/{project_id}", reader, a.showQuotas),
		rest.R("PUT", "/v2.1/os-quota-sets/{project_id}", admin("os_compute_api:os-quota-sets:update"), a.updateQuotas),
		rest.R("DELETE", "/v2.1/os-quota-sets/{project_id}", admin("os_compute_api:os-quota-sets:delete"), a.deleteQuotas),
		rest.R("GET", "/v2.1/os-quota-sets/{project_id}/defaults", reader, a.defaultQuotas),
		rest.R("GET", "/v2.1/os-quota-sets/{project_id}/detail", reader, a.detailQuotas),
		rest.R("GET", "/v2.1/limits", reader, a.limits),
		rest.R("GET", "/v2.1/os-quota-class-sets/{class}", admin("os_compute_api:os-quota-class-sets:show"), a.showQuotaClass),
		rest.R("PUT", "/v2.1/os-quota-class-sets/{class}", admin("os_compute_api:os-quota-class-sets:update"), a.updateQuotaClass),
	}
}

// classResources are the resources os-quota-class-sets shows at the
// request's microversion, and which of them are legacy (not enforced):
// network quotas until 2.50 (when server groups appear), personality
// quotas until 2.57.
func classResources(r *http.Request) (names []string, legacy map[string]bool) {
	legacy = map[string]bool{}
	for _, k := range svc.QuotaResources() {
		if (k == "server_groups" || k == "server_group_members") && !at(r, 50) {
			continue
		}
		names = append(names, k)
	}
	if !at(r, 50) {
		for k := range networkQuotas {
			names, legacy[k] = append(names, k), true
		}
	}
	if !at(r, 57) {
		for k := range injectedQuotas {
			names, legacy[k] = append(names, k), true
		}
	}
	return names, legacy
}

func classSet(r *http.Request, id string, q svc.Quotas) map[string]any {
	names, _ := classResources(r)
	m := map[string]any{}
	if id != "" {
		m["id"] = id
	}
	for _, k := range names {
		v, ok := q[k]
		if !ok {
			if v, ok = networkQuotas[k]; !ok {
				v = injectedQuotas[k]
			}
		}
		m[k] = v
	}
	return map[string]any{"quota_class_set": m}
}

func (a *API) showQuotaClass(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.QuotaClass(r.Context(), auth.From(r.Context()), r.PathValue("class"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, classSet(r, r.PathValue("class"), q))
	return nil
}

func (a *API) updateQuotaClass(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	names, legacy := classResources(r)
	m, err := wrapped(body, "quota_class_set", names, nil)
	if err != nil {
		return err
	}
	limits := map[string]int64{}
	for k, raw := range m {
		if isNull(raw) {
			continue
		}
		v, err := signedInt(raw, k, -1, svc.MaxInt)
		if err != nil {
			return err
		}
		limits[k] = v
	}
	q, err := a.svc.UpdateQuotaClass(r.Context(), auth.From(r.Context()), r.PathValue("class"), limits, legacy)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, classSet(r, "", q))
	return nil
}

// Quotas Nova still shows for features this cloud does not meter through
// compute: network ones until 2.36, personality files until 2.57. They
// show Nova's defaults and updates to them are accepted and ignored.
var (
	networkQuotas  = map[string]int64{"fixed_ips": -1, "floating_ips": 10, "security_group_rules": 20, "security_groups": 10}
	injectedQuotas = map[string]int64{"injected_file_content_bytes": 10240, "injected_file_path_bytes": 255, "injected_files": 5}
)

// legacyQuotas are the deprecated quotas shown at the request's microversion.
func legacyQuotas(r *http.Request) map[string]int64 {
	out := map[string]int64{}
	if !at(r, 36) {
		for k, v := range networkQuotas {
			out[k] = v
		}
	}
	if !at(r, 57) {
		for k, v := range injectedQuotas {
			out[k] = v
		}
	}
	return out
}

// quotaSet renders limits (with the legacy ones of the microversion); id
// is included when not "".
func quotaSet(r *http.Request, id string, q svc.Quotas) map[string]any {
	m := map[string]any{}
	if id != "" {
		m["id"] = id
	}
	for _, k := range svc.QuotaResources() {
		if v, ok := q[k]; ok {
			m[k] = v
		}
	}
	for k, v := range legacyQuotas(r) {
		m[k] = v
	}
	return map[string]any{"quota_set": m}
}

func (a *API) showQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	id := r.PathValue("project_id")
	var q svc.Quotas
	var err error
	if user := r.URL.Query().Get("user_id"); user != "" {
		q, err = a.svc.UserQuotas(r.Context(), auth.From(r.Context()), id, user)
	} else {
		q, err = a.svc.ProjectQuotas(r.Context(), auth.From(r.Context()), id)
	}
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, quotaSet(r, id, q))
	return nil
}

func (a *API) defaultQuotas(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.DefaultLimits(r.Context())
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, quotaSet(r, r.PathValue("project_id"), q))
	return nil
}

func (a *API) detailQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	id := r.PathValue("project_id")
	var q svc.Quotas
	var used map[string]int64
	var err error
	if user := r.URL.Query().Get("user_id"); user != "" {
		q, used, err = a.svc.UserQuotaUsage(r.Context(), auth.From(r.Context()), id, user)
	} else {
		q, used, err = a.svc.ProjectQuotaUsage(r.Context(), auth.From(r.Context()), id, "")
	}
	if err != nil {
		return err
	}
	m := map[string]any{"id": id}
	for _, k := range svc.QuotaResources() {
		if v, ok := q[k]; ok {
			m[k] = map[string]any{"limit": v, "in_use": used[k], "reserved": 0}
		}
	}
	for k, v := range legacyQuotas(r) {
		m[k] = map[string]any{"limit": v, "in_use": 0, "reserved": 0}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota_set": m})
	return nil
}

// decodeQuotaUpdate decodes PUT /os-quota-sets at microversion 2.minor:
// the limits to set, whether to force them below usage, and nothing for
// the legacy quotas, which are accepted and ignored.
func decodeQuotaUpdate(body []byte, minor int) (map[string]int64, bool, error) {
	allowed := append(svc.QuotaResources(), "force")
	legacy := map[string]bool{}
	if minor < 36 {
		for k := range networkQuotas {
			allowed, legacy[k] = append(allowed, k), true
		}
	}
	if minor < 57 {
		for k := range injectedQuotas {
			allowed, legacy[k] = append(allowed, k), true
		}
	}
	m, err := wrapped(body, "quota_set", allowed, nil)
	if err != nil {
		return nil, false, err
	}
	force := false
	limits := map[string]int64{}
	for k, raw := range m {
		switch {
		case k == "force":
			if force, err = boolean(raw, "force"); err != nil {
				return nil, false, err
			}
		case isNull(raw):
			// Nova skips null values.
		default:
			v, err := signedInt(raw, k, -1, svc.MaxInt)
			if err != nil {
				return nil, false, err
			}
			if !legacy[k] {
				limits[k] = v
			}
		}
	}
	return limits, force, nil
}

func (a *API) updateQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	limits, force, err := decodeQuotaUpdate(body, mv(r).Minor)
	if err != nil {
		return err
	}
	id := r.PathValue("project_id")
	var q svc.Quotas
	if user := r.URL.Query().Get("user_id"); user != "" {
		q, err = a.svc.UpdateUserQuotas(r.Context(), auth.From(r.Context()), id, user, limits, force)
	} else {
		q, err = a.svc.UpdateQuotas(r.Context(), auth.From(r.Context()), id, limits, force)
	}
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, quotaSet(r, "", q))
	return nil
}

func (a *API) deleteQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	var err error
	if user := r.URL.Query().Get("user_id"); user != "" {
		err = a.svc.DeleteUserQuotas(r.Context(), auth.From(r.Context()), r.PathValue("project_id"), user)
	} else {
		err = a.svc.DeleteQuotas(r.Context(), auth.From(r.Context()), r.PathValue("project_id"))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// limits serves GET /limits: the absolute limits and usage of the
// caller's project (or, for admins, tenant_id's); rate limits are empty.
func (a *API) limits(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "tenant_id"); err != nil {
		return err
	}
	q, used, err := a.svc.AbsoluteLimits(r.Context(), auth.From(r.Context()), r.URL.Query().Get("tenant_id"))
	if err != nil {
		return err
	}
	abs := map[string]any{
		"maxTotalInstances": q["instances"], "maxTotalCores": q["cores"], "maxTotalRAMSize": q["ram"],
		"maxTotalKeypairs": q["key_pairs"], "maxServerMeta": q["metadata_items"],
		"maxServerGroups": q["server_groups"], "maxServerGroupMembers": q["server_group_members"],
		"totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"], "totalRAMUsed": used["ram"],
		"totalServerGroupsUsed": used["server_groups"],
	}
	if !at(r, 39) {
		abs["maxImageMeta"] = q["metadata_items"] // removed at 2.39 (image proxy)
	}
	if !at(r, 36) {
		abs["maxSecurityGroups"], abs["maxSecurityGroupRules"] = networkQuotas["security_groups"], networkQuotas["security_group_rules"]
		abs["maxTotalFloatingIps"] = networkQuotas["floating_ips"]
		abs["totalFloatingIpsUsed"], abs["totalSecurityGroupsUsed"] = 0, 0 // removed at 2.36 (network proxy)
	}
	if !at(r, 57) {
		abs["maxPersonality"], abs["maxPersonalitySize"] = injectedQuotas["injected_files"], injectedQuotas["injected_file_content_bytes"] // removed at 2.57
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": abs}})
	return nil
}
