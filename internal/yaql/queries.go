package yaql

import (
	"github.com/onestack/onestack/internal/exprvalue"
)

// stream is the body of a query that works item by item: it gets each
// item and emits results; it returns false to stop.
type stream func(it any, emit func(any) (bool, error)) (bool, error)

// query runs a stream over the receiver: eagerly into a list, or lazily
// when the receiver is an endless sequence.
func query(c *call, f stream) (any, error) {
	if l, ok := c.args[0].(*lazySeq); ok {
		c.e.own = true
		return &lazySeq{each: func(yield func(any) (bool, error)) error {
			return l.each(func(it any) (bool, error) {
				return f(it, yield)
			})
		}}, nil
	}
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	emit := func(v any) (bool, error) {
		out = append(out, v)
		if len(out) > c.e.limits.MaxItems {
			return false, c.e.checkLen(c.n.b.name, len(out))
		}
		return true, nil
	}
	for _, it := range items {
		more, err := f(it, emit)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	return out, nil
}

func queryFuncs() []*builtin {
	return []*builtin{
		fn("where", "collection,predicate", 2, 2, func(c *call) (any, error) {
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				ok, err := c.apply1(1, it)
				if err != nil {
					return false, err
				}
				if truthy(ok) {
					return emit(it)
				}
				return true, nil
			})
		}).lambdas(bit(1)),
		fn("select", "collection,selector", 2, 2, func(c *call) (any, error) {
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				v, err := c.apply1(1, it)
				if err != nil {
					return false, err
				}
				return emit(v)
			})
		}).lambdas(bit(1)),
		fn("skip", "collection,count", 2, 2, func(c *call) (any, error) {
			n, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			if items, ok := c.args[0].([]any); ok {
				if n < 0 {
					n = 0
				}
				if n > int64(len(items)) {
					n = int64(len(items))
				}
				return items[n:], nil
			}
			i := int64(0)
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				i++
				if i <= n {
					return true, nil
				}
				return emit(it)
			})
		}),
		fn("limit", "collection,count", 2, 2, func(c *call) (any, error) {
			n, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			if n <= 0 {
				return []any{}, nil
			}
			if items, ok := c.args[0].([]any); ok {
				if n > int64(len(items)) {
					n = int64(len(items))
				}
				return items[:n], nil
			}
			if l, ok := c.args[0].(*lazySeq); ok {
				// Taking from an endless sequence ends the laziness.
				var out []any
				err := l.each(func(it any) (bool, error) {
					if err := c.e.step(); err != nil {
						return false, err
					}
					out = append(out, it)
					return int64(len(out)) < n, c.e.checkLen("limit", len(out))
				})
				if err != nil {
					return nil, err
				}
				return c.list(out)
			}
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			if n > int64(len(items)) {
				n = int64(len(items))
			}
			return append([]any{}, items[:n]...), nil
		}),
		fn("append", "collection,args", 1, -1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(items)+c.nargs()-1)
			out = append(out, items...)
			return c.list(append(out, c.args[1:c.nargs()]...))
		}),
		fn("distinct", "collection,keySelector", 1, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			seen := make(map[string]bool, len(items))
			out := []any{}
			for _, it := range items {
				k := it
				if c.has(1) {
					if k, err = c.apply1(1, it); err != nil {
						return nil, err
					}
				}
				h := hashKey(k)
				if !seen[h] {
					seen[h] = true
					out = append(out, it)
				}
			}
			return out, nil
		}).lambdas(bit(1)),
		fn("enumerate", "collection,start", 1, 2, func(c *call) (any, error) {
			i, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				i++
				return emit([]any{i - 1, it})
			})
		}),
		fn("any", "collection,predicate", 1, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				ok := true
				if c.has(1) {
					v, err := c.apply1(1, it)
					if err != nil {
						return nil, err
					}
					ok = truthy(v)
				}
				if ok {
					return true, nil
				}
			}
			return false, nil
		}).lambdas(bit(1)),
		fn("all", "collection,predicate", 1, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				v := it
				if c.has(1) {
					if v, err = c.apply1(1, it); err != nil {
						return nil, err
					}
				}
				if !truthy(v) {
					return false, nil
				}
			}
			return true, nil
		}).lambdas(bit(1)),
		fn("memorize", "collection", 1, 1, func(c *call) (any, error) {
			return c.items(0)
		}),
		fn("sum", "collection,initial", 1, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			var acc any
			found := false
			if c.has(1) {
				acc, found = c.args[1], true
			}
			for _, it := range items {
				if !found {
					acc, found = it, true
					continue
				}
				if err := c.e.step(); err != nil {
					return nil, err
				}
				if acc, err = c.e.add(acc, it); err != nil {
					return nil, err
				}
			}
			if !found {
				return int64(0), nil
			}
			return acc, nil
		}),
		fn("first", "collection,default", 1, 2, func(c *call) (any, error) {
			var first any
			found := false
			if err := c.e.each("first", c.args[0], func(it any) (bool, error) {
				first, found = it, true
				return false, nil
			}); err != nil {
				return nil, c.fail("needs a list, not a %s", kind(c.args[0]))
			}
			if !found {
				if c.has(1) {
					return c.args[1], nil
				}
				return nil, c.fail("the list is empty (give a default: first(null))")
			}
			return first, nil
		}),
		fn("last", "collection,default", 1, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				if c.has(1) {
					return c.args[1], nil
				}
				return nil, c.fail("the list is empty (give a default: last(null))")
			}
			return items[len(items)-1], nil
		}),
		fn("single", "collection", 1, 1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			switch len(items) {
			case 0:
				return nil, c.fail("the list is empty")
			case 1:
				return items[0], nil
			}
			return nil, c.fail("the list has more than one item")
		}),
		fn("selectMany", "collection,selector", 2, 2, func(c *call) (any, error) {
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				v, err := c.apply1(1, it)
				if err != nil {
					return false, err
				}
				if isCollection(v) {
					inner, err := c.e.items("selectMany", v)
					if err != nil {
						return false, err
					}
					for _, x := range inner {
						if more, err := emit(x); err != nil || !more {
							return more, err
						}
					}
					return true, nil
				}
				return emit(v)
			})
		}).lambdas(bit(1)),
		fn("range", "start|stop,stop,step", 1, 3, func(c *call) (any, error) {
			start, stop, step := int64(0), int64(0), int64(1)
			var err error
			if c.nargs() == 1 {
				if stop, err = c.int(0, 0); err != nil {
					return nil, err
				}
			} else {
				if start, err = c.int(0, 0); err != nil {
					return nil, err
				}
				if stop, err = c.int(1, 0); err != nil {
					return nil, err
				}
				if step, err = c.int(2, 1); err != nil {
					return nil, err
				}
			}
			if step == 0 {
				return nil, c.fail("step must not be zero")
			}
			c.e.own = true
			// A lazy sequence, as in YAQL: list(1, range(2)) spreads it.
			return &lazySeq{each: func(yield func(any) (bool, error)) error {
				for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
					more, err := yield(i)
					if err != nil || !more {
						return err
					}
				}
				return nil
			}}, nil
		}),
		fn("sequence", "start,step", 0, 2, func(c *call) (any, error) {
			start, err := c.int(0, 0)
			if err != nil {
				return nil, err
			}
			step, err := c.int(1, 1)
			if err != nil {
				return nil, err
			}
			c.e.own = true
			return &lazySeq{each: func(yield func(any) (bool, error)) error {
				for i := start; ; i += step {
					more, err := yield(i)
					if err != nil || !more {
						return err
					}
				}
			}}, nil
		}),
		fn("repeat", "value,times", 1, 2, func(c *call) (any, error) {
			n, err := c.int(1, -1)
			if err != nil {
				return nil, err
			}
			v := c.args[0]
			if n < 0 {
				c.e.own = true
				return &lazySeq{each: func(yield func(any) (bool, error)) error {
					for {
						more, err := yield(v)
						if err != nil || !more {
							return err
						}
					}
				}}, nil
			}
			if n > int64(c.e.limits.MaxItems) {
				return nil, c.fail("result has more than %d items", c.e.limits.MaxItems)
			}
			out := make([]any, n)
			for i := range out {
				out[i] = v
			}
			return out, nil
		}),
		fn("cycle", "collection", 1, 1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			c.e.own = true
			return &lazySeq{each: func(yield func(any) (bool, error)) error {
				if len(items) == 0 {
					return nil
				}
				for {
					for _, it := range items {
						more, err := yield(it)
						if err != nil || !more {
							return err
						}
					}
				}
			}}, nil
		}),
		orderFn("orderBy", false),
		orderFn("orderByDescending", true),
		thenFn("thenBy", false),
		thenFn("thenByDescending", true),
		fn("groupBy", "collection,keySelector,valueSelector,aggregator", 2, 4, groupBy).lambdas(bit(1, 2, 3)),
		fn("zip", "collections", 1, -1, func(c *call) (any, error) { return zip(c, false, nil) }),
		fn("zipLongest", "collections", 1, -1, func(c *call) (any, error) {
			var def any
			for _, r := range c.n.rules {
				if name, _ := paramName(r.key); name != "default" {
					return nil, c.fail("takes only default => value besides the lists")
				}
				v, err := r.val.eval(c.e, c.s)
				if err != nil {
					return nil, err
				}
				def = v
			}
			return zip(c, true, def)
		}).withRules(),
		fn("takeWhile", "collection,predicate", 2, 2, func(c *call) (any, error) {
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				v, err := c.apply1(1, it)
				if err != nil || !truthy(v) {
					return false, err
				}
				return emit(it)
			})
		}).lambdas(bit(1)),
		fn("skipWhile", "collection,predicate", 2, 2, func(c *call) (any, error) {
			skipping := true
			return query(c, func(it any, emit func(any) (bool, error)) (bool, error) {
				if skipping {
					v, err := c.apply1(1, it)
					if err != nil {
						return false, err
					}
					if truthy(v) {
						return true, nil
					}
					skipping = false
				}
				return emit(it)
			})
		}).lambdas(bit(1)),
		fn("indexWhere", "collection,predicate", 2, 2, func(c *call) (any, error) { return indexWhere(c, false) }).lambdas(bit(1)),
		fn("lastIndexWhere", "collection,predicate", 2, 2, func(c *call) (any, error) { return indexWhere(c, true) }).lambdas(bit(1)),
		fn("slice", "collection,length", 2, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			n, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			if n <= 0 {
				return nil, c.fail("length must be positive")
			}
			out := []any{}
			for i := 0; i < len(items); i += int(n) {
				end := min(i+int(n), len(items))
				out = append(out, append([]any{}, items[i:end]...))
			}
			return out, nil
		}),
		fn("splitWhere", "collection,predicate", 2, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			out := []any{}
			start := 0
			for i, it := range items {
				v, err := c.apply1(1, it)
				if err != nil {
					return nil, err
				}
				if truthy(v) {
					out = append(out, append([]any{}, items[start:i]...))
					start = i + 1
				}
			}
			if start != len(items) {
				out = append(out, append([]any{}, items[start:]...))
			}
			return out, nil
		}).lambdas(bit(1)),
		fn("sliceWhere", "collection,predicate", 2, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			out := []any{}
			start := 0
			var prev any
			for i, it := range items {
				v, err := c.apply1(1, it)
				if err != nil {
					return nil, err
				}
				if i > 0 && !exprvalue.Equal(v, prev) {
					out = append(out, append([]any{}, items[start:i]...))
					start = i
				}
				prev = v
			}
			if start != len(items) {
				out = append(out, append([]any{}, items[start:]...))
			}
			return out, nil
		}).lambdas(bit(1)),
		fn("splitAt", "collection,index", 2, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			i, err := c.int(1, 0)
			if err != nil {
				return nil, err
			}
			a, _ := pyRange(len(items), i, -1)
			return []any{append([]any{}, items[:a]...), append([]any{}, items[a:]...)}, nil
		}),
		fn("aggregate", "collection,selector,seed", 2, 3, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			var acc any
			found := false
			if c.has(2) {
				acc, found = c.args[2], true
			}
			for _, it := range items {
				if !found {
					acc, found = it, true
					continue
				}
				if acc, err = c.apply(1, acc, it); err != nil {
					return nil, err
				}
			}
			if !found {
				return nil, c.fail("the list is empty and no seed is given")
			}
			return acc, nil
		}).lambdas(bit(1)),
		fn("accumulate", "collection,selector,seed", 2, 3, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			var acc any
			found := false
			if c.has(2) {
				acc, found = c.args[2], true
			}
			out := []any{}
			if found {
				out = append(out, acc)
			}
			for _, it := range items {
				if !found {
					acc, found = it, true
					out = append(out, acc)
					continue
				}
				if acc, err = c.apply(1, acc, it); err != nil {
					return nil, err
				}
				out = append(out, acc)
			}
			if !found {
				return nil, c.fail("the list is empty and no seed is given")
			}
			return out, nil
		}).lambdas(bit(1)),
		fn("reverse", "collection", 1, 1, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(items))
			for i, it := range items {
				out[len(items)-1-i] = it
			}
			return out, nil
		}),
		fn("mergeWith", "dict,another,listMerger,itemMerger,maxLevels", 2, 5, func(c *call) (any, error) {
			a, err := c.dict(0)
			if err != nil {
				return nil, err
			}
			b, err := c.dict(1)
			if err != nil {
				return nil, err
			}
			levels, err := c.int(4, 0)
			if err != nil {
				return nil, err
			}
			return mergeDicts(c, a, b, levels, 0)
		}).lambdas(bit(2, 3)),
		fn("generate", "initial,predicate,producer,selector,decycle", 3, 5, func(c *call) (any, error) {
			cur := c.args[0]
			decycle, err := c.bool(4, false)
			if err != nil {
				return nil, err
			}
			seen := map[string]bool{}
			out := []any{}
			for {
				ok, err := c.apply1(1, cur)
				if err != nil {
					return nil, err
				}
				if !truthy(ok) {
					return out, nil
				}
				if decycle {
					h := hashKey(cur)
					if seen[h] {
						return out, nil
					}
					seen[h] = true
				}
				v := cur
				if c.has(3) {
					if v, err = c.apply1(3, cur); err != nil {
						return nil, err
					}
				}
				out = append(out, v)
				if err := c.e.checkLen("generate", len(out)); err != nil {
					return nil, err
				}
				if cur, err = c.apply1(2, cur); err != nil {
					return nil, err
				}
			}
		}).lambdas(bit(1, 2, 3)),
		fn("defaultIfEmpty", "collection,default", 2, 2, func(c *call) (any, error) {
			items, err := c.items(0)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return c.args[1], nil
			}
			return c.args[0], nil
		}),
	}
}

