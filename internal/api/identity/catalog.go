package identity

import (
	"net/http"

	svc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// ---- regions

func (a *API) regionJSON(r store.Region) map[string]any {
	return obj(r.Extra, map[string]any{
		"id": r.ID, "description": r.Description, "parent_region_id": nullable(r.ParentRegionID),
		"links": a.link("regions/" + r.ID),
	})
}

func applyRegion(f fields, r *store.Region) error {
	desc, hasDesc, e1 := f.str("description", 255)
	parent, hasParent, e2 := f.str("parent_region_id", 255)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	if hasDesc {
		r.Description = desc
	}
	if _, present := f["parent_region_id"]; present || hasParent {
		r.ParentRegionID = parent
	}
	r.Extra = obj(r.Extra, f.extra("description", "parent_region_id"))
	return nil
}

func (a *API) listRegions(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.svc.ListRegions(r.Context(), r.URL.Query().Get("parent_region_id"))
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, rg := range rs {
		items = append(items, a.regionJSON(rg))
	}
	return a.collection(w, r, "regions", items)
}

// createRegion serves POST /v3/regions and PUT /v3/regions/{id}.
func (a *API) createRegion(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "region")
	if err != nil {
		return err
	}
	id, _, err := f.str("id", 255)
	if err != nil {
		return err
	}
	if p := r.PathValue("region_id"); p != "" {
		id = p
	}
	rg := store.Region{ID: id}
	if err := applyRegion(f, &rg); err != nil {
		return err
	}
	rg, err = a.svc.CreateRegion(r.Context(), rg)
	if err != nil {
		return err
	}
	return created(w, "region", a.regionJSON(rg))
}

func (a *API) getRegion(w http.ResponseWriter, r *http.Request) error {
	rg, err := a.svc.GetRegion(r.Context(), r.PathValue("region_id"))
	if err != nil {
		return err
	}
	return ok(w, "region", a.regionJSON(rg))
}

func (a *API) updateRegion(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "region")
	if err != nil {
		return err
	}
	rg, err := a.svc.UpdateRegion(r.Context(), r.PathValue("region_id"), func(rg *store.Region) error {
		if err := f.immutable("id", rg.ID); err != nil {
			return err
		}
		return applyRegion(f, rg)
	})
	if err != nil {
		return err
	}
	return ok(w, "region", a.regionJSON(rg))
}

func (a *API) deleteRegion(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteRegion(r.Context(), r.PathValue("region_id")))
}

// ---- services

func (a *API) serviceJSON(s store.Service) map[string]any {
	return obj(s.Extra, map[string]any{
		"id": s.ID, "type": s.Type, "name": s.Name, "description": s.Description, "enabled": s.Enabled,
		"links": a.link("services/" + s.ID),
	})
}

func applyService(f fields, s *store.Service) error {
	typ, hasType, e1 := f.str("type", 255)
	name, hasName, e2 := f.str("name", 255)
	desc, hasDesc, e3 := f.str("description", 0)
	en, hasEn, e4 := f.boolean("enabled")
	if err := firstErr(e1, e2, e3, e4); err != nil {
		return err
	}
	if hasType {
		s.Type = typ
	}
	if hasName {
		s.Name = name
	}
	if hasDesc {
		s.Description = desc
	}
	if hasEn {
		s.Enabled = en
	}
	s.Extra = obj(s.Extra, f.extra("type", "name", "description", "enabled"))
	return nil
}

func (a *API) listServices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ss, err := a.svc.ListServices(r.Context(), q.Get("type"), q.Get("name"))
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, s := range ss {
		items = append(items, a.serviceJSON(s))
	}
	return a.collection(w, r, "services", items)
}

func (a *API) createService(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "service")
	if err != nil {
		return err
	}
	s := store.Service{Enabled: true}
	if err := applyService(f, &s); err != nil {
		return err
	}
	s, err = a.svc.CreateService(r.Context(), s)
	if err != nil {
		return err
	}
	return created(w, "service", a.serviceJSON(s))
}

func (a *API) getService(w http.ResponseWriter, r *http.Request) error {
	s, err := a.svc.GetService(r.Context(), r.PathValue("service_id"))
	if err != nil {
		return err
	}
	return ok(w, "service", a.serviceJSON(s))
}

func (a *API) updateService(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "service")
	if err != nil {
		return err
	}
	s, err := a.svc.UpdateService(r.Context(), r.PathValue("service_id"), func(s *store.Service) error {
		if err := f.immutable("id", s.ID); err != nil {
			return err
		}
		return applyService(f, s)
	})
	if err != nil {
		return err
	}
	return ok(w, "service", a.serviceJSON(s))
}

func (a *API) deleteService(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteService(r.Context(), r.PathValue("service_id")))
}

// ---- endpoints

func (a *API) endpointJSON(e store.Endpoint) map[string]any {
	return obj(e.Extra, map[string]any{
		"id": e.ID, "interface": e.Interface, "region": nullable(e.RegionID), "region_id": nullable(e.RegionID),
		"service_id": e.ServiceID, "url": e.URL, "enabled": e.Enabled, "links": a.link("endpoints/" + e.ID),
	})
}

func applyEndpoint(f fields, e *store.Endpoint) error {
	iface, hasIface, e1 := f.str("interface", 0)
	url, hasURL, e2 := f.str("url", 0)
	svcID, hasSvc, e3 := f.str("service_id", 64)
	region, hasRegion, e4 := f.str("region_id", 255)
	legacyRegion, hasLegacy, e5 := f.str("region", 255)
	en, hasEn, e6 := f.boolean("enabled")
	if err := firstErr(e1, e2, e3, e4, e5, e6); err != nil {
		return err
	}
	if hasIface {
		e.Interface = iface
	}
	if hasURL {
		e.URL = url
	}
	if hasSvc {
		e.ServiceID = svcID
	}
	if hasLegacy && !hasRegion {
		region, hasRegion = legacyRegion, true
	}
	if hasRegion {
		e.RegionID = region
	}
	if hasEn {
		e.Enabled = en
	}
	e.Extra = obj(e.Extra, f.extra("interface", "url", "service_id", "region_id", "region", "enabled"))
	return nil
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	es, err := a.svc.ListEndpoints(r.Context(), svc.EndpointFilter{ServiceID: q.Get("service_id"), Interface: q.Get("interface"), RegionID: q.Get("region_id")})
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, e := range es {
		items = append(items, a.endpointJSON(e))
	}
	return a.collection(w, r, "endpoints", items)
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "endpoint")
	if err != nil {
		return err
	}
	e := store.Endpoint{Enabled: true}
	if err := applyEndpoint(f, &e); err != nil {
		return err
	}
	e, err = a.svc.CreateEndpoint(r.Context(), e)
	if err != nil {
		return err
	}
	return created(w, "endpoint", a.endpointJSON(e))
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	e, err := a.svc.GetEndpoint(r.Context(), r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	return ok(w, "endpoint", a.endpointJSON(e))
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	f, err := body(r, "endpoint")
	if err != nil {
		return err
	}
	e, err := a.svc.UpdateEndpoint(r.Context(), r.PathValue("endpoint_id"), func(e *store.Endpoint) error {
		if err := f.immutable("id", e.ID); err != nil {
			return err
		}
		return applyEndpoint(f, e)
	})
	if err != nil {
		return err
	}
	return ok(w, "endpoint", a.endpointJSON(e))
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	return done(w, a.svc.DeleteEndpoint(r.Context(), r.PathValue("endpoint_id")))
}
