package reqlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// The flusher's rhythm. It wakes every tick, and writes when a batch has
// filled or FlushEvery has passed since the last write. Waking on a timer
// rather than on each entry keeps Record free of goroutine wake-ups: the
// sender never finds a receiver waiting.
const (
	tick = 100 * time.Millisecond
	// rowsPerInsert bounds one INSERT: on PostgreSQL 100 rows of 15
	// values, on SQLite 250 rows of 4, far under the engines' parameter
	// limits; one prepared statement serves every full chunk.
	pgRowsPerInsert     = 100
	sqliteRowsPerInsert = 250
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
	span, rows := uint64(sqliteCounterSpan), sqliteRowsPerInsert
	if l.d == query.Postgres {
		span, rows = pgCounterSpan, pgRowsPerInsert
	}
	f := &flushState{l: l, ids: newIDs(span, l.opts.idStart), rowsPerInsert: rows, agg: map[aggKey]*aggRow{}, lastWrite: l.opts.now()}
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
					f.warn(now, "request log: a batch could not be written", err)
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
	keys      []int64 // the batch's row keys (SQLite)
	packed    []byte  // the batch's packed fields (SQLite), end to end
	ends      []int   // where each entry's packed fields end in packed
	// rowsPerInsert is the rows of one INSERT for the engine.
	rowsPerInsert int
	// retention: the next search for old entries, and whether the last
	// chunk found a full one (more to delete).
	nextRetain time.Time
	retaining  bool
	lastWarn   time.Time // of warn
}

