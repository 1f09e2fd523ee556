package jinja

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
)

// EvalError is a template or expression that parsed but failed: Op names
// the filter, function, test or operator and Msg the reason, without the
// data evaluated.
type EvalError struct {
	Op  string
	Msg string
}

func (e *EvalError) Error() string {
	if e.Op == "" {
		return e.Msg
	}
	return e.Op + ": " + e.Msg
}

func evalErr(op, format string, args ...any) *EvalError {
	return &EvalError{Op: op, Msg: fmt.Sprintf(format, args...)}
}

// undefined is StrictUndefined: a missing name, key or attribute. Tests
// (is defined), default and boolean "x is defined" accept it; anything
// else that uses it fails with its description.
type undefined struct{ what string }

func (u *undefined) Kind() string { return "undefined" }

func (u *undefined) err() error { return &EvalError{Msg: u.what} }

// callable is a function value: a global (range, dict, the host's
// functions) or a bound method of a value ('a,b'.split).
type callable struct {
	name string
	fn   func(e *evaluator, args []any, kwN []string, kwV []any) (any, error)
}

func (*callable) Kind() string { return "function" }

type scope struct {
	vars   map[string]any
	parent *scope
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type evaluator struct {
	ctx    context.Context
	env    *Env
	limits Limits
	steps  int
	data   any
	host   any
	out    strings.Builder
}

func (e *evaluator) step() error {
	e.steps++
	if e.steps > e.limits.MaxSteps {
		return evalErr("", "template needs more than %d evaluation steps", e.limits.MaxSteps)
	}
	if e.steps&4095 == 0 && e.ctx != nil {
		if err := e.ctx.Err(); err != nil {
			return evalErr("", "evaluation stopped: %v", err)
		}
	}
	return nil
}

// value evaluates n and fails on an undefined result.
func (e *evaluator) value(n node, s *scope) (any, error) {
	v, err := n.eval(e, s)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(*undefined); ok {
		return nil, u.err()
	}
	return v, nil
}

func kind(v any) string { return exprvalue.Kind(v) }

func (n *constNode) eval(*evaluator, *scope) (any, error) { return n.v, nil }

func (n *nameNode) eval(e *evaluator, s *scope) (any, error) {
	if v, ok := s.lookup(n.name); ok {
		return v, nil
	}
	if f, ok := e.env.funcs[n.name]; ok {
		return e.hostCallable(n.name, f, nil, false), nil
	}
	if g, ok := globals[n.name]; ok {
		return g, nil
	}
	return &undefined{what: fmt.Sprintf("'%s' is undefined", n.name)}, nil
}

// hostCallable wraps a host function as a callable. As a global it sees
// the data context (_) as its Data; as a filter, the filtered value.
func (e *evaluator) hostCallable(name string, f exprvalue.Func, data any, isFilter bool) *callable {
	return &callable{name: name, fn: func(e *evaluator, args []any, kwN []string, kwV []any) (any, error) {
		d := e.data
		if isFilter {
			d = data
		}
		bound, err := f.Bind(name, args, kwN, kwV)
		if err != nil {
			return nil, evalErr(name, "%v", err)
		}
		v, err := f.Call(exprvalue.Call{Ctx: e.ctx, Data: d, Host: e.host, Name: name}, bound)
		if err != nil {
			if _, ok := err.(*EvalError); ok {
				return nil, err
			}
			return nil, &EvalError{Op: name, Msg: err.Error()}
		}
		return v, nil
	}}
}

func (n *listNode) eval(e *evaluator, s *scope) (any, error) {
	out := make([]any, len(n.items))
	for i, it := range n.items {
		v, err := e.value(it, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (n *dictNode) eval(e *evaluator, s *scope) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i := range n.keys {
		k, err := e.value(n.keys[i], s)
		if err != nil {
			return nil, err
		}
		v, err := e.value(n.vals[i], s)
		if err != nil {
			return nil, err
		}
		out[exprvalue.Key(k)] = v
	}
	return out, nil
}

func (n *attrNode) eval(e *evaluator, s *scope) (any, error) {
	x, err := e.value(n.x, s)
	if err != nil {
		return nil, err
	}
	return e.getattr(x, n.name), nil
}

// getattr is Jinja's x.name: a method of the value, else its item.
func (e *evaluator) getattr(x any, name string) any {
	if l, ok := x.(*loopInfo); ok {
		if v, ok := l.attr(name); ok {
			return v
		}
		return &undefined{what: fmt.Sprintf("the loop variable has no attribute '%s'", name)}
	}
	if m := method(x, name); m != nil {
		return m
	}
	if d, ok := x.(map[string]any); ok {
		if v, ok := d[name]; ok {
			return v
		}
	}
	return &undefined{what: fmt.Sprintf("'%s' has no attribute '%s'", pyType(x), name)}
}

// pyType names v as Jinja's messages do ('dict object').
func pyType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "dict object"
	case []any:
		return "list object"
	case string:
		return "str object"
	case nil:
		return "None"
	}
	return kind(v) + " object"
}

func (n *itemNode) eval(e *evaluator, s *scope) (any, error) {
	x, err := e.value(n.x, s)
	if err != nil {
		return nil, err
	}
	k, err := e.value(n.key, s)
	if err != nil {
		return nil, err
	}
	return e.getitem(x, k), nil
}

// getitem is Jinja's x[key]: an item, else an attribute.
func (e *evaluator) getitem(x, k any) any {
	switch c := x.(type) {
	case map[string]any:
		if v, ok := c[exprvalue.Key(k)]; ok {
			return v
		}
	case []any:
		if i, ok := exprvalue.Int(k); ok {
			if i < 0 {
				i += int64(len(c))
			}
			if i >= 0 && i < int64(len(c)) {
				return c[i]
			}
			return &undefined{what: fmt.Sprintf("list index %d out of range", i)}
		}
	case string:
		if i, ok := exprvalue.Int(k); ok {
			rs := []rune(c)
			if i < 0 {
				i += int64(len(rs))
			}
			if i >= 0 && i < int64(len(rs)) {
				return string(rs[i])
			}
			return &undefined{what: fmt.Sprintf("string index %d out of range", i)}
		}
	}
	if name, ok := k.(string); ok {
		if m := method(x, name); m != nil {
			return m
		}
	}
	return &undefined{what: fmt.Sprintf("'%s' has no item %s", pyType(x), exprvalue.Repr(truncated(k)))}
}

func truncated(k any) any {
	if s, ok := k.(string); ok && len(s) > 64 {
		return s[:64] + "..."
	}
	return k
}

func (n *sliceNode) eval(e *evaluator, s *scope) (any, error) {
	x, err := e.value(n.x, s)
	if err != nil {
		return nil, err
	}
	bound := func(b node) (int64, bool, error) {
		if b == nil {
			return 0, false, nil
		}
		v, err := e.value(b, s)
		if err != nil || v == nil {
			return 0, false, err
		}
		i, ok := exprvalue.Int(v)
		if !ok {
			return 0, false, evalErr("slice", "slice bounds must be integers, not a %s", kind(v))
		}
		return i, true, nil
	}
	lo, hasLo, err := bound(n.lo)
	if err != nil {
		return nil, err
	}
	hi, hasHi, err := bound(n.hi)
	if err != nil {
		return nil, err
	}
	step, hasStep, err := bound(n.step)
	if err != nil {
		return nil, err
	}
	if !hasStep {
		step = 1
	}
	if step == 0 {
		return nil, evalErr("slice", "slice step cannot be zero")
	}
	var items []any
	str, isStr := x.(string)
	var runes []rune
	switch c := x.(type) {
	case []any:
		items = c
	case string:
		runes = []rune(c)
	default:
		return nil, evalErr("slice", "cannot slice a %s", kind(x))
	}
	n0 := int64(len(items))
	if isStr {
		n0 = int64(len(runes))
	}
	_ = str
	idx := pySliceIndices(n0, lo, hasLo, hi, hasHi, step)
	if isStr {
		var b strings.Builder
		for _, i := range idx {
			b.WriteRune(runes[i])
		}
		return b.String(), nil
	}
	out := make([]any, len(idx))
	for j, i := range idx {
		out[j] = items[i]
	}
	return out, nil
}

// pySliceIndices lists the indices seq[lo:hi:step] selects in Python.
func pySliceIndices(n, lo int64, hasLo bool, hi int64, hasHi bool, step int64) []int64 {
	adj := func(i int64, def int64, has bool, lower, upper int64) int64 {
		if !has {
			return def
		}
		if i < 0 {
			i += n
			if i < lower {
				i = lower
			}
		} else if i > upper {
			i = upper
		}
		return i
	}
	var out []int64
	if step > 0 {
		lo = adj(lo, 0, hasLo, 0, n)
		hi = adj(hi, n, hasHi, 0, n)
		for i := lo; i < hi; i += step {
			out = append(out, i)
		}
	} else {
		lo = adj(lo, n-1, hasLo, -1, n-1)
		hi = adj(hi, -1, hasHi, -1, n-1)
		for i := lo; i > hi; i += step {
			out = append(out, i)
		}
	}
	return out
}

func (e *evaluator) evalArgs(s *scope, args []node, kwV []node) ([]any, []any, error) {
	a := make([]any, len(args))
	for i, n := range args {
		v, err := e.value(n, s)
		if err != nil {
			return nil, nil, err
		}
		a[i] = v
	}
	var kw []any
	if len(kwV) > 0 {
		kw = make([]any, len(kwV))
		for i, n := range kwV {
			v, err := e.value(n, s)
			if err != nil {
				return nil, nil, err
			}
			kw[i] = v
		}
	}
	return a, kw, nil
}

func (n *callNode) eval(e *evaluator, s *scope) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	f, err := e.value(n.fn, s)
	if err != nil {
		return nil, err
	}
	c, ok := f.(*callable)
	if !ok {
		return nil, evalErr("call", "a %s is not callable", kind(f))
	}
	args, kw, err := e.evalArgs(s, n.args, n.kwV)
	if err != nil {
		return nil, err
	}
	return c.fn(e, args, n.kwN, kw)
}

