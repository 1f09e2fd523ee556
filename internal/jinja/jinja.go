package jinja

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/exprvalue"
)

// Limits bound one render or evaluation.
type Limits struct {
	// MaxSteps bounds operator applications, calls, filters and loop
	// iterations.
	MaxSteps int
	// MaxItems bounds the length of lists that range() and the operators
	// build.
	MaxItems int
	// MaxStringBytes bounds any string built, the rendered output included.
	MaxStringBytes int
}

// DefaultLimits match internal/yaql's.
func DefaultLimits() Limits {
	return Limits{MaxSteps: 10_000_000, MaxItems: 1_000_000, MaxStringBytes: 16 << 20}
}

// Options configure an Env.
type Options struct {
	// Funcs are the host's functions, callable as globals (task('a')) and
	// as filters (_ | task('a')), as Mistral registers them.
	Funcs  exprvalue.Funcs
	Limits Limits
}

// Env is a Jinja environment with Mistral's settings. It is safe for
// concurrent use.
type Env struct {
	funcs  exprvalue.Funcs
	limits Limits
}

// NewEnv returns an environment with the built-in filters, tests and
// globals and the functions in o.
func NewEnv(o Options) *Env {
	d := DefaultLimits()
	if o.Limits.MaxSteps <= 0 {
		o.Limits.MaxSteps = d.MaxSteps
	}
	if o.Limits.MaxItems <= 0 {
		o.Limits.MaxItems = d.MaxItems
	}
	if o.Limits.MaxStringBytes <= 0 {
		o.Limits.MaxStringBytes = d.MaxStringBytes
	}
	return &Env{funcs: o.Funcs, limits: o.Limits}
}

// Input is what a template or expression is evaluated with.
type Input struct {
	// Data is the data context, _ in templates.
	Data any
	// Vars are further top-level names (Mistral's __env, __execution,
	// __task_execution).
	Vars map[string]any
	// Host is passed to host functions in exprvalue.Call.Host.
	Host any
}

func (env *Env) newEval(ctx context.Context, in Input) (*evaluator, *scope) {
	vars := make(map[string]any, len(in.Vars)+1)
	for k, v := range in.Vars {
		vars[k] = v
	}
	vars["_"] = in.Data
	return &evaluator{ctx: ctx, env: env, limits: env.limits, data: in.Data, host: in.Host}, &scope{vars: vars}
}

// Template is a compiled template: text with {{ }} and {% %} tags.
type Template struct {
	env  *Env
	body []stmt
}

