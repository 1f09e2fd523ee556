package cloud

import (
	"context"
	"path/filepath"

	"github.com/onestack/onestack/internal/api/identity"
	idsvc "github.com/onestack/onestack/internal/service/identity"
)

func (c *Cloud) wireIdentity(context.Context) error {
	keys, err := idsvc.LoadKeyRing(filepath.Join(c.cfg.DataDir, "fernet-keys"), 5)
	if err != nil {
		return err
	}
	c.Identity = idsvc.New(c.DB, keys, c.cfg.Log, idsvc.Config{TokenTTL: c.cfg.TokenTTL, HashCost: c.cfg.HashCost})
	c.mount(identity.New(c.Identity, c.env()).Service())
	return nil
}

// bootstrapIdentity runs after every service is wired, so the catalog
// lists exactly what is served.
func (c *Cloud) bootstrapIdentity(ctx context.Context) error {
	var eps []idsvc.Endpoint
	for _, s := range c.Services {
		eps = append(eps, idsvc.Endpoint{Type: s.Type, Name: s.Name, URL: s.URL})
	}
	var err error
	c.AdminCreated, err = c.Identity.Bootstrap(ctx, idsvc.Bootstrap{
		AdminUser: "admin", AdminProject: "admin", AdminPassword: c.cfg.AdminPassword,
		Region: c.cfg.Region, Endpoints: eps,
	})
	return err
}
