package object

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	svc "github.com/onestack/onestack/internal/service/object"
)

// headerName is a request header's name as Swift sees it: lower case,
// with underscores as dashes (WSGI's HTTP_X_FOO_BAR is X-Foo-Bar).
func headerName(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }

// headers returns the request's headers by Swift name; a header sent
// several times counts with its first value.
func headers(r *http.Request) map[string]string {
	out := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		n := headerName(k)
		if _, seen := out[n]; !seen && len(vs) > 0 {
			out[n] = vs[0]
		}
	}
	return out
}

// metaChange reads an account or container metadata change: x-<kind>-meta-*
// set (an empty value removes), x-remove-<kind>-meta-* remove, and the
// kind's system headers (given, or removed with x-remove-*).
func metaChange(h map[string]string, kind string, system ...string) (svc.Meta, error) {
	prefix := "x-" + kind + "-meta-"
	change := svc.Meta{}
	user := map[string]string{}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, prefix):
			change[k] = v
			user[k] = v
		case strings.HasPrefix(k, "x-remove-"+kind+"-meta-"):
			name := prefix + strings.TrimPrefix(k, "x-remove-"+kind+"-meta-")
			if _, set := change[name]; !set {
				change[name] = ""
			}
		}
	}
	for _, s := range system {
		if v, ok := h[s]; ok {
			change[s] = v
		} else if _, ok := h["x-remove-"+strings.TrimPrefix(s, "x-")]; ok {
			change[s] = ""
		}
	}
	if err := svc.CheckMeta(kind, user); err != nil {
		return nil, err
	}
	for _, s := range system {
		if v := change[s]; len(v) > svc.MaxHeaderSize {
			return nil, textErr(400, "Header value too long: %s", s)
		}
	}
	return change, nil
}

// objectHeaders reads the headers an object PUT, POST or COPY stores:
// x-object-meta-* (x-remove-object-meta-* leave one out) and the stored
// headers (content-encoding, content-disposition, x-object-manifest…).
func objectHeaders(h map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "x-object-meta-"):
			out[k] = v
		case containsString(svc.StoredHeaders, k):
			out[k] = v
		}
	}
	for k := range h {
		if name, ok := strings.CutPrefix(k, "x-remove-object-meta-"); ok {
			delete(out, "x-object-meta-"+name)
		}
	}
	if err := svc.CheckMeta("object", out); err != nil {
		return nil, err
	}
	if v := out[svc.ObjectManifest]; v != "" {
		if err := svc.CheckManifestHeader(v); err != nil {
			return nil, err
		}
	}
	if !svc.ValidUTF8OrEmpty(h["content-type"]) {
		return nil, textErr(400, "Invalid Content-Type")
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deleteAt reads X-Delete-At, or X-Delete-After (seconds from now), as
// Swift's check_delete_headers: 0 when neither is sent.
func deleteAt(h map[string]string, now time.Time) (int64, error) {
	if v, ok := h["x-delete-after"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, textErr(400, "Non-integer X-Delete-After")
		}
		at := now.Unix() + n
		if n <= 0 {
			return 0, textErr(400, "X-Delete-After in past")
		}
		return at, nil
	}
	if v, ok := h["x-delete-at"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(strings.TrimSpace(v), 64); ferr == nil && f > 0 && f < math.MaxInt64 {
				n = int64(f)
			} else {
				return 0, textErr(400, "Non-integer X-Delete-At")
			}
		}
		if n <= now.Unix() {
			return 0, textErr(400, "X-Delete-At in past")
		}
		return n, nil
	}
	return 0, nil
}

// setMeta writes stored metadata as response headers, in canonical case.
func setMeta(w http.ResponseWriter, md map[string]string) {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.Header()[http.CanonicalHeaderKey(k)] = []string{md[k]}
	}
}

// lastModified is an HTTP date of t rounded up to the second, as Swift
// sends Last-Modified (and compares If-Modified-Since with).
func lastModified(t time.Time) time.Time {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return time.Unix(s, 0).UTC()
}

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// isoTime is a listing's last_modified: ISO 8601 with microseconds, no zone.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// truthy reads a Swift boolean ("true", "yes", "on", "1", "t", "y").
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

// emptyBody ends a response without a body: Content-Length 0 and Swift's
// default Content-Type.
func emptyBody(w http.ResponseWriter, status int) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	}
	if status != http.StatusNoContent && status != http.StatusNotModified {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}
