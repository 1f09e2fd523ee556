package object

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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

// renderObjects writes a container listing in ctype. JSON is written by
// hand, as Python's json.dumps writes it for Swift (non-ASCII as \uXXXX):
// a page of 10,000 objects is the common answer, and reflection would
// cost more than reading it from the store.
func renderObjects(container, ctype string, entries []svc.Entry[store.ObjectEntry]) []byte {
	switch ctype {
	case "application/json":
		b := make([]byte, 0, 64+len(entries)*192)
		b = append(b, '[')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ", "...)
			}
			if e.Subdir != "" {
				b = append(b, `{"subdir": `...)
				b = appendJSONString(b, e.Subdir)
				b = append(b, '}')
				continue
			}
			o := e.Item
			b = append(b, `{"name": `...)
			b = appendJSONString(b, o.Name)
			b = append(b, `, "hash": `...)
			b = appendJSONString(b, o.ETag)
			b = append(b, `, "bytes": `...)
			b = strconv.AppendInt(b, o.Bytes, 10)
			b = append(b, `, "content_type": `...)
			b = appendJSONString(b, o.ContentType)
			b = append(b, `, "last_modified": "`...)
			b = appendISO(b, o.Modified)
			b = append(b, '"')
			if o.SLOETag != "" {
				b = append(b, `, "slo_etag": "\"`...)
				b = append(b, o.SLOETag...)
				b = append(b, `\""`...)
			}
			b = append(b, '}')
		}
		return append(b, ']')
	case "application/xml", "text/xml":
		var b bytes.Buffer
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
		return b.Bytes()
	default:
		n := 0
		for _, e := range entries {
			n += len(e.Subdir) + len(e.Item.Name) + 1
		}
		b := make([]byte, 0, n)
		for _, e := range entries {
			if e.Subdir != "" {
				b = append(b, e.Subdir...)
			} else {
				b = append(b, e.Item.Name...)
			}
			b = append(b, '\n')
		}
		return b
	}
}

// renderContainers writes an account listing in ctype.
func renderContainers(account, ctype string, entries []svc.Entry[store.ObjectContainer]) []byte {
	switch ctype {
	case "application/json":
		b := make([]byte, 0, 64+len(entries)*128)
		b = append(b, '[')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ", "...)
			}
			if e.Subdir != "" {
				b = append(b, `{"subdir": `...)
				b = appendJSONString(b, e.Subdir)
				b = append(b, '}')
				continue
			}
			c := e.Item
			b = append(b, `{"name": `...)
			b = appendJSONString(b, c.Name)
			b = append(b, `, "count": `...)
			b = strconv.AppendInt(b, c.ObjectCount, 10)
			b = append(b, `, "bytes": `...)
			b = strconv.AppendInt(b, c.BytesUsed, 10)
			b = append(b, `, "last_modified": "`...)
			b = appendISO(b, c.UpdatedAt)
			b = append(b, `"}`...)
		}
		return append(b, ']')
	case "application/xml", "text/xml":
		var b bytes.Buffer
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
		return b.Bytes()
	default:
		var b []byte
		for _, e := range entries {
			if e.Subdir != "" {
				b = append(b, e.Subdir...)
			} else {
				b = append(b, e.Item.Name...)
			}
			b = append(b, '\n')
		}
		return b
	}
}

// appendJSONString appends s as a JSON string in ASCII: control
// characters and everything past U+007F as \uXXXX (surrogate pairs past
// U+FFFF), as Python's json.dumps writes it.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
	}
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7F:
				b = u(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xFFFF {
			r -= 0x10000
			b = u(u(b, 0xD800+(r>>10)), 0xDC00+(r&0x3FF))
		} else {
			b = u(b, r)
		}
		i += size
	}
	return append(b, '"')
}

// appendISO appends t as a listing's last_modified: ISO 8601 in UTC with
// microseconds (Swift's Timestamp.isoformat).
func appendISO(b []byte, t time.Time) []byte {
	t = t.UTC()
	pad := func(b []byte, v, width int) []byte {
		var buf [8]byte
		for i := width - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		return append(b, buf[:width]...)
	}
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	b = pad(b, y, 4)
	b = append(b, '-')
	b = pad(b, int(mo), 2)
	b = append(b, '-')
	b = pad(b, d, 2)
	b = append(b, 'T')
	b = pad(b, h, 2)
	b = append(b, ':')
	b = pad(b, mi, 2)
	b = append(b, ':')
	b = pad(b, sec, 2)
	b = append(b, '.')
	return pad(b, t.Nanosecond()/1000, 6)
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
