// Package yaql evaluates YAQL 1.1 expressions, the query language of
// Mistral workflows (<% $.vm_ids.select($ * 2) %>), over JSON-shaped data.
//
// It is the expression layer under the workflow engine and imports only
// internal/exprvalue, which holds the value model it shares with
// internal/jinja (numbers, equality, ordering, truth, Python-style
// printing, host functions).
//
// # Use
//
// An Env holds the standard library, the host's functions (Mistral's
// task(), env(), ...), a clock and limits. Env.Compile parses an
// expression once and resolves its calls; the *Expr it returns is
// evaluated any number of times, concurrently, with Expr.Eval. Check
// only parses.
//
// # Grammar
//
// Tokens (whitespace, newlines included, separates them and is otherwise
// ignored):
//
//	number   = digit+ [ "." digit+ ]            12 is an integer, 1.5 a float
//	string   = "'" ... "'" | '"' ... '"'        backslash escapes as in Python
//	         | "`" ... "`"                      verbatim: only \` is an escape
//	keyword  = letter (letter | digit | "_")*   not starting with "__"
//	func     = keyword "("                      no space before the parenthesis
//	var      = "$" (letter | digit | "_")*      $ is $1; $name; $2
//	true false null
//	operators, tightest first:
//	    .  ?.                member access and method call, left
//	    [ ]                  index, left
//	    + -  (prefix)        unary
//	    =~ !~                regular expression match, left
//	    * / mod              left; / of two integers rounds down (Python //)
//	    + -                  left; + also joins strings, lists and dicts
//	    = != < > <= >= in    left
//	    not  (prefix)
//	    and                  left, returns an operand (Python semantics)
//	    or                   left, returns an operand
//	    ->                   right; evaluates the right side in the context
//	                         the left side (let, with, unpack) made
//	    =>                   only between a name and a value in arguments
//	                         and dict literals
//
// Productions:
//
//	expr     = prefix { binop expr } | expr "[" expr [ "," expr ] "]"
//	         | expr ("." | "?.") ( keyword | string | call )
//	prefix   = number | string | true | false | null | keyword | var
//	         | call | "(" expr ")" | ("-" | "+" | "not") expr
//	         | "[" [ expr { "," expr } ] "]"                 list
//	         | "{" [ pair { "," pair } ] "}"                 dict
//	call     = func [ args ] ")"
//	args     = arg { "," arg }
//	arg      = expr | <empty> | pair        an empty argument skips a position
//	pair     = expr "=>" expr               a named argument, a switch case,
//	                                        a dict entry
//
// A bare keyword is the string it spells (John + Snow is "JohnSnow"). In
// x.name, name reads a dict key (an error when missing: use
// x.get(name) or x.get(name, default)), a property of a datetime or
// timespan, or, on a list, that key of every item ([{a=>1},{a=>2}].a is
// [1, 2]). In x.f(args), x is the first argument of f; every function may
// also be called as f(x, args). ?. gives null instead of an error when x is
// null. Arguments of functions such as where, select, orderBy, any and
// switch are lambdas: evaluated per item with the item as $ (and $1; $2 for
// two-argument lambdas such as aggregate's).
//
// # Values
//
// See internal/exprvalue: integers stay int64, floats are float64, lists
// are []any, dicts map[string]any. Sets (set(), toSet()) are kept apart
// while evaluating and come out as lists, datetimes and timespans as the
// strings Python prints. Dicts have no order: keys(), values(), items()
// and printing list keys sorted, and string.replace({old => new}) applies
// longer keys first.
//
// # Standard library
//
// System: let, with, unpack, assert, bool, isBoolean, switch, selectCase,
// selectAllCases, examine, switchCase, coalesce.
//
// Math: abs, int, float, round, sign, pow, max, min, random, bitwiseAnd,
// bitwiseOr, bitwiseXor, bitwiseNot, shiftBitsLeft, shiftBitsRight,
// isInteger, isNumber.
//
// Strings: str, len, concat, toUpper, toLower, trim, trimLeft, trimRight,
// norm, isEmpty, split, rightSplit, join, replace, substring, indexOf,
// lastIndexOf, startsWith, endsWith, toCharArray, hex, isString; regex,
// matches, search, searchAll, replaceBy, escapeRegex, isRegex, and regex
// forms of split and replace.
//
// Collections and queries: list, toList, flatten, dict, toDict, get, set,
// keys, values, items, contains, containsKey, containsValue, delete,
// deleteAll, insert, insertMany, replaceMany, isList, isDict, isSet,
// isIterable, toSet, union, intersect, difference, symmetricDifference,
// add, remove; where (filter), select (map), selectMany, skip, limit
// (take), takeWhile, skipWhile, append, distinct, enumerate, any, all,
// len (count), memorize, sum, first, last, single, range, sequence,
// repeat, cycle, orderBy, orderByDescending, thenBy, thenByDescending,
// groupBy, zip, zipLongest, join, indexOf, lastIndexOf, indexWhere,
// lastIndexWhere, slice, splitWhere, sliceWhere, splitAt, aggregate
// (reduce), accumulate, reverse, mergeWith, generate, defaultIfEmpty.
//
// Dates: now, utcnow (an addition: YAQL's now() is already UTC), localtz,
// utctz, datetime, timespan, format (strftime directives), isDatetime,
// isTimespan, + and - between them, and the properties year, month, day,
// hour, minute, second, microsecond, weekday, date, time, offset,
// timestamp, utc, days, hours, minutes, seconds, milliseconds,
// microseconds.
//
// Not supported: delegates ($f(x), lambda(), call()), def(), the legacy
// (YAQL 0.2) functions, generateMany, characters, yaqlized Python
// objects, regular expression backreferences and lookaround (Go's RE2).
//
// # Differences from Python YAQL
//
// Function names are resolved when compiling: an unknown function, a
// wrong number of arguments or an unknown parameter name is a compile
// error. YAQL's method-only functions may also be called as functions.
// not(x) is the operator, not an unknown function "not". Integers are
// 64-bit: overflow is an error rather than a big number. Booleans equal
// only booleans (Python has true = 1).
//
// # Errors and limits
//
// Syntax and compile errors are *SyntaxError with the position, line,
// column and token. Evaluation errors are *EvalError naming the function
// or operator and the reason, with types and key names but never the data
// evaluated. Limits bound the steps, the size of every list and string an
// expression builds, and parsing refuses expressions nested more than 200
// levels.
package yaql
