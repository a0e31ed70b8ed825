package postgres

import (
	"context"
	"time"
)

// schemaChannel is the NOTIFY channel collection changes are announced on.
const schemaChannel = "tortoise_schema"

// WatchSchema calls fn whenever any process changes the collections of this
// database (and once when listening starts or resumes, to catch up), so
// every API process serves the schema as it is. It listens on one
// connection of its own until Close, reconnecting after failures.
func (s *Store) WatchSchema(fn func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.stopWatch != nil || s.closed.Load() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch, s.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(s.watchDone)
		for ctx.Err() == nil {
			s.listen(ctx, fn)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second): // back off before reconnecting
			}
		}
	}()
}

// listen waits for schema notifications on a connection taken out of the
// pool (a LISTENing connection must not serve other queries).
func (s *Store) listen(ctx context.Context, fn func()) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return
	}
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+schemaChannel); err != nil {
		return
	}
	fn()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		fn()
	}
}
