package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Image statuses, as Glance names them.
const (
	ImageQueued      = "queued"
	ImageSaving      = "saving"
	ImageActive      = "active"
	ImageKilled      = "killed"
	ImageDeleted     = "deleted"
	ImageUploading   = "uploading"
	ImageImporting   = "importing"
	ImageDeactivated = "deactivated"
)

// Image transfers: data in flight for an image, owned by one worker.
const (
	TransferNone   = ""
	TransferUpload = "upload" // PUT /file into the store (status saving)
	TransferStage  = "stage"  // PUT /stage into staging (status uploading)
	TransferImport = "import" // staging into the store (status importing)
)

// Image is a Glance image row with its properties and tags. Nil pointers
// are values Glance reports as JSON null.
type Image struct {
	ID, Owner, Status, Visibility     string
	Name, DiskFormat, ContainerFormat *string
	Size, VirtualSize                 *int64
	Checksum, OSHashAlgo, OSHashValue *string
	MinDisk, MinRAM                   int64
	Protected, Hidden                 bool
	// Properties are the extra (user-defined) properties.
	Properties map[string]string
	// Tags keep the order they were added in.
	Tags []string
	// Revision advances on every UpdateImage.
	Revision int64
	// Transfer is the data transfer in flight ("" when none), run by
	// Worker, which refreshes HeartbeatAt while it runs.
	Transfer, Worker string
	HeartbeatAt      time.Time
	// ReservedBytes is what the transfer holds of the owner's byte quota.
	ReservedBytes int64
	// StagedSize is the size of data staged for import, 0 when none.
	StagedSize           int64
	CreatedAt, UpdatedAt time.Time
}

// ImageMember shares an image with a project.
type ImageMember struct {
	ImageID, MemberID, Status string
	CreatedAt, UpdatedAt      time.Time
}

// ImageTask records one import request.
type ImageTask struct {
	ID, ImageID, Type, Status, Owner, UserID, RequestID string
	Input, Result                                       map[string]any
	Message                                             string
	CreatedAt, UpdatedAt, ExpiresAt                     time.Time
}

// ImageUsage is what a project holds against its image quotas.
type ImageUsage struct {
	Images, Bytes int64
}

// ErrQuota is returned by ChangeImageUsage when a change would pass a limit.
var ErrQuota = errors.New("image quota exceeded")

// ---- images

const imageCols = `id, name, owner, status, visibility, disk_format, container_format, size, virtual_size,
	checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, revision,
	transfer, worker, heartbeat_at, reserved_bytes, staged_size, created_at, updated_at`

func scanImage(s scanner) (Image, error) {
	var im Image
	var name, disk, container, checksum, algo, hash sql.NullString
	var size, vsize sql.NullInt64
	var heartbeat, created, updated int64
	err := s.Scan(&im.ID, &name, &im.Owner, &im.Status, &im.Visibility, &disk, &container, &size, &vsize,
		&checksum, &algo, &hash, &im.MinDisk, &im.MinRAM, &im.Protected, &im.Hidden, &im.Revision,
		&im.Transfer, &im.Worker, &heartbeat, &im.ReservedBytes, &im.StagedSize, &created, &updated)
	im.Name, im.DiskFormat, im.ContainerFormat = nullStr(name), nullStr(disk), nullStr(container)
	im.Checksum, im.OSHashAlgo, im.OSHashValue = nullStr(checksum), nullStr(algo), nullStr(hash)
	im.Size, im.VirtualSize = nullInt(size), nullInt(vsize)
	im.HeartbeatAt, im.CreatedAt, im.UpdatedAt = fromMicros(heartbeat), fromMicros(created), fromMicros(updated)
	return im, err
}

func nullStr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	s := v.String
	return &s
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	n := v.Int64
	return &n
}

