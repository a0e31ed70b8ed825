package search_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/search"
)

func word(w string, prefix bool) search.Term {
	return search.Term{Words: []string{w}, Prefix: prefix}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []search.Term
	}{
		{"empty", "", nil},
		{"spaces", "   \t\n", nil},
		{"punctuation only", `!@#$%^&*()-+=[]{}|\;:',.<>/?~`, nil},
		{"empty quotes", `"" " "`, nil},
		{"one word typed on", "tortoise", []search.Term{word("tortoise", true)}},
		{"one word then space", "tortoise ", []search.Term{word("tortoise", false)}},
		{"last word is the prefix", "red tort", []search.Term{word("red", false), word("tort", true)}},
		{"punctuation ends the prefix", "tort.", []search.Term{word("tort", false)}},
		{"explicit star", "tort* race ", []search.Term{word("tort", true), word("race", false)}},
		{"detached star", "tort * race ", []search.Term{word("tort", false), word("race", false)}},
		{"case folded", "TorTOISE ", []search.Term{word("tortoise", false)}},
		{"diacritics removed", "Café Zürich naïve ", []search.Term{word("cafe", false), word("zurich", false), word("naive", false)}},
		{"combining diacritic stays inside the word", "Cafe\u0301 ", []search.Term{word("cafe", false)}},
		{"letters without a decomposition kept", "Øl straße ", []search.Term{word("øl", false), word("straße", false)}},
		{"other scripts, Greek accents kept as FTS5 keeps them", "Ωμέγα 日本語 москва ", []search.Term{word("ωμέγα", false), word("日本語", false), word("москва", false)}},
		{"digits are words", "route66 2024 ", []search.Term{word("route66", false), word("2024", false)}},
		{"punctuation separates", "e-mail o'brien ", []search.Term{word("e", false), word("mail", false), word("o", false), word("brien", false)}},
		{"engine syntax is just separators", `title:x NEAR(a b) a&b|!c <-> ' ^`, []search.Term{
			word("title", false), word("x", false), word("near", false), word("a", false), word("b", false), word("c", false)}},
		{"phrase", `"red tortoise" `, []search.Term{{Words: []string{"red", "tortoise"}, Quoted: true}}},
		{"phrase with prefix star", `"red tort"*`, []search.Term{{Words: []string{"red", "tort"}, Prefix: true, Quoted: true}}},
		{"closed phrase at the end is not a prefix", `"red tort"`, []search.Term{{Words: []string{"red", "tort"}, Quoted: true}}},
		{"quoted single word", `"tortoise"`, []search.Term{{Words: []string{"tortoise"}, Quoted: true}}},
		{"unclosed quote runs to the end, typed on", `slow "red tort`, []search.Term{word("slow", false), {Words: []string{"red", "tort"}, Prefix: true, Quoted: true}}},
		{"unclosed quote then space", `"red tort `, []search.Term{{Words: []string{"red", "tort"}, Quoted: true}}},
		{"words around a phrase", `a"b c"d`, []search.Term{word("a", false), {Words: []string{"b", "c"}, Quoted: true}, word("d", true)}},
		{"duplicates count once", "cat cat CAT cat", []search.Term{word("cat", false), word("cat", true)}},
		{"marks are separators", "a" + search.MarkStart + "b" + search.MarkEnd + "c ", []search.Term{word("a", false), word("b", false), word("c", false)}},
		{"invalid utf-8 separates", "ab\xffcd ", []search.Term{word("ab", false), word("cd", false)}},
		{"nine words, eight distinct", "a b c d e f g h a ", []search.Term{
			word("a", false), word("b", false), word("c", false), word("d", false),
			word("e", false), word("f", false), word("g", false), word("h", false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := search.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(q.Terms, tt.want) {
				t.Errorf("Parse(%q) =\n %#v\nwant\n %#v", tt.in, q.Terms, tt.want)
			}
			if q.Empty() != (len(tt.want) == 0) {
				t.Errorf("Empty() = %v", q.Empty())
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		code string // "" when accepted
	}{
		{"256 bytes", strings.Repeat("a", 256), ""},
		{"257 bytes", strings.Repeat("a", 257), "validation_search_too_long"},
		{"257 bytes of spaces", strings.Repeat(" ", 257), "validation_search_too_long"},
		{"long multibyte", strings.Repeat("é", 129), "validation_search_too_long"},
		{"8 terms", "a b c d e f g h", ""},
		{"9 terms", "a b c d e f g h i", "validation_search_too_many_terms"},
		{"9 terms with phrases", `"a b" "c d" e f g h i j k`, "validation_search_too_many_terms"},
		{"word and its prefix are two terms", "a b c d e f g h* h ", "validation_search_too_many_terms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := search.Parse(tt.in)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %d terms from %d bytes", len(q.Terms), len(tt.in))
			}
			var e *core.Error
			if !errors.As(err, &e) || e.Kind != core.KindInvalid {
				t.Fatalf("error %v is not an invalid *core.Error", err)
			}
			if f, ok := e.Fields["search"]; !ok || f.Code != tt.code || f.Message == "" {
				t.Errorf("fields = %#v, want search: %s", e.Fields, tt.code)
			}
		})
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"Café au LAIT!", "cafe au lait"},
		{"  a--b  ", "a b"},
		{"x" + search.MarkStart + "y", "x y"},
		{"e\u0301clair", "eclair"},
	}
	for _, tt := range tests {
		if got := search.Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		w       string
		has     []string
		hasNot  []string
		wantNil bool
	}{
		{"insert", "tortise", []string{"tortoise"}, nil, false},
		{"delete", "tortoisse", []string{"tortoise"}, nil, false},
		{"substitute", "tortoize", []string{"tortoise"}, nil, false},
		{"transpose", "totroise", []string{"tortoise"}, []string{"totroise"}, false},
		{"digits", "2042", []string{"2024", "204", "20420"}, nil, false},
		{"letters of the word", "zürich", []string{"zürch", "züürich", "zürüch"}, []string{"zèrich"}, false},
		{"two edits are not one", "tortoise", []string{"tortose"}, []string{"tortoise", "trotose", "tortoiseee"}, false},
		{"too short", "cat", nil, nil, true},
		{"empty", "", nil, nil, true},
		{"too long", strings.Repeat("a", search.MaxTypoLen+1), nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := search.Variants(tt.w)
			if tt.wantNil != (vs == nil) {
				t.Fatalf("Variants(%q) = %d words", tt.w, len(vs))
			}
			for _, v := range tt.has {
				if !slices.Contains(vs, v) {
					t.Errorf("Variants(%q) lacks %q", tt.w, v)
				}
			}
			for _, v := range tt.hasNot {
				if slices.Contains(vs, v) {
					t.Errorf("Variants(%q) has %q", tt.w, v)
				}
			}
			if !slices.IsSorted(vs) || len(slices.Compact(slices.Clone(vs))) != len(vs) {
				t.Errorf("Variants(%q) not sorted and distinct", tt.w)
			}
		})
	}
}

