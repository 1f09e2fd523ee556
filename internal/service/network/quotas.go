package network

// Quotas: a project's network resource limits and their use.

import (
	"context"
	"sort"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Quota is one resource's limit and use.
type Quota struct{ Limit, Used, Reserved int }

// Quotas returns a project's limits (with usage).
func (s *Service) Quotas(ctx context.Context, c *auth.Credentials, project string) (map[string]Quota, error) {
	if !c.IsAdmin() && c.ProjectID() != project {
		return nil, forbidden("get_quota")
	}
	out := map[string]Quota{}
	err := s.read(ctx, func(tx *store.Tx) error {
		for r := range s.cfg.Quotas {
			l, err := s.limit(ctx, tx, project, r)
			if err != nil {
				return err
			}
			u, err := tx.NetworkUsage(ctx, project, r)
			if err != nil {
				return err
			}
			out[r] = Quota{Limit: l, Used: u}
		}
		return nil
	})
	return out, err
}

// QuotaProjects lists the projects whose limits differ from the defaults.
func (s *Service) QuotaProjects(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.NetworkQuotaProjects(ctx)
		return err
	})
	return out, err
}

// SetQuotas changes a project's limits (admins).
func (s *Service) SetQuotas(ctx context.Context, project string, limits map[string]int) error {
	for r, v := range limits {
		if _, ok := s.cfg.Quotas[r]; !ok {
			return oserr.BadRequest("Unrecognized attribute(s) '%s'", r)
		}
		if v < -1 {
			return oserr.BadRequest("Invalid input for %s. Reason: '%d' should be greater than or equal to -1.", r, v)
		}
	}
	return s.write(ctx, func(tx *store.Tx) error {
		keys := make([]string, 0, len(limits))
		for r := range limits {
			keys = append(keys, r)
		}
		sort.Strings(keys)
		for _, r := range keys {
			if err := tx.SetNetworkQuota(ctx, project, r, limits[r]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ResetQuotas returns a project to the default limits.
func (s *Service) ResetQuotas(ctx context.Context, project string) error {
	return s.write(ctx, func(tx *store.Tx) error { return tx.DeleteNetworkQuotas(ctx, project) })
}
