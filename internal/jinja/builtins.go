package jinja

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/onestack/onestack/internal/exprvalue"
)

// arg picks argument pos, or the keyword name, or def.
func arg(args []any, kwN []string, kwV []any, pos int, name string, def any) any {
	if pos >= 0 && pos < len(args) {
		return args[pos]
	}
	for i, k := range kwN {
		if k == name {
			return kwV[i]
		}
	}
	return def
}

func toInt(op string, v any) (int64, error) {
	if b, ok := v.(bool); ok {
		return b2i(b), nil
	}
	i, ok := exprvalue.Int(v)
	if !ok {
		return 0, evalErr(op, "needs an integer, not a %s", kind(v))
	}
	return i, nil
}

func toStr(op string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", evalErr(op, "needs a string, not a %s", kind(v))
	}
	return s, nil
}

// iterate is Python's iteration: a list's items, a string's characters, a
// dict's keys (in order).
func iterate(op string, v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case map[string]any:
		keys := exprvalue.SortedKeys(x)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case string:
		out := []any{}
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	}
	return nil, evalErr(op, "a %s is not iterable", kind(v))
}

func bound(name string, fn func(args []any, kwN []string, kwV []any) (any, error)) *callable {
	return &callable{name: name, fn: func(_ *evaluator, args []any, kwN []string, kwV []any) (any, error) {
		v, err := fn(args, kwN, kwV)
		if err != nil {
			if ee, ok := err.(*EvalError); ok && ee.Op == "" {
				ee.Op = name
			}
		}
		return v, err
	}}
}

