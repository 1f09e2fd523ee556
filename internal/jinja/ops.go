package jinja

import (
	"math"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
)

// pyNum reads a number as Python does, booleans included.
func pyNum(v any) (exprvalue.Num, bool) {
	if b, ok := v.(bool); ok {
		return exprvalue.Num{I: b2i(b), IsInt: true}, true
	}
	return exprvalue.Number(v)
}

func (e *evaluator) binary(op string, l, r any) (any, error) {
	opName := "operator " + op
	if op == "~" {
		ls, err := exprvalue.StrMax(l, e.limits.MaxStringBytes)
		if err != nil {
			return nil, evalErr(opName, "result is longer than %d bytes", e.limits.MaxStringBytes)
		}
		rs, err := exprvalue.StrMax(r, e.limits.MaxStringBytes)
		if err != nil || len(ls)+len(rs) > e.limits.MaxStringBytes {
			return nil, evalErr(opName, "result is longer than %d bytes", e.limits.MaxStringBytes)
		}
		return ls + rs, nil
	}
	a, aok := pyNum(l)
	b, bok := pyNum(r)
	if aok && bok {
		return numOp(op, a, b)
	}
	switch op {
	case "+":
		switch x := l.(type) {
		case string:
			if y, ok := r.(string); ok {
				if len(x)+len(y) > e.limits.MaxStringBytes {
					return nil, evalErr(opName, "result is longer than %d bytes", e.limits.MaxStringBytes)
				}
				return x + y, nil
			}
		case []any:
			if y, ok := r.([]any); ok {
				if len(x)+len(y) > e.limits.MaxItems {
					return nil, evalErr(opName, "result has more than %d items", e.limits.MaxItems)
				}
				return append(append(make([]any, 0, len(x)+len(y)), x...), y...), nil
			}
		}
	case "*":
		if aok && a.IsInt {
			l, r, b, bok = r, l, a, aok
		}
		if bok && b.IsInt {
			n := max(b.I, 0)
			switch x := l.(type) {
			case string:
				if len(x) > 0 && n > int64(e.limits.MaxStringBytes/len(x)) {
					return nil, evalErr(opName, "result is longer than %d bytes", e.limits.MaxStringBytes)
				}
				return strings.Repeat(x, int(n)), nil
			case []any:
				if len(x) > 0 && n > int64(e.limits.MaxItems/len(x)) {
					return nil, evalErr(opName, "result has more than %d items", e.limits.MaxItems)
				}
				out := make([]any, 0, len(x)*int(n))
				for i := int64(0); i < n; i++ {
					out = append(out, x...)
				}
				return out, nil
			}
		}
	}
	return nil, evalErr(opName, "not defined for a %s and a %s", kind(l), kind(r))
}

func numOp(op string, a, b exprvalue.Num) (any, error) {
	opName := "operator " + op
	ints := a.IsInt && b.IsInt
	switch op {
	case "+":
		if ints {
			s := a.I + b.I
			if (a.I > 0 && b.I > 0 && s < 0) || (a.I < 0 && b.I < 0 && s >= 0) {
				return nil, evalErr(opName, "integer overflow")
			}
			return s, nil
		}
		return a.Float() + b.Float(), nil
	case "-":
		if ints {
			d := a.I - b.I
			if (a.I >= 0 && b.I < 0 && d < 0) || (a.I < 0 && b.I > 0 && d >= 0) {
				return nil, evalErr(opName, "integer overflow")
			}
			return d, nil
		}
		return a.Float() - b.Float(), nil
	case "*":
		if ints {
			if a.I != 0 && b.I != 0 {
				p := a.I * b.I
				if p/b.I != a.I || (a.I == -1 && b.I == math.MinInt64) || (b.I == -1 && a.I == math.MinInt64) {
					return nil, evalErr(opName, "integer overflow")
				}
				return p, nil
			}
			return int64(0), nil
		}
		return a.Float() * b.Float(), nil
	case "/":
		if b.Float() == 0 {
			return nil, evalErr(opName, "division by zero")
		}
		return a.Float() / b.Float(), nil
	case "//":
		if ints {
			if b.I == 0 {
				return nil, evalErr(opName, "division by zero")
			}
			if a.I == math.MinInt64 && b.I == -1 {
				return nil, evalErr(opName, "integer overflow")
			}
			q := a.I / b.I
			if a.I%b.I != 0 && (a.I < 0) != (b.I < 0) {
				q--
			}
			return q, nil
		}
		if b.Float() == 0 {
			return nil, evalErr(opName, "division by zero")
		}
		return math.Floor(a.Float() / b.Float()), nil
	case "%":
		if ints {
			if b.I == 0 {
				return nil, evalErr(opName, "division by zero")
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
			return nil, evalErr(opName, "division by zero")
		}
		m := math.Mod(a.Float(), b.Float())
		if m != 0 && (m < 0) != (b.Float() < 0) {
			m += b.Float()
		}
		return m, nil
	case "**":
		if ints && b.I >= 0 {
			r := int64(1)
			base, exp := a.I, b.I
			for exp > 0 {
				if exp&1 == 1 {
					n := r * base
					if base != 0 && n/base != r {
						return nil, evalErr(opName, "integer overflow")
					}
					r = n
				}
				exp >>= 1
				if exp > 0 {
					n := base * base
					if base != 0 && n/base != base {
						return nil, evalErr(opName, "integer overflow")
					}
					base = n
				}
			}
			return r, nil
		}
		return math.Pow(a.Float(), b.Float()), nil
	}
	return nil, evalErr(opName, "unknown operator")
}
