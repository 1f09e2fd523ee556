package store

import (
	"context"
	"time"
)

// LBObject is one object of the load-balancer service (Octavia): a load
// balancer, listener, pool, member, health monitor, L7 policy or rule,
// flavor, flavor profile, availability zone (profile), quota or the record
// of a host that runs load balancers. The columns are what lists and the
// agents' watch select on; Doc is the service's JSON document of the rest.
type LBObject struct {
	ID   string
	Kind string
	// ProjectID owns the object ("" for operator objects: flavors, zones).
	ProjectID string
	// LoadBalancerID is the load balancer the object belongs to (its own
	// id for a load balancer), so a load balancer's tree is one query.
	LoadBalancerID string
	// ParentID is the object's parent: a pool's for a member or health
	// monitor, a listener's for an L7 policy, a policy's for a rule.
	ParentID string
	// Host runs the load balancer (kind "loadbalancer" only).
	Host      string
	Doc       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const lbCols = `id, kind, project_id, loadbalancer_id, parent_id, host, doc, created_at, updated_at`

func scanLBObject(s scanner) (LBObject, error) {
	var o LBObject
	var created, updated int64
	err := s.Scan(&o.ID, &o.Kind, &o.ProjectID, &o.LoadBalancerID, &o.ParentID, &o.Host, &o.Doc, &created, &updated)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, err
}

// CreateLBObject inserts o; ErrConflict when its id exists.
func (t *Tx) CreateLBObject(ctx context.Context, o LBObject) error {
	_, err := t.exec(ctx, `INSERT INTO lbaas_objects (`+lbCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Kind, o.ProjectID, o.LoadBalancerID, o.ParentID, o.Host, o.Doc, micros(o.CreatedAt), micros(o.UpdatedAt))
	return t.mapErr(err)
}

// UpdateLBObject writes o's host, parent, document and update time;
// ErrNotFound when it is gone.
func (t *Tx) UpdateLBObject(ctx context.Context, o LBObject) error {
	res, err := t.exec(ctx, `UPDATE lbaas_objects SET parent_id = ?, host = ?, doc = ?, updated_at = ? WHERE id = ? AND kind = ?`,
		o.ParentID, o.Host, o.Doc, micros(o.UpdatedAt), o.ID, o.Kind)
	return affected(res, err)
}

// GetLBObject reads the object of kind with id; ErrNotFound when there is
// none of that kind.
func (t *Tx) GetLBObject(ctx context.Context, kind, id string) (LBObject, error) {
	return one(ctx, t, scanLBObject, `SELECT `+lbCols+` FROM lbaas_objects WHERE id = ? AND kind = ?`, id, kind)
}

// DeleteLBObject removes the object with id (absent is not an error).
func (t *Tx) DeleteLBObject(ctx context.Context, id string) error {
	_, err := t.exec(ctx, `DELETE FROM lbaas_objects WHERE id = ?`, id)
	return err
}

// LBQuery selects objects; empty fields do not filter.
type LBQuery struct {
	Kind      string
	ProjectID string
	// LoadBalancerIDs, when not nil, keeps objects of these load balancers.
	LoadBalancerIDs []string
	ParentID        string
	Host            string
	// HostSet filters on Host even when it is empty (unplaced objects).
	HostSet bool
	IDs     []string
	// Desc sorts newest first; lists are ordered by (created_at, id).
	Desc   bool
	Marker *LBObject
	Limit  int
}

// ListLBObjects returns the objects q selects, in (created_at, id) order,
// keyset-paged after q.Marker.
func (t *Tx) ListLBObjects(ctx context.Context, q LBQuery) ([]LBObject, error) {
	w := &where{}
	w.eq("kind", q.Kind, q.Kind != "")
	w.eq("project_id", q.ProjectID, q.ProjectID != "")
	w.eq("parent_id", q.ParentID, q.ParentID != "")
	w.eq("host", q.Host, q.Host != "" || q.HostSet)
	if q.LoadBalancerIDs != nil {
		w.in("loadbalancer_id", q.LoadBalancerIDs)
	}
	if q.IDs != nil {
		w.in("id", q.IDs)
	}
	if q.Marker != nil {
		w.after("created_at", q.Desc, micros(q.Marker.CreatedAt), q.Marker.ID)
	}
	sql := `SELECT ` + lbCols + ` FROM lbaas_objects` + w.orderPage("created_at", q.Desc, q.Limit)
	return list(ctx, t, scanLBObject, sql, w.args...)
}

// CountLBObjects counts a project's objects of kind (for quotas).
func (t *Tx) CountLBObjects(ctx context.Context, kind, project string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM lbaas_objects WHERE kind = ? AND project_id = ?`, kind, project).Scan(&n)
	return n, err
}

// LBHostCounts is how many load balancers each host runs.
func (t *Tx) LBHostCounts(ctx context.Context) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT host, COUNT(*) FROM lbaas_objects WHERE kind = 'loadbalancer' GROUP BY host`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, err
		}
		out[h] = n
	}
	return out, rows.Err()
}

// LockLBaaS moves the load balancers' desired-state revision and returns
// it; the row stays locked until the transaction ends, so writers of
// desired state are serialised and watches see every change.
func (t *Tx) LockLBaaS(ctx context.Context) (int64, error) { return t.BumpEpoch(ctx, "lbaas") }

// LBaaSRevision is the load balancers' desired-state revision.
func (t *Tx) LBaaSRevision(ctx context.Context) (int64, error) { return t.Epoch(ctx, "lbaas") }
