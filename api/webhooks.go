package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/webhooks"
)

// The webhook routes (superusers): CRUD on /api/webhooks (the secret is in
// the answer that creates or rotates it, and nowhere else), the delivery
// log of one webhook (its delivery jobs, newest first, with each attempt's
// error and the last response's status and time) and replay.

func (s *Server) webhookService() (*webhooks.Service, error) {
	if s.webhooks == nil {
		return nil, &core.Error{Kind: core.KindUnavailable, Message: "This server runs no webhooks."}
	}
	return s.webhooks, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	list, err := ws.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	h, err := ws.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func readWebhookInput(r *http.Request) (webhooks.Input, error) {
	var in webhooks.Input
	b, err := readBody(r)
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, core.DecodeError(err, "body")
	}
	return in, nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	in, err := readWebhookInput(r)
	if err != nil {
		return err
	}
	h, err := ws.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	in, err := readWebhookInput(r)
	if err != nil {
		return err
	}
	h, err := ws.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	h, err := ws.RotateSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	if err := ws.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhookDeliveries lists a webhook's deliveries (?perPage=, ?cursor=,
// ?state=).
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	ws, err := s.webhookService()
	if err != nil {
		return err
	}
	q, err := s.jobQueue()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := ws.Get(r.Context(), id); err != nil {
		return err
	}
	v := r.URL.Query()
	p := jobs.ListParams{Kinds: []string{webhooks.Kind}, Tags: []string{webhooks.Tag(id)}, After: v.Get("cursor")}
	if st := v.Get("state"); st != "" {
		p.States = []string{st}
	}
	if pp := v.Get("perPage"); pp != "" {
		n, err := strconv.Atoi(pp)
		if err != nil || n < 1 || n > 500 {
			return core.FieldInvalid("perPage", "validation_invalid_per_page", "perPage is 1 to 500.")
		}
		p.Limit = n
	}
	res, err := q.List(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// replayDelivery sends a delivery again (the same message id, so a
// receiver that already has it can tell).
func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	q, err := s.jobQueue()
	if err != nil {
		return err
	}
	jobID, err := strconv.ParseInt(r.PathValue("job"), 10, 64)
	if err != nil {
		return core.NotFound("The delivery wasn't found.")
	}
	j, err := q.Get(r.Context(), jobID)
	if err != nil {
		return err
	}
	if j.Kind != webhooks.Kind || !slices.Contains(j.Tags, webhooks.Tag(r.PathValue("id"))) {
		return core.NotFound("The delivery wasn't found.")
	}
	if j, err = q.Retry(r.Context(), jobID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}
