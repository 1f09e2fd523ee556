package compute

import (
	"net/http"
	"strconv"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/apierr"
	"github.com/onestack/onestack/internal/auth"
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
	}
}

func proxyGone(r *http.Request) error {
	if at(r, 36) {
		return apierr.NotFound("The image proxy API was removed in microversion 2.36; use the Image service (openstack image …).")
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
	limit := 1000
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return apierr.BadRequest("limit must be an integer 0 or greater.")
		}
		limit = min(n, 1000)
	}
	ims, err := a.svc.ListImages(r.Context(), auth.From(r.Context()), limit, r.URL.Query().Get("marker"))
	if err != nil {
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

func (a *API) showImage(w http.ResponseWriter, r *http.Request) error {
	if err := proxyGone(r); err != nil {
		return err
	}
	im, err := a.svc.Image(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		if apierr.Is(err, 404) {
			return apierr.NotFound("Image not found.")
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
		if apierr.Is(err, 404) {
			return apierr.NotFound("Image not found.")
		}
		return err
	}
	rest.NoContent(w)
	return nil
}
