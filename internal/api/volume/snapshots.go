package volume

import (
	"context"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

func (a *API) snapshotRoutes() []rest.Route {
	md := metadataOf{kind: "Snapshot", set: a.svc.SetSnapshotMetadata, del: a.svc.DeleteSnapshotMetadata,
		get: func(ctx context.Context, c *auth.Credentials, id string) (map[string]string, error) {
			sn, err := a.svc.GetSnapshot(ctx, c, id)
			return sn.Metadata, err
		}}
	return append([]rest.Route{
		rest.R("GET", p("/snapshots"), reader, a.listSnapshots),
		rest.R("GET", p("/snapshots/detail"), reader, a.listSnapshotsDetail),
		rest.R("POST", p("/snapshots"), member, a.createSnapshot),
		rest.R("GET", p("/snapshots/{id}"), reader, a.showSnapshot),
		rest.R("PUT", p("/snapshots/{id}"), member, a.updateSnapshot),
		rest.R("DELETE", p("/snapshots/{id}"), member, a.deleteSnapshot),
		rest.R("POST", p("/snapshots/{id}/action"), member, a.snapshotAction),
	}, md.routes("/snapshots")...)
}

// snapshotView is Cinder's snapshot; ext adds the
// os-extended-snapshot-attributes fields that show and list detail have.
func (a *API) snapshotView(r *http.Request, s svc.Snapshot, ext bool) map[string]any {
	progress := "0%"
	if s.Status == svc.StatusAvailable {
		progress = "100%"
	}
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	m := map[string]any{"id": s.ID, "name": s.Name, "description": nullable(s.Description), "volume_id": s.VolumeID,
		"status": s.Status, "size": s.SizeGB, "metadata": md, "created_at": stamp(s.CreatedAt), "updated_at": stamp(s.UpdatedAt)}
	if ext {
		m["os-extended-snapshot-attributes:project_id"] = s.ProjectID
		m["os-extended-snapshot-attributes:progress"] = progress
	}
	if at(r, 14) {
		m["group_snapshot_id"] = nil // 3.14
	}
	if at(r, 41) {
		m["user_id"] = s.UserID // 3.41
	}
	return m
}

// DecodeSnapshotCreate reads POST /snapshots.
func DecodeSnapshotCreate(body []byte) (svc.SnapshotSpec, error) {
	f, err := object(body, "snapshot")
	if err != nil {
		return svc.SnapshotSpec{}, err
	}
	var s svc.SnapshotSpec
	var e [6]error
	var ok bool
	s.VolumeID, ok, e[0] = f.str("volume_id", 36)
	s.Name, _, e[1] = f.str("name", 255)
	if s.Name == "" {
		s.Name, _, e[2] = f.str("display_name", 255)
	}
	s.Description, _, e[3] = f.str("description", 255)
	s.Force, _, e[4] = f.boolean("force")
	s.Metadata, _, e[5] = f.strMap("metadata")
	if err := first(e[:]...); err != nil {
		return s, err
	}
	if raw, present := f["volume_id"]; present && string(raw) == "null" {
		return s, oserr.NotFound("Volume None could not be found; give the id of the volume to snapshot in volume_id.")
	}
	if !ok || s.VolumeID == "" {
		return s, oserr.BadRequest("Invalid input received: 'volume_id' is a required property; name the volume to snapshot.")
	}
	return s, nil
}

func (a *API) createSnapshot(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	spec, err := DecodeSnapshotCreate(body)
	if err != nil {
		return err
	}
	sn, err := a.svc.CreateSnapshot(r.Context(), auth.From(r.Context()), spec)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"snapshot": a.snapshotView(r, sn, false)})
	return nil
}

func (a *API) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	return a.snapshots(w, r, false)
}
func (a *API) listSnapshotsDetail(w http.ResponseWriter, r *http.Request) error {
	return a.snapshots(w, r, true)
}

