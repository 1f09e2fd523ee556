package yaql

import (
	"regexp"
	"sort"

	"github.com/onestack/onestack/internal/exprvalue"
)

// setVal is a YAQL set (set(), toSet()): distinct items in first-seen
// order. It leaves an evaluation as a list.
type setVal struct{ items []any }

func (*setVal) Kind() string { return "set" }
func (s *setVal) Len() int   { return len(s.items) }
func (s *setVal) has(v any) bool {
	for _, it := range s.items {
		if exprvalue.Equal(it, v) {
			return true
		}
	}
	return false
}

func (s *setVal) Equal(o any) bool {
	t, ok := o.(*setVal)
	if !ok || len(t.items) != len(s.items) {
		return false
	}
	for _, it := range s.items {
		if !t.has(it) {
			return false
		}
	}
	return true
}

// lazySeq is a sequence computed on demand: sequence(), repeat() without
// a count, cycle(), and what select, where, skip, take and the like make of
// them. It may be endless; taking it whole stops at Limits.MaxItems.
type lazySeq struct {
	each func(yield func(any) (bool, error)) error
}

func (*lazySeq) Kind() string { return "sequence" }

// ordered is the result of orderBy: a list that thenBy can refine.
type ordered struct {
	items []any
	keys  [][]any // keys[i] are the sort keys of items[i], one per orderBy/thenBy
	desc  []bool
}

func (*ordered) Kind() string { return "list" }
func (o *ordered) Len() int   { return len(o.items) }

// sort orders items by all key columns; the sort is stable, as Python's.
func (o *ordered) sort() error {
	var bad error
	idx := make([]int, len(o.items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := o.keys[idx[a]], o.keys[idx[b]]
		for c := range o.desc {
			r, ok := exprvalue.Compare(ka[c], kb[c])
			if !ok {
				if bad == nil {
					bad = evalErr("", "cannot order a %s and a %s", kind(ka[c]), kind(kb[c]))
				}
				return false
			}
			if r == 0 {
				continue
			}
			if o.desc[c] {
				return r > 0
			}
			return r < 0
		}
		return false
	})
	if bad != nil {
		return bad
	}
	items := make([]any, len(idx))
	keys := make([][]any, len(idx))
	for i, j := range idx {
		items[i], keys[i] = o.items[j], o.keys[j]
	}
	o.items, o.keys = items, keys
	return nil
}

// regexVal is a compiled regular expression from regex().
type regexVal struct {
	re  *regexp.Regexp
	src string
}

func (*regexVal) Kind() string       { return "regex" }
func (r *regexVal) Equal(o any) bool { t, ok := o.(*regexVal); return ok && t.src == r.src }

// isCollection reports whether v is a list-like value (not a string, not a
// dict).
func isCollection(v any) bool {
	switch v.(type) {
	case []any, *setVal, *ordered, *lazySeq:
		return true
	}
	return false
}

// items returns the items of a list-like value, taking at most MaxItems
// of a lazy one.
func (e *evaluator) items(op string, v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case *setVal:
		return x.items, nil
	case *ordered:
		return x.items, nil
	case *lazySeq:
		var out []any
		err := x.each(func(it any) (bool, error) {
			if len(out) >= e.limits.MaxItems {
				return false, evalErr(op, "sequence has more than %d items (an endless sequence needs take())", e.limits.MaxItems)
			}
			if err := e.step(); err != nil {
				return false, err
			}
			out = append(out, it)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	return nil, evalErr(op, "needs a list, not a %s", kind(v))
}

// iterable is items without an error, for callers that try it.
func (e *evaluator) iterable(v any) ([]any, bool) {
	if !isCollection(v) {
		return nil, false
	}
	it, err := e.items("", v)
	return it, err == nil
}

// sequence is iterable for a value that can be indexed: lists and ordered
// lists, not sets.
func (e *evaluator) sequence(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case *ordered:
		return x.items, true
	case *lazySeq:
		return e.iterable(v)
	}
	return nil, false
}

// each calls f on each item of a list-like value, lazily for a lazySeq.
func (e *evaluator) each(op string, v any, f func(any) (bool, error)) error {
	if l, ok := v.(*lazySeq); ok {
		return l.each(f)
	}
	items, err := e.items(op, v)
	if err != nil {
		return err
	}
	for _, it := range items {
		more, err := f(it)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
