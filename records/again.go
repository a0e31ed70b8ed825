package records

import (
	"context"
	"errors"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// A request reads its collection's definition when it arrives and its
// statements name that definition's table and columns. A change of the
// collection (a rename, a dropped field) that commits in between leaves
// the statement naming what is gone, and the store's error carries
// store.ErrMissingObject; nothing was written, since the statement failed
// inside its transaction. again runs such an operation once more with the
// collection as it now stands, as if the request had come after the
// change: its rules and fields are those of the new definition. When the
// collection did not change, the error stands (a filter's own mistake
// keeps its 400); when the second run fails the same way (another change
// meanwhile), the answer is the 503 that says to try again.
func again[T any](s *Service, ctx context.Context, c *core.Collection, op func(*core.Collection) (T, error)) (T, error) {
	v, err := op(c)
	if !errors.Is(err, store.ErrMissingObject) {
		return v, err
	}
	cur, cerr := s.current(ctx, c)
	if cerr != nil {
		return v, cerr
	}
	if cur == nil {
		return v, err
	}
	v, err = op(cur)
	if errors.Is(err, store.ErrMissingObject) {
		err = store.CollectionChangedError(err)
	}
	return v, err
}

// current returns c as the schema now holds it, when it differs from c;
// nil when it is the same (or unknown yet); KindNotFound when c was
// deleted. The schema snapshot is read again from the store
// (service.RefreshSchema) when it still holds c as it was: the change may
// be another process's, or its reload not yet done.
func (s *Service) current(ctx context.Context, c *core.Collection) (*core.Collection, error) {
	same := func(cur *core.Collection) bool { return cur.Name == c.Name && cur.Updated == c.Updated }
	cur, err := s.svc.Collection(c.ID)
	if err == nil && !same(cur) {
		return cur, nil
	}
	if read, err := s.svc.RefreshSchema(ctx); err != nil || !read {
		return nil, err // a change is running: the answer says to try again
	}
	if cur, err = s.svc.Collection(c.ID); err != nil {
		return nil, err
	}
	if same(cur) {
		return nil, nil
	}
	return cur, nil
}
