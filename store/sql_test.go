package store

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

func TestParseConsoleStatement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Dialect
		in   string
		text string      // the statement kept, when accepted
		kind ConsoleKind // 0: refused
		code string      // the field code when refused
		both bool        // the same on both dialects
	}{
		{name: "select", in: "select 1", text: "select 1", kind: ConsoleSelect, both: true},
		{name: "trailing semicolon and comment", in: " SELECT 1 ; -- done\n /* more */ ", text: "SELECT 1", kind: ConsoleSelect, both: true},
		{name: "leading comments", in: "-- hi\n/* there */ with x as (select 1) select * from x", text: "-- hi\n/* there */ with x as (select 1) select * from x", kind: ConsoleSelect, both: true},
		{name: "parenthesised", in: "(select 1) union (select 2)", text: "(select 1) union (select 2)", kind: ConsoleSelect, both: true},
		{name: "values", in: "VALUES (1), (2)", text: "VALUES (1), (2)", kind: ConsoleSelect, both: true},
		{name: "semicolon in a string", in: "select ';' , 'it''s; fine'", text: "select ';' , 'it''s; fine'", kind: ConsoleSelect, both: true},
		{name: "semicolon in an identifier", in: `select 1 as "a;b"`, text: `select 1 as "a;b"`, kind: ConsoleSelect, both: true},
		{name: "two statements", in: "select 1; delete from users", code: "validation_single_statement", both: true},
		{name: "write", in: "DELETE FROM users", code: "validation_read_only", both: true},
		{name: "attach", in: "attach database 'x' as y", code: "validation_read_only", both: true},
		{name: "begin", in: "begin", code: "validation_read_only", both: true},
		{name: "empty", in: " ; ", code: "validation_required", both: true},
		{name: "only a comment", in: "-- nothing", code: "validation_required", both: true},
		{name: "open string", in: "select 'x", code: "validation_invalid_sql", both: true},
		{name: "explain", in: "explain select 1", text: "explain select 1", kind: ConsoleExplain, both: true},
		{name: "sqlite pragma", d: SQLite, in: "PRAGMA table_info(users)", text: "PRAGMA table_info(users)", kind: ConsolePragma},
		{name: "pragma on postgres", d: Postgres, in: "PRAGMA table_info(users)", code: "validation_read_only"},
		{name: "postgres show", d: Postgres, in: "show statement_timeout", text: "show statement_timeout", kind: ConsoleShow},
		{name: "postgres table", d: Postgres, in: "TABLE users", text: "TABLE users", kind: ConsoleSelect},
		{name: "dollar quotes", d: Postgres, in: "select $q$;drop table x;$q$", text: "select $q$;drop table x;$q$", kind: ConsoleSelect},
		{name: "dollar quotes are nothing in sqlite", d: SQLite, in: "select $q$;drop table x;$q$", code: "validation_single_statement"},
		{name: "E string escapes", d: Postgres, in: `select E'\';' ; delete from x`, code: "validation_single_statement"},
		{name: "E string hides nothing", d: Postgres, in: `select E'\';'`, text: `select E'\';'`, kind: ConsoleSelect},
		{name: "backslash is plain in sqlite", d: SQLite, in: `select '\'; delete from x`, code: "validation_single_statement"},
		{name: "nested comments", d: Postgres, in: "select 1 /* a /* b */ ; */", text: "select 1 /* a /* b */ ; */", kind: ConsoleSelect},
		{name: "comments do not nest in sqlite", d: SQLite, in: "select 1 /* a /* b */ ; */", code: "validation_single_statement"},
		{name: "brackets", d: SQLite, in: "select [a;b] from t", text: "select [a;b] from t", kind: ConsoleSelect},
		{name: "backquotes", d: SQLite, in: "select `a;b` from t", text: "select `a;b` from t", kind: ConsoleSelect},
		{name: "parameter is not a quote", d: Postgres, in: "select $1; delete from x", code: "validation_single_statement"},
	}
	for _, tt := range tests {
		dialects := []Dialect{tt.d}
		if tt.both {
			dialects = []Dialect{SQLite, Postgres}
		}
		for _, d := range dialects {
			t.Run(tt.name+"/"+string(d), func(t *testing.T) {
				t.Parallel()
				st, err := ParseConsoleStatement(d, tt.in)
				if tt.kind == 0 {
					e := core.AsError(err)
					if e == nil || e.Kind != core.KindInvalid || e.Fields["query"].Code != tt.code {
						t.Fatalf("err = %v, want the field query coded %s", err, tt.code)
					}
					return
				}
				if err != nil || st.Text != tt.text || st.Kind != tt.kind {
					t.Fatalf("got %+v %v, want %q kind %d", st, err, tt.text, tt.kind)
				}
			})
		}
	}
}

// FuzzParseConsoleStatement: any text is judged without panicking; an
// accepted statement is a trimmed piece of the text that the parser, read
// again, accepts unchanged, with no top-level semicolon left.
func FuzzParseConsoleStatement(f *testing.F) {
	for _, s := range []string{"select 1;", "select ';' -- x", "select $a$;$a$", "select E'\\';'", "/* /* */ */ select 1", "select [x;y]", "select 1; select 2", "(values (1))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range []Dialect{SQLite, Postgres} {
			st, err := ParseConsoleStatement(d, text)
			if err != nil {
				if core.KindOf(err) != core.KindInvalid {
					t.Fatalf("%s: %q: error of kind %v: %v", d, text, core.KindOf(err), err)
				}
				continue
			}
			if !strings.Contains(text, st.Text) || st.Text != strings.TrimSpace(st.Text) {
				t.Fatalf("%s: %q: kept %q", d, text, st.Text)
			}
			again, err := ParseConsoleStatement(d, st.Text)
			if err != nil || again != st {
				t.Fatalf("%s: %q: read again as %+v %v, first %+v", d, text, again, err, st)
			}
			if end, _, _ := scanStatement(d, st.Text); end != len(st.Text) {
				t.Fatalf("%s: %q: a top-level semicolon at %d in %q", d, text, end, st.Text)
			}
		}
	})
}

func TestConsoleText(t *testing.T) {
	t.Parallel()
	when := time.Date(2024, 5, 6, 7, 8, 9, 10e6, time.FixedZone("x", 3600))
	for _, tt := range []struct {
		in   any
		want any
	}{
		{nil, nil}, {true, "true"}, {int32(7), "7"}, {int64(-7), "-7"}, {uint64(math.MaxUint64), "18446744073709551615"},
		{3.5, "3.5"}, {math.NaN(), "NaN"}, {math.Inf(-1), "-Inf"}, {float32(0.25), "0.25"},
		{[]byte("text"), "text"}, {[]byte{0xff, 0x00}, `\xff00`}, {"plain", "plain"},
		{when, "2024-05-06 06:08:09.010Z"},
		{[16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}, "12345678-9abc-def0-0102-030405060708"},
		{map[string]any{"a": []any{1, "x"}}, `{"a":[1,"x"]}`},
		{[]any{1, nil}, `[1,null]`},
	} {
		if got := ConsoleText(tt.in); got != tt.want {
			t.Errorf("ConsoleText(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}
