package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// Index is a parsed index statement of a collection, as PocketBase writes
// them in Collection.Indexes:
//
//	CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON table (col [COLLATE NOCASE] [ASC|DESC], ...) [WHERE predicate]
//
// Identifiers may be bare or quoted with double quotes, backticks or brackets. Columns must be plain
// column names (no expressions); the predicate may use column names,
// literals, comparison and arithmetic operators, parentheses and the keywords
// AND OR NOT IS NULL IN LIKE BETWEEN TRUE FALSE, nothing else, so a stored
// statement cannot smuggle other SQL into the schema.
type Index struct {
	Name    string
	Unique  bool
	Table   string
	Columns []IndexColumn

	where      []token // the predicate's tokens, already checked
	src        string  // the statement as given
	tableStart int     // byte span of the table name in src
	tableEnd   int
}

// IndexColumn is one column of an index.
type IndexColumn struct {
	Name   string
	Desc   bool
	NoCase bool // COLLATE NOCASE: case-insensitive (lower() on PostgreSQL)
}

// maxIdentLen is PostgreSQL's identifier limit; longer index names would be
// silently truncated there, so both dialects reject them.
const maxIdentLen = 63

// maxIndexColumns is PostgreSQL's limit on the columns of an index; both
// dialects keep to it so a definition works on either.
const maxIndexColumns = 32

type tokKind int

const (
	tWord   tokKind = iota // a bare word: keyword or identifier
	tIdent                 // a quoted identifier
	tString                // a '…' literal
	tNumber
	tOp
)

type token struct {
	kind       tokKind
	text       string // the value: unquoted for identifiers and strings
	start, end int
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || isLetter(c):
			j := i + 1
			for j < len(s) && (s[j] == '_' || isLetter(s[j]) || isDigit(s[j])) {
				j++
			}
			toks = append(toks, token{tWord, s[i:j], i, j})
			i = j
		case c == '"' || c == '`' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, errors.New("unterminated quoted name")
				}
				if s[j] == end {
					if end != ']' && j+1 < len(s) && s[j+1] == end { // doubled quote
						b.WriteByte(end)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if b.Len() == 0 {
				return nil, errors.New("empty quoted name")
			}
			toks = append(toks, token{tIdent, b.String(), i, j + 1})
			i = j + 1
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, errors.New("unterminated string")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tString, b.String(), i, j + 1})
			i = j + 1
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '.' {
				j++
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '+' || s[k] == '-') {
					k++
				}
				if k < len(s) && isDigit(s[k]) {
					for k < len(s) && isDigit(s[k]) {
						k++
					}
					j = k
				}
			}
			if j < len(s) && (isLetter(s[j]) || s[j] == '_') {
				return nil, fmt.Errorf("bad number near %q", s[i:min(j+1, len(s))])
			}
			toks = append(toks, token{tNumber, s[i:j], i, j})
			i = j
		default:
			if i+1 < len(s) {
				switch two := s[i : i+2]; two {
				case "--", "/*":
					return nil, errors.New("comments are not allowed")
				case "<=", ">=", "<>", "!=", "==", "||":
					toks = append(toks, token{tOp, two, i, i + 2})
					i += 2
					continue
				}
			}
			if !strings.ContainsRune("()=<>+-*/%,;.", rune(c)) {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			toks = append(toks, token{tOp, string(c), i, i + 1})
			i++
		}
	}
	return toks, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// parser walks the tokens of one statement.
type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

// keyword consumes the bare word kw (case-insensitively) if it is next.
func (p *parser) keyword(kw string) bool {
	if t := p.peek(); t != nil && t.kind == tWord && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) op(op string) bool {
	if t := p.peek(); t != nil && t.kind == tOp && t.text == op {
		p.i++
		return true
	}
	return false
}

func (p *parser) ident(what string) (*token, error) {
	t := p.peek()
	if t == nil || (t.kind != tWord && t.kind != tIdent) {
		return nil, fmt.Errorf("expected %s", what)
	}
	p.i++
	if p.op(".") {
		return nil, fmt.Errorf("a qualified %s is not allowed", what)
	}
	return t, nil
}

