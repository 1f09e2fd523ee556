package store

// Compute quotas: the quotas and quota_locks tables (Nova's limits).

import (
	"context"
)

// QuotaLimits returns a project's explicit limits by resource.
func (t *Tx) QuotaLimits(ctx context.Context, projectID string) (map[string]int64, error) {
	rows, err := t.query(ctx, `SELECT resource, hard_limit FROM quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var v int64
		if err := rows.Scan(&r, &v); err != nil {
			return nil, err
		}
		out[r] = v
	}
	return out, rows.Err()
}

// SetQuota sets one limit of a project.
func (t *Tx) SetQuota(ctx context.Context, projectID, resource string, limit int64) error {
	_, err := t.exec(ctx, `INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
		ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, resource, limit)
	return err
}

// DeleteQuotas reverts a project to the default limits.
func (t *Tx) DeleteQuotas(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `DELETE FROM quotas WHERE project_id = ?`, projectID)
	return err
}

// LockProjectQuota serialises quota-counted creates within one project:
// the row is created or updated in the caller's transaction, which holds
// its row lock until commit on PostgreSQL (SQLite has one writer anyway).
func (t *Tx) LockProjectQuota(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `INSERT INTO quota_locks (project_id, counter) VALUES (?, 1)
		ON CONFLICT (project_id) DO UPDATE SET counter = quota_locks.counter + 1`, projectID)
	return err
}
