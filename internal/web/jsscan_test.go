package web

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A small JavaScript tokenizer, enough for the checks in i18n_test.go to
// read the messenger's modules as code rather than as text: comments are
// skipped, strings and template literals are whole tokens (a template's
// ${…} expressions tokenized in turn), and a slash starts a regular
// expression or divides as the token before it decides. It is written for
// this code base's modules (no JSX, no HTML comments), not for every
// script.

type tokKind int

const (
	tokIdent tokKind = iota
	tokNumber
	tokString   // '…' or "…": value is the text between the quotes, unescaped
	tokTemplate // `…`: parts are the static texts, exprs the ${…} token lists
	tokRegex
	tokPunct
)

type token struct {
	kind  tokKind
	value string
	parts []string  // tokTemplate: static texts, one more than exprs
	exprs [][]token // tokTemplate
	line  int
}

type lexer struct {
	src  string
	pos  int
	line int
}

func tokenize(src string) ([]token, error) {
	l := &lexer{src: src, line: 1}
	toks, err := l.tokens(false)
	if err != nil {
		return nil, err
	}
	return toks, nil
}

// tokens reads until the end, or, inside a template's ${…}, until its
// closing brace.
func (l *lexer) tokens(inTemplate bool) ([]token, error) {
	var out []token
	depth := 0
	for {
		l.skipSpace()
		if l.pos >= len(l.src) {
			if inTemplate {
				return nil, fmt.Errorf("line %d: unterminated ${", l.line)
			}
			return out, nil
		}
		c := l.src[l.pos]
		switch {
		case c == '\'' || c == '"':
			s, err := l.str(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case c == '`':
			t, err := l.template()
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case c == '/' && regexAllowed(out):
			r, err := l.regex()
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case isIdentStart(c):
			start := l.pos
			for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
				l.pos++
			}
			out = append(out, token{kind: tokIdent, value: l.src[start:l.pos], line: l.line})
		case c >= '0' && c <= '9' || c == '.' && l.pos+1 < len(l.src) && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9':
			start := l.pos
			for l.pos < len(l.src) && (isIdentPart(l.src[l.pos]) || l.src[l.pos] == '.') {
				l.pos++
			}
			out = append(out, token{kind: tokNumber, value: l.src[start:l.pos], line: l.line})
		default:
			if inTemplate && c == '}' && depth == 0 {
				l.pos++
				return out, nil
			}
			if c == '{' {
				depth++
			} else if c == '}' {
				depth--
			}
			// Punctuation, longest first for the few that matter here.
			p := string(c)
			for _, long := range []string{"=>", "?.", "??", "===", "!==", "==", "!=", "&&", "||", "..."} {
				if strings.HasPrefix(l.src[l.pos:], long) {
					p = long
					break
				}
			}
			l.pos += len(p)
			out = append(out, token{kind: tokPunct, value: p, line: l.line})
		}
	}
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				l.pos = len(l.src)
				return
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		default:
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !unicode.IsSpace(r) {
				return
			}
			l.pos += size
		}
	}
}

func (l *lexer) str(quote byte) (token, error) {
	line := l.line
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
		case c == quote:
			l.pos++
			return token{kind: tokString, value: b.String(), line: line}, nil
		case c == '\n':
			return token{}, fmt.Errorf("line %d: newline in a string", l.line)
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, fmt.Errorf("line %d: unterminated string", line)
}

func (l *lexer) template() (token, error) {
	t := token{kind: tokTemplate, line: l.line}
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
		case c == '`':
			l.pos++
			t.parts = append(t.parts, b.String())
			return t, nil
		case c == '$' && strings.HasPrefix(l.src[l.pos:], "${"):
			t.parts = append(t.parts, b.String())
			b.Reset()
			l.pos += 2
			expr, err := l.tokens(true)
			if err != nil {
				return token{}, err
			}
			t.exprs = append(t.exprs, expr)
		default:
			if c == '\n' {
				l.line++
			}
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, fmt.Errorf("line %d: unterminated template", t.line)
}

