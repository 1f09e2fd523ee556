package jinja

import "fmt"

const maxDepth = 200

// Expression nodes.
type (
	node interface {
		eval(e *evaluator, s *scope) (any, error)
	}
	constNode struct{ v any }
	nameNode  struct {
		name string
		pos  int
	}
	listNode struct{ items []node }
	dictNode struct{ keys, vals []node }
	attrNode struct {
		x    node
		name string
	}
	itemNode  struct{ x, key node }
	sliceNode struct {
		x            node
		lo, hi, step node
	}
	callNode struct {
		fn   node
		args []node
		kwN  []string
		kwV  []node
		pos  int
	}
	filterNode struct {
		x    node
		name string
		args []node
		kwN  []string
		kwV  []node
		pos  int
	}
	testNode struct {
		x      node
		name   string
		args   []node
		negate bool
		pos    int
	}
	binNode struct {
		op   string
		l, r node
	}
	unaryNode struct {
		op string
		x  node
	}
	notNode     struct{ x node }
	andNode     struct{ l, r node }
	orNode      struct{ l, r node }
	compareNode struct {
		first node
		ops   []string
		rest  []node
	}
	condNode struct{ cond, then, els node }
)

// Statement nodes.
type (
	stmt     interface{}
	textStmt struct{ s string }
	outStmt  struct{ x node }
	ifStmt   struct {
		conds  []node
		bodies [][]stmt
		els    []stmt
	}
	forStmt struct {
		targets []string
		iter    node
		cond    node
		body    []stmt
		els     []stmt
	}
	setStmt struct {
		targets []string
		x       node
	}
)

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errTok(t token, msg string) *SyntaxError {
	return newSyntaxError(p.src, t.pos, t.text, msg)
}

func (p *parser) isOp(s string) bool   { t := p.peek(); return t.kind == tOp && t.text == s }
func (p *parser) isName(s string) bool { t := p.peek(); return t.kind == tName && t.text == s }

func (p *parser) expectOp(s string) *SyntaxError {
	if !p.isOp(s) {
		return p.errTok(p.peek(), fmt.Sprintf("expected '%s'", s))
	}
	p.advance()
	return nil
}

// template parses statements until one of the end tags (a {% name %} block
// whose name is in ends) or the end of input.
func (p *parser) template(ends ...string) ([]stmt, string, *SyntaxError) {
	var out []stmt
	for {
		t := p.peek()
		switch t.kind {
		case tEOF:
			if len(ends) > 0 {
				return nil, "", p.errTok(t, fmt.Sprintf("missing {%% %s %%}", ends[len(ends)-1]))
			}
			return out, "", nil
		case tText:
			p.advance()
			out = append(out, &textStmt{s: t.text})
		case tVarBegin:
			p.advance()
			x, err := p.expr()
			if err != nil {
				return nil, "", err
			}
			if p.peek().kind != tVarEnd {
				return nil, "", p.errTok(p.peek(), "expected '}}'")
			}
			p.advance()
			out = append(out, &outStmt{x: x})
		case tBlockBegin:
			name := p.peekAt(1)
			if name.kind != tName {
				return nil, "", p.errTok(name, "expected a tag name")
			}
			for _, e := range ends {
				if name.text == e {
					p.advance()
					p.advance()
					return out, e, nil
				}
			}
			p.advance()
			p.advance()
			s, err := p.block(name)
			if err != nil {
				return nil, "", err
			}
			out = append(out, s)
		default:
			return nil, "", p.errTok(t, "unexpected token")
		}
	}
}

func (p *parser) endTag() *SyntaxError {
	if p.peek().kind != tBlockEnd {
		return p.errTok(p.peek(), "expected '%}'")
	}
	p.advance()
	return nil
}

func (p *parser) block(name token) (stmt, *SyntaxError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errTok(name, "blocks are nested too deeply")
	}
	switch name.text {
	case "if":
		s := &ifStmt{}
		for {
			cond, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.endTag(); err != nil {
				return nil, err
			}
			body, end, err := p.template("elif", "else", "endif")
			if err != nil {
				return nil, err
			}
			s.conds = append(s.conds, cond)
			s.bodies = append(s.bodies, body)
			switch end {
			case "elif":
				continue
			case "else":
				if err := p.endTag(); err != nil {
					return nil, err
				}
				if s.els, _, err = p.template("endif"); err != nil {
					return nil, err
				}
			}
			return s, p.endTag()
		}
	case "for":
		s := &forStmt{}
		for {
			t := p.advance()
			if t.kind != tName {
				return nil, p.errTok(t, "expected a loop variable name")
			}
			s.targets = append(s.targets, t.text)
			if !p.isOp(",") {
				break
			}
			p.advance()
		}
		if !p.isName("in") {
			return nil, p.errTok(p.peek(), "expected 'in'")
		}
		p.advance()
		var err *SyntaxError
		if s.iter, err = p.orExpr(); err != nil {
			return nil, err
		}
		if p.isName("if") {
			p.advance()
			if s.cond, err = p.orExpr(); err != nil {
				return nil, err
			}
		}
		if err := p.endTag(); err != nil {
			return nil, err
		}
		body, end, err := p.template("else", "endfor")
		if err != nil {
			return nil, err
		}
		s.body = body
		if end == "else" {
			if err := p.endTag(); err != nil {
				return nil, err
			}
			if s.els, _, err = p.template("endfor"); err != nil {
				return nil, err
			}
		}
		return s, p.endTag()
	case "set":
		s := &setStmt{}
		for {
			t := p.advance()
			if t.kind != tName {
				return nil, p.errTok(t, "expected a variable name")
			}
			s.targets = append(s.targets, t.text)
			if !p.isOp(",") {
				break
			}
			p.advance()
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.x = x
		return s, p.endTag()
	}
	return nil, p.errTok(name, fmt.Sprintf("unsupported tag %q (supported: if, elif, else, for, set, raw)", name.text))
}

