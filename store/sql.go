package store

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// SQLConsole runs statements a superuser types into the SQL console
// (POST /api/sql). Both drivers implement it; it is an interface of its
// own, apart from Store, because nothing but the console needs it.
type SQLConsole interface {
	// ConsoleQuery runs one read-only statement (see ParseConsoleStatement
	// for which) outside any write transaction and returns at most maxRows
	// rows, Truncated telling whether there were more (or the rows would
	// have passed ConsoleMaxBytes). The statement is bounded by the
	// store's read timeout, and the engine itself refuses to write: SQLite
	// runs it on a read-only connection of its own whose authorizer allows
	// reads only, PostgreSQL in a READ ONLY transaction that is rolled back.
	// Errors: KindInvalid naming "query" (not a single read statement, a
	// statement that would write, or the engine's error, whose message is
	// shown), KindUnavailable (the read timeout, wrapping ErrReadTimeout;
	// the database unreachable), KindInternal.
	ConsoleQuery(ctx context.Context, statement string, maxRows int) (*ConsoleResult, error)
}

// ConsoleResult is the answer of SQLConsole.ConsoleQuery, in the shape of
// PocketBase's SQL API: every value is text (as ConsoleText writes it) or
// nil for NULL.
type ConsoleResult struct {
	Columns   []ConsoleColumn `json:"columns"`
	Rows      [][]any         `json:"rows"`
	Truncated bool            `json:"truncated"`
}

// ConsoleColumn describes a column of a ConsoleResult.
type ConsoleColumn struct {
	Name string `json:"name"`
	// Type is the engine's name of the column's type ("TEXT", "int8"), or
	// "" when the engine does not say (an SQLite expression).
	Type string `json:"type"`
	// Nullable is true unless the engine says the column is never NULL.
	Nullable bool `json:"nullable"`
}

// ConsoleMaxBytes bounds the text and bytes a console answer carries, so
// that a thousand rows of large values cannot take the server's memory;
// rows past it are left out and the result marked truncated.
const ConsoleMaxBytes = 8 << 20

// ConsoleKind says how a driver runs a console statement.
type ConsoleKind int

// The console statement kinds.
const (
	// ConsoleSelect is a query (SELECT, WITH, VALUES, PostgreSQL's TABLE,
	// or a parenthesised query): drivers bound its rows in the engine.
	ConsoleSelect ConsoleKind = iota + 1
	// ConsoleExplain is EXPLAIN of a statement.
	ConsoleExplain
	// ConsolePragma is an SQLite PRAGMA (the read-only ones run).
	ConsolePragma
	// ConsoleShow is PostgreSQL's SHOW of a setting.
	ConsoleShow
)

// ConsoleStatement is a statement ParseConsoleStatement accepted.
type ConsoleStatement struct {
	// Text is the statement without its trailing semicolon and what
	// follows it (whitespace and comments).
	Text string
	Kind ConsoleKind
}

// ErrConsoleWrite is the error of a console statement the engine refused
// because it would change the database or the connection.
var ErrConsoleWrite = core.FieldInvalid("query", "validation_read_only",
	"The SQL console runs read-only statements: this one would change the database.")

// ConsoleError is the error of a console statement the engine rejected
// (a syntax error, an unknown table): KindInvalid with the engine's
// message, which the superuser needs to fix the statement.
func ConsoleError(err error, engineMessage string) *core.Error {
	e := core.FieldInvalid("query", "validation_sql_error", engineMessage)
	e.Message = "The SQL statement failed: " + engineMessage
	e.Err = err
	return e
}

// ParseConsoleStatement checks that text holds exactly one statement of a
// kind the console runs, for the dialect d, and returns it without its
// trailing semicolon. It reads string literals, quoted identifiers and
// comments as d does (PostgreSQL: E'…' strings with backslash escapes,
// dollar quoting, nested block comments; SQLite: backquoted and bracketed
// identifiers), so a semicolon inside them does not end the statement.
// Errors are KindInvalid naming "query".
func ParseConsoleStatement(d Dialect, text string) (ConsoleStatement, error) {
	end, rest, problem := scanStatement(d, text)
	if problem != "" {
		return ConsoleStatement{}, core.FieldInvalid("query", "validation_invalid_sql", problem)
	}
	if rest {
		return ConsoleStatement{}, core.FieldInvalid("query", "validation_single_statement",
			"The SQL console runs one statement at a time.")
	}
	stmt := strings.TrimSpace(text[:end])
	word, paren := firstWord(d, stmt)
	if stmt == "" || (word == "" && !paren) {
		return ConsoleStatement{}, core.FieldInvalid("query", "validation_required", "Type an SQL statement.")
	}
	var kind ConsoleKind
	switch {
	case paren, word == "SELECT", word == "WITH", word == "VALUES", word == "TABLE" && d == Postgres:
		kind = ConsoleSelect
	case word == "EXPLAIN":
		kind = ConsoleExplain
	case word == "PRAGMA" && d == SQLite:
		kind = ConsolePragma
	case word == "SHOW" && d == Postgres:
		kind = ConsoleShow
	default:
		allowed := "SELECT, WITH, VALUES, EXPLAIN or PRAGMA"
		if d == Postgres {
			allowed = "SELECT, WITH, VALUES, TABLE, EXPLAIN or SHOW"
		}
		return ConsoleStatement{}, core.FieldInvalid("query", "validation_read_only",
			"The SQL console runs read-only statements: "+allowed+".")
	}
	return ConsoleStatement{Text: stmt, Kind: kind}, nil
}

