package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tText
	tVarBegin   // {{
	tVarEnd     // }}
	tBlockBegin // {%
	tBlockEnd   // %}
	tName
	tString
	tInt
	tFloat
	tOp // operators and punctuation
)

type token struct {
	kind tokKind
	pos  int
	text string // source text; the text of tText; the operator
	str  string // decoded string
	num  any
}

// Errors

// SyntaxError is a template or expression that does not parse, with the
// position, line and column and the token found there.
type SyntaxError struct {
	Pos    int
	Line   int
	Column int
	Token  string
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("position %d", e.Pos)
	if e.Line > 1 {
		where = fmt.Sprintf("line %d column %d", e.Line, e.Column)
	}
	if e.Token == "" {
		return fmt.Sprintf("jinja syntax error at %s: %s", where, e.Msg)
	}
	return fmt.Sprintf("jinja syntax error at %s near %q: %s", where, e.Token, e.Msg)
}

func newSyntaxError(src string, pos int, tok, msg string) *SyntaxError {
	if pos > len(src) {
		pos = len(src)
	}
	line := 1 + strings.Count(src[:pos], "\n")
	col := 1 + utf8.RuneCountInString(src[strings.LastIndexByte(src[:pos], '\n')+1:pos])
	if len(tok) > 40 {
		tok = tok[:40] + "..."
	}
	return &SyntaxError{Pos: pos, Line: line, Column: col, Token: tok, Msg: msg}
}

// ops are Jinja's operators, longest first.
var ops = []string{"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"}

// maxTagTokens bounds the tokens inside one tag.
const maxTagTokens = 20000

type lexer struct {
	src  string
	pos  int
	toks []token
	// trimNext strips the whitespace that starts the next text ("-}}").
	trimNext bool
	// trimNewline drops one newline that starts the next text (trim_blocks).
	trimNewline bool
}

// lexTemplate splits a template into text and the tokens of its tags, with
// Mistral's settings: trim_blocks and lstrip_blocks.
func lexTemplate(src string) ([]token, *SyntaxError) {
	l := &lexer{src: src}
	for l.pos < len(src) {
		i := nextTag(src, l.pos)
		if i < 0 {
			l.text(src[l.pos:], l.pos, false)
			l.pos = len(src)
			break
		}
		kind := src[i+1]
		lstripMe := i+2 < len(src) && src[i+2] == '-'
		text := src[l.pos:i]
		if lstripMe {
			text = strings.TrimRightFunc(text, unicode.IsSpace)
		} else if kind != '{' && !(i+2 < len(src) && src[i+2] == '+') {
			// lstrip_blocks: a block or comment tag alone after
			// indentation takes the indentation with it.
			if j := strings.LastIndexByte(text, '\n'); strings.Trim(text[j+1:], " \t") == "" {
				text = text[:j+1]
			}
		}
		l.text(text, l.pos, false)
		start := i
		l.pos = i + 2
		if lstripMe || (l.pos < len(src) && src[l.pos] == '+') {
			l.pos++
		}
		switch kind {
		case '#':
			end := strings.Index(src[l.pos:], "#}")
			if end < 0 {
				return nil, newSyntaxError(src, start, "{#", "comment is not closed with #}")
			}
			closeAt := l.pos + end
			l.trimNext = closeAt > 0 && src[closeAt-1] == '-'
			l.pos = closeAt + 2
			l.trimNewline = true
		case '{':
			l.toks = append(l.toks, token{kind: tVarBegin, pos: start, text: "{{"})
			if err := l.tag(start, "}}"); err != nil {
				return nil, err
			}
		case '%':
			if raw, ok := l.raw(start); ok {
				l.text(raw.text, raw.pos, true)
				continue
			}
			l.toks = append(l.toks, token{kind: tBlockBegin, pos: start, text: "{%"})
			if err := l.tag(start, "%}"); err != nil {
				return nil, err
			}
			l.trimNewline = true
		}
	}
	l.toks = append(l.toks, token{kind: tEOF, pos: len(src)})
	return l.toks, nil
}

// nextTag finds the next "{{", "{%" or "{#" from pos.
func nextTag(src string, pos int) int {
	for {
		i := strings.IndexByte(src[pos:], '{')
		if i < 0 || pos+i+1 >= len(src) {
			return -1
		}
		c := src[pos+i+1]
		if c == '{' || c == '%' || c == '#' {
			return pos + i
		}
		pos += i + 1
	}
}

func (l *lexer) text(s string, pos int, raw bool) {
	if !raw {
		if l.trimNext {
			n := len(s)
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
			pos += n - len(s)
		} else if l.trimNewline {
			if strings.HasPrefix(s, "\r\n") {
				s, pos = s[2:], pos+2
			} else if strings.HasPrefix(s, "\n") {
				s, pos = s[1:], pos+1
			}
		}
	}
	l.trimNext, l.trimNewline = false, false
	if s != "" {
		l.toks = append(l.toks, token{kind: tText, pos: pos, text: s})
	}
}

// raw handles {% raw %}...{% endraw %}: the text between is kept as it is.
func (l *lexer) raw(start int) (token, bool) {
	rest := l.src[l.pos:]
	body := strings.TrimLeft(rest, " \t\n-")
	if !strings.HasPrefix(body, "raw") {
		return token{}, false
	}
	after := strings.TrimLeft(body[3:], " \t\n-")
	if !strings.HasPrefix(after, "%}") {
		return token{}, false
	}
	open := len(l.src) - len(after) + 2
	end := strings.Index(l.src[open:], "endraw")
	if end < 0 {
		return token{}, false
	}
	tagStart := strings.LastIndex(l.src[open:open+end], "{%")
	if tagStart < 0 {
		return token{}, false
	}
	closeTag := strings.Index(l.src[open+end:], "%}")
	if closeTag < 0 {
		return token{}, false
	}
	text := l.src[open : open+tagStart]
	l.pos = open + end + closeTag + 2
	l.trimNewline = true
	return token{kind: tText, pos: open, text: text}, true
}

