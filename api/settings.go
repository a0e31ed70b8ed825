package api

import (
	"net/http"

	"github.com/tortoise-dev/tortoise/service"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	st, err := s.settings.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if req.Key != nil {
		return errSettingsByAccount
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	st, err := s.settings.UpdateSettings(r.Context(), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
