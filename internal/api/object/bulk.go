package object

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
)

// bulkTypes are the formats a bulk operation answers in (Swift's
// ACCEPTABLE_FORMATS).
var bulkTypes = []string{"text/plain", "application/json", "application/xml", "text/xml"}

// maxPathLength bounds one line of a bulk delete body: an account,
// container and object name with their slashes, URL-quoted at worst.
const maxPathLength = (svc.MaxContainerNameLen + svc.MaxObjectNameLength + 2) * 3

// ParseBulkDelete reads a bulk delete body: one URL-quoted path per line,
// "/container/object" or "/container"; blank lines are skipped.
func ParseBulkDelete(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxPathLength+2)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		p, err := url.PathUnescape(line)
		if err != nil || !svc.ValidUTF8(p) {
			return nil, textErr(400, "Invalid path in bulk delete body: %q; send one URL-quoted /container/object per line.", line[:min(len(line), 100)])
		}
		out = append(out, p)
		if len(out) > svc.MaxDeletesPerRequest {
			return nil, textErr(413, "Maximum Bulk Deletes: %d per request", svc.MaxDeletesPerRequest)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, textErr(400, "Invalid File Name: a line of the bulk delete body is longer than %d bytes.", maxPathLength)
		}
		return nil, uploadErr(fmt.Errorf("%w: %v", svc.ErrClientGone, err))
	}
	return out, nil
}

// bulkDelete serves POST or DELETE ?bulk-delete on an account.
func (a *API) bulkDelete(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	out := bestMatch(orDefault(r.Header.Get("Accept"), "text/plain"), bulkTypes)
	if out == "" {
		return oserr.NotAcceptable("Bulk results are text/plain, application/json or application/xml; none of them is acceptable to your Accept header.")
	}
	paths, err := ParseBulkDelete(io.LimitReader(r.Body, int64(maxPathLength+2)*svc.MaxDeletesPerRequest))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return textErr(400, "Invalid bulk delete.")
	}
	res := a.svc.BulkDelete(r.Context(), c, p.Account, paths)
	return writeBulk(w, r, res, "delete")
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// writeBulk answers a bulk operation as Swift's bulk middleware: 200, and
// the outcome (with its own Response Status) in the body.
func writeBulk(w http.ResponseWriter, r *http.Request, res svc.BulkResult, root string) error {
	out := bestMatch(orDefault(r.Header.Get("Accept"), "text/plain"), bulkTypes)
	if out == "" {
		out = "text/plain"
	}
	status := map[int]string{200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 401: "401 Unauthorized", 502: "502 Bad Gateway"}[res.Status]
	if status == "" {
		status = fmt.Sprintf("%d %s", res.Status, http.StatusText(res.Status))
	}
	data := map[string]any{"Response Status": status, "Response Body": res.Body}
	if root == "delete" {
		data["Number Deleted"], data["Number Not Found"] = res.Deleted, res.NotFound
	} else {
		data["Number Files Created"] = res.Created
	}
	errs := res.Errors
	if errs == nil {
		errs = [][2]string{}
	}
	var body strings.Builder
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch {
	case out == "application/json":
		data["Errors"] = errs
		b, _ := json.Marshal(data)
		body.Write(b)
	case strings.HasSuffix(out, "/xml"):
		body.WriteString("<" + root + ">\n")
		for _, k := range keys {
			x := strings.ToLower(strings.ReplaceAll(k, " ", "_"))
			body.WriteString("<" + x + ">" + xmlEscape(fmt.Sprint(data[k])) + "</" + x + ">\n")
		}
		body.WriteString("<errors>\n")
		for _, e := range errs {
			body.WriteString("<object><name>" + xmlEscape(e[0]) + "</name><status>" + xmlEscape(e[1]) + "</status></object>\n")
		}
		body.WriteString("</errors>\n</" + root + ">\n")
	default:
		for _, k := range keys {
			fmt.Fprintf(&body, "%s: %v\n", k, data[k])
		}
		body.WriteString("Errors:\n")
		for _, e := range errs {
			fmt.Fprintf(&body, "%s, %s\n", e[0], e[1])
		}
	}
	w.Header().Set("Content-Type", out)
	w.Header().Set("Content-Length", fmt.Sprint(body.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body.String())
	return nil
}

// extractArchive serves PUT ?extract-archive=tar|tar.gz|tar.bz2 on an
// account or container: every file of the archive becomes an object (its
// first path element the container, created as needed).
func (a *API) extractArchive(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) error {
	var body io.Reader = r.Body
	switch r.URL.Query().Get("extract-archive") {
	case "tar":
	case "tar.gz", "tgz":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return writeBulk(w, r, svc.BulkResult{Status: 400, Body: "Invalid Tar File: " + err.Error()}, "extract")
		}
		defer gz.Close()
		body = gz
	case "tar.bz2", "tbz":
		body = bzip2.NewReader(r.Body)
	default:
		return textErr(400, "Unsupported archive format: extract-archive must be tar, tar.gz or tar.bz2.")
	}
	if r.ContentLength < 0 && len(r.TransferEncoding) == 0 || r.ContentLength == 0 && r.Header.Get("Content-Length") == "" && len(r.TransferEncoding) == 0 {
		return textErr(http.StatusLengthRequired, "Missing Content-Length header.")
	}
	h := headers(r)
	md := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "x-object-meta-") {
			md[k] = v
		}
	}
	at, err := deleteAt(h, a.now())
	if err != nil {
		return err
	}
	res := svc.BulkResult{Status: 201}
	base := p.Container
	if p.Object != "" {
		base += "/" + p.Object
	}
	base = strings.TrimRight(base, "/")
	created := map[string]bool{}
	tr := tar.NewReader(body)
	for len(res.Errors) < 1000 {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Status, res.Body = 400, "Invalid Tar File: "+err.Error()
			break
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimLeft(strings.TrimPrefix(hdr.Name, "./"), "/")
		if base != "" {
			name = base + "/" + name
		}
		cont, obj, ok := strings.Cut(name, "/")
		if !ok || obj == "" {
			continue // files at the top level have no container
		}
		if !created[cont] {
			if _, err := a.svc.PutContainer(r.Context(), c, p.Account, cont, svc.Meta{}); err != nil {
				e := oserr.From(err)
				res.Errors = append(res.Errors, [2]string{url.PathEscape("/" + cont), fmt.Sprintf("%d %s", e.Status, reasonOf(e.Status))})
				if e.Status == 401 {
					return err
				}
				continue
			}
			created[cont] = true
		}
		_, err = a.svc.Put(r.Context(), c, p.Account, cont, obj, svc.PutInput{Body: tr, Length: hdr.Size, Headers: md, DeleteAt: at})
		if err != nil {
			e := oserr.From(err)
			res.Errors = append(res.Errors, [2]string{escapeObject(name), fmt.Sprintf("%d %s", e.Status, reasonOf(e.Status))})
			if e.Status >= 500 {
				res.Status = 502
			}
			continue
		}
		res.Created++
	}
	switch {
	case len(res.Errors) > 0 && res.Status == 201:
		res.Status = 400
	case res.Created == 0 && res.Status == 201:
		res.Status, res.Body = 400, "Invalid Tar File: No Valid Files"
	}
	return writeBulk(w, r, res, "extract")
}

func reasonOf(status int) string {
	if r, ok := reasons[status]; ok {
		return r[0]
	}
	return http.StatusText(status)
}
