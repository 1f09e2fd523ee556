package object

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Static large objects: a manifest lists segments (objects of the same
// account, whole or a byte range of them, or inline data) that a GET
// returns one after the other. The manifest is stored as the object's data
// in Swift's own form (name, bytes, hash, range, sub_slo, data), checked
// against the segments when it is uploaded and again as they are read.

// SegmentSpec is one entry of a manifest as a client uploads it.
type SegmentSpec struct {
	Path      string  `json:"path,omitempty"`
	ETag      *string `json:"etag,omitempty"`
	SizeBytes *int64  `json:"size_bytes,omitempty"`
	Range     string  `json:"range,omitempty"`
	Data      []byte  `json:"-"` // decoded inline data
}

// storedSegment is one entry of a manifest as stored (and as
// ?multipart-manifest=get shows it).
type storedSegment struct {
	Name         string `json:"name,omitempty"`
	Bytes        int64  `json:"bytes"`
	Hash         string `json:"hash,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Range        string `json:"range,omitempty"`
	SubSLO       bool   `json:"sub_slo,omitempty"`
	Data         string `json:"data,omitempty"`
}

// ParseManifest decodes and checks an uploaded manifest as Swift's
// parse_and_validate_input: a JSON list of objects with "path" (and
// optional "etag", "size_bytes", "range") or "data" (base64). Every problem
// is reported, one line per segment, in a 400.
func ParseManifest(body []byte, self string) ([]SegmentSpec, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var probe any
		if json.Unmarshal(body, &probe) == nil {
			return nil, textErr(400, "Manifest must be a list.\n")
		}
		return nil, textErr(400, "Manifest must be valid JSON.\n")
	}
	var errs []string
	out := make([]SegmentSpec, 0, len(raw))
	for i, r := range raw {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r, &m); err != nil || m == nil {
			errs = append(errs, fmt.Sprintf("Index %d: not a JSON object", i))
			continue
		}
		var seg SegmentSpec
		_, isPath := m["path"]
		_, isData := m["data"]
		allowed := []string{"path", "range", "etag", "size_bytes"}
		switch {
		case isData:
			allowed = []string{"data"}
		case !isPath:
			errs = append(errs, fmt.Sprintf("Index %d: expected keys to include one of 'data' or 'path'", i))
			continue
		}
		var extra []string
		for k := range m {
			if !slices.Contains(allowed, k) {
				extra = append(extra, strconv.Quote(k))
			}
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			errs = append(errs, fmt.Sprintf("Index %d: extraneous keys %s", i, strings.Join(extra, ", ")))
			continue
		}
		if isData {
			var s string
			if json.Unmarshal(m["data"], &s) != nil {
				errs = append(errs, fmt.Sprintf("Index %d: data must be valid base64", i))
				continue
			}
			d, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				if d, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
					errs = append(errs, fmt.Sprintf("Index %d: data must be valid base64", i))
					continue
				}
			}
			if len(d) < 1 {
				errs = append(errs, fmt.Sprintf("Index %d: too small; each segment must be at least 1 byte.", i))
				continue
			}
			out = append(out, SegmentSpec{Data: d})
			continue
		}
		if json.Unmarshal(m["path"], &seg.Path) != nil {
			errs = append(errs, fmt.Sprintf(`Index %d: "path" must be a string`, i))
			continue
		}
		if e, ok := m["etag"]; ok && string(e) != "null" {
			var s string
			if json.Unmarshal(e, &s) != nil {
				errs = append(errs, fmt.Sprintf(`Index %d: "etag" must be a string or null (if provided)`, i))
				continue
			}
			seg.ETag = &s
		}
		if !strings.Contains(strings.Trim(seg.Path, "/"), "/") {
			errs = append(errs, fmt.Sprintf("Index %d: path does not refer to an object. Path must be of the form /container/object.", i))
			continue
		}
		if sz, ok := m["size_bytes"]; ok && string(sz) != "null" {
			n, err := jsonInt(sz)
			if err != nil {
				errs = append(errs, fmt.Sprintf("Index %d: invalid size_bytes", i))
				continue
			}
			if n < 1 && i != len(raw)-1 {
				errs = append(errs, fmt.Sprintf("Index %d: too small; each segment must be at least 1 byte.", i))
				continue
			}
			seg.SizeBytes = &n
		}
		if self != "" && "/"+strings.TrimLeft(seg.Path, "/") == self {
			errs = append(errs, fmt.Sprintf("Index %d: manifest must not include itself as a segment", i))
			continue
		}
		if rg, ok := m["range"]; ok && string(rg) != "null" {
			if json.Unmarshal(rg, &seg.Range) != nil {
				errs = append(errs, fmt.Sprintf("Index %d: invalid range", i))
				continue
			}
			if seg.Range != "" {
				if strings.Contains(seg.Range, ",") {
					errs = append(errs, fmt.Sprintf("Index %d: multiple ranges (only one allowed)", i))
					continue
				}
				if _, _, ok := parseSegRange(seg.Range, -1); !ok {
					errs = append(errs, fmt.Sprintf("Index %d: invalid range", i))
					continue
				}
				if seg.SizeBytes != nil {
					if _, _, ok := parseSegRange(seg.Range, *seg.SizeBytes); !ok {
						errs = append(errs, fmt.Sprintf("Index %d: unsatisfiable range", i))
						continue
					}
				}
			}
		}
		out = append(out, seg)
	}
	if len(out) > 0 && !slices.ContainsFunc(out, func(s SegmentSpec) bool { return s.Data == nil }) {
		errs = append(errs, "Inline data segments require at least one object-backed segment.")
	}
	if len(errs) > 0 {
		return nil, textErr(400, "%s", strings.Join(errs, "\n")+"\n")
	}
	return out, nil
}

// jsonInt reads a size given as a JSON number or a string of digits.
func jsonInt(r json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(r, &n); err == nil {
		return strconv.ParseInt(n.String(), 10, 64)
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

// parseSegRange reads "M-N", "M-" or "-N" (inclusive). With size >= 0 it
// resolves the range against the object's size: the start and the length,
// ok false when unsatisfiable. With size < 0 it only checks the syntax.
func parseSegRange(r string, size int64) (start, length int64, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(r), "-")
	if !found || (a == "" && b == "") {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if !digits(s) {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	switch {
	case a == "":
		n, ok := num(b)
		if !ok || n == 0 {
			return 0, 0, false
		}
		if size < 0 {
			return 0, 0, true
		}
		n = min(n, size)
		return size - n, n, n > 0
	case b == "":
		m, ok := num(a)
		if !ok {
			return 0, 0, false
		}
		if size < 0 {
			return 0, 0, true
		}
		return m, size - m, m < size
	default:
		m, ok1 := num(a)
		n, ok2 := num(b)
		if !ok1 || !ok2 || n < m {
			return 0, 0, false
		}
		if size < 0 {
			return 0, 0, true
		}
		if m >= size {
			return 0, 0, false
		}
		return m, min(n, size-1) - m + 1, true
	}
}

// PutManifest stores an SLO manifest (PUT ?multipart-manifest=put) after
// checking every segment it names; the caller must be able to read them.
func (s *Service) PutManifest(ctx context.Context, c *Caller, account, container, name string, body io.Reader, in PutInput) (store.Object, error) {
	if err := CheckObjectName(name); err != nil {
		return store.Object{}, err
	}
	_, ct, err := s.access(ctx, c, account, container, opObjectWrite, false)
	if err != nil {
		return store.Object{}, err
	}
	if ct == nil {
		return store.Object{}, notFound("Container %s does not exist in account %s; create it first.", container, account)
	}
	raw, err := io.ReadAll(io.LimitReader(body, s.cfg.MaxManifestSize+1))
	if err != nil {
		return store.Object{}, fmt.Errorf("%w: %v", ErrClientGone, err)
	}
	if int64(len(raw)) > s.cfg.MaxManifestSize {
		return store.Object{}, textErr(413, "Manifest File > %d bytes", s.cfg.MaxManifestSize)
	}
	specs, err := ParseManifest(raw, "/"+container+"/"+name)
	if err != nil {
		return store.Object{}, err
	}
	if n := countPaths(specs); n > s.cfg.MaxManifestSegments {
		return store.Object{}, textErr(413, "Number of object-backed segments must be <= %d", s.cfg.MaxManifestSegments)
	}
	stored := make([]storedSegment, len(specs))
	var problems []string
	var total int64
	sloHash := md5.New()
	seen := map[string]*ObjectView{}
	for i, sp := range specs {
		if sp.Data != nil {
			stored[i] = storedSegment{Data: base64.StdEncoding.EncodeToString(sp.Data)}
			total += int64(len(sp.Data))
			sum := md5.Sum(sp.Data)
			sloHash.Write([]byte(hex.EncodeToString(sum[:])))
			continue
		}
		segPath := "/" + strings.TrimLeft(sp.Path, "/")
		v, ok := seen[segPath]
		if !ok {
			segCont, segName, _ := strings.Cut(segPath[1:], "/")
			v, err = s.Object(ctx, c, account, segCont, segName, ReadOptions{})
			if err != nil {
				e := oserr.From(err)
				if e.Status >= 500 {
					return store.Object{}, err
				}
				problems = append(problems, fmt.Sprintf("%s, %d %s", quotePath(segPath), e.Status, reason(e.Status)))
				seen[segPath] = nil
				continue
			}
			seen[segPath] = v
		}
		if v == nil {
			continue
		}
		segLen := v.Length
		seg := storedSegment{Name: segPath, Bytes: v.Length, Hash: strings.Trim(v.ETag, `"`), ContentType: v.ContentType,
			LastModified: v.Modified.UTC().Format("2006-01-02T15:04:05.000000"), SubSLO: v.Kind == SLO}
		if sp.Range != "" {
			start, n, ok := parseSegRange(sp.Range, v.Length)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s, Unsatisfiable Range", quotePath(segPath)))
			case start == 0 && n == v.Length:
				// the whole object: no range
			default:
				seg.Range = fmt.Sprintf("%d-%d", start, start+n-1)
				segLen = n
			}
		}
		if segLen < 1 && i != len(specs)-1 {
			problems = append(problems, fmt.Sprintf("%s, Too small; each segment must be at least 1 byte.", quotePath(segPath)))
		}
		if sp.SizeBytes != nil && *sp.SizeBytes != v.Length {
			problems = append(problems, fmt.Sprintf("%s, Size Mismatch", quotePath(segPath)))
		}
		if sp.ETag != nil && strings.Trim(*sp.ETag, `"`) != seg.Hash {
			problems = append(problems, fmt.Sprintf("%s, Etag Mismatch", quotePath(segPath)))
		}
		stored[i] = seg
		total += segLen
		if seg.Range != "" {
			sloHash.Write([]byte(seg.Hash + ":" + seg.Range + ";"))
		} else {
			sloHash.Write([]byte(seg.Hash))
		}
	}
	if len(problems) > 0 {
		return store.Object{}, textErr(400, "Errors:\n%s\n", strings.Join(problems, "\n"))
	}
	sloETag := hex.EncodeToString(sloHash.Sum(nil))
	if in.ETag != "" && strings.Trim(in.ETag, `"`) != sloETag {
		return store.Object{}, &oserr.Error{Status: 422, Message: fmt.Sprintf("The ETag header (%s) is not the manifest's etag %s (the MD5 of its segments' etags); send the right one or none.", in.ETag, sloETag)}
	}
	data, err := json.Marshal(stored)
	if err != nil {
		return store.Object{}, err
	}
	in.Body, in.Length, in.ETag = bytes.NewReader(data), int64(len(data)), ""
	in.sloSize, in.sloETag = total, sloETag
	return s.Put(ctx, c, account, container, name, in)
}