func imageArgs(im *Image) []any {
	return []any{im.Name, im.Owner, im.Status, im.Visibility, im.DiskFormat, im.ContainerFormat, im.Size, im.VirtualSize,
		im.Checksum, im.OSHashAlgo, im.OSHashValue, im.MinDisk, im.MinRAM, im.Protected, im.Hidden,
		im.Transfer, im.Worker, micros(im.HeartbeatAt), im.ReservedBytes, im.StagedSize, micros(im.UpdatedAt)}
}

// CreateImage inserts im with its properties and tags at revision 1;
// ErrConflict when the id is taken, also by a deleted image.
func (t *Tx) CreateImage(ctx context.Context, im *Image) error {
	im.Revision = 1
	args := append([]any{im.ID}, imageArgs(im)...)
	args = append(args, micros(im.CreatedAt))
	_, err := t.exec(ctx, `INSERT INTO images (id, name, owner, status, visibility, disk_format, container_format, size, virtual_size,
		checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden,
		transfer, worker, heartbeat_at, reserved_bytes, staged_size, updated_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return t.mapErr(err)
	}
	return t.writeImageChildren(ctx, im)
}

func (t *Tx) writeImageChildren(ctx context.Context, im *Image) error {
	for k, v := range im.Properties {
		if _, err := t.exec(ctx, `INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)`, im.ID, k, v); err != nil {
			return t.mapErr(err)
		}
	}
	for i, tag := range im.Tags {
		if _, err := t.exec(ctx, `INSERT INTO image_tags (image_id, tag, pos) VALUES (?, ?, ?)`, im.ID, tag, i); err != nil {
			return t.mapErr(err)
		}
	}
	return nil
}

// GetImage reads a live (not deleted) image with its properties and tags.
func (t *Tx) GetImage(ctx context.Context, id string) (Image, error) {
	im, err := one(ctx, t, scanImage, `SELECT `+imageCols+` FROM images WHERE id = ? AND deleted = FALSE`, id)
	if err != nil {
		return im, err
	}
	ims := []Image{im}
	if err := t.loadImageChildren(ctx, ims); err != nil {
		return im, err
	}
	return ims[0], nil
}

// loadImageChildren fills the properties and tags of ims in two queries.
func (t *Tx) loadImageChildren(ctx context.Context, ims []Image) error {
	if len(ims) == 0 {
		return nil
	}
	idx := make(map[string]int, len(ims))
	ids := make([]string, len(ims))
	for i := range ims {
		idx[ims[i].ID] = i
		ids[i] = ims[i].ID
		ims[i].Properties = map[string]string{}
		ims[i].Tags = []string{}
	}
	in := &where{}
	in.in("image_id", ids)
	rows, err := t.query(ctx, `SELECT image_id, name, value FROM image_properties`+in.sql(), in.args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			rows.Close()
			return err
		}
		ims[idx[id]].Properties[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = t.query(ctx, `SELECT image_id, tag FROM image_tags`+in.sql()+` ORDER BY image_id, pos`, in.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		ims[idx[id]].Tags = append(ims[idx[id]].Tags, tag)
	}
	return rows.Err()
}

// UpdateImage writes every mutable field of im, its properties and its
// tags, if the row still has im.Revision: ErrConflict when another write
// came first (re-read and try again), ErrNotFound when the image is gone.
// On success im.Revision is the new revision.
func (t *Tx) UpdateImage(ctx context.Context, im *Image) error {
	args := append(imageArgs(im), im.ID, im.Revision)
	err := affected(t.exec(ctx, `UPDATE images SET name = ?, owner = ?, status = ?, visibility = ?, disk_format = ?,
		container_format = ?, size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?,
		min_disk = ?, min_ram = ?, protected = ?, os_hidden = ?, transfer = ?, worker = ?, heartbeat_at = ?,
		reserved_bytes = ?, staged_size = ?, updated_at = ?, revision = revision + 1
		WHERE id = ? AND revision = ? AND deleted = FALSE`, args...))
	if errors.Is(err, ErrNotFound) {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM images WHERE id = ? AND deleted = FALSE`, im.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: image %s changed since revision %d", ErrConflict, im.ID, im.Revision)
		}
		return ErrNotFound
	}
	if err != nil {
		return t.mapErr(err)
	}
	im.Revision++
	for _, q := range []string{`DELETE FROM image_properties WHERE image_id = ?`, `DELETE FROM image_tags WHERE image_id = ?`} {
		if _, err := t.exec(ctx, q, im.ID); err != nil {
			return err
		}
	}
	return t.writeImageChildren(ctx, im)
}

