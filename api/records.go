package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// recordRequest identifies the caller and fills in the request details
// access rules may read. Headers are copied only when one of c's rules
// reads them: most never do, and reads are the hot path.
func (s *Server) recordRequest(r *http.Request, c *core.Collection) *service.Request {
	req := s.caller(r)
	req.Query = queryMap(r.URL.Query())
	if rulesMention(c, "@request.headers") || strings.Contains(req.Query["filter"], "@request.headers") || s.expandMentions(req, c, req.Query["expand"], "@request.headers") {
		req.Headers = headerMap(r.Header)
	}
	return req
}

// expandMentions reports whether the view rule of a collection expand
// reaches from c mentions s (its records are expanded under that rule).
func (s *Server) expandMentions(req *service.Request, c *core.Collection, expand, text string) bool {
	reached, _ := s.records.ExpandCollections(req, c, expand)
	for _, rc := range reached {
		if rc.ViewRule != nil && strings.Contains(*rc.ViewRule, text) {
			return true
		}
	}
	return false
}

func rulesMention(c *core.Collection, s string) bool {
	for _, r := range []*string{c.ListRule, c.ViewRule, c.CreateRule, c.UpdateRule, c.DeleteRule} {
		if r != nil && strings.Contains(*r, s) {
			return true
		}
	}
	return false
}

func intParam(q map[string]string, name string, def int) (int, error) {
	v, ok := q[name]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, core.FieldInvalid(name, "validation_invalid_"+name, "Must be a non-negative integer.")
	}
	return n, nil
}

// pageParams reads the page and perPage parameters of a paged list
// (defaults 1 and perPage), each a non-negative integer or a 400 naming it.
func pageParams(q map[string]string, perPage int) (int, int, error) {
	page, err := intParam(q, "page", 1)
	if err != nil {
		return 0, 0, err
	}
	if perPage, err = intParam(q, "perPage", perPage); err != nil {
		return 0, 0, err
	}
	return page, perPage, nil
}

func boolParam(q map[string]string, name string) bool {
	switch strings.ToLower(q[name]) {
	case "1", "true", "t", "yes", "on":
		return true
	}
	return false
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	req := s.recordRequest(r, c)
	release, err := s.enterFilteredRead(r, req)
	if err != nil {
		return err
	}
	defer release()
	r, done := s.readBudget(r)
	defer done()
	q := req.Query
	var p records.ListParams
	if p.Page, p.PerPage, err = pageParams(q, records.DefaultPerPage); err != nil {
		return err
	}
	p.Sort, p.Filter, p.SkipTotal = q["sort"], q["filter"], boolParam(q, "skipTotal")
	p.Search = q["search"] // full-text (search_fts.go)
	sel, err := parseFields(q["fields"])
	if err != nil {
		return err
	}
	res, err := s.records.List(r.Context(), req, c, p)
	if err != nil {
		return err
	}
	if err := s.records.Expand(r.Context(), req, res.Items, q["expand"]); err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(res.Items)*256)
	b = append(b, `{"items":[`...)
	v := viewerOf(req)
	for i, rec := range res.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, rec, v, sel)
	}
	b = append(b, `],"page":`...)
	b = strconv.AppendInt(b, int64(res.Page), 10)
	b = append(b, `,"perPage":`...)
	b = strconv.AppendInt(b, int64(res.PerPage), 10)
	b = append(b, `,"totalItems":`...)
	b = strconv.AppendInt(b, int64(res.TotalItems), 10)
	b = append(b, `,"totalPages":`...)
	b = strconv.AppendInt(b, int64(res.TotalPages), 10)
	b = appendHighlights(b, res.Highlights)
	b = append(b, '}')
	writeRaw(w, http.StatusOK, b)
	return nil
}

// answerParams returns the query a record answer reads (req's, else r's)
// and its parsed fields parameter.
func answerParams(r *http.Request, req *service.Request) (map[string]string, *fieldSel, error) {
	q := req.Query
	if q == nil {
		q = queryMap(r.URL.Query())
	}
	sel, err := parseFields(q["fields"])
	return q, sel, err
}

// writeRecord answers with one record, expanded and trimmed as asked.
// Its expand reads under r's context: callers give it the budget
// (recordBudget).
func (s *Server) writeRecord(w http.ResponseWriter, r *http.Request, req *service.Request, rec *core.Record, status int) error {
	q, sel, err := answerParams(r, req)
	if err != nil {
		return err
	}
	if err := s.records.Expand(r.Context(), req, []*core.Record{rec}, q["expand"]); err != nil {
		return err
	}
	writeRaw(w, status, appendRecord(make([]byte, 0, 512), rec, viewerOf(req), sel))
	return nil
}

