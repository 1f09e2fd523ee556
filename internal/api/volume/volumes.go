package volume

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

func (a *API) volumeRoutes() []rest.Route {
	md := metadataOf{kind: "Volume", set: a.svc.SetMetadata, del: a.svc.DeleteMetadata,
		get: func(ctx context.Context, c *auth.Credentials, id string) (map[string]string, error) {
			v, err := a.svc.Get(ctx, c, id)
			return v.Metadata, err
		}}
	return append([]rest.Route{
		rest.R("GET", p("/volumes"), reader, a.listVolumes),
		rest.R("GET", p("/volumes/detail"), reader, a.listVolumesDetail),
		rest.R("POST", p("/volumes"), member, a.createVolume),
		rest.R("GET", p("/volumes/{id}"), reader, a.showVolume),
		rest.R("PUT", p("/volumes/{id}"), member, a.updateVolume),
		rest.R("DELETE", p("/volumes/{id}"), member, a.deleteVolume),
		rest.R("POST", p("/volumes/{id}/action"), member, a.volumeAction),
	}, md.routes("/volumes")...)
}

// DecodeVolumeCreate reads POST /volumes.
func DecodeVolumeCreate(body []byte) (svc.CreateSpec, error) {
	f, err := object(body, "volume")
	if err != nil {
		return svc.CreateSpec{}, err
	}
	var s svc.CreateSpec
	var e [12]error
	var hasSize bool
	s.SizeGB, hasSize, e[0] = f.integer("size")
	s.Name, _, e[1] = f.str("name", 255)
	if s.Name == "" {
		s.Name, _, e[2] = f.str("display_name", 255)
	}
	s.Description, _, e[3] = f.str("description", 255)
	s.Type, _, e[4] = f.str("volume_type", 255)
	s.Zone, _, e[5] = f.str("availability_zone", 255)
	s.ImageID, _, e[6] = f.str("imageRef", 255)
	if s.ImageID == "" {
		s.ImageID, _, e[7] = f.str("image_id", 255)
	}
	s.SnapshotID, _, e[8] = f.str("snapshot_id", 36)
	s.SourceVolID, _, e[9] = f.str("source_volid", 36)
	s.Metadata, _, e[10] = f.strMap("metadata")
	s.Multiattach, _, e[11] = f.boolean("multiattach")
	if err := first(e[:]...); err != nil {
		return s, err
	}
	if f.has("backup_id") {
		return s, oserr.BadRequest("Invalid input received: creating a volume from a backup is not supported here (onestack has no backup service); create it from a snapshot instead.")
	}
	if !hasSize && s.SnapshotID == "" && s.SourceVolID == "" && s.ImageID == "" {
		return s, oserr.BadRequest("Invalid input received: size is required unless the volume is created from a snapshot, a volume or an image; give a size in GB.")
	}
	if hasSize && (s.SizeGB < 1 || s.SizeGB > svc.MaxSizeGB) {
		return s, oserr.BadRequest("Invalid input received: Volume size '%d' must be an integer and greater than 0 (at most %d).", s.SizeGB, svc.MaxSizeGB)
	}
	if len(s.Metadata) > svc.MaxMetadataItems {
		return s, oserr.TooLarge("Maximum number of metadata items exceeds %d; remove some keys.", svc.MaxMetadataItems)
	}
	return s, nil
}

func (a *API) createVolume(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	spec, err := DecodeVolumeCreate(body)
	if err != nil {
		return err
	}
	v, err := a.svc.Create(r.Context(), auth.From(r.Context()), spec)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"volume": a.volumeView(r, v, false)})
	return nil
}

