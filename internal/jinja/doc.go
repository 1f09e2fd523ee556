// Package jinja evaluates the subset of Jinja2 that Mistral workflows use
// ({{ _.vm_id }}, {{ task('create_vm').result.id }}, filters, {% if %} and
// {% for %}), with Mistral's settings: StrictUndefined, trim_blocks and
// lstrip_blocks. It is the expression layer under the workflow engine
// and imports only internal/exprvalue, whose value model it shares with
// internal/yaql.
//
// No maintained Go Jinja engine fits: github.com/ardanlabs/jinja (the one
// on the module proxy list) renders templates to strings only, with no way
// to evaluate {{ expr }} to a typed value (Mistral returns the list or
// dict itself when the whole string is one expression), to register
// filters, or to make undefined names an error.
//
// # Use
//
// Env.Compile compiles a template (text with tags) that Template.Render
// renders to a string; Env.CompileExpr compiles one expression (the inside
// of {{ }}) that Expr.Eval evaluates to a JSON-shaped value. Both compile
// once and run many times, concurrently. The data context is the name _;
// Input.Vars adds other names (Mistral's __env, __execution,
// __task_execution); the host's functions are globals (task('x')) and
// filters (_ | env), a filter passing the filtered value as the
// function's Data, as in Mistral.
//
// # Supported subset
//
// Tags: {{ expr }}, {% if %} / {% elif %} / {% else %} / {% endif %},
// {% for a[, b] in expr [if cond] %} / {% else %} / {% endfor %} with
// loop.index, index0, revindex, revindex0, first, last, length, previtem,
// nextitem; {% set a[, b] = expr %} (scoped to the loop body inside a
// for); {% raw %}; {# comments #}; whitespace control with - ({%- -%},
// {{- -}}).
//
// Expressions, loosest first: a if c else b; or; and; not; comparisons
// == != < > <= >= in, not in (chained as in Python); + -; ~ (string
// concatenation); * / // %; **; unary - +; then postfix .name, [key],
// [a:b:c], calls f(a, name=b), filters | f(args) and tests is [not] t(arg).
// Literals: strings (adjacent ones join), integers, floats, true/false/none
// (any case as Jinja allows), lists, tuples (as lists) and dicts.
//
// Globals: range, dict. Methods: dict items, keys, values, get; string
// upper, lower, title, capitalize, strip, lstrip, rstrip, split, rsplit,
// replace, startswith, endswith, join, find, count, format ({} {0} {name},
// without format specs); list index, count.
//
// Filters: abs, attr, batch, capitalize, count, d, default, dictsort,
// first, float, int, items, join, last, length, list, lower, map
// (attribute= or a filter name), max, min, reject, rejectattr, replace,
// reverse, round, select, selectattr, sort (reverse, attribute), string,
// sum, title, tojson, trim, unique, upper, wordcount.
//
// Tests: defined, undefined, none, boolean, true, false, integer, float,
// number, string, mapping, sequence, iterable, callable, even, odd,
// divisibleby, eq/equalto/==, ne/!=, lt/lessthan/<, le/<=, gt/greaterthan/>,
// ge/>=, in, sameas, lower, upper.
//
// Not supported: macros, call blocks, include/import/extends/block,
// with, filter blocks, autoescape, namespace(), cycler, joiner, lipsum,
// printf-style % formatting of strings, format specs in str.format, and
// the rest of Jinja's filters (center, indent, truncate, wordwrap,
// urlize, xmlattr, groupby, filesizeformat, pprint, escape, safe). Using
// one is a syntax error (tags) or an evaluation error naming it (filters,
// tests, functions).
//
// # Values and errors
//
// Numbers follow Python: / is true division, // floors, integers stay
// int64 (overflow is an error). Undefined names, keys and attributes are
// StrictUndefined: using one is an error naming it; is defined and
// default accept them. Rendering prints values as Python's str() does
// (None, True, ['a', 1]). Syntax errors are *SyntaxError with position,
// line, column and token; evaluation errors are *EvalError naming the
// filter, function or operator, without the data.
package jinja
