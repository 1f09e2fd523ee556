package image

import (
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	svc "github.com/onestack/onestack/internal/service/image"
)

const octetStream = "application/octet-stream"

func checkOctetStream(r *http.Request) error {
	if mt := mediaType(r); mt != octetStream {
		return oserr.UnsupportedMediaType("The request media type %s is not supported by this server: send image data as %s.", mt, octetStream)
	}
	return nil
}

// idleTimeout is how long an image upload may send nothing before the
// server gives up on it.
var idleTimeout = 2 * time.Minute

// idleBody lifts the server's whole-request read deadline for an image
// body, which may take longer than any fixed timeout, and instead fails a
// client that sends nothing for idleTimeout.
type idleBody struct {
	r    io.Reader
	rc   *http.ResponseController
	last time.Time
}

func newIdleBody(w http.ResponseWriter, r *http.Request) io.Reader {
	b := &idleBody{r: r.Body, rc: http.NewResponseController(w)}
	if b.rc.SetReadDeadline(time.Now().Add(idleTimeout)) != nil {
		return r.Body // not supported by this connection: keep the server's limits
	}
	b.last = time.Now()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if now := time.Now(); now.Sub(b.last) > idleTimeout/8 { // not a syscall, but not free either
		_ = b.rc.SetReadDeadline(now.Add(idleTimeout))
		b.last = now
	}
	return n, err
}

// upload streams PUT /file into the image; the body never sits in memory.
func (a *API) upload(w http.ResponseWriter, r *http.Request) error {
	if err := checkOctetStream(r); err != nil {
		return err
	}
	if _, err := a.svc.Upload(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), newIdleBody(w, r), r.ContentLength); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) stage(w http.ResponseWriter, r *http.Request) error {
	if err := checkOctetStream(r); err != nil {
		return err
	}
	if _, err := a.svc.Stage(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), newIdleBody(w, r), r.ContentLength); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// download streams the image data with Glance's headers: Content-MD5 is
// the hex md5 checksum (as Glance sends it, not base64), ranges are served,
// and an image without data answers 204.
func (a *API) download(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.Open(r.Context(), auth.From(r.Context()), r.PathValue("image_id"))
	if err != nil {
		return err
	}
	if d.File == nil {
		rest.NoContent(w)
		return nil
	}
	defer d.File.Close()
	w.Header().Set("Content-Type", octetStream)
	if d.Image.Checksum != nil {
		w.Header().Set("Content-MD5", *d.Image.Checksum)
	}
	http.ServeContent(w, r, "", time.Time{}, d.File)
	return nil
}

// importImage starts an interoperable import: 202, then the image moves
// from importing to active in the background.
func (a *API) importImage(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	method, ok := body["method"].(map[string]any)
	if !ok {
		return oserr.BadRequest("Import request requires a 'method' field, e.g. {\"method\": {\"name\": \"glance-direct\"}}.")
	}
	name, ok := method["name"].(string)
	if !ok {
		return oserr.BadRequest("Import request requires a 'name' field in 'method', e.g. {\"method\": {\"name\": \"glance-direct\"}}.")
	}
	if !slices.Contains(svc.ImportMethods, name) {
		return oserr.BadRequest("Unknown import method name '%s'; this cloud imports with glance-direct (stage the data, then import).", name)
	}
	for _, k := range []string{"all_stores_must_succeed", "all_stores"} {
		if v, ok := body[k]; ok {
			if _, isBool := v.(bool); !isBool {
				return oserr.BadRequest("'%s' must be boolean value only.", k)
			}
		}
	}
	if v, ok := body["all_stores_must_succeed"].(bool); ok && !v {
		return oserr.BadRequest("All_stores_must_succeed can only be set with enabled_backends: this cloud has one store.")
	}
	if _, err := a.svc.Import(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), name, reqid.From(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) imageTasks(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.svc.Tasks(r.Context(), auth.From(r.Context()), r.PathValue("image_id"))
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ts))
	for i := range ts {
		items = append(items, taskJSON(&ts[i]))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"tasks": items})
	return nil
}

func (a *API) infoImport(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"import-methods": map[string]any{
		"description": "Import methods available.", "type": "array", "value": svc.ImportMethods}})
	return nil
}

// infoStores answers as a Glance with one store does: the stores API is
// for multi-store sites.
func (a *API) infoStores(http.ResponseWriter, *http.Request) error {
	return oserr.NotFound("Multi backend is not supported at this site: images are kept in this cloud's one store.")
}

// infoUsage reports the caller's project's usage against its quotas, in
// Glance's unified-limits terms (sizes in MiB).
func (a *API) infoUsage(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.Usage(r.Context(), auth.From(r.Context()))
	if err != nil {
		return err
	}
	mib := func(n int64) int64 {
		if n < 0 {
			return -1
		}
		return (n + 1<<20 - 1) >> 20
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"usage": map[string]any{
		"image_size_total":  map[string]any{"limit": mib(u.Limits.BytesPerProject), "usage": mib(u.Bytes)},
		"image_count_total": map[string]any{"limit": u.Limits.ImagesPerProject, "usage": u.Images},
	}})
	return nil
}
