package object

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
	"github.com/onestack/onestack/internal/store"
)

// ListParams decodes a listing's query string as Swift's
// validate_container_params: every parameter valid UTF-8 (400 names the
// one that is not), a limit above max is 412, anything else not digits is
// ignored.
func ListParams(q url.Values, max int, container bool) (svc.ListQuery, error) {
	var lq svc.ListQuery
	get := func(name string) (string, error) {
		v := q.Get(name)
		if v != "" && (!utf8.ValidString(v) || strings.ContainsRune(v, 0)) {
			return "", textErr(400, `"%s" parameter not valid UTF-8`, name)
		}
		return v, nil
	}
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"marker", &lq.Marker}, {"end_marker", &lq.EndMarker}, {"prefix", &lq.Prefix}, {"delimiter", &lq.Delimiter}} {
		if *p.dst, err = get(p.name); err != nil {
			return lq, err
		}
	}
	if _, err := get("format"); err != nil {
		return lq, err
	}
	if container && q.Has("path") {
		path, err := get("path")
		if err != nil {
			return lq, err
		}
		lq.Path = &path
	}
	if v := q.Get("limit"); v != "" && strings.Trim(v, "0123456789") == "" {
		n, err := strconv.Atoi(v)
		if err != nil || n > max {
			return lq, &oserr.Error{Status: 412, Message: "Maximum limit is " + strconv.Itoa(max)}
		}
		lq.Limit = n
		if n == 0 {
			lq.Limit = -1
		}
	}
	lq.Reverse = truthy(q.Get("reverse"))
	return lq, nil
}

// listingType picks a listing's content type as Swift's
// get_listing_content_type: the format parameter (json, xml, plain), else
// the best of text/plain, application/json, application/xml and text/xml
// the Accept header allows; 406 when it allows none.
func listingType(r *http.Request) (string, error) {
	formats := map[string]string{"plain": "text/plain", "json": "application/json", "xml": "application/xml"}
	if f := r.URL.Query().Get("format"); f != "" {
		if t, ok := formats[strings.ToLower(f)]; ok {
			return t, nil
		}
		return "text/plain", nil
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return "text/plain", nil
	}
	t := bestMatch(accept, []string{"text/plain", "application/json", "application/xml", "text/xml"})
	if t == "" {
		return "", oserr.NotAcceptable("None of the listing formats (text/plain, application/json, application/xml, text/xml) is acceptable to your Accept header %q; use ?format=json.", accept)
	}
	return t, nil
}

// bestMatch returns the offer the Accept header prefers (highest q, then
// most specific, then first offered), "" when none is acceptable.
func bestMatch(accept string, offers []string) string {
	type rng struct {
		typ, sub string
		q        float64
	}
	var rs []rng
	for part := range strings.SplitSeq(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		q := 1.0
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if strings.TrimSpace(k) == "q" {
				if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = n
				}
			}
		}
		rs = append(rs, rng{typ, sub, q})
	}
	best, bestQ, bestSpec := "", 0.0, -1
	for _, o := range offers {
		ot, os, _ := strings.Cut(o, "/")
		q, spec := -1.0, -1
		for _, r := range rs {
			s := -1
			switch {
			case r.typ == ot && r.sub == os:
				s = 2
			case r.typ == ot && r.sub == "*":
				s = 1
			case r.typ == "*" && r.sub == "*":
				s = 0
			}
			if s > spec {
				spec, q = s, r.q
			}
		}
		if spec >= 0 && q > 0 && (q > bestQ || (q == bestQ && spec > bestSpec)) {
			best, bestQ, bestSpec = o, q, spec
		}
	}
	return best
}