// TestVariantsBound checks MaxVariants against the words that come closest
// to it: the longest, with every letter distinct and outside a–z, 0–9 so
// the alphabet is as large as it gets.
func TestVariantsBound(t *testing.T) {
	t.Parallel()
	worst := []string{
		strings.Repeat("ab", search.MaxTypoLen/2),
		"abcdefghijklmnop",
		"αβγδεζηθικλμνξοπ",
		"αβγδεζηθικλμνξο",
	}
	most := 0
	for _, w := range worst {
		vs := search.Variants(w)
		if len(vs) > search.MaxVariants {
			t.Errorf("Variants(%q) = %d words, more than MaxVariants %d", w, len(vs), search.MaxVariants)
		}
		most = max(most, len(vs))
		// Every variant is one edit away, and never w itself.
		for _, v := range vs {
			if v == w || editDistance(v, w) != 1 {
				t.Fatalf("Variants(%q) has %q, %d edits away", w, v, editDistance(v, w))
			}
		}
	}
	if most < search.MaxVariants*9/10 {
		t.Errorf("the worst word gets %d variants: MaxVariants %d is no longer a tight bound", most, search.MaxVariants)
	}
}

// editDistance is the optimal-string-alignment distance (Levenshtein plus
// adjacent transpositions) over runes.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

