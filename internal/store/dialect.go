package store

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds every difference between SQLite and PostgreSQL; queries are
// written once, in portable SQL with ? placeholders.
type dialect interface {
	name() string
	rebind(q string) string
	uniqueViolation(err error) bool
	retryable(err error) bool
	// lockMigrations is a statement that serialises concurrent migrators, or "".
	lockMigrations() string
	// migration adapts a migration's SQL, written for SQLite, to the dialect.
	migration(sql string) string
}

type sqliteDialect struct{}

func (sqliteDialect) name() string              { return "sqlite" }
func (sqliteDialect) rebind(q string) string    { return q }
func (sqliteDialect) lockMigrations() string    { return "" }
func (sqliteDialect) migration(q string) string { return q }
func (sqliteDialect) uniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
func (sqliteDialect) retryable(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

var rebound sync.Map // query text -> PostgreSQL form

// rebind turns ? placeholders into $1, $2, … outside string literals.
func (postgresDialect) rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	rebound.Store(q, s)
	return s
}

func (postgresDialect) lockMigrations() string { return "SELECT pg_advisory_xact_lock(4242)" }

// migration turns SQLite's byte-wise collation into PostgreSQL's: a column
// declared COLLATE BINARY compares and sorts by bytes on both (Swift's
// names are listed in byte order, whatever the database's locale).
func (postgresDialect) migration(q string) string {
	return strings.ReplaceAll(q, "COLLATE BINARY", `COLLATE "C"`)
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (postgresDialect) uniqueViolation(err error) bool { return pgCode(err) == "23505" }
func (postgresDialect) retryable(err error) bool {
	c := pgCode(err)
	return c == "40001" || c == "40P01"
}