// volumeView is Cinder's detailed volume. ext adds what Cinder's API
// extensions add to show and list (tenant, host, migration status, image
// metadata); create and update answers have the base view only.
func (a *API) volumeView(r *http.Request, v svc.Volume, ext bool) map[string]any {
	c := auth.From(r.Context())
	atts := make([]any, 0, len(v.Attachments))
	for _, at := range v.Attachments {
		atts = append(atts, map[string]any{"server_id": at.InstanceUUID, "attachment_id": at.ID, "attached_at": stamp(at.UpdatedAt),
			"host_name": nullable(at.Host), "volume_id": v.ID, "device": at.Device, "id": v.ID})
	}
	md := v.Metadata
	if md == nil {
		md = map[string]string{}
	}
	m := map[string]any{
		"id": v.ID, "name": v.Name, "description": nullable(v.Description), "status": v.Status, "size": v.SizeGB,
		"availability_zone": v.AvailabilityZone, "created_at": stamp(v.CreatedAt), "updated_at": stamp(v.UpdatedAt),
		"attachments": atts, "bootable": strconv.FormatBool(v.Bootable), "encrypted": false, "multiattach": v.Multiattach,
		"metadata": md, "volume_type": v.TypeName, "snapshot_id": nullable(v.SnapshotID), "source_volid": nullable(v.SourceVolID),
		"user_id": v.UserID, "replication_status": nil,
		"consistencygroup_id": nil, "migration_status": nil, "links": a.links(r, "volumes", v.ID),
	}
	if ext {
		m["os-vol-tenant-attr:tenant_id"] = v.ProjectID
		if len(v.ImageMetadata) > 0 {
			m["volume_image_metadata"] = v.ImageMetadata
		}
	}
	if ext && c != nil && c.IsAdmin() {
		m["os-vol-host-attr:host"] = v.Host + "#pool"
		m["os-vol-mig-status-attr:migstat"] = nil
		m["os-vol-mig-status-attr:name_id"] = nil
	}
	if at(r, 13) {
		m["group_id"] = nil // 3.13
	}
	if at(r, 21) {
		m["provider_id"] = nil // 3.21
	}
	if at(r, 48) {
		m["shared_targets"] = false // 3.48
		m["service_uuid"] = nil
	}
	return m
}

func (a *API) volumeSummary(r *http.Request, v svc.Volume) map[string]any {
	return map[string]any{"id": v.ID, "name": v.Name, "links": a.links(r, "volumes", v.ID)}
}

// listQuery reads a volume list's filters, sort and page.
func listQuery(r *http.Request) (svc.ListQuery, []timeFilter, error) {
	q := r.URL.Query()
	var lq svc.ListQuery
	if _, ok := q["all_tenants"]; ok {
		// Cinder: present means yes, unless it says false.
		b, isBool := parseBool(q.Get("all_tenants"))
		lq.AllTenants = !isBool || b
	}
	lq.ProjectID = q.Get("project_id")
	lq.Status = q.Get("status")
	lq.Name = q.Get("name")
	if lq.Name == "" {
		lq.Name = q.Get("display_name")
	}
	if md := q.Get("metadata"); md != "" {
		m, err := parseMetadataFilter(md)
		if err != nil {
			return lq, nil, err
		}
		lq.Metadata = m
	}
	var err error
	if lq.Limit, lq.Offset, err = page(q); err != nil {
		return lq, nil, err
	}
	lq.Marker = q.Get("marker")
	if v := q.Get("with_count"); v != "" && at(r, 45) {
		b, ok := parseBool(v)
		if !ok {
			return lq, nil, oserr.BadRequest("Invalid input received: with_count must be a boolean, not %q.", v)
		}
		lq.WithCount = b
	}
	key, dir := q.Get("sort_key"), q.Get("sort_dir")
	if s := q.Get("sort"); s != "" {
		first, _, _ := strings.Cut(s, ",")
		key, dir, _ = strings.Cut(first, ":")
	}
	if key != "" {
		col := map[string]string{"size": "size_gb", "name": "name", "display_name": "name", "created_at": "created_at",
			"updated_at": "updated_at", "status": "status", "id": "id", "availability_zone": "availability_zone",
			"bootable": "bootable", "project_id": "project_id"}[key]
		if col == "" {
			return lq, nil, oserr.BadRequest("Invalid input received: Invalid sort key %s; sort by size, name, created_at, updated_at, status, id, availability_zone or bootable.", key)
		}
		lq.SortKey = col
	}
	switch strings.ToLower(dir) {
	case "", "desc":
		lq.Desc = true // Cinder's default: newest first
	case "asc":
	default:
		return lq, nil, oserr.BadRequest("Invalid input received: Invalid sort dir %s; use asc or desc.", dir)
	}
	var tfs []timeFilter
	if at(r, 60) {
		for _, k := range []string{"created_at", "updated_at"} {
			if v := q.Get(k); v != "" {
				tf, err := parseTimeFilter(k, v)
				if err != nil {
					return lq, nil, err
				}
				tfs = append(tfs, tf)
			}
		}
	}
	return lq, tfs, nil
}

