package identity

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// CatalogService is one service in a token's catalog.
type CatalogService struct {
	ID, Type, Name string
	Endpoints      []CatalogEndpoint
}

// CatalogEndpoint is one endpoint of a catalog service.
type CatalogEndpoint struct {
	ID, Interface, RegionID, URL string
}

// Catalog returns the enabled services with their enabled endpoints. It is
// cached with the rest of the identity data.
func (s *Service) Catalog(ctx context.Context) ([]CatalogService, error) {
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	cat := s.catalog
	gen := s.gen
	s.mu.RUnlock()
	if cat != nil {
		return cat, nil
	}
	cat = []CatalogService{}
	err := s.read(ctx, func(tx *store.Tx) error {
		svcs, err := tx.ListServices(ctx, "", "")
		if err != nil {
			return err
		}
		eps, err := tx.ListEndpoints(ctx, store.EndpointFilter{})
		if err != nil {
			return err
		}
		for _, sv := range svcs {
			if !sv.Enabled {
				continue
			}
			cs := CatalogService{ID: sv.ID, Type: sv.Type, Name: sv.Name, Endpoints: []CatalogEndpoint{}}
			for _, e := range eps {
				if e.ServiceID == sv.ID && e.Enabled {
					cs.Endpoints = append(cs.Endpoints, CatalogEndpoint{ID: e.ID, Interface: e.Interface, RegionID: e.RegionID, URL: e.URL})
				}
			}
			cat = append(cat, cs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen { // else the store changed while reading: cat may be stale
		s.catalog = cat
	}
	s.mu.Unlock()
	return cat, nil
}

// ---- regions

// CreateRegion creates a region; an empty id gets a generated one.
func (s *Service) CreateRegion(ctx context.Context, r store.Region) (store.Region, error) {
	if r.ID == "" {
		r.ID = newID()
	}
	if len(r.ID) > 255 {
		return r, oserr.BadRequest("Region id is longer than 255 characters; choose a shorter one.")
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		if err := s.checkParentRegion(ctx, tx, r.ID, r.ParentRegionID); err != nil {
			return err
		}
		return conflict(tx.CreateRegion(ctx, r), "region %s: a region with this id exists", r.ID)
	})
	return r, err
}

func (s *Service) checkParentRegion(ctx context.Context, tx *store.Tx, id, parent string) error {
	for depth := 0; parent != "" && depth < 32; depth++ {
		if parent == id {
			return oserr.BadRequest("Region %s cannot be its own ancestor; choose another parent_region_id.", id)
		}
		p, err := tx.GetRegion(ctx, parent)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.BadRequest("Parent region %s does not exist; create it first or drop parent_region_id.", parent)
		}
		if err != nil {
			return err
		}
		parent = p.ParentRegionID
	}
	return nil
}

// GetRegion reads a region.
func (s *Service) GetRegion(ctx context.Context, id string) (r store.Region, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		r, err = tx.GetRegion(ctx, id)
		return notFound(err, "region", id)
	})
	return r, err
}

// ListRegions lists regions.
func (s *Service) ListRegions(ctx context.Context, parentID string) (rs []store.Region, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		rs, err = tx.ListRegions(ctx, parentID)
		return err
	})
	return rs, err
}

// UpdateRegion applies fn to a region and saves it.
func (s *Service) UpdateRegion(ctx context.Context, id string, fn func(*store.Region) error) (r store.Region, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if r, err = tx.GetRegion(ctx, id); err != nil {
			return notFound(err, "region", id)
		}
		if err := fn(&r); err != nil {
			return err
		}
		if err := s.checkParentRegion(ctx, tx, r.ID, r.ParentRegionID); err != nil {
			return err
		}
		return tx.UpdateRegion(ctx, r)
	})
	return r, err
}

// DeleteRegion deletes a region that has no children and no endpoints.
func (s *Service) DeleteRegion(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetRegion(ctx, id); err != nil {
			return notFound(err, "region", id)
		}
		kids, err := tx.ListRegions(ctx, id)
		if err != nil {
			return err
		}
		eps, err := tx.ListEndpoints(ctx, store.EndpointFilter{RegionID: id})
		if err != nil {
			return err
		}
		if len(kids) > 0 || len(eps) > 0 {
			return oserr.Forbidden("Region %s still has %d child regions and %d endpoints; delete them first.", id, len(kids), len(eps))
		}
		return tx.DeleteRegion(ctx, id)
	})
}

