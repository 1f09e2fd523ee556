package store

// Server groups: the server_groups table and its members (servers.group_id).

import (
	"context"
	"time"
)

// ServerGroup is a Nova server group row.
type ServerGroup struct {
	ID, Name, ProjectID, UserID, Policy string
	Rules                               map[string]any
	CreatedAt                           time.Time
}

const groupSGCols = `id, name, project_id, user_id, policy, rules, created_at`

func scanServerGroup(s scanner) (ServerGroup, error) {
	var g ServerGroup
	var rules string
	var c int64
	err := s.Scan(&g.ID, &g.Name, &g.ProjectID, &g.UserID, &g.Policy, &rules, &c)
	g.Rules, g.CreatedAt = extra(rules), fromMicros(c)
	return g, err
}

// CreateServerGroup inserts g.
func (t *Tx) CreateServerGroup(ctx context.Context, g ServerGroup) error {
	_, err := t.exec(ctx, `INSERT INTO server_groups (`+groupSGCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.ProjectID, g.UserID, g.Policy, toJSON(g.Rules), micros(g.CreatedAt))
	return t.mapErr(err)
}

// GetServerGroup reads a server group.
func (t *Tx) GetServerGroup(ctx context.Context, id string) (ServerGroup, error) {
	return one(ctx, t, scanServerGroup, `SELECT `+groupSGCols+` FROM server_groups WHERE id = ?`, id)
}

// ListServerGroups lists a project's groups (all when projectID is "").
func (t *Tx) ListServerGroups(ctx context.Context, projectID string, p Page) ([]ServerGroup, error) {
	w := &where{}
	w.eq("project_id", projectID, projectID != "")
	if p.Marker != "" {
		w.clauses = append(w.clauses, "id > ?")
		w.args = append(w.args, p.Marker)
	}
	q := `SELECT ` + groupSGCols + ` FROM server_groups` + w.sql() + ` ORDER BY id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, p.Limit)
	}
	return list(ctx, t, scanServerGroup, q, w.args...)
}

// CountServerGroups counts a project's server groups (for the quota).
func (t *Tx) CountServerGroups(ctx context.Context, projectID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM server_groups WHERE project_id = ?`, projectID).Scan(&n)
	return n, err
}

// DeleteServerGroup removes a group; its members stay, ungrouped.
func (t *Tx) DeleteServerGroup(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `UPDATE servers SET group_id = '' WHERE group_id = ?`, id); err != nil {
		return err
	}
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM server_groups WHERE id = ?`, id)))
}

// GroupMembers lists the ids of a group's live servers.
func (t *Tx) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM servers WHERE group_id = ? AND deleted = ? ORDER BY created_at, id`, groupID, false)
}

// GroupMemberHosts returns, for a server group, the host of each live member.
func (t *Tx) GroupMemberHosts(ctx context.Context, groupID string) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT id, host FROM servers WHERE group_id = ? AND deleted = ?`, groupID, false)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, host string
		if err := rows.Scan(&id, &host); err != nil {
			return nil, err
		}
		out[id] = host
	}
	return out, rows.Err()
}

// GroupMembersOf returns the live members of each of the given server
// groups in one query.
func (t *Tx) GroupMembersOf(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(groupIDs))
	if len(groupIDs) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("group_id", groupIDs).eq("deleted", false, true)
	rows, err := t.query(ctx, `SELECT group_id, id FROM servers`+w.sql()+` ORDER BY created_at, id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, id string
		if err := rows.Scan(&g, &id); err != nil {
			return nil, err
		}
		out[g] = append(out[g], id)
	}
	return out, rows.Err()
}
