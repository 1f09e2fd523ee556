package store

import (
	"testing"
)

func TestPostgresRebind(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"none", `SELECT 1`, `SELECT 1`},
		{"one", `SELECT * FROM users WHERE id = ?`, `SELECT * FROM users WHERE id = $1`},
		{"several", `UPDATE t SET a = ?, b = ? WHERE c = ?`, `UPDATE t SET a = $1, b = $2 WHERE c = $3`},
		{"adjacent", `VALUES (?,?)`, `VALUES ($1,$2)`},
		{"more than nine", `IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{"inside a literal", `SELECT '?' WHERE a = ?`, `SELECT '?' WHERE a = $1`},
		{"literal with several", `WHERE a = 'why? how?' AND b = ?`, `WHERE a = 'why? how?' AND b = $1`},
		{"escaped quote in literal", `WHERE a = 'it''s ?' AND b = ?`, `WHERE a = 'it''s ?' AND b = $1`},
		{"empty literal", `WHERE a = '' AND b = ?`, `WHERE a = '' AND b = $1`},
		{"literal then placeholder then literal", `SELECT ?, '?', ?, '?'`, `SELECT $1, '?', $2, '?'`},
		{"the store's own form", `DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = ?`, `DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = $1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				if got := (postgresDialect{}).rebind(c.in); got != c.want {
					t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
				}
			}
			if got := (sqliteDialect{}).rebind(c.in); got != c.in {
				t.Errorf("sqlite rebind(%q) = %q, want it unchanged", c.in, got)
			}
		})
	}
}
