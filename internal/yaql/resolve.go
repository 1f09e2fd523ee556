package yaql

import (
	"fmt"
	"strings"
)

// resolver binds the function calls of a parsed expression to the
// standard library or the host's functions, and their arguments to
// parameter slots, so that an unknown function, a wrong argument count or
// an unknown parameter name is a compile-time error.
type resolver struct {
	env *Env
	src string
	err *SyntaxError
}

func (r *resolver) fail(pos int, tok, format string, args ...any) {
	if r.err == nil {
		r.err = newSyntaxError(r.src, pos, tok, fmt.Sprintf(format, args...))
	}
}

func (r *resolver) node(n node) node {
	if r.err != nil {
		return n
	}
	switch x := n.(type) {
	case *listNode:
		for i := range x.items {
			x.items[i] = r.node(x.items[i])
		}
	case *mapNode:
		for i := range x.keys {
			x.keys[i] = r.node(x.keys[i])
			x.vals[i] = r.node(x.vals[i])
		}
	case *notNode:
		x.x = r.node(x.x)
	case *andNode:
		x.l, x.r = r.node(x.l), r.node(x.r)
	case *orNode:
		x.l, x.r = r.node(x.l), r.node(x.r)
	case *arrowNode:
		x.l, x.r = r.node(x.l), r.node(x.r)
	case *binNode:
		x.l, x.r = r.node(x.l), r.node(x.r)
	case *unaryNode:
		x.x = r.node(x.x)
	case *attrNode:
		x.recv = r.node(x.recv)
	case *indexNode:
		x.target = r.node(x.target)
		for i := range x.args {
			x.args[i] = r.node(x.args[i])
		}
	case *callNode:
		r.call(x)
	}
	return n
}

// paramName is the name a => key gives: a bare word or a string.
func paramName(n node) (string, bool) {
	switch k := n.(type) {
	case *keywordNode:
		return k.name, true
	case *constNode:
		s, ok := k.v.(string)
		return s, ok
	}
	return "", false
}

func (r *resolver) call(n *callNode) {
	if n.recv != nil {
		n.recv = r.node(n.recv)
	}
	for i := range n.args {
		if n.args[i].key != nil {
			n.args[i].key = r.node(n.args[i].key)
		}
		if n.args[i].val != nil {
			n.args[i].val = r.node(n.args[i].val)
		}
	}
	if r.err != nil {
		return
	}
	var pos []node
	if n.recv != nil {
		pos = append(pos, n.recv)
	}
	if h, ok := r.env.funcs[n.name]; ok {
		n.h = &h
		for _, a := range n.args {
			if a.key == nil {
				if a.val == nil {
					r.fail(a.pos, "", "%s() does not allow skipped arguments", n.name)
					return
				}
				pos = append(pos, a.val)
				continue
			}
			name, ok := paramName(a.key)
			if !ok {
				r.fail(a.pos, "", "%s(): the name before => must be a parameter name", n.name)
				return
			}
			n.kwN = append(n.kwN, name)
			n.kwV = append(n.kwV, a.val)
		}
		n.slots = pos
		dummy := make([]any, len(pos))
		if _, err := h.Bind(n.name, dummy, n.kwN, make([]any, len(n.kwN))); err != nil {
			r.fail(n.pos, n.name, "%v", err)
		}
		return
	}
	b := builtins[n.name]
	if b == nil {
		r.fail(n.pos, n.name, "unknown function %q", n.name)
		return
	}
	n.b = b
	var named []argNode
	for _, a := range n.args {
		if a.key != nil {
			named = append(named, a)
			continue
		}
		if len(named) > 0 {
			r.fail(a.pos, "", "%s(): a positional argument cannot follow a named one", n.name)
			return
		}
		pos = append(pos, a.val) // nil for a skipped argument
	}
	slots := pos
	for _, a := range named {
		name, ok := paramName(a.key)
		idx := -1
		if ok && !b.rules {
			idx = b.param(name)
		}
		if idx < 0 {
			if b.rules {
				n.rules = append(n.rules, rule{key: a.key, val: a.val})
				continue
			}
			if !ok {
				r.fail(a.pos, "", "%s() takes no name => value pairs", n.name)
			} else {
				r.fail(a.pos, name, "%s() has no parameter %q (it takes %s)", n.name, name, strings.Join(b.params, ", "))
			}
			return
		}
		for len(slots) <= idx {
			slots = append(slots, nil)
		}
		if slots[idx] != nil {
			r.fail(a.pos, name, "%s(): parameter %q is given twice", n.name, name)
			return
		}
		slots[idx] = a.val
	}
	given := len(slots)
	if n.recv == nil && given > 0 && slots[0] == nil && b.min > 0 {
		r.fail(n.pos, n.name, "%s(): the first argument cannot be skipped", n.name)
		return
	}
	if given < b.min {
		what := "function"
		if n.recv != nil {
			what = "method"
		}
		r.fail(n.pos, n.name, "%s %s() needs at least %d arguments%s, got %d", what, n.name, b.min-recvCount(n), receiverNote(n), given-recvCount(n))
		return
	}
	for i := 0; i < b.min && i < len(slots); i++ {
		if slots[i] == nil {
			name := fmt.Sprintf("argument %d", i+1-recvCount(n))
			if i < len(b.params) {
				name = strings.Split(b.params[i], "|")[0]
			}
			r.fail(n.pos, n.name, "%s(): %s is required and cannot be skipped", n.name, name)
			return
		}
	}
	if b.max >= 0 && given > b.max {
		r.fail(n.pos, n.name, "%s() takes at most %d arguments%s, got %d", n.name, b.max-recvCount(n), receiverNote(n), given-recvCount(n))
		return
	}
	if b.check != nil {
		if msg := b.check(n); msg != "" {
			r.fail(n.pos, n.name, "%s(): %s", n.name, msg)
			return
		}
	}
	n.slots = slots
}

func recvCount(n *callNode) int {
	if n.recv != nil {
		return 1
	}
	return 0
}

func receiverNote(n *callNode) string {
	if n.recv != nil {
		return " besides its receiver"
	}
	return ""
}
