package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ObjectAccount is a Swift account (AUTH_<project id>) with its metadata:
// lower-case header names (x-account-meta-*) to values.
type ObjectAccount struct {
	Name                 string
	Metadata             map[string]string
	CreatedAt, UpdatedAt time.Time
}

// ObjectContainer is a Swift container: its counters (kept by the
// transactions that write and remove its objects) and its metadata
// (x-container-meta-*, x-container-read, x-versions-location…).
type ObjectContainer struct {
	Account, Name        string
	ObjectCount          int64
	BytesUsed            int64
	Metadata             map[string]string
	CreatedAt, UpdatedAt time.Time
}

// Object is one stored Swift object. ID names its data file.
type Object struct {
	ID                       string
	Account, Container, Name string
	// Size is the bytes stored (an SLO's manifest); ListSize the bytes a
	// listing shows (an SLO's total).
	Size, ListSize int64
	ETag           string
	SLOETag        string // an SLO's own etag, "" otherwise
	ContentType    string
	Modified       time.Time
	// DeleteAt is X-Delete-At (unix seconds), 0 when none.
	DeleteAt int64
	Metadata map[string]string
}

// AccountUsage is what an account holds.
type AccountUsage struct {
	Containers, Objects, Bytes int64
}

// NameRange selects names for a listing in byte order: above Lower (or at
// it when LowerIncl), below Upper (or at it when UpperIncl); an empty bound
// is no bound. Desc lists from the top down. Limit is required.
type NameRange struct {
	Lower, Upper         string
	LowerIncl, UpperIncl bool
	Desc                 bool
	Limit                int
}

func (r NameRange) where(w *where, col string) {
	if r.Lower != "" {
		op := " > ?"
		if r.LowerIncl {
			op = " >= ?"
		}
		w.clauses = append(w.clauses, col+op)
		w.args = append(w.args, r.Lower)
	}
	if r.Upper != "" {
		op := " < ?"
		if r.UpperIncl {
			op = " <= ?"
		}
		w.clauses = append(w.clauses, col+op)
		w.args = append(w.args, r.Upper)
	}
}

func (r NameRange) order(col string) string {
	dir := " ASC"
	if r.Desc {
		dir = " DESC"
	}
	return " ORDER BY " + col + dir + " LIMIT " + fmt.Sprint(max(r.Limit, 1))
}

// GetObjectAccount reads an account; ErrNotFound when it was never written.
func (t *Tx) GetObjectAccount(ctx context.Context, name string) (ObjectAccount, error) {
	return one(ctx, t, func(s scanner) (ObjectAccount, error) {
		var a ObjectAccount
		var md string
		var created, updated int64
		err := s.Scan(&a.Name, &md, &created, &updated)
		a.Metadata, a.CreatedAt, a.UpdatedAt = strMap(md), fromMicros(created), fromMicros(updated)
		return a, err
	}, `SELECT name, metadata, created_at, updated_at FROM object_accounts WHERE name = ?`, name)
}

