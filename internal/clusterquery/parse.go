package clusterquery

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest expression ECS accepts, in characters.
const MaxLen = 2000

// Error is a parse error: Offset is the byte offset (from 0) in the
// expression where the problem was found.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("at %d: %s", e.Offset, e.Msg) }

// Parse parses a cluster query language expression.
func Parse(expr string) (Expr, error) {
	if n := utf8.RuneCountInString(expr); n > MaxLen {
		return nil, &Error{Offset: 0, Msg: fmt.Sprintf("expression is %d characters long; at most %d are allowed", n, MaxLen)}
	}
	p := &parser{lx: lexer{src: expr}}
	p.advance()
	if p.tok.kind == tEOF {
		return nil, p.errf(p.tok.pos, "expected an expression")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected(`"and", "or" or the end of the expression`)
	}
	return e, nil
}

// Tokens.

type tokKind uint8

const (
	tEOF      tokKind = iota
	tErr              // a lexical error; lexer.err says which
	tWord             // an unquoted word
	tString           // a quoted value (text is unescaped)
	tLParen           // (
	tRParen           // )
	tLBrack           // [
	tRBrack           // ]
	tComma            // ,
	tEq               // ==
	tNe               // !=
	tGt               // >
	tGe               // >=
	tLt               // <
	tLe               // <=
	tMatch            // =~
	tNotMatch         // !~
	tBang             // !
	tAnd              // &&
	tOr               // ||
)

var symbolOps = map[tokKind]Op{
	tEq: OpEq, tNe: OpNe, tGt: OpGt, tGe: OpGe, tLt: OpLt, tLe: OpLe,
	tMatch: OpMatches, tNotMatch: OpNotMatches,
}

type token struct {
	kind tokKind
	text string // the value for words and strings, the source text otherwise
	pos  int
}

// describe names a token for "got ..." in messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString:
		return "quoted value " + strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// wordByte reports whether c may appear in an unquoted word.
func wordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v',
		'(', ')', '[', ']', ',', '\'', '"', '=', '!', '<', '>', '~', '&', '|':
		return false
	}
	return c >= 0x20 && c != 0x7f
}

type lexer struct {
	src string
	off int
	err *Error
}

func (l *lexer) next() token {
	for l.off < len(l.src) && strings.IndexByte(" \t\n\r\f\v", l.src[l.off]) >= 0 {
		l.off++
	}
	start := l.off
	if start == len(l.src) {
		return token{kind: tEOF, pos: start}
	}
	sym := func(k tokKind, n int) token {
		l.off += n
		return token{kind: k, text: l.src[start:l.off], pos: start}
	}
	peek := byte(0)
	if start+1 < len(l.src) {
		peek = l.src[start+1]
	}
	switch c := l.src[start]; c {
	case '(':
		return sym(tLParen, 1)
	case ')':
		return sym(tRParen, 1)
	case '[':
		return sym(tLBrack, 1)
	case ']':
		return sym(tRBrack, 1)
	case ',':
		return sym(tComma, 1)
	case '=':
		switch peek {
		case '=':
			return sym(tEq, 2)
		case '~':
			return sym(tMatch, 2)
		}
		return l.fail(start, `unexpected "="; did you mean "=="?`)
	case '!':
		switch peek {
		case '=':
			return sym(tNe, 2)
		case '~':
			return sym(tNotMatch, 2)
		}
		return sym(tBang, 1)
	case '>':
		if peek == '=' {
			return sym(tGe, 2)
		}
		return sym(tGt, 1)
	case '<':
		if peek == '=' {
			return sym(tLe, 2)
		}
		return sym(tLt, 1)
	case '&':
		if peek == '&' {
			return sym(tAnd, 2)
		}
		return l.fail(start, `unexpected "&"; did you mean "&&"?`)
	case '|':
		if peek == '|' {
			return sym(tOr, 2)
		}
		return l.fail(start, `unexpected "|"; did you mean "||"?`)
	case '~':
		return l.fail(start, `unexpected "~"; did you mean "=~" or "!~"?`)
	case '\'', '"':
		return l.quoted(c)
	default:
		if !wordByte(c) {
			return l.fail(start, fmt.Sprintf("unexpected character %q", rune(c)))
		}
		for l.off < len(l.src) && wordByte(l.src[l.off]) {
			l.off++
		}
		return token{kind: tWord, text: l.src[start:l.off], pos: start}
	}
}

func (l *lexer) quoted(q byte) token {
	start := l.off
	l.off++
	var b strings.Builder
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == q:
			l.off++
			return token{kind: tString, text: b.String(), pos: start}
		case c == '\\' && l.off+1 < len(l.src) && (l.src[l.off+1] == q || l.src[l.off+1] == '\\'):
			b.WriteByte(l.src[l.off+1])
			l.off += 2
		default:
			b.WriteByte(c)
			l.off++
		}
	}
	return l.fail(start, fmt.Sprintf("unterminated quoted value: expected a closing %c", q))
}

func (l *lexer) fail(pos int, msg string) token {
	l.err = &Error{Offset: pos, Msg: msg}
	l.off = len(l.src)
	return token{kind: tErr, pos: pos}
}

// The parser is recursive descent with one token of lookahead.