// expr is a conditional expression: a if cond else b.
func (p *parser) expr() (node, *SyntaxError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errTok(p.peek(), fmt.Sprintf("expression is nested more than %d levels deep", maxDepth))
	}
	x, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		p.advance()
		cond, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		c := &condNode{cond: cond, then: x}
		if p.isName("else") {
			p.advance()
			if c.els, err = p.expr(); err != nil {
				return nil, err
			}
		}
		x = c
	}
	return x, nil
}

func (p *parser) orExpr() (node, *SyntaxError) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		p.advance()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &orNode{l: l, r: r}
	}
	return l, nil
}

func (p *parser) andExpr() (node, *SyntaxError) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		p.advance()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &andNode{l: l, r: r}
	}
	return l, nil
}

func (p *parser) notExpr() (node, *SyntaxError) {
	if p.isName("not") {
		t := p.advance()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errTok(t, "expression is nested too deeply")
		}
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	}
	return p.compare()
}

var compareOps = map[string]bool{"==": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true}

func (p *parser) compare() (node, *SyntaxError) {
	first, err := p.math1()
	if err != nil {
		return nil, err
	}
	c := &compareNode{first: first}
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tOp && compareOps[t.text]:
			op = t.text
			p.advance()
		case t.kind == tName && t.text == "in":
			op = "in"
			p.advance()
		case t.kind == tName && t.text == "not" && p.peekAt(1).kind == tName && p.peekAt(1).text == "in":
			op = "not in"
			p.advance()
			p.advance()
		default:
			if len(c.ops) == 0 {
				return first, nil
			}
			return c, nil
		}
		r, err := p.math1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
}

func (p *parser) math1() (node, *SyntaxError) {
	l, err := p.concat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.advance().text
		r, err := p.concat()
		if err != nil {
			return nil, err
		}
		l = &binNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) concat() (node, *SyntaxError) {
	l, err := p.math2()
	if err != nil {
		return nil, err
	}
	for p.isOp("~") {
		p.advance()
		r, err := p.math2()
		if err != nil {
			return nil, err
		}
		l = &binNode{op: "~", l: l, r: r}
	}
	return l, nil
}

