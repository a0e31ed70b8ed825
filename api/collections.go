package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	q := queryMap(r.URL.Query())
	page, err := intParam(q, "page", 1)
	if err != nil {
		return err
	}
	perPage, err := intParam(q, "perPage", records.DefaultPerPage)
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
	c, err := s.collections.Create(r.Context(), b)
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
	text := strings.ToLower(string(body))
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
	c, err := s.collections.Update(r.Context(), r.PathValue("collection"), b)
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
			for _, ref := range []string{head.ID, head.Name} {
				if c, err := s.svc.Collection(ref); ref != "" && err == nil && req.KeyBarred(c) {
					return errKeyBarred(c)
				}
			}
		}
	}
	if err := s.collections.Import(r.Context(), in.Collections, in.DeleteMissing); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
