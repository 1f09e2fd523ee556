package volume

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
)

// fields is one JSON object of a request, read leniently as Cinder does:
// unknown keys are ignored, numbers and booleans may come as strings.
type fields map[string]json.RawMessage

// readBody reads the request body (bounded by the service's limit).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, oserr.BadRequest("The request body is empty; send a JSON document.")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if ok := asMaxBytes(err, &mbe); ok {
			return nil, oserr.TooLarge("The request body is larger than the limit of %d bytes; send a smaller body.", mbe.Limit)
		}
		return nil, oserr.BadRequest("The request body could not be read: %v.", err)
	}
	return b, nil
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	e, ok := err.(*http.MaxBytesError)
	if ok {
		*target = e
	}
	return ok
}

// object decodes body as {"<key>": {...}} and returns the inner object.
func object(body []byte, key string) (fields, error) {
	var outer map[string]json.RawMessage
	if err := decodeJSON(body, &outer); err != nil {
		return nil, err
	}
	raw, ok := outer[key]
	if !ok {
		return nil, oserr.BadRequest("Missing required element '%s' in request body.", key)
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. It is not an object.", key, short(raw))
	}
	return f, nil
}

func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return oserr.BadRequest("The request body is empty; send a JSON document.")
	}
	r := &http.Request{Body: io.NopCloser(bytes.NewReader(body))}
	return rest.Decode(r, v, false)
}

func short(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

func (f fields) has(k string) bool {
	v, ok := f[k]
	return ok && string(v) != "null"
}

// str reads a string (null: absent) of at most max characters.
func (f fields) str(k string, max int) (string, bool, error) {
	raw, ok := f[k]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string'.", k, short(raw), short(raw))
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", false, oserr.BadRequest("Invalid input for field/attribute %s: it is not valid text.", k)
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return "", false, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. It is longer than %d characters.", k, short(raw), max)
	}
	return s, true, nil
}

// integer reads an integer, also from a numeric string ("10").
func (f fields) integer(k string) (int64, bool, error) {
	raw, ok := f[k]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	bad := oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'integer'.", k, short(raw), short(raw))
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false, bad
		}
		n = json.Number(strings.TrimSpace(s))
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
			return 0, false, bad
		}
		i = int64(fl)
	}
	return i, true, nil
}

// boolean reads true/false, also "true"/"false"/"yes"/"no"/"1"/"0" as Cinder's strutils does.
func (f fields) boolean(k string) (bool, bool, error) {
	raw, ok := f[k]
	if !ok || string(raw) == "null" {
		return false, false, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if v, ok := parseBool(s); ok {
			return v, true, nil
		}
	}
	return false, false, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'boolean'.", k, short(raw), short(raw))
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// strMap reads an object of strings (metadata, extra_specs).
func (f fields) strMap(k string) (map[string]string, bool, error) {
	raw, ok := f[k]
	if !ok || string(raw) == "null" {
		return nil, false, nil
	}
	m, err := stringMap(k, raw)
	return m, err == nil, err
}

func stringMap(k string, raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: %s. It is not of type 'object'.", k, short(raw))
	}
	out := make(map[string]string, len(m))
	for key, v := range m {
		if key == "" || utf8.RuneCountInString(key) > 255 || !utf8.ValidString(key) {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: keys must be 1 to 255 characters.", k)
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64, bool:
			s = fmt.Sprint(x)
		default:
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: the value of %q must be a string.", k, key)
		}
		if utf8.RuneCountInString(s) > 255 || !utf8.ValidString(s) {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: the value of %q must be at most 255 characters.", k, key)
		}
		out[key] = s
	}
	return out, nil
}

// first returns the first error of errs.
func first(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func jsonOf(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	return b, err
}
