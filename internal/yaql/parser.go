package yaql

import "fmt"

// Limits of the parser: a deeper or larger expression is refused, so that
// neither parsing nor evaluating it can exhaust the stack.
const (
	maxParseDepth = 200
	maxExprBytes  = 1 << 20
)

// Binding powers, from loosest to tightest, as YAQL's default operator
// table orders them (yaql/language/factory.py).
const (
	bpArrow   = 1  // ->, right associative
	bpOr      = 2  // or
	bpAnd     = 3  // and
	bpNot     = 4  // prefix not
	bpCompare = 5  // = != < > <= >= in
	bpAdd     = 6  // + -
	bpMul     = 7  // * / mod
	bpRegex   = 8  // =~ !~
	bpUnary   = 9  // prefix + -
	bpIndex   = 10 // x[...]
	bpDot     = 11 // . ?.
)

var binaryBP = map[string]int{
	"->": bpArrow, "or": bpOr, "and": bpAnd,
	"=": bpCompare, "!=": bpCompare, "<": bpCompare, ">": bpCompare, "<=": bpCompare, ">=": bpCompare, "in": bpCompare,
	"+": bpAdd, "-": bpAdd, "*": bpMul, "/": bpMul, "mod": bpMul, "=~": bpRegex, "!~": bpRegex,
	".": bpDot, "?.": bpDot,
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// parse turns src into a syntax tree. Function names are not resolved yet.
func parse(src string) (node, *SyntaxError) {
	if len(src) > maxExprBytes {
		return nil, newSyntaxError(src, 0, "", fmt.Sprintf("expression is longer than %d bytes", maxExprBytes))
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errTok(p.peek(), "empty expression")
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errTok(t, "unexpected token after a complete expression (a missing operator?)")
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

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

func (p *parser) expect(k tokKind, what string) (token, *SyntaxError) {
	t := p.peek()
	if t.kind != k {
		if t.kind == tEOF {
			return t, p.errTok(t, "expected "+what+" before the end of the expression")
		}
		return t, p.errTok(t, "expected "+what)
	}
	return p.advance(), nil
}

// expr parses an expression whose operators bind at least as tightly as
// minBP (precedence climbing over YAQL's operator table).
func (p *parser) expr(minBP int) (node, *SyntaxError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxParseDepth {
		return nil, p.errTok(p.peek(), fmt.Sprintf("expression is nested more than %d levels deep", maxParseDepth))
	}
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch t.kind {
		case tLBracket:
			if bpIndex < minBP {
				return left, nil
			}
			p.advance()
			args, err := p.args(tRBracket, "]")
			if err != nil {
				return nil, err
			}
			if len(args) == 0 {
				return nil, p.errTok(t, "an index needs a value inside [ ]")
			}
			idx := &indexNode{target: left, pos: t.pos}
			for _, a := range args {
				if a.key != nil || a.val == nil {
					return nil, newSyntaxError(p.src, a.pos, "", "an index takes plain values, not skipped or named ones")
				}
				idx.args = append(idx.args, a.val)
			}
			if len(idx.args) > 2 {
				return nil, p.errTok(t, "an index takes a key and at most a default value")
			}
			left = idx
		case tOp:
			bp, ok := binaryBP[t.str]
			if !ok {
				// "not" is only a prefix operator.
				return nil, p.errTok(t, "unexpected operator")
			}
			if bp < minBP {
				return left, nil
			}
			p.advance()
			if t.str == "." || t.str == "?." {
				left, err = p.member(left, t)
				if err != nil {
					return nil, err
				}
				continue
			}
			next := bp + 1
			if t.str == "->" {
				next = bp // right associative
			}
			right, err := p.expr(next)
			if err != nil {
				return nil, err
			}
			left = newBinary(t.str, left, right, t.pos)
		case tMapping:
			return left, nil
		default:
			return left, nil
		}
	}
}

// member parses what follows "." or "?.": an attribute name or a method
// call.
func (p *parser) member(recv node, op token) (node, *SyntaxError) {
	safe := op.str == "?."
	t := p.advance()
	switch t.kind {
	case tKeyword, tString:
		return &attrNode{recv: recv, name: t.str, safe: safe, pos: t.pos}, nil
	case tFunc:
		args, err := p.args(tRParen, ")")
		if err != nil {
			return nil, err
		}
		return &callNode{name: t.str, pos: t.pos, recv: recv, safe: safe, args: args}, nil
	case tEOF:
		return nil, p.errTok(t, "expected a name or a method call after '"+op.str+"' before the end of the expression")
	}
	return nil, p.errTok(t, "expected a name or a method call after '"+op.str+"'")
}

func (p *parser) prefix() (node, *SyntaxError) {
	t := p.advance()
	switch t.kind {
	case tNumber:
		return &constNode{v: t.num}, nil
	case tString:
		return &constNode{v: t.str}, nil
	case tTrue:
		return &constNode{v: true}, nil
	case tFalse:
		return &constNode{v: false}, nil
	case tNull:
		return &constNode{v: nil}, nil
	case tKeyword:
		return &keywordNode{name: t.str, pos: t.pos}, nil
	case tDollar:
		return newVar(t.str), nil
	case tFunc:
		args, err := p.args(tRParen, ")")
		if err != nil {
			return nil, err
		}
		return &callNode{name: t.str, pos: t.pos, args: args}, nil
	case tLParen:
		n, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return n, nil
	case tLBracket:
		args, err := p.args(tRBracket, "]")
		if err != nil {
			return nil, err
		}
		l := &listNode{}
		for _, a := range args {
			if a.key != nil || a.val == nil {
				return nil, newSyntaxError(p.src, a.pos, "", "a list holds plain values, not skipped or named ones")
			}
			l.items = append(l.items, a.val)
		}
		return l, nil
	case tLBrace:
		args, err := p.args(tRBrace, "}")
		if err != nil {
			return nil, err
		}
		m := &mapNode{}
		for _, a := range args {
			if a.key == nil {
				return nil, newSyntaxError(p.src, a.pos, "", "a dict holds key => value pairs")
			}
			m.keys = append(m.keys, a.key)
			m.vals = append(m.vals, a.val)
		}
		return m, nil
	case tOp:
		switch t.str {
		case "-", "+":
			x, err := p.expr(bpUnary)
			if err != nil {
				return nil, err
			}
			if c, ok := x.(*constNode); ok && t.str == "-" {
				switch v := c.v.(type) {
				case int64:
					return &constNode{v: -v}, nil
				case float64:
					return &constNode{v: -v}, nil
				}
			}
			return &unaryNode{op: t.str, x: x, pos: t.pos}, nil
		case "not":
			x, err := p.expr(bpNot)
			if err != nil {
				return nil, err
			}
			return &notNode{x: x}, nil
		}
		return nil, p.errTok(t, "an operator needs a value on its left")
	case tMapping:
		return nil, p.errTok(t, "'=>' is only allowed between a name and a value in function arguments and dicts")
	case tEOF:
		return nil, p.errTok(t, "expected a value before the end of the expression")
	}
	return nil, p.errTok(t, "expected a value")
}

// args parses a comma-separated argument list up to the closing token:
// values, skipped positions (f(1,,3)) and name => value pairs.
func (p *parser) args(closer tokKind, closerText string) ([]argNode, *SyntaxError) {
	var args []argNode
	if p.peek().kind == closer {
		p.advance()
		return nil, nil
	}
	for {
		t := p.peek()
		if t.kind == tComma {
			if closer != tRParen {
				return nil, p.errTok(t, "expected a value before ','")
			}
			p.advance()
			args = append(args, argNode{pos: t.pos})
			continue
		}
		v, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		a := argNode{val: v, pos: t.pos}
		if p.peek().kind == tMapping {
			p.advance()
			val, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			a.key, a.val = v, val
		}
		args = append(args, a)
		t = p.advance()
		switch t.kind {
		case tComma:
			if p.peek().kind == closer {
				return nil, p.errTok(p.peek(), "expected a value after ','")
			}
		case closer:
			return args, nil
		case tEOF:
			return nil, p.errTok(t, "expected ',' or '"+closerText+"' before the end of the expression")
		default:
			return nil, p.errTok(t, "expected ',' or '"+closerText+"'")
		}
	}
}