// firstWord returns the first keyword of stmt, upper-cased, after
// whitespace and comments, or reports that stmt starts with "(".
func firstWord(d Dialect, stmt string) (word string, paren bool) {
	i := skipSpace(d, stmt, 0)
	if i < len(stmt) && stmt[i] == '(' {
		return "", true
	}
	j := i
	for j < len(stmt) && isWordByte(stmt[j]) {
		j++
	}
	return strings.ToUpper(stmt[i:j]), false
}

// skipSpace skips whitespace and comments from i.
func skipSpace(d Dialect, s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v':
			i++
		case strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			j, ok := skipBlockComment(d, s, i)
			if !ok {
				return len(s)
			}
			i = j
		default:
			return i
		}
	}
	return i
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// scanStatement finds where the first statement of s ends: end is the
// index of its terminating semicolon (len(s) when there is none), and
// rest reports whether anything but whitespace and comments follows it.
// problem describes a literal or comment left open ("" when none is).
func scanStatement(d Dialect, s string) (end int, rest bool, problem string) {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ';':
			return i, skipSpace(d, s, i+1) < len(s), ""
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j, ok := skipBlockComment(d, s, i)
			if !ok {
				return 0, false, "A /* comment is not closed."
			}
			i = j
		case c == '\'':
			// PostgreSQL reads backslash escapes in E'' strings only.
			escapes := d == Postgres && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E') && (i < 2 || !isWordByte(s[i-2]))
			j, ok := skipConsoleQuoted(s, i, '\'', escapes)
			if !ok {
				return 0, false, "A string literal is not closed."
			}
			i = j
		case c == '"':
			j, ok := skipConsoleQuoted(s, i, '"', false)
			if !ok {
				return 0, false, "A quoted identifier is not closed."
			}
			i = j
		case c == '`' && d == SQLite:
			j, ok := skipConsoleQuoted(s, i, '`', false)
			if !ok {
				return 0, false, "A quoted identifier is not closed."
			}
			i = j
		case c == '[' && d == SQLite:
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return 0, false, "A [bracketed] identifier is not closed."
			}
			i += j + 2
		case c == '$' && d == Postgres && (i == 0 || !isWordByte(s[i-1])):
			tag, ok := dollarTag(s[i:])
			if !ok {
				i++
				continue
			}
			j := strings.Index(s[i+len(tag):], tag)
			if j < 0 {
				return 0, false, "A dollar-quoted string is not closed."
			}
			i += len(tag) + j + len(tag)
		default:
			i++
		}
	}
	return len(s), false, ""
}

// skipBlockComment returns the index after the /* comment at i.
// PostgreSQL's block comments nest; SQLite's do not, and an unclosed one
// runs to the end of the text.
func skipBlockComment(d Dialect, s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*") && (depth == 0 || d == Postgres):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return len(s), d == SQLite
}

// skipConsoleQuoted returns the index after the literal opened by q at i, where
// a doubled q stands for itself (and, with escapes, a backslash escapes
// the next byte).
func skipConsoleQuoted(s string, i int, q byte, escapes bool) (int, bool) {
	for i++; i < len(s); i++ {
		switch {
		case escapes && s[i] == '\\':
			i++
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, true
		}
	}
	return len(s), false
}

// dollarTag returns the PostgreSQL dollar-quote tag at the start of s
// ("$$", "$body$"), or false when s does not start one ("$1" is a
// parameter).
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case c >= '0' && c <= '9' && j > 1:
		default:
			return "", false
		}
	}
	return "", false
}

// ConsoleText writes a value a driver scanned as the console shows it:
// nil for NULL, else text. Bytes that are not UTF-8 are written as \x
// followed by hex (as PostgreSQL writes bytea), times in core.DateLayout,
// UUIDs in their usual form, JSON values and arrays as JSON.
func ConsoleText(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return `\x` + hex.EncodeToString(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format(core.DateLayout)
	case [16]byte: // a PostgreSQL uuid
		h := hex.EncodeToString(x[:])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		if _, again := dv.(driver.Valuer); again {
			return fmt.Sprint(dv)
		}
		return ConsoleText(dv)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ConsoleSize is how many bytes a ConsoleText value counts towards
// ConsoleMaxBytes.
func ConsoleSize(v any) int {
	if s, ok := v.(string); ok {
		return len(s) + 4
	}
	return 4
}
