package yaql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF     tokKind = iota
	tNumber          // 12, 1.5
	tString          // 'a', "a", `a`
	tKeyword         // an identifier: a string constant or a parameter name
	tFunc            // an identifier directly followed by '('; the '(' is consumed
	tDollar          // $, $1, $name
	tOp              // an operator symbol or keyword operator
	tMapping         // =>
	tLParen
	tRParen
	tLBracket
	tRBracket
	tLBrace
	tRBrace
	tComma
	tTrue
	tFalse
	tNull
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the expression
	text string // the source text of the token
	str  string // decoded string, identifier, operator, variable name
	num  any    // int64 or float64 for tNumber
}

// keywordOps are the operators spelled as words.
var keywordOps = map[string]bool{"and": true, "or": true, "not": true, "in": true, "mod": true}

// symbolOps are the operators spelled with symbols, longest first so that
// the lexer takes ">=" before ">".
var symbolOps = []string{"=>", "->", "?.", "=~", "!~", ">=", "<=", "!=", "=", ">", "<", ".", "+", "-", "*", "/"}

// maxTokens bounds the tokens of one expression.
const maxTokens = 20000

type lexer struct {
	src  string
	pos  int
	toks []token
}

// lex splits src into tokens. It stops at the first character that starts
// no token.
func lex(src string) ([]token, *SyntaxError) {
	l := &lexer{src: src}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
		if len(l.toks) > maxTokens {
			// Chains (a.b.c..., 1+1+1...) nest the tree one level per
			// operator: bounding the tokens bounds the evaluation's depth.
			return nil, l.errAt(t.pos, fmt.Sprintf("expression has more than %d tokens", maxTokens))
		}
	}
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (l *lexer) errAt(pos int, msg string) *SyntaxError {
	return newSyntaxError(l.src, pos, tokenText(l.src, pos), msg)
}

