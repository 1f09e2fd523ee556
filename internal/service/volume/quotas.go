package volume

import (
	"context"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Quotas maps a Cinder quota resource to its limit; -1 is unlimited.
type Quotas map[string]int64

// baseDefaults are Cinder's default limits.
var baseDefaults = Quotas{"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10, "backup_gigabytes": 1000,
	"per_volume_gigabytes": -1, "groups": 10}

// typed are the per-type resources (volumes_<type>, …).
var typed = []string{"volumes", "snapshots", "gigabytes"}

// QuotaUsage is one resource's use.
type QuotaUsage struct{ Limit, InUse, Reserved, Allocated int64 }

// resourcesTx lists every resource: the base ones and one of each per type.
func resourcesTx(ctx context.Context, tx *store.Tx) ([]string, error) {
	ts, err := tx.ListVolumeTypes(ctx)
	if err != nil {
		return nil, err
	}
	rs := make([]string, 0, len(baseDefaults)+3*len(ts))
	for k := range baseDefaults {
		rs = append(rs, k)
	}
	for _, t := range ts {
		for _, r := range typed {
			rs = append(rs, r+"_"+t.Name)
		}
	}
	sort.Strings(rs)
	return rs, nil
}

// defaultsTx is the default class: Cinder's defaults with the operator's changes.
func defaultsTx(ctx context.Context, tx *store.Tx) (Quotas, error) {
	rs, err := resourcesTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	own, err := tx.VolumeQuotaLimits(ctx, "")
	if err != nil {
		return nil, err
	}
	q := Quotas{}
	for _, r := range rs {
		q[r] = -1
		if v, ok := baseDefaults[r]; ok {
			q[r] = v
		}
		if v, ok := own[r]; ok {
			q[r] = v
		}
	}
	return q, nil
}

func limitsTx(ctx context.Context, tx *store.Tx, projectID string) (Quotas, error) {
	q, err := defaultsTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	own, err := tx.VolumeQuotaLimits(ctx, projectID)
	if err != nil {
		return nil, err
	}
	for k, v := range own {
		if _, ok := q[k]; ok {
			q[k] = v
		}
	}
	return q, nil
}

// Defaults returns the default quota class.
func (s *Service) Defaults(ctx context.Context) (q Quotas, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err = defaultsTx(ctx, tx)
		return err
	})
	return q, err
}

// Limits returns a project's effective limits.
func (s *Service) Limits(ctx context.Context, projectID string) (q Quotas, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err = limitsTx(ctx, tx, projectID)
		return err
	})
	return q, err
}

// Usage returns each resource's limit and use for a project.
func (s *Service) Usage(ctx context.Context, projectID string) (out map[string]QuotaUsage, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q, err := limitsTx(ctx, tx, projectID)
		if err != nil {
			return err
		}
		u, err := tx.VolumeUsageOf(ctx, projectID)
		if err != nil {
			return err
		}
		names, err := typeNames(ctx, tx)
		if err != nil {
			return err
		}
		used := map[string]int64{"volumes": u.Volumes, "gigabytes": u.Gigabytes, "snapshots": u.Snapshots}
		for id, c := range u.ByType {
			n := names[id]
			used["volumes_"+n], used["gigabytes_"+n], used["snapshots_"+n] = c[0], c[1], c[2]
		}
		out = map[string]QuotaUsage{}
		for k, l := range q {
			out[k] = QuotaUsage{Limit: l, InUse: used[k]}
		}
		return nil
	})
	return out, err
}

func typeNames(ctx context.Context, tx *store.Tx) (map[string]string, error) {
	ts, err := tx.ListVolumeTypes(ctx)
	out := map[string]string{}
	for _, t := range ts {
		out[t.ID] = t.Name
	}
	return out, err
}

// SetQuotas (admin) sets a project's limits ("" : the default class);
// unknown resources are refused.
func (s *Service) SetQuotas(ctx context.Context, projectID string, set Quotas) (q Quotas, err error) {
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		cur, err := defaultsTx(ctx, tx)
		if err != nil {
			return err
		}
		for k, v := range set {
			if _, ok := cur[k]; !ok {
				return oserr.BadRequest("Invalid input received: Bad key(s) in quota set: %s.", k)
			}
			if v < -1 {
				return oserr.BadRequest("Invalid input received: Quota limit %d for %s must be -1 or greater.", v, k)
			}
			if err := tx.SetVolumeQuota(ctx, projectID, k, v); err != nil {
				return err
			}
		}
		q, err = limitsTx(ctx, tx, projectID)
		return err
	})
	return q, err
}

// ResetQuotas drops a project's own limits.
func (s *Service) ResetQuotas(ctx context.Context, projectID string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteVolumeQuotas(ctx, projectID) })
}

// reserveTx checks that adding volumes, gigabytes and snapshots of type
// typeName stays within the project's limits. It locks the project's quota
// row first, so racing creates count each other (never over-committed).
func (s *Service) reserveTx(ctx context.Context, tx *store.Tx, projectID, typeName string, vols, gb, snaps int64) error {
	if err := tx.LockProjectQuota(ctx, "volume:"+projectID); err != nil {
		return err
	}
	q, err := limitsTx(ctx, tx, projectID)
	if err != nil {
		return err
	}
	if l := q["per_volume_gigabytes"]; l >= 0 && vols > 0 && gb > l {
		return oserr.TooLarge("Requested volume size %dG is larger than maximum allowed limit %dG.", gb, l)
	}
	u, err := tx.VolumeUsageOf(ctx, projectID)
	if err != nil {
		return err
	}
	names, err := typeNames(ctx, tx)
	if err != nil {
		return err
	}
	var tu [3]int64
	for id, c := range u.ByType {
		if names[id] == typeName {
			tu = c
		}
	}
	check := func(res string, used, add int64) error {
		l, ok := q[res]
		if !ok || l < 0 || add == 0 || used+add <= l {
			return nil
		}
		if strings.HasPrefix(res, "gigabytes") {
			return oserr.TooLarge("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed %s quota. Requested %dG, quota is %dG and %dG has been consumed.", res, add, l, used)
		}
		kind := "volumes"
		if strings.HasPrefix(res, "snapshots") {
			kind = "snapshots"
		}
		return oserr.TooLarge("Maximum number of %s allowed (%d) exceeded for quota '%s'.", kind, l, res)
	}
	for _, c := range []struct {
		res       string
		used, add int64
	}{{"volumes", u.Volumes, vols}, {"snapshots", u.Snapshots, snaps}, {"gigabytes", u.Gigabytes, gb},
		{"volumes_" + typeName, tu[0], vols}, {"gigabytes_" + typeName, tu[1], gb}, {"snapshots_" + typeName, tu[2], snaps}} {
		if err := check(c.res, c.used, c.add); err != nil {
			return err
		}
	}
	return nil
}
