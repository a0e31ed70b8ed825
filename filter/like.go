package filter

import (
	"strings"
	"unicode/utf8"
)

// LIKE patterns are kept in one canonical form, so that SQLite, PostgreSQL
// and likeMatch read them the same way: % and _ are wildcards and a
// backslash escapes exactly the three characters \ % _.

// likeEscape quotes s so that it matches itself literally.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '%' || c == '_' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// likeConstPattern is the pattern for a constant right operand of ~: with
// a % it is a pattern as written (a backslash makes the next character
// literal; a trailing one is literal itself); without, a substring search.
func likeConstPattern(s string) string {
	if !strings.Contains(s, "%") {
		return "%" + likeEscape(s) + "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			// Escape the next character (a whole UTF-8 sequence) literally.
			_, size := utf8.DecodeRuneInString(s[i+1:])
			b.WriteString(likeEscape(s[i+1 : i+1+size]))
			i += size
		case c == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type likeTok struct {
	kind byte // 'l' literal, '_' one character, '%' any run
	r    rune
}

func likeTokens(p string) []likeTok {
	var out []likeTok
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		i += size
		switch {
		case r == '\\' && i < len(p):
			r, size = utf8.DecodeRuneInString(p[i:])
			i += size
			out = append(out, likeTok{kind: 'l', r: foldASCII(r)})
		case r == '%':
			if len(out) == 0 || out[len(out)-1].kind != '%' {
				out = append(out, likeTok{kind: '%'})
			}
		case r == '_':
			out = append(out, likeTok{kind: '_'})
		default:
			out = append(out, likeTok{kind: 'l', r: foldASCII(r)})
		}
	}
	return out
}

func foldASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// likeMatch reports whether s matches the canonical pattern p, ASCII
// letters compared case-insensitively (as SQLite's LIKE does). It runs in
// O(len(s)·len(p)) at worst: a mismatch after % retries from one character
// further, never more.
func likeMatch(s, p string) bool {
	toks := likeTokens(p)
	rs := []rune(s)
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(rs) {
		if pi < len(toks) && (toks[pi].kind == '_' || (toks[pi].kind == 'l' && toks[pi].r == foldASCII(rs[si]))) {
			si++
			pi++
			continue
		}
		if pi < len(toks) && toks[pi].kind == '%' {
			star, mark = pi, si
			pi++
			continue
		}
		if star >= 0 {
			pi = star + 1
			mark++
			si = mark
			continue
		}
		return false
	}
	for pi < len(toks) && toks[pi].kind == '%' {
		pi++
	}
	return pi == len(toks)
}
