package object

import (
	"net/http"
	"strings"

	svc "github.com/onestack/onestack/internal/service/object"
)

// serveAccount answers requests on /v1/<account>.
func (a *API) serveAccount(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	q := r.URL.Query()
	switch r.Method {
	case "GET", "HEAD":
		return a.listContainers(w, r, c, p)
	case "POST":
		if q.Has("bulk-delete") {
			return a.bulkDelete(w, r, c, p)
		}
		change, err := metaChange(headers(r), "account")
		if err != nil {
			return err
		}
		if err := a.svc.UpdateAccount(r.Context(), c, p.Account, change); err != nil {
			return err
		}
		emptyBody(w, http.StatusNoContent)
		return nil
	case "PUT":
		if q.Has("extract-archive") {
			return a.extractArchive(w, r, c, p)
		}
	case "DELETE":
		if q.Has("bulk-delete") {
			return a.bulkDelete(w, r, c, p)
		}
	}
	return methodNotAllowed(w, r, "GET, HEAD, POST, OPTIONS")
}

// accountHeaders writes what Swift tells of an account.
func accountHeaders(w http.ResponseWriter, info svc.AccountInfo) {
	h := w.Header()
	h.Set("X-Account-Container-Count", itoa(info.Usage.Containers))
	h.Set("X-Account-Object-Count", itoa(info.Usage.Objects))
	h.Set("X-Account-Bytes-Used", itoa(info.Usage.Bytes))
	if info.Usage.Containers > 0 {
		pol := "X-Account-Storage-Policy-" + svc.PolicyName
		h.Set(pol+"-Container-Count", itoa(info.Usage.Containers))
		h.Set(pol+"-Object-Count", itoa(info.Usage.Objects))
		h.Set(pol+"-Bytes-Used", itoa(info.Usage.Bytes))
	}
	h.Set("X-Timestamp", svc.Timestamp(info.CreatedAt))
	h.Set("X-Put-Timestamp", svc.Timestamp(info.UpdatedAt))
	h.Set("Accept-Ranges", "bytes")
	md := map[string]string{}
	for k, v := range info.Metadata {
		if !info.Owner && strings.Contains(k, "temp-url-key") {
			continue
		}
		md[k] = v
	}
	setMeta(w, md)
}

func (a *API) listContainers(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	ctype, err := listingType(r)
	if err != nil {
		return err
	}
	q, err := ListParams(r.URL.Query(), svc.AccountListingLimit, false)
	if err != nil {
		return err
	}
	if r.Method == "HEAD" {
		info, err := a.svc.Account(r.Context(), c, p.Account, true)
		if err != nil {
			return err
		}
		accountHeaders(w, info)
		writeListing(w, r, ctype, nil)
		return nil
	}
	info, entries, err := a.svc.ListContainers(r.Context(), c, p.Account, q)
	if err != nil {
		return err
	}
	accountHeaders(w, info)
	writeListing(w, r, ctype, renderContainers(p.Account, ctype, entries))
	return nil
}
