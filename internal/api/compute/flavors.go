package compute

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	pagination "github.com/onestack/onestack/internal/page"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// flavorRoutes declares flavors, their extra specs and access lists.
func (a *API) flavorRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/flavors", reader, a.listFlavors),
		rest.R("GET", "/v2.1/flavors/detail", reader, a.listFlavorsDetail),
		rest.R("POST", "/v2.1/flavors", admin("os_compute_api:os-flavor-manage:create"), a.createFlavor),
		rest.R("GET", "/v2.1/flavors/{id}", reader, a.showFlavor),
		rest.R("PUT", "/v2.1/flavors/{id}", admin("os_compute_api:os-flavor-manage:update"), a.updateFlavor),
		rest.R("DELETE", "/v2.1/flavors/{id}", admin("os_compute_api:os-flavor-manage:delete"), a.deleteFlavor),

		rest.R("GET", "/v2.1/flavors/{id}/os-extra_specs", reader, a.listExtraSpecs),
		rest.R("POST", "/v2.1/flavors/{id}/os-extra_specs", admin("os_compute_api:os-flavor-extra-specs:create"), a.createExtraSpecs),
		rest.R("GET", "/v2.1/flavors/{id}/os-extra_specs/{key}", reader, a.showExtraSpec),
		rest.R("PUT", "/v2.1/flavors/{id}/os-extra_specs/{key}", admin("os_compute_api:os-flavor-extra-specs:update"), a.updateExtraSpec),
		rest.R("DELETE", "/v2.1/flavors/{id}/os-extra_specs/{key}", admin("os_compute_api:os-flavor-extra-specs:delete"), a.deleteExtraSpec),

		rest.R("GET", "/v2.1/flavors/{id}/os-flavor-access", admin("os_compute_api:os-flavor-access"), a.listFlavorAccess),
		rest.R("POST", "/v2.1/flavors/{id}/action", admin("os_compute_api:os-flavor-access:add_tenant_access"), a.flavorAction),
	}
}

// flavorView renders a flavor: brief (id, name, links) or full, at the
// request's microversion.
func (a *API) flavorView(r *http.Request, f store.Flavor, full bool) map[string]any {
	m := map[string]any{"id": f.ID, "name": f.Name, "links": a.links("flavors/" + url.PathEscape(f.ID))}
	if at(r, 55) {
		m["description"] = nullable(f.Description) // 2.55
	}
	if !full {
		return m
	}
	m["ram"], m["vcpus"], m["disk"] = f.RAM, f.VCPUs, f.Disk
	m["OS-FLV-EXT-DATA:ephemeral"] = f.Ephemeral
	m["OS-FLV-DISABLED:disabled"] = f.Disabled
	m["os-flavor-access:is_public"] = f.IsPublic
	m["rxtx_factor"] = f.RxTxFactor
	switch {
	case at(r, 75):
		m["swap"] = f.Swap // 2.75: 0, not "", when there is none
	case f.Swap == 0:
		m["swap"] = ""
	default:
		m["swap"] = f.Swap
	}
	if at(r, 61) {
		specs := f.ExtraSpecs // 2.61
		if specs == nil {
			specs = map[string]string{}
		}
		m["extra_specs"] = specs
	}
	return m
}

var flavorCreateFields = []string{"name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public"}

