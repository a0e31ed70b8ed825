package reqlog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// The flusher's rhythm. It wakes every tick, and writes when a batch has
// filled or FlushEvery has passed since the last write. Waking on a timer
// rather than on each entry keeps Record free of goroutine wake-ups: the
// sender never finds a receiver waiting.
const (
	tick = 100 * time.Millisecond
	// rowsPerInsert bounds one INSERT: 100 rows of 16 values is 1,600
	// parameters, far under SQLite's and PostgreSQL's limits, and one
	// prepared statement serves every full chunk.
	rowsPerInsert = 100
	// retainChunk bounds the rows one retention DELETE removes, so that
	// it holds SQLite's writer for a few tens of milliseconds at most;
	// the flusher deletes a chunk per tick until nothing is left.
	retainChunk = 5000
	// retainEvery is how often old entries are looked for.
	retainEvery = time.Hour
)

// flusher is the log's one writing goroutine: it writes queued entries
// and the rollup, and applies the retention. Owning all writes, it needs
// no lock, and on SQLite it is the single writer the file wants.
func (l *Log) flusher() {
	defer close(l.done)
	f := &flushState{l: l, ids: newIDs(), agg: map[aggKey]*aggRow{}, lastWrite: l.opts.now()}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			ctx := l.stopCtx
			if ctx == nil {
				ctx = context.Background()
			}
			// Nothing more comes in (Handler checks closed); what is
			// queued is written with the rollup of the current minute.
			if err := f.write(ctx, true); err != nil {
				l.log.Warn("request log: the last entries could not be written", "err", err)
			}
			f.close()
			return
		case reply := <-l.flushReq:
			reply <- f.write(context.Background(), true)
		case <-t.C:
			now := l.opts.now()
			if len(l.queue) >= l.opts.BatchSize || now.Sub(f.lastWrite) >= l.opts.FlushEvery {
				if err := f.write(context.Background(), false); err != nil {
					l.log.Warn("request log: a batch could not be written", "err", err)
				}
			}
			f.retain(now)
		}
	}
}

// flushState is the flusher's own state.
type flushState struct {
	l         *Log
	ids       *ids
	batch     []*Entry
	agg       map[aggKey]*aggRow // rollup rows not written yet
	lastWrite time.Time
	insert    *sql.Stmt // the INSERT of rowsPerInsert entries, prepared once
	args      []any
	// retention: the next search for old entries, and whether the last
	// chunk found a full one (more to delete).
	nextRetain time.Time
	retaining  bool
}

func (f *flushState) close() {
	if f.insert != nil {
		f.insert.Close()
	}
}

// write drains the queue and writes its entries, with the rollup rows of
// the minutes that have ended (all of them with current, for Flush and
// Close), in one transaction. Entries of a failed write are counted as
// lost: retrying could pile up without bound while the database is down.
func (f *flushState) write(ctx context.Context, current bool) error {
	l := f.l
	f.batch = f.batch[:0]
drain:
	for len(f.batch) < cap(l.queue) {
		select {
		case e := <-l.queue:
			f.batch = append(f.batch, e)
		default:
			break drain
		}
	}
	now := l.opts.now()
	f.lastWrite = now
	for _, e := range f.batch {
		e.ID = f.ids.next(e.Created)
		f.aggregate(e)
	}
	rows := f.rollup(now, current)
	if len(f.batch) == 0 && len(rows) == 0 {
		return nil
	}
	err := f.commit(ctx, rows)
	if err != nil {
		l.failed.Add(int64(len(f.batch)))
		l.warnDropped()
	}
	clear(f.batch) // let the entries go
	return err
}

func (f *flushState) commit(ctx context.Context, rows []*aggRow) error {
	l := f.l
	pg := l.d == query.Postgres
	if f.insert == nil && len(f.batch) >= rowsPerInsert {
		// Before the transaction: on SQLite it holds the one connection.
		var err error
		if f.insert, err = l.wdb.PrepareContext(ctx, insertSQL(pg, logsTable, logColumns, rowsPerInsert)); err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
	}
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for i := 0; i < len(f.batch); i += rowsPerInsert {
		chunk := f.batch[i:min(i+rowsPerInsert, len(f.batch))]
		f.args = f.args[:0]
		for _, e := range chunk {
			f.args = append(f.args, e.ID, core.FormatTime(e.Created), e.Level(), e.Method, e.URL, e.Route,
				e.Status, e.ExecTime(), e.RemoteIP, e.UserIP, e.Auth, e.AuthID, e.UserAgent, e.Referer, e.Error, e.Details)
		}
		if len(chunk) == rowsPerInsert {
			_, err = tx.StmtContext(ctx, f.insert).ExecContext(ctx, f.args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(pg, logsTable, logColumns, len(chunk)), f.args...)
		}
		if err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
	}
	// The rollup's rows are few (a row per route and minute).
	for i := 0; i < len(rows); i += rowsPerInsert / 4 {
		chunk := rows[i:min(i+rowsPerInsert/4, len(rows))]
		f.args = f.args[:0]
		for _, r := range chunk {
			f.args = append(f.args, r.minute, r.route, r.requests, r.clientErrors, r.serverErrors, r.totalMS, r.maxMS)
			for _, h := range r.hist {
				f.args = append(f.args, h)
			}
		}
		if _, err := tx.ExecContext(ctx, insertSQL(pg, statsTable, statsColumns, len(chunk)), f.args...); err != nil {
			return fmt.Errorf("insert rollup: %w", err)
		}
	}
	clear(f.args)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retain deletes entries older than the retention: once an hour (and at
// start), a chunk per tick until a chunk comes back short.
func (f *flushState) retain(now time.Time) {
	if !f.retaining && now.Before(f.nextRetain) {
		return
	}
	l := f.l
	cutoff := now.Add(-time.Duration(l.opts.Days) * 24 * time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := l.deleteBefore(ctx, cutoff, l.opts.retainChunk)
	if err != nil {
		l.log.Warn("request log: old entries could not be deleted", "err", err)
		f.retaining, f.nextRetain = false, now.Add(time.Minute)
		return
	}
	f.retaining = n == l.opts.retainChunk
	if !f.retaining {
		f.nextRetain = now.Add(l.opts.retainEvery)
	}
}

// deleteBefore deletes up to limit entries created before cutoff, and the
// rollup rows of the minutes before it, returning the entries deleted.
func (l *Log) deleteBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	q, qs := l.retentionSQL()
	res, err := l.wdb.ExecContext(ctx, l.numbered(q), core.FormatTime(cutoff), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := l.wdb.ExecContext(ctx, l.numbered(qs), cutoff.Unix()/60); err != nil {
		return 0, err
	}
	return int(n), nil
}

// retentionSQL deletes a chunk of entries created before a time (through
// the created index; a LIMIT of rows, as DELETE … LIMIT is not in every
// SQLite nor in PostgreSQL), and the rollup rows before a minute.
func (l *Log) retentionSQL() (entries, rollup string) {
	return `DELETE FROM ` + logsTable + ` WHERE ` + l.seqCol + ` IN (SELECT ` + l.seqCol + ` FROM ` + logsTable +
			` WHERE created < ? ORDER BY created LIMIT ?)`,
		`DELETE FROM ` + statsTable + ` WHERE minute < ?`
}
