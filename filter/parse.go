package filter

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Limits that keep a hostile filter from costing more than a bad request.
const (
	// MaxLength is the longest filter or sort expression accepted, in bytes.
	MaxLength = 3500
	// MaxDepth bounds how deeply parentheses may nest.
	MaxDepth = 32
	// MaxJoins bounds how many related tables one expression may reach.
	MaxJoins = 30
	// MaxPathHops bounds the relations one identifier may traverse.
	MaxPathHops = 6
	// MaxCollections bounds the distinct @collection sources one
	// expression may use, each alias counting once, and those of the
	// listRules it brings in (see "Access through relations") counting
	// too. Unlike a relation, an @collection source is not tied to the
	// filtered record: it ranges over every record of its collection, so
	// the rows a query may have to combine grow as the collection's size
	// to the power of the sources bound together. Five keep that small on
	// small collections (12^5 combinations for a dozen records, a few
	// milliseconds) and leave room for rules that compare several
	// independent records; the read timeout of the store bounds the rest.
	MaxCollections = 5
)

// Expr is a parsed filter expression: a tree of comparisons joined by &&
// and ||. It holds syntax only; names are resolved against a collection by
// Compile, CompileExpr and Eval. An Expr is immutable and safe to share.
type Expr struct {
	// Exactly one of the forms below is set.
	and, or []*Expr     // logical forms, two or more operands
	cmp     *comparison // a single comparison
	empty   bool        // the empty expression: matches everything
}

// comparison is `left op right` as written.
type comparison struct {
	op          string // without the leading '?'
	any         bool   // the any-of form (?=, ?~ ...)
	left, right term
	pos         int
}

// termKind tells what a term spells.
type termKind uint8

const (
	termString termKind = iota
	termNumber
	termBool
	termNull
	termIdent       // a field path, @request.*, @collection.*, or a macro
	termPlaceholder // {:name}
	termCall        // a function call: text is the name, args its arguments
)

// term is one operand as written.
type term struct {
	kind termKind
	text string // string value, identifier or placeholder name
	num  float64
	b    bool
	pos  int
	args []term // termCall
}

// String renders the term for error messages.
func (t term) String() string {
	switch t.kind {
	case termCall:
		parts := make([]string, len(t.args))
		for i, a := range t.args {
			parts[i] = a.String()
		}
		return t.text + "(" + strings.Join(parts, ", ") + ")"
	case termString:
		return strconv.Quote(t.text)
	case termNumber:
		return strconv.FormatFloat(t.num, 'g', -1, 64)
	case termBool:
		return strconv.FormatBool(t.b)
	case termNull:
		return "null"
	case termPlaceholder:
		return "{:" + t.text + "}"
	}
	return t.text
}

// parseError is the one shape of syntax error: user-safe and positioned.
func parseError(pos int, format string, args ...any) error {
	e := core.Invalid("invalid filter: "+format, args...)
	e.Message += " at position " + strconv.Itoa(pos)
	return e
}

// Parse parses a filter expression without resolving any name. The empty
// (or all-blank) expression is valid and matches every record. Errors are
// KindInvalid; Parse never panics.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, core.Invalid("invalid filter: longer than %d characters", MaxLength)
	}
	// PostgreSQL cannot hold these in text, and no sane filter has them.
	if !utf8.ValidString(src) || strings.IndexByte(src, 0) >= 0 {
		return nil, core.Invalid("invalid filter: not valid UTF-8 text")
	}
	p := &parser{lx: lexer{src: src}}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return &Expr{empty: true}, nil
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, parseError(p.tok.pos, "unexpected %s", p.tok.describe())
	}
	return e, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokString
	tokNumber
	tokIdent
	tokPlaceholder
	tokOp // comparison operator
	tokAnd
	tokOr
	tokLParen
	tokRParen
	tokComma // between a function's arguments
)

type token struct {
	kind tokKind
	text string
	num  float64
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return "string " + strconv.Quote(t.text)
	case tokNumber:
		return "number " + t.text
	case tokPlaceholder:
		return "placeholder {:" + t.text + "}"
	}
	return strconv.Quote(t.text)
}

type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// operators lists the comparison operators, longest first so that the
// lexer's first match is the right one.
var operators = []string{"?!=", "?>=", "?<=", "?!~", "!=", ">=", "<=", "!~", "?=", "?>", "?<", "?~", "=", ">", "<", "~"}

func (l *lexer) next() (token, error) {
	// Skip blanks and // line comments.
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			l.pos++
			continue
		}
		if c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/' {
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	rest := l.src[l.pos:]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, text: "(", pos: start}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, text: ")", pos: start}, nil
	case c == ',':
		l.pos++
		return token{kind: tokComma, text: ",", pos: start}, nil
	case strings.HasPrefix(rest, "&&"):
		l.pos += 2
		return token{kind: tokAnd, text: "&&", pos: start}, nil
	case strings.HasPrefix(rest, "||"):
		l.pos += 2
		return token{kind: tokOr, text: "||", pos: start}, nil
	case c == '\'' || c == '"':
		return l.lexString(c)
	case isDigit(c) || (c == '-' && len(rest) > 1 && (isDigit(rest[1]) || rest[1] == '.')) || (c == '.' && len(rest) > 1 && isDigit(rest[1])):
		return l.lexNumber()
	case isIdentStart(c):
		l.pos++
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
	case strings.HasPrefix(rest, "{:"):
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return token{}, parseError(start, "unterminated placeholder")
		}
		name := rest[2:end]
		if !core.ValidName(name) {
			return token{}, parseError(start, "invalid placeholder name %q", name)
		}
		l.pos += end + 1
		return token{kind: tokPlaceholder, text: name, pos: start}, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			l.pos += len(op)
			return token{kind: tokOp, text: op, pos: start}, nil
		}
	}
	return token{}, parseError(start, "unexpected character %q", rest[:1])
}

