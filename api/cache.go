package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/cache"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// The record cache in front of GET one record and list pages (searches
// included): see package cache for why a cached answer is never older
// than a write its reader has seen acknowledged. Here is what a response
// depends on, which goes into its key:
//
//   - the schema: a hash of every collection's stored definition (rules,
//     fields, hidden flags), computed once per schema snapshot, so any
//     schema change moves every key;
//   - the caller's rule context: superuser or not, the auth record
//     (collection and id), the API key and its access; guests share one
//     context;
//   - the route (view or list), the record id, and the query string
//     normalised (parameters sorted), which covers page, perPage, sort,
//     filter, fields, expand, search and skipTotal;
//   - the generation of the collection, or the global one when the rule,
//     filter, sort or expand can read other collections (see cacheDep).
//
// Not cached at all: rules or filters with date macros or anything else
// that changes without a write (@now, @random …: cacheDep), rules or
// filters reading @request.headers, searches (?search=, whose index may
// be filling), view collections whose query reads the clock or tables no
// write announces (volatileView), and answers reaching other collections
// while such a view exists, requests with a body, and any answer but a
// 200. Every answer of these routes carries a strong ETag (304 on a
// matching If-None-Match) and Cache-Control no-cache: public for a guest's
// answer (browsers and CDNs may keep it but must revalidate), private
// otherwise.

// cacheHeader tells operators (and tests) what the cache did: "hit",
// "miss" (answered from the database and stored), "bypass" (not
// cacheable, or the cache is unreachable); absent when there is no cache.
const cacheHeader = "X-Tortoise-Cache"

// cacheKind tells the two cached routes apart in keys.
type cacheKind byte

const (
	cacheView cacheKind = 'v'
	cacheList cacheKind = 'l'
)

// cachedRead wraps a record read handler: it answers from the cache when
// it can and fills the cache with the handler's 200 answers otherwise.
// The generation is taken (by the lookup) before the handler queries the
// database.
func (s *Server) cachedRead(kind cacheKind, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.svc.Collection(r.PathValue("collection"))
		if err != nil {
			return h(w, r) // the handler answers the error
		}
		req := s.caller(r)
		// The handler finds the caller identified (knownCaller) instead of
		// authenticating the request a second time.
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, req))
		var slot string
		if s.cache != nil {
			state := "bypass"
			if dep, key, ok := s.cacheKey(r, c, req, kind); ok {
				e, sl, hit, err := s.cache.Get(r.Context(), dep, key)
				switch {
				case err != nil:
					s.cacheLog.Warn("record cache unavailable: reads go to the database", "err", err)
				case hit:
					w.Header().Set(cacheHeader, "hit")
					writeCacheable(w, r, req, e)
					return nil
				default:
					slot, state = sl, "miss"
				}
			}
			w.Header().Set(cacheHeader, state)
		}
		cw := &captureWriter{header: w.Header()}
		if err := h(cw, r); err != nil {
			w.Header().Del(cacheHeader) // an error answer is nobody's cache business
			return err
		}
		if cw.status != http.StatusOK {
			if cw.status != 0 {
				w.WriteHeader(cw.status)
			}
			_, _ = w.Write(cw.body.Bytes())
			return nil
		}
		e := cache.Entry{ETag: strongETag(cw.body.Bytes()), Body: cw.body.Bytes()}
		if slot != "" {
			if err := s.cache.Set(r.Context(), slot, e); err != nil {
				s.cacheLog.Warn("record cache unavailable: reads go to the database", "err", err)
			}
		}
		writeCacheable(w, r, req, e)
		return nil
	}
}

