package yaql

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
)

// builtin is a function of YAQL's standard library. Its parameters are
// slots: a method call's receiver is slot 0, then the arguments.
type builtin struct {
	name   string
	params []string // names for name => value arguments; "a|b" gives aliases
	min    int      // least slots
	max    int      // most slots, -1 for any
	lazy   uint64   // bit i set: slot i is a lambda, evaluated by the function
	rules  bool     // takes name => value pairs as rules (switch, dict, let, set)
	check  func(*callNode) string
	fn     func(c *call) (any, error)
}

func (b *builtin) param(name string) int {
	for i, p := range b.params {
		for _, alt := range strings.Split(p, "|") {
			if alt == name {
				return i
			}
		}
	}
	return -1
}

const allLazy = ^uint64(0)

func bit(i ...int) uint64 {
	var m uint64
	for _, x := range i {
		m |= 1 << uint(x)
	}
	return m
}

// builtins is the standard library by name.
var builtins = stdlib()

func stdlib() map[string]*builtin {
	m := map[string]*builtin{}
	add := func(bs ...*builtin) {
		for _, b := range bs {
			m[b.name] = b
		}
	}
	add(systemFuncs()...)
	add(mathFuncs()...)
	add(stringFuncs()...)
	add(collectionFuncs()...)
	add(queryFuncs()...)
	add(regexFuncs()...)
	add(timeFuncs()...)
	alias := func(name, to string) {
		b := *m[to]
		b.name = name
		m[name] = &b
	}
	alias("filter", "where")
	alias("map", "select")
	alias("take", "limit")
	alias("reduce", "aggregate")
	alias("count", "len")
	return m
}

func fn(name string, params string, min, max int, f func(c *call) (any, error)) *builtin {
	var ps []string
	if params != "" {
		ps = strings.Split(params, ",")
	}
	return &builtin{name: name, params: ps, min: min, max: max, fn: f}
}

func (b *builtin) lambdas(mask uint64) *builtin { b.lazy = mask; return b }
func (b *builtin) withRules() *builtin          { b.rules = true; return b }

// Argument helpers. Each names the function and the parameter in its error.

func (c *call) pname(i int) string {
	if i < len(c.n.b.params) {
		return strings.Split(c.n.b.params[i], "|")[0]
	}
	return "argument " + strconv.Itoa(i+1)
}

func (c *call) str(i int) (string, error) {
	if !c.has(i) {
		return "", c.fail("%s is required", c.pname(i))
	}
	s, ok := c.args[i].(string)
	if !ok {
		return "", c.fail("%s must be a string, not a %s", c.pname(i), kind(c.args[i]))
	}
	return s, nil
}

// optStr is a string parameter that may be left out or null.
func (c *call) optStr(i int) (string, bool, error) {
	if !c.has(i) || c.args[i] == nil {
		return "", false, nil
	}
	s, err := c.str(i)
	return s, err == nil, err
}

func (c *call) int(i int, def int64) (int64, error) {
	if !c.has(i) {
		return def, nil
	}
	n, ok := exprvalue.Int(c.args[i])
	if !ok {
		return 0, c.fail("%s must be an integer, not a %s", c.pname(i), kind(c.args[i]))
	}
	return n, nil
}

func (c *call) num(i int) (exprvalue.Num, error) {
	n, ok := exprvalue.Number(c.args[i])
	if !ok {
		return n, c.fail("%s must be a number, not a %s", c.pname(i), kind(c.args[i]))
	}
	return n, nil
}

func (c *call) items(i int) ([]any, error) {
	v := c.args[i]
	if !isCollection(v) {
		return nil, c.fail("%s must be a list, not a %s", c.pname(i), kind(v))
	}
	return c.e.items(c.n.b.name, v)
}

func (c *call) dict(i int) (map[string]any, error) {
	d, ok := c.args[i].(map[string]any)
	if !ok {
		return nil, c.fail("%s must be a dict, not a %s", c.pname(i), kind(c.args[i]))
	}
	return d, nil
}

func (c *call) bool(i int, def bool) (bool, error) {
	if !c.has(i) {
		return def, nil
	}
	b, ok := c.args[i].(bool)
	if !ok {
		return false, c.fail("%s must be true or false, not a %s", c.pname(i), kind(c.args[i]))
	}
	return b, nil
}

