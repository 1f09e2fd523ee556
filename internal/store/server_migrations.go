package store

// Server migrations: the migrations table behind os-migrations (moves of
// servers between hosts), not the schema migrations of migrate.go.

import (
	"context"
	"time"
)

// MigrationRecord is one resize or migration of a server (os-migrations).
type MigrationRecord struct {
	ID                         int
	UUID                       string
	ServerID                   string
	ProjectID, UserID          string
	Type                       string // resize | migration | live-migration
	SourceCompute, DestCompute string
	OldFlavorID, NewFlavorID   string
	Status                     string
	CreatedAt, UpdatedAt       time.Time
}

const migrationCols = `id, uuid, server_id, project_id, user_id, migration_type, source_compute, dest_compute, old_flavor_id, new_flavor_id, status, created_at, updated_at`

func scanMigration(s scanner) (MigrationRecord, error) {
	var m MigrationRecord
	var c, u int64
	err := s.Scan(&m.ID, &m.UUID, &m.ServerID, &m.ProjectID, &m.UserID, &m.Type, &m.SourceCompute, &m.DestCompute,
		&m.OldFlavorID, &m.NewFlavorID, &m.Status, &c, &u)
	m.CreatedAt, m.UpdatedAt = fromMicros(c), fromMicros(u)
	return m, err
}

// CreateMigration inserts m with the next integer id, which it sets.
func (t *Tx) CreateMigration(ctx context.Context, m *MigrationRecord) error {
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM migrations`).Scan(&m.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO migrations (`+migrationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.UUID, m.ServerID, m.ProjectID, m.UserID, m.Type, m.SourceCompute, m.DestCompute, m.OldFlavorID, m.NewFlavorID,
		m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
	return t.mapErr(err)
}

// FinishMigration records a move's final status and destination.
func (t *Tx) FinishMigration(ctx context.Context, id int, status, dest string, at time.Time) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE migrations SET status = ?, dest_compute = ?, updated_at = ? WHERE id = ?`,
		status, dest, micros(at), id)))
}

// MigrationFilter narrows ListMigrations; zero values match everything.
type MigrationFilter struct {
	Host          string // source or destination
	SourceCompute string
	Status        string
	ServerID      string
	Type          string
	ChangesSince  *time.Time
	ChangesBefore *time.Time
	Marker        *MigrationRecord
	Limit         int
}

// ListMigrations lists moves newest first, keyset-paged on (created_at, id).
func (t *Tx) ListMigrations(ctx context.Context, f MigrationFilter) ([]MigrationRecord, error) {
	w := &where{}
	w.eq("source_compute", f.SourceCompute, f.SourceCompute != "").eq("status", f.Status, f.Status != "").
		eq("server_id", f.ServerID, f.ServerID != "").eq("migration_type", f.Type, f.Type != "")
	if f.Host != "" {
		w.clauses = append(w.clauses, "(source_compute = ? OR dest_compute = ?)")
		w.args = append(w.args, f.Host, f.Host)
	}
	if f.ChangesSince != nil {
		w.clauses = append(w.clauses, "updated_at >= ?")
		w.args = append(w.args, micros(*f.ChangesSince))
	}
	if f.ChangesBefore != nil {
		w.clauses = append(w.clauses, "updated_at <= ?")
		w.args = append(w.args, micros(*f.ChangesBefore))
	}
	if f.Marker != nil {
		c := micros(f.Marker.CreatedAt)
		w.clauses = append(w.clauses, "(created_at < ? OR (created_at = ? AND id < ?))")
		w.args = append(w.args, c, c, f.Marker.ID)
	}
	q := `SELECT ` + migrationCols + ` FROM migrations` + w.sql() + ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, f.Limit)
	}
	return list(ctx, t, scanMigration, q, w.args...)
}

// GetMigrationByUUID reads one move by its uuid.
func (t *Tx) GetMigrationByUUID(ctx context.Context, uuid string) (MigrationRecord, error) {
	return one(ctx, t, scanMigration, `SELECT `+migrationCols+` FROM migrations WHERE uuid = ?`, uuid)
}
