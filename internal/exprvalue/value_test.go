package exprvalue

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// Python's str() and repr() of the values Mistral interpolates
// (https://docs.python.org/3/library/functions.html#repr).
func TestStr(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "None"},
		{true, "True"},
		{"it's", "it's"},
		{int64(-3), "-3"},
		{json.Number("7"), "7"},
		{1.5, "1.5"},
		{2.0, "2.0"},
		{1e16, "1e+16"},
		{1.5e-5, "1.5e-05"},
		{0.0001, "0.0001"},
		{math.Inf(1), "inf"},
		{[]any{"a", int64(1), nil, []any{}}, "['a', 1, None, []]"},
		{map[string]any{"b": "it's", "a": "x\ny"}, `{'a': 'x\ny', 'b': "it's"}`},
		{time.Date(2006, 11, 21, 16, 30, 0, 5000, time.UTC), "2006-11-21 16:30:00.000005+00:00"},
		{26*time.Hour + 3*time.Minute, "1 day, 2:03:00"},
		{-time.Second, "-1 day, 23:59:59"},
	} {
		if got := Str(tc.v); got != tc.want {
			t.Errorf("Str(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := Repr("a'b\"c"); got != `'a\'b"c'` {
		t.Errorf("Repr = %s", got)
	}
	if _, err := StrMax([]any{strings.Repeat("x", 100)}, 50); err != ErrTooLarge {
		t.Errorf("StrMax over the limit: %v", err)
	}
}

func TestEqualCompareTruthy(t *testing.T) {
	if !Equal(int64(1), 1.0) || !Equal(json.Number("2"), int64(2)) || Equal(true, int64(1)) || Equal("1", int64(1)) {
		t.Error("number equality")
	}
	if !Equal([]any{int64(1), map[string]any{"a": nil}}, []any{1.0, map[string]any{"a": nil}}) {
		t.Error("deep equality")
	}
	if c, ok := Compare(nil, int64(1)); !ok || c >= 0 {
		t.Error("null orders first")
	}
	if _, ok := Compare("a", int64(1)); ok {
		t.Error("a string and a number do not order")
	}
	for _, v := range []any{nil, false, int64(0), 0.0, "", []any{}, map[string]any{}, time.Duration(0)} {
		if Truthy(v) {
			t.Errorf("Truthy(%#v)", v)
		}
	}
	if !Truthy("0") || !Truthy([]any{nil}) {
		t.Error("non-empty values are true")
	}
}

func TestBind(t *testing.T) {
	f := Func{Params: []string{"workflow_execution_id", "recursive", "state", "flat"}}
	args, err := f.Bind("tasks", []any{"id"}, []string{"state"}, []any{"ERROR"})
	if err != nil || len(args) != 4 || args[0] != "id" || args[2] != "ERROR" || args[1] != nil {
		t.Errorf("Bind = %v, %v", args, err)
	}
	for _, tc := range []struct {
		pos   []any
		names []string
		msg   string
	}{
		{[]any{1, 2, 3, 4, 5}, nil, "at most 4"},
		{nil, []string{"nope"}, `no parameter "nope"`},
		{[]any{1}, []string{"workflow_execution_id"}, "twice"},
	} {
		if _, err := f.Bind("tasks", tc.pos, tc.names, make([]any, len(tc.names))); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Bind(%v, %v) = %v, want %q", tc.pos, tc.names, err, tc.msg)
		}
	}
	g := Func{Params: []string{"var_name"}, Required: 1}
	if _, err := g.Bind("global", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing required: %v", err)
	}
}

func TestCheckSize(t *testing.T) {
	inner := make([]any, 100)
	outer := []any{inner, inner, inner}
	if err := CheckSize(outer, 250, 1000); err == nil {
		t.Error("shared lists count each time they appear")
	}
	if err := CheckSize(outer, 400, 1000); err != nil {
		t.Error(err)
	}
	if err := CheckSize(map[string]any{"k": strings.Repeat("x", 2000)}, 10, 1000); err == nil {
		t.Error("text over the limit")
	}
}
