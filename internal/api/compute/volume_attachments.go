package compute

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// volumeAttachmentRoutes declares os-volume_attachments. Swapping a
// volume (PUT, admin-only in Nova) is not implemented and says so.
func (a *API) volumeAttachmentRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/servers/{id}/os-volume_attachments", reader, a.listVolumeAttachments),
		rest.R("POST", "/v2.1/servers/{id}/os-volume_attachments", member, a.attachVolume),
		rest.R("GET", "/v2.1/servers/{id}/os-volume_attachments/{volume_id}", reader, a.showVolumeAttachment),
		rest.R("PUT", "/v2.1/servers/{id}/os-volume_attachments/{volume_id}", admin("os_compute_api:os-volumes-attachments:swap"), a.swapVolume),
		rest.R("DELETE", "/v2.1/servers/{id}/os-volume_attachments/{volume_id}", member, a.detachVolume),
		// Nova's legacy alias of POST /servers that older clients use to
		// boot with block devices.
		rest.R("POST", "/v2.1/os-volumes_boot", member, a.createServer),
	}
}

// Nova's device name pattern (parameter_types.volume_device_name... as
// its schema checks it) and tag rules.
var (
	deviceName = regexp.MustCompile(`^(/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$`)
	badTag     = regexp.MustCompile(`[/,]`)
)

func checkTag(tag string) error {
	if len(tag) > 60 || badTag.MatchString(tag) {
		return oserr.BadRequest("Invalid input for field/attribute tag: a tag is at most 60 characters without '/' or ','.")
	}
	return nil
}

// decodeVolumeAttach decodes POST /servers/{id}/os-volume_attachments at
// microversion 2.minor: tag arrives at 2.49, delete_on_termination at 2.79.
func decodeVolumeAttach(body []byte, minor int) (svc.AttachRequest, error) {
	allowed := []string{"volumeId", "device"}
	if minor >= 49 {
		allowed = append(allowed, "tag")
	}
	if minor >= 79 {
		allowed = append(allowed, "delete_on_termination")
	}
	var req svc.AttachRequest
	m, err := wrapped(body, "volumeAttachment", allowed, []string{"volumeId"})
	if err != nil {
		return req, err
	}
	if req.VolumeID, err = str(m["volumeId"], "volumeId"); err != nil {
		return req, err
	}
	if _, err := uuid.Parse(req.VolumeID); err != nil || len(req.VolumeID) != 36 {
		return req, oserr.BadRequest("Invalid input for field/attribute volumeId: %q is not a UUID.", req.VolumeID)
	}
	if raw, ok := m["device"]; ok {
		dev, err := optStr(raw, "device")
		if err != nil {
			return req, err
		}
		// Like Nova's libvirt driver, the device name is checked, then
		// chosen by the host (the guest names disks in its own order).
		if dev != nil && !deviceName.MatchString(*dev) {
			return req, oserr.BadRequest("Invalid input for field/attribute device: %q is not a device name such as /dev/vdb.", *dev)
		}
	}
	if raw, ok := m["tag"]; ok {
		if req.Tag, err = str(raw, "tag"); err != nil {
			return req, err
		}
		if err := checkTag(req.Tag); err != nil {
			return req, err
		}
	}
	if raw, ok := m["delete_on_termination"]; ok {
		var v any
		_ = json.Unmarshal(raw, &v)
		if req.DeleteOnTermination, err = boolField(v, "delete_on_termination"); err != nil {
			return req, err
		}
	}
	return req, nil
}

// volumeAttachmentView renders a volume attachment at the request's
// microversion: tag from 2.70, delete_on_termination from 2.79. (Nova's
// attachment_id and bdm_uuid arrive at 2.89, beyond what is served.)
func volumeAttachmentView(r *http.Request, serverID string, b svc.BDM) map[string]any {
	m := map[string]any{"id": b.VolumeID, "serverId": serverID, "volumeId": b.VolumeID, "device": b.Device}
	if at(r, 70) {
		m["tag"] = nullable(b.Tag)
	}
	if at(r, 79) {
		m["delete_on_termination"] = b.DeleteOnTermination
	}
	return m
}

// volumesAttached is a server's os-extended-volumes:volumes_attached:
// delete_on_termination from 2.3.
func volumesAttached(r *http.Request, v store.Server) []any {
	out := []any{}
	for _, b := range svc.BDMs(v) {
		m := map[string]any{"id": b.VolumeID}
		if at(r, 3) {
			m["delete_on_termination"] = b.DeleteOnTermination
		}
		out = append(out, m)
	}
	return out
}