// readBudget returns r with a context that bounds the reads behind its
// answer together by Options.ReadBudget (the read timeout), as the store
// bounds each read alone: a list's page and total, its search, and every
// query of its expand (up to 30 relations, a query per thousand related
// records each) share it, where each used to get a timeout of its own.
// Past it a read fails as one that met the read timeout does (503).
func (s *Server) readBudget(r *http.Request) (*http.Request, context.CancelFunc) {
	if s.opts.ReadBudget <= 0 {
		return r, func() {}
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.opts.ReadBudget, store.ErrReadTimeout)
	return r.WithContext(ctx), cancel
}

// recordBudget is readBudget for an answer of one record, which only an
// expand makes more than one read: without one, the store's own timeout
// bounds its read, and the deadline's timer (about 1.3 µs) is spared.
func (s *Server) recordBudget(r *http.Request, req *service.Request) (*http.Request, context.CancelFunc) {
	if strings.TrimSpace(req.Query["expand"]) == "" {
		return r, func() {}
	}
	return s.readBudget(r)
}

func (s *Server) viewRecord(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	req := s.recordRequest(r, c)
	if expandsBack(req) {
		release, err := s.enterCostlyRead(r, req)
		if err != nil {
			return err
		}
		defer release()
	}
	r, done := s.recordBudget(r, req)
	defer done()
	rec, err := s.records.Get(r.Context(), req, c, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeRecord(w, r, req, rec, http.StatusOK)
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) error {
	return s.writeRecordChange(w, r, func(req *service.Request, c *core.Collection, body map[string]any) (*core.Record, error) {
		if c.IsAuth() && !req.Superuser {
			// Sign-ups are throttled per client and per email.
			email, _ := body["email"].(string)
			if _, err := s.throttle(r, guard.LabelSignup, c.ID, email); err != nil {
				return nil, err
			}
		}
		return s.records.Create(r.Context(), req, c, body)
	})
}

func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request) error {
	return s.writeRecordChange(w, r, func(req *service.Request, c *core.Collection, body map[string]any) (*core.Record, error) {
		return s.records.Update(r.Context(), req, c, r.PathValue("id"), body)
	})
}

// writeRecordChange decodes a record body, applies it with change and
// answers with the saved record.
func (s *Server) writeRecordChange(w http.ResponseWriter, r *http.Request,
	change func(*service.Request, *core.Collection, map[string]any) (*core.Record, error)) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	req := s.recordRequest(r, c)
	body, err := decodeData(r)
	if err != nil {
		return err
	}
	req.Body = body
	// What the answer asks for is checked, and a costly expand admitted,
	// before the write: once it has committed, the answer must say so.
	q, sel, err := answerParams(r, req)
	if err != nil {
		return err
	}
	if err := s.records.CheckExpand(req, c, q["expand"]); err != nil {
		return err
	}
	if expandsBack(req) {
		release, err := s.enterCostlyRead(r, req)
		if err != nil {
			return err
		}
		defer release()
	}
	rec, err := change(req, c, body)
	if err != nil {
		return err
	}
	r, done := s.recordBudget(r, req)
	defer done()
	s.expandWritten(r.Context(), req, []*core.Record{rec}, q["expand"], nil)
	writeRaw(w, http.StatusOK, appendRecord(make([]byte, 0, 512), rec, viewerOf(req), sel))
	return nil
}

// expandWritten expands records a committed write answers with, drawing
// on left when it is not nil (a batch's items share one budget). It
// cannot fail the answer, which must tell that the write took: related
// records it could not load in time or within the budget are left out
// (PocketBase answers writes alike) and the reason logged.
func (s *Server) expandWritten(ctx context.Context, req *service.Request, recs []*core.Record, param string, left *int) {
	var err error
	if left != nil {
		err = s.records.ExpandWithin(ctx, req, recs, param, left)
	} else {
		err = s.records.Expand(ctx, req, recs, param)
	}
	if err != nil {
		for _, rec := range recs {
			rec.Expand = nil
		}
		s.log.Info("a write's answer goes without its expand", "expand", param, "err", err)
	}
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	if err := s.records.Delete(r.Context(), s.recordRequest(r, c), c, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
