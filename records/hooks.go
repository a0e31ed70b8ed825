package records

import (
	"context"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Write is one record write in progress, as hooks see it. Features (auth
// today; files, search and webhooks next) and users' Go code take part in
// writes through hooks, so the record code never names them.
type Write struct {
	Ctx context.Context
	// Tx is the write transaction. It is nil in Prepare hooks, which run
	// before it, and in Input hooks on create, which also run before it.
	Tx store.Tx
	// Req is who asks, with @request.body holding the resolved body.
	Req *service.Request
	// Record is the record as it will be stored; on delete, as it is.
	Record *core.Record
	// Old is the stored record on update; nil on create and delete.
	Old *core.Record
	// Input is the body as the record reads it (create and update).
	Input *Input
	// Errors collects problems with the body's fields, by body key; the
	// write fails with them once the Input hooks ran.
	Errors core.ValidationErrors

	memo map[string]any
	// uploaded are the blob keys of the files this write stored before
	// its transaction, deleted again if it fails.
	uploaded []string
}

// Creating reports whether the write creates the record.
func (w *Write) Creating() bool { return w.Old == nil }

// Memo returns what a hook noted under key earlier in this write.
func (w *Write) Memo(key string) any { return w.memo[key] }

// SetMemo notes v under key for the hooks that run later in this write,
// such as the outcome of CPU-bound work a Prepare hook did.
func (w *Write) SetMemo(key string, v any) {
	if w.memo == nil {
		w.memo = map[string]any{}
	}
	w.memo[key] = v
}

// Hook takes part in a write; an error stops it and reaches the caller.
type Hook func(w *Write) error

type hook struct {
	match func(*core.Collection) bool
	fn    Hook
}

// hookSet lists the hooks of each point of a write.
type hookSet struct {
	prepare, input, write, delete []hook
}

// OnPrepare runs fn before the transaction of each create and update of a
// collection match admits (nil: every collection): the place for CPU-bound
// work such as bcrypt, which must not hold the single writer. Record is
// nil; Old is the stored record as read without a lock (nil on create).
// It runs before the rules are checked, so an error it returns reaches
// callers who may not change the record: return one only for what any
// caller may learn, and leave refusals to OnInput.
func (s *Service) OnPrepare(match func(*core.Collection) bool, fn Hook) {
	s.hooks.prepare = append(s.hooks.prepare, hook{match, fn})
}

// OnInput runs fn on each create and update once the body is resolved and
// the rule admitted it, before the body's values are set on the record.
// A hook may check values, set others on the record, and take values out
// of Input.Values that it set itself (such as a password it hashed).
func (s *Service) OnInput(match func(*core.Collection) bool, fn Hook) {
	s.hooks.input = append(s.hooks.input, hook{match, fn})
}

// OnWrite runs fn in the transaction just before a record is inserted or
// updated, with Record complete and validated.
func (s *Service) OnWrite(match func(*core.Collection) bool, fn Hook) {
	s.hooks.write = append(s.hooks.write, hook{match, fn})
}

// OnDelete runs fn in the transaction before each record is deleted,
// the records a cascade deletes included.
func (s *Service) OnDelete(match func(*core.Collection) bool, fn Hook) {
	s.hooks.delete = append(s.hooks.delete, hook{match, fn})
}

// matches reports whether any of hooks applies to c.
func matches(hooks []hook, c *core.Collection) bool {
	for _, h := range hooks {
		if h.match == nil || h.match(c) {
			return true
		}
	}
	return false
}

// run calls the hooks of one point that admit w's collection, in the
// order they were added.
func run(hooks []hook, c *core.Collection, w *Write) error {
	for _, h := range hooks {
		if h.match != nil && !h.match(c) {
			continue
		}
		if err := h.fn(w); err != nil {
			return err
		}
	}
	return nil
}
