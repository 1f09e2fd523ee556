package compute

import (
	"context"
	"fmt"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Quotas maps a Nova quota resource to its limit; -1 is unlimited.
type Quotas map[string]int64

// Quota resources shown by os-quota-sets at microversion 2.57 and later.
var quotaResources = []string{"instances", "cores", "ram", "key_pairs", "metadata_items", "server_groups", "server_group_members"}

// DefaultQuotas are Nova's defaults.
func DefaultQuotas() Quotas {
	return Quotas{"instances": 10, "cores": 20, "ram": 51200, "key_pairs": 100, "metadata_items": 128,
		"server_groups": 10, "server_group_members": 10}
}

// QuotaResources lists the resources in display order.
func QuotaResources() []string { return append([]string(nil), quotaResources...) }

// Limits returns a project's effective limits (defaults overridden by its own).
func (s *Service) Limits(ctx context.Context, projectID string) (q Quotas, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err = s.limitsTx(ctx, tx, projectID)
		return err
	})
	return q, err
}

func (s *Service) limitsTx(ctx context.Context, tx *store.Tx, projectID string) (Quotas, error) {
	own, err := tx.QuotaLimits(ctx, projectID)
	if err != nil {
		return nil, err
	}
	class, err := s.classLimitsTx(ctx, tx, DefaultQuotaClass)
	if err != nil {
		return nil, err
	}
	q := Quotas{}
	for k := range s.cfg.Quotas {
		q[k] = class[k] // legacy resources a class may hold are not limits
	}
	for k, v := range own {
		if _, ok := s.cfg.Quotas[k]; ok {
			q[k] = v
		}
	}
	return q, nil
}

// userKey is where a user's own limits within a project are kept in the
// quotas table (Nova's per-user quotas); no project id contains a colon.
func userKey(projectID, userID string) string { return "user:" + projectID + ":" + userID }

// userLimitsTx returns a user's effective limits in a project: the
// project's, with the user's own over them.
func (s *Service) userLimitsTx(ctx context.Context, tx *store.Tx, projectID, userID string) (Quotas, error) {
	q, err := s.limitsTx(ctx, tx, projectID)
	if err != nil {
		return nil, err
	}
	own, err := tx.QuotaLimits(ctx, userKey(projectID, userID))
	if err != nil {
		return nil, err
	}
	for k, v := range own {
		if _, ok := s.cfg.Quotas[k]; ok {
			q[k] = v
		}
	}
	return q, nil
}

// DefaultQuotaClass is the quota class whose limits are every project's
// defaults (Nova's os-quota-class-sets/default).
const DefaultQuotaClass = "default"

// classKey is where a quota class's limits are kept in the quotas table:
// no project id contains a colon.
func classKey(name string) string { return "class:" + name }

// classLimitsTx returns a class's limits: the configured defaults with
// the class's own values over them. Only the default class is used for
// projects; others are kept and shown, as Nova does.
func (s *Service) classLimitsTx(ctx context.Context, tx *store.Tx, name string) (Quotas, error) {
	own, err := tx.QuotaLimits(ctx, classKey(name))
	if err != nil {
		return nil, err
	}
	q := Quotas{}
	for k, v := range s.cfg.Quotas {
		q[k] = v
	}
	for k, v := range own {
		q[k] = v // includes legacy resources the class was given; callers pick what they show
	}
	return q, nil
}

// Usage is what a project uses now.
func (s *Service) Usage(ctx context.Context, projectID, userID string) (u map[string]int64, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		su, err := tx.ServerUsage(ctx, projectID)
		if err != nil {
			return err
		}
		groups, err := tx.CountServerGroups(ctx, projectID)
		if err != nil {
			return err
		}
		kps := 0
		if userID != "" {
			if kps, err = tx.CountKeypairs(ctx, userID); err != nil {
				return err
			}
		}
		u = map[string]int64{"instances": su.Instances, "cores": su.Cores, "ram": su.RAM, "server_groups": int64(groups), "key_pairs": int64(kps)}
		return nil
	})
	return u, err
}

