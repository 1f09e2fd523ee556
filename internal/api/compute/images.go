package compute

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// Nova's image proxy (os-images), deprecated and removed at 2.36; old
// clients and the interop tests still use it.
func (a *API) imageRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/images", reader, a.listImages),
		rest.R("GET", "/v2.1/images/detail", reader, a.listImages),
		rest.R("GET", "/v2.1/images/{id}", reader, a.showImage),
		rest.R("DELETE", "/v2.1/images/{id}", member, a.deleteImage),
		rest.R("GET", "/v2.1/images/{id}/metadata", reader, a.listImageMetadata),
		rest.R("PUT", "/v2.1/images/{id}/metadata", member, a.replaceImageMetadata),
		rest.R("POST", "/v2.1/images/{id}/metadata", member, a.mergeImageMetadata),
		rest.R("GET", "/v2.1/images/{id}/metadata/{key}", reader, a.showImageMetadataItem),
		rest.R("PUT", "/v2.1/images/{id}/metadata/{key}", member, a.setImageMetadataItem),
		rest.R("DELETE", "/v2.1/images/{id}/metadata/{key}", member, a.deleteImageMetadataItem),
	}
}

func proxyGone(r *http.Request) error {
	if at(r, 36) {
		return oserr.NotFound("The image proxy API was removed in microversion 2.36; use the Image service (openstack image …).")
	}
	return nil
}

var imageStatus = map[string]string{"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "importing": "SAVING",
	"uploading": "SAVING", "deleted": "DELETED", "killed": "ERROR", "deactivated": "ERROR"}

var imageProgress = map[string]int{"queued": 25, "saving": 50, "uploading": 50, "importing": 50, "active": 100}

func (a *API) imageView(im svc.Image, detail bool) map[string]any {
	m := map[string]any{"id": im.ID, "name": im.Name, "links": append(a.links("images/"+im.ID),
		map[string]any{"rel": "alternate", "type": "application/vnd.openstack.image", "href": a.base + "/images/" + im.ID})}
	if !detail {
		return m
	}
	st := imageStatus[im.Status]
	if st == "" {
		st = "UNKNOWN"
	}
	meta := im.Properties
	if meta == nil {
		meta = map[string]string{}
	}
	m["status"], m["progress"], m["minDisk"], m["minRam"] = st, imageProgress[im.Status], im.MinDisk, im.MinRAM
	m["metadata"], m["created"], m["updated"], m["OS-EXT-IMG-SIZE:size"] = meta, ts(im.CreatedAt), ts(im.UpdatedAt), im.Size
	if sid := meta["instance_uuid"]; sid != "" {
		m["server"] = map[string]any{"id": sid, "links": a.links("servers/" + sid)}
	}
	return m
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) error {
	if err := proxyGone(r); err != nil {
		return err
	}
	f, err := imageFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ims, err := a.svc.ListImages(r.Context(), auth.From(r.Context()), f)
	if err != nil {
		if oserr.Is(err, 404) {
			return oserr.BadRequest("marker [%s] not found", f.Marker)
		}
		return err
	}
	detail := r.URL.Path == Prefix+"/v2.1/images/detail"
	items := make([]any, 0, len(ims))
	for _, im := range ims {
		items = append(items, a.imageView(im, detail))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"images": items})
	return nil
}

// imageFilter translates the proxy's filters as Nova does for Glance:
// server → instance_uuid property (a server link works too), type →
// image_type property, status → Glance statuses, changes-since → updated
// at or after, minRam/minDisk → lower bounds.
func imageFilter(q url.Values) (svc.ImageFilter, error) {
	f := svc.ImageFilter{Limit: 1000, Marker: q.Get("marker"), Name: q.Get("name")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, oserr.BadRequest("limit must be an integer 0 or greater.")
		}
		f.Limit = min(n, 1000)
	}
	if v := q.Get("status"); v != "" {
		f.Statuses = []string{}
		for g, n := range imageStatus {
			if strings.EqualFold(n, v) {
				f.Statuses = append(f.Statuses, g)
			}
		}
		sort.Strings(f.Statuses)
		if len(f.Statuses) == 0 {
			f.Statuses = []string{strings.ToLower(v)}
		}
	}
	if v := q.Get("changes-since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return f, oserr.BadRequest("Invalid filter changes-since=%s: give an ISO 8601 time.", v)
		}
		f.ChangesSince = &t
	}
	for _, p := range []struct{ param, prop string }{{"server", "instance_uuid"}, {"type", "image_type"}} {
		if v := q.Get(p.param); v != "" {
			if f.Properties == nil {
				f.Properties = map[string]string{}
			}
			if p.param == "server" {
				v = v[strings.LastIndex(v, "/")+1:]
			}
			f.Properties[p.prop] = v
		}
	}
	for _, p := range []struct {
		param string
		dst   *int
	}{{"minRam", &f.MinRAM}, {"minDisk", &f.MinDisk}} {
		if v := q.Get(p.param); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, oserr.BadRequest("Invalid filter %s=%s: give an integer 0 or greater.", p.param, v)
			}
			*p.dst = n
		}
	}
	return f, nil
}

