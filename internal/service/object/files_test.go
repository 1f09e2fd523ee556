package object

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func newTestService(t *testing.T, db *store.DB, dir string) *Service {
	t.Helper()
	s, err := New(context.Background(), db, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestJournalSweep: the journal of a process that died is settled against
// the rows at the next start (uploads without a row and removals that
// committed lose their data; the rest stays), a live process's journal is
// left alone, and after such a crash the scan removes data files that
// neither a row nor a journal names.
func TestJournalSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		dead := newTestService(t, db, dir)
		// A committed object, an upload never committed, a removal that
		// committed, a removal that rolled back.
		write := func(data string) *upload {
			u, err := dead.files.create()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = u.file.WriteString(data)
			if err := u.finish(); err != nil {
				t.Fatal(err)
			}
			return u
		}
		kept, lost, removed, spared := write("kept"), write("lost"), write("removed"), write("spared")
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, u := range []*upload{kept, spared} {
				if err := tx.CreateObject(ctx, store.Object{ID: u.id, Account: "AUTH_a", Container: "c", Name: u.id, Modified: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		kept.settle()
		spared.settle()
		removed.settle() // its row was committed and then dropped…
		if err := dead.files.condemn(removed.id); err != nil {
			t.Fatal(err)
		}
		if err := dead.files.condemn(spared.id); err != nil { // …this one's drop rolled back
			t.Fatal(err)
		}
		// A file no row and no journal names, as a machine crash may leave.
		stray := filepath.Join(dir, "data", "abc", "abc00000000000000000000000000000")
		_ = os.MkdirAll(filepath.Dir(stray), 0o700)
		_ = os.WriteFile(stray, []byte("stray"), 0o600)
		deadJournal := dead.files.journal()

		// A live process beside them: its journal must not be touched.
		live := newTestService(t, db, dir)
		t.Cleanup(func() { live.Close() })
		if !exists(deadJournal) {
			t.Fatal("a live process's journal was swept")
		}
		liveUp, _ := live.files.create()
		_, _ = liveUp.file.WriteString("in flight")
		_ = liveUp.finish()

		// The dead process dies (its lock goes with it), a third starts.
		dead.files.lock.Close()
		s := newTestService(t, db, dir)
		t.Cleanup(func() { s.Close() })
		for name, u := range map[string]*upload{"committed object": kept, "rolled-back removal": spared} {
			if !exists(dead.files.path(u.id)) {
				t.Errorf("the %s lost its data", name)
			}
		}
		for name, u := range map[string]*upload{"uncommitted upload": lost, "committed removal": removed} {
			if exists(dead.files.path(u.id)) {
				t.Errorf("the %s kept its data", name)
			}
		}
		if exists(deadJournal) {
			t.Error("the dead process's journal is still there")
		}
		if !exists(live.files.path(liveUp.id)) || !exists(live.files.journal()) {
			t.Error("the live process's upload was swept")
		}
		if !s.crashed {
			t.Fatal("the start did not notice the crash")
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- s.Run(runCtx) }()
		<-s.Scanned()
		cancel()
		<-done
		if exists(stray) {
			t.Error("the scan left a data file no row names")
		}
		if !exists(live.files.path(liveUp.id)) || !exists(dead.files.path(kept.id)) {
			t.Error("the scan removed data in use")
		}
	})
}
