package reqlog

import (
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
)

// FuzzMapFilter checks the renaming of data.<key> against the filter
// language's own lexer: it never panics, it changes nothing but the dot of
// a data.<key> name (so positions stay right), the parser accepts the
// result exactly when it accepts the input, and what it accepts compiles
// or is refused as bad input, never as an internal error.
func FuzzMapFilter(f *testing.F) {
	for _, s := range []string{
		"data.status >= 400", "data.method = 'data.url' && level > 0", `data.url ~ "it\"s data.x"`,
		"created >= '2026-01-01 00:00:00' // data.nope", "data.execTime > 1.5e3 || data.status = -1",
		"@request.auth.id = '' && data.auth = {:a}", "(data.userAgent:lower ~ 'bot')", "data", "data_status = 1",
		"1data.status", "@collection.x.data.y = 1", "message ~ 'GET /api/'",
	} {
		f.Add(s)
	}
	l := &Log{d: query.SQLite}
	f.Fuzz(func(t *testing.T, src string) {
		out, err := mapFilter(src)
		if err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("%q: %v", src, err)
			}
			return
		}
		if len(out) != len(src) {
			t.Fatalf("%q became %q", src, out)
		}
		for i := range src {
			if src[i] != out[i] && (src[i] != '.' || out[i] != '_' || i < 4 || src[i-4:i] != "data") {
				t.Fatalf("%q became %q: changed at %d", src, out, i)
			}
		}
		_, errIn := filter.Parse(src)
		_, errOut := filter.Parse(out)
		if (errIn == nil) != (errOut == nil) {
			t.Fatalf("%q parses: %v; %q parses: %v", src, errIn, out, errOut)
		}
		if errOut == nil {
			if _, err := filter.Compile(out, l.env(), query.SQLite); err != nil && core.KindOf(err) != core.KindInvalid {
				t.Fatalf("%q: %v", out, err)
			}
		}
	})
}
