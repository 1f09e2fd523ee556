package spec

import (
	"encoding/json"
	"regexp"
	"strings"
)

// The patterns of Mistral's "cmd k=v k2=v2" shorthand (mistral/lang/base.py):
// the command is a dotted name or an expression; each parameter's value is
// a quoted string, an expression, a bracketed list, true, false, null or
// digits.
var (
	cmdRe   = regexp.MustCompile(`^([\w\.]+[^=\(\s"]*|<%.*?%>|{{.*}}|{%.*%})`)
	paramRe = regexp.MustCompile(`([-_\w]+)=("[^"]*"\s*|'[^']*'\s*|<%.*?%>|{{.*?}}|\[.*\]\s*|true|false|null|\d+)`)
	// withItemsRe is "var in <list>", the list an expression or a
	// bracketed JSON list.
	withItemsRe = regexp.MustCompile(`^\s*([\w\-]+)\s*in\s*(\[.+\]|<%.*?%>|{{.*?}})`)
)

// parseCmd splits "name k=v ..." into the name and its parameters, as
// Mistral does: quoted values lose their quotes, JSON values (numbers,
// true, false, null, lists) are decoded, anything else stays a string.
func parseCmd(s string) (string, map[string]any, bool) {
	if !strings.Contains(s, " ") {
		return s, map[string]any{}, true
	}
	m := cmdRe.FindString(s)
	if m == "" {
		return "", nil, false
	}
	// Text the parameters do not consume (name=value with an unquoted
	// string value) would be dropped silently, as Mistral drops it: it is
	// refused instead.
	params, ok := parseParams(s[len(m):])
	if !ok {
		return "", nil, false
	}
	return m, params, true
}

// parseParams reads "k=v k2=v2" (all of s).
func parseParams(s string) (map[string]any, bool) {
	if rest := strings.TrimSpace(paramRe.ReplaceAllString(s, "")); rest != "" {
		return nil, false
	}
	params := map[string]any{}
	for _, g := range paramRe.FindAllStringSubmatch(s, -1) {
		k, v := g[1], strings.TrimSpace(g[2])
		if v == "" {
			params[k] = v
			continue
		}
		if v[0] == '"' || v[0] == '\'' {
			params[k] = v[1 : len(v)-1]
			continue
		}
		var j any
		if err := decodeJSON(v, &j); err == nil {
			params[k] = j
		} else {
			params[k] = v
		}
	}
	return params, true
}

// decodeJSON decodes s with integers as int64.
func decodeJSON(s string, out *any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	*out = numbers(v)
	return nil
}

type trailingError struct{}

func (trailingError) Error() string { return "text after the JSON value" }

var errTrailing = trailingError{}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, it := range x {
			x[k] = numbers(it)
		}
	case []any:
		for i, it := range x {
			x[i] = numbers(it)
		}
	}
	return v
}

// IsExpression reports whether s holds a YAQL or Jinja expression, as
// Mistral finds them (on one line).
func IsExpression(s string) bool {
	return yaqlFind.MatchString(s) || jinjaFind.MatchString(s) || jinjaBlock.MatchString(s)
}

var (
	yaqlFind   = regexp.MustCompile(`<%.*?%>`)
	jinjaFind  = regexp.MustCompile(`{{.*?}}`)
	jinjaBlock = regexp.MustCompile(`{%.*?%}`)
	// exprOnly is a string that is one expression (Mistral's EXPRESSION
	// type for conditions and policy values).
	exprOnly = regexp.MustCompile(`^(<%.*?%>|{{.*?}})\s*$`)
)
