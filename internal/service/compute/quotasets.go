package compute

import (
	"context"
	"sort"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// This file is os-quota-sets and /limits over quota.go: policy, the
// in-use check on updates, and usage for the detail view.

// canSeeQuotas allows admins and members of the project itself.
func canSeeQuotas(c *auth.Credentials, projectID, rule string) error {
	if c.IsAdmin() || (projectID != "" && c.ProjectID() == projectID) {
		return nil
	}
	return oserr.Forbidden("Policy doesn't allow %s to be performed on project %s; you may read your own project's quotas, others need the admin role.", rule, projectID)
}

// DefaultLimits returns the default per-project limits: the configured
// ones as the default quota class changes them.
func (s *Service) DefaultLimits(ctx context.Context) (q Quotas, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		all, err := s.classLimitsTx(ctx, tx, DefaultQuotaClass)
		q = Quotas{}
		for k := range s.cfg.Quotas {
			q[k] = all[k]
		}
		return err
	})
	return q, err
}

// QuotaClass returns a quota class's limits (admin only), with any legacy
// resources it was given (network and personality quotas, accepted and
// not enforced).
func (s *Service) QuotaClass(ctx context.Context, c *auth.Credentials, name string) (q Quotas, err error) {
	if err := requireAdmin(c, "os_compute_api:os-quota-class-sets:show"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err = s.classLimitsTx(ctx, tx, name)
		return err
	})
	return q, err
}

// UpdateQuotaClass sets limits of a quota class (admin only); the default
// class's become every project's defaults. legacy names resources that are
// stored and shown but not enforced.
func (s *Service) UpdateQuotaClass(ctx context.Context, c *auth.Credentials, name string, limits map[string]int64, legacy map[string]bool) (Quotas, error) {
	if err := requireAdmin(c, "os_compute_api:os-quota-class-sets:update"); err != nil {
		return nil, err
	}
	for k, v := range limits {
		if _, ok := s.cfg.Quotas[k]; !ok && !legacy[k] {
			return nil, oserr.BadRequest("Unknown quota resource %q.", k)
		}
		if v < -1 {
			return nil, oserr.BadRequest("Quota value %d for %s is invalid; use -1 (unlimited) or a number ≥ 0.", v, k)
		}
	}
	var q Quotas
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		for k, v := range limits {
			if err := tx.SetQuota(ctx, classKey(name), k, v); err != nil {
				return err
			}
		}
		var err error
		q, err = s.classLimitsTx(ctx, tx, name)
		return err
	})
	return q, err
}

// ProjectQuotas returns a project's limits (its own project, or any for admins).
func (s *Service) ProjectQuotas(ctx context.Context, c *auth.Credentials, projectID string) (Quotas, error) {
	if err := canSeeQuotas(c, projectID, "os_compute_api:os-quota-sets:show"); err != nil {
		return nil, err
	}
	return s.Limits(ctx, projectID)
}

// ProjectQuotaUsage returns a project's limits and what it uses now.
// Keypairs count per user: userID names whose ("" counts none, as Nova's
// project view does).
func (s *Service) ProjectQuotaUsage(ctx context.Context, c *auth.Credentials, projectID, userID string) (Quotas, map[string]int64, error) {
	if err := canSeeQuotas(c, projectID, "os_compute_api:os-quota-sets:detail"); err != nil {
		return nil, nil, err
	}
	q, err := s.Limits(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.Usage(ctx, projectID, userID)
	return q, u, err
}

// UpdateQuotas sets a project's limits (admin only). Without force, a
// limit below what the project already uses is refused.
func (s *Service) UpdateQuotas(ctx context.Context, c *auth.Credentials, projectID string, limits map[string]int64, force bool) (Quotas, error) {
	if err := requireAdmin(c, "os_compute_api:os-quota-sets:update"); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(limits))
	for k := range limits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := limits[k]
		if _, ok := s.cfg.Quotas[k]; !ok {
			return nil, oserr.BadRequest("Unknown quota resource %q; use one of %v.", k, quotaResources)
		}
		if v < -1 || v > MaxInt {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: %d is out of range; use -1 (unlimited) or 0 to %d.", k, v, MaxInt)
		}
	}
	if !force {
		used, err := s.Usage(ctx, projectID, "")
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if v := limits[k]; v != -1 && v < used[k] {
				return nil, oserr.BadRequest("Quota limit %d for %s must be greater than or equal to already used and reserved %d; free resources first or send \"force\": true.", v, k, used[k])
			}
		}
	}
	return s.SetLimits(ctx, projectID, limits)
}

