// Package search turns what a user types into a search box into the query
// languages of the two engines Tortoise searches with: an SQLite FTS5 MATCH
// expression and the text of a PostgreSQL to_tsquery. It also turns the
// engines' highlighted snippets into safe HTML. It knows nothing of
// collections or indexes: the records feature decides which columns or
// weight labels a caller may search and when to ask for typo tolerance.
//
// # The query language
//
// Users type words; a record matches when it contains all of them:
//
//	tortoise race        both words, anywhere, in any order
//	"red tortoise"       a phrase: these words, adjacent, in this order
//	tort                 search-as-you-type: the last word of the query is a
//	                     prefix (matches "tortoise") unless a space follows it
//	tort* race           a trailing * makes any word (or "a phrase"*) a prefix
//
// Words are runs of Unicode letters and digits, compared without case and
// without the diacritics SQLite FTS5 removes, those of Latin letters ("Café"
// finds "cafe" and "café"; Greek "έ" keeps its accent); everything else —
// punctuation, symbols, operators of either engine — only separates words,
// so nothing a user types is ever query syntax. An unclosed quote runs to
// the end of the input. Input with no words is no search at all.
//
// Typo tolerance: when a search finds nothing as typed, the engine may ask
// for the fuzzy form, in which every bare word of MinTypoLen (4) to
// MaxTypoLen (16) letters also matches the words one edit away from it
// (a letter inserted, deleted, replaced, or two adjacent letters swapped:
// "tortise" finds "tortoise"). Prefix words and words in quotes are always
// taken as typed.
//
// # Cost bounds
//
// A guest may search, so a query's cost is bounded before it reaches an
// engine: at most MaxQueryBytes (256) bytes of input and MaxTerms (8)
// distinct terms, or Parse fails with a 400 naming the "search" parameter.
// A fuzzy word expands to at most MaxVariants (1,731) alternatives and a
// whole fuzzy query to at most MaxFuzzyVariants (2,000) (Typos), so a
// fuzzy search first probes the index for at most 2,000 words, each one
// b-tree or GIN lookup, then searches for the typed words and the
// variants found; a query as typed looks up at most 8 terms (each a word,
// a phrase or a prefix range).
//
// # For the engines
//
// The FTS5 side indexes with unicode61 remove_diacritics 2, which folds
// exactly as Parse does (fold_table.go is generated from it). PostgreSQL
// removes no diacritics, so its tsvector must be built from
// FoldSQL(column), and its snippets, of the text as written, must mark
// the text's own spellings of the folded words. Stemming (FTS5's porter,
// PostgreSQL's 'english') stems prefix words too: a partly typed
// inflected word ("runni") misses ("running" is stored as "run"), so
// search-as-you-type works best without stemming. The engines put MarkStart and MarkEnd into snippets
// and HTML turns them into <mark> elements; a field whose stored text
// holds a mark itself (HasMarks) is not highlighted, since its snippet's
// marks cannot be told apart.
package search

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Limits on what Parse accepts and Variants produces; see the package
// documentation for why they exist.
const (
	// MaxQueryBytes is the longest search input Parse accepts, in bytes.
	MaxQueryBytes = 256
	// MaxTerms is the most distinct terms (words or phrases) a query may have.
	MaxTerms = 8
	// MinTypoLen is the length, in letters, from which a word gets typo
	// tolerance: shorter words have too many neighbours one edit away.
	MinTypoLen = 4
	// MaxTypoLen is the length, in letters, above which a word gets no typo
	// tolerance, which bounds the number of variants (see MaxVariants).
	MaxTypoLen = 16
	// MaxVariants is the most words Variants returns: for n ≤ MaxTypoLen
	// letters over an alphabet of A = 36 + (letters of w outside a–z, 0–9)
	// ≤ 36 + n, at most n deletions, n−1 transpositions, n(A−1)
	// substitutions and (n+1)A insertions: 1,731 at n = 16, A = 52.
	MaxVariants = 1731
	// MaxFuzzyVariants is the most variants one fuzzy query expands to, in
	// all its words together. Each variant is one more index lookup (about
	// 30–60 µs each in FTS5 on modernc.org/sqlite, measured), so eight
	// fully expanded words (13,800 lookups) would take over a second. Words
	// are expanded in the order typed while their variants fit; a word
	// whose variants do not fit in what is left is taken as typed.
	MaxFuzzyVariants = 2000
)