// ParseIndex parses one index statement (see Index) without checking it
// against a collection; ProcessIndexes does both.
func ParseIndex(stmt string) (*Index, error) {
	toks, err := lex(stmt)
	if err != nil {
		return nil, err
	}
	if n := len(toks); n > 0 && toks[n-1].kind == tOp && toks[n-1].text == ";" {
		toks = toks[:n-1] // a trailing semicolon is harmless
	}
	p := &parser{toks: toks}
	ix := &Index{src: stmt}
	if !p.keyword("CREATE") {
		return nil, errors.New("must start with CREATE INDEX or CREATE UNIQUE INDEX")
	}
	ix.Unique = p.keyword("UNIQUE")
	if !p.keyword("INDEX") {
		return nil, errors.New("must start with CREATE INDEX or CREATE UNIQUE INDEX")
	}
	if p.keyword("IF") {
		if !p.keyword("NOT") || !p.keyword("EXISTS") {
			return nil, errors.New("expected IF NOT EXISTS")
		}
	}
	name, err := p.ident("index name")
	if err != nil {
		return nil, err
	}
	if name.kind == tWord && strings.EqualFold(name.text, "ON") {
		return nil, errors.New("expected index name")
	}
	ix.Name = name.text
	if !p.keyword("ON") {
		return nil, errors.New("expected ON after the index name")
	}
	table, err := p.ident("table name")
	if err != nil {
		return nil, err
	}
	ix.Table, ix.tableStart, ix.tableEnd = table.text, table.start, table.end
	if !p.op("(") {
		return nil, errors.New("expected ( after the table name")
	}
	for {
		col, err := p.ident("column name")
		if err != nil {
			return nil, err
		}
		if p.op("(") {
			return nil, errors.New("expressions are not allowed as index columns")
		}
		ic := IndexColumn{Name: col.text}
		if p.keyword("COLLATE") {
			coll, err := p.ident("collation")
			if err != nil {
				return nil, err
			}
			switch strings.ToUpper(coll.text) {
			case "NOCASE":
				ic.NoCase = true
			case "BINARY":
			default:
				return nil, fmt.Errorf("unsupported collation %q (only NOCASE)", coll.text)
			}
		}
		if p.keyword("DESC") {
			ic.Desc = true
		} else {
			p.keyword("ASC")
		}
		ix.Columns = append(ix.Columns, ic)
		if p.op(",") {
			continue
		}
		if p.op(")") {
			break
		}
		return nil, fmt.Errorf("unexpected %q in the column list", p.rest())
	}
	if p.keyword("WHERE") {
		ix.where = p.toks[p.i:]
		if len(ix.where) == 0 {
			return nil, errors.New("empty WHERE clause")
		}
		if err := checkPredicate(ix.where); err != nil {
			return nil, err
		}
		p.i = len(p.toks)
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.rest())
	}
	return ix, nil
}

func (p *parser) rest() string {
	if t := p.peek(); t != nil {
		return t.text
	}
	return "end of statement"
}

// predicateKeywords are the only bare words a WHERE clause may use besides
// column names.
var predicateKeywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true, "IN": true,
	"LIKE": true, "BETWEEN": true, "TRUE": true, "FALSE": true,
}

// checkPredicate checks the shape of a WHERE clause: whitelisted tokens,
// balanced parentheses, no function calls. Column names are checked later
// against the collection.
func checkPredicate(toks []token) error {
	depth := 0
	for i, t := range toks {
		switch t.kind {
		case tWord:
			if i+1 < len(toks) && toks[i+1].kind == tOp && toks[i+1].text == "(" && !predicateKeywords[strings.ToUpper(t.text)] {
				return fmt.Errorf("function %s is not allowed in WHERE", t.text)
			}
		case tOp:
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
				if depth < 0 {
					return errors.New("unbalanced parentheses in WHERE")
				}
			case ";", ".":
				return fmt.Errorf("%q is not allowed in WHERE", t.text)
			}
		}
	}
	if depth != 0 {
		return errors.New("unbalanced parentheses in WHERE")
	}
	return nil
}

// ProcessIndexes parses and checks every index statement of c: each must
// be on c's table (or oldTable, its name before a rename, in which case the
// statement in c.Indexes is rewritten to name the new table), name only
// c's fields and have a name no other index of c has. Column names are
// normalised to the fields' spelling. Errors: KindInvalid naming the index.
func ProcessIndexes(c *core.Collection, oldTable string) ([]*Index, error) {
	out := make([]*Index, 0, len(c.Indexes))
	seen := make(map[string]bool, len(c.Indexes))
	for i, stmt := range c.Indexes {
		ix, err := ParseIndex(stmt)
		if err != nil {
			return nil, IndexError(i, "", err.Error())
		}
		switch {
		case len(ix.Name) > maxIdentLen:
			return nil, IndexError(i, ix.Name, fmt.Sprintf("the name is longer than %d bytes", maxIdentLen))
		case IsReservedName(ix.Name) || strings.HasPrefix(strings.ToLower(ix.Name), "_tmp_"):
			// The engines' and the store's own objects: search indexes
			// and the table a migration rebuilds into (_tmp_<id>).
			return nil, IndexError(i, ix.Name, "the name is reserved")
		case len(ix.Columns) > maxIndexColumns:
			return nil, IndexError(i, ix.Name, fmt.Sprintf("it has more than %d columns", maxIndexColumns))
		case seen[strings.ToLower(ix.Name)]:
			return nil, IndexError(i, ix.Name, "another index has the same name")
		}
		seen[strings.ToLower(ix.Name)] = true
		if !strings.EqualFold(ix.Table, c.Name) {
			if oldTable == "" || !strings.EqualFold(ix.Table, oldTable) {
				return nil, IndexError(i, ix.Name, fmt.Sprintf("it must be on table %q, not %q", c.Name, ix.Table))
			}
			c.Indexes[i] = ix.Retarget(c.Name)
			ix.Table = c.Name
		}
		if err := ix.resolve(c); err != nil {
			return nil, IndexError(i, ix.Name, err.Error())
		}
		out = append(out, ix)
	}
	return out, nil
}

