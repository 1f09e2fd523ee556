package object

import (
	"net/http"
	"strings"
)

// CORS, as Swift's: a container allows origins with
// X-Container-Meta-Access-Control-Allow-Origin (space separated, or *),
// and says for how long a preflight holds (-Max-Age) and which response
// headers scripts may read (-Expose-Headers).

// exposed are the headers Swift always lets scripts read.
var exposed = "cache-control, content-language, content-type, expires, last-modified, pragma, etag, x-timestamp, x-trans-id, x-openstack-request-id"

func allowedOrigin(md map[string]string, origin string) bool {
	for o := range strings.FieldsSeq(md["x-container-meta-access-control-allow-origin"]) {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// cors sets the CORS headers of an actual request from an allowed origin.
func (a *API) cors(w http.ResponseWriter, r *http.Request, p Path) {
	md, err := a.svc.ContainerMetadata(r.Context(), p.Account, p.Container)
	if err != nil || !allowedOrigin(md, r.Header.Get("Origin")) {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	exp := exposed
	if extra := md["x-container-meta-access-control-expose-headers"]; extra != "" {
		exp += ", " + extra
	}
	w.Header().Set("Access-Control-Expose-Headers", exp)
}

// options answers OPTIONS: the methods served, or a CORS preflight, which
// the container must allow (401 otherwise, as Swift).
func (a *API) options(w http.ResponseWriter, r *http.Request, p Path) error {
	allow := "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
	origin, method := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		w.Header().Set("Allow", allow)
		emptyBody(w, http.StatusOK)
		return nil
	}
	md := map[string]string{}
	if p.Container != "" {
		md, _ = a.svc.ContainerMetadata(r.Context(), p.Account, p.Container)
	}
	if md == nil || !allowedOrigin(md, origin) || !strings.Contains(allow, method) {
		return textErr(http.StatusUnauthorized, "Origin %s may not %s here: the container does not list it in X-Container-Meta-Access-Control-Allow-Origin.", origin, method)
	}
	h := w.Header()
	h.Set("Allow", allow)
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", allow)
	if v := r.Header.Get("Access-Control-Request-Headers"); v != "" {
		h.Set("Access-Control-Allow-Headers", v)
	}
	if v := md["x-container-meta-access-control-max-age"]; v != "" {
		h.Set("Access-Control-Max-Age", v)
	}
	emptyBody(w, http.StatusOK)
	return nil
}