func TestHTML(t *testing.T) {
	t.Parallel()
	const S, E = search.MarkStart, search.MarkEnd
	tests := []struct{ name, in, want string }{
		{"plain", "slow and steady", "slow and steady"},
		{"marked", "the " + S + "red" + E + " tortoise", "the <mark>red</mark> tortoise"},
		{"escaped", `<script>alert("x")</script> & 'y'`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;y&#39;"},
		{"escaped inside a mark", S + "<b>" + E, "<mark>&lt;b&gt;</mark>"},
		{"two runs", S + "a" + E + " " + S + "b" + E, "<mark>a</mark> <mark>b</mark>"},
		{"nested start ignored", S + "a" + S + "b" + E + "c", "<mark>ab</mark>c"},
		{"extra end dropped", S + "a" + E + "b" + E, "<mark>a</mark>b"},
		{"end first dropped", E + "a" + S + "b" + E, "a<mark>b</mark>"},
		{"start never closed dropped", "a" + S + "b", "ab"},
		{"empty run left out", "a" + S + E + "b", "ab"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"tag split across marks", "<" + S + "script" + E + ">", "&lt;<mark>script</mark>&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := search.HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	const S, E = search.MarkStart, search.MarkEnd
	for in, want := range map[string]string{
		"":                         "",
		"plain":                    "plain",
		S + "fake" + E + " mark":   "fake mark",
		"a" + E + E + "b" + S:      "ab",
		"\ue002 other private use": "\ue002 other private use",
	} {
		if got := search.Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQueryText pins the exact expressions, as documentation of the two
// query languages' shapes; the engine tests below prove what they match.
func TestQueryText(t *testing.T) {
	t.Parallel()
	q, err := search.Parse(`red "slow tort"* hare`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.FTS5(nil, nil), `"red" AND "slow tort"* AND "hare"*`; got != want {
		t.Errorf("FTS5 = %s, want %s", got, want)
	}
	if got, want := q.FTS5([]string{"title", `we"ird`}, nil), `{"title" "we""ird"} : ("red" AND "slow tort"* AND "hare"*)`; got != want {
		t.Errorf("FTS5 = %s, want %s", got, want)
	}
	if got, want := q.TSQuery("", nil), `'red' & ('slow' <-> 'tort':*) & 'hare':*`; got != want {
		t.Errorf("TSQuery = %s, want %s", got, want)
	}
	if got, want := q.TSQuery("ab", nil), `'red':AB & ('slow':AB <-> 'tort':*AB) & 'hare':*AB`; got != want {
		t.Errorf("TSQuery = %s, want %s", got, want)
	}
	fz, _ := search.Parse("cat race ")
	got := fz.FTS5(nil, everyTypo(fz, true))
	if !strings.HasPrefix(got, `"cat" AND ("race" OR "0ace" OR `) || strings.Count(got, " OR ") != len(search.Variants("race")) {
		t.Errorf("fuzzy FTS5 = %.80s…", got)
	}
	got = fz.TSQuery("A", everyTypo(fz, true))
	if !strings.HasPrefix(got, `'cat':A & ('race':A | '0ace':A | `) || strings.Count(got, " | ") != len(search.Variants("race")) {
		t.Errorf("fuzzy TSQuery = %.80s…", got)
	}
	// Only the variants given (those the index holds) are matched; a word
	// given that is no variant of a typed word changes nothing.
	if got, want := fz.FTS5(nil, map[string]bool{"rice": true, "rac": true, "kitten": true}), `"cat" AND ("race" OR "rac" OR "rice")`; got != want {
		t.Errorf("fuzzy FTS5 with typos = %s, want %s", got, want)
	}
	if got, want := fz.TSQuery("A", map[string]bool{"rice": true}), `'cat':A & ('race':A | 'rice':A)`; got != want {
		t.Errorf("fuzzy TSQuery with typos = %s, want %s", got, want)
	}
	if got := fz.Typos(); len(got) != len(search.Variants("race")) || !slices.Contains(got, "rice") || slices.Contains(got, "race") {
		t.Errorf("Typos of %q: %d words, want race's %d variants", "cat race ", len(got), len(search.Variants("race")))
	}
	if q, _ := search.Parse(`"race" rac* race2 `); len(q.Typos()) != len(search.Variants("race2")) {
		t.Errorf("Typos of a quoted word, a prefix and a bare word: %d words, want the bare word's %d", len(q.Typos()), len(search.Variants("race2")))
	}
	if (search.Query{}).FTS5([]string{"a"}, map[string]bool{"x": true}) != "" || (search.Query{}).TSQuery("A", map[string]bool{"x": true}) != "" {
		t.Error("a query without terms gives an expression")
	}
	defer func() {
		if recover() == nil {
			t.Error("TSQuery with label E did not panic")
		}
	}()
	q.TSQuery("AE", nil)
}

// corpus is the fixed set of documents both engines search: title and body
// are searchable, secret is a hidden field that a filtered search must
// never match.
var corpus = []struct {
	id                  int
	title, body, secret string
}{
	{1, "The Red Tortoise", "A slow tortoise wins the race", "hunter2"},
	{2, "Café culture", "Naïve coffee drinkers in Zürich", ""},
	{3, "Running shoes", "She was running fast", ""},
	{4, "Hare", "The quick brown hare loses the race", "tortoise zebra"},
	{5, "Turtles", "Turtles and tortoises are reptiles", ""},
}

type engineCase struct {
	name   string
	search string
	fuzzy  bool
	hidden bool // search the hidden field too (a superuser)
	want   []int
}

// sharedCases hold on both engines with the configurations that do not
// stem (FTS5 unicode61, PostgreSQL 'simple').
var sharedCases = []engineCase{
	{"word", "tortoise ", false, false, []int{1}},
	{"prefix while typing", "tort", false, false, []int{1, 5}},
	{"prefix of a partly typed inflected word", "runni", false, false, []int{3}},
	{"no prefix after a space", "tort ", false, false, nil},
	{"explicit prefix", "tort* race", false, false, []int{1}},
	{"all words must match", "tortoise hare ", false, false, nil},
	{"words in any order", "race slow ", false, false, []int{1}},
	{"phrase", `"slow tortoise"`, false, false, []int{1}},
	{"phrase order matters", `"tortoise slow"`, false, false, nil},
	{"phrase being typed", `"slow tort`, false, false, []int{1}},
	{"diacritics folded", "cafe zurich ", false, false, []int{2}},
	{"diacritics in the query", "Café NAÏVE ", false, false, []int{2}},
	{"one typo without fuzzy", "tortise ", false, false, nil},
	{"one typo with fuzzy", "tortise ", true, false, []int{1}},
	{"transposed letters with fuzzy", "tortiose ", true, false, []int{1}},
	{"two typos never", "trotise ", true, false, nil},
	{"no typo tolerance in quotes", `"tortise"`, true, false, nil},
	{"no typo tolerance under 4 letters", "har ", true, false, nil},
	{"fuzzy and exact words together", "brwn hare ", true, false, []int{4}},
	{"hidden field not searched", "zebra ", false, false, nil},
	{"hidden field not searched with fuzzy", "zebr ", true, false, nil},
	{"hidden field not searched by prefix", "hunt", false, false, nil},
	{"hidden field searched when allowed", "zebra ", false, true, []int{4}},
	{"hidden word does not complete a query", "hare zebra ", false, false, nil},
	{"operators are plain words", `tortoise OR hare NOT "`, false, false, nil},
}

func TestFTS5(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE VIRTUAL TABLE docs USING fts5(title, body, secret, tokenize='unicode61 remove_diacritics 2')`,
		`CREATE VIRTUAL TABLE stemmed USING fts5(title, body, secret, tokenize='porter unicode61 remove_diacritics 2')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v (is FTS5 compiled into modernc.org/sqlite?)", s, err)
		}
	}
	for _, d := range corpus {
		for _, table := range []string{"docs", "stemmed"} {
			if _, err := db.Exec(`INSERT INTO `+table+`(rowid, title, body, secret) VALUES (?, ?, ?, ?)`,
				d.id, search.Clean(d.title), search.Clean(d.body), search.Clean(d.secret)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := append(slices.Clone(sharedCases),
		engineCase{"all columns", "zebra ", false, true, []int{4}},
	)
	// Facts about the porter tokenizer the engine side must know: it
	// stems the words of the query, prefixes included, so inflected words
	// match, and a partly typed word matches only if its stem is a prefix
	// of the stored stem ("runni" is not a prefix of "run").
	stemmed := []engineCase{
		{"porter: plural matches", "tortoise ", false, false, []int{1, 5}},
		{"porter: prefix of a stem", "tort", false, false, []int{1, 5}},
		{"porter: partly typed inflected word misses", "runni", false, false, nil},
		{"porter: whole inflected word as prefix", "running", false, false, []int{3}},
		{"porter: typo with fuzzy", "tortise ", true, false, []int{1, 5}},
	}
	run := func(table string, cases []engineCase) {
		for _, tt := range cases {
			t.Run(table+"/"+tt.name, func(t *testing.T) {
				q, err := search.Parse(tt.search)
				if err != nil {
					t.Fatal(err)
				}
				cols := []string{"title", "body"}
				if tt.hidden {
					cols = nil
				}
				expr := q.FTS5(cols, everyTypo(q, tt.fuzzy))
				got := queryIDs(t, db, `SELECT rowid FROM `+table+` WHERE `+table+` MATCH ? ORDER BY rowid`, expr)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%q (fuzzy %v) → %.200s\nmatched %v, want %v", tt.search, tt.fuzzy, expr, got, tt.want)
				}
			})
		}
	}
	run("docs", cases)
	run("stemmed", stemmed)

	t.Run("highlight", func(t *testing.T) {
		q, _ := search.Parse("red tort")
		var snip string
		err := db.QueryRow(`SELECT highlight(docs, 0, ?, ?) FROM docs WHERE docs MATCH ?`,
			search.MarkStart, search.MarkEnd, q.FTS5([]string{"title", "body"}, nil)).Scan(&snip)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := search.HTML(snip), "The <mark>Red</mark> <mark>Tortoise</mark>"; got != want {
			t.Errorf("highlight = %q, want %q", got, want)
		}
	})

	t.Run("largest fuzzy query", func(t *testing.T) {
		// Eight distinct words of MaxTypoLen letters: the most expensive
		// query a guest can send. It must be accepted by FTS5 and cheap.
		var words []string
		for i := range search.MaxTerms {
			words = append(words, strings.Repeat(string(rune('a'+i)), 1)+"αβγδεζηθικλμνξο")
		}
		q, err := search.Parse(strings.Join(words, " ") + " ")
		if err != nil {
			t.Fatal(err)
		}
		expr := q.FTS5([]string{"title", "body"}, everyTypo(q, true))
		start := time.Now()
		queryIDs(t, db, `SELECT rowid FROM docs WHERE docs MATCH ?`, expr)
		n := strings.Count(expr, `" OR "`)
		if n > search.MaxFuzzyVariants || n < search.MaxFuzzyVariants/2 {
			t.Errorf("largest fuzzy query has %d variants, want %d to %d", n, search.MaxFuzzyVariants/2, search.MaxFuzzyVariants)
		}
		t.Logf("%d-byte expression, %d variants, ran in %v", len(expr), n, time.Since(start))
	})
}

func queryIDs(t *testing.T, db *sql.DB, query string, args ...any) []int {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%v\nargs %.300q", err, args)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\nargs %.300q", err, args)
	}
	return ids
}

func TestTSQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.PostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	// Each configuration indexes the text folded in SQL (search.FoldSQL),
	// as the engine's trigger does: PostgreSQL removes no diacritics
	// itself. raw is indexed without folding. Title is weight A, body B,
	// the hidden field C.
	if _, err := conn.Exec(ctx, `CREATE TABLE docs (id int PRIMARY KEY, title text, body text, secret text,
		simple tsvector, english tsvector, raw tsvector)`); err != nil {
		t.Fatal(err)
	}
	for _, d := range corpus {
		if _, err := conn.Exec(ctx, `INSERT INTO docs (id, title, body, secret) VALUES ($1, $2, $3, $4)`,
			d.id, search.Clean(d.title), search.Clean(d.body), search.Clean(d.secret)); err != nil {
			t.Fatal(err)
		}
	}
	vector := func(config string, fold func(string) string) string {
		return fmt.Sprintf(`setweight(to_tsvector('%[1]s', %[2]s), 'A') || setweight(to_tsvector('%[1]s', %[3]s), 'B') || setweight(to_tsvector('%[1]s', %[4]s), 'C')`,
			config, fold("title"), fold("body"), fold("secret"))
	}
	plain := func(col string) string { return col }
	if _, err := conn.Exec(ctx, `UPDATE docs SET simple = `+vector("simple", search.FoldSQL)+
		`, english = `+vector("english", search.FoldSQL)+`, raw = `+vector("simple", plain)); err != nil {
		t.Fatal(err)
	}
	english := []engineCase{
		{"english: plural matches", "tortoise ", false, false, []int{1, 5}},
		{"english: prefix of a stem", "tort", false, false, []int{1, 5}},
		{"english: partly typed inflected word misses", "runni", false, false, nil},
		{"english: whole inflected word", "running ", false, false, []int{3}},
		{"english: typo with fuzzy", "tortise ", true, false, []int{1, 5}},
		{"english: stop words dropped", "the tortoise ", false, false, []int{1, 5}},
		{"english: hidden field", "zebra ", false, false, nil},
	}
	run := func(config, column string, cases []engineCase) {
		for _, tt := range cases {
			t.Run(config+"/"+tt.name, func(t *testing.T) {
				q, err := search.Parse(tt.search)
				if err != nil {
					t.Fatal(err)
				}
				labels := "AB"
				if tt.hidden {
					labels = ""
				}
				text := q.TSQuery(labels, everyTypo(q, tt.fuzzy))
				rows, err := conn.Query(ctx, `SELECT id FROM docs WHERE `+column+` @@ to_tsquery($1::regconfig, $2) ORDER BY id`, config, text)
				if err != nil {
					t.Fatalf("%v\n%.300s", err, text)
				}
				got, err := pgx.CollectRows(rows, pgx.RowTo[int])
				if err != nil {
					t.Fatalf("%v\n%.300s", err, text)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%q (fuzzy %v) → %.200s\nmatched %v, want %v", tt.search, tt.fuzzy, text, got, tt.want)
				}
			})
		}
	}
	run("simple", "simple", sharedCases)
	run("english", "english", english)
	// Without folding at indexing time, PostgreSQL keeps diacritics and the
	// folded query word misses: the engine side must index FoldSQL(column).
	run("simple", "raw", []engineCase{
		{"unfolded index misses folded words", "cafe ", false, false, nil},
		{"unfolded index still matches plain words", "tortoise ", false, false, []int{1}},
	})

	t.Run("FoldSQL agrees with Fold", func(t *testing.T) {
		for _, text := range []string{
			"Café Zürich NAÏVE Ærø Straße Łódź Đakovo ǅemal İstanbul Ωμέγα Москва Ёлка Crème brûlée",
			"e\u0301clair a\u0308b plain ascii words",
			everyLetter(0x80, 0x2000),
			strings.Repeat("Ärger Öl ", 2000),   // 22 KB of Latin-1: the translate() lookup's cost is logged
			strings.Repeat("Łódź Ärger ", 2000), // 26 KB needing the long list
		} {
			var got []string
			start := time.Now()
			err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(lexeme ORDER BY lexeme), '{}') FROM unnest(to_tsvector('simple', `+search.FoldSQL("$1::text")+`))`, text).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			// PostgreSQL lower-cases letters FTS5's Unicode 6.1 had no case
			// for (Cherokee, Georgian Mtavruli), in the stored text and in
			// to_tsquery's words alike: the lower-cased Fold must agree.
			want := strings.Fields(strings.ToLower(search.Fold(text)))
			slices.Sort(want)
			want = slices.Compact(want)
			t.Logf("%d bytes folded and indexed in %v", len(text), time.Since(start))
			if !slices.Equal(got, want) {
				var extra, missing []string
				for _, w := range got {
					if _, ok := slices.BinarySearch(want, w); !ok {
						extra = append(extra, w)
					}
				}
				for _, w := range want {
					if _, ok := slices.BinarySearch(got, w); !ok {
						missing = append(missing, w)
					}
				}
				t.Errorf("PostgreSQL folds %.40q to %d words, Fold to %d: only PostgreSQL %q, only Fold %q", text, len(got), len(want), extra, missing)
			}
		}
	})

	t.Run("headline", func(t *testing.T) {
		q, _ := search.Parse("red tort")
		var snip string
		err := conn.QueryRow(ctx, `SELECT ts_headline('simple', $1, to_tsquery('simple', $2), $3)`,
			search.Fold(corpus[0].title), q.TSQuery("", nil),
			fmt.Sprintf("StartSel=%s, StopSel=%s", search.MarkStart, search.MarkEnd)).Scan(&snip)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := search.HTML(snip), "the <mark>red</mark> <mark>tortoise</mark>"; got != want {
			t.Errorf("headline = %q, want %q", got, want)
		}
	})

	t.Run("largest fuzzy query", func(t *testing.T) {
		var words []string
		for i := range search.MaxTerms {
			words = append(words, string(rune('a'+i))+"αβγδεζηθικλμνξο")
		}
		q, err := search.Parse(strings.Join(words, " ") + " ")
		if err != nil {
			t.Fatal(err)
		}
		text := q.TSQuery("AB", everyTypo(q, true))
		start := time.Now()
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM docs WHERE simple @@ to_tsquery('simple', $1)`, text).Scan(&n); err != nil {
			t.Fatalf("%v (%d bytes)", err, len(text))
		}
		if n := strings.Count(text, " | "); n > search.MaxFuzzyVariants {
			t.Errorf("largest fuzzy tsquery has %d variants, more than %d", n, search.MaxFuzzyVariants)
		}
		t.Logf("%d-byte tsquery ran in %v", len(text), time.Since(start))
	})
}

// everyLetter returns "qXq" for each letter X from lo to hi, with each
// letter once more after a letter with a combining acute accent.
func everyLetter(lo, hi rune) string {
	var b strings.Builder
	for r := lo; r < hi; r++ {
		if unicode.IsLetter(r) {
			fmt.Fprintf(&b, "q%cq e\u0301%c ", r, r)
		}
	}
	return b.String()
}

// FuzzParse checks that no input panics Parse, that accepted queries stay
// within the limits, that their FTS5 expressions are always valid FTS5
// (fuzzy or not, with and without a column filter) and that their tsquery
// text holds nothing but lexemes and operators.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "tortoise", `"red tort`, "a* b", `"" * "`, "Café naïve", `{a} : NEAR("x" y) OR -z^`,
		"a b c d e f g h", strings.Repeat("é", 128), "\xff\xfe", search.MarkStart + "x" + search.MarkEnd} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	f.Cleanup(func() { db.Close() })
	// d holds a row; e is empty, which makes fuzzy expressions (up to 2,000
	// lookups) cheap enough to fuzz while FTS5 still parses them.
	if _, err := db.Exec(`CREATE VIRTUAL TABLE d USING fts5(title, body, tokenize='unicode61 remove_diacritics 2');
		CREATE VIRTUAL TABLE e USING fts5(title, body, tokenize='unicode61 remove_diacritics 2');
		INSERT INTO d VALUES ('the red tortoise', 'a slow race')`); err != nil {
		f.Fatal(err)
	}
	for _, table := range []string{"d", "e"} {
		if _, err := db.Exec(`SELECT count(*) FROM ` + table + ` WHERE ` + table + ` MATCH 'AND "'`); err == nil {
			f.Fatalf("FTS5 table %s accepts a bad expression: the check below would prove nothing", table)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := search.Parse(s)
		if err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("Parse(%q): %v is not invalid input", s, err)
			}
			return
		}
		if len(s) > search.MaxQueryBytes || len(q.Terms) > search.MaxTerms {
			t.Fatalf("Parse accepted %d bytes, %d terms", len(s), len(q.Terms))
		}
		for _, term := range q.Terms {
			if len(term.Words) == 0 {
				t.Fatalf("Parse(%q): a term without words", s)
			}
			for _, w := range term.Words {
				if w == "" || !utf8.ValidString(w) || search.Fold(w) != w {
					t.Fatalf("Parse(%q): word %q is not folded letters and digits", s, w)
				}
			}
		}
		if q.Empty() {
			return
		}
		for _, fuzzy := range []bool{false, true} {
			for _, cols := range [][]string{nil, {"title"}} {
				expr := q.FTS5(cols, everyTypo(q, fuzzy))
				table := "d"
				if fuzzy {
					table = "e"
				}
				var n int
				if err := db.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+table+` MATCH ?`, expr).Scan(&n); err != nil {
					t.Fatalf("Parse(%q).FTS5(%v, %v) = %.300s: %v", s, cols, fuzzy, expr, err)
				}
			}
			text := q.TSQuery("AB", everyTypo(q, fuzzy))
			for _, r := range text {
				if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !strings.ContainsRune(`'&|!():*<->  `, r) {
					t.Fatalf("Parse(%q).TSQuery = %.300s holds %q", s, text, r)
				}
			}
		}
	})
}

// everyTypo is the typos argument of q's fuzzy form with every variant
// (as if the index held them all), or nil for q as typed.
func everyTypo(q search.Query, fuzzy bool) map[string]bool {
	if !fuzzy {
		return nil
	}
	m := map[string]bool{}
	for _, w := range q.Typos() {
		m[w] = true
	}
	return m
}
