package yaql

import (
	"context"
	"errors"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// Limits bound one evaluation, so that no expression can run or grow
// without end: Mistral's engine evaluates expressions written by any user.
type Limits struct {
	// MaxSteps bounds the function calls, operator applications and lambda
	// calls of one evaluation.
	MaxSteps int
	// MaxItems bounds the length of any list, set or dict an expression
	// builds (and how much of an endless sequence() it may take).
	MaxItems int
	// MaxStringBytes bounds any string an expression builds.
	MaxStringBytes int
}

// DefaultLimits are generous for workflow data and small enough that a
// runaway expression fails in well under a second.
func DefaultLimits() Limits {
	return Limits{MaxSteps: 10_000_000, MaxItems: 1_000_000, MaxStringBytes: 16 << 20}
}

// Options configure an Env.
type Options struct {
	// Funcs are the host's functions (Mistral's task(), env(), ...). A host
	// function hides a standard one of the same name.
	Funcs exprvalue.Funcs
	// Now is the clock of now() and utcnow(); time.Now when nil.
	Now func() time.Time
	// Limits bound each evaluation; zero fields take DefaultLimits.
	Limits Limits
}

// Env is a YAQL environment: the standard library, the host's functions, a
// clock and limits. It is safe for concurrent use.
type Env struct {
	funcs  exprvalue.Funcs
	now    func() time.Time
	limits Limits
}

// NewEnv returns an environment with YAQL's standard library and the
// functions in o.
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
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Env{funcs: o.Funcs, now: o.Now, limits: o.Limits}
}

// Expr is a compiled YAQL expression. Compile once, evaluate many times,
// from any number of goroutines.
type Expr struct {
	src  string
	root node
	env  *Env
}

// String returns the expression's source.
func (x *Expr) String() string { return x.src }

// Check parses src without resolving its functions: it reports only
// syntax errors, as a *SyntaxError.
func Check(src string) error {
	if _, err := parse(src); err != nil {
		return err
	}
	return nil
}

// Compile parses src and resolves its function calls against the standard
// library and the host's functions, checking their arguments. Errors are
// *SyntaxError, naming the position and the token.
func (env *Env) Compile(src string) (*Expr, error) {
	root, err := parse(src)
	if err != nil {
		return nil, err
	}
	r := resolver{env: env, src: src}
	root = r.node(root)
	if r.err != nil {
		return nil, r.err
	}
	return &Expr{src: src, root: root, env: env}, nil
}

// Input is what an evaluation runs on.
type Input struct {
	// Data is the data context, $ at the top of the expression.
	Data any
	// Vars are further variables ($name), such as Mistral's __env,
	// __execution and __task_execution.
	Vars map[string]any
	// Host is passed to host functions in exprvalue.Call.Host.
	Host any
}

// Eval evaluates the expression. The result is a JSON-shaped tree: nil,
// bool, int64, float64, string, []any, map[string]any (values taken from
// the input, such as json.Number, are passed through). YAQL sets become
// lists, datetimes and timespans become Python-style strings. The result
// may share structure with in.Data: treat both as read-only. Errors are
// *EvalError.
func (x *Expr) Eval(ctx context.Context, in Input) (any, error) {
	e := &evaluator{ctx: ctx, env: x.env, limits: x.env.limits, data: in.Data, host: in.Host}
	root := &scope{args: []any{in.Data}, named: in.Vars}
	v, err := x.root.eval(e, root)
	if err != nil {
		var ee *EvalError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, &EvalError{Msg: err.Error()}
	}
	if e.own {
		if v, err = e.export(v, 0); err != nil {
			return nil, err
		}
	}
	if err := exprvalue.CheckSize(v, e.limits.MaxItems, 4*e.limits.MaxStringBytes); err != nil {
		return nil, &EvalError{Msg: err.Error()}
	}
	return v, nil
}

// export turns the evaluator's own value types into JSON-shaped values,
// copying only the lists and dicts that hold one.
func (e *evaluator) export(v any, depth int) (any, error) {
	out, _, err := e.exportRec(v, depth)
	return out, err
}

func (e *evaluator) exportRec(v any, depth int) (any, bool, error) {
	if depth > exprvalue.MaxDepth {
		return nil, false, evalErr("", "result is nested more than %d levels deep", exprvalue.MaxDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return v, false, nil
	case []any:
		var out []any
		for i, it := range x {
			c, changed, err := e.exportRec(it, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = c
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case map[string]any:
		var out map[string]any
		for k, it := range x {
			c, changed, err := e.exportRec(it, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, v2 := range x {
					out[k2] = v2
				}
			}
			if out != nil {
				out[k] = c
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case *setVal, *ordered, *lazySeq:
		items, err := e.items("result", v)
		if err != nil {
			return nil, false, err
		}
		c, _, err := e.exportRec(items, depth)
		return c, true, err
	case time.Time:
		return exprvalue.PyDatetime(x), true, nil
	case time.Duration:
		return exprvalue.PyTimedelta(x), true, nil
	case *regexVal:
		return nil, false, evalErr("", "the result is a regular expression, which is not a value; call .matches(), .search() or .replace() on it")
	case *scope:
		return nil, false, evalErr("", "the result is a context from let/with/unpack; follow it with -> and an expression")
	}
	return v, false, nil
}
