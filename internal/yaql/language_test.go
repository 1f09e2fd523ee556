package yaql

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The examples of the YAQL language reference
// (https://yaql.readthedocs.io/en/latest/language_reference.html,
// doc/source/language_reference.rst): literals, keywords, variables,
// function calls, operators, list, map and index expressions.
var languageRefCases = []docCase{
	{`123`, "123", ""},
	{`1.23`, "1.23", ""},
	{`1.0`, "1.0", ""},
	{`"abc"`, "'abc'", ""},
	{`'def'`, "'def'", ""},
	{`'it\'s'`, `"it's"`, ""},
	{`"a\nb"`, `'a\nb'`, ""},
	{"`a\\.b`", `'a\\.b'`, ""},
	{`true`, "True", ""},
	{`null`, "None", ""},
	{`John + Snow`, "'JohnSnow'", ""},
	{`not true`, "False", ""},
	{`true + love`, "", "operator +"},
	{`$`, "{'arr': [10, 20, 30], 'index': 1}", ""},
	{`$missing`, "None", ""},
	{`[1, 2, 3][0]`, "1", ""},
	{`$.arr[$.index + 1]`, "30", ""},
	{`{foo => 1, bar => 2}[foo]`, "1", ""},
	{`{{a => b} => 1}`, `{'{"a":"b"}': 1}`, ""}, // dict keys are strings here: a dict key becomes its JSON text
	{`2 + 3`, "5", ""},
	{`[1, 2].select($ + 1)`, "[2, 3]", ""},
	{`switch(1 > 0 => 1, 1 < 0 => -1, 1 = 0 => 0)`, "1", ""},
	{`$foo[1, x, null]`, "", "takes a key and at most a default"},
	{`"foo"()`, "", "syntax error"},
	{`John Snow`, "", "unexpected token"},
}

