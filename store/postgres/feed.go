package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// The change feed on PostgreSQL reaches every process on the database.
// A transaction that changed records writes them to the outbox table
// _changes just before it commits, tagged with its transaction id, and
// sends one NOTIFY on changesChannel whose payload names the process and
// that id (a few dozen bytes, far under NOTIFY's 8000-byte limit, however
// large the records). PostgreSQL delivers notifications in commit order,
// only for transactions that commit. Each process LISTENs on a connection
// of its own: for its own transactions it publishes the changes it kept in
// memory; for another process's it reads the rows of that transaction id.
// Rows older than changesKeep are deleted now and then.
//
// If the listening connection drops, notifications sent meanwhile are
// lost to this process: on reconnecting it ends every subscription with
// store.ErrLagged, so consumers resynchronise rather than miss changes
// silently.
const (
	changesChannel = "tortoise_changes"
	changesKeep    = time.Hour
	changesPrune   = 10 * time.Minute
)

// lostPayload, in place of a transaction id, announces records changed
// without a change on the feed (a truncate): OnLost observers must forget.
const lostPayload = "lost"

// feed is the PostgreSQL side of the change feed.
type feed struct {
	*store.Feed
	token string // this process's name in notification payloads

	mu    sync.Mutex
	local map[string]*localTx // own transactions awaiting their notification, by xid
	cols  map[string]*core.Collection
	// schemaStale: a collection changed; reload cols before decoding.
	schemaStale bool

	stop context.CancelFunc
	done chan struct{}
}

// localTx is a transaction of this process on its way through NOTIFY.
type localTx struct {
	changes   []store.Change
	published chan struct{} // closed once its changes are published (or lost)
}

// publishWait bounds how long Update waits for its own changes to come
// back through the listener.
const publishWait = 2 * time.Second

// Changes returns the feed of committed record changes of every process
// on the database.
func (s *Store) Changes() *store.Feed { return s.feed.Feed }

// startFeed listens for change notifications until Close. It returns once
// the first LISTEN is in place, so every transaction committed after Open
// returns reaches this process's subscribers.
func (s *Store) startFeed(ctx context.Context) error {
	f := &feed{
		Feed:  store.NewFeed(),
		token: core.RandomString(12, core.Alphanumeric),
		local: map[string]*localTx{},
		done:  make(chan struct{}),
	}
	s.feed = f
	conn, err := s.listenConn(ctx)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	go func() {
		defer close(f.done)
		defer f.Close()
		for {
			s.receive(lctx, conn)
			conn.Close(context.Background())
			if lctx.Err() != nil {
				return
			}
			// Notifications sent while we were away are lost to us.
			// Subscribers and observers (the record cache) hear it before
			// the writers waiting on their own changes are let go, so no
			// writer returns before the cache has dropped what it held.
			f.Lagged()
			f.mu.Lock()
			for xid, l := range f.local {
				close(l.published)
				delete(f.local, xid)
			}
			f.mu.Unlock()
			for conn = nil; conn == nil; {
				select {
				case <-lctx.Done():
					return
				case <-time.After(time.Second):
				}
				conn, _ = s.listenConn(lctx)
			}
		}
	}()
	return nil
}

// listenConn takes a connection out of the pool (a listening connection
// serves nothing else) and LISTENs on the change and schema channels.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to listen for changes.")
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel+"; LISTEN "+schemaChannel); err != nil {
		conn.Close(context.Background())
		return nil, s.connErr(ctx, err, "Failed to listen for changes.")
	}
	s.feed.mu.Lock()
	s.feed.schemaStale = true
	s.feed.mu.Unlock()
	return conn, nil
}

