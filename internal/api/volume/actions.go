package volume

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

// Action is one decoded POST /volumes/{id}/action.
type Action struct {
	Name   string
	fields fields
}

// DecodeAction reads an action body: one key naming the action, whose
// value is an object, or null/{}/"" for actions without arguments.
func DecodeAction(body []byte) (Action, error) {
	var outer map[string]json.RawMessage
	if err := decodeJSON(body, &outer); err != nil {
		return Action{}, err
	}
	if len(outer) != 1 {
		names := make([]string, 0, len(outer))
		for k := range outer {
			names = append(names, k)
		}
		sort.Strings(names)
		return Action{}, oserr.BadRequest("Invalid input received: an action body names exactly one action, not %d (%s).", len(outer), strings.Join(names, ", "))
	}
	for name, raw := range outer {
		f := fields{}
		trimmed := strings.TrimSpace(string(raw))
		if trimmed != "null" && trimmed != `""` {
			if err := json.Unmarshal(raw, &f); err != nil {
				return Action{}, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. It is not an object.", name, short(raw))
			}
			if f == nil {
				f = fields{}
			}
		}
		return Action{Name: name, fields: f}, nil
	}
	return Action{}, nil
}

func (a *API) volumeAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	act, err := DecodeAction(body)
	if err != nil {
		return err
	}
	ctx, c, id, f := r.Context(), auth.From(r.Context()), r.PathValue("id"), act.fields
	accepted := func(err error) error {
		if err == nil {
			w.WriteHeader(http.StatusAccepted)
		}
		return err
	}
	adminOnly := func(rule string) error {
		if !c.IsAdmin() {
			return oserr.Forbidden("Policy doesn't allow %s to be performed; it needs the admin role.", rule)
		}
		return nil
	}
	switch act.Name {
	case "os-extend":
		n, ok, err := f.integer("new_size")
		if err != nil {
			return err
		}
		if !ok {
			return oserr.BadRequest("Invalid input received: os-extend needs new_size (GB).")
		}
		_, err = a.svc.Extend(ctx, c, id, n, at(r, 42))
		return accepted(err)
	case "os-set_bootable":
		b, ok, err := f.boolean("bootable")
		if err != nil {
			return oserr.BadRequest("Invalid value for 'bootable': use true or false.")
		}
		if !ok {
			return oserr.BadRequest("Invalid input received: os-set_bootable needs bootable (true or false).")
		}
		if err := a.svc.SetBootable(ctx, c, id, b); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case "os-update_readonly_flag":
		b, ok, err := f.boolean("readonly")
		if err != nil {
			return oserr.BadRequest("Invalid value for 'readonly': use true or false.")
		}
		if !ok {
			return oserr.BadRequest("Invalid input received: os-update_readonly_flag needs readonly (true or false).")
		}
		return accepted(a.svc.SetReadOnly(ctx, c, id, b))
	case "os-reset_status":
		if err := adminOnly("volume_extension:volume_admin_actions:reset_status"); err != nil {
			return err
		}
		st, _, e1 := f.str("status", 255)
		as, _, e2 := f.str("attach_status", 255)
		if err := first(e1, e2); err != nil {
			return err
		}
		if st == "" && as == "" {
			return oserr.BadRequest("Invalid input received: os-reset_status needs status or attach_status.")
		}
		return accepted(a.svc.ResetStatus(ctx, c, id, st, as))
	case "os-force_delete":
		if err := adminOnly("volume_extension:volume_admin_actions:force_delete"); err != nil {
			return err
		}
		return accepted(a.svc.Delete(ctx, c, id, false, true))
	case "os-set_image_metadata":
		raw, ok := f["metadata"]
		if !ok {
			return oserr.BadRequest("Malformed request body: os-set_image_metadata needs {\"metadata\": {...}}.")
		}
		md, err := stringMap("metadata", raw)
		if err != nil {
			return err
		}
		out, err := a.svc.SetImageMetadata(ctx, c, id, md)
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": out})
		return nil
	case "os-unset_image_metadata":
		key, ok, err := f.str("key", 255)
		if err != nil {
			return err
		}
		if !ok {
			return oserr.BadRequest("Malformed request body: os-unset_image_metadata needs {\"key\": \"...\"}.")
		}
		if err := a.svc.UnsetImageMetadata(ctx, c, id, key); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case "os-show_image_metadata":
		v, err := a.svc.Get(ctx, c, id)
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": v.ImageMetadata})
		return nil
	case "os-retype":
		nt, ok, err := f.str("new_type", 255)
		if err != nil {
			return err
		}
		if !ok || nt == "" {
			return oserr.BadRequest("Invalid input received: os-retype needs new_type.")
		}
		if mp, _, err := f.str("migration_policy", 16); err != nil {
			return err
		} else if mp != "" && mp != "never" && mp != "on-demand" {
			return oserr.BadRequest("Invalid input received: migration_policy %q: use never or on-demand.", mp)
		}
		return accepted(a.svc.Retype(ctx, c, id, nt))
	case "os-force_detach":
		if err := adminOnly("volume_extension:volume_admin_actions:force_detach"); err != nil {
			return err
		}
		att, _, err := f.str("attachment_id", 36)
		if err != nil {
			return err
		}
		return accepted(a.svc.ForceDetach(ctx, c, id, att))
	case "os-volume_upload_image":
		return a.uploadImage(w, r, f)
	case "os-reserve":
		return accepted(a.svc.Reserve(ctx, c, id))
	case "os-unreserve":
		return accepted(a.svc.Unreserve(ctx, c, id))
	case "os-begin_detaching":
		return accepted(a.svc.BeginDetaching(ctx, c, id))
	case "os-roll_detaching":
		return accepted(a.svc.RollDetaching(ctx, c, id))
	case "os-attach":
		server, _, e1 := f.str("instance_uuid", 36)
		host, _, e2 := f.str("host_name", 255)
		mount, _, e3 := f.str("mountpoint", 255)
		mode, _, e4 := f.str("mode", 2)
		if err := first(e1, e2, e3, e4); err != nil {
			return err
		}
		return accepted(a.svc.AttachLegacy(ctx, c, id, server, host, mount, mode))
	case "os-detach":
		att, _, err := f.str("attachment_id", 36)
		if err != nil {
			return err
		}
		return accepted(a.svc.DetachLegacy(ctx, c, id, att))
	case "os-initialize_connection":
		if _, ok := f["connector"]; !ok {
			return oserr.BadRequest("Malformed request body: os-initialize_connection needs a connector.")
		}
		info, err := a.svc.InitializeConnection(ctx, c, id)
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"connection_info": info})
		return nil
	case "os-terminate_connection":
		if _, ok := f["connector"]; !ok {
			return oserr.BadRequest("Malformed request body: os-terminate_connection needs a connector.")
		}
		return accepted(a.svc.TerminateConnection(ctx, c, id))
	}
	return oserr.BadRequest("There is no such action: %s", act.Name)
}

