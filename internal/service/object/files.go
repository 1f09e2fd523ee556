package object

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// files keeps object data under DIR (DATA/objects):
//
//	DIR/data/<id[:3]>/<id>      an object's data, named by its row's id
//	DIR/work/<instance>/lock    held (flock) by the process while it runs
//	DIR/work/<instance>/<id>    an upload in flight: written here, linked
//	                            to its data name once durable, unlinked
//	                            here once its row is committed
//	DIR/work/<instance>/<id>.del  a data file whose row a transaction in
//	                            flight drops: unlinked (both names) once it
//	                            committed, only here if it rolled back
//
// A file's data never changes once linked. The work directory is this
// process's journal: while it names a file, that file has two links, so a
// scan never takes it for an orphan; when the process dies its journal is
// settled by the next start (sweep), against the rows: a new file without
// a row is removed, a condemned file without a row is removed, anything
// with a row stays.
type files struct {
	dir, data, work string
	instance        string
	lock            *os.File
}

const lockName = "lock"

// newID returns a fresh 32-hex-digit id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openFiles prepares dir and this process's journal.
func openFiles(dir string) (*files, error) {
	f := &files{dir: dir, data: filepath.Join(dir, "data"), work: filepath.Join(dir, "work"), instance: newID()}
	for _, d := range []string{dir, f.data, f.work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create object storage directory: %w", err)
		}
	}
	// The journal appears under its final name with its lock already held,
	// so a sweep never sees a live journal without its lock.
	tmp := filepath.Join(f.work, ".new-"+f.instance)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create object journal: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(tmp, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err == nil {
		err = os.Rename(tmp, f.journal())
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("create object journal: %w", err)
	}
	f.lock = lock
	return f, nil
}

func (f *files) journal() string { return filepath.Join(f.work, f.instance) }

// path is where the data of id lives.
func (f *files) path(id string) string { return filepath.Join(f.data, id[:3], id) }

// close removes this process's (settled, empty) journal and releases it.
func (f *files) close() error {
	err := os.RemoveAll(f.journal())
	f.lock.Close()
	return err
}

// upload is a new data file being written.
type upload struct {
	f    *files
	id   string
	tmp  string
	file *os.File
	// linked is set once the data has its final name.
	linked bool
}

// create starts a new data file in the journal.
func (f *files) create() (*upload, error) {
	id := newID()
	tmp := filepath.Join(f.journal(), id)
	file, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create object data file: %w", err)
	}
	return &upload{f: f, id: id, tmp: tmp, file: file}, nil
}

// finish makes the data durable under its final name; the journal link
// stays until settle. The link comes before the fsyncs: no row names the
// file until both are done, and a journaling file system then commits the
// new directory entry with the file's own fsync, which leaves the
// directory's fsync (still made, for the others) next to nothing to do.
func (u *upload) finish() error {
	final := u.f.path(u.id)
	dir := filepath.Dir(final)
	if err := os.Mkdir(dir, 0o700); err == nil {
		syncDir(filepath.Dir(dir))
	} else if !errors.Is(err, fs.ErrExist) {
		u.file.Close()
		u.file = nil
		return fmt.Errorf("create object data directory: %w", err)
	}
	if err := os.Link(u.tmp, final); err != nil {
		u.file.Close()
		u.file = nil
		return fmt.Errorf("link object data: %w", err)
	}
	u.linked = true
	if err := u.file.Sync(); err != nil {
		u.file.Close()
		u.file = nil
		return fmt.Errorf("sync object data: %w", err)
	}
	if err := u.file.Close(); err != nil {
		u.file = nil
		return fmt.Errorf("close object data: %w", err)
	}
	u.file = nil
	syncDir(dir)
	return nil
}

// abort removes everything of an upload that is not to be recorded.
func (u *upload) abort() {
	if u.file != nil {
		u.file.Close()
	}
	if u.linked {
		_ = os.Remove(u.f.path(u.id))
	}
	_ = os.Remove(u.tmp)
}

// settle drops the journal link of an upload whose row is committed.
func (u *upload) settle() { _ = os.Remove(u.tmp) }

// condemn journals the data of id before a transaction drops its row.
func (f *files) condemn(id string) error {
	err := os.Link(f.path(id), filepath.Join(f.journal(), id+".del"))
	if err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal removal of object data %s: %w", id, err)
	}
	return nil
}