func (a *API) showImage(w http.ResponseWriter, r *http.Request) error {
	if err := proxyGone(r); err != nil {
		return err
	}
	im, err := a.svc.Image(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		if oserr.Is(err, 404) {
			return oserr.NotFound("Image not found.")
		}
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"image": a.imageView(im, true)})
	return nil
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	if err := proxyGone(r); err != nil {
		return err
	}
	if err := a.svc.DeleteImage(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		if oserr.Is(err, 404) {
			return oserr.NotFound("Image not found.")
		}
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- image metadata (the image's user properties, until 2.39 as Nova)

func imageMetaGone(r *http.Request) error {
	if at(r, 39) {
		return oserr.NotFound("The image metadata API was removed in microversion 2.39; use the Image service (openstack image set --property).")
	}
	return nil
}

func imageNotFound(err error) error {
	if oserr.Is(err, 404) {
		return oserr.NotFound("Image not found.")
	}
	return err
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (a *API) listImageMetadata(w http.ResponseWriter, r *http.Request) error {
	if err := imageMetaGone(r); err != nil {
		return err
	}
	im, err := a.svc.Image(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return imageNotFound(err)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": nonNil(im.Properties)})
	return nil
}

func (a *API) setImageMetadata(w http.ResponseWriter, r *http.Request, replace bool) error {
	if err := imageMetaGone(r); err != nil {
		return err
	}
	m, err := a.metaBody(r, "metadata")
	if err != nil {
		return err
	}
	props, err := a.svc.SetImageMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), m, replace)
	if err != nil {
		return imageNotFound(err)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": nonNil(props)})
	return nil
}

func (a *API) replaceImageMetadata(w http.ResponseWriter, r *http.Request) error {
	return a.setImageMetadata(w, r, true)
}

func (a *API) mergeImageMetadata(w http.ResponseWriter, r *http.Request) error {
	return a.setImageMetadata(w, r, false)
}

func (a *API) showImageMetadataItem(w http.ResponseWriter, r *http.Request) error {
	if err := imageMetaGone(r); err != nil {
		return err
	}
	im, err := a.svc.Image(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return imageNotFound(err)
	}
	key := r.PathValue("key")
	v, ok := im.Properties[key]
	if !ok {
		return oserr.NotFound("Image %s has no metadata item %s.", im.ID, key)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{key: v}})
	return nil
}

func (a *API) setImageMetadataItem(w http.ResponseWriter, r *http.Request) error {
	if err := imageMetaGone(r); err != nil {
		return err
	}
	m, err := a.metaBody(r, "meta")
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if len(m) > 1 {
		return oserr.BadRequest("Request body contains too many items; set one item per request.")
	}
	if _, ok := m[key]; !ok {
		return oserr.BadRequest("Request body and URI mismatch: the body must set the item named in the URL (%s).", key)
	}
	if _, err := a.svc.SetImageMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), m, false); err != nil {
		return imageNotFound(err)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": m})
	return nil
}

func (a *API) deleteImageMetadataItem(w http.ResponseWriter, r *http.Request) error {
	if err := imageMetaGone(r); err != nil {
		return err
	}
	err := a.svc.DeleteImageMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), r.PathValue("key"))
	if err != nil {
		if oserr.Is(err, 404) && strings.HasPrefix(oserr.From(err).Message, "Metadata item") {
			return err
		}
		return imageNotFound(err)
	}
	rest.NoContent(w)
	return nil
}
