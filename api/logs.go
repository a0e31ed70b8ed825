package api

import (
	"net/http"

	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/service"
)

// The request log's routes, PocketBase's (the SDK's pb.logs), for
// superusers: the list (?page, ?perPage up to 500, ?filter over id,
// created, updated, level, message and data.*, ?sort, ?skipTotal), the
// requests per hour (?filter), and one entry.

func (s *Server) logRoutes(route func(string, handler)) {
	route("GET /api/logs", s.superuser(s.listLogs))
	route("GET /api/logs/stats", s.superuser(s.logStats))
	route("GET /api/logs/{id}", s.superuser(s.viewLog))
}

func (s *Server) listLogs(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	q := queryMap(r.URL.Query())
	p := reqlog.ListParams{Filter: q["filter"], Sort: q["sort"], SkipTotal: boolParam(q, "skipTotal")}
	var err error
	if p.Page, p.PerPage, err = pageParams(q, reqlog.DefaultPerPage); err != nil {
		return err
	}
	res, err := s.logs.List(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) logStats(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	stats, err := s.logs.Stats(r.Context(), r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stats)
	return nil
}

func (s *Server) viewLog(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	e, err := s.logs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}
