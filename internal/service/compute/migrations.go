package compute

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Migration records: each resize, cold and live migration gets a row when
// it starts; confirm, revert and a live migration's end write its final
// status. While a move runs its status is read from the server itself
// (level-triggered: the scheduler and agents need not know the table):
// "migrating" until the destination holds it, "finished" while a resize
// waits for confirmation, "error" when the server no longer carries the
// move (the scheduler found no destination and dropped it).

// Nova's statuses used here.
const (
	MigrationMigrating = "migrating"
	MigrationRunning   = "running" // live migration in progress
	MigrationFinished  = "finished"
	MigrationError     = "error"
)

func (s *Service) recordMigration(ctx context.Context, tx *store.Tx, c *auth.Credentials, v *store.Server) error {
	m := v.Migration
	now := s.Now()
	status := MigrationMigrating
	if m.Kind == "live-migration" {
		status = MigrationRunning
	}
	rec := store.MigrationRecord{UUID: newUUID(), ServerID: v.ID, ProjectID: v.ProjectID, UserID: c.User.ID, Type: m.Kind,
		SourceCompute: m.SourceHost, DestCompute: m.DestHost, OldFlavorID: m.OldFlavor.ID, NewFlavorID: m.NewFlavor.ID,
		Status: status, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateMigration(ctx, &rec); err != nil {
		return err
	}
	m.RecordID = rec.ID
	return nil
}

// finishMigration writes the final status of the server's move, if recorded.
func (s *Service) finishMigration(ctx context.Context, tx *store.Tx, v *store.Server, status string) error {
	if v.Migration == nil || v.Migration.RecordID == 0 {
		return nil
	}
	err := tx.FinishMigration(ctx, v.Migration.RecordID, status, v.Host, s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// MigrationList is a decoded GET /os-migrations.
type MigrationList struct {
	Filter MigrationFilter
	Marker string // a migration uuid (2.59)
}

// Migrations lists moves, newest first (admin only).
func (s *Service) Migrations(ctx context.Context, c *auth.Credentials, l MigrationList) (out []store.MigrationRecord, err error) {
	if err := requireAdmin(c, "os_compute_api:os-migrations:index"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		var marker *store.MigrationRecord
		if l.Marker != "" {
			m, err := tx.GetMigrationByUUID(ctx, l.Marker)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Marker %s could not be found.", l.Marker)
			} else if err != nil {
				return err
			}
			marker = &m
		}
		recs, err := tx.ListMigrations(ctx, l.Filter.query(marker))
		if err != nil {
			return err
		}
		for i, m := range recs {
			if m.Status != MigrationMigrating && m.Status != MigrationRunning {
				continue
			}
			v, err := tx.GetServer(ctx, m.ServerID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				recs[i].Status = MigrationError
			case err != nil:
				return err
			case v.Migration == nil || v.Migration.RecordID != m.ID:
				recs[i].Status = MigrationError
			default:
				recs[i].DestCompute = v.Migration.DestHost
				if v.VMState == VMResized {
					recs[i].Status = MigrationFinished
				}
			}
		}
		out = recs
		return nil
	})
	return out, err
}