// decodeFlavorCreate decodes POST /flavors at microversion 2.minor with
// Nova's create schema: types, ranges and additionalProperties: false.
func decodeFlavorCreate(body []byte, minor int) (svc.FlavorCreate, error) {
	allowed := flavorCreateFields
	if minor >= 55 {
		allowed = append(slices.Clone(allowed), "description")
	}
	m, err := wrapped(body, "flavor", allowed, []string{"name", "ram", "vcpus", "disk"})
	if err != nil {
		return svc.FlavorCreate{}, err
	}
	req := svc.FlavorCreate{IsPublic: true, RxTxFactor: 1}
	if req.Name, err = str(m["name"], "name"); err != nil {
		return req, err
	}
	if !svc.PrintableName(req.Name) {
		return req, oserr.BadRequest("Invalid input for field/attribute name: a flavor name is 1 to 255 printable characters and may not start or end with whitespace.")
	}
	if raw, ok := m["id"]; ok && !isNull(raw) {
		if req.ID, err = scalarString(raw, "id"); err != nil {
			return req, err
		}
		if !svc.ValidFlavorID(req.ID) {
			return req, oserr.BadRequest("Invalid input for field/attribute id: %q is not a valid flavor id; use 1 to 255 letters, digits, '.', '_', '-' or inner spaces, or omit it for a generated UUID.", req.ID)
		}
	}
	for _, f := range []struct {
		key string
		dst *int
		min int64
	}{{"ram", &req.RAM, 1}, {"vcpus", &req.VCPUs, 1}, {"disk", &req.Disk, 0},
		{"OS-FLV-EXT-DATA:ephemeral", &req.Ephemeral, 0}, {"swap", &req.Swap, 0}} {
		if raw, ok := m[f.key]; ok {
			if *f.dst, err = integer(raw, f.key, f.min, svc.MaxInt); err != nil {
				return req, err
			}
		}
	}
	if raw, ok := m["rxtx_factor"]; ok {
		if req.RxTxFactor, err = number(raw, "rxtx_factor"); err != nil {
			return req, err
		}
	}
	if raw, ok := m["os-flavor-access:is_public"]; ok {
		if req.IsPublic, err = boolean(raw, "os-flavor-access:is_public"); err != nil {
			return req, err
		}
	}
	if raw, ok := m["description"]; ok {
		if req.Description, err = optStr(raw, "description"); err != nil {
			return req, err
		}
	}
	return req, req.Validate()
}