// HeartbeatImage records that worker's transfer on image id is alive and
// holds reserved bytes of quota; ErrNotFound when the image is deleted or
// the transfer is no longer this worker's.
func (t *Tx) HeartbeatImage(ctx context.Context, id, worker string, at time.Time, reserved int64) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE images SET heartbeat_at = ?, reserved_bytes = ?
		WHERE id = ? AND worker = ? AND transfer <> '' AND deleted = FALSE`, micros(at), reserved, id, worker)))
}

// DeleteImage marks an image deleted and drops its properties, tags and
// members. The row stays so that its id is never handed out again.
func (t *Tx) DeleteImage(ctx context.Context, id string, at time.Time) error {
	err := affected(t.exec(ctx, `UPDATE images SET deleted = TRUE, deleted_at = ?, updated_at = ?, status = 'deleted',
		transfer = '', worker = '', reserved_bytes = 0, staged_size = 0, revision = revision + 1
		WHERE id = ? AND deleted = FALSE`, micros(at), micros(at), id))
	if err != nil {
		return t.mapErr(err)
	}
	for _, q := range []string{`DELETE FROM image_properties WHERE image_id = ?`, `DELETE FROM image_tags WHERE image_id = ?`,
		`DELETE FROM image_members WHERE image_id = ?`} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// ListStaleImageTransfers lists live images with a transfer in flight
// whose heartbeat is older than before: their worker stopped.
func (t *Tx) ListStaleImageTransfers(ctx context.Context, before time.Time) ([]Image, error) {
	ims, err := list(ctx, t, scanImage, `SELECT `+imageCols+` FROM images
		WHERE transfer <> '' AND heartbeat_at < ? AND deleted = FALSE ORDER BY id`, micros(before))
	if err != nil {
		return nil, err
	}
	return ims, t.loadImageChildren(ctx, ims)
}

// ImageSortKeys are the keys a list can be sorted by, as Glance allows.
var ImageSortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

// ImageSort is one sort key of a list.
type ImageSort struct {
	Key  string // one of ImageSortKeys
	Desc bool
}

// sortExpr is the SQL a sort key orders by: NULLs become a value below any
// real one, so both databases order them alike and keyset conditions work.
func sortExpr(key string) string {
	switch key {
	case "name", "container_format", "disk_format":
		return "COALESCE(" + key + ", '')"
	case "size":
		return "COALESCE(size, -1)"
	}
	return key
}

// sortValue is im's value of sortExpr(key).
func sortValue(im *Image, key string) any {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch key {
	case "name":
		return str(im.Name)
	case "container_format":
		return str(im.ContainerFormat)
	case "disk_format":
		return str(im.DiskFormat)
	case "size":
		if im.Size == nil {
			return int64(-1)
		}
		return *im.Size
	case "status":
		return im.Status
	case "id":
		return im.ID
	case "created_at":
		return micros(im.CreatedAt)
	case "updated_at":
		return micros(im.UpdatedAt)
	}
	return nil
}

// TimeFilter compares created_at or updated_at with At.
type TimeFilter struct {
	Column string // created_at | updated_at
	Op     string // eq, neq, gt, gte, lt, lte
	At     time.Time
}

// ImageQuery selects one page of images as one caller sees them.
type ImageQuery struct {
	// AllProjects drops the visibility rules (an admin's view); otherwise
	// Project sees public images, its own, and shared images where it is a
	// member with MemberStatus ("all" for any status).
	AllProjects  bool
	Project      string
	MemberStatus string
	// Visibility: "" is Glance's default (no community images but one's
	// own), "all" is every visibility, else exactly that one.
	Visibility string
	// Hidden selects os_hidden images instead of visible ones.
	Hidden bool

	IDs, Names, Statuses, DiskFormats, ContainerFormats []string // nil: any
	Owner                                               *string
	Protected                                           *bool
	Checksum, OSHashValue                               *string
	// Ints are exact matches on integer columns (size, min_disk, min_ram,
	// virtual_size); Mins and Maxes are inclusive bounds on them.
	Ints, Mins, Maxes map[string]int64
	Times             []TimeFilter
	// Tags must all be on the image; Properties must all match.
	Tags       []string
	Properties map[string]string

	// Sort ends with id; Marker is the last image of the previous page.
	Sort   []ImageSort
	Marker *Image
	Limit  int
}

var intColumns = map[string]bool{"size": true, "min_disk": true, "min_ram": true, "virtual_size": true}

var timeOps = map[string]string{"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

// ListImages returns at most q.Limit images matching q, in q.Sort order,
// after q.Marker, each with its properties and tags. Killed and deleted
// images are never listed.
func (t *Tx) ListImages(ctx context.Context, q ImageQuery) ([]Image, error) {
	w := &where{}
	w.clauses = append(w.clauses, "deleted = FALSE", "status <> 'killed'")
	w.eq("os_hidden", q.Hidden, true)
	if q.AllProjects {
		switch q.Visibility {
		case "":
			w.clauses = append(w.clauses, "(visibility <> 'community' OR owner = ?)")
			w.args = append(w.args, q.Project)
		case "all":
		default:
			w.eq("visibility", q.Visibility, true)
		}
	}
	for _, f := range []struct {
		col string
		vs  []string
	}{{"id", q.IDs}, {"name", q.Names}, {"status", q.Statuses}, {"disk_format", q.DiskFormats}, {"container_format", q.ContainerFormats}} {
		if f.vs != nil {
			w.in(f.col, f.vs)
		}
	}
	if q.Owner != nil {
		w.eq("owner", *q.Owner, true)
	}
	if q.Protected != nil {
		w.eq("protected", *q.Protected, true)
	}
	if q.Checksum != nil {
		w.eq("checksum", *q.Checksum, true)
	}
	if q.OSHashValue != nil {
		w.eq("os_hash_value", *q.OSHashValue, true)
	}
	for _, f := range []struct {
		op string
		m  map[string]int64
	}{{"=", q.Ints}, {">=", q.Mins}, {"<=", q.Maxes}} {
		for _, k := range sortedKeys(f.m) {
			if !intColumns[k] {
				return nil, fmt.Errorf("filter on %s: not an integer column", k)
			}
			w.clauses = append(w.clauses, k+" "+f.op+" ?")
			w.args = append(w.args, f.m[k])
		}
	}
	for _, tf := range q.Times {
		op, ok := timeOps[tf.Op]
		if !ok || (tf.Column != "created_at" && tf.Column != "updated_at") {
			return nil, fmt.Errorf("time filter %s %s: unknown column or operator", tf.Column, tf.Op)
		}
		w.clauses = append(w.clauses, tf.Column+" "+op+" ?")
		w.args = append(w.args, micros(tf.At))
	}
	for _, tag := range q.Tags {
		w.clauses = append(w.clauses, "EXISTS (SELECT 1 FROM image_tags g WHERE g.image_id = images.id AND g.tag = ?)")
		w.args = append(w.args, tag)
	}
	for _, k := range sortedKeys(q.Properties) {
		w.clauses = append(w.clauses, "EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id AND p.name = ? AND p.value = ?)")
		w.args = append(w.args, k, q.Properties[k])
	}

	sorts := q.Sort
	if len(sorts) == 0 || sorts[len(sorts)-1].Key != "id" {
		return nil, errors.New("list images: the sort must end with id")
	}
	for _, s := range sorts {
		if sortValue(&Image{}, s.Key) == nil {
			return nil, fmt.Errorf("list images: unknown sort key %q", s.Key)
		}
	}
	if q.Marker != nil {
		if len(sorts) == 2 && sorts[0].Desc == sorts[1].Desc {
			w.after(sortExpr(sorts[0].Key), sorts[0].Desc, sortValue(q.Marker, sorts[0].Key), q.Marker.ID)
		} else {
			afterKeys(w, sorts, q.Marker)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 25
	}
	var ims []Image
	var err error
	if q.AllProjects {
		ims, err = list(ctx, t, scanImage, `SELECT `+imageCols+` FROM images`+w.sql()+orderBy(sorts, false)+fmt.Sprintf(" LIMIT %d", limit), w.args...)
	} else {
		ims, err = t.listVisible(ctx, q, w, sorts, limit)
	}
	if err != nil {
		return nil, err
	}
	return ims, t.loadImageChildren(ctx, ims)
}

// orderBy is the ORDER BY clause of sorts, on the sort expressions or, in
// the outer query of a union, on the k0, k1, … columns that carry them.
func orderBy(sorts []ImageSort, byAlias bool) string {
	order := make([]string, len(sorts))
	for i, s := range sorts {
		order[i] = sortExpr(s.Key)
		if byAlias {
			order[i] = fmt.Sprintf("k%d", i)
		}
		if s.Desc {
			order[i] += " DESC"
		}
	}
	return " ORDER BY " + strings.Join(order, ", ")
}

// listVisible lists the images a project sees as the union of what it may
// see, each part read in sort order through its own index and cut at the
// page size: its own images, others' public ones, others' community ones,
// and others' shared ones it is a member of. A page costs the same whether
// the cloud holds a thousand images of other projects or a million, which
// one query with an OR of these conditions cannot promise.
func (t *Tx) listVisible(ctx context.Context, q ImageQuery, w *where, sorts []ImageSort, limit int) ([]Image, error) {
	type part struct {
		cond string
		args []any
		vis  string // the visibility the part holds; "" for the owner's part
	}
	var parts []part
	if q.Project != "" {
		own := part{cond: "owner = ?", args: []any{q.Project}}
		if q.Visibility != "" && q.Visibility != "all" {
			own.cond += " AND visibility = ?"
			own.args = append(own.args, q.Visibility)
		}
		parts = append(parts, own)
	}
	parts = append(parts,
		part{cond: "visibility = 'public' AND owner <> ?", args: []any{q.Project}, vis: "public"},
		part{cond: "visibility = 'community' AND owner <> ?", args: []any{q.Project}, vis: "community"})
	if q.Project != "" {
		member := part{cond: "visibility = 'shared' AND owner <> ? AND id IN (SELECT image_id FROM image_members WHERE member_id = ?",
			args: []any{q.Project, q.Project}, vis: "shared"}
		if q.MemberStatus != "all" {
			member.cond += " AND status = ?"
			member.args = append(member.args, q.MemberStatus)
		}
		member.cond += ")"
		parts = append(parts, member)
	}
	keys := make([]string, len(sorts))
	for i, s := range sorts {
		keys[i] = fmt.Sprintf("%s AS k%d", sortExpr(s.Key), i)
	}
	var selects []string
	var args []any
	for _, p := range parts {
		switch {
		case p.vis == "":
		case q.Visibility == "" && p.vis == "community": // Glance: others' community images only on request
			continue
		case q.Visibility != "" && q.Visibility != "all" && q.Visibility != p.vis:
			continue
		}
		pw := &where{clauses: append([]string{p.cond}, w.clauses...), args: append(append([]any{}, p.args...), w.args...)}
		selects = append(selects, `SELECT * FROM (SELECT `+imageCols+`, `+strings.Join(keys, ", ")+` FROM images`+pw.sql()+
			orderBy(sorts, false)+fmt.Sprintf(" LIMIT %d", limit)+fmt.Sprintf(") p%d", len(selects)))
		args = append(args, pw.args...)
	}
	if len(selects) == 0 {
		return nil, nil
	}
	scan := func(s scanner) (Image, error) { return scanImage(extraColumns{s, len(sorts)}) }
	return list(ctx, t, scan, strings.Join(selects, " UNION ALL ")+orderBy(sorts, true)+fmt.Sprintf(" LIMIT %d", limit), args...)
}

// extraColumns scans a row that carries n columns after an image's own,
// and drops them.
type extraColumns struct {
	s scanner
	n int
}

func (e extraColumns) Scan(dest ...any) error {
	for range e.n {
		dest = append(dest, new(any))
	}
	return e.s.Scan(dest...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// afterKeys adds the keyset condition "after the marker row" for sort keys
// with mixed directions: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …, each
// comparison in its key's direction. where.after covers the common
// one-key-plus-id case.
func afterKeys(w *where, sorts []ImageSort, marker *Image) {
	var ors []string
	for i, s := range sorts {
		var ands []string
		for _, prev := range sorts[:i] {
			ands = append(ands, sortExpr(prev.Key)+" = ?")
			w.args = append(w.args, sortValue(marker, prev.Key))
		}
		op := ">"
		if s.Desc {
			op = "<"
		}
		ands = append(ands, sortExpr(s.Key)+" "+op+" ?")
		w.args = append(w.args, sortValue(marker, s.Key))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	w.clauses = append(w.clauses, "("+strings.Join(ors, " OR ")+")")
}

// ---- members

const memberCols = `image_id, member_id, status, created_at, updated_at`

func scanMember(s scanner) (ImageMember, error) {
	var m ImageMember
	var created, updated int64
	err := s.Scan(&m.ImageID, &m.MemberID, &m.Status, &created, &updated)
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, err
}

// CreateImageMember inserts m; ErrConflict when the project is a member already.
func (t *Tx) CreateImageMember(ctx context.Context, m ImageMember) error {
	_, err := t.exec(ctx, `INSERT INTO image_members (`+memberCols+`) VALUES (?, ?, ?, ?, ?)`,
		m.ImageID, m.MemberID, m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
	return t.mapErr(err)
}

// GetImageMember reads one membership.
func (t *Tx) GetImageMember(ctx context.Context, imageID, memberID string) (ImageMember, error) {
	return one(ctx, t, scanMember, `SELECT `+memberCols+` FROM image_members WHERE image_id = ? AND member_id = ?`, imageID, memberID)
}

// ListImageMembers lists an image's members by creation time; memberID
// narrows the list to that project when not empty.
func (t *Tx) ListImageMembers(ctx context.Context, imageID, memberID string) ([]ImageMember, error) {
	w := &where{}
	w.eq("image_id", imageID, true).eq("member_id", memberID, memberID != "")
	return list(ctx, t, scanMember, `SELECT `+memberCols+` FROM image_members`+w.sql()+` ORDER BY created_at, member_id`, w.args...)
}

// CountImageMembers counts an image's members.
func (t *Tx) CountImageMembers(ctx context.Context, imageID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM image_members WHERE image_id = ?`, imageID).Scan(&n)
	return n, err
}