func countPaths(specs []SegmentSpec) int {
	n := 0
	for _, sp := range specs {
		if sp.Data == nil {
			n++
		}
	}
	return n
}

// readManifest reads a stored SLO manifest.
func (s *Service) readManifest(o store.Object) ([]storedSegment, error) {
	f, err := s.openFile(o.ID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, s.cfg.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	var segs []storedSegment
	if err := json.Unmarshal(raw, &segs); err != nil {
		return nil, fmt.Errorf("stored manifest of %s/%s is not valid: %w", o.Container, o.Name, err)
	}
	return segs, nil
}

// RawManifest turns a stored manifest into the form a client uploads
// (?multipart-manifest=get&format=raw).
func RawManifest(stored []byte) ([]byte, error) {
	var segs []storedSegment
	if err := json.Unmarshal(stored, &segs); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(segs))
	for _, g := range segs {
		if g.Data != "" {
			out = append(out, map[string]any{"data": g.Data})
			continue
		}
		m := map[string]any{"path": g.Name, "etag": g.Hash, "size_bytes": g.Bytes}
		if g.Range != "" {
			m["range"] = g.Range
		}
		out = append(out, m)
	}
	return json.Marshal(out)
}

// sloPart is one segment of a large object as read.
type sloPart struct {
	seg          storedSegment
	start, count int64 // the bytes of the segment object used
	data         []byte
}

