package object

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
)

// serveObject answers requests on /v1/<account>/<container>/<object>.
func (a *API) serveObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	switch r.Method {
	case "GET", "HEAD":
		if done, err := a.staticWeb(w, r, c, p); done || err != nil {
			return err
		}
		return a.getObject(w, r, c, p)
	case "PUT":
		return a.putObject(w, r, c, p)
	case "POST":
		if isForm(r) {
			return a.formPost(w, r, p)
		}
		return a.postObject(w, r, c, p)
	case "DELETE":
		return a.deleteObject(w, r, c, p)
	case "COPY":
		return a.copyObject(w, r, c, p)
	}
	return methodNotAllowed(w, r, "GET, HEAD, PUT, POST, DELETE, COPY, OPTIONS")
}

// objectResponseHeaders writes what Swift tells of an object.
func objectResponseHeaders(w http.ResponseWriter, v *svc.ObjectView) {
	h := w.Header()
	h.Set("Content-Type", v.ContentType)
	h.Set("Etag", v.ETag)
	h.Set("Last-Modified", httpDate(lastModified(v.Modified)))
	h.Set("X-Timestamp", svc.Timestamp(v.Modified))
	h.Set("Accept-Ranges", "bytes")
	md := map[string]string{}
	for k, val := range v.Metadata {
		md[k] = val
	}
	setMeta(w, md)
	if svc.KindOf(v.Object) == svc.SLO {
		h.Set("X-Static-Large-Object", "True")
	}
	if v.DeleteAt != 0 {
		h.Set("X-Delete-At", itoa(v.DeleteAt))
	}
}

func (a *API) getObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	q := r.URL.Query()
	manifest := q.Get("multipart-manifest") == "get"
	v, err := a.svc.Object(r.Context(), c, p.Account, p.Container, p.Object, svc.ReadOptions{Open: r.Method == "GET", Manifest: manifest})
	if err != nil {
		if oserr.Is(err, 404) && containsString(matchList(r.Header.Get("If-Match")), "*") {
			return &oserr.Error{Status: 412, Message: "If-Match: * and the object does not exist."}
		}
		return err
	}
	if v.Data != nil {
		defer v.Data.Close()
	}
	objectResponseHeaders(w, v)
	if c.Signed {
		tempURLDisposition(w, r, p)
		stripTempURLHeaders(w)
	}
	if manifest && svc.KindOf(v.Object) == svc.SLO {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if q.Get("format") == "raw" && v.Data != nil {
			var buf bytes.Buffer
			if err := v.Data.WriteRange(r.Context(), &buf, 0, v.Length); err != nil {
				return err
			}
			raw, err := svc.RawManifest(buf.Bytes())
			if err != nil {
				return err
			}
			w.Header().Set("Content-Length", itoa(int64(len(raw))))
			w.Header().Del("Etag")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(raw)
			return nil
		}
	}
	return a.sendObject(w, r, v)
}

// deadlineReader keeps a request body's read deadline a minute ahead while
// data flows, so a large upload is bounded by its idle time, not by the
// server's ReadTimeout.
type deadlineReader struct {
	io.Reader
	rc   *http.ResponseController
	last time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.last) > 10*time.Second {
		d.last = now
		_ = d.rc.SetReadDeadline(now.Add(time.Minute))
	}
	return d.Reader.Read(p)
}

// uploadErr maps a failure while reading a body: a client gone is 499, a
// stalled one 408.
func uploadErr(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return &oserr.Error{Status: http.StatusRequestTimeout, Message: "The client sent no data for a minute; the upload was dropped.", Cause: err}
	case errors.Is(err, svc.ErrClientGone):
		return &oserr.Error{Status: 499, Message: "The request body ended before its Content-Length; nothing was stored.", Cause: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return textErr(http.StatusRequestEntityTooLarge, "Your request is too large.")
	}
	return err
}

func (a *API) putObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	h := headers(r)
	if _, ok := h["x-copy-from"]; ok {
		return a.copyObject(w, r, c, p)
	}
	if _, ok := h["x-static-large-object"]; ok && r.URL.Query().Get("multipart-manifest") != "put" {
		return textErr(400, "X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.")
	}
	length := r.ContentLength
	if length == 0 && r.Header.Get("Content-Length") == "" && len(r.TransferEncoding) == 0 {
		return textErr(http.StatusLengthRequired, "Missing Content-Length header.")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.TrimSpace(inm) != "*" {
		return textErr(400, "If-None-Match only supports *")
	}
	md, err := objectHeaders(h)
	if err != nil {
		return err
	}
	at, err := deleteAt(h, a.now())
	if err != nil {
		return err
	}
	ctype := h["content-type"]
	if truthy(h["x-detect-content-type"]) {
		ctype = ""
	}
	in := svc.PutInput{Body: &deadlineReader{Reader: r.Body, rc: http.NewResponseController(w)}, Length: length,
		ETag: h["etag"], ContentType: ctype, Headers: md, DeleteAt: at, IfNoneMatch: r.Header.Get("If-None-Match") != ""}
	if r.URL.Query().Get("multipart-manifest") == "put" {
		if r.Header.Get("X-Copy-From") != "" {
			return methodNotAllowed(w, r, "GET, HEAD, PUT, POST, DELETE, COPY, OPTIONS")
		}
		o, err := a.svc.PutManifest(r.Context(), c, p.Account, p.Container, p.Object, in.Body, in)
		if err != nil {
			return uploadErr(err)
		}
		w.Header().Set("Etag", `"`+o.SLOETag+`"`)
		w.Header().Set("Last-Modified", httpDate(lastModified(o.Modified)))
		emptyBody(w, http.StatusCreated)
		return nil
	}
	o, err := a.svc.Put(r.Context(), c, p.Account, p.Container, p.Object, in)
	if err != nil {
		return uploadErr(err)
	}
	w.Header().Set("Etag", o.ETag)
	w.Header().Set("Last-Modified", httpDate(lastModified(o.Modified)))
	emptyBody(w, http.StatusCreated)
	return nil
}