// receive publishes what the notifications on conn announce, until conn
// fails or ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) {
	f := s.feed
	prune := time.Now()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if n.Channel == schemaChannel {
			f.mu.Lock()
			f.schemaStale = true
			f.mu.Unlock()
			continue
		}
		token, xid, ok := strings.Cut(n.Payload, ":")
		if !ok {
			continue
		}
		if xid == lostPayload {
			f.Lost() // a truncate: records went without a change each
			continue
		}
		f.mu.Lock()
		l := f.local[xid]
		f.mu.Unlock()
		if l != nil && token == f.token {
			// Published first, then let go: awaitPublished takes a
			// transaction no longer kept for one already published, so
			// its writer must not hear of its commit before the
			// observers (the record cache) have seen it.
			f.Publish(l.changes...)
			f.release(xid, l)
		} else {
			if l != nil {
				f.release(xid, l)
			}
			// Another process's, or ours whose commit answered with an
			// error although it went through: read it from the outbox.
			changes, err := s.readChanges(ctx, conn, xid)
			if err != nil {
				return // reconnect, and tell subscribers they lag
			}
			f.Publish(changes...)
		}
		if time.Since(prune) > changesPrune {
			prune = time.Now()
			_, _ = conn.Exec(ctx, `DELETE FROM _changes WHERE created < now() - make_interval(secs => $1)`, changesKeep.Seconds())
		}
	}
}

// readChanges reads another process's transaction from the outbox.
func (s *Store) readChanges(ctx context.Context, conn *pgx.Conn, xid string) ([]store.Change, error) {
	rows, err := conn.Query(ctx, `SELECT action, collection, record, old FROM _changes WHERE xid = $1::xid8 ORDER BY seq`, xid)
	if err != nil {
		return nil, err
	}
	type row struct {
		Action, Collection, Record string
		Old                        *string
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, err
	}
	out := make([]store.Change, 0, len(rs))
	for _, r := range rs {
		c, err := s.feedCollection(ctx, r.Collection)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue // the collection is gone since
		}
		ch := store.Change{Action: r.Action, Collection: c}
		if ch.Record, err = decodeRecord(c, r.Record); err != nil {
			return nil, err
		}
		if r.Old != nil {
			if ch.Old, err = decodeRecord(c, *r.Old); err != nil {
				return nil, err
			}
		}
		out = append(out, ch)
	}
	return out, nil
}

// feedCollection resolves a collection id for decoding, reloading the
// definitions after a schema change or for an id not seen yet.
func (s *Store) feedCollection(ctx context.Context, id string) (*core.Collection, error) {
	f := s.feed
	f.mu.Lock()
	c, stale := f.cols[id], f.schemaStale
	f.mu.Unlock()
	if c != nil && !stale {
		return c, nil
	}
	cols, err := s.Collections(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*core.Collection, len(cols))
	for _, c := range cols {
		m[c.ID] = c
	}
	f.mu.Lock()
	f.cols, f.schemaStale = m, false
	f.mu.Unlock()
	return m[id], nil
}

