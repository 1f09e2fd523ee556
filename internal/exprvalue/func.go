package exprvalue

import (
	"context"
	"fmt"
)

// Func is a function that a host adds to the expression languages, such as
// Mistral's task(), env() or json_parse(). The same Func serves YAQL
// (task(name) or name.task()), Jinja globals (task('name')) and Jinja
// filters (_ | task('name')).
type Func struct {
	// Params names the parameters in order, so that callers may pass them
	// by keyword: tasks(state => ERROR) in YAQL, tasks(state='ERROR') in
	// Jinja. Arguments left out are nil.
	Params []string
	// Required is how many leading parameters must be given.
	Required int
	// Variadic accepts more positional arguments than Params names; they
	// follow the named ones in args.
	Variadic bool
	// Call runs the function. args has at least len(Params) entries.
	Call func(c Call, args []any) (any, error)
}

// Call is what a Func learns about the expression that calls it.
type Call struct {
	// Ctx is the context the host passed to the evaluation.
	Ctx context.Context
	// Data is the expression's data context: $ at the top of a YAQL
	// expression, _ in Jinja. When a Jinja filter calls the function it is
	// the value before the bar, as in Mistral (_ | env).
	Data any
	// Host is the value the host attached to this evaluation (the task
	// being run, say), passed through untouched.
	Host any
	// Name is the name the function was called by.
	Name string
}

// Funcs is a set of host functions by name.
type Funcs map[string]Func

// Bind places positional arguments and keyword arguments (names[i] =
// values[i]) into the parameter slots of f, checking that every required
// parameter is given, that no keyword is unknown or given twice, and that
// there are not too many arguments.
func (f Func) Bind(name string, pos []any, names []string, values []any) ([]any, error) {
	n := len(f.Params)
	if len(pos) > n {
		if !f.Variadic {
			return nil, fmt.Errorf("%s() takes at most %d arguments, got %d", name, n, len(pos))
		}
		n = len(pos)
	}
	args := make([]any, n)
	set := make([]bool, n)
	copy(args, pos)
	for i := range pos {
		set[i] = true
	}
	for i, kw := range names {
		idx := -1
		for j, p := range f.Params {
			if p == kw {
				idx = j
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("%s() has no parameter %q", name, kw)
		}
		if set[idx] {
			return nil, fmt.Errorf("%s() got parameter %q twice", name, kw)
		}
		args[idx] = values[i]
		set[idx] = true
	}
	for i := 0; i < f.Required && i < len(set); i++ {
		if !set[i] {
			return nil, fmt.Errorf("%s() is missing its parameter %q", name, f.Params[i])
		}
	}
	return args, nil
}
