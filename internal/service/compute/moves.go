package compute

import (
	"context"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Moves: resize and cold migration end in VERIFY_RESIZE (vm_state resized)
// until confirmed or reverted; live migration ends ACTIVE. While a server
// moves, its allocations on the source are held by a second placement
// consumer (the migration), as Nova does, and the source host keeps the
// old guest stopped until the move is confirmed.

// Resize asks for a new flavor; the scheduler picks the destination.
// diskConfig ("" keeps the server's) is OS-DCF:diskConfig.
func (s *Service) Resize(ctx context.Context, c *auth.Credentials, id, flavorRef, diskConfig string) error {
	_, err := s.transition(ctx, c, id, "resize", []string{VMActive, VMStopped}, func(tx *store.Tx, v *store.Server) error {
		f, err := s.flavorFor(ctx, tx, c, flavorRef)
		if err != nil {
			return err
		}
		if f.ID == v.Flavor.ID {
			return oserr.BadRequest("When resizing, instances must change flavor; %s is the current flavor.", f.ID)
		}
		if f.Disk > 0 && f.Disk < v.Flavor.Disk {
			return oserr.BadRequest("Resizing to a smaller disk (%d GB → %d GB) is not supported; choose a flavor with at least %d GB.", v.Flavor.Disk, f.Disk, v.Flavor.Disk)
		}
		if dc, dr := f.VCPUs-v.Flavor.VCPUs, f.RAM-v.Flavor.RAM; dc > 0 || dr > 0 {
			if err := s.checkDelta(ctx, tx, v.ProjectID, v.UserID, dc, dr); err != nil {
				return err
			}
		}
		v.TaskState, v.SourceHost = TaskResizePrep, ""
		if diskConfig != "" {
			v.DiskConfig = diskConfig
		}
		v.Migration = &store.Migration{Kind: "resize", SourceHost: v.Host, OldFlavor: v.Flavor, NewFlavor: f, MigrationConsumer: newUUID()}
		return s.recordMigration(ctx, tx, c, v)
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return err
}

// checkDelta checks quota for growing a server by cores and ram.
func (s *Service) checkDelta(ctx context.Context, tx *store.Tx, projectID, userID string, cores, ram int) error {
	return s.checkQuota(ctx, tx, projectID, userID, 0, int64(max(cores, 0)), int64(max(ram, 0)))
}

// Migrate moves a server to another host (cold), optionally a chosen one.
func (s *Service) Migrate(ctx context.Context, c *auth.Credentials, id, host string) error {
	return s.startMove(ctx, c, id, "migrate", "migration", TaskResizePrep, host, []string{VMActive, VMStopped})
}

// LiveMigrate moves a running server to another host without stopping it.
func (s *Service) LiveMigrate(ctx context.Context, c *auth.Credentials, id, host string) error {
	return s.startMove(ctx, c, id, "live-migration", "live-migration", TaskMigrating, host, []string{VMActive, VMPaused})
}

func (s *Service) startMove(ctx context.Context, c *auth.Credentials, id, action, kind, task, host string, allowed []string) error {
	_, err := s.transition(ctx, c, id, action, allowed, func(tx *store.Tx, v *store.Server) error {
		if host != "" {
			if host == v.Host {
				return oserr.BadRequest("The server is already on host %s; choose another host.", host)
			}
			if _, err := tx.GetHostByName(ctx, host); err != nil {
				return oserr.BadRequest("Compute host %s could not be found.", host)
			}
		}
		v.TaskState, v.SourceHost = task, ""
		v.Migration = &store.Migration{Kind: kind, SourceHost: v.Host, DestHost: host, OldFlavor: v.Flavor, NewFlavor: v.Flavor, MigrationConsumer: newUUID()}
		return s.recordMigration(ctx, tx, c, v)
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return err
}

// ConfirmResize keeps the moved server and frees the source.
func (s *Service) ConfirmResize(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "confirmResize", []string{VMResized}, func(tx *store.Tx, v *store.Server) error {
		if v.Migration == nil {
			return oserr.Conflict("Instance %s has no resize to confirm.", id)
		}
		if err := s.placement.ReleaseTx(ctx, tx, v.Migration.MigrationConsumer); err != nil {
			return err
		}
		v.Migration.MigrationConsumer = ""
		s.settle(v)
		return s.finishMigration(ctx, tx, v, "confirmed")
	})
	return err
}

// RevertResize moves the server back to its source with its old flavor.
func (s *Service) RevertResize(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "revertResize", []string{VMResized}, func(tx *store.Tx, v *store.Server) error {
		if v.Migration == nil {
			return oserr.Conflict("Instance %s has no resize to revert.", id)
		}
		// The destination's allocations go; the source's return to the server.
		if err := s.placement.ReleaseTx(ctx, tx, v.ID); err != nil {
			return err
		}
		if err := s.placement.MoveTx(ctx, tx, v.Migration.MigrationConsumer, v.ID); err != nil {
			return err
		}
		if err := s.finishMigration(ctx, tx, v, "reverted"); err != nil {
			return err
		}
		v.Host, v.SourceHost = v.Migration.SourceHost, v.Host
		if err := s.BindTx(ctx, tx, *v, v.Host); err != nil {
			return err
		}
		v.Flavor = v.Migration.OldFlavor
		v.Migration.MigrationConsumer = ""
		v.TaskState = TaskResizeReverting
		return nil
	})
	return err
}

// settle ends a move: the server is where it is, in the power state it
// should have; the away host removes its old guest (source_host stays
// until it reports the guest gone).
func (s *Service) settle(v *store.Server) {
	v.VMState, v.TaskState = VMActive, ""
	if v.DesiredPower == hostapi.PowerShutdown {
		v.VMState = VMStopped
	}
}