// containerJSON is one object of a JSON container listing.
type containerJSON struct {
	Subdir       string `json:"subdir,omitempty"`
	Name         string `json:"name,omitempty"`
	Hash         string `json:"hash,omitempty"`
	Bytes        *int64 `json:"bytes,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	SLOETag      string `json:"slo_etag,omitempty"`
}

// accountJSON is one container of a JSON account listing.
type accountJSON struct {
	Subdir       string `json:"subdir,omitempty"`
	Name         string `json:"name,omitempty"`
	Count        *int64 `json:"count,omitempty"`
	Bytes        *int64 `json:"bytes,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// renderObjects writes a container listing in ctype.
func renderObjects(container, ctype string, entries []svc.Entry[store.ObjectEntry]) []byte {
	var b bytes.Buffer
	switch ctype {
	case "application/json":
		out := make([]containerJSON, 0, len(entries))
		for _, e := range entries {
			if e.Subdir != "" {
				out = append(out, containerJSON{Subdir: e.Subdir})
				continue
			}
			o := e.Item
			size := o.Bytes
			j := containerJSON{Name: o.Name, Hash: o.ETag, Bytes: &size, ContentType: o.ContentType, LastModified: isoTime(o.Modified)}
			if o.SLOETag != "" {
				j.SLOETag = `"` + o.SLOETag + `"`
			}
			out = append(out, j)
		}
		writeJSON(&b, out)
	case "application/xml", "text/xml":
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		b.WriteString(`<container name="` + xmlEscape(container) + `">`)
		for _, e := range entries {
			if e.Subdir != "" {
				b.WriteString(`<subdir name="` + xmlEscape(e.Subdir) + `"><name>` + xmlEscape(e.Subdir) + `</name></subdir>`)
				continue
			}
			o := e.Item
			b.WriteString("<object><name>" + xmlEscape(o.Name) + "</name><hash>" + xmlEscape(o.ETag) + "</hash><bytes>" +
				itoa(o.Bytes) + "</bytes><content_type>" + xmlEscape(o.ContentType) + "</content_type><last_modified>" +
				isoTime(o.Modified) + "</last_modified></object>")
		}
		b.WriteString("</container>")
	default:
		for _, e := range entries {
			if e.Subdir != "" {
				b.WriteString(e.Subdir + "\n")
			} else {
				b.WriteString(e.Item.Name + "\n")
			}
		}
	}
	return b.Bytes()
}

// renderContainers writes an account listing in ctype.
func renderContainers(account, ctype string, entries []svc.Entry[store.ObjectContainer]) []byte {
	var b bytes.Buffer
	switch ctype {
	case "application/json":
		out := make([]accountJSON, 0, len(entries))
		for _, e := range entries {
			if e.Subdir != "" {
				out = append(out, accountJSON{Subdir: e.Subdir})
				continue
			}
			c := e.Item
			count, size := c.ObjectCount, c.BytesUsed
			out = append(out, accountJSON{Name: c.Name, Count: &count, Bytes: &size, LastModified: isoTime(c.UpdatedAt)})
		}
		writeJSON(&b, out)
	case "application/xml", "text/xml":
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		b.WriteString(`<account name="` + xmlEscape(account) + "\">\n")
		for _, e := range entries {
			if e.Subdir != "" {
				b.WriteString(`<subdir name="` + xmlEscape(e.Subdir) + "\" />\n")
				continue
			}
			c := e.Item
			b.WriteString("<container><name>" + xmlEscape(c.Name) + "</name><count>" + itoa(c.ObjectCount) + "</count><bytes>" +
				itoa(c.BytesUsed) + "</bytes><last_modified>" + isoTime(c.UpdatedAt) + "</last_modified></container>\n")
		}
		b.WriteString("</account>")
	default:
		for _, e := range entries {
			if e.Subdir != "" {
				b.WriteString(e.Subdir + "\n")
			} else {
				b.WriteString(e.Item.Name + "\n")
			}
		}
	}
	return b.Bytes()
}

// writeJSON writes v as Python's json.dumps would for Swift: non-ASCII
// escaped as \uXXXX, ", " and ": " separators are not needed by clients.
func writeJSON(b *bytes.Buffer, v any) {
	raw, _ := json.Marshal(v)
	for _, r := range string(raw) {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			r -= 0x10000
			b.WriteString(`\u` + hex4(0xD800+(r>>10)) + `\u` + hex4(0xDC00+(r&0x3FF)))
			continue
		}
		b.WriteString(`\u` + hex4(r))
	}
}

func hex4(r rune) string {
	s := strconv.FormatInt(int64(r), 16)
	return strings.Repeat("0", 4-len(s)) + s
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeListing answers a listing: 204 for an empty plain-text one, as
// Swift; Vary: Accept when the format came from the Accept header.
func writeListing(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	if !r.URL.Query().Has("format") {
		w.Header().Set("Vary", "Accept")
	}
	w.Header().Set("Content-Type", ctype+"; charset=utf-8")
	status := http.StatusOK
	if len(body) == 0 {
		status = http.StatusNoContent
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == "HEAD" {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
