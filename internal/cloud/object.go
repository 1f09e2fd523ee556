package cloud

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	objectapi "github.com/onestack/onestack/internal/api/object"
	"github.com/onestack/onestack/internal/oserr"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	objectsvc "github.com/onestack/onestack/internal/service/object"
	"github.com/onestack/onestack/internal/store"
)

// objectService names the object storage service's type in cloud.go.
type objectService = objectsvc.Service

// wireObject builds Swift: the object storage service over DATA/objects,
// its API under /object and its catalog entry (object-store, with the
// project's account AUTH_<project id> in the URL, as Swift's catalog has
// it). It settles what a crashed process left before anything is served,
// runs the expiry reaper with the cloud's loops, and adds Keystone's
// ResellerAdmin role (as devstack does with Swift), which owns every
// account.
func (c *Cloud) wireObject(ctx context.Context) error {
	log := c.cfg.Log.With("service", "object")
	svc, err := objectsvc.New(ctx, c.DB, log, objectsvc.Config{Dir: filepath.Join(c.cfg.DataDir, "objects")})
	if err != nil {
		return err
	}
	c.Object = svc
	c.closers = append(c.closers, svc.Close)
	c.mount(objectapi.New(svc, c.env()).Service())
	c.loops = append(c.loops, svc.Run)
	return c.ensureRole(ctx, objectsvc.ResellerAdminRole)
}

// ensureRole creates a global role unless one of that name (in any case)
// exists; another controller creating it at the same time is fine.
func (c *Cloud) ensureRole(ctx context.Context, name string) error {
	roles, err := c.Identity.ListRoles(ctx, idsvc.RoleFilter{DomainID: new(string)})
	if err != nil {
		return err
	}
	for _, r := range roles {
		if strings.EqualFold(r.Name, name) {
			return nil
		}
	}
	_, err = c.Identity.CreateRole(ctx, store.Role{Name: name})
	if err != nil && (oserr.Is(err, 409) || errors.Is(err, store.ErrConflict)) {
		return nil
	}
	return err
}