// method is the Python method name of x that templates use, or nil.
func method(x any, name string) *callable {
	switch v := x.(type) {
	case map[string]any:
		switch name {
		case "items":
			return bound(name, func([]any, []string, []any) (any, error) {
				keys := exprvalue.SortedKeys(v)
				out := make([]any, len(keys))
				for i, k := range keys {
					out[i] = []any{k, v[k]}
				}
				return out, nil
			})
		case "keys":
			return bound(name, func([]any, []string, []any) (any, error) { return iterate(name, v) })
		case "values":
			return bound(name, func([]any, []string, []any) (any, error) {
				keys := exprvalue.SortedKeys(v)
				out := make([]any, len(keys))
				for i, k := range keys {
					out[i] = v[k]
				}
				return out, nil
			})
		case "get":
			return bound(name, func(args []any, kwN []string, kwV []any) (any, error) {
				if len(args) == 0 {
					return nil, evalErr("get", "needs a key")
				}
				if r, ok := v[exprvalue.Key(args[0])]; ok {
					return r, nil
				}
				return arg(args, kwN, kwV, 1, "default", nil), nil
			})
		}
	case string:
		return strMethod(v, name)
	case []any:
		switch name {
		case "index":
			return bound(name, func(args []any, _ []string, _ []any) (any, error) {
				if len(args) == 0 {
					return nil, evalErr("index", "needs a value")
				}
				for i, it := range v {
					if exprvalue.Equal(it, args[0]) {
						return int64(i), nil
					}
				}
				return nil, evalErr("index", "value is not in the list")
			})
		case "count":
			return bound(name, func(args []any, _ []string, _ []any) (any, error) {
				n := int64(0)
				for _, it := range v {
					if len(args) > 0 && exprvalue.Equal(it, args[0]) {
						n++
					}
				}
				return n, nil
			})
		}
	}
	return nil
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

func strip(s string, chars any, left, right bool) string {
	f := isSpace
	if c, ok := chars.(string); ok {
		f = func(r rune) bool { return strings.ContainsRune(c, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

func strMethod(s, name string) *callable {
	one := func(f func(string) any) *callable {
		return bound(name, func([]any, []string, []any) (any, error) { return f(s), nil })
	}
	switch name {
	case "upper":
		return one(func(s string) any { return strings.ToUpper(s) })
	case "lower":
		return one(func(s string) any { return strings.ToLower(s) })
	case "title":
		return one(func(s string) any { return title(s) })
	case "capitalize":
		return one(func(s string) any { return capitalize(s) })
	case "strip", "lstrip", "rstrip":
		return bound(name, func(args []any, kwN []string, kwV []any) (any, error) {
			return strip(s, arg(args, kwN, kwV, 0, "chars", nil), name != "rstrip", name != "lstrip"), nil
		})
	case "split", "rsplit":
		return bound(name, func(args []any, kwN []string, kwV []any) (any, error) {
			sep := arg(args, kwN, kwV, 0, "sep", nil)
			max, err := toInt(name, arg(args, kwN, kwV, 1, "maxsplit", int64(-1)))
			if err != nil {
				return nil, err
			}
			var parts []string
			switch {
			case sep == nil:
				parts = strings.Fields(s)
				if max >= 0 && int64(len(parts)) > max+1 {
					if name == "split" {
						parts = append(parts[:max], strings.Join(parts[max:], " "))
					} else {
						parts = append([]string{strings.Join(parts[:int64(len(parts))-max], " ")}, parts[int64(len(parts))-max:]...)
					}
				}
			default:
				sp, err := toStr(name, sep)
				if err != nil {
					return nil, err
				}
				if sp == "" {
					return nil, evalErr(name, "empty separator")
				}
				parts = strings.Split(s, sp)
				if max >= 0 && int64(len(parts)) > max+1 {
					if name == "split" {
						parts = append(parts[:max], strings.Join(parts[max:], sp))
					} else {
						parts = append([]string{strings.Join(parts[:int64(len(parts))-max], sp)}, parts[int64(len(parts))-max:]...)
					}
				}
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		})
	case "replace":
		return bound(name, func(args []any, kwN []string, kwV []any) (any, error) {
			if len(args) < 2 {
				return nil, evalErr(name, "needs the old and the new text")
			}
			old, err := toStr(name, args[0])
			if err != nil {
				return nil, err
			}
			nw, err := toStr(name, args[1])
			if err != nil {
				return nil, err
			}
			n, err := toInt(name, arg(args, kwN, kwV, 2, "count", int64(-1)))
			if err != nil {
				return nil, err
			}
			if len(nw) > len(old) && len(s)+strings.Count(s, old)*(len(nw)-len(old)+1) > 16<<20 {
				return nil, evalErr(name, "result too long")
			}
			return strings.Replace(s, old, nw, int(n)), nil
		})
	case "startswith", "endswith":
		return bound(name, func(args []any, _ []string, _ []any) (any, error) {
			if len(args) == 0 {
				return nil, evalErr(name, "needs a prefix")
			}
			cands := []any{args[0]}
			if l, ok := args[0].([]any); ok {
				cands = l
			}
			for _, c := range cands {
				p, err := toStr(name, c)
				if err != nil {
					return nil, err
				}
				if (name == "startswith" && strings.HasPrefix(s, p)) || (name == "endswith" && strings.HasSuffix(s, p)) {
					return true, nil
				}
			}
			return false, nil
		})
	case "join":
		return bound(name, func(args []any, _ []string, _ []any) (any, error) {
			if len(args) == 0 {
				return nil, evalErr(name, "needs a list")
			}
			items, err := iterate(name, args[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				if parts[i], err = toStr(name, it); err != nil {
					return nil, err
				}
			}
			return strings.Join(parts, s), nil
		})
	case "find", "count":
		return bound(name, func(args []any, _ []string, _ []any) (any, error) {
			if len(args) == 0 {
				return nil, evalErr(name, "needs a substring")
			}
			sub, err := toStr(name, args[0])
			if err != nil {
				return nil, err
			}
			if name == "count" {
				return int64(strings.Count(s, sub)), nil
			}
			i := strings.Index(s, sub)
			if i < 0 {
				return int64(-1), nil
			}
			return int64(len([]rune(s[:i]))), nil
		})
	case "format":
		return bound(name, func(args []any, kwN []string, kwV []any) (any, error) { return pyFormat(s, args, kwN, kwV) })
	}
	return nil
}

// pyFormat is str.format with {} {0} {name} fields (no format specs
// beyond the field name).
func pyFormat(s string, args []any, kwN []string, kwV []any) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '{' && i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		if c == '}' && i+1 < len(s) && s[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, evalErr("format", "single '{' in the format string")
		}
		field := s[i+1 : i+end]
		if j := strings.IndexByte(field, ':'); j >= 0 {
			field = field[:j]
		}
		var v any
		switch n, err := strconv.Atoi(field); {
		case field == "":
			if auto >= len(args) {
				return nil, evalErr("format", "not enough arguments")
			}
			v = args[auto]
			auto++
		case err == nil:
			if n < 0 || n >= len(args) {
				return nil, evalErr("format", "no argument %d", n)
			}
			v = args[n]
		default:
			found := false
			for k, name := range kwN {
				if name == field {
					v, found = kwV[k], true
				}
			}
			if !found {
				return nil, evalErr("format", "no argument named %q", field)
			}
		}
		b.WriteString(exprvalue.Str(v))
		i += end
	}
	return b.String(), nil
}

func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if !unicode.IsLetter(prev) {
			return unicode.ToUpper(r)
		}
		return unicode.ToLower(r)
	}, s)
}

func capitalize(s string) string {
	rs := []rune(strings.ToLower(s))
	if len(rs) > 0 {
		rs[0] = unicode.ToUpper(rs[0])
	}
	return string(rs)
}

// globals are Jinja's global functions that Mistral templates use.
var globals = map[string]any{
	"range": &callable{name: "range", fn: func(e *evaluator, args []any, _ []string, _ []any) (any, error) {
		var a [3]int64
		a[2] = 1
		switch len(args) {
		case 1:
			v, err := toInt("range", args[0])
			if err != nil {
				return nil, err
			}
			a[1] = v
		case 2, 3:
			for i, x := range args {
				v, err := toInt("range", x)
				if err != nil {
					return nil, err
				}
				a[i] = v
			}
		default:
			return nil, evalErr("range", "takes 1 to 3 arguments")
		}
		if a[2] == 0 {
			return nil, evalErr("range", "step must not be zero")
		}
		var out []any
		for i := a[0]; (a[2] > 0 && i < a[1]) || (a[2] < 0 && i > a[1]); i += a[2] {
			if len(out) >= e.limits.MaxItems {
				return nil, evalErr("range", "result has more than %d items", e.limits.MaxItems)
			}
			out = append(out, i)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}},
	"dict": &callable{name: "dict", fn: func(_ *evaluator, args []any, kwN []string, kwV []any) (any, error) {
		out := map[string]any{}
		if len(args) > 0 {
			switch x := args[0].(type) {
			case map[string]any:
				for k, v := range x {
					out[k] = v
				}
			case []any:
				for _, it := range x {
					p, ok := it.([]any)
					if !ok || len(p) != 2 {
						return nil, evalErr("dict", "each item must be a [key, value] pair")
					}
					out[exprvalue.Key(p[0])] = p[1]
				}
			default:
				return nil, evalErr("dict", "cannot make a dict of a %s", kind(x))
			}
		}
		for i, k := range kwN {
			out[k] = kwV[i]
		}
		return out, nil
	}},
}

type filterFunc func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error)

// attrOf reads a dotted attribute path ("a.b") of x, for map, sort,
// selectattr and friends.
func (e *evaluator) attrOf(x any, path any) any {
	p, ok := path.(string)
	if !ok {
		return e.getitem(x, path)
	}
	for _, part := range strings.Split(p, ".") {
		if i, err := strconv.Atoi(part); err == nil {
			x = e.getitem(x, int64(i))
		} else {
			x = e.getitem(x, part)
		}
		if _, ok := x.(*undefined); ok {
			return x
		}
	}
	return x
}

var filters map[string]filterFunc

func init() {
	// filters refers to tests and tests to nothing; building it in init
	// avoids an initialisation cycle through select/reject.
	filters = builtinFilters()
}

func builtinFilters() map[string]filterFunc {
	length := func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
		switch v := x.(type) {
		case string:
			return int64(len([]rune(v))), nil
		case []any:
			return int64(len(v)), nil
		case map[string]any:
			return int64(len(v)), nil
		}
		return nil, evalErr("", "a %s has no length", kind(x))
	}
	def := func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
		_, undef := x.(*undefined)
		if undef || (exprvalue.Truthy(arg(args, kwN, kwV, 1, "boolean", false)) && !exprvalue.Truthy(x)) {
			return arg(args, kwN, kwV, 0, "default_value", ""), nil
		}
		return x, nil
	}
	selectFn := func(keep bool, byAttr bool) filterFunc {
		return func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			rest := args
			var attr any
			if byAttr {
				if len(args) == 0 {
					return nil, evalErr("", "needs an attribute name")
				}
				attr, rest = args[0], args[1:]
			}
			out := []any{}
			for _, it := range items {
				v := it
				if byAttr {
					v = e.attrOf(it, attr)
				}
				var ok bool
				if len(rest) == 0 {
					_, undef := v.(*undefined)
					ok = !undef && exprvalue.Truthy(v)
				} else {
					name, isStr := rest[0].(string)
					t := tests[name]
					if !isStr || t == nil {
						return nil, evalErr("", "no test named %v", exprvalue.Repr(rest[0]))
					}
					if ok, err = t(v, rest[1:]); err != nil {
						return nil, err
					}
				}
				if ok == keep {
					out = append(out, it)
				}
			}
			return out, nil
		}
	}
	return map[string]filterFunc{
		"length":  length,
		"count":   length,
		"default": def,
		"d":       def,
		"string": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			s, err := exprvalue.StrMax(x, e.limits.MaxStringBytes)
			if err != nil {
				return nil, evalErr("", "value too large")
			}
			return s, nil
		},
		"int": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			dflt := arg(args, kwN, kwV, 0, "default", int64(0))
			switch v := x.(type) {
			case string:
				if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					return i, nil
				}
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
					return int64(f), nil
				}
				return dflt, nil
			case bool:
				return b2i(v), nil
			}
			if n, ok := exprvalue.Number(x); ok {
				if n.IsInt {
					return n.I, nil
				}
				if math.IsNaN(n.F) || math.Abs(n.F) >= 9.2e18 {
					return dflt, nil
				}
				return int64(n.F), nil
			}
			return dflt, nil
		},
		"float": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			dflt := arg(args, kwN, kwV, 0, "default", 0.0)
			if s, ok := x.(string); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
					return f, nil
				}
				return dflt, nil
			}
			if n, ok := pyNum(x); ok {
				return n.Float(), nil
			}
			return dflt, nil
		},
		"abs": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			n, ok := pyNum(x)
			if !ok {
				return nil, evalErr("", "needs a number, not a %s", kind(x))
			}
			if n.IsInt {
				if n.I < 0 {
					return -n.I, nil
				}
				return n.I, nil
			}
			return math.Abs(n.F), nil
		},
		"round": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			n, ok := pyNum(x)
			if !ok {
				return nil, evalErr("", "needs a number, not a %s", kind(x))
			}
			prec, err := toInt("round", arg(args, kwN, kwV, 0, "precision", int64(0)))
			if err != nil {
				return nil, err
			}
			method := arg(args, kwN, kwV, 1, "method", "common")
			p := math.Pow(10, float64(prec))
			f := n.Float() * p
			switch method {
			case "ceil":
				f = math.Ceil(f)
			case "floor":
				f = math.Floor(f)
			default:
				f = math.Round(f)
			}
			return f / p, nil
		},
		"upper":      strFilter(strings.ToUpper),
		"lower":      strFilter(strings.ToLower),
		"title":      strFilter(title),
		"capitalize": strFilter(capitalize),
		"trim": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			s, err := toStr("", x)
			if err != nil {
				return nil, err
			}
			return strip(s, arg(args, kwN, kwV, 0, "chars", nil), true, true), nil
		},
		"replace": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			s, err := exprvalue.StrMax(x, e.limits.MaxStringBytes)
			if err != nil {
				return nil, evalErr("", "value too large")
			}
			if len(args) < 2 {
				return nil, evalErr("", "needs the old and the new text")
			}
			return strMethod(s, "replace").fn(e, args, nil, nil)
		},
		"join": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			sep, err := toStr("", arg(args, kwN, kwV, 0, "d", ""))
			if err != nil {
				return nil, err
			}
			attr := arg(args, kwN, kwV, 1, "attribute", nil)
			var b strings.Builder
			for i, it := range items {
				if i > 0 {
					b.WriteString(sep)
				}
				if attr != nil {
					it = e.attrOf(it, attr)
					if u, ok := it.(*undefined); ok {
						return nil, u.err()
					}
				}
				b.WriteString(exprvalue.Str(it))
				if b.Len() > e.limits.MaxStringBytes {
					return nil, evalErr("", "result is longer than %d bytes", e.limits.MaxStringBytes)
				}
			}
			return b.String(), nil
		},
		"first": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return &undefined{what: "first: the sequence is empty"}, nil
			}
			return items[0], nil
		},
		"last": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return &undefined{what: "last: the sequence is empty"}, nil
			}
			return items[len(items)-1], nil
		},
		"list": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			return append([]any{}, items...), nil
		},
		"reverse": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			if s, ok := x.(string); ok {
				rs := []rune(s)
				for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
					rs[i], rs[j] = rs[j], rs[i]
				}
				return string(rs), nil
			}
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(items))
			for i, it := range items {
				out[len(items)-1-i] = it
			}
			return out, nil
		},
		"sort": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			rev := exprvalue.Truthy(arg(args, kwN, kwV, 0, "reverse", false))
			attr := arg(args, kwN, kwV, 2, "attribute", nil)
			return sortItems(e, items, attr, rev)
		},
		"unique": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			attr := arg(args, kwN, kwV, 1, "attribute", nil)
			out := []any{}
			var seen []any
			for _, it := range items {
				k := it
				if attr != nil {
					k = e.attrOf(it, attr)
				}
				dup := false
				for _, s := range seen {
					if exprvalue.Equal(s, k) {
						dup = true
						break
					}
				}
				if !dup {
					seen = append(seen, k)
					out = append(out, it)
				}
			}
			return out, nil
		},
		"sum": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			attr := arg(args, kwN, kwV, 0, "attribute", nil)
			acc := arg(args, kwN, kwV, 1, "start", int64(0))
			for _, it := range items {
				if attr != nil {
					it = e.attrOf(it, attr)
				}
				if acc, err = e.binary("+", acc, it); err != nil {
					return nil, err
				}
			}
			return acc, nil
		},
		"max": minMax(1),
		"min": minMax(-1),
		"map": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(items))
			if attr := arg(nil, kwN, kwV, -1, "attribute", nil); attr != nil {
				dflt := arg(nil, kwN, kwV, -1, "default", nil)
				for _, it := range items {
					v := e.attrOf(it, attr)
					if _, ok := v.(*undefined); ok && dflt != nil {
						v = dflt
					}
					out = append(out, v)
				}
				return out, nil
			}
			if len(args) == 0 {
				return nil, evalErr("", "needs a filter name or attribute=")
			}
			name, ok := args[0].(string)
			f := filters[name]
			if !ok || f == nil {
				return nil, evalErr("", "no filter named %v", exprvalue.Repr(args[0]))
			}
			for _, it := range items {
				v, err := f(e, it, args[1:], nil, nil)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		},
		"select":     selectFn(true, false),
		"reject":     selectFn(false, false),
		"selectattr": selectFn(true, true),
		"rejectattr": selectFn(false, true),
		"attr": func(e *evaluator, x any, args []any, _ []string, _ []any) (any, error) {
			if len(args) == 0 {
				return nil, evalErr("", "needs an attribute name")
			}
			return e.getattr(x, exprvalue.Str(args[0])), nil
		},
		"items": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			if m := method(x, "items"); m != nil {
				if _, ok := x.(map[string]any); ok {
					return m.fn(e, nil, nil, nil)
				}
			}
			return nil, evalErr("", "needs a dict, not a %s", kind(x))
		},
		"dictsort": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			d, ok := x.(map[string]any)
			if !ok {
				return nil, evalErr("", "needs a dict, not a %s", kind(x))
			}
			byValue := arg(args, kwN, kwV, 1, "by", "key") == "value"
			rev := exprvalue.Truthy(arg(args, kwN, kwV, 2, "reverse", false))
			pairs := make([]any, 0, len(d))
			for _, k := range exprvalue.SortedKeys(d) {
				pairs = append(pairs, []any{k, d[k]})
			}
			idx := int64(0)
			if byValue {
				idx = 1
			}
			return sortItems(e, pairs, idx, rev)
		},
		"tojson": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			b, err := json.Marshal(x)
			if err != nil {
				return nil, evalErr("", "cannot encode a %s as JSON", kind(x))
			}
			if ind, ok := exprvalue.Int(arg(args, kwN, kwV, 0, "indent", nil)); ok && ind > 0 && ind < 16 {
				var v any
				_ = json.Unmarshal(b, &v)
				b, _ = json.MarshalIndent(v, "", strings.Repeat(" ", int(ind)))
			}
			return string(b), nil
		},
		"batch": func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
			items, err := iterate("", x)
			if err != nil {
				return nil, err
			}
			n, err := toInt("batch", arg(args, kwN, kwV, 0, "linecount", int64(0)))
			if err != nil || n <= 0 {
				return nil, evalErr("", "needs a positive size")
			}
			out := []any{}
			for i := 0; i < len(items); i += int(n) {
				out = append(out, append([]any{}, items[i:min(i+int(n), len(items))]...))
			}
			return out, nil
		},
		"wordcount": func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
			s, err := toStr("", x)
			return int64(len(strings.Fields(s))), err
		},
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(e *evaluator, x any, _ []any, _ []string, _ []any) (any, error) {
		s, err := exprvalue.StrMax(x, e.limits.MaxStringBytes)
		if err != nil {
			return nil, evalErr("", "value too large")
		}
		return f(s), nil
	}
}

