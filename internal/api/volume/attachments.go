package volume

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

func (a *API) attachmentRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", p("/attachments"), reader, mv27(a.listAttachments(false))),
		rest.R("GET", p("/attachments/detail"), reader, mv27(a.listAttachments(true))),
		rest.R("POST", p("/attachments"), member, mv27(a.createAttachment)),
		rest.R("GET", p("/attachments/{id}"), reader, mv27(a.showAttachment)),
		rest.R("PUT", p("/attachments/{id}"), member, mv27(a.updateAttachment)),
		rest.R("DELETE", p("/attachments/{id}"), member, mv27(a.deleteAttachment)),
		rest.R("POST", p("/attachments/{id}/action"), member, mv27(a.attachmentAction)),
	}
}

// mv27 gates the attachments API, new in 3.27, as Cinder does (404 below it).
func mv27(h rest.HandlerFunc) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !at(r, 27) {
			return oserr.NotFound("The attachments API needs microversion 3.27 or later; send OpenStack-API-Version: volume 3.27.")
		}
		return h(w, r)
	}
}

func attachmentView(at svc.Attachment, info map[string]any) map[string]any {
	m := map[string]any{"id": at.ID, "status": at.Status, "instance": nullable(at.InstanceUUID), "volume_id": at.VolumeID,
		"attach_mode": at.AttachMode, "attached_at": nil, "detached_at": nil, "connection_info": info}
	if at.Status == svc.AttachAttached {
		m["attached_at"] = stamp(at.UpdatedAt)
	}
	if info == nil {
		m["connection_info"] = map[string]any{}
		if at.Address != "" {
			m["connection_info"] = svc.ConnectionInfo(at.VolumeID, at.Address, at.AttachMode)
		}
	}
	return m
}

// AttachmentCreate is a decoded POST /attachments.
type AttachmentCreate struct {
	VolumeID, InstanceUUID, Mode string
	Connector                    map[string]any
}

// DecodeAttachmentCreate reads POST /attachments.
func DecodeAttachmentCreate(body []byte) (AttachmentCreate, error) {
	f, err := object(body, "attachment")
	if err != nil {
		return AttachmentCreate{}, err
	}
	var out AttachmentCreate
	var ok bool
	var e [4]error
	out.VolumeID, ok, e[0] = f.str("volume_uuid", 36)
	out.InstanceUUID, _, e[1] = f.str("instance_uuid", 36)
	out.Mode, _, e[2] = f.str("mode", 2)
	out.Connector, e[3] = connector(f)
	if err := first(e[:]...); err != nil {
		return out, err
	}
	if !ok || out.VolumeID == "" {
		return out, oserr.BadRequest("Invalid input received: 'volume_uuid' is a required property; name the volume to attach.")
	}
	if out.Mode != "" && out.Mode != "rw" && out.Mode != "ro" {
		return out, oserr.BadRequest("Invalid input received: mode %q: use rw or ro.", out.Mode)
	}
	return out, nil
}

func connector(f fields) (map[string]any, error) {
	raw, ok := f["connector"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute connector. Value: %s. It is not an object.", short(raw))
	}
	return m, nil
}

func (a *API) createAttachment(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := DecodeAttachmentCreate(body)
	if err != nil {
		return err
	}
	if req.Mode != "" && !at(r, 54) {
		req.Mode = "" // mode is 3.54
	}
	att, info, err := a.svc.CreateAttachment(r.Context(), auth.From(r.Context()), req.VolumeID, req.InstanceUUID, req.Mode, req.Connector)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"attachment": attachmentView(att, info)})
	return nil
}

func (a *API) listAttachments(detail bool) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		c := auth.From(r.Context())
		_, all := q["all_tenants"]
		atts, err := a.svc.ListAttachments(r.Context(), c, all && c.IsAdmin(), q.Get("volume_id"), q.Get("instance_id"))
		if err != nil {
			return err
		}
		out := make([]any, 0, len(atts))
		for _, at := range atts {
			if detail {
				out = append(out, attachmentView(at, nil))
			} else {
				out = append(out, map[string]any{"id": at.ID, "status": at.Status, "instance": nullable(at.InstanceUUID), "volume_id": at.VolumeID})
			}
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"attachments": out})
		return nil
	}
}

func (a *API) showAttachment(w http.ResponseWriter, r *http.Request) error {
	at, err := a.svc.GetAttachment(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"attachment": attachmentView(at, nil)})
	return nil
}

func (a *API) updateAttachment(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := object(body, "attachment")
	if err != nil {
		return err
	}
	conn, err := connector(f)
	if err != nil {
		return err
	}
	if conn == nil {
		return oserr.BadRequest("Invalid input received: 'connector' is a required property of an attachment update.")
	}
	at, info, err := a.svc.UpdateAttachment(r.Context(), auth.From(r.Context()), r.PathValue("id"), conn)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"attachment": attachmentView(at, info)})
	return nil
}

func (a *API) deleteAttachment(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	at, err := a.svc.GetAttachment(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.svc.DeleteAttachmentFor(r.Context(), c, at.ID); err != nil {
		return err
	}
	at.Status = svc.AttachDetached
	rest.WriteJSON(w, http.StatusOK, map[string]any{"attachments": []any{attachmentView(at, map[string]any{})}})
	return nil
}

func (a *API) attachmentAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	act, err := DecodeAction(body)
	if err != nil {
		return err
	}
	if act.Name != "os-complete" {
		return oserr.BadRequest("There is no such action: %s", act.Name)
	}
	if !at(r, 44) {
		return oserr.NotFound("os-complete needs microversion 3.44 or later; send OpenStack-API-Version: volume 3.44.")
	}
	if err := a.svc.CompleteAttachmentFor(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
