package yaql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// docCase is an expression and its expected result printed as Python's
// repr() prints it (so that 1 and 1.0, "1" and 1 differ), or, when err is
// set, a part of the expected error.
type docCase struct {
	expr string
	want string
	err  string
}

var testClock = func() time.Time { return time.Date(2016, 7, 5, 10, 20, 30, 0, time.UTC) }

func runCases(t *testing.T, env *Env, data any, cases []docCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			x, err := env.Compile(tc.expr)
			if err != nil {
				if tc.err != "" && strings.Contains(err.Error(), tc.err) {
					return
				}
				t.Fatalf("compile %s: %v", tc.expr, err)
			}
			v, err := x.Eval(context.Background(), Input{Data: data})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s = %s, %v; want error containing %q", tc.expr, exprvalue.Repr(v), err, tc.err)
				}
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("error %T is not an *EvalError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if got := exprvalue.Repr(v); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

// The examples of the YAQL standard library reference
// (https://yaql.readthedocs.io/en/latest/standard_library.html, generated
// from the docstrings of yaql/standard_library/*.py). Where the reference
// shows Python 2 output or insertion-ordered dicts, the expected value is
// what this implementation documents instead (noted per line).
var stdlibDocCases = []docCase{
	// Examples whose input spans lines in the reference.
	{`let(1) -> selectCase($ < 0, $ = 0).switchCase("less than 0", "equal to 0", "greater than 0")`, "'greater than 0'", ""},
	{`{'a'=> 1, 'b'=> 2, 'c'=> [1, 2]}.mergeWith({'d'=> 5, 'b'=> 3, 'c'=> [2, 3]})`, "{'a': 1, 'b': 3, 'c': [1, 2, 3], 'd': 5}", ""},
	{`{'a'=> 1, 'b'=> 2, 'c'=> [1, 2]}.mergeWith({'d'=> 5, 'b'=> 3, 'c'=> [2, 3]}, $1+$2)`, "{'a': 1, 'b': 3, 'c': [1, 2, 2, 3], 'd': 5}", ""},
	{`{'a'=> 1, 'b'=> 2, 'c'=> [1, 2]}.mergeWith({'d'=> 5, 'b'=> 3, 'c'=> [2, 3]}, $1+$2, $1)`, "{'a': 1, 'b': 2, 'c': [1, 2, 2, 3], 'd': 5}", ""},
	{`{'a'=> 1, 'b'=> 2, 'c'=> [1, 2]}.mergeWith({'d'=> 5, 'b'=> 3, 'c'=> [2, 3]}, maxLevels => 1)`, "{'a': 1, 'b': 3, 'c': [2, 3], 'd': 5}", ""},
	{`regex("a.c").search("cabc", $)`, "{'end': 4, 'start': 1, 'value': 'abc'}", ""},
	{`regex("a.c").replaceBy("abcadc", switch($.value = "abc" => xx, $.value = "adc" => yy))`, "'xxyy'", ""},
	{`"abcadc".replaceBy(regex("a.c"), switch($.value = "abc" => xx, $.value = "adc" => yy))`, "'xxyy'", ""},
	{`str(["abc", "de"])`, "\"['abc', 'de']\"", ""}, // the reference shows a Python 2 tuple
	{`[1, 2].single()`, "", "more than one item"},

	// boolean
	{"1 and 0", "0", ""},
	{"1 and 2", "2", ""},
	{"[] and 1", "[]", ""},
	{"1 or 0", "1", ""},
	{"1 or 2", "1", ""},
	{"[] or 1", "1", ""},
	{"not true", "False", ""},
	{"not {}", "True", ""},
	{"not [1]", "False", ""},
	{"bool(1)", "True", ""},
	{"bool([])", "False", ""},
	{"isBoolean(false)", "True", ""},
	{"isBoolean(0)", "False", ""},
	// branching
	{"switch(\"ab\" > \"abc\" => 1, \"ab\" >= \"abc\" => 2, \"ab\" < \"abc\" => 3)", "3", ""},
	{"selectCase(\"ab\" > \"abc\", \"ab\" >= \"abc\", \"ab\" < \"abc\")", "2", ""},
	{"selectAllCases(\"ab\" > \"abc\", \"ab\" <= \"abc\", \"ab\" < \"abc\")", "[1, 2]", ""},
	{"examine(\"ab\" > \"abc\", \"ab\" <= \"abc\", \"ab\" < \"abc\")", "[False, True, True]", ""},
	{"1.switchCase('a', 1 + 1, [])", "2", ""},
	{"2.switchCase('a', 1 + 1, [])", "[]", ""},
	{"3.switchCase('a', 1 + 1, [])", "[]", ""},
	{"coalesce(null)", "None", ""},
	{"coalesce(null, [1, 2, 3][0], \"abc\")", "1", ""},
	{"coalesce(null, false, 1)", "False", ""},
	// common
	{"1 < null", "False", ""},
	{"1 <= null", "False", ""},
	{"1 > null", "True", ""},
	{"1 >= null", "True", ""},
	{"null < 2", "True", ""},
	{"null <= 2", "True", ""},
	{"null > 2", "False", ""},
	{"null >= 2", "False", ""},
	{"null < null", "False", ""},
	{"null <= null", "True", ""},
	{"null > null", "False", ""},
	{"null >= null", "True", ""},
	// math
	{"3 + 2", "5", ""},
	{"3 - 2", "1", ""},
	{"3 * 2.5", "7.5", ""},
	{"3 / 2", "1", ""},
	{"3.0 / 2", "1.5", ""},
	{"3 mod 2", "1", ""},
	{"+2", "2", ""},
	{"-2", "-2", ""},
	{"3 > 2", "True", ""},
	{"3 >= 3", "True", ""},
	{"3 < 2", "False", ""},
	{"3 <= 3", "True", ""},
	{"abs(-2)", "2", ""},
	{"int(\"2\")", "2", ""},
	{"int(12.999)", "12", ""},
	{"int(null)", "0", ""},
	{"float(\"2.2\")", "2.2", ""},
	{"float(12)", "12.0", ""},
	{"float(null)", "0.0", ""},
	{"bitwiseAnd(6, 12)", "4", ""},
	{"bitwiseOr(6, 12)", "14", ""},
	{"bitwiseXor(6, 12)", "10", ""},
	{"bitwiseNot(6)", "-7", ""},
	{"shiftBitsRight(8, 2)", "2", ""},
	{"shiftBitsLeft(8, 2)", "32", ""},
	{"max(8, 2)", "8", ""},
	{"min(8, 2)", "2", ""},
	{"pow(3, 2)", "9", ""},
	{"pow(3, 2, 5)", "4", ""},
	{"sign(2)", "1", ""},
	{"round(12.52)", "13.0", ""}, // Python 3 round(x, 0) is a float; the reference shows Python 2
	{"round(12.52, 1)", "12.5", ""},
	{"isInteger(12.0)", "False", ""},
	{"isInteger(12)", "True", ""},
	{"isNumber(12.0)", "True", ""},
	{"isNumber(12)", "True", ""},
	// strings
	{"\"abc\" > \"ab\"", "True", ""},
	{"\"abc\" > \"abb\"", "True", ""},
	{"\"abc\" > \"abc\"", "False", ""},
	{"\"ab\" < \"abc\"", "True", ""},
	{"\"abb\" < \"abc\"", "True", ""},
	{"\"abc\" < \"abc\"", "False", ""},
	{"\"abc\" >= \"ab\"", "True", ""},
	{"\"abc\" >= \"abc\"", "True", ""},
	{"\"ab\" <= \"abc\"", "True", ""},
	{"\"abc\" <= \"abc\"", "True", ""},
	{"concat(\"abc\", \"de\", \"f\")", "'abcdef'", ""},
	{"\"aB1c\".toUpper()", "'AB1C'", ""},
	{"\"abc\".len()", "3", ""},
	{"\"AB1c\".toLower()", "'ab1c'", ""},
	{"\"abc     de  f\".split()", "['abc', 'de', 'f']", ""},
	{"\"abc     de  f\".split(maxSplits => 1)", "['abc', 'de  f']", ""},
	{"\"abcde\".split(\"c\")", "['ab', 'de']", ""},
	{"\"abc     de  f\".rightSplit()", "['abc', 'de', 'f']", ""},
	{"\"abc     de  f\".rightSplit(maxSplits => 1)", "['abc     de', 'f']", ""},
	{"[\"abc\", \"de\", \"f\"].join(\"\")", "'abcdef'", ""},
	{"[\"abc\", \"de\", \"f\"].join(\"|\")", "'abc|de|f'", ""},
	{"\"|\".join([\"abc\", \"de\", \"f\"])", "'abc|de|f'", ""},
	{"str(123)", "'123'", ""},
	{"\"  abcd \".trim()", "'abcd'", ""},
	{"\"aababa\".trim(\"a\")", "'bab'", ""},
	{"\"  abcd \".trimLeft()", "'abcd '", ""},
	{"\"aababa\".trimLeft(\"a\")", "'baba'", ""},
	{"\"  abcd \".trimRight()", "'  abcd'", ""},
	{"\"aababa\".trimRight(\"a\")", "'aabab'", ""},
	{"\"  abcd \".norm()", "'abcd'", ""},
	{"\"aaaa\".norm(\"a\")", "None", ""},
	{"\"abaab\".isEmpty(chars=>\"ab\")", "True", ""},
	{"\"aba\".isEmpty(chars=>\"a\")", "False", ""},
	{"\"abaab\".replace(\"ab\", \"cd\")", "'cdacd'", ""},
	{"\"abc ab abc\".replace({abc => xx, ab => yy})", "'xx yy xx'", ""},
	{"\"abc ab abc\".replace({ab => yy, abc => xx})", "'xx yy xx'", ""},     // dicts have no order here: longer keys first
	{"\"abc ab abc\".replace({ab => yy, abc => xx}, 1)", "'xx yy abc'", ""}, // likewise
	{"\"ab\" * 2", "'abab'", ""},
	{"\"ab\" in \"abc\"", "True", ""},
	{"\"ab\" in \"acb\"", "False", ""},
	{"2 * \"ab\"", "'abab'", ""},
	{"\"abcd\".substring(1)", "'bcd'", ""},
	{"\"abcd\".substring(1, 2)", "'bc'", ""},
	{"\"cabcdab\".indexOf(\"ab\")", "1", ""},
	{"\"cabcdab\".indexOf(\"ab\", 2)", "5", ""},
	{"\"cabcdab\".indexOf(\"ab\", 6)", "-1", ""},
	{"\"cabcdab\".indexOf(\"bc\", 2, 2)", "2", ""},
	{"\"cabcdab\".lastIndexOf(\"ab\")", "5", ""},
	{"\"cabcdbc\".lastIndexOf(\"bc\", 2, 5)", "5", ""},
	{"\"abc de\".toCharArray()", "['a', 'b', 'c', ' ', 'd', 'e']", ""},
	{"isString(\"ab\")", "True", ""},
	{"isString(1)", "False", ""},
	{"\"abcd\".startsWith(\"ab\", \"xx\")", "True", ""},
	{"\"abcd\".startsWith(\"yy\", \"xx\", \"zz\")", "False", ""},
	{"\"abcd\".endsWith(\"cd\", \"xx\")", "True", ""},
	{"\"abcd\".endsWith(\"yy\", \"xx\", \"zz\")", "False", ""},
	{"hex(256)", "'0x100'", ""},
	// collections
	{"list(1, \"\", range(2))", "[1, '', 0, 1]", ""},
	{"[\"a\", [\"b\", [2,3]]].flatten()", "['a', 'b', 2, 3]", ""},
	{"range(3).toList()", "[0, 1, 2]", ""},
	{"list(1, \"\", 2)", "[1, '', 2]", ""},
	{"dict(a => 1, b => 2)", "{'a': 1, 'b': 2}", ""},
	{"dict([[\"a\", 2], [\"b\", 4]])", "{'a': 2, 'b': 4}", ""},
	{"[1, 2].toDict($, $ + 1)", "{'1': 2, '2': 3}", ""},
	{"{\"a\" => 1, \"b\" => 2}.a", "1", ""},
	{"{\"a\" => 1, \"b\" => 2}[\"a\"]", "1", ""},
	{"{\"a\" => 1, \"b\" => 2}[\"c\", 3]", "3", ""},
	{"{\"a\" => 1, \"b\" => 2}.get(\"c\")", "None", ""},
	{"{\"a\" => 1, \"b\" => 2}.get(\"c\", 3)", "3", ""},
	{"{\"a\" => 1, \"b\" => 2}.set(\"c\", 3)", "{'a': 1, 'b': 2, 'c': 3}", ""},
	{"{\"a\" => 1, \"b\" => 2}.set(\"b\", 3)", "{'a': 1, 'b': 3}", ""},
	{"{\"a\" => 1, \"b\" => 2}.set({\"b\" => 3, \"c\" => 4})", "{'a': 1, 'b': 3, 'c': 4}", ""},
	{"{\"a\" => 1, \"b\" => 2}.set(\"b\" => 3, \"c\" => 4)", "{'a': 1, 'b': 3, 'c': 4}", ""},
	{"{\"a\" => 1, \"b\" => 2}.keys()", "['a', 'b']", ""},
	{"{\"a\" => 1, \"b\" => 2}.values()", "[1, 2]", ""},
	{"{\"a\" => 1, \"b\" => 2}.items()", "[['a', 1], ['b', 2]]", ""},
	{"[\"a\", \"b\"][0]", "'a'", ""},
	{"\"a\" in [\"a\", \"b\"]", "True", ""},
	{"[\"a\", \"b\"].contains(\"a\")", "True", ""},
	{"{\"a\" => 1, \"b\" => 2}.containsKey(\"a\")", "True", ""},
	{"{\"a\" => 1, \"b\" => 2}.containsValue(\"a\")", "False", ""},
	{"{\"a\" => 1, \"b\" => 2}.containsValue(2)", "True", ""},
	{"[1, 2] + [3]", "[1, 2, 3]", ""},
	{"[1, 2] * 2", "[1, 2, 1, 2]", ""},
	{"2 * [1, 2]", "[1, 2, 1, 2]", ""},
	{"{\"a\" => 1, b => 2} + {\"b\" => 3, \"c\" => 4}", "{'a': 1, 'b': 3, 'c': 4}", ""},
	{"isList([1, 2])", "True", ""},
	{"isList({\"a\" => 1})", "False", ""},
	{"isDict([1, 2])", "False", ""},
	{"isDict({\"a\" => 1})", "True", ""},
	{"isSet({\"a\" => 1})", "False", ""},
	{"isSet(set(1, 2))", "True", ""},
	{"{\"a\" => 1, \"b\" => 2}.len()", "2", ""},
	{"[0, 1, 2].len()", "3", ""},
	{"[0, 1, 3, 4, 2].delete(2, 2)", "[0, 1, 2]", ""},
	{"[0, 1, 3, 4, 2].replace(2, 100, 2)", "[0, 1, 100, 2]", ""},
	{"[0, 1, 3, 4, 2].replaceMany(2, [100, 200], 2)", "[0, 1, 100, 200, 2]", ""},
	{"{\"a\" => 1, \"b\" => 2, \"c\" => 3}.delete(\"a\", \"c\")", "{'b': 2}", ""},
	{"{\"a\" => 1, \"b\" => 2, \"c\" => 3}.deleteAll([\"a\", \"c\"])", "{'b': 2}", ""},
	{"[0, 1, 3].insert(2, 2)", "[0, 1, 2, 3]", ""},
	{"[0, 1, 3].insert(2, 2)", "[0, 1, 2, 3]", ""},
	{"[0, 1, 3].insertMany(2, [2, 22])", "[0, 1, 2, 22, 3]", ""},
	{"set(0, 1, 2).len()", "3", ""},
	{"set(0, \"\", [1, 2])", "[0, '', [1, 2]]", ""},
	{"[0, 1, 1, 2].toSet()", "[0, 1, 2]", ""},
	{"set(0, 1).union(set(1, 2))", "[0, 1, 2]", ""},
	{"set(0) < set(0, 1)", "True", ""},
	{"set(0, 1) <= set(0, 1)", "True", ""},
	{"set(0, 1) >= set(0, 1)", "True", ""},
	{"set(0, 1) > set(0, 1)", "False", ""},
	{"set(0, 1, 2).intersect(set(0, 1))", "[0, 1]", ""},
	{"set(0, 1, 2).difference(set(0, 1))", "[2]", ""},
	{"set(0, 1, 2).symmetricDifference(set(0, 1, 3))", "[2, 3]", ""},
	{"set(0, 1).add(\"\", [1, 2, 3])", "[0, 1, '', [1, 2, 3]]", ""},
	{"set(0, 1, \"\", [1, 2, 3]).remove(\"\", 0, [1, 2, 3])", "[1]", ""},
	// queries
	{"[1, 2, 3, 4, 5].where($ > 3)", "[4, 5]", ""},
	{"[1, 2, 3, 4, 5].select($ * $)", "[1, 4, 9, 16, 25]", ""},
	{"[{'a'=> 2}, {'a'=> 4}].select($.a)", "[2, 4]", ""},
	{"[{\"a\" => 1}, {\"a\" => 2, \"b\" => 3}].a", "[1, 2]", ""},
	{"[1, 2, 3, 4, 5].skip(2)", "[3, 4, 5]", ""},
	{"[1, 2, 3, 4, 5].limit(4)", "[1, 2, 3, 4]", ""},
	{"[1, 2, 3].append(4, 5)", "[1, 2, 3, 4, 5]", ""},
	{"[1, 2, 3, 1].distinct()", "[1, 2, 3]", ""},
	{"[{'a'=> 1}, {'b'=> 2}, {'a'=> 1}].distinct()", "[{'a': 1}, {'b': 2}]", ""},
	{"[['a', 1], ['b', 2], ['c', 1], ['a', 3]].distinct($[1])", "[['a', 1], ['b', 2], ['a', 3]]", ""},
	{"['a', 'b', 'c'].enumerate()", "[[0, 'a'], [1, 'b'], [2, 'c']]", ""},
	{"['a', 'b', 'c'].enumerate(2)", "[[2, 'a'], [3, 'b'], [4, 'c']]", ""},
	{"[[], 0, ''].any()", "True", ""},
	{"[[], 0, ''].any(predicate => $)", "False", ""},
	{"[1, [], ''].all()", "False", ""},
	{"[1, [0], 'a'].all()", "True", ""},
	{"[1].concat([2, 3], [4, 5])", "[1, 2, 3, 4, 5]", ""},
	{"[1, 2].len()", "2", ""},
	{"[1, 2].count()", "2", ""},
	{"let(range(4)) -> $.sum() + $.len()", "10", ""}, // sequences here are always memorized
	{"let(range(4).memorize()) -> $.sum() + $.len()", "10", ""},
	{"[3, 1, 2].sum()", "6", ""},
	{"['a', 'b'].sum('c')", "'cab'", ""},
	{"[3, 1, 2].max()", "3", ""},
	{"[3, 1, 2].min()", "1", ""},
	{"[3, 1, 2].first()", "3", ""},
	{"[\"abc\"].single()", "'abc'", ""},
	{"[0, 1, 2].last()", "2", ""},
	{"[0, 1, 2].selectMany($ + 2)", "[2, 3, 4]", ""},
	{"[0, [1, 2], 3].selectMany($ * 2)", "[0, 1, 2, 1, 2, 6]", ""},
	{"range(3)", "[0, 1, 2]", ""},
	{"range(1, 4)", "[1, 2, 3]", ""},
	{"range(4, 1, -1)", "[4, 3, 2]", ""},
	{"sequence().take(5)", "[0, 1, 2, 3, 4]", ""},
	{"[[1, 'c'], [2, 'b'], [3, 'c'], [0, 'd']].orderBy($[1])", "[[2, 'b'], [1, 'c'], [3, 'c'], [0, 'd']]", ""},
	{"[4, 2, 3, 1].orderByDescending($)", "[4, 3, 2, 1]", ""},
	{"[[3, 'c'], [2, 'b'], [1, 'c']].orderBy($[1]).thenBy($[0])", "[[2, 'b'], [1, 'c'], [3, 'c']]", ""},
	{"[[3,'c'], [2,'b'], [1,'c']].orderBy($[1]).thenByDescending($[0])", "[[2, 'b'], [3, 'c'], [1, 'c']]", ""},
	{"[[\"a\", 1], [\"b\", 2], [\"c\", 1], [\"d\", 2]].groupBy($[1], $[0])", "[[1, ['a', 'c']], [2, ['b', 'd']]]", ""},
	{"[[\"a\", 1], [\"b\", 2], [\"c\", 1]].groupBy($[1], $[0], $.sum())", "[[1, 'ac'], [2, 'b']]", ""},
	{"[1, 2, 3].zip([4, 5], [6, 7])", "[[1, 4, 6], [2, 5, 7]]", ""},
	{"[1, 2, 3].zipLongest([4, 5])", "[[1, 4], [2, 5], [3, None]]", ""},
	{"[1, 2, 3].zipLongest([4, 5], default => 100)", "[[1, 4], [2, 5], [3, 100]]", ""},
	{"[1,2,3,4].join([2,5,6], $1 > $2, [$1, $2])", "[[3, 2], [4, 2]]", ""},
	{"1.repeat(2)", "[1, 1]", ""},
	{"1.repeat().take(3)", "[1, 1, 1]", ""},
	{"[1, 2].cycle().take(5)", "[1, 2, 1, 2, 1]", ""},
	{"[1, 2, 3, 4, 5].takeWhile($ < 4)", "[1, 2, 3]", ""},
	{"[1, 2, 3, 4, 5].skipWhile($ < 3)", "[3, 4, 5]", ""},
	{"[1, 2, 3, 2].indexOf(2)", "1", ""},
	{"[1, 2, 3, 2].indexOf(102)", "-1", ""},
	{"[1, 2, 3, 2].lastIndexOf(2)", "3", ""},
	{"[1, 2, 3, 2].indexWhere($ > 2)", "2", ""},
	{"[1, 2, 3, 2].indexWhere($ > 3)", "-1", ""},
	{"[1, 2, 3, 2].lastIndexWhere($ = 2)", "3", ""},
	{"range(1,6).slice(2)", "[[1, 2], [3, 4], [5]]", ""},
	{"[1, 2, 3, 4, 5, 6, 7].splitWhere($ mod 3 = 0)", "[[1, 2], [4, 5], [7]]", ""},
	{"[1, 2, 3, 4, 5, 6, 7].sliceWhere($ mod 3 = 0)", "[[1, 2], [3], [4, 5], [6], [7]]", ""},
	{"[1, 2, 3, 4].splitAt(1)", "[[1], [2, 3, 4]]", ""},
	{"[1, 2, 3, 4].splitAt(0)", "[[], [1, 2, 3, 4]]", ""},
	{"[a,a,b,a,a].aggregate($1 + $2)", "'aabaa'", ""},
	{"[].aggregate($1 + $2, 1)", "1", ""},
	{"[1, 2, 3, 4].reverse()", "[4, 3, 2, 1]", ""},
	{"isIterable([])", "True", ""},
	{"isIterable(set(1,2))", "True", ""},
	{"isIterable(\"foo\")", "False", ""},
	{"isIterable({\"a\" => 1})", "False", ""},
	{"[1, 2, 3].accumulate($1+$2)", "[1, 3, 6]", ""},
	{"[1, 2, 3].accumulate($1+$2, 100)", "[100, 101, 103, 106]", ""},
	{"[].accumulate($1+$2,1)", "[1]", ""},
	{"generate(0, $ < 10, $ + 2)", "[0, 2, 4, 6, 8]", ""},
	{"generate(1, $ < 10, $ + 2, $ * 1000)", "[1000, 3000, 5000, 7000, 9000]", ""},
	{"[].defaultIfEmpty([1, 2])", "[1, 2]", ""},
	// regex
	{"regex(\"a.c\").matches(\"abc\")", "True", ""},
	{"regex(\"A.c\").matches(\"abc\")", "False", ""},
	{"regex(\"A.c\", ignoreCase => true).matches(\"abc\")", "True", ""},
	{"regex(\"a.c\").matches(\"abc\")", "True", ""},
	{"\"abc\".matches(\"a.c\")", "True", ""},
	{"\"abc\" =~ regex(\"a.c\")", "True", ""},
	{"\"abc\" =~ \"a.c\"", "True", ""},
	{"\"acb\" !~ regex(\"a.c\")", "True", ""},
	{"\"abc\" !~ regex(\"a.c\")", "False", ""},
	{"\"acb\" !~ regex(\"a.c\")", "True", ""},
	{"\"abc\" !~ regex(\"a.c\")", "False", ""},
	{"regex(\"a.c\").search(\"abcabc\")", "'abc'", ""},
	{"regex(\"a.c\").search(\"cabc\", $.start)", "1", ""},
	{"regex(\"a.c\").searchAll(\"abcadc\")", "['abc', 'adc']", ""},
	{"regex(\"a.\").split(\"abcadc\")", "['', 'c', 'c']", ""},
	{"regex(\"a.\").split(\"abcadc\", maxSplit => 1)", "['', 'cadc']", ""},
	{"\"abcadc\".split(regex(\"a.\"))", "['', 'c', 'c']", ""},
	{"\"abcadc\".split(regex(\"a.\"), maxSplit => 1)", "['', 'cadc']", ""},
	{"regex(\"a.\").replace(\"abcadc\", \"xx\")", "'xxcxxc'", ""},
	{"regex(\"a.\").replace(\"abcadc\", \"xx\", count => 1)", "'xxcadc'", ""},
	{"\"abcadc\".replace(regex(\"a.\"), \"xx\")", "'xxcxxc'", ""},
	{"escapeRegex('a.')", "'a\\\\.'", ""},
	{"isRegex(regex(\"a.c\"))", "True", ""},
	{"isRegex(regex(\"a.c\").matches(\"abc\"))", "False", ""},
}

func TestStdlibDocExamples(t *testing.T) {
	runCases(t, NewEnv(Options{Now: testClock}), nil, stdlibDocCases)
}
