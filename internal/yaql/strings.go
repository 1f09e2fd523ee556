package yaql

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/exprvalue"
)

// yaqlStr is YAQL's str(): null, true and false as YAQL spells them,
// everything else as Python's str() prints it.
func yaqlStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return x
	}
	return exprvalue.Str(v)
}

func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || r == 0x1c || r == 0x1d || r == 0x1e || r == 0x1f
}

// pyStrip is Python's str.strip(chars): whitespace when chars is absent.
func pyStrip(s string, chars string, hasChars, left, right bool) string {
	f := isPySpace
	if hasChars {
		f = func(r rune) bool { return strings.ContainsRune(chars, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// pySplit is Python's str.split(sep, maxsplit) (and rsplit when right).
func pySplit(s, sep string, hasSep bool, max int64, right bool) []any {
	var parts []string
	if !hasSep {
		fields := strings.FieldsFunc(s, isPySpace)
		if max < 0 || int64(len(fields)) <= max+1 {
			parts = fields
		} else if !right {
			// The first max fields, then the rest of the string from the
			// next field on.
			rest := s
			for i := int64(0); i < max; i++ {
				rest = strings.TrimLeftFunc(rest, isPySpace)
				end := strings.IndexFunc(rest, isPySpace)
				parts = append(parts, rest[:end])
				rest = rest[end:]
			}
			parts = append(parts, strings.TrimLeftFunc(rest, isPySpace))
		} else {
			rest := s
			var tail []string
			for i := int64(0); i < max; i++ {
				rest = strings.TrimRightFunc(rest, isPySpace)
				start := strings.LastIndexFunc(rest, isPySpace) + 1
				tail = append([]string{rest[start:]}, tail...)
				rest = rest[:start]
			}
			parts = append([]string{strings.TrimRightFunc(rest, isPySpace)}, tail...)
		}
	} else if max < 0 {
		parts = strings.Split(s, sep)
	} else if !right {
		parts = strings.SplitN(s, sep, int(min(max+1, int64(len(s)+1))))
	} else {
		parts = strings.Split(s, sep)
		if int64(len(parts)) > max+1 {
			head := strings.Join(parts[:int64(len(parts))-max], sep)
			parts = append([]string{head}, parts[int64(len(parts))-max:]...)
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

// runeSlice adjusts a Python-style start (negative counts from the end)
// and length to a rune range of s.
func pyRange(n int, start, length int64) (int, int) {
	if start < 0 {
		start += int64(n)
		if start < 0 {
			start = 0
		}
	}
	if start > int64(n) {
		start = int64(n)
	}
	end := int64(n)
	if length >= 0 && start+length < end {
		end = start + length
	}
	return int(start), int(end)
}

// runeFind is Python's str.find / rfind over [start, end) in code points.
func runeFind(s, sub string, start, end int, last bool) int64 {
	rs := []rune(s)
	sr := []rune(sub)
	if start > len(rs) || end < start {
		return -1
	}
	if end > len(rs) {
		end = len(rs)
	}
	best := int64(-1)
	for i := start; i+len(sr) <= end; i++ {
		if string(rs[i:i+len(sr)]) == sub {
			if !last {
				return int64(i)
			}
			best = int64(i)
		}
	}
	return best
}

func stringFuncs() []*builtin {
	strip := func(name string, left, right bool) *builtin {
		return fn(name, "string,chars", 1, 2, func(c *call) (any, error) {
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			chars, has, err := c.optStr(1)
			if err != nil {
				return nil, err
			}
			return pyStrip(s, chars, has, left, right), nil
		})
	}
	split := func(name string, right bool) *builtin {
		return fn(name, "string,separator|regex,maxSplits|maxSplit", 1, 3, func(c *call) (any, error) {
			if re, ok := c.args[0].(*regexVal); ok && !right {
				return regexSplit(c, re, 1)
			}
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			if re, ok := c.arg(1, nil).(*regexVal); ok && !right {
				return regexSplitString(c, re, s)
			}
			sep, has, err := c.optStr(1)
			if err != nil {
				return nil, err
			}
			if has && sep == "" {
				return nil, c.fail("empty separator")
			}
			max, err := c.int(2, -1)
			if err != nil {
				return nil, err
			}
			return c.list(pySplit(s, sep, has, max, right))
		})
	}
	return []*builtin{
		// concat("a", "b") joins strings; [1].concat([2], [3]) chains lists.
		fn("concat", "", 0, -1, func(c *call) (any, error) {
			if c.nargs() > 0 && isCollection(c.args[0]) {
				return concatLists(c)
			}
			var b strings.Builder
			for i := range c.nargs() {
				s, err := c.str(i)
				if err != nil {
					return nil, err
				}
				if err := c.e.checkStr("concat", b.Len()+len(s)); err != nil {
					return nil, err
				}
				b.WriteString(s)
			}
			return b.String(), nil
		}),
		fn("toUpper", "string", 1, 1, func(c *call) (any, error) {
			s, err := c.str(0)
			return strings.ToUpper(s), err
		}),
		fn("toLower", "string", 1, 1, func(c *call) (any, error) {
			s, err := c.str(0)
			return strings.ToLower(s), err
		}),
		// len of a string, dict, list or set.
		fn("len", "collection|string|dict", 1, 1, func(c *call) (any, error) {
			switch x := c.args[0].(type) {
			case string:
				return int64(utf8.RuneCountInString(x)), nil
			case map[string]any:
				return int64(len(x)), nil
			}
			items, err := c.items(0)
			return int64(len(items)), err
		}),
		split("split", false),
		split("rightSplit", true),
		// join: ["a", "b"].join("|"), "|".join(["a", "b"]), or the
		// collection join: c1.join(c2, predicate, selector).
		fn("join", "sequence|collection1,separator|collection2,predicate,selector", 2, 4, func(c *call) (any, error) {
			if c.nargs() > 2 {
				return joinCollections(c)
			}
			seq, sep := c.args[0], c.args[1]
			if s, ok := seq.(string); ok && isCollection(sep) {
				seq, sep = sep, s
			}
			s, ok := sep.(string)
			if !ok || !isCollection(seq) {
				return nil, c.fail("needs a list of values and a separator string")
			}
			items, err := c.e.items("join", seq)
			if err != nil {
				return nil, err
			}
			var b strings.Builder
			for i, it := range items {
				if i > 0 {
					b.WriteString(s)
				}
				b.WriteString(yaqlStr(it))
				if err := c.e.checkStr("join", b.Len()); err != nil {
					return nil, err
				}
			}
			return b.String(), nil
		}).lambdas(bit(2, 3)),
		fn("str", "value", 1, 1, func(c *call) (any, error) {
			s, err := exprvalue.StrMax(c.args[0], c.e.limits.MaxStringBytes)
			if err != nil {
				return nil, c.fail("%v", err)
			}
			switch c.args[0].(type) {
			case nil, bool:
				return yaqlStr(c.args[0]), nil
			}
			return s, nil
		}),
		strip("trim", true, true),
		strip("trimLeft", true, false),
		strip("trimRight", false, true),
		fn("norm", "string,chars", 1, 2, func(c *call) (any, error) {
			if c.args[0] == nil {
				return nil, nil
			}
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			chars, has, err := c.optStr(1)
			if err != nil {
				return nil, err
			}
			if v := pyStrip(s, chars, has, true, true); v != "" {
				return v, nil
			}
			return nil, nil
		}),
		fn("isEmpty", "string,trimSpaces|trim,chars", 1, 3, func(c *call) (any, error) {
			if c.args[0] == nil {
				return true, nil
			}
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			trim, err := c.bool(1, true)
			if err != nil {
				return nil, err
			}
			chars, has, err := c.optStr(2)
			if err != nil {
				return nil, err
			}
			if trim {
				s = pyStrip(s, chars, has, true, true)
			}
			return s == "", nil
		}),
		// replace in a string (old, new[, count]) or ({old => new}[, count]),
		// by a regex, or in a list (position, value[, count]).
		fn("replace", "string|collection,old|position|replacements|regex,new|value|repl,count", 2, 4, replaceFunc),
		fn("substring", "string,start,length", 2, 3, func(c *call) (any, error) {
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			start, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			length, err := c.int(2, -1)
			if err != nil {
				return nil, err
			}
			rs := []rune(s)
			a, b := pyRange(len(rs), start, length)
			return string(rs[a:b]), nil
		}),
		fn("indexOf", "string|collection,sub|item,start,length", 2, 4, func(c *call) (any, error) { return indexOf(c, false) }),
		fn("lastIndexOf", "string|collection,sub|item,start,length", 2, 4, func(c *call) (any, error) { return indexOf(c, true) }),
		fn("toCharArray", "string", 1, 1, func(c *call) (any, error) {
			s, err := c.str(0)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(s))
			for _, r := range s {
				out = append(out, string(r))
			}
			return out, nil
		}),
		fn("isString", "arg", 1, 1, func(c *call) (any, error) {
			_, ok := c.args[0].(string)
			return ok, nil
		}),
		fn("startsWith", "string,prefixes", 2, -1, func(c *call) (any, error) { return affix(c, strings.HasPrefix) }),
		fn("endsWith", "string,suffixes", 2, -1, func(c *call) (any, error) { return affix(c, strings.HasSuffix) }),
		fn("hex", "num", 1, 1, func(c *call) (any, error) {
			n, err := c.int(0, 0)
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return "-0x" + strconv.FormatUint(uint64(-n), 16), nil
			}
			return "0x" + strconv.FormatInt(n, 16), nil
		}),
	}
}

func affix(c *call, f func(s, p string) bool) (any, error) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	for i := 1; i < c.nargs(); i++ {
		p, err := c.str(i)
		if err != nil {
			return nil, err
		}
		if f(s, p) {
			return true, nil
		}
	}
	return false, nil
}

func indexOf(c *call, last bool) (any, error) {
	if s, ok := c.args[0].(string); ok {
		sub, err := c.str(1)
		if err != nil {
			return nil, err
		}
		start, err := c.int(2, 0)
		if err != nil {
			return nil, err
		}
		length, err := c.int(3, -1)
		if err != nil {
			return nil, err
		}
		n := utf8.RuneCountInString(s)
		a, b := pyRange(n, start, length)
		return runeFind(s, sub, a, b, last), nil
	}
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	if c.nargs() > 2 {
		return nil, c.fail("takes only the item to look for in a list")
	}
	idx := int64(-1)
	for i, it := range items {
		if exprvalue.Equal(it, c.args[1]) {
			idx = int64(i)
			if !last {
				break
			}
		}
	}
	return idx, nil
}

func replaceFunc(c *call) (any, error) {
	switch x := c.args[0].(type) {
	case string:
		switch y := c.args[1].(type) {
		case map[string]any:
			count, err := c.int(2, -1)
			if err != nil {
				return nil, err
			}
			s := x
			// Go maps keep no order: longer keys go first, so that
			// {ab => x, abc => y} replaces "abc" before "ab".
			keys := exprvalue.SortedKeys(y)
			sort.SliceStable(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
			for _, k := range keys {
				s = strings.Replace(s, k, yaqlStr(y[k]), int(count))
				if err := c.e.checkStr("replace", len(s)); err != nil {
					return nil, err
				}
			}
			return s, nil
		case *regexVal:
			return regexReplace(c, y, x, 2, 3)
		}
		old, err := c.str(1)
		if err != nil {
			return nil, err
		}
		if !c.has(2) {
			return nil, c.fail("needs the new text")
		}
		nw, err := c.str(2)
		if err != nil {
			return nil, err
		}
		count, err := c.int(3, -1)
		if err != nil {
			return nil, err
		}
		if old == "" && len(nw) > 0 && len(x)*len(nw) > c.e.limits.MaxStringBytes || len(old) > 0 && len(nw) > len(old) && strings.Count(x, old)*(len(nw)-len(old))+len(x) > c.e.limits.MaxStringBytes {
			return nil, c.fail("result is longer than %d bytes", c.e.limits.MaxStringBytes)
		}
		return strings.Replace(x, old, nw, int(count)), nil
	case *regexVal:
		s, err := c.str(1)
		if err != nil {
			return nil, err
		}
		return regexReplace(c, x, s, 2, 3)
	}
	// [0, 1, 3].replace(position, value, count)
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	pos, err := c.int(1, 0)
	if err != nil {
		return nil, err
	}
	count, err := c.int(3, 1)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	done := false
	for i, it := range items {
		in := int64(i) >= pos && (count < 0 || int64(i) < pos+count)
		if in {
			if !done {
				out = append(out, c.arg(2, nil))
				done = true
			}
			continue
		}
		out = append(out, it)
	}
	return out, nil
}
