package expr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/jinja"
	"github.com/onestack/onestack/internal/yaql"
)

// Lang is the expression language of a string.
type Lang int

const (
	// Plain is a string without expressions.
	Plain Lang = iota
	// YAQL is a string with <% %> expressions.
	YAQL
	// Jinja is a string with {{ }} or {% %} tags.
	Jinja
)

func (l Lang) String() string {
	switch l {
	case YAQL:
		return "YAQL"
	case Jinja:
		return "Jinja"
	}
	return "plain"
}

// The patterns Mistral uses to find expressions (mistral/expressions):
// no flags, so an expression does not span lines.
var (
	yaqlRe       = regexp.MustCompile(`<%.*?%>`)
	jinjaVarRe   = regexp.MustCompile(`{{(.*?)}}`)
	jinjaBlockRe = regexp.MustCompile(`{%(.*?)%}`)
)

// Detect tells which language s is written in, as Mistral decides it.
func Detect(s string) Lang {
	if strings.Contains(s, "{") && (jinjaVarRe.MatchString(s) || jinjaBlockRe.MatchString(s)) {
		return Jinja
	}
	if strings.Contains(s, "<%") && yaqlRe.MatchString(s) {
		return YAQL
	}
	return Plain
}

// Error is an expression that does not parse or cannot be evaluated.
type Error struct {
	Lang Lang
	// Expr is the expression: the text inside <% %>, or the Jinja string.
	Expr string
	// Syntax is true for an expression that does not parse.
	Syntax bool
	// Err is the language's error: *yaql.SyntaxError, *yaql.EvalError,
	// *jinja.SyntaxError or *jinja.EvalError.
	Err error
}