// SetLimits updates a project's limits; unknown resources are refused.
func (s *Service) SetLimits(ctx context.Context, projectID string, limits map[string]int64) (Quotas, error) {
	for k, v := range limits {
		if _, ok := s.cfg.Quotas[k]; !ok {
			return nil, oserr.BadRequest("Unknown quota resource %q; use one of %v.", k, quotaResources)
		}
		if v < -1 {
			return nil, oserr.BadRequest("Quota value %d for %s is invalid; use -1 (unlimited) or a number ≥ 0.", v, k)
		}
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		for k, v := range limits {
			if err := tx.SetQuota(ctx, projectID, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Limits(ctx, projectID)
}

// ResetLimits reverts a project to the defaults.
func (s *Service) ResetLimits(ctx context.Context, projectID string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteQuotas(ctx, projectID) })
}

// checkServerQuota runs inside the creating transaction, after
// LockProjectQuota, so racing boots in one project cannot both pass.
func (s *Service) checkServerQuota(ctx context.Context, tx *store.Tx, projectID, userID string, count int, f store.Flavor) error {
	return s.checkQuota(ctx, tx, projectID, userID, int64(count), int64(count*f.VCPUs), int64(count*f.RAM))
}

// checkQuota checks that a project, and the user within it when the user
// has limits of their own, may add instances, cores and ram.
func (s *Service) checkQuota(ctx context.Context, tx *store.Tx, projectID, userID string, instances, cores, ram int64) error {
	if err := s.checkQuotaOf(ctx, tx, projectID, "", instances, cores, ram); err != nil {
		return err
	}
	if userID == "" {
		return nil
	}
	own, err := tx.QuotaLimits(ctx, userKey(projectID, userID))
	if err != nil || len(own) == 0 {
		return err
	}
	return s.checkQuotaOf(ctx, tx, projectID, userID, instances, cores, ram)
}

func (s *Service) checkQuotaOf(ctx context.Context, tx *store.Tx, projectID, userID string, instances, cores, ram int64) error {
	var q Quotas
	var err error
	if userID == "" {
		q, err = s.limitsTx(ctx, tx, projectID)
	} else {
		q, err = s.userLimitsTx(ctx, tx, projectID, userID)
	}
	if err != nil {
		return err
	}
	if q["instances"] < 0 && q["cores"] < 0 && q["ram"] < 0 {
		return nil // unlimited: nothing to count, nothing to serialise on
	}
	if err := tx.LockProjectQuota(ctx, projectID); err != nil {
		return err
	}
	var u store.ProjectUsage
	if userID == "" {
		u, err = tx.ServerUsage(ctx, projectID)
	} else {
		u, err = tx.UserServerUsage(ctx, projectID, userID)
	}
	if err != nil {
		return err
	}
	want := map[string][2]int64{ // resource -> {used, requested}
		"instances": {u.Instances, instances},
		"cores":     {u.Cores, cores},
		"ram":       {u.RAM, ram},
	}
	var over []string
	for _, r := range []string{"instances", "cores", "ram"} {
		lim := q[r]
		if lim >= 0 && want[r][1] > 0 && want[r][0]+want[r][1] > lim {
			over = append(over, fmt.Sprintf("%s: Requested %d, but already used %d of %d %s", r, want[r][1], want[r][0], lim, r))
		}
	}
	if len(over) > 0 {
		if userID != "" {
			return oserr.Forbidden("Quota exceeded for %s (your own limits in project %s). Delete servers or ask an admin to raise your quota ('openstack quota set --user').", strings.Join(over, "; "), projectID)
		}
		return oserr.Forbidden("Quota exceeded for %s. Delete servers or ask an admin to raise the quota ('openstack quota set --instances/--cores/--ram').", strings.Join(over, "; "))
	}
	return nil
}
