package image

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/image"
)

// List limits, as Glance's limit_param_default and api_limit_max.
const (
	defaultLimit = 25
	maxLimit     = 1000
)

func (a *API) createImage(w http.ResponseWriter, r *http.Request) error {
	attrs, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	im, err := a.svc.Create(r.Context(), auth.From(r.Context()), attrs)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/v2/images/"+im.ID)
	w.Header().Set("OpenStack-image-import-methods", strings.Join(svc.ImportMethods, ","))
	rest.WriteJSON(w, http.StatusCreated, imageJSON(&im))
	return nil
}

func (a *API) showImage(w http.ResponseWriter, r *http.Request) error {
	im, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("image_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, imageJSON(&im))
	return nil
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Delete(r.Context(), auth.From(r.Context()), r.PathValue("image_id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) error {
	q, marker, err := parseList(r.URL.Query())
	if err != nil {
		return err
	}
	ims, more, err := a.svc.List(r.Context(), auth.From(r.Context()), q, marker)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ims))
	for i := range ims {
		items = append(items, imageJSON(&ims[i]))
	}
	query := withoutMarker(r.URL.RawQuery)
	body := map[string]any{"images": items, "first": "/v2/images", "schema": "/v2/schemas/images"}
	if query != "" {
		body["first"] = "/v2/images?" + query
	}
	if more && len(ims) > 0 {
		next := "/v2/images?"
		if query != "" {
			next += query + "&"
		}
		body["next"] = next + "marker=" + url.QueryEscape(ims[len(ims)-1].ID)
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

// withoutMarker is a raw query string without its marker parameters, in
// the client's order: the base of the first and next links.
func withoutMarker(raw string) string {
	var keep []string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "marker" {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, "&")
}

// parseList turns GET /v2/images parameters into a query, as Glance reads
// them: known filters, comparison operators ("in:", "gt:"), ranges
// (size_min), tags, sorting in both syntaxes, and every other parameter as
// a property filter.
func parseList(v url.Values) (q svc.ListQuery, marker string, err error) {
	q.Limit = defaultLimit
	if s, ok := first(v, "limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, "", oserr.BadRequest("limit param must be an integer, not %q.", s)
		}
		if n < 0 {
			return q, "", oserr.BadRequest("limit param must be positive, not %d.", n)
		}
		q.Limit = min(n, maxLimit)
	}
	marker, _ = first(v, "marker")
	q.MemberStatus = svc.MemberAccepted
	if s, ok := first(v, "member_status"); ok {
		if s != "all" && !slices.Contains(svc.MemberStatuses, s) {
			return q, "", oserr.BadRequest("Invalid status: %s; use pending, accepted, rejected or all.", s)
		}
		q.MemberStatus = s
	}
	for _, t := range v["tag"] {
		q.Tags = append(q.Tags, strings.TrimSpace(t))
	}
	if q.Sort, err = parseSort(v); err != nil {
		return q, "", err
	}
	if s, ok := first(v, "visibility"); ok {
		if s != "all" && !slices.Contains(svc.Visibilities, s) {
			return q, "", oserr.BadRequest("Invalid visibility value: %s; use public, private, shared, community or all.", s)
		}
		q.Visibility = s
	}
	if s, ok := first(v, "os_hidden"); ok {
		b, err := boolParam("os_hidden", s)
		if err != nil {
			return q, "", err
		}
		q.Hidden = b
	}
	if s, ok := first(v, "protected"); ok {
		b, err := boolParam("protected", s)
		if err != nil {
			return q, "", err
		}
		q.Protected = &b
	}
	if _, ok := v["changes-since"]; ok {
		return q, "", oserr.BadRequest("The \"changes-since\" filter is no longer available on v2; use updated_at=gt:TIME.")
	}
	consumed := map[string]bool{"limit": true, "marker": true, "member_status": true, "tag": true, "sort": true,
		"sort_key": true, "sort_dir": true, "visibility": true, "os_hidden": true, "protected": true}
	for key, vals := range v {
		if consumed[key] || len(vals) == 0 {
			continue
		}
		val := vals[0]
		switch {
		case key == "name" || key == "id" || key == "status" || key == "container_format" || key == "disk_format":
			list, err := inFilter(val)
			if err != nil {
				return q, "", err
			}
			switch key {
			case "name":
				q.Names = list
			case "id":
				q.IDs = list
			case "status":
				q.Statuses = list
			case "container_format":
				q.ContainerFormats = list
			case "disk_format":
				q.DiskFormats = list
			}
		case key == "owner":
			q.Owner = &val
		case key == "checksum":
			q.Checksum = &val
		case key == "os_hash_value":
			q.OSHashValue = &val
		case key == "created_at" || key == "updated_at":
			tf, err := timeFilter(key, val)
			if err != nil {
				return q, "", err
			}
			q.Times = append(q.Times, tf)
		case intFilter(strings.TrimSuffix(strings.TrimSuffix(key, "_min"), "_max")) && (strings.HasSuffix(key, "_min") || strings.HasSuffix(key, "_max")):
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return q, "", oserr.BadRequest("Unable to filter on a range with a non-numeric value: %s=%s; give a whole number of bytes.", key, val)
			}
			col := key[:len(key)-4]
			if strings.HasSuffix(key, "_min") {
				q.Mins = setInt(q.Mins, col, n)
			} else {
				q.Maxes = setInt(q.Maxes, col, n)
			}
		case intFilter(key):
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return q, "", oserr.BadRequest("Invalid %s filter %q: give a whole number.", key, val)
			}
			q.Ints = setInt(q.Ints, key, n)
		default:
			if q.Properties == nil {
				q.Properties = map[string]string{}
			}
			q.Properties[key] = val
		}
	}
	return q, marker, nil
}