// UpdateImageMember writes a membership's status.
func (t *Tx) UpdateImageMember(ctx context.Context, m ImageMember) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?`,
		m.Status, micros(m.UpdatedAt), m.ImageID, m.MemberID)))
}

// DeleteImageMember removes a membership.
func (t *Tx) DeleteImageMember(ctx context.Context, imageID, memberID string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM image_members WHERE image_id = ? AND member_id = ?`, imageID, memberID)))
}

// ---- usage

// GetImageUsage reads a project's image usage; zero when it has none.
func (t *Tx) GetImageUsage(ctx context.Context, project string) (ImageUsage, error) {
	var u ImageUsage
	err := t.queryRow(ctx, `SELECT images, bytes FROM image_usage WHERE project_id = ?`, project).Scan(&u.Images, &u.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return u, nil
	}
	return u, err
}

// ChangeImageUsage adds images and bytes (either may be negative) to a
// project's usage. An increase that would take usage past a limit (a
// negative limit means none) changes nothing and returns ErrQuota with the
// usage as it is. The check and the change are one conditional UPDATE, so
// racing transactions can never pass a limit together.
func (t *Tx) ChangeImageUsage(ctx context.Context, project string, images, bytes, maxImages, maxBytes int64) (ImageUsage, error) {
	if _, err := t.exec(ctx, `INSERT INTO image_usage (project_id, images, bytes) VALUES (?, 0, 0)
		ON CONFLICT (project_id) DO NOTHING`, project); err != nil {
		return ImageUsage{}, err
	}
	q := `UPDATE image_usage SET images = images + ?, bytes = bytes + ? WHERE project_id = ?`
	args := []any{images, bytes, project}
	if images > 0 && maxImages >= 0 {
		q += ` AND images + ? <= ?`
		args = append(args, images, maxImages)
	}
	if bytes > 0 && maxBytes >= 0 {
		q += ` AND bytes + ? <= ?`
		args = append(args, bytes, maxBytes)
	}
	err := affected(t.exec(ctx, q, args...))
	u, uerr := t.GetImageUsage(ctx, project)
	if errors.Is(err, ErrNotFound) {
		if uerr != nil {
			return u, uerr
		}
		return u, ErrQuota
	}
	if err != nil {
		return u, err
	}
	return u, uerr
}

