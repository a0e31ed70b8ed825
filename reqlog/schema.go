package reqlog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The log's two tables. _request_logs holds one row per request;
// _request_stats one row per minute, route and flush of a process: the
// rollup the dashboard reads (see Summary). Both are created at open,
// idempotently.
const (
	logsTable  = "_request_logs"
	statsTable = "_request_stats"
)

// The columns rows are inserted with: on SQLite the packed row (see
// lean.go), on PostgreSQL a column per field.
var (
	sqliteColumns = []string{"id", "status", "exec_time", "data"}
	pgColumns     = []string{"id", "created", "method", "url", "route", "status", "exec_time",
		"remote_ip", "user_ip", "auth", "auth_id", "user_agent", "referer", "error", "details"}
)

// bins are the upper bounds, in milliseconds, of the latency histogram of
// the rollup; a last, open bin holds slower requests. They step by about
// 1.5×, so a percentile read from them (interpolated inside its bin) is
// within a bin's width of the exact one: plenty for a dashboard's chart,
// at 31 integers a row.
var bins = []float64{0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75,
	100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000}

// nBins counts the histogram's bins, the open one included.
var nBins = len(bins) + 1

// statsColumns are _request_stats' columns in the order rows are
// inserted: minute is Unix time in minutes; h0…h30 the histogram.
var statsColumns = func() []string {
	cols := []string{"minute", "route", "requests", "client_errors", "server_errors", "total_ms", "max_ms"}
	for i := range nBins {
		cols = append(cols, fmt.Sprintf("h%d", i))
	}
	return cols
}()

// createSQLite creates the tables in the log's own SQLite file. The
// entries' table is keyed by time (lean.go), which serves the default
// order, the time bounds of the stats and the dashboard, and retention
// without an index; the one index holds the 4xx and 5xx alone, by time:
// the dashboard's recent errors and the common filter data.status >= 400,
// kept small since errors are few. A filter on another field, created
// included, reads the table (bounded by the read timeout).
//
// The file's user_version is the layout's version: a file of another
// layout (an earlier build's) is emptied rather than misread, as a log is
// worth less than a clear start. It reports whether it emptied one.
func createSQLite(ctx context.Context, db *sql.DB) (reset bool, err error) {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, err
	}
	if version == sqliteLayout {
		return false, nil
	}
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('"+logsTable+"', '"+statsTable+"')").Scan(&tables); err != nil {
		return false, err
	}
	var b strings.Builder
	b.WriteString("BEGIN;\nDROP TABLE IF EXISTS " + logsTable + ";\nDROP TABLE IF EXISTS " + statsTable + ";\n")
	b.WriteString(`CREATE TABLE IF NOT EXISTS ` + logsTable + ` (
	id INTEGER PRIMARY KEY,
	status INTEGER NOT NULL,
	exec_time REAL NOT NULL,
	data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS _request_logs_errors ON ` + logsTable + ` (id) WHERE status >= 400;
CREATE TABLE IF NOT EXISTS ` + statsTable + ` (
	minute INTEGER NOT NULL,
	route TEXT NOT NULL,
	requests INTEGER NOT NULL,
	client_errors INTEGER NOT NULL,
	server_errors INTEGER NOT NULL,
	total_ms REAL NOT NULL,
	max_ms REAL NOT NULL`)
	for i := range nBins {
		fmt.Fprintf(&b, ",\n\th%d INTEGER NOT NULL", i)
	}
	b.WriteString(`
);
CREATE INDEX IF NOT EXISTS _request_stats_minute ON ` + statsTable + ` (minute);
PRAGMA user_version = ` + fmt.Sprint(sqliteLayout) + `;
COMMIT;`)
	_, err = db.ExecContext(ctx, b.String())
	return tables > 0, err
}

// sqliteLayout is the version of logs.db's layout (its user_version).
const sqliteLayout = 1

// createPostgres creates the tables in the application's database, a
// column per field and the indexes SQLite's layout has, under an advisory
// lock so that processes starting together do not race on CREATE TABLE IF
// NOT EXISTS (which is not safe concurrently). As on SQLite, the key
// serves the default order, the time bounds and retention (an id starts
// with its creation time: seqFrom), and one partial index holds the
// errors alone, by key. Text is COLLATE "C", the order the filter language
// compares in, so that its comparisons can use the indexes; status is
// double precision, the type the filter compares numbers in, for the same
// reason. Indexes that earlier builds made are dropped, as each request
// paid for them: on status (a filter on a 4xx or 5xx status has the
// errors' index; a status below 400 is nearly every row, where an index
// does not help), on created (the key's order is created's; a filter on
// created reads the table, as on SQLite), and the errors by created.
func createPostgres(ctx context.Context, db *sql.DB) error {
	var b strings.Builder
	b.WriteString(`CREATE TABLE IF NOT EXISTS ` + logsTable + ` (
	id text COLLATE "C" PRIMARY KEY,
	created text COLLATE "C" NOT NULL,
	method text COLLATE "C" NOT NULL,
	url text COLLATE "C" NOT NULL,
	route text COLLATE "C" NOT NULL,
	status double precision NOT NULL,
	exec_time double precision NOT NULL,
	remote_ip text COLLATE "C" NOT NULL,
	user_ip text COLLATE "C" NOT NULL,
	auth text COLLATE "C" NOT NULL,
	auth_id text COLLATE "C" NOT NULL,
	user_agent text COLLATE "C" NOT NULL,
	referer text COLLATE "C" NOT NULL,
	error text COLLATE "C" NOT NULL,
	details text COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS _request_logs_errors_by_id ON ` + logsTable + ` (id) WHERE status >= 400;
DROP INDEX IF EXISTS _request_logs_status;
DROP INDEX IF EXISTS _request_logs_created;
DROP INDEX IF EXISTS _request_logs_errors;
CREATE TABLE IF NOT EXISTS ` + statsTable + ` (
	minute bigint NOT NULL,
	route text COLLATE "C" NOT NULL,
	requests bigint NOT NULL,
	client_errors bigint NOT NULL,
	server_errors bigint NOT NULL,
	total_ms double precision NOT NULL,
	max_ms double precision NOT NULL`)
	for i := range nBins {
		fmt.Fprintf(&b, ",\n\th%d bigint NOT NULL", i)
	}
	b.WriteString(`
);
CREATE INDEX IF NOT EXISTS _request_stats_minute ON ` + statsTable + ` (minute);`)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Any constant will do, as long as it is ours: "reqlog" in ASCII.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(125780020195175)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, b.String()); err != nil {
		return err
	}
	return tx.Commit()
}

// insertSQL is a multi-row INSERT of n rows into table, with ? or $n
// placeholders. A repeated id (two processes' counters meeting in the same
// millisecond) is skipped rather than failing the batch.
func insertSQL(pg bool, table string, cols []string, n int) string {
	var b strings.Builder
	b.Grow(64 + n*len(cols)*5)
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			if pg {
				fmt.Fprintf(&b, "$%d", p)
				p++
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	if table == logsTable {
		b.WriteString(" ON CONFLICT DO NOTHING")
	}
	return b.String()
}