// resolve checks the index's columns against c's fields and normalises
// their spelling.
func (ix *Index) resolve(c *core.Collection) error {
	for j := range ix.Columns {
		f := fieldFold(c, ix.Columns[j].Name)
		if f == nil {
			return fmt.Errorf("unknown column %q", ix.Columns[j].Name)
		}
		ix.Columns[j].Name = f.Name
	}
	for j := range ix.where {
		t := &ix.where[j]
		switch t.kind {
		case tWord:
			if predicateKeywords[strings.ToUpper(t.text)] {
				continue
			}
			fallthrough
		case tIdent:
			f := fieldFold(c, t.text)
			if f == nil {
				return fmt.Errorf("unknown column %q in WHERE", t.text)
			}
			t.kind, t.text = tIdent, f.Name
		}
	}
	return nil
}

func fieldFold(c *core.Collection, name string) *core.Field {
	for i := range c.Fields {
		if strings.EqualFold(c.Fields[i].Name, name) {
			return &c.Fields[i]
		}
	}
	return nil
}

// IndexError is the KindInvalid error for the i-th index statement of a
// collection, named when its name is known.
func IndexError(i int, name, why string) *core.Error {
	what := fmt.Sprintf("Invalid index #%d", i+1)
	if name != "" {
		what = fmt.Sprintf("Invalid index %q", name)
	}
	return collectionInvalid("indexes", "validation_invalid_index", "%s: %s.", what, why)
}

// Retarget returns the statement as given with its table name replaced by
// table, keeping everything else (quoting style included) as written.
func (ix *Index) Retarget(table string) string {
	return ix.src[:ix.tableStart] + "`" + strings.ReplaceAll(table, "`", "``") + "`" + ix.src[ix.tableEnd:]
}

// SQL renders the index for table in dialect d, with every identifier
// double-quoted. IF NOT EXISTS is dropped on purpose: a name clash with
// another table's index must fail rather than silently keep that one.
// On PostgreSQL, which has no NOCASE collation, a NOCASE column becomes
// lower(column).
func (ix *Index) SQL(d Dialect, table string) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	b.WriteString(QuoteIdent(ix.Name))
	b.WriteString(" ON ")
	b.WriteString(QuoteIdent(table))
	b.WriteString(" (")
	for i, col := range ix.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case col.NoCase && d == Postgres:
			b.WriteString("lower(" + QuoteIdent(col.Name) + ")")
		case col.NoCase:
			b.WriteString(QuoteIdent(col.Name) + " COLLATE NOCASE")
		default:
			b.WriteString(QuoteIdent(col.Name))
		}
		if col.Desc {
			b.WriteString(" DESC")
		}
	}
	b.WriteString(")")
	if w := ix.Where(); w != "" {
		b.WriteString(" WHERE ")
		b.WriteString(w)
	}
	return b.String()
}

// Where renders the index's predicate ("" for a full index); it reads the
// same in both dialects.
func (ix *Index) Where() string {
	var b strings.Builder
	for i, t := range ix.where {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tWord:
			b.WriteString(strings.ToUpper(t.text))
		case tIdent:
			b.WriteString(QuoteIdent(t.text))
		case tString:
			b.WriteString("'" + strings.ReplaceAll(t.text, "'", "''") + "'")
		case tOp:
			if t.text == "==" {
				b.WriteString("=")
			} else {
				b.WriteString(t.text)
			}
		default:
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// UniqueColumns returns the columns of the unique index named name (case
// insensitively) among idx, or nil.
func UniqueColumns(idx []*Index, name string) []string {
	for _, ix := range idx {
		if ix.Unique && strings.EqualFold(ix.Name, name) {
			cols := make([]string, len(ix.Columns))
			for i, c := range ix.Columns {
				cols[i] = c.Name
			}
			return cols
		}
	}
	return nil
}

// NotUnique is the error for a record that breaks a unique index: a
// KindInvalid error with a "validation_not_unique" entry for each column.
func NotUnique(cause error, columns ...string) *core.Error {
	e := &core.Error{Kind: core.KindInvalid, Message: "Failed to validate the submitted data.",
		Fields: make(map[string]core.FieldError, len(columns)), Err: cause}
	for _, c := range columns {
		e.Fields[c] = core.FieldError{Code: "validation_not_unique", Message: "Value must be unique."}
	}
	return e
}