// spare forgets a condemnation whose transaction did not commit.
func (f *files) spare(id string) { _ = os.Remove(filepath.Join(f.journal(), id+".del")) }

// remove deletes the data of id, whose row is gone, and its journal entry.
func (f *files) remove(id string) {
	_ = os.Remove(f.path(id))
	_ = os.Remove(filepath.Join(f.journal(), id+".del"))
}

// open opens the data of id.
func (f *files) open(id string) (*os.File, error) { return os.Open(f.path(id)) }

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// deadJournal is the journal of a process that is gone, locked by us.
type deadJournal struct {
	dir  string
	lock *os.File
}

// deadJournals returns (locked) the journals no live process holds.
func (f *files) deadJournals() ([]deadJournal, error) {
	ents, err := os.ReadDir(f.work)
	if err != nil {
		return nil, err
	}
	var out []deadJournal
	for _, e := range ents {
		if !e.IsDir() || e.Name() == f.instance {
			continue
		}
		dir := filepath.Join(f.work, e.Name())
		if strings.HasPrefix(e.Name(), ".new-") {
			// A journal whose creation never finished: nothing was
			// written through it, unless its creator still runs.
			lock, err := os.Open(filepath.Join(dir, lockName))
			if err == nil && syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				lock.Close()
				continue
			}
			if lock != nil {
				lock.Close()
			}
			_ = os.RemoveAll(dir)
			continue
		}
		lock, err := os.Open(filepath.Join(dir, lockName))
		if err != nil {
			// No lock file: not a journal of ours; leave it for a person.
			continue
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
			continue // its process runs
		}
		out = append(out, deadJournal{dir: dir, lock: lock})
	}
	return out, nil
}

// sweep settles the journals of dead processes against the rows; exists
// reports which ids have one. It returns how many journals it settled and
// how many data files it removed.
func (f *files) sweep(ctx context.Context, exists func(context.Context, []string) (map[string]bool, error)) (journals, removed int, err error) {
	dead, err := f.deadJournals()
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, j := range dead {
			j.lock.Close()
		}
	}()
	for _, j := range dead {
		n, err := f.settleJournal(ctx, j, exists)
		removed += n
		if err != nil {
			return len(dead), removed, err
		}
	}
	return len(dead), removed, nil
}

func (f *files) settleJournal(ctx context.Context, j deadJournal, exists func(context.Context, []string) (map[string]bool, error)) (int, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, e := range ents {
		if id := strings.TrimSuffix(e.Name(), ".del"); validID(id) {
			ids = append(ids, id)
		}
	}
	have, err := exists(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("settle object journal %s: %w", j.dir, err)
	}
	removed := 0
	for _, e := range ents {
		name := e.Name()
		id := strings.TrimSuffix(name, ".del")
		if !validID(id) {
			continue
		}
		if !have[id] {
			// An upload never recorded, or a removal that committed.
			if err := os.Remove(f.path(id)); err == nil {
				removed++
			}
		}
		_ = os.Remove(filepath.Join(j.dir, name))
	}
	if err := os.RemoveAll(j.dir); err != nil {
		return removed, err
	}
	return removed, nil
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// orphans walks every data file and removes those with one link (no
// journal names them) and no row: what a crash of the machine itself may
// leave, where a journal's links were not yet on disk. Safe beside live
// processes: a file being written or removed has a second link.
func (f *files) orphans(ctx context.Context, exists func(context.Context, []string) (map[string]bool, error)) (int, error) {
	dirs, err := os.ReadDir(f.data)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		dir := filepath.Join(f.data, d.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		var ids []string
		for _, e := range ents {
			info, err := e.Info()
			if err != nil || !validID(e.Name()) {
				continue
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink == 1 {
				ids = append(ids, e.Name())
			}
		}
		if len(ids) == 0 {
			continue
		}
		have, err := exists(ctx, ids)
		if err != nil {
			return removed, err
		}
		for _, id := range ids {
			if have[id] {
				continue
			}
			// Look again: a row may have appeared for a file that was
			// linked in between (it then has two links until settled).
			if st, err := os.Stat(f.path(id)); err == nil && st.Sys().(*syscall.Stat_t).Nlink == 1 {
				if again, err := exists(ctx, []string{id}); err == nil && !again[id] {
					if os.Remove(f.path(id)) == nil {
						removed++
					}
				}
			}
		}
	}
	return removed, nil
}
