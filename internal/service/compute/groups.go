package compute

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Server group policies. The soft ones arrived in microversion 2.15.
const (
	PolicyAffinity         = "affinity"
	PolicyAntiAffinity     = "anti-affinity"
	PolicySoftAffinity     = "soft-affinity"
	PolicySoftAntiAffinity = "soft-anti-affinity"
)

// GroupCreate is a server group create request.
type GroupCreate struct {
	Name   string
	Policy string
	// MaxServerPerHost is the anti-affinity rule (2.64); 0 when absent.
	MaxServerPerHost int
}

// ServerGroup is a server group with its live members.
type ServerGroup struct {
	store.ServerGroup
	Members []string
}

// CreateServerGroup creates a server group in the caller's project.
func (s *Service) CreateServerGroup(ctx context.Context, c *auth.Credentials, req GroupCreate) (ServerGroup, error) {
	if !PrintableName(req.Name) {
		return ServerGroup{}, oserr.BadRequest("Invalid input for field/attribute name: a server group name is 1 to 255 printable characters and may not start or end with whitespace.")
	}
	switch req.Policy {
	case PolicyAffinity, PolicyAntiAffinity, PolicySoftAffinity, PolicySoftAntiAffinity:
	default:
		return ServerGroup{}, oserr.BadRequest("Invalid input for field/attribute policy: %q is not one of affinity, anti-affinity, soft-affinity, soft-anti-affinity.", req.Policy)
	}
	rules := map[string]any{}
	if req.MaxServerPerHost != 0 {
		if req.Policy != PolicyAntiAffinity {
			return ServerGroup{}, oserr.BadRequest("Only anti-affinity policy supports rules; drop max_server_per_host or use policy anti-affinity.")
		}
		if req.MaxServerPerHost < 1 || req.MaxServerPerHost > MaxInt {
			return ServerGroup{}, oserr.BadRequest("Invalid input for field/attribute max_server_per_host: give an integer of at least 1.")
		}
		rules["max_server_per_host"] = req.MaxServerPerHost
	}
	project := c.ProjectID()
	if project == "" {
		return ServerGroup{}, oserr.Forbidden("Server groups belong to a project; authenticate with a project-scoped token.")
	}
	g := store.ServerGroup{ID: newUUID(), Name: req.Name, ProjectID: project, UserID: c.User.ID,
		Policy: req.Policy, Rules: rules, CreatedAt: s.Now()}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.LockProjectQuota(ctx, project); err != nil {
			return err
		}
		q, err := s.limitsTx(ctx, tx, project)
		if err != nil {
			return err
		}
		n, err := tx.CountServerGroups(ctx, project)
		if err != nil {
			return err
		}
		if lim := q["server_groups"]; lim >= 0 && int64(n)+1 > lim {
			return oserr.Forbidden("Quota exceeded, too many server groups: project %s has %d of %d; delete one ('openstack server group delete') or ask an admin to raise server_groups ('openstack quota set --server-groups').", project, n, lim)
		}
		return tx.CreateServerGroup(ctx, g)
	})
	if err != nil {
		return ServerGroup{}, err
	}
	// The store hands rules back as decoded JSON; keep that shape.
	g.Rules = map[string]any{}
	if req.MaxServerPerHost != 0 {
		g.Rules["max_server_per_host"] = float64(req.MaxServerPerHost)
	}
	return ServerGroup{ServerGroup: g, Members: []string{}}, nil
}

func (s *Service) groupVisible(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.ServerGroup, error) {
	g, err := tx.GetServerGroup(ctx, id)
	if err == nil && !c.IsAdmin() && g.ProjectID != c.ProjectID() {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return g, oserr.NotFound("Instance group %s could not be found; see 'openstack server group list'.", id)
	}
	return g, err
}

// ServerGroup returns a group of the caller's project (any for admins).
func (s *Service) ServerGroup(ctx context.Context, c *auth.Credentials, id string) (out ServerGroup, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		g, err := s.groupVisible(ctx, tx, c, id)
		if err != nil {
			return err
		}
		members, err := tx.GroupMembers(ctx, g.ID)
		if members == nil {
			members = []string{}
		}
		out = ServerGroup{ServerGroup: g, Members: members}
		return err
	})
	return out, err
}

// ServerGroups lists the caller's project's groups, or every project's for
// an admin asking for all; limit and offset page as Nova does (limit 0:
// up to 1000).
func (s *Service) ServerGroups(ctx context.Context, c *auth.Credentials, allProjects bool, limit, offset int) (out []ServerGroup, err error) {
	project := c.ProjectID()
	if allProjects && c.IsAdmin() {
		project = ""
	} else if project == "" {
		return []ServerGroup{}, nil
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		gs, err := tx.ListServerGroups(ctx, project, store.Page{Limit: offset + limit})
		if err != nil {
			return err
		}
		if offset >= len(gs) {
			gs = nil
		} else {
			gs = gs[offset:]
		}
		ids := make([]string, len(gs))
		for i, g := range gs {
			ids[i] = g.ID
		}
		members, err := tx.GroupMembersOf(ctx, ids)
		if err != nil {
			return err
		}
		out = make([]ServerGroup, 0, len(gs))
		for _, g := range gs {
			m := members[g.ID]
			if m == nil {
				m = []string{}
			}
			out = append(out, ServerGroup{ServerGroup: g, Members: m})
		}
		return nil
	})
	return out, err
}

// DeleteServerGroup deletes a group; its servers stay, ungrouped.
func (s *Service) DeleteServerGroup(ctx context.Context, c *auth.Credentials, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		g, err := s.groupVisible(ctx, tx, c, id)
		if err != nil {
			return err
		}
		return notFound(tx.DeleteServerGroup(ctx, g.ID), "Instance group", id)
	})
}
