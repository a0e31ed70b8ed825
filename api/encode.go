package api

import (
	"encoding/json"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// viewer decides which fields of a record its caller may see.
type viewer struct {
	superuser bool
	auth      *core.Record
}

func viewerOf(req *service.Request) viewer {
	return viewer{superuser: req.Superuser, auth: req.Auth}
}

// shows reports whether v may see field f of rec. Secrets (password
// hashes) and token keys are never shown; hidden fields only to
// superusers; an auth record's email to superusers, its owner, or everyone
// when emailVisibility is on.
func (v viewer) shows(rec *core.Record, f *core.Field) bool {
	if f.Def().Secret() {
		return false
	}
	if rec.Collection.IsAuth() {
		switch f.Name {
		case "tokenKey":
			return false
		case "email":
			if v.superuser || rec.Data["emailVisibility"] == true {
				return true
			}
			return v.auth != nil && v.auth.ID() == rec.ID() && v.auth.Collection.ID == rec.Collection.ID
		}
	}
	return !f.Hidden || v.superuser
}

// fieldSel is the parsed "fields" query parameter: which keys to keep at
// each level, "*" for all, with an optional excerpt modifier.
type fieldSel struct {
	all      bool
	children map[string]*fieldSel
	excerpt  int // >0: cut text to this many characters
	ellipsis bool
}

var excerptRe = regexp.MustCompile(`^(.+):excerpt\(\s*(\d+)\s*(?:,\s*(true|false)\s*)?\)$`)

// parseFields reads "id,title,expand.author.name,body:excerpt(100,true)".
func parseFields(param string) (*fieldSel, error) {
	if strings.TrimSpace(param) == "" {
		return nil, nil
	}
	root := &fieldSel{children: map[string]*fieldSel{}}
	for _, part := range splitTop(param) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		exc, ell := 0, false
		if m := excerptRe.FindStringSubmatch(part); m != nil {
			part = m[1]
			exc, _ = strconv.Atoi(m[2])
			ell = m[3] == "true"
			if exc <= 0 {
				return nil, core.FieldInvalid("fields", "validation_invalid_fields", "excerpt needs a positive length.")
			}
		} else if strings.ContainsAny(part, ":()") {
			return nil, core.FieldInvalid("fields", "validation_invalid_fields", "Unknown modifier in fields: "+strconv.Quote(part)+".")
		}
		node := root
		for _, p := range strings.Split(part, ".") {
			if p == "*" {
				node.all = true
				break
			}
			if p == "" {
				return nil, core.FieldInvalid("fields", "validation_invalid_fields", "Empty path in fields.")
			}
			next := node.children[p]
			if next == nil {
				next = &fieldSel{children: map[string]*fieldSel{}}
				node.children[p] = next
			}
			node = next
		}
		if exc > 0 {
			node.excerpt, node.ellipsis = exc, ell
		}
	}
	return root, nil
}

// keep reports whether key is selected and returns its sub-selection
// (nil meaning everything below it).
func (s *fieldSel) keep(key string) (bool, *fieldSel) {
	if s == nil {
		return true, nil
	}
	if c, ok := s.children[key]; ok {
		if len(c.children) == 0 && !c.all && c.excerpt == 0 {
			return true, nil
		}
		return true, c
	}
	if s.all {
		return true, nil
	}
	return false, nil
}

// appendRecord writes rec as JSON for viewer v, honoring the selection.
// It avoids reflection: records are the hot path of every read.
func appendRecord(b []byte, rec *core.Record, v viewer, sel *fieldSel) []byte {
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
	}
	if ok, _ := sel.keep("collectionId"); ok {
		key("collectionId")
		b = appendString(b, rec.Collection.ID)
	}
	if ok, _ := sel.keep("collectionName"); ok {
		key("collectionName")
		b = appendString(b, rec.Collection.Name)
	}
	for i := range rec.Collection.Fields {
		f := &rec.Collection.Fields[i]
		if !v.shows(rec, f) {
			continue
		}
		ok, sub := sel.keep(f.Name)
		if !ok {
			continue
		}
		key(f.Name)
		b = appendValue(b, rec.Data[f.Name], sub)
	}
	if len(rec.Expand) > 0 {
		if ok, sub := sel.keep("expand"); ok {
			key("expand")
			b = append(b, '{')
			n := 0
			keys := make([]string, 0, len(rec.Expand))
			for k := range rec.Expand {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				val := rec.Expand[k]
				okk, subk := sub.keep(k)
				if !okk {
					continue
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				b = appendString(b, k)
				b = append(b, ':')
				switch x := val.(type) {
				case *core.Record:
					b = appendRecord(b, x, v, subk)
				case []*core.Record:
					b = append(b, '[')
					for j, r := range x {
						if j > 0 {
							b = append(b, ',')
						}
						b = appendRecord(b, r, v, subk)
					}
					b = append(b, ']')
				}
			}
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

func appendValue(b []byte, val any, sel *fieldSel) []byte {
	switch x := val.(type) {
	case string:
		if sel != nil && sel.excerpt > 0 {
			x = excerpt(x, sel.excerpt, sel.ellipsis)
		}
		return appendString(b, x)
	case float64:
		return appendNumber(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	case nil:
		return append(b, "null"...)
	}
	enc, err := json.Marshal(val)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

// appendNumber writes f as encoding/json does (and so PocketBase):
// 1234567.5, not 1.2345675e+06; exponents only below 1e-6 and from 1e21.
func appendNumber(b []byte, f float64) []byte {
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaping as encoding/json does
// for HTML-sensitive characters too, so output is safe to embed.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

// excerpt strips HTML tags, collapses whitespace and cuts to n characters.
func excerpt(s string, n int, ellipsis bool) string {
	s = strings.Join(strings.Fields(tagRe.ReplaceAllString(s, " ")), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	out := strings.TrimSpace(string(r))
	if ellipsis {
		out += "..."
	}
	return out
}

// splitTop splits on commas outside parentheses, so modifier arguments
// ("body:excerpt(100,true)") stay whole.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