// beforeCommit sends, in one round trip as the last statements before
// COMMIT, the statements queued by AtCommit and the feed's: t's changes
// written to the _changes outbox with a notification. It keeps the
// changes for this process's own listener: after the commit the caller
// waits for them to be published (awaitPublished), or drops them if the
// commit fails (forget).
func (t *tx) beforeCommit(ctx context.Context) (xid string, err error) {
	steps := t.atCommit
	changes := t.pending.Take()
	if len(changes) > 0 {
		st, err := changesStep(changes, t.s.feed.token, &xid)
		if err != nil {
			return "", err
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return "", nil
	}
	if err := runBatch(t.tx.SendBatch(ctx, batchOf(steps)), steps); err != nil {
		return "", t.s.connErr(ctx, err, "Failed to commit.")
	}
	if xid == "" {
		return "", nil
	}
	f := t.s.feed
	f.mu.Lock()
	f.local[xid] = &localTx{changes: changes, published: make(chan struct{})}
	f.mu.Unlock()
	return xid, nil
}

// changesStep is the statement that writes changes to _changes and
// notifies every process's listener, reading the transaction id into xid.
func changesStep(changes []store.Change, token string, xid *string) (step, error) {
	actions := make([]string, len(changes))
	cols := make([]string, len(changes))
	recs := make([]string, len(changes))
	olds := make([]*string, len(changes))
	for i, ch := range changes {
		actions[i], cols[i] = ch.Action, ch.Collection.ID
		b, err := json.Marshal(ch.Record.Data)
		if err != nil {
			return step{}, core.Internal(err, "Failed to record a change.")
		}
		recs[i] = string(b)
		if ch.Old != nil {
			b, err := json.Marshal(ch.Old.Data)
			if err != nil {
				return step{}, core.Internal(err, "Failed to record a change.")
			}
			o := string(b)
			olds[i] = &o
		}
	}
	return step{sql: `WITH ins AS (
	INSERT INTO _changes (xid, action, collection, record, old)
	SELECT pg_current_xact_id(), a, c, r, o FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(a, c, r, o, n) ORDER BY n
	RETURNING xid)
SELECT x::text, pg_notify($5, $6 || ':' || x::text)::text FROM (SELECT DISTINCT xid AS x FROM ins) d`,
		args: []any{actions, cols, recs, olds, changesChannel, token},
		rows: scanInto(xid, new(string))}, nil
}

// release lets go the writer waiting for l, the kept changes of xid,
// unless forget or a reconnection did already.
func (f *feed) release(xid string, l *localTx) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.local[xid] == l {
		delete(f.local, xid)
		close(l.published)
	}
}

// forget drops the kept changes of a transaction that did not commit.
func (f *feed) forget(xid string) {
	if xid == "" {
		return
	}
	f.mu.Lock()
	if l := f.local[xid]; l != nil {
		close(l.published)
		delete(f.local, xid)
	}
	f.mu.Unlock()
}

// awaitPublished waits until this process has published the changes of
// the committed transaction xid, so that, as on SQLite, a subscriber sees
// a change before the writer hears of its commit. It gives up after
// publishWait (the listener is reconnecting: subscribers are then told
// they lag; observers are told at once that changes were lost).
func (f *feed) awaitPublished(xid string) {
	if xid == "" {
		return
	}
	f.mu.Lock()
	l := f.local[xid]
	f.mu.Unlock()
	if l == nil {
		return // already published
	}
	select {
	case <-l.published:
	case <-time.After(publishWait):
		// The writer's caller is about to hear of a commit the feed's
		// observers have not seen: they drop what they hold (the record
		// cache must not serve what came before this write).
		f.Lost()
	}
}

// decodeRecord reads a record written by changesStep, giving each
// field its canonical Go type.
func decodeRecord(c *core.Collection, data string) (*core.Record, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return nil, core.Internal(err, "Failed to read a change.")
	}
	r := core.NewRecord(c)
	for i := range c.Fields {
		f := &c.Fields[i]
		v, ok := raw[f.Name]
		if !ok {
			continue
		}
		var err error
		switch f.Def().Storage(f) {
		case core.StorageText:
			var s string
			err = json.Unmarshal(v, &s)
			r.Data[f.Name] = s
		case core.StorageNumber:
			var n float64
			err = json.Unmarshal(v, &n)
			r.Data[f.Name] = n
		case core.StorageBool:
			var b bool
			err = json.Unmarshal(v, &b)
			r.Data[f.Name] = b
		case core.StorageJSON:
			switch read := core.JSONReader(f); {
			case string(v) == "null":
				r.Data[f.Name] = json.RawMessage(nil)
			case read != nil:
				r.Data[f.Name] = read(json.RawMessage(v))
			default:
				r.Data[f.Name] = json.RawMessage(v)
			}
		case core.StorageList:
			l := []string{}
			err = json.Unmarshal(v, &l)
			r.Data[f.Name] = l
		}
		if err != nil {
			return nil, core.Internal(err, "Failed to read a change.")
		}
	}
	return r, nil
}