func indexWhere(c *call, last bool) (any, error) {
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	idx := int64(-1)
	for i, it := range items {
		v, err := c.apply1(1, it)
		if err != nil {
			return nil, err
		}
		if truthy(v) {
			idx = int64(i)
			if !last {
				break
			}
		}
	}
	return idx, nil
}

func orderFn(name string, desc bool) *builtin {
	return fn(name, "collection,selector", 2, 2, func(c *call) (any, error) {
		items, err := c.items(0)
		if err != nil {
			return nil, err
		}
		o := &ordered{items: append([]any{}, items...), keys: make([][]any, len(items)), desc: []bool{desc}}
		for i, it := range items {
			k, err := c.apply1(1, it)
			if err != nil {
				return nil, err
			}
			o.keys[i] = []any{k}
		}
		if err := o.sort(); err != nil {
			return nil, c.fail("%v", err.(*EvalError).Msg)
		}
		c.e.own = true
		return o, nil
	}).lambdas(bit(1))
}

func thenFn(name string, desc bool) *builtin {
	return fn(name, "collection,selector", 2, 2, func(c *call) (any, error) {
		prev, ok := c.args[0].(*ordered)
		if !ok {
			return nil, c.fail("must follow orderBy() or orderByDescending()")
		}
		o := &ordered{items: prev.items, keys: make([][]any, len(prev.items)), desc: append(append([]bool{}, prev.desc...), desc)}
		for i, it := range prev.items {
			k, err := c.apply1(1, it)
			if err != nil {
				return nil, err
			}
			o.keys[i] = append(append([]any{}, prev.keys[i]...), k)
		}
		if err := o.sort(); err != nil {
			return nil, c.fail("%v", err.(*EvalError).Msg)
		}
		c.e.own = true
		return o, nil
	}).lambdas(bit(1))
}