func (a *API) snapshots(w http.ResponseWriter, r *http.Request, detail bool) error {
	q := r.URL.Query()
	c := auth.From(r.Context())
	sq := svc.SnapshotQuery{VolumeID: q.Get("volume_id"), Status: q.Get("status"), Name: q.Get("name"), Marker: q.Get("marker")}
	if _, ok := q["all_tenants"]; ok && c.IsAdmin() {
		b, isBool := parseBool(q.Get("all_tenants"))
		sq.AllTenants = !isBool || b
		sq.ProjectID = q.Get("project_id")
	}
	var err error
	if sq.Limit, sq.Offset, err = page(q); err != nil {
		return err
	}
	if sq.Limit < 0 {
		rest.WriteJSON(w, http.StatusOK, map[string]any{"snapshots": []any{}})
		return nil
	}
	key, dir := q.Get("sort_key"), q.Get("sort_dir")
	if s := q.Get("sort"); s != "" {
		first, _, _ := strings.Cut(s, ",")
		key, dir, _ = strings.Cut(first, ":")
	}
	sq.SortKey = key
	switch strings.ToLower(dir) {
	case "", "desc":
	case "asc":
		sq.Asc = true
	default:
		return oserr.BadRequest("Invalid input received: Invalid sort dir %s; use asc or desc.", dir)
	}
	if md := q.Get("metadata"); md != "" {
		m, err := parseMetadataFilter(md)
		if err != nil {
			return err
		}
		sq.Metadata = m
	}
	sns, err := a.svc.ListSnapshots(r.Context(), c, sq)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(sns))
	for _, s := range sns {
		out = append(out, a.snapshotView(r, s, detail))
	}
	body := map[string]any{"snapshots": out}
	if len(sns) > 0 {
		if links := a.nextLinks(r, len(sns), sq.Limit, sns[len(sns)-1].ID); links != nil {
			body["snapshots_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (a *API) showSnapshot(w http.ResponseWriter, r *http.Request) error {
	sn, err := a.svc.GetSnapshot(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"snapshot": a.snapshotView(r, sn, true)})
	return nil
}

func (a *API) updateSnapshot(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := object(body, "snapshot")
	if err != nil {
		return err
	}
	var name, desc *string
	for _, k := range []string{"name", "display_name", "description", "display_description"} {
		if _, ok := f[k]; !ok {
			continue
		}
		s, _, err := f.str(k, 255)
		if err != nil {
			return err
		}
		if k == "name" || k == "display_name" {
			name = &s
		} else {
			desc = &s
		}
	}
	if name == nil && desc == nil {
		return oserr.BadRequest("Invalid input received: give name or description to update.")
	}
	sn, err := a.svc.UpdateSnapshot(r.Context(), auth.From(r.Context()), r.PathValue("id"), name, desc)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"snapshot": a.snapshotView(r, sn, false)})
	return nil
}

func (a *API) deleteSnapshot(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteSnapshot(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) snapshotAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	act, err := DecodeAction(body)
	if err != nil {
		return err
	}
	c := auth.From(r.Context())
	switch act.Name {
	case "os-reset_status":
		if !c.IsAdmin() {
			return oserr.Forbidden("Policy doesn't allow volume_extension:snapshot_admin_actions:reset_status to be performed; it needs the admin role.")
		}
		st, ok, err := act.fields.str("status", 255)
		if err != nil {
			return err
		}
		if !ok {
			return oserr.BadRequest("Invalid input received: os-reset_status needs status.")
		}
		if err := a.svc.ResetSnapshotStatus(r.Context(), c, r.PathValue("id"), st); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "os-force_delete":
		if !c.IsAdmin() {
			return oserr.Forbidden("Policy doesn't allow volume_extension:snapshot_admin_actions:force_delete to be performed; it needs the admin role.")
		}
		if err := a.svc.ResetSnapshotStatus(r.Context(), c, r.PathValue("id"), svc.StatusError); err != nil {
			return err
		}
		if err := a.svc.DeleteSnapshot(r.Context(), c, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return oserr.BadRequest("There is no such action: %s", act.Name)
}