// page reads limit and offset; no limit is Cinder's osapi_max_limit
// (1000), and limit=0 is an empty page (-1 here).
func page(q url.Values) (limit, offset int, err error) {
	if limit, err = rest.Limit(q, rest.Limits{Max: 1000}); err != nil {
		return 0, 0, oserr.BadRequest("Invalid input received: limit must be a non-negative integer, not %q.", q.Get("limit"))
	}
	if limit == 0 {
		limit = -1
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, oserr.BadRequest("Invalid input received: offset must be a non-negative integer, not %q.", v)
		}
		offset = n
	}
	return limit, offset, nil
}

// parseMetadataFilter reads Cinder's metadata filter: a JSON object or a
// Python dict literal ("{'k': 'v'}"), as the clients send it.
func parseMetadataFilter(s string) (map[string]string, error) {
	raw := json.RawMessage(s)
	if m, err := stringMap("metadata", raw); err == nil {
		return m, nil
	}
	m, err := stringMap("metadata", json.RawMessage(strings.ReplaceAll(s, "'", "\"")))
	if err != nil {
		return nil, oserr.BadRequest("Invalid input received: metadata filter %q must be a JSON object of strings, e.g. {\"k\": \"v\"}.", s)
	}
	return m, nil
}

// timeFilter is a 3.60 created_at/updated_at filter ("gte:2024-01-01T00:00:00").
type timeFilter struct {
	col, op string
	t       time.Time
}

func parseTimeFilter(col, v string) (timeFilter, error) {
	op, ts, ok := strings.Cut(v, ":")
	if !ok || !map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true, "eq": true, "neq": true}[op] {
		op, ts = "eq", v
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.000000", "2006-01-02"} {
		if t, err := time.Parse(layout, ts); err == nil {
			return timeFilter{col, op, t.UTC()}, nil
		}
	}
	return timeFilter{}, oserr.BadRequest("Invalid input received: %s filter %q: give OP:TIME with OP one of gt, gte, lt, lte, eq, neq and an ISO 8601 time.", col, v)
}

func (tf timeFilter) match(v svc.Volume) bool {
	t := v.CreatedAt
	if tf.col == "updated_at" {
		t = v.UpdatedAt
	}
	switch tf.op {
	case "gt":
		return t.After(tf.t)
	case "gte":
		return !t.Before(tf.t)
	case "lt":
		return t.Before(tf.t)
	case "lte":
		return !t.After(tf.t)
	case "neq":
		return !t.Equal(tf.t)
	}
	return t.Equal(tf.t)
}

func (a *API) listVolumes(w http.ResponseWriter, r *http.Request) error { return a.list(w, r, false) }
func (a *API) listVolumesDetail(w http.ResponseWriter, r *http.Request) error {
	return a.list(w, r, true)
}