// captureWriter keeps what a handler answers, headers aside (they go to
// the real writer's map).
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// writeCacheable answers a 200 with its validators: a matching
// If-None-Match gets a 304 without a body.
func writeCacheable(w http.ResponseWriter, r *http.Request, req *service.Request, e cache.Entry) {
	h := w.Header()
	h.Set("ETag", e.ETag)
	if req.Auth == nil && req.Key == nil && !req.Superuser {
		h.Set("Cache-Control", "public, no-cache")
	} else {
		h.Set("Cache-Control", "private, no-cache")
	}
	// Shared caches must not answer one caller with another's response.
	h.Add("Vary", "Authorization")
	if etagMatches(r.Header.Get("If-None-Match"), e.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeRaw(w, http.StatusOK, e.Body)
}

// strongETag is a quoted hash of the body.
func strongETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// etagMatches applies If-None-Match's weak comparison: "*", or any listed
// tag equal to etag once W/ prefixes are set aside.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// cacheKey returns the dependency and the key of r's answer, or false
// when it must not be cached.
func (s *Server) cacheKey(r *http.Request, c *core.Collection, req *service.Request, kind cacheKind) (dep, key string, ok bool) {
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return "", "", false
	}
	q := r.URL.Query()
	if q.Get("search") != "" {
		// A search index being filled online (after its fields change)
		// answers more as it fills, with no record change to bump the
		// cache: searches are not cached until the fill can say so.
		return "", "", false
	}
	rule := c.ViewRule
	if kind == cacheList {
		rule = c.ListRule
	}
	var ruleText string
	if rule != nil && !req.Superuser {
		ruleText = *rule
	}
	texts := []string{ruleText, q.Get("filter"), q.Get("sort")}
	if !req.Superuser {
		// The answer holds the expanded records its caller may view, by
		// their collections' view rules: what those read, it depends on.
		// A name Expand refuses answers 400, which is not kept.
		reached, _ := s.records.ExpandCollections(req, c, q.Get("expand"))
		for _, rc := range reached {
			if rc.ViewRule != nil {
				texts = append(texts, *rc.ViewRule)
			}
		}
	}
	dep, ok = cacheDep(c, q.Get("expand"), texts...)
	if !ok {
		return "", "", false
	}
	schema := s.schema()
	if schema.volatile[c.ID] || dep == cache.Global && schema.reaches(append(texts, q.Get("expand"))...) {
		// A view that reads the clock (or what no write announces)
		// answers differently without a write, and so does an answer that
		// reaches one.
		return "", "", false
	}
	hs := sha256.New()
	var b []byte
	b = append(b, byte(kind), 0)
	b = append(b, r.Method...) // HEAD shares GET's route; a rule may tell them apart
	b = append(b, 0)
	b = append(b, schema.sum...)
	b = append(b, 0)
	b = append(b, c.ID...)
	b = append(b, 0)
	if kind == cacheView {
		b = append(b, r.PathValue("id")...)
	}
	b = append(b, 0)
	if req.Superuser {
		b = append(b, 's')
	}
	b = append(b, 0)
	if req.Auth != nil {
		b = append(b, req.Auth.Collection.ID...)
		b = append(b, '/')
		b = append(b, req.Auth.ID()...)
		// The auth record as this request read it, every field: a read
		// made before a change of it (a demotion) may store its answer
		// after the change's bump, under a key no later request of that
		// caller, reading the record as changed, asks for. (Its updated
		// time alone was not enough: two changes in one millisecond.)
		b = appendRecordState(b, req.Auth)
	}
	b = append(b, 0)
	if req.Key != nil {
		// The key's access as read with it for this request: a superuser
		// may change it in the key's _apiKeys record, which bumps only
		// that collection's generation.
		b = append(b, req.Key.ID...)
		if req.Key.Superuser {
			b = append(b, "/s"...)
		}
		for _, id := range req.Key.Collections {
			b = append(b, '/')
			b = append(b, id...)
		}
	}
	b = append(b, 0)
	b = append(b, q.Encode()...) // sorted by parameter name
	hs.Write(b)
	return dep, hex.EncodeToString(hs.Sum(nil)), true
}

// appendRecordState appends every field value of r, in field order.
func appendRecordState(b []byte, r *core.Record) []byte {
	for i := range r.Collection.Fields {
		b = append(b, '/')
		switch v := r.Data[r.Collection.Fields[i].Name].(type) {
		case string:
			b = append(b, v...)
		case bool:
			b = strconv.AppendBool(b, v)
		case float64:
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		case []string:
			for _, s := range v {
				b = append(b, s...)
				b = append(b, 0)
			}
		case json.RawMessage:
			b = append(b, v...)
		case nil:
		default:
			b = fmt.Append(b, v)
		}
	}
	return b
}