// groupBy returns [key, values] pairs in the order keys first appear; an
// aggregator turns each group's values into one value.
func groupBy(c *call) (any, error) {
	items, err := c.items(0)
	if err != nil {
		return nil, err
	}
	var keys []any
	groups := map[string]int{}
	var vals [][]any
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
		h := hashKey(k)
		i, ok := groups[h]
		if !ok {
			i = len(keys)
			groups[h] = i
			keys = append(keys, k)
			vals = append(vals, nil)
		}
		vals[i] = append(vals[i], v)
	}
	out := make([]any, len(keys))
	for i, k := range keys {
		var v any = vals[i]
		if c.has(3) {
			if v, err = c.apply1(3, vals[i]); err != nil {
				return nil, err
			}
		}
		out[i] = []any{k, v}
	}
	return out, nil
}

func zip(c *call, longest bool, def any) (any, error) {
	lists := make([][]any, c.nargs())
	n := -1
	for i := range lists {
		items, err := c.items(i)
		if err != nil {
			return nil, err
		}
		lists[i] = items
		switch {
		case n < 0:
			n = len(items)
		case longest && len(items) > n:
			n = len(items)
		case !longest && len(items) < n:
			n = len(items)
		}
	}
	out := make([]any, 0, max(n, 0))
	for j := 0; j < n; j++ {
		row := make([]any, len(lists))
		for i, l := range lists {
			if j < len(l) {
				row[i] = l[j]
			} else {
				row[i] = def
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// joinCollections is c1.join(c2, predicate($1, $2), selector($1, $2)).
func joinCollections(c *call) (any, error) {
	if c.nargs() != 4 {
		return nil, c.fail("joining lists needs the other list, a predicate and a selector")
	}
	a, err := c.items(0)
	if err != nil {
		return nil, err
	}
	b, err := c.items(1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, x := range a {
		for _, y := range b {
			ok, err := c.apply(2, x, y)
			if err != nil {
				return nil, err
			}
			if !truthy(ok) {
				continue
			}
			v, err := c.apply(3, x, y)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if err := c.e.checkLen("join", len(out)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// mergeDicts is mergeWith: nested dicts merge, lists merge into their
// distinct union (or by listMerger), other values from the second dict win
// (or by itemMerger).
func mergeDicts(c *call, a, b map[string]any, levels int64, depth int) (map[string]any, error) {
	if depth > exprvalue.MaxDepth {
		return nil, c.fail("dicts are nested too deeply")
	}
	out := copyDict(a, len(b))
	for k, v2 := range b {
		v1, ok := a[k]
		if !ok {
			out[k] = v2
			continue
		}
		if levels != 1 {
			if d2, ok := v2.(map[string]any); ok {
				d1, ok := v1.(map[string]any)
				if !ok {
					return nil, c.fail("cannot merge a %s with a dict at key %q", kind(v1), truncate(k))
				}
				next := levels - 1
				if levels == 0 {
					next = 0
				}
				m, err := mergeDicts(c, d1, d2, next, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = m
				continue
			}
			if l2, ok := c.e.sequence(v2); ok {
				l1, ok := c.e.sequence(v1)
				if !ok {
					return nil, c.fail("cannot merge a %s with a list at key %q", kind(v1), truncate(k))
				}
				if c.has(2) {
					m, err := c.apply(2, l1, l2)
					if err != nil {
						return nil, err
					}
					out[k] = m
					continue
				}
				all := append(append([]any{}, l1...), l2...)
				seen := map[string]bool{}
				merged := []any{}
				for _, it := range all {
					if h := hashKey(it); !seen[h] {
						seen[h] = true
						merged = append(merged, it)
					}
				}
				out[k] = merged
				continue
			}
		}
		if c.has(3) {
			m, err := c.apply(3, v1, v2)
			if err != nil {
				return nil, err
			}
			out[k] = m
			continue
		}
		out[k] = v2
	}
	return out, nil
}
