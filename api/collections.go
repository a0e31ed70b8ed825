package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/collections"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	q := queryMap(r.URL.Query())
	page, perPage, err := pageParams(q, records.DefaultPerPage)
	if err != nil {
		return err
	}
	if page < 1 {
		page = 1
	}
	if perPage < 1 {
		perPage = records.DefaultPerPage
	}
	if perPage > records.MaxPerPage {
		perPage = records.MaxPerPage
	}
	cols, err := s.collections.Find(q["filter"])
	if err != nil {
		return err
	}
	if err := sortCollections(cols, q["sort"]); err != nil {
		return err
	}
	total := len(cols)
	start := min((page-1)*perPage, total)
	if page-1 > total/perPage {
		start = total
	}
	end := min(start+perPage, total)
	writeJSON(w, http.StatusOK, map[string]any{
		"page": page, "perPage": perPage, "totalItems": total,
		"totalPages": (total + perPage - 1) / perPage, "items": cols[start:end],
	})
	return nil
}

// sortCollections orders collections by a PocketBase-style sort parameter
// over their id, name, type, system, created and updated.
func sortCollections(cols []*core.Collection, param string) error {
	if strings.TrimSpace(param) == "" {
		return nil
	}
	type key struct {
		name string
		desc bool
	}
	var keys []key
	for _, p := range strings.Split(param, ",") {
		p = strings.TrimSpace(p)
		k := key{name: strings.TrimPrefix(strings.TrimPrefix(p, "-"), "+"), desc: strings.HasPrefix(p, "-")}
		switch k.name {
		case "id", "name", "type", "system", "created", "updated":
		default:
			return core.FieldInvalid("sort", "validation_invalid_sort", "Cannot sort collections by "+p+".")
		}
		keys = append(keys, k)
	}
	val := func(c *core.Collection, n string) string {
		switch n {
		case "id":
			return c.ID
		case "name":
			return c.Name
		case "type":
			return string(c.Type)
		case "system":
			if c.System {
				return "1"
			}
			return "0"
		case "created":
			return c.Created
		}
		return c.Updated
	}
	sort.SliceStable(cols, func(i, j int) bool {
		for _, k := range keys {
			a, b := val(cols[i], k.name), val(cols[j], k.name)
			if a != b {
				return (a < b) != k.desc
			}
		}
		return false
	})
	return nil
}

func (s *Server) viewCollection(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) createCollection(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.keyRefusesSystemRefs(req, b); err != nil {
		return err
	}
	if err := keyRefusesViewQuery(req, nil, b); err != nil {
		return err
	}
	c, err := s.collections.Create(keyContext(r.Context(), req), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// keyBarred refuses an API key the definition (or the wholesale
// truncation) of a system collection; see service.Request.KeyBarred.
func (s *Server) keyBarred(req *service.Request, nameOrID string) error {
	if req.Key == nil {
		return nil
	}
	c, err := s.svc.Collection(nameOrID)
	if err != nil {
		return err
	}
	if req.KeyBarred(c) {
		return errKeyBarred(c)
	}
	return nil
}

// keyRefusesSystemRefs refuses an API key a collection definition that
// names a system collection anywhere — a rule's @collection._superusers,
// a relation to _apiKeys: rules run with every field visible, so such a
// rule would be an oracle over password hashes and token keys. The body
// is searched as text for each system collection's name and id, which
// can refuse a harmless definition that merely mentions one; superusers
// logged in with their account are not limited.
func (s *Server) keyRefusesSystemRefs(req *service.Request, body []byte) error {
	if req.Key == nil {
		return nil
	}
	// The names are looked for in the JSON as it decodes: "\u005fapiKeys"
	// is "_apiKeys".
	text := string(body)
	var v any
	if json.Unmarshal(body, &v) == nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			text = buf.String()
		}
	}
	text = strings.ToLower(text)
	for _, c := range s.svc.Collections() {
		if !c.System {
			continue
		}
		if strings.Contains(text, strings.ToLower(c.Name)) || strings.Contains(text, strings.ToLower(c.ID)) {
			return core.Forbidden("An API key cannot write a collection definition that refers to the system collection %q.", c.Name)
		}
	}
	return nil
}

// keyContext marks ctx for collections when an API key writes the
// definitions: the rules it writes may not reach the system collections,
// which the text search of keyRefusesSystemRefs cannot tell through a
// relation a superuser made (createdBy.password).
func keyContext(ctx context.Context, req *service.Request) context.Context {
	if req.Key == nil {
		return ctx
	}
	return collections.ByKey(ctx)
}

// errViewQueryByAccount answers an API key writing a view query.
var errViewQueryByAccount = core.Forbidden("View queries are written by superusers logged in with their account: a view query is SQL, which can read the system tables API keys are kept from.")

// keyRefusesViewQuery refuses an API key a definition that sets a view
// query other than the one stored (prev, nil for a new collection). A
// view query is SQL, and no reading of its text keeps it from the system
// tables (JSON and PostgreSQL U& escapes, query_to_xml over a name built
// by concatenation, schema_to_xml of everything), so, like the SQL
// console, it takes a superuser account; a key may still change a view's
// rules, sending its query unchanged or not at all.
func keyRefusesViewQuery(req *service.Request, prev *core.Collection, def []byte) error {
	if req.Key == nil {
		return nil
	}
	var in struct {
		Type      *string `json:"type"`
		ViewQuery *string `json:"viewQuery"`
	}
	if json.Unmarshal(def, &in) != nil {
		return nil // the collections service refuses it
	}
	stored := ""
	if prev != nil {
		stored = prev.ViewQuery
	}
	if in.ViewQuery != nil && strings.TrimSpace(*in.ViewQuery) != stored {
		return errViewQueryByAccount
	}
	if prev == nil && in.Type != nil && *in.Type == string(core.TypeView) {
		return errViewQueryByAccount
	}
	return nil
}