func (n *filterNode) eval(e *evaluator, s *scope) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	x, err := n.x.eval(e, s)
	if err != nil {
		return nil, err
	}
	args, kw, err := e.evalArgs(s, n.args, n.kwV)
	if err != nil {
		return nil, err
	}
	if h, ok := e.env.funcs[n.name]; ok {
		if u, ok := x.(*undefined); ok {
			return nil, u.err()
		}
		return e.hostCallable(n.name, h, x, true).fn(e, args, n.kwN, kw)
	}
	f := filters[n.name]
	if f == nil {
		return nil, evalErr("filter", "no filter named %q", n.name)
	}
	if u, ok := x.(*undefined); ok && n.name != "default" && n.name != "d" {
		return nil, u.err()
	}
	v, err := f(e, x, args, n.kwN, kw)
	if err != nil {
		if ee, ok := err.(*EvalError); ok && ee.Op == "" {
			ee.Op = n.name
		}
		return nil, err
	}
	return v, nil
}

func (n *testNode) eval(e *evaluator, s *scope) (any, error) {
	x, err := n.x.eval(e, s)
	if err != nil {
		return nil, err
	}
	t := tests[n.name]
	if t == nil {
		return nil, evalErr("test", "no test named %q", n.name)
	}
	args, _, err := e.evalArgs(s, n.args, nil)
	if err != nil {
		return nil, err
	}
	if u, ok := x.(*undefined); ok && n.name != "defined" && n.name != "undefined" {
		return nil, u.err()
	}
	r, err := t(x, args)
	if err != nil {
		return nil, &EvalError{Op: "is " + n.name, Msg: err.Error()}
	}
	return r != n.negate, nil
}