// Compile parses a template. Errors are *SyntaxError.
func (env *Env) Compile(src string) (*Template, error) {
	toks, err := lexTemplate(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	body, _, perr := p.template()
	if perr != nil {
		return nil, perr
	}
	return &Template{env: env, body: body}, nil
}

// Render renders the template to a string: each {{ x }} as Python's
// str(x) prints it. Errors are *EvalError.
func (t *Template) Render(ctx context.Context, in Input) (string, error) {
	e, s := t.env.newEval(ctx, in)
	if err := e.exec(t.body, s); err != nil {
		return "", wrap(err)
	}
	return e.out.String(), nil
}

// Expr is a compiled Jinja expression (the inside of a {{ }}), which
// evaluates to a typed value rather than text.
type Expr struct {
	env  *Env
	root node
}

// CompileExpr parses one expression. Errors are *SyntaxError.
func (env *Env) CompileExpr(src string) (*Expr, error) {
	toks, err := lexTemplate("{{ " + src + " }}")
	if err != nil {
		return nil, shift(err)
	}
	p := &parser{src: "{{ " + src + " }}", toks: toks}
	if p.peek().kind != tVarBegin {
		return nil, &SyntaxError{Line: 1, Column: 1, Msg: "not a single expression"}
	}
	p.advance()
	x, perr := p.expr()
	if perr != nil {
		return nil, shift(perr)
	}
	if p.peek().kind != tVarEnd || p.peekAt(1).kind != tEOF {
		return nil, shift(p.errTok(p.peek(), "unexpected token after a complete expression"))
	}
	return &Expr{env: env, root: x}, nil
}

// shift moves an error found in "{{ " + src + " }}" back onto src.
func shift(err *SyntaxError) *SyntaxError {
	err.Pos = max(err.Pos-3, 0)
	if err.Line == 1 {
		err.Column = max(err.Column-3, 1)
	}
	return err
}

// Eval evaluates the expression to a JSON-shaped value (tuples become
// lists). An undefined result is an error, as with Mistral's
// StrictUndefined.
func (x *Expr) Eval(ctx context.Context, in Input) (any, error) {
	e, s := x.env.newEval(ctx, in)
	v, err := e.value(x.root, s)
	if err != nil {
		return nil, wrap(err)
	}
	if _, ok := v.(*callable); ok {
		return nil, &EvalError{Msg: "the result is a function; call it"}
	}
	if err := exprvalue.CheckSize(v, e.limits.MaxItems, 4*e.limits.MaxStringBytes); err != nil {
		return nil, &EvalError{Msg: err.Error()}
	}
	return v, nil
}

func wrap(err error) error {
	var ee *EvalError
	if errors.As(err, &ee) {
		return err
	}
	return &EvalError{Msg: err.Error()}
}

// exec runs statements, writing to e.out.
func (e *evaluator) exec(body []stmt, s *scope) error {
	for _, st := range body {
		if err := e.step(); err != nil {
			return err
		}
		switch x := st.(type) {
		case *textStmt:
			e.out.WriteString(x.s)
		case *outStmt:
			v, err := e.value(x.x, s)
			if err != nil {
				return err
			}
			if _, ok := v.(*callable); ok {
				return &EvalError{Msg: "cannot print a function; call it"}
			}
			str, err := exprvalue.StrMax(v, e.limits.MaxStringBytes-e.out.Len())
			if err != nil {
				return evalErr("", "output is longer than %d bytes", e.limits.MaxStringBytes)
			}
			e.out.WriteString(str)
		case *ifStmt:
			done := false
			for i, c := range x.conds {
				v, err := e.value(c, s)
				if err != nil {
					return err
				}
				if exprvalue.Truthy(v) {
					if err := e.exec(x.bodies[i], s); err != nil {
						return err
					}
					done = true
					break
				}
			}
			if !done && x.els != nil {
				if err := e.exec(x.els, s); err != nil {
					return err
				}
			}
		case *forStmt:
			if err := e.loop(x, s); err != nil {
				return err
			}
		case *setStmt:
			v, err := e.value(x.x, s)
			if err != nil {
				return err
			}
			if err := assign(s.vars, x.targets, v); err != nil {
				return err
			}
		}
		if e.out.Len() > e.limits.MaxStringBytes {
			return evalErr("", "output is longer than %d bytes", e.limits.MaxStringBytes)
		}
	}
	return nil
}

func assign(vars map[string]any, targets []string, v any) error {
	if len(targets) == 1 {
		vars[targets[0]] = v
		return nil
	}
	items, ok := v.([]any)
	if !ok || len(items) != len(targets) {
		return evalErr("set", "cannot unpack a %s into %d names", kind(v), len(targets))
	}
	for i, t := range targets {
		vars[t] = items[i]
	}
	return nil
}

func (e *evaluator) loop(f *forStmt, s *scope) error {
	v, err := e.value(f.iter, s)
	if err != nil {
		return err
	}
	items, err := iterate("for", v)
	if err != nil {
		return err
	}
	if f.cond != nil {
		var kept []any
		for _, it := range items {
			inner := &scope{vars: map[string]any{}, parent: s}
			if err := assign(inner.vars, f.targets, it); err != nil {
				return err
			}
			c, err := e.value(f.cond, inner)
			if err != nil {
				return err
			}
			if exprvalue.Truthy(c) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		if f.els != nil {
			return e.exec(f.els, s)
		}
		return nil
	}
	// One scope serves every iteration: nothing outlives an iteration.
	info := &loopInfo{items: items}
	inner := &scope{vars: map[string]any{"loop": info}, parent: s}
	for i, it := range items {
		if err := e.step(); err != nil {
			return err
		}
		info.i = i
		if err := assign(inner.vars, f.targets, it); err != nil {
			return err
		}
		if err := e.exec(f.body, inner); err != nil {
			return err
		}
	}
	return nil
}

// loopInfo is the loop variable of a for block.
type loopInfo struct {
	items []any
	i     int
}

func (*loopInfo) Kind() string { return "loop" }

func (l *loopInfo) attr(name string) (any, bool) {
	n := int64(len(l.items))
	i := int64(l.i)
	switch name {
	case "index":
		return i + 1, true
	case "index0":
		return i, true
	case "revindex":
		return n - i, true
	case "revindex0":
		return n - i - 1, true
	case "first":
		return i == 0, true
	case "last":
		return i == n-1, true
	case "length":
		return n, true
	case "previtem":
		if i > 0 {
			return l.items[i-1], true
		}
	case "nextitem":
		if i < n-1 {
			return l.items[i+1], true
		}
	}
	return nil, false
}