func (a *API) postObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	h := headers(r)
	md, err := objectHeaders(h)
	if err != nil {
		return err
	}
	at, err := deleteAt(h, a.now())
	if err != nil {
		return err
	}
	if err := a.svc.Post(r.Context(), c, p.Account, p.Container, p.Object, md, h["content-type"], at); err != nil {
		return err
	}
	emptyBody(w, http.StatusAccepted)
	return nil
}

func (a *API) deleteObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	if r.URL.Query().Get("multipart-manifest") == "delete" {
		res, err := a.svc.DeleteManifest(r.Context(), c, p.Account, p.Container, p.Object)
		if err != nil {
			return err
		}
		return writeBulk(w, r, res, "delete")
	}
	if err := a.svc.Delete(r.Context(), c, p.Account, p.Container, p.Object); err != nil {
		return err
	}
	emptyBody(w, http.StatusNoContent)
	return nil
}

// copyPath reads a "container/object" header value (a leading slash and
// URL quoting allowed), as Swift's check_path_header.
func copyPath(v, header string) (string, string, error) {
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	v = strings.TrimPrefix(v, "/")
	cont, obj, ok := strings.Cut(v, "/")
	if !ok || cont == "" || obj == "" {
		return "", "", textErr(412, "%s header must be of the form <container name>/<object name>", header)
	}
	return cont, obj, nil
}

// copyObject serves COPY (with Destination) and PUT with X-Copy-From.
func (a *API) copyObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	h := headers(r)
	in := svc.CopyInput{SrcAccount: p.Account, Fresh: truthy(h["x-fresh-metadata"]),
		Manifest: r.URL.Query().Get("multipart-manifest") == "get"}
	dstAccount, dstCont, dstObj := p.Account, p.Container, p.Object
	if r.Method == "COPY" {
		dest := h["destination"]
		if dest == "" {
			return textErr(412, "Destination header required")
		}
		cont, obj, err := copyPath(dest, "Destination")
		if err != nil {
			return err
		}
		in.SrcContainer, in.SrcName = p.Container, p.Object
		dstCont, dstObj = cont, obj
		if acct := h["destination-account"]; acct != "" {
			dstAccount = acct
		}
	} else {
		if r.ContentLength > 0 {
			return textErr(400, "Copy requests require a zero byte body")
		}
		cont, obj, err := copyPath(h["x-copy-from"], "X-Copy-From")
		if err != nil {
			return err
		}
		in.SrcContainer, in.SrcName = cont, obj
		if acct := h["x-copy-from-account"]; acct != "" {
			in.SrcAccount = acct
		}
	}
	if err := svc.CheckAccountName(dstAccount); err != nil {
		return err
	}
	md, err := objectHeaders(h)
	if err != nil {
		return err
	}
	in.Headers = md
	in.ContentType = h["content-type"]
	if in.DeleteAt, err = deleteAt(h, a.now()); err != nil {
		return err
	}
	res, err := a.svc.Copy(r.Context(), c, dstAccount, dstCont, dstObj, in)
	if err != nil {
		return uploadErr(err)
	}
	w.Header().Set("X-Copied-From", url.PathEscape(in.SrcContainer)+"/"+escapeObject(in.SrcName))
	w.Header().Set("X-Copied-From-Last-Modified", httpDate(lastModified(res.Source.Modified)))
	w.Header().Set("X-Copied-From-Account", url.PathEscape(in.SrcAccount))
	for k, v := range res.Metadata {
		if strings.HasPrefix(k, "x-object-meta-") {
			w.Header()[http.CanonicalHeaderKey(k)] = []string{v}
		}
	}
	if res.DeleteAt != 0 {
		w.Header().Set("X-Delete-At", itoa(res.DeleteAt))
	}
	etag := res.ETag
	if res.SLOETag != "" {
		etag = `"` + res.SLOETag + `"`
	}
	w.Header().Set("Etag", etag)
	w.Header().Set("Last-Modified", httpDate(lastModified(res.Modified)))
	emptyBody(w, http.StatusCreated)
	return nil
}

// escapeObject quotes an object name keeping its slashes, as Swift's quote.
func escapeObject(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// tempURLDisposition sets the Content-Disposition a TempURL GET answers
// with: inline (?inline), an attachment named by ?filename, the stored
// one, or an attachment named after the object.
func tempURLDisposition(w http.ResponseWriter, r *http.Request, p Path) {
	q := r.URL.Query()
	name := q.Get("filename")
	quoted := func(n string) string {
		return `"` + strings.ReplaceAll(n, `"`, `\"`) + `"; filename*=UTF-8''` + url.PathEscape(n)
	}
	switch {
	case q.Has("inline"):
		if name != "" {
			w.Header().Set("Content-Disposition", "inline; filename="+quoted(name))
		} else {
			w.Header().Set("Content-Disposition", "inline")
		}
	case name != "":
		w.Header().Set("Content-Disposition", "attachment; filename="+quoted(name))
	case w.Header().Get("Content-Disposition") != "":
	case r.Method == "GET":
		w.Header().Set("Content-Disposition", "attachment; filename="+quoted(path.Base(p.Object)))
	}
}