func (n *notNode) eval(e *evaluator, s *scope) (any, error) {
	v, err := e.value(n.x, s)
	if err != nil {
		return nil, err
	}
	return !exprvalue.Truthy(v), nil
}

func (n *andNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := e.value(n.l, s)
	if err != nil || !exprvalue.Truthy(l) {
		return l, err
	}
	return n.r.eval(e, s)
}

func (n *orNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := e.value(n.l, s)
	if err != nil || exprvalue.Truthy(l) {
		return l, err
	}
	return n.r.eval(e, s)
}

func (n *condNode) eval(e *evaluator, s *scope) (any, error) {
	c, err := e.value(n.cond, s)
	if err != nil {
		return nil, err
	}
	if exprvalue.Truthy(c) {
		return n.then.eval(e, s)
	}
	if n.els == nil {
		return &undefined{what: "the condition of an inline if without else is false"}, nil
	}
	return n.els.eval(e, s)
}

func (n *compareNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := e.value(n.first, s)
	if err != nil {
		return nil, err
	}
	for i, op := range n.ops {
		r, err := e.value(n.rest[i], s)
		if err != nil {
			return nil, err
		}
		ok, err := compare(op, l, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return false, nil
		}
		l = r
	}
	return true, nil
}

func compare(op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return exprvalue.Equal(l, r), nil
	case "!=":
		return !exprvalue.Equal(l, r), nil
	case "in", "not in":
		in, err := contains(r, l)
		if err != nil {
			return false, err
		}
		return in == (op == "in"), nil
	}
	c, ok := pyCompare(l, r)
	if !ok {
		return false, evalErr("operator "+op, "cannot compare a %s and a %s", kind(l), kind(r))
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

// pyCompare is Python 3 ordering: numbers, strings and lists; None orders
// with nothing.
func pyCompare(l, r any) (int, bool) {
	if l == nil || r == nil {
		return 0, false
	}
	if a, ok := l.([]any); ok {
		b, ok := r.([]any)
		if !ok {
			return 0, false
		}
		for i := 0; i < len(a) && i < len(b); i++ {
			if exprvalue.Equal(a[i], b[i]) {
				continue
			}
			return pyCompare(a[i], b[i])
		}
		return len(a) - len(b), true
	}
	if lb, ok := l.(bool); ok {
		l = b2i(lb)
	}
	if rb, ok := r.(bool); ok {
		r = b2i(rb)
	}
	return exprvalue.Compare(l, r)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, evalErr("operator in", "'in <string>' requires a string on the left, not a %s", kind(item))
		}
		return strings.Contains(c, s), nil
	case map[string]any:
		_, ok := c[exprvalue.Key(item)]
		return ok, nil
	case []any:
		for _, it := range c {
			if exprvalue.Equal(it, item) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, evalErr("operator in", "a %s is not a container", kind(container))
}

func (n *unaryNode) eval(e *evaluator, s *scope) (any, error) {
	v, err := e.value(n.x, s)
	if err != nil {
		return nil, err
	}
	if b, ok := v.(bool); ok {
		v = b2i(b)
	}
	num, ok := exprvalue.Number(v)
	if !ok {
		return nil, evalErr("operator "+n.op, "needs a number, not a %s", kind(v))
	}
	if n.op == "+" {
		return num.Value(), nil
	}
	if num.IsInt {
		if num.I == math.MinInt64 {
			return nil, evalErr("operator -", "integer overflow")
		}
		return -num.I, nil
	}
	return -num.F, nil
}

func (n *binNode) eval(e *evaluator, s *scope) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	l, err := e.value(n.l, s)
	if err != nil {
		return nil, err
	}
	r, err := e.value(n.r, s)
	if err != nil {
		return nil, err
	}
	return e.binary(n.op, l, r)
}
