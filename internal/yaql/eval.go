package yaql

import (
	"context"
	"fmt"
	"strconv"

	"github.com/onestack/onestack/internal/exprvalue"
)

// node is a compiled expression: a syntax tree whose function calls are
// resolved, evaluated by walking it.
type node interface {
	eval(e *evaluator, s *scope) (any, error)
}

// scope holds the variables one level of the expression sees: the
// positional values of a lambda or let ($ is $1), named ones from let and
// the host, and the enclosing scope.
type scope struct {
	parent *scope
	args   []any
	named  map[string]any
	one    [1]any // backing store for a one-argument lambda, saving an allocation
}

func (s *scope) lookup(name string, idx int) any {
	for ; s != nil; s = s.parent {
		if idx >= 0 {
			if idx < len(s.args) {
				return s.args[idx]
			}
		} else if v, ok := s.named[name]; ok {
			return v
		}
	}
	return nil
}

// evaluator carries one evaluation: its context, budget and the host's
// per-evaluation value.
type evaluator struct {
	ctx    context.Context
	env    *Env
	limits Limits
	steps  int
	data   any
	host   any
	own    bool // a value of the evaluator's own types (set, datetime, ...) was made
}

func (e *evaluator) step() error {
	e.steps++
	if e.steps > e.limits.MaxSteps {
		return evalErr("", "expression needs more than %d evaluation steps", e.limits.MaxSteps)
	}
	if e.steps&4095 == 0 && e.ctx != nil {
		if err := e.ctx.Err(); err != nil {
			return evalErr("", "evaluation stopped: %v", err)
		}
	}
	return nil
}

// checkLen refuses a collection that outgrows the limit.
func (e *evaluator) checkLen(op string, n int) error {
	if n > e.limits.MaxItems {
		return evalErr(op, "result has more than %d items", e.limits.MaxItems)
	}
	return nil
}

func (e *evaluator) checkStr(op string, n int) error {
	if n > e.limits.MaxStringBytes {
		return evalErr(op, "result is longer than %d bytes", e.limits.MaxStringBytes)
	}
	return nil
}

type constNode struct{ v any }

func (n *constNode) eval(*evaluator, *scope) (any, error) { return n.v, nil }

// keywordNode is a bare name, which YAQL reads as the string it spells.
type keywordNode struct {
	name string
	pos  int
}

func (n *keywordNode) eval(*evaluator, *scope) (any, error) { return n.name, nil }

// varNode is $ or $name. $ and $1 are the same variable.
type varNode struct {
	name string
	idx  int // 0 for $ and $1, n-1 for $n, -1 for a named variable
}