func (a *API) list(w http.ResponseWriter, r *http.Request, detail bool) error {
	q, tfs, err := listQuery(r)
	if err != nil {
		return err
	}
	c := auth.From(r.Context())
	if !c.IsAdmin() {
		q.AllTenants, q.ProjectID = false, ""
	}
	if q.Limit < 0 {
		body := map[string]any{"volumes": []any{}}
		if q.WithCount {
			body["count"] = 0
		}
		rest.WriteJSON(w, http.StatusOK, body)
		return nil
	}
	vols, count, err := a.svc.List(r.Context(), c, q)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(vols))
	for _, v := range vols {
		keep := true
		for _, tf := range tfs {
			keep = keep && tf.match(v)
		}
		if !keep {
			continue
		}
		if detail {
			out = append(out, a.volumeView(r, v, true))
		} else {
			out = append(out, a.volumeSummary(r, v))
		}
	}
	body := map[string]any{"volumes": out}
	if len(vols) > 0 {
		if links := a.nextLinks(r, len(vols), q.Limit, vols[len(vols)-1].ID); links != nil {
			body["volumes_links"] = links
		}
	}
	if q.WithCount {
		body["count"] = count
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

// nextLink is the request's URL with the marker moved to the last row.
// nextLinks is Cinder's "<collection>_links" of a page of n items.
func (a *API) nextLinks(r *http.Request, n, limit int, last string) []any {
	return rest.NextLinks(strings.TrimSuffix(a.base, Prefix)+r.URL.Path, r.URL.Query(), n, limit, last)
}

func (a *API) showVolume(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume": a.volumeView(r, v, true)})
	return nil
}

// DecodeVolumeUpdate reads PUT /volumes/{id}.
func DecodeVolumeUpdate(body []byte) (name, desc *string, md map[string]string, err error) {
	f, err := object(body, "volume")
	if err != nil {
		return nil, nil, nil, err
	}
	for _, k := range [][2]string{{"name", "display_name"}, {"description", "display_description"}} {
		for _, key := range k {
			if _, ok := f[key]; !ok {
				continue
			}
			s, _, err := f.str(key, 255)
			if err != nil {
				return nil, nil, nil, err
			}
			if k[0] == "name" {
				name = &s
			} else {
				desc = &s
			}
		}
	}
	md, _, err = f.strMap("metadata")
	if err != nil {
		return nil, nil, nil, err
	}
	if name == nil && desc == nil && md == nil {
		return nil, nil, nil, oserr.BadRequest("Invalid input received: give name, description or metadata to update.")
	}
	return name, desc, md, nil
}

func (a *API) updateVolume(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	name, desc, md, err := DecodeVolumeUpdate(body)
	if err != nil {
		return err
	}
	v, err := a.svc.Update(r.Context(), auth.From(r.Context()), r.PathValue("id"), name, desc, md)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volume": a.volumeView(r, v, false)})
	return nil
}

func (a *API) deleteVolume(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cascade, force := false, false
	if v := q.Get("cascade"); v != "" {
		b, ok := parseBool(v)
		if !ok {
			return oserr.BadRequest("Invalid input received: cascade must be true or false, not %q.", v)
		}
		cascade = b
	}
	if v := q.Get("force"); v != "" && at(r, 23) {
		b, ok := parseBool(v)
		if !ok {
			return oserr.BadRequest("Invalid input received: force must be true or false, not %q.", v)
		}
		force = b
	}
	if err := a.svc.Delete(r.Context(), auth.From(r.Context()), r.PathValue("id"), cascade, force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// ---- metadata

// DecodeMetadata reads {"metadata": {...}}.
func DecodeMetadata(body []byte) (map[string]string, error) {
	var outer map[string]json.RawMessage
	if err := decodeJSON(body, &outer); err != nil {
		return nil, err
	}
	raw, ok := outer["metadata"]
	if !ok {
		return nil, oserr.BadRequest("Malformed request body: give {\"metadata\": {\"key\": \"value\"}}.")
	}
	return stringMap("metadata", raw)
}

// DecodeMetaItem reads {"meta": {"key": "value"}} for key.
func DecodeMetaItem(body []byte, key string) (string, error) {
	var outer map[string]json.RawMessage
	if err := decodeJSON(body, &outer); err != nil {
		return "", err
	}
	raw, ok := outer["meta"]
	if !ok {
		return "", oserr.BadRequest("Malformed request body: give {\"meta\": {\"%s\": \"value\"}}.", key)
	}
	m, err := stringMap("meta", raw)
	if err != nil {
		return "", err
	}
	if len(m) != 1 {
		return "", oserr.BadRequest("Request body contains too many items: give exactly one key in meta.")
	}
	v, ok := m[key]
	if !ok {
		return "", oserr.BadRequest("Request body and URI mismatch: the key in meta must be %s.", key)
	}
	return v, nil
}