func first(v url.Values, key string) (string, bool) {
	vs, ok := v[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func setInt(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] = n
	return m
}

func intFilter(key string) bool {
	return key == "size" || key == "min_disk" || key == "min_ram" || key == "virtual_size"
}

func boolParam(key, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, oserr.BadRequest("Invalid value '%s' for '%s' filter. Valid values are 'true' or 'false'.", s, key)
}

// splitOp splits "op:value"; a plain value (or an ISO time, whose colons
// are not an operator) is "eq".
func splitOp(s string) (op, val string) {
	left, right, ok := strings.Cut(s, ":")
	if !ok {
		return "eq", s
	}
	if _, err := parseTime(s); err == nil {
		return "eq", s
	}
	return left, right
}

// inFilter reads "x", "eq:x" or `in:a,"b,c"` into a list of values.
func inFilter(s string) ([]string, error) {
	op, val := splitOp(s)
	switch op {
	case "eq":
		return []string{val}, nil
	case "in":
		return splitQuoted(val)
	}
	return nil, oserr.BadRequest("Unable to filter by unknown operator '%s'; use in:A,B or a plain value.", op)
}

var quoted = regexp.MustCompile(`"((?:[^"\\]|\\.)*)",?|([^,]+),?|,`)

// splitQuoted splits a comma-separated list whose items may be quoted.
func splitQuoted(s string) ([]string, error) {
	if strings.Count(s, `"`)-strings.Count(s, `\"`) != 0 && (strings.Count(s, `"`)-strings.Count(s, `\"`))%2 != 0 {
		return nil, oserr.BadRequest("Invalid filter value %s. The quote is not closed.", s)
	}
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(s, -1) {
		if m[1] != "" {
			out = append(out, strings.ReplaceAll(m[1], `\"`, `"`))
		} else {
			out = append(out, m[2])
		}
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}

func timeFilter(key, s string) (svc.TimeFilter, error) {
	op, val := splitOp(s)
	t, err := parseTime(val)
	if err != nil {
		return svc.TimeFilter{}, oserr.BadRequest("Bad \"%s\" query filter format. Use ISO 8601 DateTime notation, e.g. %s=gt:2024-01-01T00:00:00Z.", key, key)
	}
	switch op {
	case "eq", "neq", "gt", "gte", "lt", "lte":
	default:
		return svc.TimeFilter{}, oserr.BadRequest("Unable to filter on a unknown operator '%s'; use eq, neq, gt, gte, lt or lte.", op)
	}
	return svc.TimeFilter{Column: key, Op: op, At: t}, nil
}

// parseSort reads "sort=k1:dir,k2" or "sort_key=k1&sort_dir=dir" and
// appends created_at and id, as Glance does, so that the order is total.
func parseSort(v url.Values) ([]svc.Sort, error) {
	var keys, dirs []string
	if s, ok := first(v, "sort"); ok {
		if _, k := v["sort_key"]; k {
			return nil, oserr.BadRequest("Old and new sorting syntax cannot be combined: use sort=KEY:DIR or sort_key and sort_dir.")
		}
		if _, k := v["sort_dir"]; k {
			return nil, oserr.BadRequest("Old and new sorting syntax cannot be combined: use sort=KEY:DIR or sort_key and sort_dir.")
		}
		for _, p := range strings.Split(strings.TrimSpace(s), ",") {
			k, d, _ := strings.Cut(p, ":")
			if strings.TrimSpace(d) == "" {
				d = "desc"
			}
			keys, dirs = append(keys, strings.TrimSpace(k)), append(dirs, strings.TrimSpace(d))
		}
	} else {
		for _, k := range v["sort_key"] {
			keys = append(keys, strings.TrimSpace(k))
		}
		for _, d := range v["sort_dir"] {
			dirs = append(dirs, strings.TrimSpace(d))
		}
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return nil, oserr.BadRequest("Number of sort dirs does not match the number of sort keys: give one sort_dir per sort_key, or one for all.")
		}
	}
	for _, k := range keys {
		if keys := svc.SortKeys(); !slices.Contains(keys, k) {
			return nil, oserr.BadRequest("Invalid sort key: %s. It must be one of the following: %s.", k, strings.Join(keys, ", "))
		}
	}
	for _, d := range dirs {
		if d != "asc" && d != "desc" {
			return nil, oserr.BadRequest("Invalid sort direction: %s; use asc or desc.", d)
		}
	}
	defaultDir := "desc"
	if len(dirs) == 1 {
		defaultDir = dirs[0]
	}
	if len(keys) == 0 {
		keys = []string{"created_at"}
	}
	var out []svc.Sort
	for i, k := range keys {
		if slices.ContainsFunc(out, func(s svc.Sort) bool { return s.Key == k }) {
			continue
		}
		d := defaultDir
		if len(dirs) > 1 {
			d = dirs[i]
		}
		out = append(out, svc.Sort{Key: k, Desc: d == "desc"})
	}
	for _, k := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(out, func(s svc.Sort) bool { return s.Key == k }) {
			out = append(out, svc.Sort{Key: k, Desc: defaultDir == "desc"})
		}
	}
	// id must be last for the keyset; anything after it is already unique.
	for i, s := range out {
		if s.Key == "id" {
			out = out[:i+1]
			break
		}
	}
	return out, nil
}