func (s *Server) updateCollection(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if err := s.keyBarred(req, r.PathValue("collection")); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.keyRefusesSystemRefs(req, b); err != nil {
		return err
	}
	if req.Key != nil {
		prev, err := s.svc.Collection(r.PathValue("collection"))
		if err != nil {
			return err
		}
		if err := keyRefusesViewQuery(req, prev, b); err != nil {
			return err
		}
	}
	c, err := s.collections.Update(keyContext(r.Context(), req), r.PathValue("collection"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if err := s.keyBarred(req, r.PathValue("collection")); err != nil {
		return err
	}
	if err := s.collections.Delete(r.Context(), r.PathValue("collection")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) truncateCollection(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if err := s.keyBarred(req, r.PathValue("collection")); err != nil {
		return err
	}
	if err := s.collections.Truncate(r.Context(), r.PathValue("collection")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) importCollections(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Collections   []json.RawMessage `json:"collections"`
		DeleteMissing bool              `json:"deleteMissing"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return core.DecodeError(err, "body")
	}
	if err := s.keyRefusesSystemRefs(req, b); err != nil {
		return err
	}
	if req.Key != nil {
		// An import updates the collection its id, else its name, matches.
		for _, raw := range in.Collections {
			var head struct{ ID, Name string }
			_ = json.Unmarshal(raw, &head)
			var prev *core.Collection
			for _, ref := range []string{head.ID, head.Name} {
				c, err := s.svc.Collection(ref)
				if ref == "" || err != nil {
					continue
				}
				if req.KeyBarred(c) {
					return errKeyBarred(c)
				}
				if prev == nil {
					prev = c
				}
			}
			if err := keyRefusesViewQuery(req, prev, raw); err != nil {
				return err
			}
		}
	}
	if err := s.collections.Import(keyContext(r.Context(), req), in.Collections, in.DeleteMissing); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// collectionScaffolds answers GET /api/collections/meta/scaffolds: a blank
// collection of each type, keyed by type, with the fields and options a new
// collection of that type gets, as the SDKs' collections.getScaffolds()
// reads it. Auth indexes are left out: they name the collection, and
// creating one adds them.
func (s *Server) collectionScaffolds(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	out := map[string]json.RawMessage{}
	for _, c := range scaffolds() {
		b, err := json.Marshal(c)
		if err != nil {
			return core.Internal(err, "encode scaffold")
		}
		if c.Type == core.TypeView {
			if b, err = withDefault(b, "viewQuery", ""); err != nil {
				return core.Internal(err, "encode scaffold")
			}
		}
		out[string(c.Type)] = b
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// scaffolds are blank collections of each type, with the fields and
// options the collections service gives a new one (completeNew,
// decodeCollection): an id, the auth fields and options for auth
// collections, and created/updated dates for stored ones.
func scaffolds() []*core.Collection {
	stored := func(typ core.CollectionType, fields ...core.Field) *core.Collection {
		all := append([]core.Field{core.IDField()}, fields...)
		return &core.Collection{Type: typ, Fields: append(all, core.AutodateFields()...), Indexes: []string{}}
	}
	auth := stored(core.TypeAuth, core.AuthSystemFields()...)
	opts := core.DefaultAuthOptions()
	everyone := ""
	opts.AuthRule = &everyone // new auth collections let every record log in
	auth.Auth = &opts
	// A view's fields come from its query.
	view := &core.Collection{Type: core.TypeView, Fields: []core.Field{}, Indexes: []string{}}
	return []*core.Collection{stored(core.TypeBase), auth, view}
}

// withDefault sets key to value in the JSON object b unless b has it,
// keeping the order of b's keys.
func withDefault(b []byte, key string, value any) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if _, ok := m[key]; ok {
		return b, nil
	}
	k, _ := json.Marshal(key)
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	out := bytes.TrimRight(b, " \n")
	out = out[:len(out)-1] // the closing brace
	if len(m) > 0 {
		out = append(out, ',')
	}
	out = append(append(append(out, k...), ':'), v...)
	return append(out, '}'), nil
}

// oauth2Providers answers GET /api/collections/meta/oauth2-providers: the
// provider presets an auth collection's oauth2.providers may name, each in
// PocketBase's shape (name, displayName, logo) with what configuring it
// takes (see oauth2.Preset).
func (s *Server) oauth2Providers(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	writeJSON(w, http.StatusOK, oauth2.Presets())
	return nil
}

// dryRunView answers POST /api/collections/meta/dry-run-view
// {"query": "SELECT ..."}: a sample of the records the view query yields,
// checked as a view collection's query, nothing saved.
func (s *Server) dryRunView(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if req.Key != nil {
		return errViewQueryByAccount
	}
	var in struct {
		Query     string `json:"query"`
		ViewQuery string `json:"viewQuery"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return core.FieldInvalid("query", "validation_invalid_json", "The body must be a JSON object with the view query under \"query\".")
	}
	if in.Query == "" {
		in.Query = in.ViewQuery
	}
	rows, err := s.collections.DryRunView(r.Context(), in.Query)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rows)
	return nil
}