// lexString reads a quoted string; a backslash escapes the quote character
// and is otherwise kept as written.
func (l *lexer) lexString(q byte) (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == '\\' && l.pos+1 < len(l.src) && l.src[l.pos+1] == q {
			b.WriteByte(q)
			l.pos += 2
			continue
		}
		if c == q {
			l.pos++
			return token{kind: tokString, text: b.String(), pos: start}, nil
		}
		b.WriteByte(c)
		l.pos++
	}
	return token{}, parseError(start, "unterminated string")
}

func (l *lexer) lexNumber() (token, error) {
	start := l.pos
	if l.src[l.pos] == '-' {
		l.pos++
	}
	for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '.') {
		l.pos++
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') {
			l.pos++
		}
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
	text := l.src[start:l.pos]
	// A number glued to letters ("12abc") is a typo, not two tokens.
	if l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		return token{}, parseError(start, "invalid number %q", text+l.src[l.pos:l.pos+1])
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return token{}, parseError(start, "invalid number %q", text)
	}
	return token{kind: tokNumber, text: text, num: f, pos: start}, nil
}

type parser struct {
	lx  lexer
	tok token
}

func (p *parser) next() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) parseOr(depth int) (*Expr, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	list := []*Expr{first}
	for p.tok.kind == tokOr {
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	if len(list) == 1 {
		return first, nil
	}
	return &Expr{or: list}, nil
}

func (p *parser) parseAnd(depth int) (*Expr, error) {
	first, err := p.parsePrimary(depth)
	if err != nil {
		return nil, err
	}
	list := []*Expr{first}
	for p.tok.kind == tokAnd {
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.parsePrimary(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	if len(list) == 1 {
		return first, nil
	}
	return &Expr{and: list}, nil
}

func (p *parser) parsePrimary(depth int) (*Expr, error) {
	if p.tok.kind == tokLParen {
		if depth >= MaxDepth {
			return nil, parseError(p.tok.pos, "parentheses nested deeper than %d", MaxDepth)
		}
		open := p.tok.pos
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokRParen {
			return nil, parseError(p.tok.pos, "empty parentheses")
		}
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, parseError(p.tok.pos, "missing ) for ( at position %d, found %s", open, p.tok.describe())
		}
		return e, p.next()
	}
	left, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokOp {
		return nil, parseError(p.tok.pos, "expected an operator after %s, found %s", left, p.tok.describe())
	}
	c := &comparison{op: p.tok.text, pos: p.tok.pos, left: left}
	if strings.HasPrefix(c.op, "?") {
		c.any, c.op = true, c.op[1:]
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if c.right, err = p.parseTerm(); err != nil {
		return nil, err
	}
	return &Expr{cmp: c}, nil
}

func (p *parser) parseTerm() (term, error) {
	t, err := p.parseValue()
	if err != nil || t.kind != termIdent || p.tok.kind != tokLParen {
		return t, err
	}
	return p.parseCall(t)
}

// parseCall reads the arguments of a call to name, whose "(" is the
// current token: values or fields separated by commas (no calls inside).
func (p *parser) parseCall(name term) (term, error) {
	call := term{kind: termCall, text: name.text, pos: name.pos}
	if err := p.next(); err != nil {
		return term{}, err
	}
	if p.tok.kind == tokRParen {
		return call, p.next()
	}
	for {
		a, err := p.parseValue()
		if err != nil {
			return term{}, err
		}
		if p.tok.kind == tokLParen {
			return term{}, parseError(p.tok.pos, "the arguments of %s cannot be calls", name.text)
		}
		call.args = append(call.args, a)
		switch p.tok.kind {
		case tokComma:
			if err := p.next(); err != nil {
				return term{}, err
			}
		case tokRParen:
			return call, p.next()
		default:
			return term{}, parseError(p.tok.pos, "expected , or ) in the arguments of %s, found %s", name.text, p.tok.describe())
		}
	}
}

// parseValue reads one literal, placeholder or identifier.
func (p *parser) parseValue() (term, error) {
	t := p.tok
	var out term
	switch t.kind {
	case tokString:
		out = term{kind: termString, text: t.text, pos: t.pos}
	case tokNumber:
		out = term{kind: termNumber, num: t.num, text: t.text, pos: t.pos}
	case tokPlaceholder:
		out = term{kind: termPlaceholder, text: t.text, pos: t.pos}
	case tokIdent:
		switch t.text {
		case "true", "false":
			out = term{kind: termBool, b: t.text == "true", text: t.text, pos: t.pos}
		case "null":
			out = term{kind: termNull, text: t.text, pos: t.pos}
		default:
			out = term{kind: termIdent, text: t.text, pos: t.pos}
		}
	default:
		return term{}, parseError(t.pos, "expected a value or a field, found %s", t.describe())
	}
	return out, p.next()
}

// Idents returns the identifiers e names, as written (field paths,
// @request.*, @collection.*, macros), each once, including those inside
// function calls.
func (e *Expr) Idents() []string {
	seen := map[string]bool{}
	var out []string
	var visit func(t term)
	visit = func(t term) {
		switch t.kind {
		case termIdent:
			if !seen[t.text] {
				seen[t.text] = true
				out = append(out, t.text)
			}
		case termCall:
			for _, a := range t.args {
				visit(a)
			}
		}
	}
	var walk func(e *Expr)
	walk = func(e *Expr) {
		for _, x := range e.and {
			walk(x)
		}
		for _, x := range e.or {
			walk(x)
		}
		if e.cmp != nil {
			visit(e.cmp.left)
			visit(e.cmp.right)
		}
	}
	walk(e)
	return out
}
