package api

import (
	"encoding/json"
	"net/http"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/service"
)

// The cron routes (superusers): GET /api/crons and POST /api/crons/{id}
// (run now, 204) answer as PocketBase's do, so the SDK's pb.crons works;
// each cron also carries its kind, args, next run and last job. Crons
// kept in the database are created with POST /api/crons, changed with
// PATCH and deleted; those defined in Go code are read-only.

func (s *Server) listCrons(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	list, err := s.jobs.Crons(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getCron(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	c, err := s.jobs.CronStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) runCron(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	if _, err := s.jobs.RunCron(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cronInput is a cron's fields in a body; absent ones are nil.
type cronInput struct {
	ID         *string         `json:"id"`
	Expression *string         `json:"expression"`
	Kind       *string         `json:"kind"`
	Args       json.RawMessage `json:"args"`
	Disabled   *bool           `json:"disabled"`
}

func readCronInput(r *http.Request) (*cronInput, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in cronInput
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, core.DecodeError(err, "body")
	}
	return &in, nil
}

// apply sets on c what in gives.
func (in *cronInput) apply(c *jobs.Cron) {
	if in.Expression != nil {
		c.Schedule = *in.Expression
	}
	if in.Kind != nil {
		c.Kind = *in.Kind
	}
	if in.Args != nil {
		c.Args = in.Args
	}
	if in.Disabled != nil {
		c.Disabled = *in.Disabled
	}
}

func (s *Server) createCron(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	in, err := readCronInput(r)
	if err != nil {
		return err
	}
	if in.ID == nil || *in.ID == "" {
		return core.FieldInvalid("id", "validation_required", "Give the cron an id.")
	}
	if _, err := s.jobs.CronStatus(r.Context(), *in.ID); err == nil {
		return core.FieldInvalid("id", "validation_cron_taken", "A cron with this id exists.")
	} else if core.KindOf(err) != core.KindNotFound {
		return err
	}
	c := jobs.Cron{ID: *in.ID}
	in.apply(&c)
	if err := s.handKindAllowed(r.Context(), c.Kind); err != nil {
		return err
	}
	st, err := s.jobs.SaveCron(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) updateCron(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	in, err := readCronInput(r)
	if err != nil {
		return err
	}
	cur, err := s.jobs.CronStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.ID != nil && *in.ID != cur.ID {
		return core.FieldInvalid("id", "validation_cron_id", "A cron's id cannot change.")
	}
	c := cur.Cron
	in.apply(&c)
	if in.Kind != nil {
		if err := s.handKindAllowed(r.Context(), c.Kind); err != nil {
			return err
		}
	}
	st, err := s.jobs.SaveCron(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) deleteCron(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	if err := s.jobs.DeleteCron(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