// Query is a parsed user search string. Its zero value has no terms and
// means "no search".
type Query struct {
	Terms []Term
}

// Term is one word, or a quoted phrase of several words, that a matching
// record must contain. Words are folded (lower case, diacritics removed)
// and hold only letters and digits.
//
// Prefix: the last word may be a prefix (search-as-you-type: the last bare
// word of the query is a prefix unless followed by a space; an explicit
// trailing * also makes a word, or a phrase's last word, a prefix).
type Term struct {
	Words  []string
	Prefix bool
	// Quoted is set for terms the user put in double quotes, even a single
	// word: they are matched as typed, never with typo tolerance.
	Quoted bool
}

// Empty reports whether q has no terms, which callers treat as no search.
func (q Query) Empty() bool { return len(q.Terms) == 0 }

// Parse reads what a user typed (see the package documentation for the
// language). Words are runs of letters and digits (Unicode), folded to lower
// case with diacritics removed exactly as FTS5's unicode61 tokenizer with
// remove_diacritics 2 folds them (the table in fold_table.go is generated
// from it and checked against it by the tests); everything else separates
// words, and "double quotes" group a phrase. Empty or punctuation-only input
// gives a Query with no terms. Identical terms count once.
//
// Errors: a *core.Error of kind invalid naming the field "search", with
// code validation_search_too_long (more than MaxQueryBytes bytes) or
// validation_search_too_many_terms (more than MaxTerms distinct terms).
func Parse(s string) (Query, error) {
	if len(s) > MaxQueryBytes {
		return Query{}, core.FieldInvalid("search", "validation_search_too_long",
			fmt.Sprintf("Search must be at most %d bytes long.", MaxQueryBytes))
	}
	var (
		q       Query
		inQuote bool
		phrase  []string
		word    []rune
		// endWord is the byte offset just past the last word read, so an
		// unclosed phrase knows whether the input ended right after it.
		endWord = -1
	)
	add := func(t Term) {
		for _, u := range q.Terms {
			if u.Prefix == t.Prefix && u.Quoted == t.Quoted && slices.Equal(u.Words, t.Words) {
				return
			}
		}
		q.Terms = append(q.Terms, t)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '"' {
			i += size
			if !inQuote {
				inQuote, phrase = true, nil
				continue
			}
			inQuote = false
			if len(phrase) > 0 {
				star := i < len(s) && s[i] == '*'
				add(Term{Words: phrase, Prefix: star, Quoted: true})
			}
			continue
		}
		if _, kind := foldRune(r); kind != foldWord {
			i += size
			continue
		}
		// A word: every rune up to the next separator, folded.
		word = word[:0]
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			f, kind := foldRune(r)
			if kind == foldSeparator {
				break
			}
			if kind == foldWord {
				word = append(word, f)
			}
			i += size
		}
		endWord = i
		w := string(word)
		if inQuote {
			phrase = append(phrase, w)
			continue
		}
		star := i < len(s) && s[i] == '*'
		add(Term{Words: []string{w}, Prefix: star || i == len(s)})
	}
	if inQuote && len(phrase) > 0 {
		add(Term{Words: phrase, Prefix: endWord == len(s), Quoted: true})
	}
	if len(q.Terms) > MaxTerms {
		return Query{}, core.FieldInvalid("search", "validation_search_too_many_terms",
			fmt.Sprintf("Search may have at most %d words or phrases.", MaxTerms))
	}
	return q, nil
}

// How foldRune classifies a rune.
const (
	foldSeparator = iota // not part of a word
	foldWord             // a letter or digit, folded
	foldDrop             // a combining diacritic: dropped, the word goes on
)