func (e *Error) Error() string {
	x := e.Expr
	if len(x) > 200 {
		x = x[:200] + "..."
	}
	if e.Syntax {
		return fmt.Sprintf("invalid %s expression %q: %v", e.Lang, x, e.Err)
	}
	return fmt.Sprintf("cannot evaluate %s expression %q: %v", e.Lang, x, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Limits bound each evaluation (see yaql.Limits); zero fields take the
// defaults.
type Limits = yaql.Limits

// Options configure an Evaluator.
type Options struct {
	// Funcs are the host's functions, in both languages.
	Funcs exprvalue.Funcs
	// Now is the clock of YAQL's now(); time.Now when nil.
	Now func() time.Time
	// Limits bound each evaluation.
	Limits Limits
	// CacheSize bounds the compiled strings kept; 4096 when zero.
	CacheSize int
}

// Evaluator evaluates workflow expressions. It is safe for concurrent use.
type Evaluator struct {
	yaql  *yaql.Env
	jinja *jinja.Env
	limit Limits

	mu        sync.RWMutex
	cache     map[string]*Compiled
	cacheSize int
}

// New returns an Evaluator with YAQL's and Jinja's standard functions
// and o.Funcs.
func New(o Options) *Evaluator {
	if o.CacheSize <= 0 {
		o.CacheSize = 4096
	}
	y := yaql.NewEnv(yaql.Options{Funcs: o.Funcs, Now: o.Now, Limits: o.Limits})
	d := yaql.DefaultLimits()
	l := o.Limits
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxItems <= 0 {
		l.MaxItems = d.MaxItems
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = d.MaxStringBytes
	}
	j := jinja.NewEnv(jinja.Options{Funcs: o.Funcs, Limits: jinja.Limits(l)})
	return &Evaluator{yaql: y, jinja: j, limit: l, cache: map[string]*Compiled{}, cacheSize: o.CacheSize}
}

// Compiled is a string value compiled for evaluation.
type Compiled struct {
	ev   *Evaluator
	src  string
	lang Lang
	// YAQL: the expressions and the text between them; whole when the
	// string is a single expression.
	parts []part
	whole bool
	// Jinja: a whole-string expression or a template.
	jexpr *jinja.Expr
	jtmpl *jinja.Template
}

type part struct {
	text string     // literal text before the expression
	expr *yaql.Expr // nil for the trailing text
	src  string     // the <% %> match, for errors
}

// Lang is the language of the compiled string.
func (c *Compiled) Lang() Lang { return c.lang }

// Validate parses s (every <% %> of a YAQL string, or the whole Jinja
// string) without evaluating it. It reports an unknown YAQL function and
// the mixing of the two languages in one string, as Mistral refuses it.
// The error is an *Error.
func (ev *Evaluator) Validate(s string) error {
	if strings.Contains(s, "{") && strings.Contains(s, "<%") && Detect(s) == Jinja && yaqlRe.MatchString(s) {
		return &Error{Lang: Jinja, Expr: s, Syntax: true, Err: errors.New("the string mixes Jinja and YAQL expressions; use one language per string")}
	}
	_, err := ev.compile(s)
	return err
}

// Compile compiles s; a plain string compiles to a value that evaluates
// to itself. The error is an *Error.
func (ev *Evaluator) Compile(s string) (*Compiled, error) {
	ev.mu.RLock()
	c, ok := ev.cache[s]
	ev.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := ev.compile(s)
	if err != nil {
		return nil, err
	}
	if c.lang != Plain {
		ev.mu.Lock()
		if len(ev.cache) >= ev.cacheSize {
			// Workflows reuse few strings; a full cache is dropped whole
			// rather than tracking use.
			ev.cache = map[string]*Compiled{}
		}
		ev.cache[s] = c
		ev.mu.Unlock()
	}
	return c, nil
}

func (ev *Evaluator) compile(s string) (*Compiled, error) {
	c := &Compiled{ev: ev, src: s, lang: Detect(s)}
	switch c.lang {
	case Jinja:
		if m := jinjaVarRe.FindStringSubmatchIndex(s); m != nil && m[0] == 0 && m[1] == len(s) {
			x, err := ev.jinja.CompileExpr(s[m[2]:m[3]])
			if err != nil {
				return nil, &Error{Lang: Jinja, Expr: s, Syntax: true, Err: err}
			}
			c.jexpr = x
			return c, nil
		}
		t, err := ev.jinja.Compile(s)
		if err != nil {
			return nil, &Error{Lang: Jinja, Expr: s, Syntax: true, Err: err}
		}
		c.jtmpl = t
	case YAQL:
		last := 0
		for _, m := range yaqlRe.FindAllStringIndex(s, -1) {
			src := s[m[0]:m[1]]
			body := strings.TrimSpace(strings.Trim(src, "<%>"))
			x, err := ev.yaql.Compile(body)
			if err != nil {
				return nil, &Error{Lang: YAQL, Expr: body, Syntax: true, Err: err}
			}
			c.parts = append(c.parts, part{text: s[last:m[0]], expr: x, src: src})
			last = m[1]
		}
		c.parts = append(c.parts, part{text: s[last:]})
		c.whole = len(c.parts) == 2 && c.parts[0].text == "" && c.parts[1].text == ""
	}
	return c, nil
}

// Eval evaluates the compiled string with data as the data context. host
// is passed to host functions. The error is an *Error.
func (c *Compiled) Eval(ctx context.Context, data any, host any) (any, error) {
	switch c.lang {
	case YAQL:
		in := yaql.Input{Data: data, Vars: mistralVars(data), Host: host}
		if c.whole {
			v, err := c.parts[0].expr.Eval(ctx, in)
			if err != nil {
				return nil, &Error{Lang: YAQL, Expr: c.parts[0].expr.String(), Err: err}
			}
			return v, nil
		}
		// Mistral replaces each expression by str() of its value.
		var b strings.Builder
		vals := map[string]string{}
		for _, p := range c.parts {
			b.WriteString(p.text)
			if p.expr == nil {
				continue
			}
			s, ok := vals[p.src]
			if !ok {
				v, err := p.expr.Eval(ctx, in)
				if err != nil {
					return nil, &Error{Lang: YAQL, Expr: p.expr.String(), Err: err}
				}
				if s, err = exprvalue.StrMax(v, c.ev.limit.MaxStringBytes-b.Len()); err != nil {
					return nil, &Error{Lang: YAQL, Expr: p.expr.String(), Err: fmt.Errorf("the result is longer than %d bytes", c.ev.limit.MaxStringBytes)}
				}
				vals[p.src] = s
			}
			b.WriteString(s)
			if b.Len() > c.ev.limit.MaxStringBytes {
				return nil, &Error{Lang: YAQL, Expr: p.expr.String(), Err: fmt.Errorf("the result is longer than %d bytes", c.ev.limit.MaxStringBytes)}
			}
		}
		return b.String(), nil
	case Jinja:
		in := jinja.Input{Data: data, Vars: mistralVars(data), Host: host}
		if c.jexpr != nil {
			v, err := c.jexpr.Eval(ctx, in)
			if err != nil {
				return nil, &Error{Lang: Jinja, Expr: c.src, Err: err}
			}
			return v, nil
		}
		s, err := c.jtmpl.Render(ctx, in)
		if err != nil {
			return nil, &Error{Lang: Jinja, Expr: c.src, Err: err}
		}
		return s, nil
	}
	return c.src, nil
}

// mistralVars are the variables Mistral adds from the data context.
func mistralVars(data any) map[string]any {
	d, ok := data.(map[string]any)
	if !ok {
		return nil
	}
	return map[string]any{
		"__env":            d["__env"],
		"__execution":      d["__execution"],
		"__task_execution": d["__task_execution"],
	}
}

// Eval evaluates the string s against data (compiling it through the
// cache). A plain string comes back unchanged.
func (ev *Evaluator) Eval(ctx context.Context, s string, data any, host any) (any, error) {
	if !strings.Contains(s, "<%") && !strings.Contains(s, "{{") && !strings.Contains(s, "{%") {
		return s, nil
	}
	c, err := ev.Compile(s)
	if err != nil {
		return nil, err
	}
	return c.Eval(ctx, data, host)
}

// EvalRecursive evaluates every string in v, descending into maps
// (values, not keys) and lists, as Mistral's evaluate_recursively. The
// result is a new tree; v is not changed.
func (ev *Evaluator) EvalRecursive(ctx context.Context, v any, data any, host any) (any, error) {
	return ev.evalRec(ctx, v, data, host, 0)
}

func (ev *Evaluator) evalRec(ctx context.Context, v any, data any, host any, depth int) (any, error) {
	if depth > exprvalue.MaxDepth {
		return nil, fmt.Errorf("value is nested more than %d levels deep", exprvalue.MaxDepth)
	}
	switch x := v.(type) {
	case string:
		return ev.Eval(ctx, x, data, host)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			r, err := ev.evalRec(ctx, it, data, host, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			r, err := ev.evalRec(ctx, it, data, host, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// ValidateRecursive validates every string in v, as Validate.
func (ev *Evaluator) ValidateRecursive(v any) error {
	return ev.validateRec(v, 0)
}

func (ev *Evaluator) validateRec(v any, depth int) error {
	if depth > exprvalue.MaxDepth {
		return fmt.Errorf("value is nested more than %d levels deep", exprvalue.MaxDepth)
	}
	switch x := v.(type) {
	case string:
		return ev.Validate(x)
	case map[string]any:
		for _, k := range exprvalue.SortedKeys(x) {
			if err := ev.validateRec(x[k], depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, it := range x {
			if err := ev.validateRec(it, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