func (a *API) createFlavor(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := decodeFlavorCreate(body, mv(r).Minor)
	if err != nil {
		return err
	}
	f, err := a.svc.CreateFlavor(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavor": a.flavorView(r, f, true)})
	return nil
}

func (a *API) showFlavor(w http.ResponseWriter, r *http.Request) error {
	f, err := a.svc.Flavor(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavor": a.flavorView(r, f, true)})
	return nil
}

func (a *API) listFlavors(w http.ResponseWriter, r *http.Request) error {
	return a.flavorList(w, r, false)
}

func (a *API) listFlavorsDetail(w http.ResponseWriter, r *http.Request) error {
	return a.flavorList(w, r, true)
}

func (a *API) flavorList(w http.ResponseWriter, r *http.Request, full bool) error {
	if err := onlyQuery(r, 75, "limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir"); err != nil {
		return err
	}
	c := auth.From(r.Context())
	q := r.URL.Query()
	limit, marker, err := page(q)
	if err != nil {
		return err
	}
	l := svc.FlavorList{SortKey: "flavorid", Page: pagination.Request{Limit: limit, Marker: marker}}
	if k := q.Get("sort_key"); k != "" {
		if !slices.Contains(svc.FlavorSortKeys(), k) {
			return oserr.BadRequest("Invalid input for query parameters sort_key: %q is not one of %s.", k, strings.Join(svc.FlavorSortKeys(), ", "))
		}
		l.SortKey = k
	}
	switch d := q.Get("sort_dir"); d {
	case "", "asc":
	case "desc":
		l.Desc = true
	default:
		return oserr.BadRequest("Invalid input for query parameters sort_dir: %q is not one of asc, desc.", d)
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"minRam", &l.MinRAM}, {"minDisk", &l.MinDisk}} {
		if v, ok := q[p.name]; ok {
			n, err := strconv.Atoi(v[0])
			if err != nil {
				return oserr.BadRequest("Invalid %s filter [%s]; give an integer.", p.name, v[0])
			}
			*p.dst = n
		}
	}
	if c.IsAdmin() {
		yes := true
		l.IsPublic = &yes
		if v, ok := q["is_public"]; ok {
			switch s := v[0]; {
			case strings.EqualFold(s, "none"):
				l.IsPublic = nil
			default:
				b, err := strictBool(s)
				if err != nil {
					return oserr.BadRequest("Invalid is_public filter [%s]; use true, false or none.", s)
				}
				l.IsPublic = &b
			}
		}
	}
	fs, err := a.svc.Flavors(r.Context(), c, l)
	if err != nil {
		return err
	}
	items := make([]any, len(fs))
	for i, f := range fs {
		items[i] = a.flavorView(r, f, full)
	}
	body := map[string]any{"flavors": items}
	path := "flavors"
	if full {
		path = "flavors/detail"
	}
	if len(fs) > 0 {
		if links := a.nextLinks(r, path, len(fs), limit, fs[len(fs)-1].ID); links != nil {
			body["flavors_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (a *API) updateFlavor(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 55, "Updating a flavor"); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := wrapped(body, "flavor", []string{"description"}, []string{"description"})
	if err != nil {
		return err
	}
	desc, err := optStr(m["description"], "description")
	if err != nil {
		return err
	}
	f, err := a.svc.UpdateFlavorDescription(r.Context(), auth.From(r.Context()), r.PathValue("id"), desc)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavor": a.flavorView(r, f, true)})
	return nil
}

func (a *API) deleteFlavor(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteFlavor(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// ---- extra specs

func (a *API) listExtraSpecs(w http.ResponseWriter, r *http.Request) error {
	specs, err := a.svc.FlavorExtraSpecs(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	if specs == nil {
		specs = map[string]string{}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"extra_specs": specs})
	return nil
}

func (a *API) createExtraSpecs(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	top, err := object(body, "", []string{"extra_specs"}, []string{"extra_specs"})
	if err != nil {
		return err
	}
	specs, err := stringMap(top["extra_specs"], "extra_specs")
	if err != nil {
		return err
	}
	if _, err := a.svc.SetFlavorExtraSpecs(r.Context(), auth.From(r.Context()), r.PathValue("id"), specs); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"extra_specs": specs})
	return nil
}

func (a *API) showExtraSpec(w http.ResponseWriter, r *http.Request) error {
	id, key := r.PathValue("id"), r.PathValue("key")
	specs, err := a.svc.FlavorExtraSpecs(r.Context(), auth.From(r.Context()), id)
	if err != nil {
		return err
	}
	v, ok := specs[key]
	if !ok {
		return oserr.NotFound("Flavor %s has no extra specs with key %s.", id, key)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]string{key: v})
	return nil
}

func (a *API) updateExtraSpec(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	specs, err := stringMap(body, "")
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if len(specs) != 1 {
		return oserr.BadRequest("Invalid input: the body must set exactly one extra spec, the one named in the URL (%s); it has %d.", key, len(specs))
	}
	if _, ok := specs[key]; !ok {
		return oserr.BadRequest("Request body and URI mismatch: the body must set the extra spec named in the URL (%s).", key)
	}
	if _, err := a.svc.SetFlavorExtraSpecs(r.Context(), auth.From(r.Context()), r.PathValue("id"), specs); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, specs)
	return nil
}

func (a *API) deleteExtraSpec(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteFlavorExtraSpec(r.Context(), auth.From(r.Context()), r.PathValue("id"), r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// ---- access

func flavorAccessBody(id string, projects []string) map[string]any {
	l := make([]any, len(projects))
	for i, p := range projects {
		l[i] = map[string]any{"flavor_id": id, "tenant_id": p}
	}
	return map[string]any{"flavor_access": l}
}

func (a *API) listFlavorAccess(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ps, err := a.svc.FlavorAccess(r.Context(), auth.From(r.Context()), id)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, flavorAccessBody(id, ps))
	return nil
}

func (a *API) flavorAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	top, err := object(body, "", []string{"addTenantAccess", "removeTenantAccess"}, nil)
	if err != nil {
		return err
	}
	if len(top) != 1 {
		return oserr.BadRequest("A flavor action body has exactly one key: addTenantAccess or removeTenantAccess.")
	}
	id, c := r.PathValue("id"), auth.From(r.Context())
	for action, raw := range top {
		m, err := object(raw, action, []string{"tenant"}, []string{"tenant"})
		if err != nil {
			return err
		}
		tenant, err := str(m["tenant"], "tenant")
		if err != nil {
			return err
		}
		var ps []string
		if action == "addTenantAccess" {
			ps, err = a.svc.AddFlavorAccess(r.Context(), c, id, tenant, at(r, 7))
		} else {
			ps, err = a.svc.RemoveFlavorAccess(r.Context(), c, id, tenant)
		}
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, flavorAccessBody(id, ps))
	}
	return nil
}

// strictBool is oslo's bool_from_string(strict=True), which Nova's
// is_public filter uses: 1/t/true/on/y/yes and 0/f/false/off/n/no, any case.
func strictBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}