// maxSLODepth bounds nested manifests, as Swift's max nesting.
const maxSLODepth = 10

type depthKey struct{}

// openSLO fills v from an SLO manifest: its length and etag, and on open
// the content that reads its segments.
func (s *Service) openSLO(ctx context.Context, c *Caller, v *ObjectView, open bool) error {
	v.Length, v.ETag = v.ListSize, `"`+v.SLOETag+`"`
	if !open {
		return nil
	}
	depth, _ := ctx.Value(depthKey{}).(int)
	if depth >= maxSLODepth {
		return oserr.Conflict("Large object %s/%s nests manifests more than %d deep.", v.Container, v.Name, maxSLODepth)
	}
	segs, err := s.readManifest(v.Object)
	if err != nil {
		return err
	}
	parts := make([]sloPart, 0, len(segs))
	for _, g := range segs {
		if g.Data != "" {
			d, err := base64.StdEncoding.DecodeString(g.Data)
			if err != nil {
				return fmt.Errorf("stored manifest of %s/%s has bad inline data: %w", v.Container, v.Name, err)
			}
			parts = append(parts, sloPart{seg: g, count: int64(len(d)), data: d})
			continue
		}
		p := sloPart{seg: g, count: g.Bytes}
		if g.Range != "" {
			start, n, ok := parseSegRange(g.Range, g.Bytes)
			if !ok {
				return fmt.Errorf("stored manifest of %s/%s has a bad range %q", v.Container, v.Name, g.Range)
			}
			p.start, p.count = start, n
		}
		parts = append(parts, p)
	}
	v.Data = &segmented{s: s, c: c, account: v.Account, parts: parts, depth: depth + 1,
		what: v.Container + "/" + v.Name}
	return nil
}