func newVar(name string) *varNode {
	if name == "" {
		return &varNode{idx: 0}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 1 && name[0] != '0' {
		return &varNode{name: name, idx: i - 1}
	}
	return &varNode{name: name, idx: -1}
}

func (n *varNode) eval(_ *evaluator, s *scope) (any, error) { return s.lookup(n.name, n.idx), nil }

type listNode struct{ items []node }

func (n *listNode) eval(e *evaluator, s *scope) (any, error) {
	out := make([]any, len(n.items))
	for i, it := range n.items {
		v, err := it.eval(e, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

type mapNode struct{ keys, vals []node }

func (n *mapNode) eval(e *evaluator, s *scope) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i := range n.keys {
		k, err := n.keys[i].eval(e, s)
		if err != nil {
			return nil, err
		}
		v, err := n.vals[i].eval(e, s)
		if err != nil {
			return nil, err
		}
		out[exprvalue.Key(k)] = v
	}
	return out, nil
}

type notNode struct{ x node }

func (n *notNode) eval(e *evaluator, s *scope) (any, error) {
	v, err := n.x.eval(e, s)
	if err != nil {
		return nil, err
	}
	return !truthy(v), nil
}

type andNode struct{ l, r node }

func (n *andNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := n.l.eval(e, s)
	if err != nil || !truthy(l) {
		return l, err
	}
	return n.r.eval(e, s)
}

type orNode struct{ l, r node }

func (n *orNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := n.l.eval(e, s)
	if err != nil || truthy(l) {
		return l, err
	}
	return n.r.eval(e, s)
}

// arrowNode is "context -> expression": the right side is evaluated with
// the variables the left side (let, with, unpack) defined.
type arrowNode struct{ l, r node }

func (n *arrowNode) eval(e *evaluator, s *scope) (any, error) {
	l, err := n.l.eval(e, s)
	if err != nil {
		return nil, err
	}
	sc, ok := l.(*scope)
	if !ok {
		return nil, evalErr("operator ->", "the left side must be let(...), with(...) or unpack(...), not a %s", kind(l))
	}
	return n.r.eval(e, sc)
}

type unaryNode struct {
	op  string
	x   node
	pos int
}

func (n *unaryNode) eval(e *evaluator, s *scope) (any, error) {
	v, err := n.x.eval(e, s)
	if err != nil {
		return nil, err
	}
	return unaryOp(n.op, v)
}

// attrNode is receiver.name (or receiver?.name).
type attrNode struct {
	recv node
	name string
	safe bool
	pos  int
}

func (n *attrNode) eval(e *evaluator, s *scope) (any, error) {
	r, err := n.recv.eval(e, s)
	if err != nil {
		return nil, err
	}
	if r == nil && n.safe {
		return nil, nil
	}
	return e.attr(r, n.name, 0)
}

func (e *evaluator) attr(r any, name string, depth int) (any, error) {
	switch x := r.(type) {
	case map[string]any:
		v, ok := x[name]
		if !ok {
			return nil, evalErr("operator .", "key %q not found (use .get(%s) for an optional key)", name, name)
		}
		return v, nil
	case nil:
		return nil, evalErr("operator .", "cannot read %q of null (use ?. to allow null)", name)
	}
	if v, ok, err := timeAttr(r, name); ok || err != nil {
		return v, err
	}
	if depth < 64 {
		if items, ok := e.iterable(r); ok {
			// [{a => 1}, {a => 2}].a is [1, 2].
			out := make([]any, 0, len(items))
			for _, it := range items {
				if err := e.step(); err != nil {
					return nil, err
				}
				v, err := e.attr(it, name, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		}
	}
	return nil, evalErr("operator .", "a %s has no attribute %q", kind(r), name)
}

// indexNode is target[key] or target[key, default].
type indexNode struct {
	target node
	args   []node
	pos    int
}

func (n *indexNode) eval(e *evaluator, s *scope) (any, error) {
	t, err := n.target.eval(e, s)
	if err != nil {
		return nil, err
	}
	k, err := n.args[0].eval(e, s)
	if err != nil {
		return nil, err
	}
	if len(n.args) == 2 {
		m, ok := t.(map[string]any)
		if !ok {
			return nil, evalErr("indexer", "a default value is only allowed when indexing a dict, not a %s", kind(t))
		}
		if v, ok := m[exprvalue.Key(k)]; ok {
			return v, nil
		}
		return n.args[1].eval(e, s)
	}
	return e.index(t, k)
}

func (e *evaluator) index(t, k any) (any, error) {
	if m, ok := t.(map[string]any); ok {
		key := exprvalue.Key(k)
		v, ok := m[key]
		if !ok {
			return nil, evalErr("indexer", "key %q not found", truncate(key))
		}
		return v, nil
	}
	items, ok := e.sequence(t)
	if !ok {
		return nil, evalErr("indexer", "cannot index a %s", kind(t))
	}
	i, ok := exprvalue.Int(k)
	if !ok {
		return nil, evalErr("indexer", "a list index must be an integer, not a %s", kind(k))
	}
	if i < 0 {
		i += int64(len(items))
	}
	if i < 0 || i >= int64(len(items)) {
		return nil, evalErr("indexer", "index %d out of range for a list of %d items", i, len(items))
	}
	return items[i], nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// argNode is one argument at a call site: a value, a skipped position
// (val nil) or a name => value pair (key set).
type argNode struct {
	key node
	val node
	pos int
}

// rule is a name => value pair passed to a function that takes pairs
// (switch, dict, let, set) rather than named parameters.
type rule struct{ key, val node }

// callNode is a function call f(...) or a method call receiver.f(...).
type callNode struct {
	name string
	pos  int
	recv node
	safe bool
	args []argNode

	// Filled in by resolve.
	b     *builtin
	h     *exprvalue.Func
	slots []node // positional parameters; slot 0 is the receiver of a method call
	rules []rule
	kwN   []string // host functions: keyword names
	kwV   []node   // host functions: keyword values
}

func (n *callNode) eval(e *evaluator, s *scope) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	if n.h != nil {
		return n.evalHost(e, s)
	}
	b := n.b
	c := call{e: e, s: s, n: n, method: n.recv != nil}
	// Every named parameter has a slot, given or not, so that builtins
	// may read any of theirs.
	size := max(len(n.slots), len(b.params))
	var buf [4]any
	if size <= len(buf) {
		c.args = buf[:size]
	} else {
		c.args = make([]any, size)
	}
	for i, sl := range n.slots {
		if sl == nil || (i < 64 && b.lazy&(1<<uint(i)) != 0) {
			continue
		}
		v, err := sl.eval(e, s)
		if err != nil {
			return nil, err
		}
		if i == 0 && n.recv != nil && v == nil && n.safe {
			return nil, nil
		}
		c.args[i] = v
	}
	v, err := b.fn(&c)
	if err != nil {
		if ee, ok := err.(*EvalError); ok && ee.Op == "" {
			ee.Op = b.name
		}
		return nil, err
	}
	return v, nil
}

func (n *callNode) evalHost(e *evaluator, s *scope) (any, error) {
	pos := make([]any, 0, len(n.slots))
	for i, sl := range n.slots {
		var v any
		if sl != nil {
			var err error
			if v, err = sl.eval(e, s); err != nil {
				return nil, err
			}
		}
		if i == 0 && n.recv != nil && v == nil && n.safe {
			return nil, nil
		}
		pos = append(pos, v)
	}
	kw := make([]any, len(n.kwV))
	for i, kn := range n.kwV {
		v, err := kn.eval(e, s)
		if err != nil {
			return nil, err
		}
		kw[i] = v
	}
	args, err := n.h.Bind(n.name, pos, n.kwN, kw)
	if err != nil {
		return nil, evalErr(n.name, "%v", err)
	}
	v, err := n.h.Call(exprvalue.Call{Ctx: e.ctx, Data: e.data, Host: e.host, Name: n.name}, args)
	if err != nil {
		if _, ok := err.(*EvalError); ok {
			return nil, err
		}
		return nil, &EvalError{Op: n.name, Msg: err.Error()}
	}
	return v, nil
}

// call is what a builtin sees of its call site.
type call struct {
	e      *evaluator
	s      *scope
	n      *callNode
	args   []any
	method bool
}

func (c *call) has(i int) bool { return i < len(c.n.slots) && c.n.slots[i] != nil }

func (c *call) nargs() int { return len(c.n.slots) }

// arg returns the value of parameter i, or def when it was not given.
func (c *call) arg(i int, def any) any {
	if !c.has(i) {
		return def
	}
	return c.args[i]
}

// apply evaluates lambda parameter i with the given positional values ($,
// $1, $2 ...).
func (c *call) apply(i int, vals ...any) (any, error) {
	if !c.has(i) {
		return nil, nil // a skipped lambda is null
	}
	if err := c.e.step(); err != nil {
		return nil, err
	}
	sc := &scope{parent: c.s}
	if len(vals) == 1 {
		sc.one[0] = vals[0]
		sc.args = sc.one[:]
	} else {
		sc.args = vals
	}
	return c.n.slots[i].eval(c.e, sc)
}

// apply1 is apply for the common one-value lambda, without the variadic
// slice.
func (c *call) apply1(i int, v any) (any, error) {
	if !c.has(i) {
		return nil, nil // a skipped lambda is null
	}
	if err := c.e.step(); err != nil {
		return nil, err
	}
	sc := &scope{parent: c.s}
	sc.one[0] = v
	sc.args = sc.one[:]
	return c.n.slots[i].eval(c.e, sc)
}

// lazy evaluates lambda parameter i in the caller's scope (coalesce, switch).
func (c *call) lazy(i int) (any, error) {
	if !c.has(i) {
		return nil, nil
	}
	return c.n.slots[i].eval(c.e, c.s)
}

func (c *call) fail(format string, args ...any) error {
	return &EvalError{Op: c.n.b.name, Msg: fmt.Sprintf(format, args...)}
}

func kind(v any) string { return exprvalue.Kind(v) }

func truthy(v any) bool { return exprvalue.Truthy(v) }