// ---- tasks

const taskCols = `id, image_id, type, status, owner, user_id, request_id, input, result, message, created_at, updated_at, expires_at`

func scanTask(s scanner) (ImageTask, error) {
	var k ImageTask
	var in, res string
	var created, updated, expires int64
	err := s.Scan(&k.ID, &k.ImageID, &k.Type, &k.Status, &k.Owner, &k.UserID, &k.RequestID, &in, &res, &k.Message,
		&created, &updated, &expires)
	k.Input, k.Result = extra(in), extra(res)
	k.CreatedAt, k.UpdatedAt, k.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	return k, err
}

// CreateImageTask inserts k.
func (t *Tx) CreateImageTask(ctx context.Context, k ImageTask) error {
	_, err := t.exec(ctx, `INSERT INTO image_tasks (`+taskCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.ImageID, k.Type, k.Status, k.Owner, k.UserID, k.RequestID, toJSON(k.Input), toJSON(k.Result), k.Message,
		micros(k.CreatedAt), micros(k.UpdatedAt), micros(k.ExpiresAt))
	return t.mapErr(err)
}

// UpdateImageTask writes a task's status, result and message.
func (t *Tx) UpdateImageTask(ctx context.Context, k ImageTask) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE image_tasks SET status = ?, result = ?, message = ?, updated_at = ?, expires_at = ? WHERE id = ?`,
		k.Status, toJSON(k.Result), k.Message, micros(k.UpdatedAt), micros(k.ExpiresAt), k.ID)))
}

// GetImageTask reads one task.
func (t *Tx) GetImageTask(ctx context.Context, id string) (ImageTask, error) {
	return one(ctx, t, scanTask, `SELECT `+taskCols+` FROM image_tasks WHERE id = ?`, id)
}

// ListImageTasks lists an image's tasks, oldest first.
func (t *Tx) ListImageTasks(ctx context.Context, imageID string) ([]ImageTask, error) {
	return list(ctx, t, scanTask, `SELECT `+taskCols+` FROM image_tasks WHERE image_id = ? ORDER BY created_at, id`, imageID)
}