// foldRune folds one rune the way FTS5's unicode61 tokenizer with
// remove_diacritics 2 does, restricted to letters and digits: the
// generated table holds every letter or digit on which it differs from
// unicode.ToLower (diacritics removed, letters Unicode 6.1 did not case),
// the combining diacritics it drops inside words, and the letters it
// separates words at.
func foldRune(r rune) (rune, int) {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return r, foldWord
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A', foldWord
		}
		return r, foldSeparator
	}
	if f, ok := foldTable[r]; ok {
		switch f {
		case foldTableDrop:
			return r, foldDrop
		case foldTableSeparator:
			return r, foldSeparator
		}
		return f, foldWord
	}
	if unicode.IsLetter(r) || unicode.IsNumber(r) {
		return unicode.ToLower(r), foldWord
	}
	return r, foldSeparator
}

// Fold returns s with every word folded as Parse folds it and each run of
// separators replaced by one space: what to index where the engine does
// not remove diacritics itself (PostgreSQL's 'simple' and language
// configurations keep them), so that to_tsvector(config, Fold(text))
// matches the words Parse produces. MarkStart and MarkEnd separate words.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		f, kind := foldRune(r)
		switch kind {
		case foldWord:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(f)
		case foldSeparator:
			space = true
		}
	}
	return b.String()
}

// Variants returns the words within one edit (insert, delete, substitute,
// transpose adjacent) of w, w excluded, for typo tolerance, over the
// alphabet a–z, 0–9 and the letters of w, sorted; nil for words shorter
// than MinTypoLen or longer than MaxTypoLen runes. It returns at most
// MaxVariants words.
func Variants(w string) []string {
	rs := []rune(w)
	n := len(rs)
	if n < MinTypoLen || n > MaxTypoLen {
		return nil
	}
	alphabet := make([]rune, 0, 36+n)
	for c := 'a'; c <= 'z'; c++ {
		alphabet = append(alphabet, c)
	}
	for c := '0'; c <= '9'; c++ {
		alphabet = append(alphabet, c)
	}
	for _, c := range rs {
		if !slices.Contains(alphabet, c) {
			alphabet = append(alphabet, c)
		}
	}
	seen := map[string]struct{}{w: {}}
	var out []string
	buf := make([]rune, 0, n+1)
	add := func(v []rune) {
		s := string(v)
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	for i := range n {
		add(append(append(buf[:0], rs[:i]...), rs[i+1:]...)) // delete
		if i+1 < n && rs[i] != rs[i+1] {
			v := append(buf[:0], rs...)
			v[i], v[i+1] = v[i+1], v[i]
			add(v) // transpose
		}
		for _, c := range alphabet {
			if c != rs[i] {
				v := append(buf[:0], rs...)
				v[i] = c
				add(v) // substitute
			}
		}
	}
	for i := 0; i <= n; i++ {
		for _, c := range alphabet {
			v := append(append(append(buf[:0], rs[:i]...), c), rs[i:]...)
			add(v) // insert
		}
	}
	slices.Sort(out)
	return out
}

// Typos returns the words the fuzzy form of q may match besides those
// typed: the Variants of each bare word (neither quoted nor a prefix), in
// the order typed while they fit in MaxFuzzyVariants, without repeats.
// Most are not words at all: an engine keeps those its index holds and
// passes them to FTS5 or TSQuery. Expanded to every variant, a query
// would make the engine weigh thousands of alternatives for each row that
// matches (seconds over 100k records on SQLite, minutes on PostgreSQL).
func (q Query) Typos() []string {
	var out []string
	seen := map[string]struct{}{}
	for _, vs := range q.expansions() {
		for _, v := range vs {
			if _, ok := seen[v]; !ok {
				seen[v] = struct{}{}
				out = append(out, v)
			}
		}
	}
	return out
}

// expansions returns, for each term, all the variants it may be expanded
// to: the Variants of bare words that are not prefixes, in the order
// typed while they fit in MaxFuzzyVariants; nil for the others.
func (q Query) expansions() [][]string {
	out := make([][]string, len(q.Terms))
	left := MaxFuzzyVariants
	for i, t := range q.Terms {
		if t.Quoted || t.Prefix || len(t.Words) != 1 {
			continue
		}
		if vs := Variants(t.Words[0]); len(vs) <= left {
			out[i] = vs
			left -= len(vs)
		}
	}
	return out
}

// variants returns, for each term, the variants it is expanded to: those
// of its expansions in typos.
func (q Query) variants(typos map[string]bool) [][]string {
	if len(typos) == 0 {
		return make([][]string, len(q.Terms))
	}
	out := q.expansions()
	for i, vs := range out {
		out[i] = slices.DeleteFunc(vs, func(v string) bool { return !typos[v] })
	}
	return out
}

// FTS5 returns an FTS5 MATCH expression for q over the given column names,
// or "" for a query without terms. With columns it is a column filter
// `{"a" "b"} : (...)`, so fields kept in other columns (hidden fields) are
// never matched; nil or empty columns means all columns. Every word is
// quoted as an FTS5 string, so no user input is ever FTS5 syntax; FTS5
// tokenizes the string with the table's own tokenizer (stemming it, with
// porter). Terms are ANDed; a phrase is an FTS5 phrase ("a b"); a prefix
// word or phrase gets `*`. With typos (a subset of Typos), each bare word
// with variants among them becomes an OR group of itself and those
// variants.
func (q Query) FTS5(columns []string, typos map[string]bool) string {
	if len(q.Terms) == 0 {
		return ""
	}
	var b strings.Builder
	if len(columns) > 0 {
		b.WriteByte('{')
		for i, c := range columns {
			if i > 0 {
				b.WriteByte(' ')
			}
			fts5String(&b, c)
		}
		b.WriteString("} : (")
	}
	variants := q.variants(typos)
	for i, t := range q.Terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		vs := variants[i]
		if len(vs) > 0 {
			b.WriteByte('(')
			fts5String(&b, t.Words[0])
			for _, v := range vs {
				b.WriteString(" OR ")
				fts5String(&b, v)
			}
			b.WriteByte(')')
			continue
		}
		fts5String(&b, strings.Join(t.Words, " "))
		if t.Prefix {
			b.WriteByte('*')
		}
	}
	if len(columns) > 0 {
		b.WriteByte(')')
	}
	return b.String()
}