// ---- services

// CreateService creates a catalog service.
func (s *Service) CreateService(ctx context.Context, sv store.Service) (store.Service, error) {
	if sv.Type == "" {
		return sv, oserr.BadRequest("Service type is required, e.g. \"compute\".")
	}
	sv.ID = newID()
	return sv, s.write(ctx, func(tx *store.Tx) error { return tx.CreateService(ctx, sv) })
}

// GetService reads a catalog service.
func (s *Service) GetService(ctx context.Context, id string) (sv store.Service, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		sv, err = tx.GetService(ctx, id)
		return notFound(err, "service", id)
	})
	return sv, err
}

// ListServices lists catalog services.
func (s *Service) ListServices(ctx context.Context, typ, name string) (svs []store.Service, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		svs, err = tx.ListServices(ctx, typ, name)
		return err
	})
	return svs, err
}

// UpdateService applies fn to a catalog service and saves it.
func (s *Service) UpdateService(ctx context.Context, id string, fn func(*store.Service) error) (sv store.Service, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if sv, err = tx.GetService(ctx, id); err != nil {
			return notFound(err, "service", id)
		}
		if err := fn(&sv); err != nil {
			return err
		}
		return tx.UpdateService(ctx, sv)
	})
	return sv, err
}

// DeleteService deletes a catalog service and its endpoints.
func (s *Service) DeleteService(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error { return notFound(tx.DeleteService(ctx, id), "service", id) })
}

// ---- endpoints

var interfaces = map[string]bool{"public": true, "internal": true, "admin": true}

func (s *Service) checkEndpoint(ctx context.Context, tx *store.Tx, e store.Endpoint) error {
	if !interfaces[e.Interface] {
		return oserr.BadRequest("Endpoint interface %q is invalid; use public, internal or admin.", e.Interface)
	}
	if e.URL == "" {
		return oserr.BadRequest("Endpoint url is required.")
	}
	if _, err := tx.GetService(ctx, e.ServiceID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return oserr.BadRequest("Service %s does not exist; check service_id.", e.ServiceID)
		}
		return err
	}
	if e.RegionID != "" {
		// Keystone creates the region an endpoint names if it is missing.
		if _, err := tx.GetRegion(ctx, e.RegionID); errors.Is(err, store.ErrNotFound) {
			return tx.CreateRegion(ctx, store.Region{ID: e.RegionID})
		} else if err != nil {
			return err
		}
	}
	return nil
}

// CreateEndpoint creates a catalog endpoint.
func (s *Service) CreateEndpoint(ctx context.Context, e store.Endpoint) (store.Endpoint, error) {
	e.ID = newID()
	return e, s.write(ctx, func(tx *store.Tx) error {
		if err := s.checkEndpoint(ctx, tx, e); err != nil {
			return err
		}
		return tx.CreateEndpoint(ctx, e)
	})
}

// GetEndpoint reads a catalog endpoint.
func (s *Service) GetEndpoint(ctx context.Context, id string) (e store.Endpoint, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		e, err = tx.GetEndpoint(ctx, id)
		return notFound(err, "endpoint", id)
	})
	return e, err
}

// ListEndpoints lists catalog endpoints.
func (s *Service) ListEndpoints(ctx context.Context, f EndpointFilter) (es []store.Endpoint, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		es, err = tx.ListEndpoints(ctx, store.EndpointFilter(f))
		return err
	})
	return es, err
}

// UpdateEndpoint applies fn to a catalog endpoint and saves it.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, fn func(*store.Endpoint) error) (e store.Endpoint, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if e, err = tx.GetEndpoint(ctx, id); err != nil {
			return notFound(err, "endpoint", id)
		}
		if err := fn(&e); err != nil {
			return err
		}
		if err := s.checkEndpoint(ctx, tx, e); err != nil {
			return err
		}
		return tx.UpdateEndpoint(ctx, e)
	})
	return e, err
}

// DeleteEndpoint deletes a catalog endpoint.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error { return notFound(tx.DeleteEndpoint(ctx, id), "endpoint", id) })
}
