// Package storetest hands each test a real, migrated store: SQLite in the
// test's temp dir, and — when ONESTACK_TEST_POSTGRES names a server — a
// fresh PostgreSQL schema dropped when the test ends.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/store"
)

// EnvPostgres names the variable holding the PostgreSQL test server URL.
const EnvPostgres = "ONESTACK_TEST_POSTGRES"

// New returns a migrated SQLite store in t.TempDir().
func New(t testing.TB) *store.DB {
	t.Helper()
	return Open(t, "sqlite")
}

// Backends lists the stores tests run on: sqlite always, postgres when
// configured. In CI (CI=true) a missing PostgreSQL fails the test rather
// than silently testing less.
func Backends(t testing.TB) []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not set: .ci/run must start PostgreSQL and export it", EnvPostgres)
	}
	return []string{"sqlite"}
}

// Each runs fn once per backend as a subtest.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, Open(t, b)) })
	}
}

// Open returns a migrated store of the named backend, closed (and for
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, backend string) *store.DB {
	t.Helper()
	ctx := context.Background()
	var opts store.Options
	switch backend {
	case "sqlite":
		opts.DataDir = t.TempDir()
	case "postgres":
		u := PostgresURL(t)
		opts.URL = u
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	db, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates a fresh schema on the test server and returns a URL
// whose search_path selects it; the schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("%s is not set", EnvPostgres)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create test schema on %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return fmt.Sprint(u)
}