// fts5String writes s as an FTS5 string: in double quotes, each embedded
// double quote doubled.
func fts5String(b *strings.Builder, s string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}

// tsQuote escapes a lexeme inside to_tsquery's single quotes. Parsed words
// never hold either character; this keeps a hand-made Query safe too.
var tsQuote = strings.NewReplacer(`'`, `''`, `\`, `\\`)

// TSQuery returns text for PostgreSQL's to_tsquery(config, text), or "" for
// a query without terms: terms joined by &, a phrase's words by <->, a
// prefix word gets :*, and with typos (a subset of Typos) each bare word
// with variants among them becomes a group of itself and those variants
// joined by |.
//
// Weights: when labels is non-empty (e.g. "AB"), every lexeme is restricted
// to those weight labels (`'word':AB`, `'word':*AB`), so fields kept under
// other labels (hidden fields) never match. labels may hold only A, B, C
// and D (either case); anything else is a bug in the caller and panics
// rather than silently searching every label.
//
// Words contain only letters and digits, so nothing the user typed is
// tsquery syntax; each lexeme is still single-quoted per to_tsquery's rules.
func (q Query) TSQuery(labels string, typos map[string]bool) string {
	for _, c := range labels {
		if !strings.ContainsRune("ABCDabcd", c) {
			panic(fmt.Sprintf("search: TSQuery weight labels %q: only A, B, C and D exist", labels))
		}
	}
	labels = strings.ToUpper(labels)
	if len(q.Terms) == 0 {
		return ""
	}
	var b strings.Builder
	lexeme := func(w string, prefix bool) {
		b.WriteByte('\'')
		b.WriteString(tsQuote.Replace(w))
		b.WriteByte('\'')
		if prefix || labels != "" {
			b.WriteByte(':')
		}
		if prefix {
			b.WriteByte('*')
		}
		b.WriteString(labels)
	}
	variants := q.variants(typos)
	for i, t := range q.Terms {
		if i > 0 {
			b.WriteString(" & ")
		}
		vs := variants[i]
		if len(vs) > 0 {
			b.WriteByte('(')
			lexeme(t.Words[0], false)
			for _, v := range vs {
				b.WriteString(" | ")
				lexeme(v, false)
			}
			b.WriteByte(')')
			continue
		}
		if len(t.Words) > 1 {
			b.WriteByte('(')
		}
		for j, w := range t.Words {
			if j > 0 {
				b.WriteString(" <-> ")
			}
			lexeme(w, t.Prefix && j == len(t.Words)-1)
		}
		if len(t.Words) > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}

// Values in foldTable that are not runes.
const (
	foldTableDrop      rune = -1
	foldTableSeparator rune = -2
)

// FoldSQL returns a PostgreSQL expression that folds the text expr as Parse
// folds words (diacritics removed as FTS5 removes them, letters FTS5
// splits at made spaces), leaving lower-casing to to_tsvector: PostgreSQL
// removes no diacritics itself, so without it a search for "café", folded
// to "cafe", would miss the stored "café". Index
// to_tsvector(config, FoldSQL(column)); expr appears in the result many
// times, so pass a column or another cheap expression.
//
// translate() compares each character with its whole list, so its cost
// grows with the table (about 900 characters). The table is cut by
// Unicode block into short lists: all-ASCII text skips them all, Latin-1
// (the common accents) is always applied to the rest, and each other list
// only to text that holds one of its characters, found by a regular
// expression.
func FoldSQL(expr string) string {
	foldSQLOnce.Do(buildFoldSQL)
	cur := "translate(" + expr + ", '" + foldSQL[0].from + "', '" + foldSQL[0].to + "')"
	for _, p := range foldSQL[1:] {
		// An empty from list makes translate() a copy.
		cur = "translate(" + cur + ", CASE WHEN " + expr + " ~ '" + p.class + "' THEN '" + p.from +
			"' ELSE '' END, '" + p.to + "')"
	}
	return "(CASE WHEN octet_length(" + expr + ") = char_length(" + expr + ") THEN " + expr +
		" ELSE " + cur + " END)"
}

// foldSQLBlocks cut the fold table into FoldSQL's lists: Latin-1, Latin
// Extended-A, Latin Extended-B and IPA, the combining diacritics, Greek
// to Latin Extended Additional, Latin Extended Additional, the rest.
var foldSQLBlocks = []rune{0x100, 0x180, 0x300, 0x370, 0x1E00, 0x1F00}

type foldSQLPart struct {
	from, to string
	// class is a bracket expression matching the characters of from.
	class string
}

var (
	foldSQLOnce sync.Once
	foldSQL     []foldSQLPart
)

func buildFoldSQL() {
	keys := make([]rune, 0, len(foldTable))
	for r := range foldTable {
		keys = append(keys, r)
	}
	slices.Sort(keys)
	parts := make([][]rune, len(foldSQLBlocks)+1)
	for _, r := range keys {
		i, _ := slices.BinarySearch(foldSQLBlocks, r+1)
		parts[i] = append(parts[i], r)
	}
	for _, part := range parts {
		if len(part) == 0 {
			continue
		}
		var from, to, drop []rune
		var class strings.Builder
		class.WriteByte('[')
		for i, r := range part {
			switch f := foldTable[r]; f {
			case foldTableDrop:
				drop = append(drop, r)
			case foldTableSeparator:
				from, to = append(from, r), append(to, ' ')
			default:
				from, to = append(from, r), append(to, f)
			}
			// Runs of consecutive characters become ranges.
			if i > 0 && part[i-1] == r-1 {
				if i+1 < len(part) && part[i+1] == r+1 {
					continue
				}
				class.WriteByte('-')
			}
			class.WriteRune(r)
		}
		class.WriteByte(']')
		// translate() deletes the characters of from that have no
		// counterpart in to: the dropped diacritics go last.
		from = append(from, drop...)
		foldSQL = append(foldSQL, foldSQLPart{from: string(from), to: string(to), class: class.String()})
	}
}