// Operator precedence and number semantics, from YAQL's operator table
// (yaql/language/factory.py) and its math library (3 / 2 is 1).
var operatorCases = []docCase{
	{`2 + 3 * 4`, "14", ""},
	{`(2 + 3) * 4`, "20", ""},
	{`-2 * 3`, "-6", ""},
	{`- 2 + 3`, "1", ""},
	{`7 / 2`, "3", ""},
	{`-7 / 2`, "-4", ""},
	{`7.0 / 2`, "3.5", ""},
	{`7 mod 3`, "1", ""},
	{`-7 mod 3`, "2", ""},
	{`1 / 0`, "", "division by zero"},
	{`1 + 2.5`, "3.5", ""},
	{`1 = 1.0`, "True", ""},
	{`"1" = 1`, "False", ""},
	{`not 1 = 2`, "True", ""},
	{`not(1 = 2)`, "True", ""},
	{`1 = 1 and 2 = 3 or true`, "True", ""},
	{`false or 0 or "x"`, "'x'", ""},
	{`null and x`, "None", ""},
	{`3 in [1, 2, 3]`, "True", ""},
	{`a in {a => 1}`, "True", ""},
	{`not 5 in [1, 2]`, "True", ""},
	{`"abc" =~ "^a"`, "True", ""},
	{`"abc" !~ "^b"`, "True", ""},
	{`[1] + [2] * 2`, "[1, 2, 2]", ""},
	{`{a => 1} + {b => 2}`, "{'a': 1, 'b': 2}", ""},
	{`"a" + 1`, "", "cannot add a integer to a string"},
	{`9223372036854775807 + 1`, "", "integer overflow"},
	{`let(a => 1) -> let(b => 2) -> $a + $b`, "3", ""},
	{`[1, 2].unpack(a, b) -> $a + $b`, "3", ""},
	{`with("ab", "cd") -> $1 + $2`, "'abcd'", ""},
	{`null?.foo`, "None", ""},
	{`null?.len()`, "None", ""},
	{`null.foo`, "", "cannot read \"foo\" of null"},
	{`[{a => 1}, {a => 2, b => 3}].a`, "[1, 2]", ""},
	{`[[1, 2], [3]][0][-1]`, "2", ""},
	{`[1][5]`, "", "index 5 out of range"},
	{`{a => 1}["b"]`, "", "key \"b\" not found"},
	{`{a => 1}["b", 7]`, "7", ""},
	{`len([1, 2])`, "2", ""},
	{`[1, 2].len()`, "2", ""},
	{`isList(range(2))`, "False", ""},
	{`1 < null`, "False", ""},
	{`"a" < 1`, "", "operator <"},
	{`set(1, 2) < set(1, 2, 3)`, "True", ""},
	{`set(1, 2) - set(2)`, "[1]", ""},
	{`sequence().where($ mod 2 = 0).select($ * $).take(3)`, "[0, 4, 16]", ""},
	{`sequence().len()`, "", "endless sequence"},
	{`range(3).select($ * 2)`, "[0, 2, 4]", ""},
	{`"x" * 100000000`, "", "longer than"},
	{`now().year`, "2016", ""},
	{`utcnow()`, "'2016-07-05 10:20:30+00:00'", ""},
	{`datetime("2016-12-01 15:01:00").hour`, "15", ""},
	{`datetime(2016, 1, 2).format("%Y/%m/%d %H:%M")`, "'2016/01/02 00:00'", ""},
	{`(datetime(2016, 1, 2) - datetime(2016, 1, 1)).hours`, "24.0", ""},
	{`now() + timespan(days => 1) > now()`, "True", ""},
	{`timespan(hours => 25)`, "'1 day, 1:00:00'", ""},
	{`coalesce(null, $.arr[0])`, "10", ""},
	{`$.arr.orderByDescending($).first()`, "30", ""},
	{`[[1, 'c'], [2, 'b'], [3, 'c']].orderBy($[1]).thenByDescending($[0])`, "[[2, 'b'], [3, 'c'], [1, 'c']]", ""},
	{`[3, "a"].orderBy($)`, "", "cannot order"},
	{`[].first()`, "", "empty"},
	{`[].first(null)`, "None", ""},
	{`$.arr.where($ > 10).select(str($)).join(",")`, "'20,30'", ""},
	{`$.arr.sum() / $.arr.len()`, "20", ""},
	{`$.arr.max() - $.arr.min()`, "20", ""},
	{`$.arr.toSet().len()`, "3", ""},
	{`$.arr.skip(1).take(1)`, "[20]", ""},
	{`$.arr.indexOf(20)`, "1", ""},
	{`$.arr.contains(20)`, "True", ""},
	{`$.arr.zip([1, 2])`, "[[10, 1], [20, 2]]", ""},
	{`$.arr.enumerate().select($[0] * $[1])`, "[0, 20, 60]", ""},
	{`$.arr.groupBy($ > 15)`, "[[False, [10]], [True, [20, 30]]]", ""},
	{`$.arr.selectMany([$, $])`, "[10, 10, 20, 20, 30, 30]", ""},
	{`$.arr.all($ > 5) and $.arr.any($ > 25)`, "True", ""},
	{`dict($.arr.select([str($), $]))`, "{'10': 10, '20': 20, '30': 30}", ""},
	{`$.keys()`, "['arr', 'index']", ""},
	{`$.set(index, 2).index`, "2", ""},
	{`$.delete(arr)`, "{'index': 1}", ""},
	{`$.get(nope, 5)`, "5", ""},
	{`[1, [2, [3, [4]]]].flatten()`, "[1, 2, 3, 4]", ""},
	{`"a,b,,c".split(",")`, "['a', 'b', '', 'c']", ""},
	{`"  x ".trim().toUpper() + "y".toLower()`, "'Xy'", ""},
	{`"héllo".len()`, "5", ""},
	{`"héllo".substring(1, 3)`, "'éll'", ""},
	{`"vm-01".replace("-", "_").startsWith("vm")`, "True", ""},
	{`int("42") + float("0.5")`, "42.5", ""},
	{`int("4x")`, "", "int: cannot convert"},
	{`round(2.5)`, "2.0", ""},
	{`abs(-3) + pow(2, 10)`, "1027", ""},
	{`isString(str(1))`, "True", ""},
	{`str(null) + str(true)`, "'nulltrue'", ""},
	{`"abc".matches("b")`, "True", ""},
	{`regex("(\\d+)-(\\d+)").searchAll("1-2 3-4", $2.value)`, "['1', '3']", ""},
	{`"a1b22".replace(regex("\\d+"), "<\\g<0>>")`, "'a<1>b<22>'", ""},
	{`assert(1, $ > 0)`, "1", ""},
	{`[].assert($, "empty list")`, "", "empty list"},
}

func TestLanguageReference(t *testing.T) {
	data := map[string]any{"arr": []any{int64(10), int64(20), int64(30)}, "index": int64(1)}
	runCases(t, NewEnv(Options{Now: testClock}), data, languageRefCases)
}

func TestOperators(t *testing.T) {
	data := map[string]any{"arr": []any{int64(10), int64(20), int64(30)}, "index": int64(1)}
	runCases(t, NewEnv(Options{Now: testClock}), data, operatorCases)
}

