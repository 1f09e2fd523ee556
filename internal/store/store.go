// Package store is the one place SQL lives: transactions over SQLite (the
// embedded default) and PostgreSQL (scale-out), embedded forward-only
// migrations, and one file of queries per table group.
//
// It is the lowest layer: it imports nothing else of the project, and
// services call it through the Write and Read helpers, each state change in
// one transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

// DB is an open store. It is safe for concurrent use.
type DB struct {
	w, r    *sql.DB
	dialect dialect
	log     *slog.Logger
}

// Options configure Open.
type Options struct {
	// URL is "postgres://…" for PostgreSQL; empty or "sqlite://PATH" for SQLite.
	URL string
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
	Log     *slog.Logger
}

// Open connects to the store and applies pending migrations.
func Open(ctx context.Context, o Options) (*DB, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(o.URL, "postgres://"), strings.HasPrefix(o.URL, "postgresql://"):
		db, err = openPostgres(o.URL)
	case o.URL == "", strings.HasPrefix(o.URL, "sqlite://"):
		path := strings.TrimPrefix(o.URL, "sqlite://")
		if path == "" {
			path = filepath.Join(o.DataDir, "onestack.db")
		}
		// Switching a new file to WAL takes an exclusive lock that SQLite
		// does not wait for: several controllers opening one fresh file
		// would see "database is locked". An advisory file lock makes their
		// first connection and migrations take turns.
		unlock, lerr := lockFile(ctx, path+".open-lock")
		if lerr != nil {
			return nil, lerr
		}
		defer unlock()
		db, err = openSQLite(path)
	default:
		return nil, fmt.Errorf("database URL %q: use postgres://USER@HOST/DB or sqlite://PATH", o.URL)
	}
	if err != nil {
		return nil, err
	}
	db.log = log
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.w.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.dialect.name(), err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// lockFile takes an exclusive advisory lock on path, waiting for ctx.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another process opening the database (%s): %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func openSQLite(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One writer: SQLite serialises writers anyway; a single connection
	// turns lock contention into a queue instead of SQLITE_BUSY retries.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return &DB{w: w, r: r, dialect: sqliteDialect{}}, nil
}

func openPostgres(dsn string) (*DB, error) {
	w, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(16)
	w.SetMaxIdleConns(16)
	return &DB{w: w, r: w, dialect: postgresDialect{}}, nil
}

// Dialect names the database behind the store: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// Close closes every connection.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Tx is one transaction. Its query methods live in the per-table files.
type Tx struct {
	tx *sql.Tx
	d  dialect
	// written are the servers this transaction wrote; stampRevisions
	// gives them the next revision just before COMMIT.
	written []*Server
	// committed run after a successful COMMIT (AfterCommit).
	committed []func()
}

// AfterCommit runs fn once the transaction has committed (never when it
// rolls back or is retried): for waking watchers of what it changed.
func (t *Tx) AfterCommit(fn func()) { t.committed = append(t.committed, fn) }

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// Write runs fn in one read-write transaction and commits it when fn
// returns nil. A transaction that loses a race (SQLite busy, PostgreSQL
// serialization failure or deadlock) is retried from the start, so fn must
// not have effects outside the transaction.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, db.w, false, fn)
}

// Read runs fn in one read-only transaction: a consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, db.r, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, readOnly bool, fn func(*Tx) error) error {
	const attempts = 8
	backoff := 2 * time.Millisecond
	for i := 1; ; i++ {
		err := db.once(ctx, pool, readOnly, fn)
		if err == nil || i == attempts || !db.dialect.retryable(err) {
			return err
		}
		db.log.DebugContext(ctx, "transaction retried", "attempt", i, "error", err)
		t := time.NewTimer(backoff + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff *= 2
	}
}

func (db *DB) once(ctx context.Context, pool *sql.DB, readOnly bool, fn func(*Tx) error) (err error) {
	var opts *sql.TxOptions
	if readOnly && db.dialect.name() == "postgres" {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	t := &Tx{tx: tx, d: db.dialect}
	if err = fn(t); err != nil {
		return err
	}
	if err = t.stampRevisions(ctx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range t.committed {
		f()
	}
	return nil
}

// now is the store's clock in the unit every timestamp column uses.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// mapErr turns driver errors into the store's sentinels.
func (t *Tx) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case t.d.uniqueViolation(err):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// affected returns ErrNotFound when a write touched no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