func minMax(sign int) filterFunc {
	return func(e *evaluator, x any, args []any, kwN []string, kwV []any) (any, error) {
		items, err := iterate("", x)
		if err != nil {
			return nil, err
		}
		attr := arg(args, kwN, kwV, 1, "attribute", nil)
		var best, bestKey any
		for i, it := range items {
			k := it
			if attr != nil {
				k = e.attrOf(it, attr)
			}
			if i == 0 {
				best, bestKey = it, k
				continue
			}
			c, ok := pyCompare(k, bestKey)
			if !ok {
				return nil, evalErr("", "cannot compare a %s and a %s", kind(k), kind(bestKey))
			}
			if c*sign > 0 {
				best, bestKey = it, k
			}
		}
		if len(items) == 0 {
			return &undefined{what: "the sequence is empty"}, nil
		}
		return best, nil
	}
}

func sortItems(e *evaluator, items []any, attr any, rev bool) (any, error) {
	keys := make([]any, len(items))
	for i, it := range items {
		keys[i] = it
		if attr != nil {
			keys[i] = e.attrOf(it, attr)
			if u, ok := keys[i].(*undefined); ok {
				return nil, u.err()
			}
		}
		if s, ok := keys[i].(string); ok {
			keys[i] = strings.ToLower(s) // Jinja sorts case-insensitively by default
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var bad error
	sort.SliceStable(idx, func(a, b int) bool {
		c, ok := pyCompare(keys[idx[a]], keys[idx[b]])
		if !ok && bad == nil {
			bad = evalErr("sort", "cannot compare a %s and a %s", kind(keys[idx[a]]), kind(keys[idx[b]]))
		}
		if rev {
			return c > 0
		}
		return c < 0
	})
	if bad != nil {
		return nil, bad
	}
	out := make([]any, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, nil
}

type testFunc func(x any, args []any) (bool, error)

var tests = map[string]testFunc{
	"defined":   func(x any, _ []any) (bool, error) { _, u := x.(*undefined); return !u, nil },
	"undefined": func(x any, _ []any) (bool, error) { _, u := x.(*undefined); return u, nil },
	"none":      func(x any, _ []any) (bool, error) { return x == nil, nil },
	"boolean":   func(x any, _ []any) (bool, error) { _, ok := x.(bool); return ok, nil },
	"true":      func(x any, _ []any) (bool, error) { b, ok := x.(bool); return ok && b, nil },
	"false":     func(x any, _ []any) (bool, error) { b, ok := x.(bool); return ok && !b, nil },
	"integer":   func(x any, _ []any) (bool, error) { _, ok := exprvalue.Int(x); return ok, nil },
	"float": func(x any, _ []any) (bool, error) {
		n, ok := exprvalue.Number(x)
		return ok && !n.IsInt, nil
	},
	"number":   func(x any, _ []any) (bool, error) { _, ok := exprvalue.Number(x); return ok, nil },
	"string":   func(x any, _ []any) (bool, error) { _, ok := x.(string); return ok, nil },
	"mapping":  func(x any, _ []any) (bool, error) { _, ok := x.(map[string]any); return ok, nil },
	"sequence": func(x any, _ []any) (bool, error) { return isIterable(x), nil },
	"iterable": func(x any, _ []any) (bool, error) { return isIterable(x), nil },
	"callable": func(x any, _ []any) (bool, error) { _, ok := x.(*callable); return ok, nil },
	"even": func(x any, _ []any) (bool, error) {
		i, err := toInt("even", x)
		return i%2 == 0, err
	},
	"odd": func(x any, _ []any) (bool, error) {
		i, err := toInt("odd", x)
		return i%2 != 0, err
	},
	"divisibleby": func(x any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("needs a divisor")
		}
		a, err := toInt("divisibleby", x)
		if err != nil {
			return false, err
		}
		b, err := toInt("divisibleby", args[0])
		if err != nil || b == 0 {
			return false, fmt.Errorf("needs a non-zero integer divisor")
		}
		return a%b == 0, nil
	},
	"eq":          cmpTest("=="),
	"equalto":     cmpTest("=="),
	"==":          cmpTest("=="),
	"ne":          cmpTest("!="),
	"!=":          cmpTest("!="),
	"lt":          cmpTest("<"),
	"lessthan":    cmpTest("<"),
	"<":           cmpTest("<"),
	"le":          cmpTest("<="),
	"<=":          cmpTest("<="),
	"gt":          cmpTest(">"),
	"greaterthan": cmpTest(">"),
	">":           cmpTest(">"),
	"ge":          cmpTest(">="),
	">=":          cmpTest(">="),
	"in":          cmpTest("in"),
	"sameas": func(x any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("needs a value")
		}
		switch x.(type) {
		case nil, bool:
			return x == args[0], nil
		}
		return false, nil
	},
	"lower": func(x any, _ []any) (bool, error) { s, ok := x.(string); return ok && s == strings.ToLower(s), nil },
	"upper": func(x any, _ []any) (bool, error) { s, ok := x.(string); return ok && s == strings.ToUpper(s), nil },
}

func isIterable(x any) bool {
	switch x.(type) {
	case []any, map[string]any, string:
		return true
	}
	return false
}

func cmpTest(op string) testFunc {
	return func(x any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("needs one value to compare with")
		}
		return compare(op, x, args[0])
	}
}