// list makes a result list, counting it against the item limit.
func (c *call) list(items []any) (any, error) {
	if err := c.e.checkLen(c.n.b.name, len(items)); err != nil {
		return nil, err
	}
	if items == nil {
		items = []any{}
	}
	return items, nil
}

func systemFuncs() []*builtin {
	return []*builtin{
		// let(1, 2, a => 3) -> $1 + $2 + $a
		fn("let", "", 0, -1, func(c *call) (any, error) {
			sc := &scope{parent: c.s, args: append([]any(nil), c.args...)}
			if len(c.n.rules) > 0 {
				sc.named = map[string]any{}
				for _, r := range c.n.rules {
					name, ok := paramName(r.key)
					if !ok {
						return nil, c.fail("the name before => must be a word")
					}
					v, err := r.val.eval(c.e, c.s)
					if err != nil {
						return nil, err
					}
					sc.named[name] = v
				}
			}
			c.e.own = true
			return sc, nil
		}).withRules(),
		fn("with", "", 0, -1, func(c *call) (any, error) {
			c.e.own = true
			return &scope{parent: c.s, args: append([]any(nil), c.args...)}, nil
		}),
		// [1, 2].unpack(a, b) -> $a + $b
		fn("unpack", "sequence", 1, -1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			sc := &scope{parent: c.s}
			c.e.own = true
			if c.nargs() == 1 {
				sc.args = append([]any(nil), items...)
				return sc, nil
			}
			if len(items) != c.nargs()-1 {
				return nil, c.fail("cannot unpack %d items into %d names", len(items), c.nargs()-1)
			}
			sc.named = map[string]any{}
			for i, it := range items {
				name, ok := c.args[i+1].(string)
				if !ok {
					return nil, c.fail("names must be words or strings")
				}
				sc.named[name] = it
			}
			return sc, nil
		}),
		fn("assert", "obj,condition,message", 2, 3, func(c *call) (any, error) {
			ok, err := c.apply1(1, c.args[0])
			if err != nil {
				return nil, err
			}
			if !truthy(ok) {
				msg := "Assertion failed"
				if c.has(2) {
					if msg, err = c.str(2); err != nil {
						return nil, err
					}
				}
				return nil, c.fail("%s", msg)
			}
			return c.args[0], nil
		}).lambdas(bit(1)),
		fn("bool", "value", 1, 1, func(c *call) (any, error) { return truthy(c.args[0]), nil }),
		fn("isBoolean", "value", 1, 1, func(c *call) (any, error) {
			_, ok := c.args[0].(bool)
			return ok, nil
		}),
		// switch($ > 0 => 1, $ < 0 => -1, true => 0)
		fn("switch", "", 0, 0, func(c *call) (any, error) {
			for _, r := range c.n.rules {
				cond, err := r.key.eval(c.e, c.s)
				if err != nil {
					return nil, err
				}
				if truthy(cond) {
					return r.val.eval(c.e, c.s)
				}
			}
			return nil, nil
		}).withRules(),
		fn("selectCase", "", 0, -1, func(c *call) (any, error) {
			for i := range c.nargs() {
				v, err := c.lazy(i)
				if err != nil {
					return nil, err
				}
				if truthy(v) {
					return int64(i), nil
				}
			}
			return int64(c.nargs()), nil
		}).lambdas(allLazy),
		fn("selectAllCases", "", 0, -1, func(c *call) (any, error) {
			out := []any{}
			for i := range c.nargs() {
				v, err := c.lazy(i)
				if err != nil {
					return nil, err
				}
				if truthy(v) {
					out = append(out, int64(i))
				}
			}
			return out, nil
		}).lambdas(allLazy),
		fn("examine", "", 0, -1, func(c *call) (any, error) {
			out := make([]any, 0, c.nargs())
			for i := range c.nargs() {
				v, err := c.lazy(i)
				if err != nil {
					return nil, err
				}
				out = append(out, truthy(v))
			}
			return out, nil
		}).lambdas(allLazy),
		fn("switchCase", "case", 1, -1, func(c *call) (any, error) {
			k, err := c.int(0, 0)
			if err != nil {
				return nil, err
			}
			n := int64(c.nargs() - 1)
			switch {
			case n == 0:
				return nil, nil
			case k >= 0 && k < n:
				return c.lazy(int(k) + 1)
			}
			return c.lazy(int(n))
		}).lambdas(allLazy &^ 1),
		fn("coalesce", "", 0, -1, func(c *call) (any, error) {
			for i := range c.nargs() {
				v, err := c.lazy(i)
				if err != nil {
					return nil, err
				}
				if v != nil {
					return v, nil
				}
			}
			return nil, nil
		}).lambdas(allLazy),
	}
}