// Numbers decoded with json.Decoder.UseNumber keep integers integers.
func TestJSONNumbers(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(`{"count": 7, "ratio": 0.5, "big": 3.0}`))
	dec.UseNumber()
	var data any
	if err := dec.Decode(&data); err != nil {
		t.Fatal(err)
	}
	runCases(t, NewEnv(Options{}), data, []docCase{
		{`$.count / 2`, "3", ""},
		{`$.ratio * 2`, "1.0", ""},
		{`$.big / 2`, "1.5", ""},
		{`isInteger($.count) and not isInteger($.big)`, "True", ""},
		{`$.count = 7`, "True", ""},
		{`range($.count).len()`, "7", ""},
	})
}

// Syntax errors name the position, line and column and the token.
func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		expr      string
		pos, line int
		col       int
		tok, msg  string
	}{
		{`$.a +`, 5, 1, 6, "", "expected a value before the end"},
		{`$.a + * 2`, 6, 1, 7, "*", "an operator needs a value on its left"},
		{`foo(1)`, 0, 1, 1, "foo", `unknown function "foo"`},
		{`$.list.select()`, 7, 1, 8, "select", "needs at least 1 arguments besides its receiver"},
		{`$.x.split(sep => ",")`, 10, 1, 11, "sep", `has no parameter "sep"`},
		{"$.a and\n  (1 + ", 15, 2, 8, "", "expected a value"},
		{`'abc`, 0, 1, 1, "'abc", "string is not closed"},
		{`[1, 2`, 5, 1, 6, "", "expected ',' or ']'"},
		{`$.a.`, 4, 1, 5, "", "expected a name or a method call"},
		{`a => b`, 2, 1, 3, "=>", "unexpected token"},
		{`1 2`, 2, 1, 3, "2", "unexpected token"},
		{`#`, 0, 1, 1, "#", "unexpected character"},
		{`__x`, 0, 1, 1, "__x", "two underscores"},
		{`99999999999999999999`, 0, 1, 1, "99999999999999999999", "out of range"},
		{``, 0, 1, 1, "", "empty expression"},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 200, 1, 201, "(", "nested more than 200"},
	}
	env := NewEnv(Options{})
	for _, tc := range cases {
		_, err := env.Compile(tc.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Pos != tc.pos || se.Line != tc.line || se.Column != tc.col || se.Token != tc.tok || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%q: got pos %d line %d col %d token %q msg %q; want %d %d %d %q %q",
				tc.expr, se.Pos, se.Line, se.Column, se.Token, se.Msg, tc.pos, tc.line, tc.col, tc.tok, tc.msg)
		}
		if !strings.Contains(err.Error(), "yaql syntax error at ") {
			t.Errorf("%q: message %q does not say where", tc.expr, err)
		}
	}
}

// Run-time errors name the operation and never the data.
func TestEvalErrorsKeepDataOut(t *testing.T) {
	secret := "gAAAAABsecret-token-value"
	data := map[string]any{"token": secret, "n": int64(1)}
	env := NewEnv(Options{})
	for _, expr := range []string{`$.token + 1`, `int($.token)`, `$.token.missing`, `$.token[0]`, `$.n + $.token`, `$.nope`, `float($.token)`, `$.token.len() / 0`, `datetime($.token)`} {
		x, err := env.Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.Eval(context.Background(), Input{Data: data})
		if err == nil {
			t.Errorf("%s: no error", expr)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "gAAAA") {
			t.Errorf("%s: error %q shows the data", expr, err)
		}
	}
}

func TestLimits(t *testing.T) {
	env := NewEnv(Options{Limits: Limits{MaxSteps: 1000, MaxItems: 100, MaxStringBytes: 1000}})
	for _, tc := range []struct{ expr, err string }{
		{`range(1000).select($)`, "more than 100 items"},
		{`range(50).select(range(50).select($).len()).len()`, "more than 1000 evaluation steps"},
		{`"ab" * 600`, "longer than 1000 bytes"},
		{`[1] * 200`, "more than 100 items"},
		{`range(60) + range(60)`, "more than 100 items"},
		{`sequence().select($)`, "endless sequence"},
	} {
		x, err := env.Compile(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.Eval(context.Background(), Input{})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.expr, err, tc.err)
		}
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x, err := NewEnv(Options{}).Compile(`range(100000).select($ * 2).len()`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Eval(ctx, Input{}); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("error %v, want cancellation", err)
	}
}
