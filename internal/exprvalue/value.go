package exprvalue

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxDepth bounds the nesting that the recursive helpers of this package
// (Equal, Compare, Str) walk; deeper values are treated as an error by
// their callers rather than exhausting the stack.
const MaxDepth = 1000

// Num is a number as the expression languages see it: an integer or a float.
type Num struct {
	I     int64
	F     float64
	IsInt bool
}

// Float returns n as a float64.
func (n Num) Float() float64 {
	if n.IsInt {
		return float64(n.I)
	}
	return n.F
}

// Value returns n as a Go value: int64 or float64.
func (n Num) Value() any {
	if n.IsInt {
		return n.I
	}
	return n.F
}

// Number reports whether v is a number (booleans are not) and returns it.
func Number(v any) (Num, bool) {
	switch x := v.(type) {
	case int64:
		return Num{I: x, IsInt: true}, true
	case float64:
		return Num{F: x}, true
	case int:
		return Num{I: int64(x), IsInt: true}, true
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return Num{I: i, IsInt: true}, true
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Num{}, false
		}
		return Num{F: f}, true
	case int32:
		return Num{I: int64(x), IsInt: true}, true
	case int16:
		return Num{I: int64(x), IsInt: true}, true
	case int8:
		return Num{I: int64(x), IsInt: true}, true
	case uint:
		return Num{I: int64(x), IsInt: true}, x <= math.MaxInt64
	case uint64:
		return Num{I: int64(x), IsInt: true}, x <= math.MaxInt64
	case uint32:
		return Num{I: int64(x), IsInt: true}, true
	case uint16:
		return Num{I: int64(x), IsInt: true}, true
	case uint8:
		return Num{I: int64(x), IsInt: true}, true
	case float32:
		return Num{F: float64(x)}, true
	}
	return Num{}, false
}

// Int reports whether v is an integer (not a float, not a boolean).
func Int(v any) (int64, bool) {
	n, ok := Number(v)
	if !ok || !n.IsInt {
		return 0, false
	}
	return n.I, true
}

// Kind names the type of v for error messages, in the words a workflow
// author knows: null, boolean, integer, float, string, list, dict.
func Kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case time.Time:
		return "datetime"
	case time.Duration:
		return "timespan"
	case Kinder:
		return x.Kind()
	}
	if n, ok := Number(v); ok {
		if n.IsInt {
			return "integer"
		}
		return "float"
	}
	return fmt.Sprintf("%T", v)
}

// Kinder is implemented by a language's own value types (a YAQL set, a
// compiled regular expression) to name themselves in error messages.
type Kinder interface{ Kind() string }

// Truthy is Python's truth: null, false, zero, "" and empty collections are
// false, everything else is true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case time.Duration:
		return x != 0
	case Lener:
		return x.Len() > 0
	}
	if n, ok := Number(v); ok {
		if n.IsInt {
			return n.I != 0
		}
		return n.F != 0
	}
	return true
}

// Lener is implemented by a language's collection types so that Truthy
// treats an empty one as false.
type Lener interface{ Len() int }

// Key converts a dictionary key to the string under which it is stored.
func Key(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	if n, ok := Number(v); ok {
		if n.IsInt {
			return strconv.FormatInt(n.I, 10)
		}
		return PyFloat(n.F)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Str(v)
	}
	return string(b)
}

// SortedKeys returns the keys of m in order.
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Equal is Python's ==: numbers compare by value across integers and
// floats, lists element by element, dictionaries by keys and values.
// Booleans equal only booleans.
func Equal(a, b any) bool { return equal(a, b, 0) }

func equal(a, b any, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv, depth+1) {
				return false
			}
		}
		return true
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case time.Duration:
		y, ok := b.(time.Duration)
		return ok && x == y
	case Equaler:
		return x.Equal(b)
	}
	if n, ok := Number(a); ok {
		m, ok := Number(b)
		if !ok {
			return false
		}
		if n.IsInt && m.IsInt {
			return n.I == m.I
		}
		return n.Float() == m.Float()
	}
	return false
}

// Equaler is implemented by a language's own value types to take part in
// Equal.
type Equaler interface{ Equal(other any) bool }

// Compare orders a and b: numbers by value, strings by code point, null
// before anything else, datetimes and timespans in time. Other pairs
// cannot be ordered and give ok false.
func Compare(a, b any) (c int, ok bool) {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0, true
		case a == nil:
			return -1, true
		default:
			return 1, true
		}
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case bool:
		return 0, false
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return 0, false
		}
		return x.Compare(y), true
	case time.Duration:
		y, ok := b.(time.Duration)
		if !ok {
			return 0, false
		}
		return cmpOrdered(x, y), true
	}
	n, ok1 := Number(a)
	m, ok2 := Number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	if n.IsInt && m.IsInt {
		return cmpOrdered(n.I, m.I), true
	}
	return cmpOrdered(n.Float(), m.Float()), true
}

func cmpOrdered[T int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CheckSize reports an error when v holds more than maxNodes list items
// and dict entries in all, more than maxBytes of string text, or nests
// deeper than MaxDepth: the bound on what one evaluation may hand back.
// Shared sub-values count each time they appear, as they would once
// encoded.
func CheckSize(v any, maxNodes, maxBytes int) error {
	nodes, bytes := 0, 0
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > MaxDepth {
			return fmt.Errorf("result is nested more than %d levels deep", MaxDepth)
		}
		switch x := v.(type) {
		case string:
			bytes += len(x)
		case []any:
			nodes += len(x)
			if nodes > maxNodes {
				return fmt.Errorf("result has more than %d items", maxNodes)
			}
			for _, it := range x {
				if err := walk(it, depth+1); err != nil {
					return err
				}
			}
		case map[string]any:
			nodes += len(x)
			if nodes > maxNodes {
				return fmt.Errorf("result has more than %d items", maxNodes)
			}
			for k, it := range x {
				bytes += len(k)
				if err := walk(it, depth+1); err != nil {
					return err
				}
			}
		}
		if bytes > maxBytes {
			return fmt.Errorf("result holds more than %d bytes of text", maxBytes)
		}
		return nil
	}
	return walk(v, 0)
}
