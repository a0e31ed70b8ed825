package api

import (
	"net/http"

	"github.com/tortoise-dev/tortoise/service"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, req *service.Request) {
	st, err := s.settings.Settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, req *service.Request) {
	if req.Key != nil {
		s.writeError(w, r, errSettingsByAccount)
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.settings.UpdateSettings(r.Context(), b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
