package yaql

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Regular expressions use Go's RE2 syntax, which covers what workflow
// expressions use of Python's (classes, groups, anchors, named groups
// (?P<name>...)), but has no backreferences or lookaround.

func regexFuncs() []*builtin {
	return []*builtin{
		fn("regex", "pattern,ignoreCase,multiLine,dotAll", 1, 4, func(c *call) (any, error) {
			p, err := c.str(0)
			if err != nil {
				return nil, err
			}
			flags := ""
			for i, f := range []string{"i", "m", "s"} {
				on, err := c.bool(i+1, false)
				if err != nil {
					return nil, err
				}
				if on {
					flags += f
				}
			}
			re, err := compileRegex(p, flags)
			if err != nil {
				return nil, c.fail("bad pattern: %v", err)
			}
			c.e.own = true
			return re, nil
		}),
		// regex("a.c").matches("abc") or "abc".matches("a.c")
		fn("matches", "regexp|string,string|regexp", 2, 2, func(c *call) (any, error) {
			re, s, err := regexAndString(c)
			if err != nil {
				return nil, err
			}
			return re.re.MatchString(s), nil
		}),
		fn("search", "regexp,string,selector", 2, 3, func(c *call) (any, error) {
			re, s, err := regexAndString(c)
			if err != nil {
				return nil, err
			}
			m := re.re.FindStringSubmatchIndex(s)
			if m == nil {
				return nil, nil
			}
			if !c.has(2) {
				return s[m[0]:m[1]], nil
			}
			return c.apply(2, matchRecords(s, m)...)
		}).lambdas(bit(2)),
		fn("searchAll", "regexp,string,selector", 2, 3, func(c *call) (any, error) {
			re, s, err := regexAndString(c)
			if err != nil {
				return nil, err
			}
			out := []any{}
			for _, m := range re.re.FindAllStringSubmatchIndex(s, -1) {
				if !c.has(2) {
					out = append(out, s[m[0]:m[1]])
					continue
				}
				v, err := c.apply(2, matchRecords(s, m)...)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		}).lambdas(bit(2)),
		fn("replaceBy", "regexp|string,string|regexp,repl,count", 3, 4, func(c *call) (any, error) {
			re, s, err := regexAndString(c)
			if err != nil {
				return nil, err
			}
			count, err := c.int(3, 0)
			if err != nil {
				return nil, err
			}
			var b strings.Builder
			last := 0
			for i, m := range re.re.FindAllStringSubmatchIndex(s, -1) {
				if count > 0 && int64(i) >= count {
					break
				}
				v, err := c.apply(2, matchRecords(s, m)...)
				if err != nil {
					return nil, err
				}
				b.WriteString(s[last:m[0]])
				b.WriteString(yaqlStr(v))
				last = m[1]
				if err := c.e.checkStr("replaceBy", b.Len()); err != nil {
					return nil, err
				}
			}
			b.WriteString(s[last:])
			return b.String(), nil
		}).lambdas(bit(2)),
		fn("escapeRegex", "string", 1, 1, func(c *call) (any, error) {
			s, err := c.str(0)
			return regexp.QuoteMeta(s), err
		}),
		fn("isRegex", "value", 1, 1, func(c *call) (any, error) {
			_, ok := c.args[0].(*regexVal)
			return ok, nil
		}),
	}
}

// regexAndString takes a regex and a string from slots 0 and 1 in either
// order: regex(...).f(string) or string.f(regex or pattern).
func regexAndString(c *call) (*regexVal, string, error) {
	if re, ok := c.args[0].(*regexVal); ok {
		s, err := c.str(1)
		return re, s, err
	}
	s, err := c.str(0)
	if err != nil {
		return nil, "", err
	}
	re, err := toRegex(c.n.b.name, c.args[1])
	return re, s, err
}

// matchRecords are the lambda arguments for a match: $1 (and $) is the
// whole match, $2... the groups, each {value, start, end} with offsets in
// characters.
func matchRecords(s string, m []int) []any {
	recs := make([]any, 0, len(m)/2)
	for i := 0; i+1 < len(m); i += 2 {
		if m[i] < 0 {
			recs = append(recs, map[string]any{"value": nil, "start": int64(-1), "end": int64(-1)})
			continue
		}
		recs = append(recs, map[string]any{
			"value": s[m[i]:m[i+1]],
			"start": int64(utf8.RuneCountInString(s[:m[i]])),
			"end":   int64(utf8.RuneCountInString(s[:m[i+1]])),
		})
	}
	return recs
}

// regexSplit is regex.split(string, maxSplit) as Python's re.split: the
// text of capture groups is kept between the pieces.
func regexSplit(c *call, re *regexVal, strSlot int) (any, error) {
	s, err := c.str(strSlot)
	if err != nil {
		return nil, err
	}
	return splitBy(c, re, s, strSlot+1)
}

func regexSplitString(c *call, re *regexVal, s string) (any, error) {
	return splitBy(c, re, s, 2)
}

func splitBy(c *call, re *regexVal, s string, maxSlot int) (any, error) {
	max, err := c.int(maxSlot, 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
	last := 0
	for i, m := range re.re.FindAllStringSubmatchIndex(s, -1) {
		if max > 0 && int64(i) >= max {
			break
		}
		out = append(out, s[last:m[0]])
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] < 0 {
				out = append(out, nil)
			} else {
				out = append(out, s[m[g]:m[g+1]])
			}
		}
		last = m[1]
	}
	return append(out, s[last:]), nil
}

// pyRepl turns a Python replacement template (\1, \g<name>) into Go's
// ($1, ${name}), escaping Go's $.
func pyRepl(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		ch := r[i]
		switch {
		case ch == '$':
			b.WriteString("$$")
		case ch == '\\' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			j := i + 1
			for j < len(r) && j < i+3 && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			b.WriteString("${" + r[i+1:j] + "}")
			i = j - 1
		case ch == '\\' && strings.HasPrefix(r[i:], `\g<`):
			end := strings.IndexByte(r[i:], '>')
			if end < 0 {
				b.WriteByte(ch)
				continue
			}
			b.WriteString("${" + r[i+3:i+end] + "}")
			i += end
		case ch == '\\' && i+1 < len(r):
			switch r[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte('\\')
				b.WriteByte(r[i+1])
			}
			i++
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// regexReplace is replace(regex, string, repl, count): count 0 replaces all.
func regexReplace(c *call, re *regexVal, s string, replSlot, countSlot int) (any, error) {
	if !c.has(replSlot) {
		return nil, c.fail("needs the replacement text")
	}
	repl, err := c.str(replSlot)
	if err != nil {
		return nil, err
	}
	count, err := c.int(countSlot, 0)
	if err != nil {
		return nil, err
	}
	tmpl := pyRepl(repl)
	var b strings.Builder
	last := 0
	for i, m := range re.re.FindAllStringSubmatchIndex(s, -1) {
		if count > 0 && int64(i) >= count {
			break
		}
		b.WriteString(s[last:m[0]])
		b.Write(re.re.ExpandString(nil, tmpl, s, m))
		last = m[1]
		if err := c.e.checkStr("replace", b.Len()); err != nil {
			return nil, err
		}
	}
	b.WriteString(s[last:])
	return b.String(), nil
}
