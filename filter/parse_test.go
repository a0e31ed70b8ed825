package filter

import (
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
	}{
		{"empty", ""},
		{"blank", "  \n\t "},
		{"simple", "a = 1"},
		{"no spaces", "a>=-1.5&&b!='x'"},
		{"double quotes", `a = "it's"`},
		{"escaped quote", `a = 'it\'s'`},
		{"escaped double quote", `a = "say \"hi\""`},
		{"backslash kept", `a ~ 'a\b'`},
		{"any ops", "a ?= 1 && a ?!= 1 && a ?> 1 && a ?>= 1 && a ?< 1 && a ?<= 1 && a ?~ 'x' && a ?!~ 'x'"},
		{"all ops", "a = 1 && a != 1 && a > 1 && a >= 1 && a < 1 && a <= 1 && a ~ 'x' && a !~ 'x'"},
		{"literals", "a = true || a = false || a = null || a = 1e3 || a = .5"},
		{"parens", "((a = 1) || (b = 2 && (c = 3)))"},
		{"placeholder", "a = {:name}"},
		{"request", "@request.auth.id != '' && @request.body.x:isset = true"},
		{"collection alias", "@collection.users:u.name = 'x'"},
		{"modifiers", "tags:length > 1 && tags:each ~ 'x' && name:lower = 'a'"},
		{"comment", "a = 1 // trailing\n && b = 2"},
		{"macro", "created > @now"},
		{"unicode string", "a = 'ünï'"},
		{"call", "geoDistance(a.lon, a.lat, 23.32, -42.69) < 25"},
		{"call spaced", "geoDistance ( a , {:lat}, @request.query.lon, null ) >= b"},
		{"call on the right", "25 > geoDistance(1,2,3,4)"},
		{"call without arguments", "f() = 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(tc.src); err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"missing operator", "a", "expected an operator after a"},
		{"missing right", "a =", "expected a value or a field"},
		{"dangling and", "a = 1 &&", "expected a value or a field"},
		{"double op", "a = = 1", "expected a value or a field"},
		{"bad char", "a = 1 # b", `unexpected character "#"`},
		{"single amp", "a = 1 & b = 2", `unexpected character "&"`},
		{"unterminated string", "a = 'abc", "unterminated string at position 4"},
		{"unterminated placeholder", "a = {:abc", "unterminated placeholder"},
		{"bad placeholder", "a = {:1x}", "invalid placeholder name"},
		{"unbalanced open", "(a = 1", "missing )"},
		{"unbalanced close", "a = 1)", `unexpected ")"`},
		{"empty parens", "()", "empty parentheses"},
		{"bad number", "a = 1.2.3", "invalid number"},
		{"number glued", "a = 12abc", "invalid number"},
		{"huge number", "a = 1e999", "invalid number"},
		{"not operator", "!a = 1", `unexpected character "!"`},
		{"value op value op", "a = 1 = 2", `unexpected "="`},
		{"nul byte", "a = '\x00'", "not valid UTF-8"},
		{"bad utf8", "a = '\xff'", "not valid UTF-8"},
		{"too long", "a = '" + strings.Repeat("x", MaxLength) + "'", "longer than"},
		{"too deep", strings.Repeat("(", MaxDepth+1) + "a = 1" + strings.Repeat(")", MaxDepth+1), "nested deeper"},
		{"call unclosed", "f(1, 2", "expected , or ) in the arguments of f"},
		{"call missing argument", "f(1, , 2) = 1", "expected a value or a field"},
		{"call nested", "f(g(1)) = 1", "the arguments of f cannot be calls"},
		{"call of a literal", "'f'(1) = 1", `expected an operator after "f"`},
		{"comma alone", "a = 1, b = 2", `unexpected ","`},
		{"call without operator", "f(1)", "expected an operator after f(1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.src)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tc.src)
			}
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("kind %v, want invalid: %v", core.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "invalid filter: ") {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseDeepNestingNoOverflow(t *testing.T) {
	t.Parallel()
	// Far deeper than allowed, within the length limit: an error, not a crash.
	src := strings.Repeat("(", MaxLength-10)
	if _, err := Parse(src); err == nil {
		t.Fatal("want error")
	}
	// Long flat chains are fine.
	src = "a = 1" + strings.Repeat(" || a = 1", 300)
	if _, err := Parse(src); err != nil {
		t.Fatal(err)
	}
}

func TestLike(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s, p string
		want bool
	}{
		{"hello", "%ell%", true},
		{"HELLO", "%ell%", true},
		{"hello", "h_llo", true},
		{"hello", "h_lo", false},
		{"", "%", true},
		{"", "_", false},
		{"a%b", `a\%b`, true},
		{"axb", `a\%b`, false},
		{"ünï", "_n_", true},
		{"Émile", "émile", false}, // only ASCII folds
		{"aaa", "%a%a%a%", true},
		{"aab", "%a%b", true},
		{"ab", "%a%a%", false},
	}
	for _, tc := range tests {
		if got := likeMatch(tc.s, tc.p); got != tc.want {
			t.Errorf("likeMatch(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
	pats := []struct{ in, want string }{
		{"abc", "%abc%"},
		{"a_b", `%a\_b%`},
		{`a\b`, `%a\\b%`},
		{"a%", "a%"},
		{`a\%%`, `a\%%`},
		{`a%\`, `a%\\`},
		{`%\x`, `%x`},
		{`%\_`, `%\_`},
	}
	for _, tc := range pats {
		if got := likeConstPattern(tc.in); got != tc.want {
			t.Errorf("likeConstPattern(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIdents(t *testing.T) {
	for src, want := range map[string][]string{
		``:      nil,
		`a = 1`: {"a"},
		`a = 1 && (@request.auth.id != "" || b.c ?= @now) && a > 2`: {"a", "@request.auth.id", "b.c", "@now"},
		`geoDistance(lon, lat, 1, 2) < @request.headers.x`:          {"lon", "lat", "@request.headers.x"},
		`@request.auth.id:isset = true`:                             {"@request.auth.id:isset"},
	} {
		e, err := Parse(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := e.Idents(); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", src, got, want)
		}
	}
}