// tag lexes the inside of a {{ }} or {% %} tag up to its closer; braces
// inside must balance, so {{ {'a': {'b': 1}} }} ends at the last }}.
func (l *lexer) tag(start int, closer string) *SyntaxError {
	src := l.src
	depth := 0
	for n := 0; ; n++ {
		if n > maxTagTokens {
			// Chains nest the tree one level per operator: bounding the
			// tokens of a tag bounds the evaluation's depth.
			return newSyntaxError(src, start, src[start:start+2], fmt.Sprintf("tag has more than %d tokens", maxTagTokens))
		}
		for l.pos < len(src) && (src[l.pos] == ' ' || src[l.pos] == '\t' || src[l.pos] == '\n' || src[l.pos] == '\r') {
			l.pos++
		}
		if l.pos >= len(src) {
			return newSyntaxError(src, start, src[start:start+2], "tag is not closed with "+closer)
		}
		if depth == 0 {
			trim := src[l.pos] == '-' && strings.HasPrefix(src[l.pos+1:], closer)
			if trim || strings.HasPrefix(src[l.pos:], closer) {
				kind := tVarEnd
				if closer == "%}" {
					kind = tBlockEnd
				}
				if trim {
					l.pos++
					l.trimNext = true
				}
				l.toks = append(l.toks, token{kind: kind, pos: l.pos, text: closer})
				l.pos += 2
				return nil
			}
		}
		t, err := l.exprToken()
		if err != nil {
			return err
		}
		switch t.text {
		case "(", "[", "{":
			if t.kind == tOp {
				depth++
			}
		case ")", "]", "}":
			if t.kind == tOp && depth > 0 {
				depth--
			}
		}
		l.toks = append(l.toks, t)
	}
}

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isNameChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (l *lexer) exprToken() (token, *SyntaxError) {
	src := l.src
	start := l.pos
	c := src[l.pos]
	switch {
	case c >= '0' && c <= '9':
		for l.pos < len(src) && (src[l.pos] >= '0' && src[l.pos] <= '9' || src[l.pos] == '_') {
			l.pos++
		}
		isFloat := false
		if l.pos+1 < len(src) && src[l.pos] == '.' && src[l.pos+1] >= '0' && src[l.pos+1] <= '9' {
			isFloat = true
			l.pos++
			for l.pos < len(src) && (src[l.pos] >= '0' && src[l.pos] <= '9' || src[l.pos] == '_') {
				l.pos++
			}
		}
		if l.pos < len(src) && (src[l.pos] == 'e' || src[l.pos] == 'E') {
			j := l.pos + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && src[j] >= '0' && src[j] <= '9' {
				isFloat = true
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				l.pos = j
			}
		}
		text := src[start:l.pos]
		clean := strings.ReplaceAll(text, "_", "")
		if isFloat {
			f, err := strconv.ParseFloat(clean, 64)
			if err != nil {
				return token{}, newSyntaxError(src, start, text, "bad number")
			}
			return token{kind: tFloat, pos: start, text: text, num: f}, nil
		}
		i, err := strconv.ParseInt(clean, 10, 64)
		if err != nil {
			return token{}, newSyntaxError(src, start, text, "integer out of range")
		}
		return token{kind: tInt, pos: start, text: text, num: i}, nil
	case c == '\'' || c == '"':
		return l.quoted(start, c)
	}
	r, size := utf8.DecodeRuneInString(src[l.pos:])
	if isNameStart(r) {
		l.pos += size
		for l.pos < len(src) {
			r, size := utf8.DecodeRuneInString(src[l.pos:])
			if !isNameChar(r) {
				break
			}
			l.pos += size
		}
		return token{kind: tName, pos: start, text: src[start:l.pos]}, nil
	}
	for _, op := range ops {
		if strings.HasPrefix(src[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, pos: start, text: op}, nil
		}
	}
	end := start + size
	return token{}, newSyntaxError(src, start, src[start:end], "unexpected character")
}

func (l *lexer) quoted(start int, q byte) (token, *SyntaxError) {
	src := l.src
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(src) {
			return token{}, newSyntaxError(src, start, tokenText(src, start), "string is not closed")
		}
		c := src[l.pos]
		if c == q {
			l.pos++
			return token{kind: tString, pos: start, text: src[start:l.pos], str: b.String()}, nil
		}
		if c == '\\' && l.pos+1 < len(src) {
			l.pos++
			switch e := src[l.pos]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'u', 'x', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if l.pos+n < len(src) {
					if v, err := strconv.ParseUint(src[l.pos+1:l.pos+1+n], 16, 32); err == nil && v <= unicode.MaxRune {
						b.WriteRune(rune(v))
						l.pos += n + 1
						continue
					}
				}
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			l.pos++
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
}

func tokenText(src string, pos int) string {
	end := pos
	for end < len(src) && end-pos < 20 && src[end] != ' ' && src[end] != '\n' {
		end++
	}
	for end < len(src) && !utf8.RuneStart(src[end]) {
		end++
	}
	return src[pos:end]
}
