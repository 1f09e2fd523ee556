// Package exprvalue is the value model shared by the workflow expression
// languages (internal/yaql and internal/jinja): the Go shapes a value takes,
// how numbers behave, what equality, ordering and truth mean, how a value is
// printed when it is interpolated into a string, and the signature of a
// function that a host (the workflow engine) adds to both languages.
//
// Values are the trees encoding/json produces: nil, bool, string, float64,
// []any and map[string]any, plus int64 for integers. Integers stay integers
// (YAQL and Jinja follow Python: 3 / 2 is 1 in YAQL, 7 // 2 is 3 in Jinja),
// so hosts should decode JSON with json.Decoder.UseNumber: a json.Number
// without a fraction or exponent is read as an integer, one with them as a
// float. Other Go integer and float kinds are accepted too. A float64 that
// came from a decoder without UseNumber stays a float (3.0, not 3).
//
// Dictionaries are map[string]any: keys that are not strings are converted
// to their printed form (1 becomes "1", true becomes "true"), as a JSON
// encoder would. Go maps have no order, so every operation that lists a
// dictionary (keys, values, items, printing) lists it in key order.
//
// It is the bottom of the expression layer and imports no other onestack
// package.
package exprvalue
