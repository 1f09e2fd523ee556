package yaql

import (
	"strconv"

	"github.com/onestack/onestack/internal/exprvalue"
)

// hashKey is a key under which equal values meet (1 and 1.0 too), for
// distinct, sets and groupBy.
func hashKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "n"
	case bool:
		if x {
			return "b1"
		}
		return "b0"
	case string:
		return "s" + x
	}
	if n, ok := exprvalue.Number(v); ok {
		if n.IsInt {
			return "i" + strconv.FormatInt(n.I, 10)
		}
		if n.F == float64(int64(n.F)) {
			return "i" + strconv.FormatInt(int64(n.F), 10)
		}
		return "f" + exprvalue.PyFloat(n.F)
	}
	return "r" + exprvalue.Repr(v)
}

// newSet makes a set of the distinct items.
func (e *evaluator) newSet(items []any) *setVal {
	e.own = true
	seen := make(map[string]bool, len(items))
	out := make([]any, 0, len(items))
	for _, it := range items {
		k := hashKey(it)
		if !seen[k] {
			seen[k] = true
			out = append(out, it)
		}
	}
	return &setVal{items: out}
}

func (c *call) set(i int) (*setVal, error) {
	s, ok := c.args[i].(*setVal)
	if !ok {
		return nil, c.fail("%s must be a set, not a %s (make one with set() or toSet())", c.pname(i), kind(c.args[i]))
	}
	return s, nil
}