func mathFuncs() []*builtin {
	return []*builtin{
		fn("abs", "op", 1, 1, func(c *call) (any, error) {
			n, err := c.num(0)
			if err != nil {
				return nil, err
			}
			if n.IsInt {
				if n.I == math.MinInt64 {
					return nil, c.fail("integer overflow")
				}
				return abs64(n.I), nil
			}
			return math.Abs(n.F), nil
		}),
		fn("int", "value", 1, 1, func(c *call) (any, error) {
			switch x := c.args[0].(type) {
			case nil:
				return int64(0), nil
			case bool:
				if x {
					return int64(1), nil
				}
				return int64(0), nil
			case string:
				i, err := strconv.ParseInt(strings.TrimSpace(strings.ReplaceAll(x, "_", "")), 10, 64)
				if err != nil {
					return nil, c.fail("cannot convert the string to an integer (it must hold decimal digits only)")
				}
				return i, nil
			}
			n, err := c.num(0)
			if err != nil {
				return nil, err
			}
			if n.IsInt {
				return n.I, nil
			}
			if math.IsNaN(n.F) || math.IsInf(n.F, 0) || math.Abs(n.F) >= 9.2e18 {
				return nil, c.fail("the float is out of the integer range")
			}
			return int64(n.F), nil
		}),
		fn("float", "value", 1, 1, func(c *call) (any, error) {
			switch x := c.args[0].(type) {
			case nil:
				return 0.0, nil
			case bool:
				if x {
					return 1.0, nil
				}
				return 0.0, nil
			case string:
				f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
				if err != nil {
					return nil, c.fail("cannot convert the string to a float")
				}
				return f, nil
			}
			n, err := c.num(0)
			if err != nil {
				return nil, err
			}
			return n.Float(), nil
		}),
		fn("random", "from,to", 0, 2, func(c *call) (any, error) {
			if c.nargs() == 0 {
				return rand.Float64(), nil
			}
			if c.nargs() != 2 {
				return nil, c.fail("takes no argument or two (from, to)")
			}
			a, err := c.int(0, 0)
			if err != nil {
				return nil, err
			}
			b, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			if b < a {
				return nil, c.fail("to must not be less than from")
			}
			return a + rand.Int64N(b-a+1), nil
		}),
		intOp("bitwiseAnd", func(a, b int64) int64 { return a & b }),
		intOp("bitwiseOr", func(a, b int64) int64 { return a | b }),
		intOp("bitwiseXor", func(a, b int64) int64 { return a ^ b }),
		intOp("shiftBitsLeft", func(a, b int64) int64 {
			if b >= 64 || b < 0 {
				return 0
			}
			return a << uint(b)
		}),
		intOp("shiftBitsRight", func(a, b int64) int64 {
			if b >= 64 || b < 0 {
				if a < 0 {
					return -1
				}
				return 0
			}
			return a >> uint(b)
		}),
		fn("bitwiseNot", "arg", 1, 1, func(c *call) (any, error) {
			a, err := c.int(0, 0)
			return ^a, err
		}),
		fn("pow", "a,b,c", 2, 3, func(c *call) (any, error) {
			a, err := c.num(0)
			if err != nil {
				return nil, err
			}
			b, err := c.num(1)
			if err != nil {
				return nil, err
			}
			if c.has(2) && c.args[2] != nil {
				m, err := c.int(2, 0)
				if err != nil {
					return nil, err
				}
				if !a.IsInt || !b.IsInt || b.I < 0 || m == 0 {
					return nil, c.fail("pow with a modulus needs integers, a non-negative exponent and a non-zero modulus")
				}
				return powMod(a.I, b.I, m), nil
			}
			if a.IsInt && b.IsInt && b.I >= 0 {
				r, ok := ipow(a.I, b.I)
				if !ok {
					return nil, c.fail("integer overflow")
				}
				return r, nil
			}
			return math.Pow(a.Float(), b.Float()), nil
		}),
		fn("sign", "num", 1, 1, func(c *call) (any, error) {
			n, err := c.num(0)
			if err != nil {
				return nil, err
			}
			switch f := n.Float(); {
			case f > 0:
				return int64(1), nil
			case f < 0:
				return int64(-1), nil
			}
			return int64(0), nil
		}),
		fn("round", "number,ndigits", 1, 2, func(c *call) (any, error) {
			n, err := c.num(0)
			if err != nil {
				return nil, err
			}
			d, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			if n.IsInt {
				if d >= 0 {
					return n.I, nil
				}
				p := math.Pow(10, float64(-d))
				return int64(math.RoundToEven(float64(n.I)/p) * p), nil
			}
			if d > 300 || d < -300 {
				return n.F, nil
			}
			p := math.Pow(10, float64(d))
			return math.RoundToEven(n.F*p) / p, nil
		}),
		fn("isInteger", "value", 1, 1, func(c *call) (any, error) {
			_, ok := exprvalue.Int(c.args[0])
			return ok, nil
		}),
		fn("isNumber", "value", 1, 1, func(c *call) (any, error) {
			_, ok := exprvalue.Number(c.args[0])
			return ok, nil
		}),
		// max(a, b) of two values, or collection.max(initial).
		fn("max", "a|collection,b|initial", 1, 2, func(c *call) (any, error) { return minMax(c, 1) }),
		fn("min", "a|collection,b|initial", 1, 2, func(c *call) (any, error) { return minMax(c, -1) }),
	}
}