// DeleteQuotas reverts a project to the default limits (admin only).
func (s *Service) DeleteQuotas(ctx context.Context, c *auth.Credentials, projectID string) error {
	if err := requireAdmin(c, "os_compute_api:os-quota-sets:delete"); err != nil {
		return err
	}
	return s.ResetLimits(ctx, projectID)
}

// AbsoluteLimits returns the limits and usage GET /limits shows: the
// caller's project, or for admins any project.
func (s *Service) AbsoluteLimits(ctx context.Context, c *auth.Credentials, projectID string) (Quotas, map[string]int64, error) {
	if projectID == "" {
		projectID = c.ProjectID()
	}
	if err := canSeeQuotas(c, projectID, "os_compute_api:limits:other_project"); err != nil {
		return nil, nil, err
	}
	q, err := s.Limits(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.Usage(ctx, projectID, "")
	return q, u, err
}

// Per-user quotas: limits for one user within a project, over the
// project's. They are enforced on the user's own servers (instances,
// cores, ram) when the user has any.

// UserQuotas returns a user's effective limits in a project.
func (s *Service) UserQuotas(ctx context.Context, c *auth.Credentials, projectID, userID string) (q Quotas, err error) {
	if err := canSeeQuotas(c, projectID, "os_compute_api:os-quota-sets:show"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err = s.userLimitsTx(ctx, tx, projectID, userID)
		return err
	})
	return q, err
}

// UserQuotaUsage returns a user's effective limits and what the user uses.
func (s *Service) UserQuotaUsage(ctx context.Context, c *auth.Credentials, projectID, userID string) (Quotas, map[string]int64, error) {
	q, err := s.UserQuotas(ctx, c, projectID, userID)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.userUsage(ctx, projectID, userID)
	return q, u, err
}

func (s *Service) userUsage(ctx context.Context, projectID, userID string) (map[string]int64, error) {
	u, err := s.Usage(ctx, projectID, userID)
	if err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		su, err := tx.UserServerUsage(ctx, projectID, userID)
		u["instances"], u["cores"], u["ram"] = su.Instances, su.Cores, su.RAM
		return err
	})
	return u, err
}

// UpdateUserQuotas sets a user's limits within a project (admin only):
// none may exceed the project's limit, and without force none may be
// below what the user already uses.
func (s *Service) UpdateUserQuotas(ctx context.Context, c *auth.Credentials, projectID, userID string, limits map[string]int64, force bool) (Quotas, error) {
	if err := requireAdmin(c, "os_compute_api:os-quota-sets:update"); err != nil {
		return nil, err
	}
	project, err := s.Limits(ctx, projectID)
	if err != nil {
		return nil, err
	}
	var used map[string]int64
	if !force {
		if used, err = s.userUsage(ctx, projectID, userID); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(limits))
	for k := range limits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := limits[k]
		if _, ok := s.cfg.Quotas[k]; !ok {
			return nil, oserr.BadRequest("Unknown quota resource %q; use one of %v.", k, quotaResources)
		}
		if v < -1 || v > MaxInt {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: %d is out of range; use -1 (unlimited) or 0 to %d.", k, v, MaxInt)
		}
		if p := project[k]; p >= 0 && (v == -1 || v > p) {
			return nil, oserr.BadRequest("Quota limit %d for %s must be less than or equal to %d, the project's limit.", v, k, p)
		}
		if used != nil && v != -1 && v < used[k] {
			return nil, oserr.BadRequest("Quota limit %d for %s must be greater than or equal to already used and reserved %d; free resources first or send \"force\": true.", v, k, used[k])
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		for _, k := range keys {
			if err := tx.SetQuota(ctx, userKey(projectID, userID), k, limits[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.UserQuotas(ctx, c, projectID, userID)
}

// DeleteUserQuotas drops a user's own limits: the project's apply again (admin only).
func (s *Service) DeleteUserQuotas(ctx context.Context, c *auth.Credentials, projectID, userID string) error {
	if err := requireAdmin(c, "os_compute_api:os-quota-sets:delete"); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteQuotas(ctx, userKey(projectID, userID)) })
}