func (p *parser) math2() (node, *SyntaxError) {
	l, err := p.pow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.advance().text
		r, err := p.pow()
		if err != nil {
			return nil, err
		}
		l = &binNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) pow() (node, *SyntaxError) {
	l, err := p.unary(true)
	if err != nil {
		return nil, err
	}
	for p.isOp("**") {
		p.advance()
		r, err := p.unary(true)
		if err != nil {
			return nil, err
		}
		l = &binNode{op: "**", l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary(withFilter bool) (node, *SyntaxError) {
	var x node
	if p.isOp("-") || p.isOp("+") {
		op := p.advance()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errTok(op, "expression is nested too deeply")
		}
		inner, err := p.unary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryNode{op: op.text, x: inner}
	} else {
		var err *SyntaxError
		if x, err = p.primary(); err != nil {
			return nil, err
		}
	}
	x, err := p.postfix(x)
	if err != nil {
		return nil, err
	}
	if withFilter {
		return p.filters(x)
	}
	return x, nil
}

func (p *parser) primary() (node, *SyntaxError) {
	t := p.advance()
	switch t.kind {
	case tName:
		switch t.text {
		case "true", "True":
			return &constNode{v: true}, nil
		case "false", "False":
			return &constNode{v: false}, nil
		case "none", "None":
			return &constNode{v: nil}, nil
		}
		return &nameNode{name: t.text, pos: t.pos}, nil
	case tString:
		s := t.str
		for p.peek().kind == tString {
			s += p.advance().str
		}
		return &constNode{v: s}, nil
	case tInt, tFloat:
		return &constNode{v: t.num}, nil
	case tOp:
		switch t.text {
		case "(":
			if p.isOp(")") {
				p.advance()
				return &listNode{}, nil
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				tuple := &listNode{items: []node{x}}
				for p.isOp(",") {
					p.advance()
					if p.isOp(")") {
						break
					}
					it, err := p.expr()
					if err != nil {
						return nil, err
					}
					tuple.items = append(tuple.items, it)
				}
				x = tuple
			}
			return x, p.expectOp(")")
		case "[":
			l := &listNode{}
			for !p.isOp("]") {
				it, err := p.expr()
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, it)
				if !p.isOp(",") {
					break
				}
				p.advance()
			}
			return l, p.expectOp("]")
		case "{":
			d := &dictNode{}
			for !p.isOp("}") {
				k, err := p.expr()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
				if !p.isOp(",") {
					break
				}
				p.advance()
			}
			return d, p.expectOp("}")
		}
	case tVarEnd, tBlockEnd, tEOF:
		return nil, p.errTok(t, "expected a value")
	}
	return nil, p.errTok(t, "unexpected token")
}

func (p *parser) postfix(x node) (node, *SyntaxError) {
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		switch t.text {
		case ".":
			p.advance()
			n := p.advance()
			switch n.kind {
			case tName:
				x = &attrNode{x: x, name: n.text}
			case tInt:
				x = &itemNode{x: x, key: &constNode{v: n.num}}
			default:
				return nil, p.errTok(n, "expected an attribute name after '.'")
			}
		case "[":
			p.advance()
			var err *SyntaxError
			if x, err = p.subscript(x); err != nil {
				return nil, err
			}
		case "(":
			var err *SyntaxError
			if x, err = p.call(x, t.pos); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

func (p *parser) subscript(x node) (node, *SyntaxError) {
	var parts [3]node
	n := 0
	isSlice := false
	for {
		if p.isOp(":") {
			isSlice = true
			p.advance()
			n++
			if n > 2 {
				return nil, p.errTok(p.peek(), "a slice has at most three parts")
			}
			continue
		}
		if p.isOp("]") {
			break
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		parts[n] = v
		if !p.isOp(":") {
			break
		}
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	if !isSlice {
		if parts[0] == nil {
			return nil, p.errTok(p.peek(), "expected a subscript")
		}
		return &itemNode{x: x, key: parts[0]}, nil
	}
	return &sliceNode{x: x, lo: parts[0], hi: parts[1], step: parts[2]}, nil
}

// args parses "(a, b, name=c)".
func (p *parser) args() ([]node, []string, []node, *SyntaxError) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, nil, err
	}
	var args, kwV []node
	var kwN []string
	for !p.isOp(")") {
		if p.peek().kind == tName && p.peekAt(1).kind == tOp && p.peekAt(1).text == "=" {
			name := p.advance().text
			p.advance()
			v, err := p.expr()
			if err != nil {
				return nil, nil, nil, err
			}
			kwN = append(kwN, name)
			kwV = append(kwV, v)
		} else {
			if len(kwN) > 0 {
				return nil, nil, nil, p.errTok(p.peek(), "a positional argument cannot follow a keyword argument")
			}
			v, err := p.expr()
			if err != nil {
				return nil, nil, nil, err
			}
			args = append(args, v)
		}
		if !p.isOp(",") {
			break
		}
		p.advance()
	}
	return args, kwN, kwV, p.expectOp(")")
}

func (p *parser) call(fn node, pos int) (node, *SyntaxError) {
	args, kwN, kwV, err := p.args()
	if err != nil {
		return nil, err
	}
	return &callNode{fn: fn, args: args, kwN: kwN, kwV: kwV, pos: pos}, nil
}

func (p *parser) filters(x node) (node, *SyntaxError) {
	for {
		switch {
		case p.isOp("|"):
			p.advance()
			name := p.advance()
			if name.kind != tName {
				return nil, p.errTok(name, "expected a filter name after '|'")
			}
			f := &filterNode{x: x, name: name.text, pos: name.pos}
			for p.isOp(".") {
				p.advance()
				part := p.advance()
				if part.kind != tName {
					return nil, p.errTok(part, "expected a name")
				}
				f.name += "." + part.text
			}
			if p.isOp("(") {
				var err *SyntaxError
				if f.args, f.kwN, f.kwV, err = p.args(); err != nil {
					return nil, err
				}
			}
			x = f
		case p.isName("is"):
			p.advance()
			t := &testNode{x: x}
			if p.isName("not") {
				p.advance()
				t.negate = true
			}
			name := p.advance()
			if name.kind != tName {
				return nil, p.errTok(name, "expected a test name after 'is'")
			}
			t.name, t.pos = name.text, name.pos
			if p.isOp("(") {
				args, _, _, err := p.args()
				if err != nil {
					return nil, err
				}
				t.args = args
			} else if nt := p.peek(); nt.kind == tString || nt.kind == tInt || nt.kind == tFloat || (nt.kind == tName && !keywordStopsTest[nt.text]) {
				arg, err := p.unary(true)
				if err != nil {
					return nil, err
				}
				t.args = []node{arg}
			}
			x = t
		case p.isOp("("):
			var err *SyntaxError
			if x, err = p.call(x, p.peek().pos); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

// keywordStopsTest are names after a test that end it rather than being
// its argument.
var keywordStopsTest = map[string]bool{"and": true, "or": true, "else": true, "if": true, "is": true, "in": true, "not": true}