// flattenInto appends the items of nested lists to out.
func (e *evaluator) flattenInto(out []any, v any, depth int) ([]any, error) {
	if depth > exprvalue.MaxDepth {
		return nil, evalErr("flatten", "list is nested more than %d levels deep", exprvalue.MaxDepth)
	}
	items, err := e.items("flatten", v)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if isCollection(it) {
			if out, err = e.flattenInto(out, it, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, it)
		if err := e.checkLen("flatten", len(out)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func concatLists(c *call) (any, error) {
	var out []any
	for i := range c.nargs() {
		items, err := c.items(i)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if err := c.e.checkLen("concat", len(out)); err != nil {
			return nil, err
		}
	}
	return c.list(out)
}

func copyDict(d map[string]any, extra int) map[string]any {
	out := make(map[string]any, len(d)+extra)
	for k, v := range d {
		out[k] = v
	}
	return out
}

func collectionFuncs() []*builtin {
	setOp := func(name string, f func(a, b *setVal) []any) *builtin {
		return fn(name, "left,right", 2, 2, func(c *call) (any, error) {
			a, err := c.set(0)
			if err != nil {
				return nil, err
			}
			b, err := c.set(1)
			if err != nil {
				return nil, err
			}
			c.e.own = true
			return &setVal{items: f(a, b)}, nil
		})
	}
	isType := func(name string, f func(v any) bool) *builtin {
		return fn(name, "arg", 1, 1, func(c *call) (any, error) { return f(c.args[0]), nil })
	}
	return []*builtin{
		// list(1, [2, 3]) is [1, [2, 3]]; values that are lazy sequences
		// are spread in, as YAQL does with iterators.
		fn("list", "", 0, -1, func(c *call) (any, error) {
			var out []any
			for i := range c.nargs() {
				v := c.args[i]
				if _, ok := v.(*lazySeq); ok {
					items, err := c.e.items("list", v)
					if err != nil {
						return nil, err
					}
					out = append(out, items...)
					continue
				}
				out = append(out, v)
			}
			return c.list(out)
		}),
		fn("toList", "collection", 1, 1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			return append([]any{}, items...), nil
		}),
		fn("flatten", "collection", 1, 1, func(c *call) (any, error) {
			out, err := c.e.flattenInto(nil, c.args[0], 0)
			if err != nil {
				return nil, err
			}
			return c.list(out)
		}),
		// dict(a => 1, b => 2) or dict([[a, 1], [b, 2]])
		fn("dict", "items", 0, 1, func(c *call) (any, error) {
			out := map[string]any{}
			if c.nargs() == 1 {
				items, err := c.items(0)
				if err != nil {
					return nil, err
				}
				for _, it := range items {
					pair, ok := c.e.sequence(it)
					if !ok || len(pair) < 2 {
						return nil, c.fail("each item must be a [key, value] pair, not a %s", kind(it))
					}
					out[exprvalue.Key(pair[0])] = pair[1]
				}
			}
			for _, r := range c.n.rules {
				k, err := r.key.eval(c.e, c.s)
				if err != nil {
					return nil, err
				}
				v, err := r.val.eval(c.e, c.s)
				if err != nil {
					return nil, err
				}
				out[exprvalue.Key(k)] = v
			}
			return out, c.e.checkLen("dict", len(out))
		}).withRules(),
		fn("toDict", "collection,keySelector,valueSelector", 2, 3, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			out := make(map[string]any, len(items))
			for _, it := range items {
				k, err := c.apply1(1, it)
				if err != nil {
					return nil, err
				}
				v := it
				if c.has(2) {
					if v, err = c.apply1(2, it); err != nil {
						return nil, err
					}
				}
				out[exprvalue.Key(k)] = v
			}
			return out, nil
		}).lambdas(bit(1, 2)),
		fn("get", "dict,key,default", 2, 3, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			if v, ok := d[exprvalue.Key(c.args[1])]; ok {
				return v, nil
			}
			return c.arg(2, nil), nil
		}),
		// set(1, 2) makes a set; dict.set(key, value), dict.set({k => v})
		// and dict.set(k => v) make a new dict with keys set.
		fn("set", "", 0, -1, func(c *call) (any, error) {
			if d, ok := c.args0().(map[string]any); ok && c.method {
				out := copyDict(d, len(c.n.rules)+1)
				switch c.nargs() {
				case 1:
				case 2:
					m, ok := c.args[1].(map[string]any)
					if !ok {
						return nil, c.fail("needs a key and a value, a dict, or key => value pairs")
					}
					for k, v := range m {
						out[k] = v
					}
				case 3:
					out[exprvalue.Key(c.args[1])] = c.args[2]
				default:
					return nil, c.fail("needs a key and a value, a dict, or key => value pairs")
				}
				for _, r := range c.n.rules {
					k, err := r.key.eval(c.e, c.s)
					if err != nil {
						return nil, err
					}
					v, err := r.val.eval(c.e, c.s)
					if err != nil {
						return nil, err
					}
					out[exprvalue.Key(k)] = v
				}
				return out, nil
			}
			if len(c.n.rules) > 0 {
				return nil, c.fail("key => value pairs are only for dict.set()")
			}
			var items []any
			for i := range c.nargs() {
				if _, ok := c.args[i].(*lazySeq); ok {
					more, err := c.e.items("set", c.args[i])
					if err != nil {
						return nil, err
					}
					items = append(items, more...)
					continue
				}
				items = append(items, c.args[i])
			}
			return c.e.newSet(items), nil
		}).withRules(),
		fn("keys", "dict", 1, 1, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			keys := exprvalue.SortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out, nil
		}),
		fn("values", "dict", 1, 1, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			keys := exprvalue.SortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = d[k]
			}
			return out, nil
		}),
		fn("items", "dict", 1, 1, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			keys := exprvalue.SortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = []any{k, d[k]}
			}
			return out, nil
		}),
		fn("contains", "collection,value", 2, 2, func(c *call) (any, error) {
			return c.e.in(c.args[1], c.args[0])
		}),
		fn("containsKey", "dict,key", 2, 2, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			_, ok := d[exprvalue.Key(c.args[1])]
			return ok, nil
		}),
		fn("containsValue", "dict,value", 2, 2, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			for _, v := range d {
				if exprvalue.Equal(v, c.args[1]) {
					return true, nil
				}
			}
			return false, nil
		}),
		isType("isList", func(v any) bool {
			switch v.(type) {
			case []any, *ordered:
				return true
			}
			return false
		}),
		isType("isDict", func(v any) bool { _, ok := v.(map[string]any); return ok }),
		isType("isSet", func(v any) bool { _, ok := v.(*setVal); return ok }),
		isType("isIterable", isCollection),
		// list.delete(position[, count]) or dict.delete(key, ...)
		fn("delete", "collection|dict,position|keys,count", 2, -1, func(c *call) (any, error) {
			if d, ok := c.args[0].(map[string]any); ok {
				out := copyDict(d, 0)
				for i := 1; i < c.nargs(); i++ {
					delete(out, exprvalue.Key(c.args[i]))
				}
				return out, nil
			}
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			pos, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			count, err := c.int(2, 1)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(items))
			for i, it := range items {
				if int64(i) >= pos && (count < 0 || int64(i) < pos+count) {
					continue
				}
				out = append(out, it)
			}
			return out, nil
		}),
		fn("deleteAll", "dict,keys", 2, 2, func(c *call) (any, error) {
			d, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			keys, err := c.items(1)
			if err != nil {
				return nil, err
			}
			out := copyDict(d, 0)
			for _, k := range keys {
				delete(out, exprvalue.Key(k))
			}
			return out, nil
		}),
		fn("replaceMany", "collection,position,values,count", 3, 4, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			pos, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			vals, err := c.items(2)
			if err != nil {
				return nil, err
			}
			count, err := c.int(3, 1)
			if err != nil {
				return nil, err
			}
			var out []any
			done := false
			for i, it := range items {
				if int64(i) >= pos && (count < 0 || int64(i) < pos+count) {
					if !done {
						out = append(out, vals...)
						done = true
					}
					continue
				}
				out = append(out, it)
			}
			return c.list(out)
		}),
		fn("insert", "collection,position,value", 3, 3, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			pos, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			n := int64(len(items))
			if pos < 0 {
				pos += n
				if pos < 0 {
					pos = 0
				}
			}
			if pos > n {
				pos = n
			}
			out := make([]any, 0, len(items)+1)
			out = append(out, items[:pos]...)
			out = append(out, c.args[2])
			return c.list(append(out, items[pos:]...))
		}),
		fn("insertMany", "collection,position,values", 3, 3, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			pos, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			vals, err := c.items(2)
			if err != nil {
				return nil, err
			}
			n := int64(len(items))
			if pos < 0 {
				pos = 0
			}
			if pos > n {
				pos = n
			}
			out := make([]any, 0, len(items)+len(vals))
			out = append(out, items[:pos]...)
			out = append(out, vals...)
			return c.list(append(out, items[pos:]...))
		}),
		fn("toSet", "collection", 1, 1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			return c.e.newSet(items), nil
		}),
		setOp("union", func(a, b *setVal) []any {
			out := append([]any{}, a.items...)
			for _, it := range b.items {
				if !a.has(it) {
					out = append(out, it)
				}
			}
			return out
		}),
		setOp("intersect", func(a, b *setVal) []any {
			out := []any{}
			for _, it := range a.items {
				if b.has(it) {
					out = append(out, it)
				}
			}
			return out
		}),
		setOp("difference", func(a, b *setVal) []any {
			out := []any{}
			for _, it := range a.items {
				if !b.has(it) {
					out = append(out, it)
				}
			}
			return out
		}),
		setOp("symmetricDifference", func(a, b *setVal) []any {
			out := []any{}
			for _, it := range a.items {
				if !b.has(it) {
					out = append(out, it)
				}
			}
			for _, it := range b.items {
				if !a.has(it) {
					out = append(out, it)
				}
			}
			return out
		}),
		fn("add", "set,values", 1, -1, func(c *call) (any, error) {
			s, err := c.set(0)
			if err != nil {
				return nil, err
			}
			return c.e.newSet(append(append([]any{}, s.items...), c.args[1:c.nargs()]...)), nil
		}),
		fn("remove", "set,values", 1, -1, func(c *call) (any, error) {
			s, err := c.set(0)
			if err != nil {
				return nil, err
			}
			out := []any{}
			for _, it := range s.items {
				drop := false
				for _, v := range c.args[1:c.nargs()] {
					if exprvalue.Equal(it, v) {
						drop = true
						break
					}
				}
				if !drop {
					out = append(out, it)
				}
			}
			c.e.own = true
			return &setVal{items: out}, nil
		}),
	}
}

func (c *call) args0() any {
	if len(c.args) == 0 {
		return nil
	}
	return c.args[0]
}
