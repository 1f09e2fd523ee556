package object

import (
	"net/http"
	"strings"

	svc "github.com/onestack/onestack/internal/service/object"
)

// containerSystem are the container headers with meaning besides its
// x-container-meta-* items.
var containerSystem = []string{svc.ContainerRead, svc.ContainerWrite, svc.VersionsLocation, svc.HistoryLocation,
	"x-container-sync-to", "x-container-sync-key"}

// serveContainer answers requests on /v1/<account>/<container>.
func (a *API) serveContainer(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	ctx := r.Context()
	switch r.Method {
	case "GET", "HEAD":
		if done, err := a.staticWeb(w, r, c, p); done || err != nil {
			return err
		}
		return a.listObjects(w, r, c, p)
	case "PUT":
		if r.URL.Query().Has("extract-archive") {
			return a.extractArchive(w, r, c, p)
		}
		h := headers(r)
		if pol, ok := h["x-storage-policy"]; ok && !strings.EqualFold(pol, svc.PolicyName) {
			return textErr(400, "Invalid X-Storage-Policy %q: the only storage policy is %s.", pol, svc.PolicyName)
		}
		change, err := metaChange(h, "container", containerSystem...)
		if err != nil {
			return err
		}
		created, err := a.svc.PutContainer(ctx, c, p.Account, p.Container, change)
		if err != nil {
			return err
		}
		if created {
			emptyBody(w, http.StatusCreated)
		} else {
			emptyBody(w, http.StatusAccepted)
		}
		return nil
	case "POST":
		if isForm(r) {
			return a.formPost(w, r, p)
		}
		change, err := metaChange(headers(r), "container", containerSystem...)
		if err != nil {
			return err
		}
		if err := a.svc.UpdateContainer(ctx, c, p.Account, p.Container, change); err != nil {
			return err
		}
		emptyBody(w, http.StatusNoContent)
		return nil
	case "DELETE":
		if err := a.svc.DeleteContainer(ctx, c, p.Account, p.Container); err != nil {
			return err
		}
		emptyBody(w, http.StatusNoContent)
		return nil
	}
	return methodNotAllowed(w, r, "GET, HEAD, PUT, POST, DELETE, OPTIONS")
}

// containerHeaders writes what Swift tells of a container.
func containerHeaders(w http.ResponseWriter, info svc.ContainerInfo) {
	h := w.Header()
	h.Set("X-Container-Object-Count", itoa(info.ObjectCount))
	h.Set("X-Container-Bytes-Used", itoa(info.BytesUsed))
	h.Set("X-Timestamp", svc.Timestamp(info.CreatedAt))
	h.Set("X-Put-Timestamp", svc.Timestamp(info.UpdatedAt))
	h.Set("Last-Modified", httpDate(lastModified(info.UpdatedAt)))
	h.Set("X-Storage-Policy", svc.PolicyName)
	h.Set("Accept-Ranges", "bytes")
	setMeta(w, info.Visible())
}

func (a *API) listObjects(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	ctype, err := listingType(r)
	if err != nil {
		return err
	}
	q, err := ListParams(r.URL.Query(), svc.ContainerListingLimit, true)
	if err != nil {
		return err
	}
	q.NamesOnly = ctype == "text/plain"
	if r.Method == "HEAD" {
		info, err := a.svc.Container(r.Context(), c, p.Account, p.Container)
		if err != nil {
			return err
		}
		containerHeaders(w, info)
		writeListing(w, r, ctype, nil)
		return nil
	}
	info, entries, err := a.svc.ListObjects(r.Context(), c, p.Account, p.Container, q)
	if err != nil {
		return err
	}
	containerHeaders(w, info)
	writeListing(w, r, ctype, renderObjects(p.Container, ctype, entries))
	return nil
}
