package yaql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is an expression that does not parse. It names where: the
// byte offset, the line and column (expressions from YAML may span lines)
// and the token found there.
type SyntaxError struct {
	Pos    int    // byte offset of the offending token, 0-based
	Line   int    // 1-based
	Column int    // 1-based, in characters
	Token  string // the offending token's text, or "" at the end
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("position %d", e.Pos)
	if e.Line > 1 {
		where = fmt.Sprintf("line %d column %d", e.Line, e.Column)
	}
	if e.Token == "" {
		return fmt.Sprintf("yaql syntax error at %s (end of expression): %s", where, e.Msg)
	}
	return fmt.Sprintf("yaql syntax error at %s near %q: %s", where, e.Token, e.Msg)
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

// tokenText is a short excerpt of src at pos, for errors raised before a
// token could be formed.
func tokenText(src string, pos int) string {
	if pos >= len(src) {
		return ""
	}
	end := pos
	for end < len(src) && end-pos < 20 {
		c := src[end]
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			break
		}
		end++
	}
	if end == pos {
		end = pos + 1
	}
	for end < len(src) && !utf8.RuneStart(src[end]) {
		end++
	}
	return src[pos:end]
}

// EvalError is an expression that parsed but could not be evaluated. Op
// names the function or operator that failed; Msg says why, naming types
// and keys but never dumping the data the expression ran on.
type EvalError struct {
	Op  string
	Msg string
}

func (e *EvalError) Error() string {
	if e.Op == "" {
		return e.Msg
	}
	return e.Op + ": " + e.Msg
}

func evalErr(op, format string, args ...any) *EvalError {
	return &EvalError{Op: op, Msg: fmt.Sprintf(format, args...)}
}