func intOp(name string, f func(a, b int64) int64) *builtin {
	return fn(name, "left,right", 2, 2, func(c *call) (any, error) {
		a, err := c.int(0, 0)
		if err != nil {
			return nil, err
		}
		b, err := c.int(1, 0)
		if err != nil {
			return nil, err
		}
		return f(a, b), nil
	})
}

func mulChk(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return r, true
}

// ipow is base**exp by squaring, reporting overflow.
func ipow(base, exp int64) (int64, bool) {
	r := int64(1)
	ok := true
	for exp > 0 {
		if exp&1 == 1 {
			if r, ok = mulChk(r, base); !ok {
				return 0, false
			}
		}
		exp >>= 1
		if exp > 0 {
			if base, ok = mulChk(base, base); !ok {
				return 0, false
			}
		}
	}
	return r, true
}

// powMod is Python's pow(a, b, m) for b >= 0: the result has the sign of m.
func powMod(a, b, m int64) int64 {
	um := uint64(abs64(m))
	x := uint64(((a % m) + m) % m)
	if m < 0 {
		x = uint64(((a % -m) - m) % -m)
	}
	r := uint64(1) % um
	for b > 0 {
		if b&1 == 1 {
			r = mulModU(r, x, um)
		}
		x = mulModU(x, x, um)
		b >>= 1
	}
	res := int64(r)
	if m < 0 && res > 0 {
		res += m
	}
	return res
}

func mulModU(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, rem := bits.Div64(hi%m, lo, m)
	return rem
}

// minMax is max/min: of two values when called as a function with two
// arguments, of a collection (with an optional initial value) otherwise.
func minMax(c *call, sign int) (any, error) {
	better := func(a, b any) (bool, error) {
		r, ok := exprvalue.Compare(a, b)
		if !ok {
			return false, c.fail("cannot compare a %s and a %s", kind(a), kind(b))
		}
		return r*sign > 0, nil
	}
	if !isCollection(c.args[0]) {
		if c.nargs() != 2 {
			return nil, c.fail("needs two values, or a list")
		}
		b, err := better(c.args[1], c.args[0])
		if err != nil {
			return nil, err
		}
		if b {
			return c.args[1], nil
		}
		return c.args[0], nil
	}
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	var best any
	found := false
	if c.has(1) {
		best, found = c.args[1], true
	}
	for _, it := range items {
		if !found {
			best, found = it, true
			continue
		}
		b, err := better(it, best)
		if err != nil {
			return nil, err
		}
		if b {
			best = it
		}
	}
	if !found {
		return nil, c.fail("the list is empty and no initial value is given")
	}
	return best, nil
}
