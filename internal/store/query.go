package store

import (
	"context"
	"encoding/json"
	"strings"
)

// where builds an AND of equality conditions for list filters.
type where struct {
	clauses []string
	args    []any
}

// eq adds "col = v" when set is true.
func (w *where) eq(col string, v any, set bool) *where {
	if set {
		w.clauses = append(w.clauses, col+" = ?")
		w.args = append(w.args, v)
	}
	return w
}

// in adds "col IN (…)"; an empty list matches nothing.
func (w *where) in(col string, vs []string) *where {
	if len(vs) == 0 {
		w.clauses = append(w.clauses, "1 = 0")
		return w
	}
	w.clauses = append(w.clauses, col+" IN (?"+strings.Repeat(", ?", len(vs)-1)+")")
	for _, v := range vs {
		w.args = append(w.args, v)
	}
	return w
}

func (w *where) sql() string {
	if len(w.clauses) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.clauses, " AND ")
}

// scanner is the part of *sql.Rows and *sql.Row that scan functions need.
type scanner interface{ Scan(dest ...any) error }

// list runs q and scans every row with scan.
func list[T any](ctx context.Context, t *Tx, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	return listN(ctx, t, 0, scan, q, args...)
}

// listN is list for about n rows (a LIMIT): it sizes the result once.
func listN[T any](ctx context.Context, t *Tx, n int, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0, n)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// one runs q expecting one row; ErrNotFound when there is none.
func one[T any](ctx context.Context, t *Tx, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	v, err := scan(t.queryRow(ctx, q, args...))
	return v, t.mapErr(err)
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// extra decodes a JSON object column; a damaged value reads as empty.
func extra(s string) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func stringList(s string) []string {
	var l []string
	_ = json.Unmarshal([]byte(s), &l)
	if l == nil {
		l = []string{}
	}
	return l
}

// Epoch returns the named counter; services cache what they derive from the
// store and drop the cache when the epoch moves.
func (t *Tx) Epoch(ctx context.Context, name string) (int64, error) {
	var v int64
	err := t.queryRow(ctx, `SELECT value FROM epochs WHERE name = ?`, name).Scan(&v)
	return v, t.mapErr(err)
}

// BumpEpoch advances the named counter and returns its new value.
func (t *Tx) BumpEpoch(ctx context.Context, name string) (int64, error) {
	return t.advanceEpoch(ctx, name, 1)
}

// advanceEpoch adds n to the named counter and returns its new value; the
// row stays locked until the transaction ends.
func (t *Tx) advanceEpoch(ctx context.Context, name string, n int64) (int64, error) {
	if _, err := t.exec(ctx, `UPDATE epochs SET value = value + ? WHERE name = ?`, n, name); err != nil {
		return 0, err
	}
	return t.Epoch(ctx, name)
}

// after adds a keyset condition: rows strictly after the marker row in the
// order (col, id), ascending or descending. Lists use it with
// "ORDER BY col, id LIMIT n+1" instead of OFFSET, so a page costs the same
// at row 10 and row 1,000,000 (the index on (col, id) serves both).
func (w *where) after(col string, desc bool, markerVal any, markerID string) *where {
	op := ">"
	if desc {
		op = "<"
	}
	w.clauses = append(w.clauses, "("+col+" "+op+" ? OR ("+col+" = ? AND id "+op+" ?))")
	w.args = append(w.args, markerVal, markerVal, markerID)
	return w
}

// Page asks for one page of a list: at most Limit rows (0: the caller's
// default) after the row with id Marker.
type Page struct {
	Limit  int
	Marker string
}

// orderPage returns the WHERE clause, the keyset order (col, id) in one
// direction and, when limit is positive, the LIMIT (its argument appended).
func (w *where) orderPage(col string, desc bool, limit int) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	q := w.sql() + ` ORDER BY ` + col + dir + `, id` + dir
	if limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, limit)
	}
	return q
}

// jsonMap reads a JSON object column of strings; a bad value reads as empty.
func jsonMap(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
