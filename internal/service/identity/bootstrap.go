package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/onestack/onestack/internal/store"
)

// Endpoint is one service onestack serves, for the catalog.
type Endpoint struct {
	Type, Name, URL string
}

// Bootstrap describes the cloud's initial identity data.
type Bootstrap struct {
	AdminUser, AdminProject string
	// AdminPassword sets the admin password on first start; on later starts
	// a non-empty value resets it, as `keystone-manage bootstrap` does.
	AdminPassword string
	Region        string
	// Endpoints are the services served; their public, internal and admin
	// endpoints in Region are created or corrected to these URLs.
	Endpoints []Endpoint
}

// Bootstrap creates, idempotently, the Default domain, the roles admin,
// member and reader (admin implies member implies reader), the admin
// project and user with the admin role on the project and the system, the
// region and the catalog. It reports whether the admin user was created.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) (created bool, err error) {
	var hash string
	if b.AdminPassword != "" {
		if hash, err = s.hashSecret(b.AdminPassword); err != nil {
			return false, err
		}
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		created = false
		now := s.now()
		if _, err := tx.GetDomain(ctx, DefaultDomainID); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateDomain(ctx, store.Domain{ID: DefaultDomainID, Name: "Default", Description: "The default domain", Enabled: true, CreatedAt: now}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		roleIDs := map[string]string{}
		for _, name := range []string{"admin", "member", "reader"} {
			rs, err := tx.ListRoles(ctx, store.RoleFilter{Name: name, DomainID: new(string)})
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				r := store.Role{ID: newID(), Name: name, CreatedAt: now}
				if err := tx.CreateRole(ctx, r); err != nil {
					return err
				}
				roleIDs[name] = r.ID
			} else {
				roleIDs[name] = rs[0].ID
			}
		}
		if err := tx.AddImpliedRole(ctx, roleIDs["admin"], roleIDs["member"]); err != nil {
			return err
		}
		if err := tx.AddImpliedRole(ctx, roleIDs["member"], roleIDs["reader"]); err != nil {
			return err
		}
		proj, err := tx.GetProjectByName(ctx, DefaultDomainID, b.AdminProject)
		if errors.Is(err, store.ErrNotFound) {
			proj = store.Project{ID: newID(), DomainID: DefaultDomainID, ParentID: DefaultDomainID, Name: b.AdminProject,
				Description: "Bootstrap project for the cloud's administrators", Enabled: true, Tags: []string{}, CreatedAt: now}
			if err := tx.CreateProject(ctx, proj); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		user, err := tx.GetUserByName(ctx, DefaultDomainID, b.AdminUser)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if hash == "" {
				return fmt.Errorf("bootstrap: the admin user does not exist yet and no admin password was given")
			}
			user = store.User{ID: newID(), DomainID: DefaultDomainID, Name: b.AdminUser, Enabled: true, PasswordHash: hash,
				DefaultProjectID: proj.ID, CreatedAt: now}
			if err := tx.CreateUser(ctx, user); err != nil {
				return err
			}
			created = true
		case err != nil:
			return err
		case hash != "":
			user.PasswordHash, user.Enabled = hash, true
			if err := tx.UpdateUser(ctx, user); err != nil {
				return err
			}
		}
		for _, a := range []store.Assignment{
			{ActorType: store.ActorUser, ActorID: user.ID, TargetType: store.TargetProject, TargetID: proj.ID, RoleID: roleIDs["admin"]},
			{ActorType: store.ActorUser, ActorID: user.ID, TargetType: store.TargetSystem, TargetID: store.SystemAll, RoleID: roleIDs["admin"]},
		} {
			if err := tx.Grant(ctx, a); err != nil {
				return err
			}
		}
		if _, err := tx.GetRegion(ctx, b.Region); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateRegion(ctx, store.Region{ID: b.Region}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		return s.ensureCatalog(ctx, tx, b)
	})
	return created, err
}

// ensureCatalog creates or corrects the public, internal and admin
// endpoints of each served service.
func (s *Service) ensureCatalog(ctx context.Context, tx *store.Tx, b Bootstrap) error {
	for _, want := range b.Endpoints {
		svcs, err := tx.ListServices(ctx, want.Type, want.Name)
		if err != nil {
			return err
		}
		var svc store.Service
		if len(svcs) > 0 {
			svc = svcs[0]
		} else {
			svc = store.Service{ID: newID(), Type: want.Type, Name: want.Name, Enabled: true}
			if err := tx.CreateService(ctx, svc); err != nil {
				return err
			}
		}
		eps, err := tx.ListEndpoints(ctx, store.EndpointFilter{ServiceID: svc.ID, RegionID: b.Region})
		if err != nil {
			return err
		}
		for _, iface := range []string{"public", "internal", "admin"} {
			found := false
			for _, e := range eps {
				if e.Interface != iface {
					continue
				}
				found = true
				if e.URL != want.URL || !e.Enabled {
					e.URL, e.Enabled = want.URL, true
					if err := tx.UpdateEndpoint(ctx, e); err != nil {
						return err
					}
				}
			}
			if !found {
				e := store.Endpoint{ID: newID(), ServiceID: svc.ID, Interface: iface, RegionID: b.Region, URL: want.URL, Enabled: true}
				if err := tx.CreateEndpoint(ctx, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
