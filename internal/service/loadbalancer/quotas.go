package loadbalancer

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Quotas: Octavia's per-project limits, -1 unlimited. The defaults are
// Octavia's (every one unlimited); an operator sets a project's with
// PUT /v2/lbaas/quotas/{project_id}.

// QuotaKinds are the kinds a quota limits, in the API's order.
var QuotaKinds = []string{KindLoadBalancer, KindListener, KindPool, KindHealthMonitor, KindMember, KindL7Policy, KindL7Rule}

// DefaultQuota is every limit unlimited.
func DefaultQuota() map[string]int {
	out := map[string]int{}
	for _, k := range QuotaKinds {
		out[k] = -1
	}
	return out
}

func (q Quota) get(kind string) *int {
	switch kind {
	case KindLoadBalancer:
		return q.LoadBalancer
	case KindListener:
		return q.Listener
	case KindPool:
		return q.Pool
	case KindHealthMonitor:
		return q.HealthMonitor
	case KindMember:
		return q.Member
	case KindL7Policy:
		return q.L7Policy
	case KindL7Rule:
		return q.L7Rule
	}
	return nil
}

func (q *Quota) set(kind string, v *int) {
	switch kind {
	case KindLoadBalancer:
		q.LoadBalancer = v
	case KindListener:
		q.Listener = v
	case KindPool:
		q.Pool = v
	case KindHealthMonitor:
		q.HealthMonitor = v
	case KindMember:
		q.Member = v
	case KindL7Policy:
		q.L7Policy = v
	case KindL7Rule:
		q.L7Rule = v
	}
}

func quotaID(project string) string { return "quota-" + project }

func (s *Service) limits(ctx context.Context, tx *store.Tx, project string) (map[string]int, error) {
	out := DefaultQuota()
	o, err := tx.GetLBObject(ctx, KindQuota, quotaID(project))
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	q, err := decode[Quota](o)
	if err != nil {
		return nil, err
	}
	for _, k := range QuotaKinds {
		if v := q.get(k); v != nil {
			out[k] = *v
		}
	}
	return out, nil
}

// checkQuota refuses adding n objects of kind to project past its limit.
func (s *Service) checkQuota(ctx context.Context, tx *store.Tx, project, kind string, n int) error {
	lim, err := s.limits(ctx, tx, project)
	if err != nil {
		return err
	}
	if lim[kind] < 0 {
		return nil
	}
	have, err := tx.CountLBObjects(ctx, kind, project)
	if err != nil {
		return err
	}
	if have+n > lim[kind] {
		return quotaMet(kind)
	}
	return nil
}

// checkTreeQuota checks the objects t is about to create.
func (s *Service) checkTreeQuota(ctx context.Context, tx *store.Tx, t *Tree) error {
	n := map[string]int{}
	for id := range t.created {
		n[t.kinds[id]]++
	}
	for _, k := range QuotaKinds {
		if n[k] == 0 || k == KindLoadBalancer {
			continue
		}
		if err := s.checkQuota(ctx, tx, t.LB.ProjectID, k, n[k]); err != nil {
			return err
		}
	}
	return nil
}

// QuotaOf returns a project's limits (admins any project's, others their
// own).
func (s *Service) QuotaOf(ctx context.Context, c *auth.Credentials, project string) (map[string]int, error) {
	if !readsAll(c) && !c.HasRole(RoleQuotaAdmin) && project != c.ProjectID() {
		return nil, forbidden()
	}
	var out map[string]int
	err := s.read(ctx, func(tx *store.Tx) (err error) {
		out, err = s.limits(ctx, tx, project)
		return err
	})
	return out, err
}

// QuotaProjects lists the projects with limits set, with them.
func (s *Service) QuotaProjects(ctx context.Context, c *auth.Credentials, project string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	err := s.read(ctx, func(tx *store.Tx) error {
		objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindQuota})
		if err != nil {
			return err
		}
		for _, o := range objs {
			if !readsAll(c) && !c.HasRole(RoleQuotaAdmin) && o.ProjectID != c.ProjectID() || project != "" && o.ProjectID != project {
				continue
			}
			if out[o.ProjectID], err = s.limits(ctx, tx, o.ProjectID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// SetQuota sets some of a project's limits (nil entries are kept).
func (s *Service) SetQuota(ctx context.Context, project string, in map[string]*int) (map[string]int, error) {
	for k, v := range in {
		if v != nil && (*v < -1 || *v > 2000000000) {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: '%d'. Value should be between -1 and 2000000000", k, *v)
		}
	}
	var out map[string]int
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		var q Quota
		o, err := tx.GetLBObject(ctx, KindQuota, quotaID(project))
		exists := err == nil
		if exists {
			p, err := decode[Quota](o)
			if err != nil {
				return err
			}
			q = *p
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for k, v := range in {
			if v != nil {
				x := *v
				q.set(k, &x)
			}
		}
		now := s.now()
		obj := store.LBObject{ID: quotaID(project), Kind: KindQuota, ProjectID: project, Doc: encode(q), CreatedAt: now, UpdatedAt: now}
		if exists {
			err = tx.UpdateLBObject(ctx, obj)
		} else {
			err = tx.CreateLBObject(ctx, obj)
		}
		if err != nil {
			return err
		}
		out, err = s.limits(ctx, tx, project)
		return err
	})
	return out, err
}

// ResetQuota returns a project to the defaults.
func (s *Service) ResetQuota(ctx context.Context, project string) error {
	return s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := tx.GetLBObject(ctx, KindQuota, quotaID(project)); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Quota %s not found.", project)
		}
		return tx.DeleteLBObject(ctx, quotaID(project))
	})
}