func (a *API) uploadImage(w http.ResponseWriter, r *http.Request, f fields) error {
	name, ok, e1 := f.str("image_name", 255)
	df, _, e2 := f.str("disk_format", 32)
	cf, _, e3 := f.str("container_format", 32)
	vis, _, e4 := f.str("visibility", 32)
	force, _, e5 := f.boolean("force")
	prot, _, e6 := f.boolean("protected")
	if err := first(e1, e2, e3, e4, e5, e6); err != nil {
		return err
	}
	if !ok || name == "" {
		return oserr.BadRequest("No image_name was specified in request.")
	}
	if vis != "" && !at(r, 1) {
		vis = ""
	}
	v, im, err := a.svc.UploadToImage(r.Context(), auth.From(r.Context()), r.PathValue("id"),
		svc.UploadSpec{ImageName: name, DiskFormat: df, ContainerFormat: cf, Visibility: vis, Protected: prot, Force: force})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"os-volume_upload_image": map[string]any{
		"id": v.ID, "updated_at": stamp(v.UpdatedAt), "status": v.Status, "display_description": nullable(v.Description),
		"size": v.SizeGB, "volume_type": map[string]any{"name": v.TypeName, "id": v.TypeID}, "image_id": im.ID,
		"container_format": im.ContainerFormat, "disk_format": im.DiskFormat, "image_name": im.Name,
		"visibility": nullable(vis), "protected": prot}})
	return nil
}
