package store

// Host aggregates: the aggregates and aggregate_hosts tables.

import (
	"context"
	"time"
)

// Aggregate is a host aggregate row.
type Aggregate struct {
	ID        int
	UUID      string
	Name      string
	Zone      string
	Metadata  map[string]string
	Hosts     []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func scanAggregate(s scanner) (Aggregate, error) {
	var a Aggregate
	var meta string
	var c, u int64
	err := s.Scan(&a.ID, &a.UUID, &a.Name, &a.Zone, &meta, &c, &u)
	a.Metadata, a.CreatedAt, a.UpdatedAt = jsonMap(meta), fromMicros(c), fromMicros(u)
	return a, err
}

const aggregateCols = `id, uuid, name, zone, metadata, created_at, updated_at`

// CreateAggregate inserts a (its ID is assigned).
func (t *Tx) CreateAggregate(ctx context.Context, a *Aggregate) error {
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM aggregates`).Scan(&a.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO aggregates (`+aggregateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UUID, a.Name, a.Zone, toJSON(nonNilMap(a.Metadata)), micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// UpdateAggregate writes name, zone and metadata.
func (t *Tx) UpdateAggregate(ctx context.Context, a Aggregate) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE aggregates SET name = ?, zone = ?, metadata = ?, updated_at = ? WHERE id = ?`,
		a.Name, a.Zone, toJSON(nonNilMap(a.Metadata)), micros(a.UpdatedAt), a.ID)))
}

// GetAggregate reads an aggregate with its hosts.
func (t *Tx) GetAggregate(ctx context.Context, id int) (Aggregate, error) {
	a, err := one(ctx, t, scanAggregate, `SELECT `+aggregateCols+` FROM aggregates WHERE id = ?`, id)
	if err != nil {
		return a, err
	}
	a.Hosts, err = list(ctx, t, func(s scanner) (string, error) {
		var h string
		return h, s.Scan(&h)
	}, `SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host`, id)
	return a, err
}

// ListAggregates lists every aggregate with its hosts.
func (t *Tx) ListAggregates(ctx context.Context) ([]Aggregate, error) {
	as, err := list(ctx, t, scanAggregate, `SELECT `+aggregateCols+` FROM aggregates ORDER BY id`)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT aggregate_id, host FROM aggregate_hosts ORDER BY host`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[int]int{}
	for i, a := range as {
		idx[a.ID] = i
	}
	for rows.Next() {
		var id int
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		if i, ok := idx[id]; ok {
			as[i].Hosts = append(as[i].Hosts, h)
		}
	}
	return as, rows.Err()
}

// DeleteAggregate removes an aggregate.
func (t *Tx) DeleteAggregate(ctx context.Context, id int) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM aggregates WHERE id = ?`, id)))
}

// AddAggregateHost adds a host; ErrConflict when already there.
func (t *Tx) AddAggregateHost(ctx context.Context, id int, host string) error {
	_, err := t.exec(ctx, `INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)`, id, host)
	return t.mapErr(err)
}

// RemoveAggregateHost removes a host; ErrNotFound when absent.
func (t *Tx) RemoveAggregateHost(ctx context.Context, id int, host string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?`, id, host)))
}

// RemoveHostFromAggregates takes a host out of every aggregate (when its
// service is deleted).
func (t *Tx) RemoveHostFromAggregates(ctx context.Context, host string) error {
	_, err := t.exec(ctx, `DELETE FROM aggregate_hosts WHERE host = ?`, host)
	return err
}
