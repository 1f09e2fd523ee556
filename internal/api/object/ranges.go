package object

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
)

// byteRange is a requested range as sent: nil Start is a suffix ("-N"),
// nil End open-ended ("M-").
type byteRange struct{ Start, End *int64 }

// maxRanges, maxOverlaps and maxNonAscending bound a Range header as
// swob does (RFC 7233's "egregious" ranges): past them it is unsatisfiable.
const (
	maxRanges       = 50
	maxOverlaps     = 2
	maxNonAscending = 8
)

// ParseRange decodes a Range header as swob's Range: "bytes=" and
// comma-separated specs; ok is false when the header is syntactically
// invalid, and must then be ignored (RFC 7233).
func ParseRange(h string) ([]byteRange, bool) {
	h = strings.ReplaceAll(h, " ", "")
	if len(h) < 6 || !strings.EqualFold(h[:6], "bytes=") {
		return nil, false
	}
	var out []byteRange
	for spec := range strings.SplitSeq(h[6:], ",") {
		a, b, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		var r byteRange
		if a != "" {
			n, err := strconv.ParseInt(a, 10, 64)
			if err != nil || n < 0 {
				return nil, false
			}
			r.Start = &n
		}
		if b != "" {
			if strings.Trim(b, "0123456789") != "" {
				return nil, false
			}
			n, err := strconv.ParseInt(b, 10, 64)
			if err != nil || (r.Start != nil && n < *r.Start) {
				return nil, false
			}
			r.End = &n
		} else if r.Start == nil {
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// span is a satisfiable range: [start, end).
type span struct{ start, end int64 }

// rangesFor resolves ranges against a length as swob's ranges_for_length:
// nil when the header is to be ignored, empty when nothing is
// satisfiable (416).
func rangesFor(rs []byteRange, length int64) []span {
	if len(rs) == 0 {
		return nil
	}
	out := []span{}
	for _, r := range rs {
		switch {
		case r.Start == nil:
			if *r.End == 0 {
				continue
			}
			if *r.End > length {
				out = append(out, span{0, length})
			} else {
				out = append(out, span{length - *r.End, length})
			}
		case r.End == nil:
			if *r.Start < length {
				out = append(out, span{*r.Start, length})
			}
		case *r.Start < length:
			out = append(out, span{*r.Start, min(*r.End+1, length)})
		}
	}
	if len(out) > maxRanges {
		return []span{}
	}
	overlaps := 0
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := out[i], out[j]
			if (a.start < b.start && b.start < a.end) || (a.start < b.end && b.end < a.end) ||
				(b.start < a.start && a.start < b.end) || (b.start < a.end && a.end < b.end) {
				if overlaps++; overlaps > maxOverlaps {
					return []span{}
				}
			}
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].start > out[i].start && len(out) >= maxNonAscending {
			return []span{}
		}
	}
	return out
}

// matchList reads an If-Match or If-None-Match list: tags without quotes.
func matchList(h string) []string {
	var out []string
	for t := range strings.SplitSeq(h, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
			t = t[1 : len(t)-1]
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

func matches(list []string, etag string) bool {
	for _, t := range list {
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// conditional returns the status a conditional GET or HEAD gets instead
// of the object (304 or 412), or 0, in swob's order.
func conditional(r *http.Request, etag string, lm time.Time) int {
	if v := r.Header.Get("If-None-Match"); v != "" && matches(matchList(v), etag) {
		return http.StatusNotModified
	}
	if v := r.Header.Get("If-Match"); v != "" && !matches(matchList(v), etag) {
		return http.StatusPreconditionFailed
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lm.After(t) {
			return http.StatusNotModified
		}
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && lm.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	return 0
}

// lazyWriter sends the status on the first byte of the body, so a content
// that fails before writing anything can still be answered with an error.
type lazyWriter struct {
	w       http.ResponseWriter
	status  int
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}

func (l *lazyWriter) start() {
	if !l.started {
		l.started = true
		l.w.WriteHeader(l.status)
	}
}

// ReadFrom lets a file reach the connection's ReadFrom (sendfile) through
// the writers that wrap it (the access log's, which unwrap as
// http.ResponseController expects).
func (l *lazyWriter) ReadFrom(r io.Reader) (int64, error) {
	l.start()
	w := l.w
	for {
		if rf, ok := w.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return io.Copy(onlyWriter{w}, r)
		}
		w = u.Unwrap()
	}
}

// onlyWriter hides a writer's ReadFrom from io.Copy.
type onlyWriter struct{ io.Writer }

// sendObject answers a GET or HEAD of an object whose headers are set:
// conditionals, then the whole content, one range or several
// (multipart/byteranges).
func (a *API) sendObject(w http.ResponseWriter, r *http.Request, v *svc.ObjectView) error {
	etag := strings.Trim(v.ETag, `"`)
	if st := conditional(r, etag, lastModified(v.Modified)); st != 0 {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(st)
		return nil
	}
	if r.Method == "HEAD" {
		w.Header().Set("Content-Length", itoa(v.Length))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	var spans []span
	if h := r.Header.Get("Range"); h != "" {
		if rs, ok := ParseRange(h); ok {
			spans = rangesFor(rs, v.Length)
			if spans != nil && len(spans) == 0 && !(v.Length == 0 && hasSuffix(rs)) {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", v.Length))
				return &oserr.Error{Status: http.StatusRequestedRangeNotSatisfiable, Message: fmt.Sprintf("The object has %d bytes; ask for a range within them.", v.Length)}
			}
			if v.Length == 0 {
				spans = nil
			}
		}
	}
	ctx := r.Context()
	switch len(spans) {
	case 0:
		w.Header().Set("Content-Length", itoa(v.Length))
		return a.stream(ctx, w, http.StatusOK, v.Data, []span{{0, v.Length}})
	case 1:
		s := spans[0]
		w.Header().Set("Content-Length", itoa(s.end-s.start))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s.start, s.end-1, v.Length))
		return a.stream(ctx, w, http.StatusPartialContent, v.Data, spans)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	boundary := hex.EncodeToString(b[:])
	ctype := w.Header().Get("Content-Type")
	heads := make([]string, len(spans))
	total := int64(0)
	for i, s := range spans {
		heads[i] = "--" + boundary + "\r\nContent-Type: " + ctype + "\r\n" +
			fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n\r\n", s.start, s.end-1, v.Length)
		total += int64(len(heads[i])) + s.end - s.start + 2
	}
	tail := "--" + boundary + "--"
	total += int64(len(tail))
	w.Header().Set("Content-Type", "multipart/byteranges;boundary="+boundary)
	w.Header().Set("Content-Length", itoa(total))
	lw := &lazyWriter{w: w, status: http.StatusPartialContent}
	for i, s := range spans {
		if _, err := io.WriteString(lw, heads[i]); err != nil {
			return a.abort(lw, err)
		}
		if err := v.Data.WriteRange(ctx, lw, s.start, s.end-s.start); err != nil {
			return a.abort(lw, err)
		}
		if _, err := io.WriteString(lw, "\r\n"); err != nil {
			return a.abort(lw, err)
		}
	}
	_, err := io.WriteString(lw, tail)
	return a.abort(lw, err)
}

func hasSuffix(rs []byteRange) bool {
	for _, r := range rs {
		if r.Start == nil {
			return true
		}
	}
	return false
}

// stream writes spans of data with the status.
func (a *API) stream(ctx context.Context, w http.ResponseWriter, status int, data svc.Content, spans []span) error {
	lw := &lazyWriter{w: w, status: status}
	for _, s := range spans {
		if s.end == s.start {
			continue
		}
		if err := data.WriteRange(ctx, lw, s.start, s.end-s.start); err != nil {
			return a.abort(lw, err)
		}
	}
	if !lw.started {
		w.WriteHeader(status)
	}
	return nil
}

// abort handles a failure while writing a body: before the first byte it
// is answered as an error (409 for a large object whose segments fail, as
// Swift); after, the connection is cut so the client sees a short body,
// never a silently wrong one.
func (a *API) abort(lw *lazyWriter, err error) error {
	if err == nil {
		return nil
	}
	if !lw.started {
		for _, h := range []string{"Content-Length", "Content-Range", "Etag", "Last-Modified"} {
			lw.w.Header().Del(h)
		}
		if e := asOSErr(err); e != nil {
			return e
		}
		return textErr(http.StatusConflict, "The object could not be read: %v", err)
	}
	a.log.Warn("object read failed mid-response; cutting the connection", "error", err)
	panic(http.ErrAbortHandler)
}

// asOSErr returns err's *oserr.Error when it carries one.
func asOSErr(err error) *oserr.Error {
	var e *oserr.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
