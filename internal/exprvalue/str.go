package exprvalue

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrTooLarge is returned when printing a value would exceed the caller's
// size limit.
var ErrTooLarge = errors.New("value too large to print")

// Str prints v the way Python's str() prints the value Mistral evaluated,
// which is what a workflow author sees when an expression is interpolated
// into a longer string: strings as they are, None, True, False, 1.5, and
// lists and dictionaries as Python literals (['a', 1], {'k': None}).
func Str(v any) string {
	s, _ := StrMax(v, math.MaxInt)
	return s
}

// Repr prints v as Python's repr() does: like Str, but strings quoted.
func Repr(v any) string {
	var p printer
	p.max = math.MaxInt
	p.repr(v, 0)
	return p.b.String()
}

// StrMax is Str that stops with ErrTooLarge once the text exceeds max bytes.
func StrMax(v any, max int) (string, error) {
	if s, ok := v.(string); ok {
		if len(s) > max {
			return "", ErrTooLarge
		}
		return s, nil
	}
	p := printer{max: max}
	p.repr(v, 0)
	if p.over {
		return "", ErrTooLarge
	}
	return p.b.String(), nil
}

type printer struct {
	b    strings.Builder
	max  int
	over bool
}

func (p *printer) write(s string) {
	if p.over {
		return
	}
	if p.b.Len()+len(s) > p.max {
		p.over = true
		return
	}
	p.b.WriteString(s)
}

func (p *printer) repr(v any, depth int) {
	if p.over {
		return
	}
	if depth > MaxDepth {
		p.write("...")
		return
	}
	switch x := v.(type) {
	case nil:
		p.write("None")
	case bool:
		if x {
			p.write("True")
		} else {
			p.write("False")
		}
	case string:
		p.write(QuotePy(x))
	case []any:
		p.write("[")
		for i, e := range x {
			if i > 0 {
				p.write(", ")
			}
			p.repr(e, depth+1)
		}
		p.write("]")
	case map[string]any:
		p.write("{")
		for i, k := range SortedKeys(x) {
			if i > 0 {
				p.write(", ")
			}
			p.write(QuotePy(k))
			p.write(": ")
			p.repr(x[k], depth+1)
		}
		p.write("}")
	case time.Time:
		p.write(PyDatetime(x))
	case time.Duration:
		p.write(PyTimedelta(x))
	case fmt.Stringer:
		p.write(x.String())
	default:
		if n, ok := Number(v); ok {
			if n.IsInt {
				p.write(strconv.FormatInt(n.I, 10))
			} else {
				p.write(PyFloat(n.F))
			}
			return
		}
		p.write(fmt.Sprintf("%v", v))
	}
}

// PyFloat prints f as Python's repr(float) does: the shortest text that
// reads back as f, with ".0" on whole numbers and an exponent outside
// 1e-4 <= |f| < 1e16.
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	if exp < -4 || exp >= 16 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes 1e+16 and 1.5e-05 as Python does.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// QuotePy quotes s as Python's repr(str) does: single quotes unless the
// text holds a single quote and no double quote.
func QuotePy(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r > 0x7f && !unicode.IsPrint(r):
			if r <= 0xff {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte(q)
	return b.String()
}

// PyDatetime prints t as Python's str(datetime) does for an aware datetime:
// 2006-11-21 16:30:00+00:00, with microseconds when there are any.
func PyDatetime(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// PyTimedelta prints d as Python's str(timedelta) does: 1 day, 2:03:04.
func PyTimedelta(d time.Duration) string {
	us := d.Microseconds()
	days := us / (86400 * 1e6)
	rem := us % (86400 * 1e6)
	if rem < 0 {
		rem += 86400 * 1e6
		days--
	}
	secs := rem / 1e6
	frac := rem % 1e6
	s := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		s += fmt.Sprintf(".%06d", frac)
	}
	if days != 0 {
		unit := "days"
		if days == 1 || days == -1 {
			unit = "day"
		}
		s = fmt.Sprintf("%d %s, %s", days, unit, s)
	}
	return s
}