// ---- PATCH

// Media types of Glance's JSON-patch flavours.
const (
	patchV21 = "application/openstack-images-v2.1-json-patch"
	patchV20 = "application/openstack-images-v2.0-json-patch"
)

func (a *API) updateImage(w http.ResponseWriter, r *http.Request) error {
	changes, err := decodePatch(w, r)
	if err != nil {
		return err
	}
	im, err := a.svc.Update(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), changes)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, imageJSON(&im))
	return nil
}

// decodePatch reads a JSON-patch document in either of Glance's flavours.
func decodePatch(w http.ResponseWriter, r *http.Request) ([]svc.Change, error) {
	mt := mediaType(r)
	if mt != patchV21 && mt != patchV20 {
		w.Header().Set("Accept-Patch", patchV20+", "+patchV21)
		return nil, oserr.UnsupportedMediaType("The request media type %s is not supported by this server: send Content-Type %s.", mt, patchV21)
	}
	v, err := decodeJSON(w, r)
	if err != nil {
		return nil, err
	}
	return parsePatch(v, mt == patchV20)
}

// parsePatch turns a decoded JSON-patch document into changes. draft4 is
// the v2.0 flavour: {"replace": "/name", "value": …}.
func parsePatch(v any, draft4 bool) ([]svc.Change, error) {
	ops, ok := v.([]any)
	if !ok {
		return nil, oserr.BadRequest("Request body must be a JSON array of operation objects, not %s.", jsonKind(v))
	}
	var changes []svc.Change
	for _, raw := range ops {
		o, ok := raw.(map[string]any)
		if !ok {
			return nil, oserr.BadRequest("Operations must be JSON objects, not %s.", jsonKind(raw))
		}
		var op string
		var path any
		if draft4 {
			for _, name := range []string{svc.OpAdd, svc.OpRemove, svc.OpReplace} {
				if p, ok := o[name]; ok {
					if op != "" {
						return nil, oserr.BadRequest(`Operation objects must contain only one member named "add", "remove", or "replace".`)
					}
					op, path = name, p
				}
			}
			if op == "" {
				return nil, oserr.BadRequest(`Operation objects must contain exactly one member named "add", "remove", or "replace".`)
			}
		} else {
			s, ok := o["op"].(string)
			if !ok {
				return nil, oserr.BadRequest("Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.")
			}
			if s != svc.OpAdd && s != svc.OpRemove && s != svc.OpReplace {
				return nil, oserr.BadRequest("Invalid operation: `%s`. It must be one of the following: add, remove, replace.", s)
			}
			op = s
			if path, ok = o["path"]; !ok {
				return nil, oserr.BadRequest("Unable to find 'path' in JSON Schema change.")
			}
		}
		ptr, ok := path.(string)
		if !ok {
			return nil, oserr.BadRequest("Pointer %s is not a string; use a JSON pointer such as \"/name\".", jsonText(path))
		}
		parts, err := decodePointer(ptr)
		if err != nil {
			return nil, err
		}
		if parts[0] == "locations" {
			return nil, oserr.Forbidden("It's not allowed to %s locations if locations are invisible: this cloud stores image data itself.", op)
		}
		if len(parts) != 1 {
			return nil, oserr.BadRequest("Invalid JSON pointer for this resource: '/%s'; image attributes are one level deep, e.g. \"/%s\".", strings.Join(parts, "/"), parts[0])
		}
		ch := svc.Change{Op: op, Attr: parts[0]}
		if op != svc.OpRemove {
			val, ok := o["value"]
			if !ok {
				return nil, oserr.BadRequest("Operation \"%s\" requires a member named \"value\".", op)
			}
			ch.Value = val
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

var (
	adjacentSlash = regexp.MustCompile(`/\s*?/`)
	badTilde      = regexp.MustCompile(`~[^01]`)
)

// decodePointer checks a JSON pointer the way Glance does and decodes its
// tokens (~1 is "/", ~0 is "~").
func decodePointer(p string) ([]string, error) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return nil, oserr.BadRequest("Pointer `%s` does not start with \"/\".", p)
	case adjacentSlash.MatchString(p[1:]):
		return nil, oserr.BadRequest("Pointer `%s` contains adjacent \"/\".", p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return nil, oserr.BadRequest("Pointer `%s` end with \"/\".", p)
	case strings.TrimSpace(p[1:]) == "/" || strings.TrimSpace(p[1:]) == "":
		return nil, oserr.BadRequest("Pointer `%s` does not contains valid token.", p)
	case badTilde.MatchString(p) || strings.HasSuffix(p, "~"):
		return nil, oserr.BadRequest("Pointer `%s` contains \"~\" not part of a recognized escape sequence.", p)
	}
	var out []string
	for _, part := range strings.Split(p[1:], "/") {
		out = append(out, strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")))
	}
	return out, nil
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	}
	return jsonKind(v)
}

// ---- tags and actions

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.AddTag(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), r.PathValue("tag")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteTag(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), r.PathValue("tag")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Deactivate(r.Context(), auth.From(r.Context()), r.PathValue("image_id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) reactivate(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Reactivate(r.Context(), auth.From(r.Context()), r.PathValue("image_id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