// segmented reads the parts of a large object in turn.
type segmented struct {
	s       *Service
	c       *Caller
	account string
	parts   []sloPart
	depth   int
	what    string
}

func (g *segmented) Close() error { return nil }

func (g *segmented) WriteRange(ctx context.Context, w io.Writer, off, n int64) error {
	ctx = context.WithValue(ctx, depthKey{}, g.depth)
	var pos int64
	for _, p := range g.parts {
		if n <= 0 {
			return nil
		}
		end := pos + p.count
		if end <= off {
			pos = end
			continue
		}
		from := max(off-pos, 0)
		take := min(p.count-from, n)
		if err := g.part(ctx, w, p, from, take); err != nil {
			return err
		}
		off += take
		n -= take
		pos = end
	}
	if n > 0 {
		return fmt.Errorf("large object %s is shorter than its manifest says", g.what)
	}
	return nil
}

// part writes take bytes of p from byte from of the part.
func (g *segmented) part(ctx context.Context, w io.Writer, p sloPart, from, take int64) error {
	if p.data != nil {
		_, err := w.Write(p.data[from : from+take])
		return err
	}
	cont, name, _ := strings.Cut(strings.TrimPrefix(p.seg.Name, "/"), "/")
	v, err := g.s.Object(ctx, g.c, g.account, cont, name, ReadOptions{Open: true})
	if err != nil {
		return fmt.Errorf("segment %s of large object %s: %w", p.seg.Name, g.what, err)
	}
	defer v.Data.Close()
	if strings.Trim(v.ETag, `"`) != p.seg.Hash || v.Length != p.seg.Bytes {
		return fmt.Errorf("segment %s of large object %s changed since the manifest was written (etag %s, %d bytes; the manifest says %s, %d bytes)",
			p.seg.Name, g.what, strings.Trim(v.ETag, `"`), v.Length, p.seg.Hash, p.seg.Bytes)
	}
	return v.Data.WriteRange(ctx, w, p.start+from, take)
}

// DeleteManifest deletes an SLO and every segment it lists, nested ones
// included (DELETE ?multipart-manifest=delete), as a bulk delete reports.
func (s *Service) DeleteManifest(ctx context.Context, c *Caller, account, container, name string) (BulkResult, error) {
	var res BulkResult
	v, err := s.Object(ctx, c, account, container, name, ReadOptions{Manifest: true})
	if err != nil {
		return res, err
	}
	if KindOf(v.Object) != SLO {
		return res, textErr(400, "Not an SLO manifest")
	}
	var paths []string
	if err := s.manifestPaths(v.Object, &paths, 0); err != nil {
		return res, err
	}
	paths = append(paths, "/"+container+"/"+name)
	return s.BulkDelete(ctx, c, account, paths), nil
}

func (s *Service) manifestPaths(o store.Object, out *[]string, depth int) error {
	if depth > maxSLODepth {
		return oserr.Conflict("Large object %s/%s nests manifests more than %d deep.", o.Container, o.Name, maxSLODepth)
	}
	segs, err := s.readManifest(o)
	if err != nil {
		return err
	}
	for _, g := range segs {
		if g.Name == "" {
			continue
		}
		if g.SubSLO {
			cont, name, _ := strings.Cut(strings.TrimPrefix(g.Name, "/"), "/")
			sub, err := s.lookup(context.Background(), o.Account, cont, name)
			if err == nil && KindOf(sub) == SLO {
				if err := s.manifestPaths(sub, out, depth+1); err != nil {
					return err
				}
			} else if err != nil && !errors.Is(err, errReplaced) && !oserr.Is(err, 404) {
				return err
			}
		}
		*out = append(*out, g.Name)
	}
	return nil
}

// quotePath URL-quotes a path keeping its slashes, as Swift's quote.
func quotePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// reason is the HTTP reason phrase of a status as Swift writes it.
func reason(status int) string {
	switch status {
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 409:
		return "Conflict"
	case 412:
		return "Precondition Failed"
	}
	return fmt.Sprint(status)
}