// cacheDep says what an answer under these expand, rule, filter and sort
// depends on: its collection, or cache.Global when it may read other
// collections (any expand, a view collection's query, relation paths
// "a.b", @collection, back-relations "_via_", fields of the auth record
// other than its id, which a write to that record changes). It refuses
// (false) what no write announces a change of: date macros (@now,
// @today …), @random, anything else starting with "@" but @request and
// @collection; and @request.headers, which vary between requests of one
// key. The scan is of the texts with their quoted strings taken out; it
// errs on the safe side (a json field's path "data.x" counts as a
// relation path).
func cacheDep(c *core.Collection, expand string, texts ...string) (string, bool) {
	dep := c.ID
	if expand != "" || c.IsView() {
		dep = cache.Global
	}
	for _, t := range texts {
		if t == "" {
			continue
		}
		t, ok := unquote(t)
		if !ok {
			return "", false
		}
		if strings.Contains(t, "_via_") {
			dep = cache.Global
		}
		for tok := range strings.FieldsFuncSeq(t, func(r rune) bool {
			return !(r == '@' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			switch {
			case strings.HasPrefix(tok, "@request.headers"):
				return "", false
			case strings.HasPrefix(tok, "@request.auth."):
				switch strings.TrimPrefix(tok, "@request.auth.") {
				case "id", "collectionId", "collectionName":
				default:
					dep = cache.Global
				}
			case strings.HasPrefix(tok, "@request."):
				// query (in the key), method, context, body (none): fixed per key.
			case strings.HasPrefix(tok, "@collection."):
				dep = cache.Global
			case tok == "@rowid":
			case strings.HasPrefix(tok, "@"):
				return "", false // a date macro, @random, or unknown
			case strings.Contains(tok, "."):
				if strings.Trim(tok, "0123456789.") != "" { // not a number
					dep = cache.Global
				}
			}
		}
	}
	return dep, true
}

// unquote blanks out the quoted strings and the // comments of a filter
// or rule as filter's lexer reads them (a string's "@now" or "a.b" is
// text, not a macro or a path; a comment's apostrophe opens no string);
// false when a quote is left open.
func unquote(t string) (string, bool) {
	if !strings.ContainsAny(t, `'"/`) {
		return t, true
	}
	b := []byte(t)
	var quote byte
	for i := 0; i < len(b); i++ {
		switch {
		case quote == 0 && (b[i] == '\'' || b[i] == '"'):
			quote = b[i]
		case quote == 0 && b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case quote != 0 && b[i] == '\\' && i+1 < len(b) && b[i+1] == quote:
			// The lexer's only escape; any other backslash is kept as is.
			b[i], b[i+1] = ' ', ' '
			i++
		case quote != 0 && b[i] == quote:
			quote = 0
		case quote != 0:
			b[i] = ' '
		}
	}
	return string(b), quote == 0
}

// schema is a hash of every collection's definition and its volatile
// views, computed once per schema snapshot (the snapshot's list is its
// identity).
func (s *Server) schema() *schemaSum {
	list := s.svc.Collections()
	var id **core.Collection
	if len(list) > 0 {
		id = &list[0]
	}
	if h := s.schemaSum.Load(); h != nil && h.list == id {
		return h
	}
	h := &schemaSum{list: id, volatile: volatileViews(list)}
	hs := sha256.New()
	enc := json.NewEncoder(hs)
	for _, c := range list {
		if err := enc.Encode(c); err != nil {
			// Unencodable: a key of its own that no other schema shares.
			hs.Write([]byte(core.RandomString(16, core.Alphanumeric)))
		}
		if h.volatile[c.ID] {
			h.volatileNames = append(h.volatileNames, strings.ToLower(c.Name))
		}
	}
	for _, c := range list {
		for i := range c.Fields {
			if t := c.Fields[i].CollectionID; t != "" && slices.ContainsFunc(list, func(v *core.Collection) bool {
				return h.volatile[v.ID] && (v.ID == t || strings.EqualFold(v.Name, t))
			}) {
				h.volatileTarget = true
			}
		}
	}
	h.sum = hex.EncodeToString(hs.Sum(nil)[:16])
	s.schemaSum.Store(h)
	return h
}

// schemaSum is schema's memo.
type schemaSum struct {
	list **core.Collection
	sum  string
	// volatile holds the ids of the volatile views (volatileViews), and
	// volatileNames their names, lower case.
	volatile      map[string]bool
	volatileNames []string
	// volatileTarget: a relation field points at a volatile view, so an
	// expand or a relation path may reach one.
	volatileTarget bool
}

// reaches reports whether an answer reading other collections under
// these texts (expand, rule, filter, sort) may read a volatile view:
// through a relation to one, or naming one (@collection.v, v_via_f).
func (h *schemaSum) reaches(texts ...string) bool {
	if len(h.volatileNames) == 0 {
		return false
	}
	if h.volatileTarget {
		return true
	}
	for _, t := range texts {
		t = strings.ToLower(t)
		for _, n := range h.volatileNames {
			if strings.Contains(t, n) {
				return true
			}
		}
	}
	return false
}

// volatileViews returns the ids of the view collections whose query may
// answer differently without a write to a collection: it reads the clock
// or a random source, or a table that is not a collection's (settings,
// jobs, logs, the engine's catalog), or another such view. The scan is of
// the query's text, and errs on the safe side (a string 'now' counts, as
// does age() or strftime() with one argument).
func volatileViews(list []*core.Collection) map[string]bool {
	out := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, c := range list {
			if !c.IsView() || out[c.ID] {
				continue
			}
			q := strings.ToLower(c.ViewQuery)
			v := volatileSQL.MatchString(q)
			for _, o := range list {
				v = v || out[o.ID] && regexp.MustCompile(`\b`+regexp.QuoteMeta(strings.ToLower(o.Name))+`\b`).MatchString(q)
			}
			if v {
				out[c.ID], changed = true, true
			}
		}
	}
	return out
}

// volatileSQL matches, in a lower-cased view query, what reads the clock
// or a random source on SQLite or PostgreSQL, and the tables that no
// record write announces.
var volatileSQL = regexp.MustCompile(strings.Join([]string{
	// the clock: 'now', 'today' …, PostgreSQL's functions and keywords,
	// SQLite's date functions without a time value
	`\b(now|today|tomorrow|yesterday|current_\w+|localtime\w*|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday)\b`,
	`\b(date|time|datetime|julianday|unixepoch)\s*\(\s*\)`,
	`\bstrftime\s*\(\s*'[^']*'\s*\)`,
	`\bage\s*\(`,
	// random sources
	`\b(random\w*|gen_random_uuid|uuid_generate_\w*|setseed)\b`,
	// tables no record write announces
	`\b(_params|_meta\w*|_migrations|_jobs\w*|river_\w+|_request_\w+|_search\w*|sqlite_\w+|pg_\w+|information_schema)\b`,
}, "|"))