type parser struct {
	lx  lexer
	tok token
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) errf(pos int, format string, args ...any) error {
	return &Error{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the current token where want was expected (or the
// lexical error that stands there).
func (p *parser) unexpected(want string) error {
	if p.tok.kind == tErr {
		return p.lx.err
	}
	return p.errf(p.tok.pos, "expected %s, got %s", want, p.tok.describe())
}

// keyword reports whether the current token is the word kw, in any case.
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tWord && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOr || p.keyword("or") {
		p.advance()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Or{L: l, R: r}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAnd || p.keyword("and") {
		p.advance()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &And{L: l, R: r}
	}
	return l, nil
}

func (p *parser) unary() (Expr, error) {
	switch {
	case p.tok.kind == tBang || p.keyword("not"):
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case p.tok.kind == tLParen:
		open := p.tok.pos
		p.advance()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			if p.tok.kind == tErr {
				return nil, p.lx.err
			}
			return nil, p.errf(p.tok.pos, `expected ")" to close the "(" at %d, got %s`, open, p.tok.describe())
		}
		p.advance()
		return x, nil
	}
	return p.cond()
}

const subjectList = "attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group"

func (p *parser) cond() (*Cond, error) {
	if p.tok.kind != tWord {
		return nil, p.unexpected(`a subject (` + subjectList + `), "not" or "("`)
	}
	subj := p.tok
	f, ok := parseField(subj.text)
	if !ok {
		if name, isAttr := strings.CutPrefix(subj.text, attributePrefix); isAttr {
			return nil, p.errf(subj.pos+len(attributePrefix), "attribute name %q: 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes", name)
		}
		return nil, p.errf(subj.pos, "unknown subject %q: expected %s", subj.text, subjectList)
	}
	p.advance()
	opTok := p.tok
	op, opText, err := p.operator(subj.text)
	if err != nil {
		return nil, err
	}
	if err := checkOp(f, op); err != nil {
		return nil, p.errf(opTok.pos, "%v", err)
	}
	var values []string
	var valPos []int
	switch op.arity() {
	case 1:
		if p.tok.kind == tLBrack {
			return nil, p.errf(p.tok.pos, "expected a single value after %q, not a list (use in)", opText)
		}
		if p.tok.kind != tWord && p.tok.kind != tString {
			return nil, p.unexpectedValue(fmt.Sprintf("a value after %q", opText))
		}
		values, valPos = append(values, p.tok.text), append(valPos, p.tok.pos)
		p.advance()
	case -1:
		if p.tok.kind != tLBrack {
			return nil, p.unexpected(fmt.Sprintf(`"[" to start the list after %q`, opText))
		}
		p.advance()
		for {
			if p.tok.kind != tWord && p.tok.kind != tString {
				return nil, p.unexpectedValue("a value in the list")
			}
			values, valPos = append(values, p.tok.text), append(valPos, p.tok.pos)
			p.advance()
			if p.tok.kind == tRBrack {
				p.advance()
				break
			}
			if p.tok.kind != tComma {
				return nil, p.unexpected(`"," or "]" in the list`)
			}
			p.advance()
		}
	}
	for i, v := range values {
		if err := checkValue(f.Kind, v); err != nil {
			return nil, p.errf(valPos[i], "%s: %v", f, err)
		}
	}
	c, err := NewCond(f, op, values...)
	if err != nil {
		pos := opTok.pos
		if len(valPos) > 0 {
			pos = valPos[0]
		}
		return nil, p.errf(pos, "%v", err)
	}
	return c, nil
}

// unexpectedValue is unexpected with the phrasing for a missing value.
func (p *parser) unexpectedValue(want string) error {
	if p.tok.kind == tEOF {
		return p.errf(p.tok.pos, "expected %s", want)
	}
	return p.unexpected(want)
}

// operator parses an operator after the subject subj and returns it with
// its spelling in the expression.
func (p *parser) operator(subj string) (Op, string, error) {
	t := p.tok
	if op, ok := symbolOps[t.kind]; ok {
		p.advance()
		return op, t.text, nil
	}
	if t.kind == tWord {
		if op, ok := opWords[strings.ToLower(t.text)]; ok {
			p.advance()
			return op, t.text, nil
		}
	}
	if t.kind == tBang {
		p.advance()
		w := p.tok.text
		switch {
		case p.keyword("exists"):
			p.advance()
			return OpNotExists, "!" + w, nil
		case p.keyword("in"):
			p.advance()
			return OpNotIn, "!" + w, nil
		}
		return 0, "", p.unexpected(`"exists" or "in" after "!"`)
	}
	if t.kind == tEOF {
		return 0, "", p.errf(t.pos, "expected an operator after %q", subj)
	}
	return 0, "", p.unexpected(fmt.Sprintf("an operator after %q", subj))
}

// parseField recognizes a subject.
func parseField(s string) (Field, bool) {
	if name, ok := strings.CutPrefix(s, attributePrefix); ok {
		if !attrNameRE.MatchString(name) {
			return Field{}, false
		}
		return Field{Kind: FieldAttribute, Attribute: name}, true
	}
	for k, n := range fieldNames {
		if n != "" && n == s {
			return Field{Kind: FieldKind(k)}, true
		}
	}
	return Field{}, false
}