// warn logs a failed write at most once a minute: a database that is
// down fails every tick.
func (f *flushState) warn(now time.Time, msg string, err error) {
	if now.Sub(f.lastWarn) < time.Minute {
		return
	}
	f.lastWarn = now
	f.l.log.Warn(msg, "err", err)
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
	f.keys, f.packed, f.ends = f.keys[:0], f.packed[:0], f.ends[:0]
	for _, e := range f.batch {
		ms, n := f.ids.next(e.Created)
		if l.d == query.SQLite {
			// The id is the key's text, made when it is read.
			f.keys = append(f.keys, rowKey(ms, n))
			f.packed = appendPacked(f.packed, e)
			f.ends = append(f.ends, len(f.packed))
		} else {
			e.ID = formatID(ms, n)
		}
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

// commit writes the batch and rows. On PostgreSQL the entries go by
// COPY, which costs the server and this process a fraction of what a
// multi-row INSERT's parameters do (a server beside a cached API spent
// a third of the API's throughput on the INSERTs); when two processes'
// ids met, which COPY cannot skip, the batch is written again by the
// INSERT that does.
func (f *flushState) commit(ctx context.Context, rows []*aggRow) error {
	if f.l.pool != nil {
		err := f.copyPG(ctx, rows)
		if e := (*pgconn.PgError)(nil); !errors.As(err, &e) || e.Code != "23505" {
			return err
		}
	}
	return f.insertRows(ctx, rows)
}

// copyPG is commit on PostgreSQL: the entries by COPY, the rollup by
// INSERT, in one transaction.
func (f *flushState) copyPG(ctx context.Context, rows []*aggRow) error {
	tx, err := f.l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if len(f.batch) > 0 {
		row := make([]any, len(pgColumns))
		_, err := tx.CopyFrom(ctx, pgx.Identifier{logsTable}, pgColumns, pgx.CopyFromSlice(len(f.batch), func(i int) ([]any, error) {
			e := f.batch[i]
			row[0], row[1], row[2], row[3], row[4] = e.ID, core.FormatTime(e.Created), e.Method, e.URL, e.Route
			row[5], row[6], row[7], row[8], row[9] = float64(e.Status), e.ExecTime(), e.RemoteIP, e.UserIP, e.Auth
			row[10], row[11], row[12], row[13], row[14] = e.AuthID, e.UserAgent, e.Referer, e.Error, e.Details
			return row, nil
		}))
		if err != nil {
			return fmt.Errorf("copy entries: %w", err)
		}
	}
	if err := f.writeRollup(rows, true, func(q string, args []any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollupPerInsert bounds the rollup rows of one INSERT; they are few (a
// row per route and minute).
const rollupPerInsert = 25

// writeRollup inserts the rollup's rows by exec, rollupPerInsert at a
// time, in either engine's transaction.
func (f *flushState) writeRollup(rows []*aggRow, pg bool, exec func(q string, args []any) error) error {
	defer clear(f.args)
	for i := 0; i < len(rows); i += rollupPerInsert {
		chunk := rows[i:min(i+rollupPerInsert, len(rows))]
		if err := exec(insertSQL(pg, statsTable, statsColumns, len(chunk)), f.rollupArgs(chunk)); err != nil {
			return fmt.Errorf("insert rollup: %w", err)
		}
	}
	return nil
}

// rollupArgs are the parameters of an INSERT of chunk into the rollup.
func (f *flushState) rollupArgs(chunk []*aggRow) []any {
	f.args = f.args[:0]
	for _, r := range chunk {
		f.args = append(f.args, r.minute, r.route, r.requests, r.clientErrors, r.serverErrors, r.totalMS, r.maxMS)
		for _, h := range r.hist {
			f.args = append(f.args, h)
		}
	}
	return f.args
}

// insertRows is commit by multi-row INSERTs through database/sql: on
// SQLite always, on PostgreSQL when COPY met a repeated id.
func (f *flushState) insertRows(ctx context.Context, rows []*aggRow) error {
	l := f.l
	pg := l.d == query.Postgres
	cols := sqliteColumns
	if pg {
		cols = pgColumns
	}
	per := f.rowsPerInsert
	if f.insert == nil && len(f.batch) >= per {
		// Before the transaction: on SQLite it holds the one connection.
		var err error
		if f.insert, err = l.wdb.PrepareContext(ctx, insertSQL(pg, logsTable, cols, per)); err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
	}
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for i := 0; i < len(f.batch); i += per {
		end := min(i+per, len(f.batch))
		f.args = f.args[:0]
		for j := i; j < end; j++ {
			e := f.batch[j]
			if pg {
				f.args = append(f.args, e.ID, core.FormatTime(e.Created), e.Method, e.URL, e.Route,
					e.Status, e.ExecTime(), e.RemoteIP, e.UserIP, e.Auth, e.AuthID, e.UserAgent, e.Referer, e.Error, e.Details)
				continue
			}
			start := 0
			if j > 0 {
				start = f.ends[j-1]
			}
			f.args = append(f.args, f.keys[j], e.Status, e.ExecTime(), f.packed[start:f.ends[j]])
		}
		if end-i == per {
			_, err = tx.StmtContext(ctx, f.insert).ExecContext(ctx, f.args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(pg, logsTable, cols, end-i), f.args...)
		}
		if err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
	}
	if err := f.writeRollup(rows, pg, func(q string, args []any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}); err != nil {
		return err
	}
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
	// At a minute, where the rollup's rows are cut too (see total).
	cutoff := now.Add(-time.Duration(l.opts.Days) * 24 * time.Hour).Truncate(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := l.deleteBefore(ctx, cutoff, l.opts.retainChunk)
	if err != nil {
		f.warn(now, "request log: old entries could not be deleted", err)
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
	res, err := l.wdb.ExecContext(ctx, l.numbered(q), l.seqFrom(cutoff), limit)
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

// retentionSQL deletes a chunk of entries created before a time (given as
// seqFrom's bound), oldest first through the key (a LIMIT of ids, as
// DELETE … LIMIT is in neither engine everywhere), and the rollup rows
// before a minute.
func (l *Log) retentionSQL() (entries, rollup string) {
	return `DELETE FROM ` + logsTable + ` WHERE id IN (SELECT id FROM ` + logsTable + ` WHERE id < ? ORDER BY id LIMIT ?)`,
		`DELETE FROM ` + statsTable + ` WHERE minute < ?`
}
