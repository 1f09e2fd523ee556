package object

import (
	"context"
	"errors"
	"fmt"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Versioned writes, as Swift's legacy versioned_writes: a container with
// X-Versions-Location keeps every replaced object in that container, under
// "<3 hex digits of the name's length><name>/<timestamp>". In stack mode a
// DELETE brings the newest version back; in history mode (set with
// X-History-Location) a DELETE moves the current object into the versions
// container too. The data files never move: the rows do.

// versionPrefix is where the versions of name are kept.
func versionPrefix(name string) string { return fmt.Sprintf("%03x%s/", len(name), name) }

// versionName is the name a version of o gets.
func versionName(o store.Object) string {
	us := o.Modified.UnixMicro()
	return versionPrefix(o.Name) + fmt.Sprintf("%010d.%05d", us/1e6, (us%1e6)/10)
}

// versions returns the versions container of ct, locked, or nil.
func (s *Service) versions(ctx context.Context, tx *store.Tx, ct store.ObjectContainer) (*store.ObjectContainer, error) {
	loc := ct.Metadata[VersionsLocation]
	if loc == "" || loc == ct.Name {
		return nil, nil
	}
	v, err := tx.LockObjectContainer(ctx, ct.Account, loc)
	if errors.Is(err, store.ErrNotFound) {
		return nil, textErr(412, "Container %s keeps its versions in container %s (X-Versions-Location), which does not exist; create it or remove X-Versions-Location.", ct.Name, loc)
	}
	return &v, err
}

// move moves o's row into container dst under name, with the counters.
func moveRow(ctx context.Context, tx *store.Tx, o store.Object, dst, name string) error {
	if err := tx.MoveObject(ctx, o.ID, dst, name); err != nil {
		return err
	}
	if err := tx.AddObjectContainerUsage(ctx, o.Account, o.Container, -1, -o.Size); err != nil {
		return err
	}
	return tx.AddObjectContainerUsage(ctx, o.Account, dst, 1, o.Size)
}

// versionOut keeps old, about to be replaced, as a version when ct has a
// versions location; it reports whether it did (old's row is then moved,
// and the caller's counters for ct treat it as gone already).
func (s *Service) versionOut(ctx context.Context, tx *store.Tx, ct store.ObjectContainer, old store.Object) (bool, error) {
	v, err := s.versions(ctx, tx, ct)
	if err != nil || v == nil {
		return false, err
	}
	name := versionName(old)
	if err := tx.MoveObject(ctx, old.ID, v.Name, name); err != nil {
		return false, err
	}
	// The caller counts the replacement in ct as (0 objects, new - old
	// bytes), which already takes old out of ct.
	return true, tx.AddObjectContainerUsage(ctx, old.Account, v.Name, 1, old.Size)
}

// versionArchive, in history mode, moves o into the versions container
// instead of deleting it; it reports whether it did.
func (s *Service) versionArchive(ctx context.Context, tx *store.Tx, ct store.ObjectContainer, o store.Object) (bool, error) {
	if ct.Metadata[versionsMode] != "history" {
		return false, nil
	}
	v, err := s.versions(ctx, tx, ct)
	if err != nil || v == nil {
		return false, err
	}
	return true, moveRow(ctx, tx, o, v.Name, versionName(o))
}

// versionRestore, in stack mode, brings the newest version of name back
// into ct after its current object was deleted.
func (s *Service) versionRestore(ctx context.Context, tx *store.Tx, ct store.ObjectContainer, name string) error {
	if ct.Metadata[versionsMode] == "history" {
		return nil
	}
	v, err := s.versions(ctx, tx, ct)
	if oserr.Is(err, 412) {
		return nil // no versions container: nothing to bring back
	}
	if err != nil || v == nil {
		return err
	}
	prefix := versionPrefix(name)
	newest, err := tx.ListObjects(ctx, ct.Account, v.Name, prefix, store.NameRange{Upper: after(prefix), Desc: true, Limit: 1})
	if err != nil || len(newest) == 0 {
		return err
	}
	return moveRow(ctx, tx, newest[0], ct.Name, name)
}