// PutObjectAccount creates the account or replaces its metadata.
func (t *Tx) PutObjectAccount(ctx context.Context, a ObjectAccount) error {
	res, err := t.exec(ctx, `UPDATE object_accounts SET metadata = ?, updated_at = ? WHERE name = ?`,
		mapJSON(a.Metadata), micros(a.UpdatedAt), a.Name)
	if err := affected(res, err); err != ErrNotFound {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO object_accounts (name, metadata, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		a.Name, mapJSON(a.Metadata), micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// ObjectAccountUsage counts an account's containers, objects and bytes.
func (t *Tx) ObjectAccountUsage(ctx context.Context, account string) (AccountUsage, error) {
	var u AccountUsage
	err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(object_count), 0), COALESCE(SUM(bytes_used), 0)
		FROM object_containers WHERE account = ?`, account).Scan(&u.Containers, &u.Objects, &u.Bytes)
	return u, err
}

const containerCols = `account, name, object_count, bytes_used, metadata, created_at, updated_at`

func scanContainer(s scanner) (ObjectContainer, error) {
	var c ObjectContainer
	var md string
	var created, updated int64
	err := s.Scan(&c.Account, &c.Name, &c.ObjectCount, &c.BytesUsed, &md, &created, &updated)
	c.Metadata, c.CreatedAt, c.UpdatedAt = strMap(md), fromMicros(created), fromMicros(updated)
	return c, err
}

// GetObjectContainer reads a container; ErrNotFound when there is none.
func (t *Tx) GetObjectContainer(ctx context.Context, account, name string) (ObjectContainer, error) {
	return one(ctx, t, scanContainer, `SELECT `+containerCols+` FROM object_containers WHERE account = ? AND name = ?`, account, name)
}

// LockObjectContainer reads a container and, on PostgreSQL, locks its row
// until the transaction ends (SQLite's writer holds the database anyway):
// the counters and quota checks of concurrent writes then take turns.
func (t *Tx) LockObjectContainer(ctx context.Context, account, name string) (ObjectContainer, error) {
	q := `SELECT ` + containerCols + ` FROM object_containers WHERE account = ? AND name = ?`
	if t.d.name() == "postgres" {
		q += ` FOR UPDATE`
	}
	return one(ctx, t, scanContainer, q, account, name)
}

// CreateObjectContainer inserts c; ErrConflict when it exists.
func (t *Tx) CreateObjectContainer(ctx context.Context, c ObjectContainer) error {
	_, err := t.exec(ctx, `INSERT INTO object_containers (`+containerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Account, c.Name, c.ObjectCount, c.BytesUsed, mapJSON(c.Metadata), micros(c.CreatedAt), micros(c.UpdatedAt))
	return t.mapErr(err)
}

// UpdateObjectContainerMetadata replaces a container's metadata.
func (t *Tx) UpdateObjectContainerMetadata(ctx context.Context, c ObjectContainer) error {
	res, err := t.exec(ctx, `UPDATE object_containers SET metadata = ?, updated_at = ? WHERE account = ? AND name = ?`,
		mapJSON(c.Metadata), micros(c.UpdatedAt), c.Account, c.Name)
	return affected(res, err)
}

// AddObjectContainerUsage changes a container's counters by the given
// amounts.
func (t *Tx) AddObjectContainerUsage(ctx context.Context, account, name string, objects, bytes int64) error {
	res, err := t.exec(ctx, `UPDATE object_containers SET object_count = object_count + ?, bytes_used = bytes_used + ?
		WHERE account = ? AND name = ?`, objects, bytes, account, name)
	return affected(res, err)
}

// DeleteObjectContainer removes an empty container: ErrConflict when it
// holds objects, ErrNotFound when there is none.
func (t *Tx) DeleteObjectContainer(ctx context.Context, account, name string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM object_objects WHERE account = ? AND container = ?`, account, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: container %s holds %d objects", ErrConflict, name, n)
	}
	res, err := t.exec(ctx, `DELETE FROM object_containers WHERE account = ? AND name = ?`, account, name)
	return affected(res, err)
}

// ListObjectContainers lists an account's containers in r.
func (t *Tx) ListObjectContainers(ctx context.Context, account string, r NameRange) ([]ObjectContainer, error) {
	w := &where{}
	w.eq("account", account, true)
	r.where(w, "name")
	return list(ctx, t, scanContainer, `SELECT `+containerCols+` FROM object_containers`+w.sql()+r.order("name"), w.args...)
}

const objectCols = `id, account, container, name, size, list_size, etag, slo_etag, content_type, modified, delete_at, metadata`

func scanObject(s scanner) (Object, error) {
	var o Object
	var md string
	var modified int64
	var deleteAt sql.NullInt64
	err := s.Scan(&o.ID, &o.Account, &o.Container, &o.Name, &o.Size, &o.ListSize, &o.ETag, &o.SLOETag, &o.ContentType,
		&modified, &deleteAt, &md)
	o.Modified, o.DeleteAt, o.Metadata = fromMicros(modified), deleteAt.Int64, strMap(md)
	return o, err
}

func zeroNull(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

// GetObject reads the object at a name; ErrNotFound when there is none.
func (t *Tx) GetObject(ctx context.Context, account, container, name string) (Object, error) {
	return one(ctx, t, scanObject, `SELECT `+objectCols+` FROM object_objects WHERE account = ? AND container = ? AND name = ?`,
		account, container, name)
}

// CreateObject inserts o; ErrConflict when its name is taken.
func (t *Tx) CreateObject(ctx context.Context, o Object) error {
	_, err := t.exec(ctx, `INSERT INTO object_objects (`+objectCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Account, o.Container, o.Name, o.Size, o.ListSize, o.ETag, o.SLOETag, o.ContentType, micros(o.Modified),
		zeroNull(o.DeleteAt), mapJSON(o.Metadata))
	return t.mapErr(err)
}

// UpdateObjectMetadata replaces an object's metadata, content type and
// expiry (a POST), keeping its data.
func (t *Tx) UpdateObjectMetadata(ctx context.Context, o Object) error {
	res, err := t.exec(ctx, `UPDATE object_objects SET metadata = ?, content_type = ?, delete_at = ?, modified = ? WHERE id = ?`,
		mapJSON(o.Metadata), o.ContentType, zeroNull(o.DeleteAt), micros(o.Modified), o.ID)
	return affected(res, err)
}

// MoveObject gives the object id a new container and name (its data file
// stays): versioned writes move a replaced object into the versions
// container and back.
func (t *Tx) MoveObject(ctx context.Context, id, container, name string) error {
	res, err := t.exec(ctx, `UPDATE object_objects SET container = ?, name = ? WHERE id = ?`, container, name, id)
	return t.mapErr(affected(res, err))
}

// DeleteObjectRow removes the object id.
func (t *Tx) DeleteObjectRow(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM object_objects WHERE id = ?`, id)
	return affected(res, err)
}

// ListObjects lists a container's objects whose names are in r and start
// with prefix.
func (t *Tx) ListObjects(ctx context.Context, account, container, prefix string, r NameRange) ([]Object, error) {
	w := &where{}
	w.eq("account", account, true).eq("container", container, true)
	r.where(w, "name")
	if prefix != "" {
		// The prefix bounds the scan from below; the caller stops at the
		// first name past it (it has the upper bound in r when it can).
		w.clauses = append(w.clauses, "name >= ?")
		w.args = append(w.args, prefix)
	}
	return list(ctx, t, scanObject, `SELECT `+objectCols+` FROM object_objects`+w.sql()+r.order("name"), w.args...)
}

// ObjectEntry is an object as a listing shows it.
type ObjectEntry struct {
	Name                       string
	Bytes                      int64
	ETag, SLOETag, ContentType string
	Modified                   time.Time
}

// ListObjectEntries lists a container's objects in r as a listing shows
// them, reading only the columns it needs: with namesOnly, only names,
// which the (account, container, name) index answers alone.
func (t *Tx) ListObjectEntries(ctx context.Context, account, container string, r NameRange, namesOnly bool) ([]ObjectEntry, error) {
	w := &where{}
	w.eq("account", account, true).eq("container", container, true)
	r.where(w, "name")
	if namesOnly {
		return listN(ctx, t, r.Limit, func(s scanner) (ObjectEntry, error) {
			var e ObjectEntry
			return e, s.Scan(&e.Name)
		}, `SELECT name FROM object_objects`+w.sql()+r.order("name"), w.args...)
	}
	return listN(ctx, t, r.Limit, func(s scanner) (ObjectEntry, error) {
		var e ObjectEntry
		var modified int64
		err := s.Scan(&e.Name, &e.Bytes, &e.ETag, &e.SLOETag, &e.ContentType, &modified)
		e.Modified = fromMicros(modified)
		return e, err
	}, `SELECT name, list_size, etag, slo_etag, content_type, modified FROM object_objects`+w.sql()+r.order("name"), w.args...)
}

// ExpiredObjects returns up to limit objects whose X-Delete-At is at or
// before now (unix seconds), soonest first.
func (t *Tx) ExpiredObjects(ctx context.Context, now int64, limit int) ([]Object, error) {
	return list(ctx, t, scanObject, `SELECT `+objectCols+` FROM object_objects WHERE delete_at IS NOT NULL AND delete_at <= ?
		ORDER BY delete_at LIMIT ?`, now, limit)
}

// ObjectIDs returns which of ids name a stored object.
func (t *Tx) ObjectIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		w := &where{}
		w.in("id", ids[:n])
		rows, err := t.query(ctx, `SELECT id FROM object_objects`+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

// ObjectContainerTotals recounts a container from its rows: what its
// counters must say (tests and doctor).
func (t *Tx) ObjectContainerTotals(ctx context.Context, account, container string) (objects, bytes int64, err error) {
	err = t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM object_objects WHERE account = ? AND container = ?`,
		account, container).Scan(&objects, &bytes)
	return objects, bytes, err
}
