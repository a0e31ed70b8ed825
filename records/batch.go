package records

import (
	"context"
	"errors"
	"fmt"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Batch actions.
const (
	BatchCreate = "create"
	BatchUpdate = "update"
	BatchUpsert = "upsert" // update the record with the body's id if there is one, else create
	BatchDelete = "delete"
)

// BatchOp is one operation of a batch: what the equivalent single request
// would do, with that request's caller.
type BatchOp struct {
	Action     string
	Collection *core.Collection
	ID         string         // update and delete
	Body       map[string]any // create, update, upsert
	Req        *service.Request
}

// BatchError says which operation of a batch failed, and why.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch operation %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// Batch runs ops in one transaction, all or nothing, each under the rules
// that apply to it alone; later operations see the earlier ones' writes.
// It returns the record each operation left (nil for a delete). The work
// that needs no transaction (reading bodies, bcrypt) is done for every
// operation first, so the transaction holds the database (on SQLite, the
// one writer) only for database work. Errors: a *BatchError naming the
// first operation that failed.
func (s *Service) Batch(ctx context.Context, ops []BatchOp) ([]*core.Record, error) {
	recs, err := s.batch(ctx, ops)
	if !errors.Is(err, store.ErrMissingObject) {
		return recs, err
	}
	// A collection changed between reading the batch and writing it: run
	// it once more with the definitions as they now stand (see again).
	fresh := make([]BatchOp, len(ops))
	changed := false
	for i, op := range ops {
		cur, cerr := s.current(ctx, op.Collection)
		if cerr != nil {
			return nil, &BatchError{Index: i, Err: cerr}
		}
		if fresh[i] = op; cur != nil {
			fresh[i].Collection, changed = cur, true
		}
	}
	if !changed {
		return recs, err
	}
	recs, err = s.batch(ctx, fresh)
	var be *BatchError
	if errors.As(err, &be) && errors.Is(be.Err, store.ErrMissingObject) {
		be.Err = store.CollectionChangedError(be.Err)
	}
	return recs, err
}

func (s *Service) batch(ctx context.Context, ops []BatchOp) ([]*core.Record, error) {
	applies := make([]func(store.Tx) (*core.Record, error), len(ops))
	var uploaded []string
	// after says whether each record an earlier operation wrote exists
	// once it has run ("collection id/record id"): an upsert of one of
	// them decides by that, not by the database, which has not seen it.
	after := map[string]bool{}
	for i, op := range ops {
		apply, keys, err := s.prepareOp(ctx, op, after)
		uploaded = append(uploaded, keys...)
		if err != nil {
			s.deleteKeys(uploaded)
			return nil, &BatchError{Index: i, Err: err}
		}
		applies[i] = apply
	}
	out := make([]*core.Record, len(ops))
	err := s.store.Update(ctx, func(tx store.Tx) error {
		for i, apply := range applies {
			rec, err := apply(tx)
			if err != nil {
				return &BatchError{Index: i, Err: err}
			}
			out[i] = rec
		}
		return nil
	})
	if err != nil {
		s.deleteKeys(uploaded)
		var be *BatchError
		if !errors.As(err, &be) {
			err = &BatchError{Index: 0, Err: err} // the commit itself failed
		}
		return nil, err
	}
	return out, nil
}

// prepareOp does one operation's work outside the transaction and
// returns the rest.
func (s *Service) prepareOp(ctx context.Context, op BatchOp, after map[string]bool) (func(store.Tx) (*core.Record, error), []string, error) {
	c := op.Collection
	action := op.Action
	if action == BatchUpsert {
		id, _ := op.Body["id"].(string)
		action = BatchCreate
		if exists, ok := after[c.ID+"/"+id]; ok && id != "" {
			if exists {
				action, op.ID = BatchUpdate, id
			}
		} else if id != "" {
			switch _, err := s.store.Get(ctx, c, id); {
			case err == nil:
				action, op.ID = BatchUpdate, id
			case core.KindOf(err) != core.KindNotFound:
				return nil, nil, err
			}
		}
	}
	switch action {
	case BatchCreate:
		w, err := s.prepareCreate(ctx, op.Req, c, op.Body, nil)
		if err != nil {
			return nil, nil, err
		}
		after[c.ID+"/"+w.Record.ID()] = true
		return func(tx store.Tx) (*core.Record, error) {
			w.Tx = tx
			return w.Record, s.insertChecked(w)
		}, w.uploaded, nil
	case BatchUpdate:
		body := op.Body
		if op.Action == BatchUpsert {
			body = withoutID(body)
		}
		after[c.ID+"/"+op.ID] = true
		return s.prepareUpdate(ctx, op.Req, c, op.ID, body, nil)
	case BatchDelete:
		apply, err := s.prepareDelete(ctx, op.Req, c, op.ID)
		if err != nil {
			return nil, nil, err
		}
		after[c.ID+"/"+op.ID] = false
		return func(tx store.Tx) (*core.Record, error) { return nil, apply(tx) }, nil, nil
	}
	return nil, nil, core.Invalid("Unknown batch action %q.", op.Action)
}

// withoutID is body without its id, which an update may not carry.
func withoutID(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if k != "id" {
			out[k] = v
		}
	}
	return out
}
