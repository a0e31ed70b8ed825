package api

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/jsonw"
	"github.com/tortoise-dev/tortoise/service"
)

// viewer decides which fields of a record its caller may see.
type viewer struct {
	superuser bool
	auth      *core.Record
	// key: the caller is an API key, which meets the system collections'
	// rules as a guest (service.Request.KeyBarred) and so sees their
	// records as one, superuser key or not.
	key bool
}

func viewerOf(req *service.Request) viewer {
	return viewer{superuser: req.Superuser, auth: req.Auth, key: req.Key != nil}
}

// superuserOf reports whether v sees rec as a superuser.
func (v viewer) superuserOf(rec *core.Record) bool {
	return v.superuser && !(v.key && rec.Collection.System)
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
			if v.superuserOf(rec) || rec.Data["emailVisibility"] == true {
				return true
			}
			return v.auth != nil && v.auth.ID() == rec.ID() && v.auth.Collection.ID == rec.Collection.ID
		}
	}
	return !f.Hidden || v.superuserOf(rec)
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
		b = jsonw.String(b, k)
		b = append(b, ':')
	}
	if ok, _ := sel.keep("collectionId"); ok {
		key("collectionId")
		b = jsonw.String(b, rec.Collection.ID)
	}
	if ok, _ := sel.keep("collectionName"); ok {
		key("collectionName")
		b = jsonw.String(b, rec.Collection.Name)
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
				b = jsonw.String(b, k)
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
	if x, ok := val.(string); ok && sel != nil && sel.excerpt > 0 {
		return jsonw.String(b, excerpt(x, sel.excerpt, sel.ellipsis))
	}
	return jsonw.Value(b, val)
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
