package identity

import (
	"encoding/json"
	"maps"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
)

// fields is one decoded resource object of a request body, e.g. the value
// of "user" in {"user": {...}}. Keystone keeps unknown attributes of most
// resources as "extra" and returns them, so decoding is by field, with
// typed accessors that say which field is wrong.
type fields map[string]any

// body decodes {"<key>": {...}} from r.
func body(r *http.Request, key string) (fields, error) {
	var doc map[string]json.RawMessage
	if err := rest.Decode(r, &doc, false); err != nil {
		return nil, err
	}
	raw, ok := doc[key]
	if !ok {
		return nil, oserr.BadRequest("Invalid input: the request body needs a %q object, e.g. {\"%s\": {...}}.", key, key)
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, oserr.BadRequest("Invalid input for field '%s': expected an object.", key)
	}
	return f, nil
}

// str returns a string field; present is false when absent or null.
func (f fields) str(name string, max int) (v string, present bool, err error) {
	raw, ok := f[name]
	if !ok || raw == nil {
		return "", false, nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", true, oserr.BadRequest("Invalid input for field '%s': expected a string, got %s.", name, jsonKind(raw))
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return "", true, oserr.BadRequest("Invalid input for field '%s': at most %d characters are allowed.", name, max)
	}
	return s, true, nil
}

// boolean returns a boolean field.
func (f fields) boolean(name string) (v bool, present bool, err error) {
	raw, ok := f[name]
	if !ok {
		return false, false, nil
	}
	b, ok := raw.(bool)
	if !ok {
		return false, true, oserr.BadRequest("Invalid input for field '%s': expected a boolean, got %s.", name, jsonKind(raw))
	}
	return b, true, nil
}

// strings returns a list-of-strings field.
func (f fields) strings(name string) ([]string, bool, error) {
	raw, ok := f[name]
	if !ok || raw == nil {
		return nil, false, nil
	}
	l, ok := raw.([]any)
	if !ok {
		return nil, true, oserr.BadRequest("Invalid input for field '%s': expected an array of strings.", name)
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, true, oserr.BadRequest("Invalid input for field '%s': expected an array of strings.", name)
		}
		out = append(out, s)
	}
	return out, true, nil
}

// extra returns the fields not in known, which Keystone stores and echoes.
func (f fields) extra(known ...string) map[string]any {
	out := maps.Clone(map[string]any(f))
	for _, k := range known {
		delete(out, k)
	}
	for _, k := range []string{"id", "links", "domain_id", "options"} {
		delete(out, k)
	}
	return out
}

// immutable refuses a change to a field that cannot change.
func (f fields) immutable(name, current string) error {
	v, present, err := f.str(name, 0)
	if err != nil {
		return err
	}
	if present && v != current {
		return oserr.BadRequest("Invalid input for field '%s': it cannot be changed (it is %s).", name, current)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return "a value"
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// ts formats times as Keystone does: microseconds, Z.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// obj merges extra attributes under the fixed ones.
func obj(extra map[string]any, fixed map[string]any) map[string]any {
	out := make(map[string]any, len(extra)+len(fixed))
	maps.Copy(out, extra)
	maps.Copy(out, fixed)
	return out
}

// collection is a list response with Keystone's links block.
func (a *API) collection(w http.ResponseWriter, r *http.Request, key string, items []map[string]any) error {
	if items == nil {
		items = []map[string]any{}
	}
	self := a.base + r.URL.Path[len(Prefix):]
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: items, "links": map[string]any{"self": self, "previous": nil, "next": nil}})
	return nil
}

func (a *API) link(path string) map[string]any {
	return map[string]any{"self": a.base + "/v3/" + path}
}

// boolQuery reads a boolean query parameter as Keystone does: present
// without a value, or any value but "0"/"false", is true.
func boolQuery(r *http.Request, name string) (v bool, present bool) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, false
	}
	switch q.Get(name) {
	case "0", "false", "False", "FALSE":
		return false, true
	}
	return true, true
}
