package yaql

import (
	"math"
	"math/bits"
	"regexp"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

type opcode uint8

const (
	opEq opcode = iota
	opNe
	opLt
	opGt
	opLe
	opGe
	opIn
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opMatch
	opNotMatch
)

var opcodes = map[string]opcode{
	"=": opEq, "!=": opNe, "<": opLt, ">": opGt, "<=": opLe, ">=": opGe, "in": opIn,
	"+": opAdd, "-": opSub, "*": opMul, "/": opDiv, "mod": opMod, "=~": opMatch, "!~": opNotMatch,
}

func newBinary(op string, l, r node, pos int) node {
	switch op {
	case "and":
		return &andNode{l: l, r: r}
	case "or":
		return &orNode{l: l, r: r}
	case "->":
		return &arrowNode{l: l, r: r}
	}
	return &binNode{op: opcodes[op], sym: op, l: l, r: r, pos: pos}
}

type binNode struct {
	op   opcode
	sym  string
	l, r node
	pos  int
}

func (n *binNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := n.l.eval(e, s)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(e, s)
	if err != nil {
		return nil, err
	}
	if err := e.step(); err != nil {
		return nil, err
	}
	return e.binary(n.op, n.sym, l, r)
}

func (e *evaluator) binary(op opcode, sym string, l, r any) (any, error) {
	switch op {
	case opEq:
		return exprvalue.Equal(l, r), nil
	case opNe:
		return !exprvalue.Equal(l, r), nil
	case opLt, opGt, opLe, opGe:
		return compareOp(op, sym, l, r)
	case opIn:
		return e.in(l, r)
	case opAdd:
		return e.add(l, r)
	case opSub:
		return sub(l, r)
	case opMul:
		return e.mul(l, r)
	case opDiv:
		return div(l, r)
	case opMod:
		return mod(l, r)
	case opMatch, opNotMatch:
		s, ok := l.(string)
		if !ok {
			return nil, evalErr("operator "+sym, "the left side must be a string, not a %s", kind(l))
		}
		re, err := toRegex("operator "+sym, r)
		if err != nil {
			return nil, err
		}
		m := re.re.MatchString(s)
		return m == (op == opMatch), nil
	}
	return nil, evalErr("operator "+sym, "unknown operator")
}

func opErr(sym string, l, r any) error {
	return evalErr("operator "+sym, "not defined for a %s and a %s", kind(l), kind(r))
}

func compareOp(op opcode, sym string, l, r any) (any, error) {
	if ls, ok := l.(*setVal); ok {
		rs, ok := r.(*setVal)
		if !ok {
			return nil, opErr(sym, l, r)
		}
		sub := func(a, b *setVal) bool {
			for _, it := range a.items {
				if !b.has(it) {
					return false
				}
			}
			return true
		}
		switch op {
		case opLt:
			return sub(ls, rs) && len(ls.items) < len(rs.items), nil
		case opLe:
			return sub(ls, rs), nil
		case opGt:
			return sub(rs, ls) && len(rs.items) < len(ls.items), nil
		default:
			return sub(rs, ls), nil
		}
	}
	c, ok := exprvalue.Compare(l, r)
	if !ok {
		return nil, opErr(sym, l, r)
	}
	switch op {
	case opLt:
		return c < 0, nil
	case opGt:
		return c > 0, nil
	case opLe:
		return c <= 0, nil
	}
	return c >= 0, nil
}

func (e *evaluator) in(l, r any) (any, error) {
	switch x := r.(type) {
	case string:
		s, ok := l.(string)
		if !ok {
			return nil, evalErr("operator in", "only a string can be looked for in a string, not a %s", kind(l))
		}
		return strings.Contains(x, s), nil
	case map[string]any:
		_, ok := x[exprvalue.Key(l)]
		return ok, nil
	}
	found := false
	err := e.each("operator in", r, func(it any) (bool, error) {
		if err := e.step(); err != nil {
			return false, err
		}
		if exprvalue.Equal(it, l) {
			found = true
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		if !isCollection(r) {
			return nil, evalErr("operator in", "the right side must be a list, set, dict or string, not a %s", kind(r))
		}
		return nil, err
	}
	return found, nil
}

func (e *evaluator) add(l, r any) (any, error) {
	if a, ok := exprvalue.Number(l); ok {
		if b, ok := exprvalue.Number(r); ok {
			if a.IsInt && b.IsInt {
				sum := a.I + b.I
				if (a.I > 0 && b.I > 0 && sum < 0) || (a.I < 0 && b.I < 0 && sum >= 0) {
					return nil, evalErr("operator +", "integer overflow")
				}
				return sum, nil
			}
			return a.Float() + b.Float(), nil
		}
		return nil, opErr("+", l, r)
	}
	switch x := l.(type) {
	case string:
		y, ok := r.(string)
		if !ok {
			return nil, evalErr("operator +", "cannot add a %s to a string (convert it with str())", kind(r))
		}
		if err := e.checkStr("operator +", len(x)+len(y)); err != nil {
			return nil, err
		}
		return x + y, nil
	case map[string]any:
		y, ok := r.(map[string]any)
		if !ok {
			return nil, opErr("+", l, r)
		}
		out := make(map[string]any, len(x)+len(y))
		for k, v := range x {
			out[k] = v
		}
		for k, v := range y {
			out[k] = v
		}
		return out, nil
	case *setVal:
		if y, ok := r.(*setVal); ok {
			return e.union(x, y), nil
		}
	case time.Time:
		if d, ok := r.(time.Duration); ok {
			return x.Add(d), nil
		}
		return nil, opErr("+", l, r)
	case time.Duration:
		switch y := r.(type) {
		case time.Duration:
			return x + y, nil
		case time.Time:
			return y.Add(x), nil
		}
		return nil, opErr("+", l, r)
	}
	if isCollection(l) && isCollection(r) {
		a, err := e.items("operator +", l)
		if err != nil {
			return nil, err
		}
		b, err := e.items("operator +", r)
		if err != nil {
			return nil, err
		}
		if err := e.checkLen("operator +", len(a)+len(b)); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(a)+len(b))
		return append(append(out, a...), b...), nil
	}
	return nil, opErr("+", l, r)
}

func (e *evaluator) union(x, y *setVal) *setVal {
	e.own = true
	out := &setVal{items: append([]any(nil), x.items...)}
	for _, it := range y.items {
		if !out.has(it) {
			out.items = append(out.items, it)
		}
	}
	return out
}

func sub(l, r any) (any, error) {
	if a, ok := exprvalue.Number(l); ok {
		if b, ok := exprvalue.Number(r); ok {
			if a.IsInt && b.IsInt {
				d := a.I - b.I
				if (a.I >= 0 && b.I < 0 && d < 0) || (a.I < 0 && b.I > 0 && d >= 0) {
					return nil, evalErr("operator -", "integer overflow")
				}
				return d, nil
			}
			return a.Float() - b.Float(), nil
		}
		return nil, opErr("-", l, r)
	}
	switch x := l.(type) {
	case *setVal:
		if y, ok := r.(*setVal); ok {
			out := &setVal{items: []any{}}
			for _, it := range x.items {
				if !y.has(it) {
					out.items = append(out.items, it)
				}
			}
			return out, nil
		}
	case time.Time:
		switch y := r.(type) {
		case time.Duration:
			return x.Add(-y), nil
		case time.Time:
			return x.Sub(y), nil
		}
	case time.Duration:
		if y, ok := r.(time.Duration); ok {
			return x - y, nil
		}
	}
	return nil, opErr("-", l, r)
}

func (e *evaluator) mul(l, r any) (any, error) {
	a, aok := exprvalue.Number(l)
	b, bok := exprvalue.Number(r)
	if aok && bok {
		if a.IsInt && b.IsInt {
			hi, lo := bits.Mul64(uint64(abs64(a.I)), uint64(abs64(b.I)))
			if hi != 0 || lo > math.MaxInt64 || a.I == math.MinInt64 || b.I == math.MinInt64 {
				return nil, evalErr("operator *", "integer overflow")
			}
			return a.I * b.I, nil
		}
		return a.Float() * b.Float(), nil
	}
	// int * string, int * list, timespan * number: put the number right.
	if aok && !bok {
		l, r = r, l
		b, bok = a, aok
	}
	if !bok || !b.IsInt {
		if d, ok := l.(time.Duration); ok && bok {
			return time.Duration(float64(d) * b.Float()), nil
		}
		return nil, opErr("*", l, r)
	}
	n := b.I
	if n < 0 {
		n = 0
	}
	switch x := l.(type) {
	case string:
		if len(x) > 0 && n > int64(e.limits.MaxStringBytes/len(x)) {
			return nil, evalErr("operator *", "result is longer than %d bytes", e.limits.MaxStringBytes)
		}
		return strings.Repeat(x, int(n)), nil
	case time.Duration:
		return x * time.Duration(n), nil
	}
	if items, ok := e.sequence(l); ok {
		if len(items) > 0 && n > int64(e.limits.MaxItems/len(items)) {
			return nil, evalErr("operator *", "result has more than %d items", e.limits.MaxItems)
		}
		out := make([]any, 0, len(items)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, items...)
		}
		return out, nil
	}
	return nil, opErr("*", l, r)
}

func abs64(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}

func div(l, r any) (any, error) {
	if a, ok := exprvalue.Number(l); ok {
		if b, ok := exprvalue.Number(r); ok {
			if a.IsInt && b.IsInt {
				if b.I == 0 {
					return nil, evalErr("operator /", "division by zero")
				}
				if a.I == math.MinInt64 && b.I == -1 {
					return nil, evalErr("operator /", "integer overflow")
				}
				return floorDiv(a.I, b.I), nil
			}
			if b.Float() == 0 {
				return nil, evalErr("operator /", "division by zero")
			}
			return a.Float() / b.Float(), nil
		}
		return nil, opErr("/", l, r)
	}
	if d, ok := l.(time.Duration); ok {
		switch y := r.(type) {
		case time.Duration:
			if y == 0 {
				return nil, evalErr("operator /", "division by zero")
			}
			return float64(d) / float64(y), nil
		}
		if b, ok := exprvalue.Number(r); ok {
			if b.Float() == 0 {
				return nil, evalErr("operator /", "division by zero")
			}
			return time.Duration(float64(d) / b.Float()), nil
		}
	}
	return nil, opErr("/", l, r)
}

// floorDiv is Python's // on integers: it rounds toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// mod is Python's %: the result has the sign of the divisor.
func mod(l, r any) (any, error) {
	a, aok := exprvalue.Number(l)
	b, bok := exprvalue.Number(r)
	if !aok || !bok {
		return nil, opErr("mod", l, r)
	}
	if a.IsInt && b.IsInt {
		if b.I == 0 {
			return nil, evalErr("operator mod", "division by zero")
		}
		if b.I == -1 {
			return int64(0), nil
		}
		m := a.I % b.I
		if m != 0 && (m < 0) != (b.I < 0) {
			m += b.I
		}
		return m, nil
	}
	if b.Float() == 0 {
		return nil, evalErr("operator mod", "division by zero")
	}
	return pyFmod(a.Float(), b.Float()), nil
}

func pyFmod(a, b float64) float64 {
	m := math.Mod(a, b)
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}

func unaryOp(op string, v any) (any, error) {
	if n, ok := exprvalue.Number(v); ok {
		if op == "+" {
			return n.Value(), nil
		}
		if n.IsInt {
			if n.I == math.MinInt64 {
				return nil, evalErr("operator -", "integer overflow")
			}
			return -n.I, nil
		}
		return -n.F, nil
	}
	if d, ok := v.(time.Duration); ok {
		if op == "+" {
			return d, nil
		}
		return -d, nil
	}
	return nil, evalErr("operator "+op, "needs a number, not a %s", kind(v))
}

// toRegex accepts a regex() value or a pattern string.
func toRegex(op string, v any) (*regexVal, error) {
	switch x := v.(type) {
	case *regexVal:
		return x, nil
	case string:
		re, err := compileRegex(x, "")
		if err != nil {
			return nil, evalErr(op, "%v", err)
		}
		return re, nil
	}
	return nil, evalErr(op, "needs a regular expression or a pattern string, not a %s", kind(v))
}

func compileRegex(pattern, flags string) (*regexVal, error) {
	src := pattern
	if flags != "" {
		src = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	return &regexVal{re: re, src: src}, nil
}