func (l *lexer) next() (token, *SyntaxError) {
	src := l.src
	for l.pos < len(src) {
		c := src[l.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := src[l.pos]
	switch {
	case c == '$':
		l.pos++
		for l.pos < len(src) {
			r, size := utf8.DecodeRuneInString(src[l.pos:])
			if !isIdentChar(r) {
				break
			}
			l.pos += size
		}
		return token{kind: tDollar, pos: start, text: src[start:l.pos], str: src[start+1 : l.pos]}, nil
	case c >= '0' && c <= '9':
		return l.number(start)
	case c == '\'' || c == '"':
		return l.quoted(start, c)
	case c == '`':
		return l.verbatim(start)
	case c == '(':
		l.pos++
		return token{kind: tLParen, pos: start, text: "("}, nil
	case c == ')':
		l.pos++
		return token{kind: tRParen, pos: start, text: ")"}, nil
	case c == '[':
		l.pos++
		return token{kind: tLBracket, pos: start, text: "["}, nil
	case c == ']':
		l.pos++
		return token{kind: tRBracket, pos: start, text: "]"}, nil
	case c == '{':
		l.pos++
		return token{kind: tLBrace, pos: start, text: "{"}, nil
	case c == '}':
		l.pos++
		return token{kind: tRBrace, pos: start, text: "}"}, nil
	case c == ',':
		l.pos++
		return token{kind: tComma, pos: start, text: ","}, nil
	}
	r, _ := utf8.DecodeRuneInString(src[l.pos:])
	if isIdentStart(r) {
		for l.pos < len(src) {
			r, size := utf8.DecodeRuneInString(src[l.pos:])
			if !isIdentChar(r) {
				break
			}
			l.pos += size
		}
		word := src[start:l.pos]
		if keywordOps[word] {
			// "not(x)" reads as the operator applied to a parenthesised
			// operand, not as a call of a function named "not".
			return token{kind: tOp, pos: start, text: word, str: word}, nil
		}
		if l.pos < len(src) && src[l.pos] == '(' {
			l.pos++
			return token{kind: tFunc, pos: start, text: word, str: word}, nil
		}
		switch word {
		case "true":
			return token{kind: tTrue, pos: start, text: word}, nil
		case "false":
			return token{kind: tFalse, pos: start, text: word}, nil
		case "null":
			return token{kind: tNull, pos: start, text: word}, nil
		}
		if strings.HasPrefix(word, "__") {
			return token{}, l.errAt(start, "a keyword may not start with two underscores")
		}
		return token{kind: tKeyword, pos: start, text: word, str: word}, nil
	}
	for _, op := range symbolOps {
		if strings.HasPrefix(src[l.pos:], op) {
			l.pos += len(op)
			if op == "=>" {
				return token{kind: tMapping, pos: start, text: op, str: op}, nil
			}
			return token{kind: tOp, pos: start, text: op, str: op}, nil
		}
	}
	return token{}, l.errAt(start, "unexpected character")
}

func (l *lexer) number(start int) (token, *SyntaxError) {
	src := l.src
	for l.pos < len(src) && src[l.pos] >= '0' && src[l.pos] <= '9' {
		l.pos++
	}
	isFloat := false
	if l.pos+1 < len(src) && src[l.pos] == '.' && src[l.pos+1] >= '0' && src[l.pos+1] <= '9' {
		isFloat = true
		l.pos++
		for l.pos < len(src) && src[l.pos] >= '0' && src[l.pos] <= '9' {
			l.pos++
		}
	}
	text := src[start:l.pos]
	if l.pos < len(src) {
		if r, _ := utf8.DecodeRuneInString(src[l.pos:]); isIdentChar(r) {
			return token{}, l.errAt(start, "a number runs into a name")
		}
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, l.errAt(start, "bad number")
		}
		return token{kind: tNumber, pos: start, text: text, num: f}, nil
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return token{}, l.errAt(start, "integer out of range (at most 9223372036854775807)")
	}
	return token{kind: tNumber, pos: start, text: text, num: i}, nil
}

func (l *lexer) quoted(start int, q byte) (token, *SyntaxError) {
	src := l.src
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(src) {
			return token{}, l.errAt(start, "string is not closed")
		}
		c := src[l.pos]
		if c == q {
			l.pos++
			return token{kind: tString, pos: start, text: src[start:l.pos], str: b.String()}, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			l.pos++
			continue
		}
		if l.pos+1 >= len(src) {
			return token{}, l.errAt(start, "string is not closed")
		}
		l.pos += l.escape(&b)
	}
}

// escape decodes the escape sequence at l.pos (which is a backslash) into
// b, as Python's unicode-escape codec does, and returns its length. An
// unknown escape is kept as written.
func (l *lexer) escape(b *strings.Builder) int {
	s := l.src[l.pos:]
	switch s[1] {
	case '\\', '\'', '"':
		b.WriteByte(s[1])
		return 2
	case 'n':
		b.WriteByte('\n')
		return 2
	case 't':
		b.WriteByte('\t')
		return 2
	case 'r':
		b.WriteByte('\r')
		return 2
	case 'a':
		b.WriteByte('\a')
		return 2
	case 'b':
		b.WriteByte('\b')
		return 2
	case 'f':
		b.WriteByte('\f')
		return 2
	case 'v':
		b.WriteByte('\v')
		return 2
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[1]]
		if len(s) >= 2+n {
			if v, err := strconv.ParseUint(s[2:2+n], 16, 32); err == nil && v <= unicode.MaxRune {
				b.WriteRune(rune(v))
				return 2 + n
			}
		}
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := 1
		for n < 3 && 1+n < len(s) && s[1+n] >= '0' && s[1+n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(s[1:1+n], 8, 32)
		b.WriteRune(rune(v))
		return 1 + n
	}
	b.WriteString(s[:2])
	return 2
}

func (l *lexer) verbatim(start int) (token, *SyntaxError) {
	src := l.src
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(src) {
			return token{}, l.errAt(start, "string is not closed")
		}
		c := src[l.pos]
		if c == '`' {
			l.pos++
			return token{kind: tString, pos: start, text: src[start:l.pos], str: b.String()}, nil
		}
		if c == '\\' && l.pos+1 < len(src) && src[l.pos+1] == '`' {
			b.WriteByte('`')
			l.pos += 2
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
}