func (a *API) listVolumeAttachments(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset := -1, 0
	for name, p := range map[string]*int{"limit": &limit, "offset": &offset} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return oserr.BadRequest("Invalid input for query parameters %s: %q is not a non-negative integer.", name, s)
			}
			*p = n
		}
	}
	id := r.PathValue("id")
	bs, err := a.svc.VolumeAttachments(r.Context(), auth.From(r.Context()), id)
	if err != nil {
		return err
	}
	bs = bs[min(offset, len(bs)):]
	if limit >= 0 {
		bs = bs[:min(limit, len(bs))]
	}
	out := []any{}
	for _, b := range bs {
		out = append(out, volumeAttachmentView(r, id, b))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volumeAttachments": out})
	return nil
}

func (a *API) showVolumeAttachment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	b, err := a.svc.VolumeAttachment(r.Context(), auth.From(r.Context()), id, r.PathValue("volume_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volumeAttachment": volumeAttachmentView(r, id, b)})
	return nil
}

func (a *API) attachVolume(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := decodeVolumeAttach(body, mv(r).Minor)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	b, err := a.svc.AttachVolume(r.Context(), auth.From(r.Context()), id, req)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"volumeAttachment": volumeAttachmentView(r, id, b)})
	return nil
}

func (a *API) swapVolume(http.ResponseWriter, *http.Request) error {
	return oserr.NotImplemented("Swapping a server's volume (PUT os-volume_attachments) is not implemented by this cloud; detach the volume and attach the new one.")
}

func (a *API) detachVolume(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DetachVolume(r.Context(), auth.From(r.Context()), r.PathValue("id"), r.PathValue("volume_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// decodeBlockDevices reads a boot request's block_device_mapping_v2 at
// microversion 2.minor (tag from 2.42, volume_type from 2.67).
func decodeBlockDevices(list []map[string]any, minor int) ([]svc.BlockDevice, error) {
	known := map[string]bool{"boot_index": true, "uuid": true, "source_type": true, "destination_type": true,
		"volume_size": true, "delete_on_termination": true, "device_name": true, "disk_bus": true,
		"device_type": true, "guest_format": true, "no_device": true, "tag": minor >= 42, "volume_type": minor >= 67}
	var out []svc.BlockDevice
	for _, m := range list {
		for k := range m {
			if !known[k] {
				return nil, oserr.BadRequest("Invalid input for field/attribute block_device_mapping_v2: additional property %q is not allowed at microversion 2.%d.", k, minor)
			}
		}
		if m["volume_type"] != nil {
			return nil, oserr.BadRequest("block_device_mapping_v2: volume_type cannot be chosen at boot here; create the volume with its type first and boot from it (source_type volume).")
		}
		bd := svc.BlockDevice{BootIndex: -1}
		switch x := m["boot_index"].(type) {
		case nil:
		case float64:
			if x != float64(int(x)) {
				return nil, oserr.BadRequest("Invalid input for field/attribute boot_index: %v is not an integer.", x)
			}
			bd.BootIndex = int(x)
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return nil, oserr.BadRequest("Invalid input for field/attribute boot_index: %q is not an integer.", x)
			}
			bd.BootIndex = n
		default:
			return nil, oserr.BadRequest("Invalid input for field/attribute boot_index: expected an integer.")
		}
		for field, dst := range map[string]*string{"uuid": &bd.UUID, "source_type": &bd.SourceType, "destination_type": &bd.DestinationType, "tag": &bd.Tag} {
			switch x := m[field].(type) {
			case nil:
			case string:
				*dst = x
			default:
				return nil, oserr.BadRequest("Invalid input for field/attribute %s: expected a string.", field)
			}
		}
		if bd.Tag != "" {
			if err := checkTag(bd.Tag); err != nil {
				return nil, err
			}
		}
		if bd.DestinationType == "" {
			bd.DestinationType = "volume"
		}
		if bd.SourceType == "image" || bd.SourceType == "volume" || bd.SourceType == "snapshot" {
			if _, err := uuid.Parse(bd.UUID); err != nil || len(bd.UUID) != 36 {
				return nil, oserr.BadRequest("Block Device Mapping is Invalid: uuid %q of a %s source is not a UUID.", bd.UUID, bd.SourceType)
			}
		}
		if m["volume_size"] != nil {
			n, err := intField(m["volume_size"], "volume_size", 0)
			if err != nil {
				return nil, err
			}
			bd.VolumeSize = n
		}
		var err error
		if bd.DeleteOnTermination, err = boolField(m["delete_on_termination"], "delete_on_termination"); err != nil {
			return nil, err
		}
		out = append(out, bd)
	}
	return out, nil
}
