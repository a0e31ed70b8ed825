package api

import (
	"encoding/json"
	"errors"
	"io"
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

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	list, err := s.webhooks.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	h, err := s.webhooks.Get(r.Context(), r.PathValue("id"))
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

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	in, err := readWebhookInput(r)
	if err != nil {
		return err
	}
	in.By = req
	h, err := s.webhooks.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	in, err := readWebhookInput(r)
	if err != nil {
		return err
	}
	in.By = req
	h, err := s.webhooks.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	h, err := s.webhooks.RotateSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	if err := s.webhooks.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhookDeliveries lists a webhook's deliveries (?perPage=, ?cursor=,
// ?state=).
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	id := r.PathValue("id")
	if _, err := s.webhooks.Get(r.Context(), id); err != nil {
		return err
	}
	p := jobs.ListParams{Kinds: []string{webhooks.Kind}, Tags: []string{webhooks.Tag(id)}}
	if st := r.URL.Query().Get("state"); st != "" {
		p.States = []string{st}
	}
	return s.writeJobList(w, r, req, p)
}

// replayDelivery sends a delivery again (the same message id, so a
// receiver that already has it can tell).
func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	jobID, err := strconv.ParseInt(r.PathValue("job"), 10, 64)
	if err != nil {
		return core.NotFound("The delivery wasn't found.")
	}
	j, err := s.jobs.Get(r.Context(), jobID)
	if err != nil {
		return err
	}
	if j.Kind != webhooks.Kind || !slices.Contains(j.Tags, webhooks.Tag(r.PathValue("id"))) {
		return core.NotFound("The delivery wasn't found.")
	}
	if j, err = s.jobs.Retry(r.Context(), jobID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// maxHookBody caps an inbound webhook's body.
const maxHookBody = 4 << 20

// receiveHook is /api/hooks/{name}: an inbound webhook, verified and kept
// (see webhooks.Service.Receive). Public: the signature is the auth.
func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > maxHookBody {
		return tooLarge(maxHookBody)
	}
	read := func() ([]byte, error) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(maxHookBody)
			}
			return nil, core.Invalid("Failed to read the request body.")
		}
		return b, nil
	}
	res, err := s.webhooks.Receive(r.Context(), r.PathValue("name"), r.Header, read)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) listHookSources(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	list, err := s.webhooks.Sources(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getHookSource(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	src, err := s.webhooks.GetSource(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, src)
	return nil
}

func (s *Server) saveHookSource(create bool) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
		b, err := readBody(r)
		if err != nil {
			return err
		}
		var in struct {
			webhooks.SourceInput
			Name string `json:"name"`
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return core.DecodeError(err, "body")
		}
		if in.Kind != nil && *in.Kind == webhooks.Kind {
			// A source's events run as its kind; as deliveries they
			// would be signed with a webhook's secret (apiKindAllowed).
			return apiKindAllowed(*in.Kind)
		}
		name := r.PathValue("name")
		if create {
			name = in.Name
		}
		src, err := s.webhooks.SaveSource(r.Context(), name, create, in.SourceInput)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, src)
		return nil
	}
}

func (s *Server) deleteHookSource(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	if err := s.webhooks.DeleteSource(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
