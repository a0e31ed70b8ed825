package records

import (
	"context"
	"slices"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// searchQuery returns the store's search for text on c as req may make
// it, or nil when text holds no words (a plain list). Hidden fields, and
// an auth collection's email, are searched and highlighted for
// superusers only: a search must reveal no more than a list does. Errors: KindInvalid naming "search" (a query
// search.Parse refuses, a collection without a search option).
func searchQuery(req *service.Request, c *core.Collection, text string) (*store.SearchQuery, error) {
	q, err := search.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(q.Terms) == 0 {
		return nil, nil
	}
	if c.Search == nil || c.IsView() {
		return nil, core.FieldInvalid("search", "validation_not_searchable",
			"The collection "+c.Name+" is not searchable: give it a search option listing its searchable fields.")
	}
	superuser := req != nil && req.Superuser
	var cols []string
	for _, sf := range c.Search.Fields {
		// A private field (hidden, or an account's email) is left out
		// for others: matching on it, or highlighting it, would show
		// what a list does not.
		if f := c.Field(sf.Name); f != nil && (superuser || !c.SearchPrivate(f)) {
			cols = append(cols, sf.Name)
		}
	}
	return &store.SearchQuery{Query: q, Columns: cols, Highlights: true,
		Marks: [2]string{search.MarkStart, search.MarkEnd}}, nil
}

// findSearch runs a search: exact first and, when that matches nothing
// at all, once more letting each word match with one typo, so a typo
// never hides an exact match of something else. Highlights come back as
// HTML (search.HTML: the text escaped, matches in <mark>); a field whose
// stored text holds the marks itself gets none, since the engine's marks
// in its snippet could not be told from the stored ones (a title
// "\ue000x\ue001" would otherwise show x as a match).
func (s *Service) findSearch(ctx context.Context, q store.Query) (*store.Result, error) {
	res, err := s.store.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 && (res.Total <= 0) {
		none := res.Total == 0 || q.Offset == 0
		if !none {
			// No total was asked for and the page is past the start: were
			// there matches before it?
			probe := q
			probe.Offset, probe.Limit, probe.WithTotal = 0, 1, false
			probe.Search = &store.SearchQuery{Query: q.Search.Query, Columns: q.Search.Columns, Marks: q.Search.Marks}
			first, err := s.store.Find(ctx, probe)
			if err != nil {
				return nil, err
			}
			none = len(first.Records) == 0
		}
		if none {
			fuzzy := *q.Search
			fuzzy.Fuzzy = true
			q.Search = &fuzzy
			if res, err = s.store.Find(ctx, q); err != nil {
				return nil, err
			}
		}
	}
	byID := make(map[string]*core.Record, len(res.Records))
	for _, r := range res.Records {
		byID[r.ID()] = r
	}
	html := make(map[string]map[string]string, len(res.Highlights))
	for id, fields := range res.Highlights {
		h := make(map[string]string, len(fields))
		for f, snippet := range fields {
			if r := byID[id]; r == nil || slices.ContainsFunc(r.Strings(f), search.HasMarks) {
				continue
			}
			h[f] = search.HTML(snippet)
		}
		if len(h) > 0 {
			html[id] = h
		}
	}
	res.Highlights = html
	return res, nil
}