func (l *lexer) regex() (token, error) {
	line := l.line
	start := l.pos
	l.pos++
	class := false
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\':
			l.pos += 2
			continue
		case c == '[':
			class = true
		case c == ']':
			class = false
		case c == '/' && !class:
			l.pos++
			for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
				l.pos++ // flags
			}
			return token{kind: tokRegex, value: l.src[start:l.pos], line: line}, nil
		case c == '\n':
			return token{}, fmt.Errorf("line %d: newline in a regular expression", line)
		}
		l.pos++
	}
	return token{}, fmt.Errorf("line %d: unterminated regular expression", line)
}

// regexAllowed: a slash after a value divides; after an operator, a
// keyword such as return, or nothing, it starts a regular expression.
func regexAllowed(before []token) bool {
	if len(before) == 0 {
		return true
	}
	t := before[len(before)-1]
	switch t.kind {
	case tokNumber, tokString, tokTemplate, tokRegex:
		return false
	case tokIdent:
		switch t.value {
		case "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "instanceof", "yield", "await":
			return true
		}
		return false
	}
	return t.value != ")" && t.value != "]" && t.value != "}"
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// walk calls fn for every token, and for the tokens of every template's
// ${…} expressions, depth first.
func walk(toks []token, fn func(toks []token, i int)) {
	for i, t := range toks {
		fn(toks, i)
		if t.kind == tokTemplate {
			for _, e := range t.exprs {
				walk(e, fn)
			}
		}
	}
}

// callArgs returns the arguments of the call whose "(" is at toks[open],
// each a token list, and the index after its ")".
func callArgs(toks []token, open int) ([][]token, int) {
	var args [][]token
	var cur []token
	depth := 0
	for i := open + 1; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tokPunct {
			switch t.value {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					if len(cur) > 0 {
						args = append(args, cur)
					}
					return args, i + 1
				}
				depth--
			case ",":
				if depth == 0 {
					args = append(args, cur)
					cur = nil
					continue
				}
			}
		}
		cur = append(cur, t)
	}
	return args, len(toks)
}

// shownLiterals are the string and template tokens of an expression whose
// value may reach the page as they are: those not inside a call's
// arguments (t('key') is a call), an object, or a function. Brackets,
// grouping parentheses, ternaries and && or || pass them through.
func shownLiterals(expr []token) []token {
	var out []token
	var stack []bool // true: opaque
	opaque := func() bool {
		for _, o := range stack {
			if o {
				return true
			}
		}
		return false
	}
	for i, t := range expr {
		if t.kind == tokPunct {
			switch t.value {
			case "(":
				call := i > 0 && (expr[i-1].kind == tokIdent || expr[i-1].value == ")" || expr[i-1].value == "]")
				stack = append(stack, call)
				continue
			case "[":
				// An array a method is called on (['a', 'b'].map(…)) is
				// data for the method, not the value.
				end := closing(expr, i)
				stack = append(stack, end+1 < len(expr) && (expr[end+1].value == "." || expr[end+1].value == "?."))
				continue
			case "{":
				stack = append(stack, true)
				continue
			case ")", "]", "}":
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				continue
			case "=>":
				return out // a function's body is its own business
			}
		}
		if (t.kind == tokString || t.kind == tokTemplate) && !opaque() && !compared(expr, i) {
			out = append(out, t)
		}
	}
	return out
}

// closing is the index of the bracket that closes the one at expr[open].
func closing(expr []token, open int) int {
	depth := 0
	for i := open; i < len(expr); i++ {
		if expr[i].kind != tokPunct {
			continue
		}
		switch expr[i].value {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(expr)
}

// compared says whether the literal at expr[i] is an operand of a
// comparison (status === 'active'): a value tested, not shown.
func compared(expr []token, i int) bool {
	op := func(t token) bool {
		return t.kind == tokPunct && slices.Contains([]string{"===", "!==", "==", "!=", "<", ">"}, t.value)
	}
	return i > 0 && op(expr[i-1]) || i+1 < len(expr) && op(expr[i+1])
}

// text is the words a literal puts on the page: a string's value, or a
// template's static parts.
func (t token) text() string {
	if t.kind == tokTemplate {
		return strings.Join(t.parts, " ")
	}
	return t.value
}
