package compute

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
)

// This file holds the request helpers the operator resources share:
// Nova's JSON-schema style body checks (integer-or-string numbers, its
// boolean spellings, additionalProperties: false), query checks, paging
// and the timestamp format of aggregates, services and keypairs.

// maxLimit is Nova's default [api] max_limit.
const maxLimit = 1000

// microTS is Nova's naive microsecond timestamp ("2013-08-18T12:17:56.297823").
func microTS(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

// readBody reads the request body as one JSON value, with rest's limits
// and messages.
func readBody(r *http.Request) ([]byte, error) {
	var raw json.RawMessage
	if err := rest.Decode(r, &raw, false); err != nil {
		return nil, err
	}
	return raw, nil
}

// object decodes raw as a JSON object whose keys are all in allowed (nil:
// any) and which has every key in required. where names the object in
// messages, e.g. "flavor"; "" is the body itself.
func object(raw []byte, where string, allowed, required []string) (map[string]json.RawMessage, error) {
	prefix := "Invalid input for field/attribute " + where + ":"
	if where == "" {
		prefix = "Invalid request body:"
	}
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, oserr.BadRequest("%s expected a JSON object.", prefix)
	}
	if allowed != nil {
		var extra []string
		for k := range m {
			if !slices.Contains(allowed, k) {
				extra = append(extra, "'"+k+"'")
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			return nil, oserr.BadRequest("%s Additional properties are not allowed (%s was unexpected); remove it (allowed: %s).", prefix, strings.Join(extra, ", "), strings.Join(allowed, ", "))
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			return nil, oserr.BadRequest("%s '%s' is a required property.", prefix, k)
		}
	}
	return m, nil
}

// wrapped decodes a body {"<key>": {...}} and returns the inner object.
func wrapped(raw []byte, key string, allowed, required []string) (map[string]json.RawMessage, error) {
	top, err := object(raw, "", []string{key}, []string{key})
	if err != nil {
		return nil, err
	}
	return object(top[key], key, allowed, required)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str reads a JSON string.
func str(raw json.RawMessage, field string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", oserr.BadRequest("Invalid input for field/attribute %s: expected a string, got %s.", field, short(raw))
	}
	return s, nil
}

// optStr reads a JSON string or null.
func optStr(raw json.RawMessage, field string) (*string, error) {
	if isNull(raw) {
		return nil, nil
	}
	s, err := str(raw, field)
	return &s, err
}

var (
	digits  = regexp.MustCompile(`^[0-9]+$`)
	decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// integer reads Nova's integer-or-numeric-string values within [lo, hi].
func integer(raw json.RawMessage, field string, lo, hi int64) (int, error) {
	bad := func() (int, error) {
		return 0, oserr.BadRequest("Invalid input for field/attribute %s: %s is not an integer from %d to %d.", field, short(raw), lo, hi)
	}
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, `"`) {
		s, err := str(raw, field)
		if err != nil || !digits.MatchString(s) {
			return bad()
		}
		t = s
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < lo || n > hi {
		return bad()
	}
	return int(n), nil
}

// signedInt is integer allowing a leading minus sign in strings (quotas).
func signedInt(raw json.RawMessage, field string, lo, hi int64) (int64, error) {
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, `"`) {
		s, err := str(raw, field)
		if err != nil {
			return 0, err
		}
		t = s
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, oserr.BadRequest("Invalid input for field/attribute %s: %s is not an integer from %d to %d.", field, short(raw), lo, hi)
	}
	return n, nil
}

// novaBools are the strings parameter_types.boolean accepts.
var novaBools = map[string]bool{
	"True": true, "TRUE": true, "true": true, "1": true, "ON": true, "On": true, "on": true, "YES": true, "Yes": true, "yes": true,
	"False": false, "FALSE": false, "false": false, "0": false, "OFF": false, "Off": false, "off": false, "NO": false, "No": false, "no": false,
}

// boolean reads Nova's parameter_types.boolean: true/false or one of the
// strings True, 1, on, yes, False, 0, off, no (any case Nova lists).
func boolean(raw json.RawMessage, field string) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if v, ok := novaBools[s]; ok {
			return v, nil
		}
	}
	return false, oserr.BadRequest("Invalid input for field/attribute %s: %s is not a boolean; use true or false.", field, short(raw))
}

// boolString parses a boolean query parameter strictly.
func boolString(s, field string) (bool, error) {
	b, err := boolean(json.RawMessage(strconv.Quote(s)), field)
	return b, err
}

// number reads a JSON number or a numeric string matching ^[0-9]+(\.[0-9]+)?$.
func number(raw json.RawMessage, field string) (float64, error) {
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, `"`) {
		s, err := str(raw, field)
		if err != nil || !decimal.MatchString(s) {
			return 0, oserr.BadRequest("Invalid input for field/attribute %s: %s is not a number.", field, short(raw))
		}
		t = s
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, oserr.BadRequest("Invalid input for field/attribute %s: %s is not a number.", field, short(raw))
	}
	return f, nil
}

// scalarString turns a JSON string or number into its string, as Nova
// stores numbers given for strings ("1", "1.5").
func scalarString(raw json.RawMessage, field string) (string, error) {
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, `"`) {
		return str(raw, field)
	}
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", oserr.BadRequest("Invalid input for field/attribute %s: expected a string or a number, got %s.", field, short(raw))
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// short quotes a raw JSON value for a message, cut to a readable length.
func short(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// onlyQuery refuses query parameters outside allowed from microversion
// 2.minor on, where Nova's query schemas forbid additional properties.
func onlyQuery(r *http.Request, minor int, allowed ...string) error {
	if !at(r, minor) {
		return nil
	}
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			return oserr.BadRequest("Invalid input for query parameters %s: additional properties are not allowed at microversion 2.%d and later; remove it (allowed: %s).", k, minor, orNothing(allowed))
		}
	}
	return nil
}

func orNothing(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// page reads limit and marker as Nova does: limit 0, absent or above
// max_limit means max_limit; negative or non-numeric limits are refused.
func page(q url.Values) (limit int, marker string, err error) {
	limit, err = rest.Limit(q, rest.Limits{Max: maxLimit, ZeroMeansMax: true})
	return limit, q.Get("marker"), err
}

// nextLinks returns Nova's "<collection>_links" when a page is full.
func (a *API) nextLinks(r *http.Request, path string, n, limit int, marker string) []any {
	return rest.NextLinks(a.base+"/v2.1/"+path, r.URL.Query(), n, limit, marker)
}

// pathInt reads an integer path value (aggregate ids).
func pathInt(r *http.Request, name, what string) (int, error) {
	v := r.PathValue(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, oserr.BadRequest("Invalid input for %s id: %q is not an integer.", what, v)
	}
	return n, nil
}

// stringMap reads {"key": string|number} (extra specs) with numbers
// turned into strings.
func stringMap(raw json.RawMessage, field string) (map[string]string, error) {
	m, err := object(raw, field, nil, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		name := k
		if field != "" {
			name = fmt.Sprintf("%s.%s", field, k)
		}
		s, err := scalarString(v, name)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}
