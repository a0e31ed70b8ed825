package reqlog

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testdb"
)

// TestSQLiteQueriesUseIndexes holds the log's common queries to plans
// whose cost does not grow with the log: the key's order for the default
// order (no sort of every row), retention and one entry, the partial index
// for errors.
func TestSQLiteQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	l, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "logs.db"),
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := l.rdb.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		return strings.Join(steps, "; ")
	}
	checkListPlans(t, l, plan, "TEMP B-TREE", []planCase{
		{"", "", "SCAN _request_logs"},
		{"", "-created", "SCAN _request_logs"},
		{"", "created", "SCAN _request_logs"},
		{"", "rowid", "SCAN _request_logs"},
		{"data.status >= 400", "", "INDEX _request_logs_errors"},
		{"data.status >= 400 && data.method = 'GET'", "", "INDEX _request_logs_errors"},
	})
	q, since := l.recentErrorsSQL(time.Now())
	if got := plan(q, since); !strings.Contains(got, "USING COVERING INDEX _request_logs_errors (id>?)") && !strings.Contains(got, "USING INDEX _request_logs_errors (id>?)") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("recent errors: %q", got)
	}
	get := l.selectEntries() + " FROM " + l.viewSQL() + " WHERE _r._seq = ?"
	if got := plan(get, 1); !strings.Contains(got, "USING INTEGER PRIMARY KEY (rowid=?)") {
		t.Errorf("get: %q", got)
	}
	del, _ := l.retentionSQL()
	if got := plan(del, 1, 10); !strings.Contains(got, "USING INTEGER PRIMARY KEY (rowid<?)") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("retention: %q", got)
	}
}

// TestPostgresQueriesUseIndexes holds the same queries on PostgreSQL to
// plans an index can serve without sorting the log: the key for the
// default order, the time bounds and retention, the errors' partial index
// for errors. The table is empty, so sequential and bitmap scans are
// turned off to see what the indexes allow rather than what the planner
// prefers for no rows.
func TestPostgresQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := schemaPool(t)
	l, err := OpenPostgres(ctx, pool, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	conn, err := l.rdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off; SET enable_bitmapscan = off"); err != nil {
		t.Fatal(err)
	}
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+l.numbered(q), args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, strings.TrimSpace(line))
		}
		return strings.Join(steps, "; ")
	}
	checkListPlans(t, l, plan, "Sort", []planCase{
		{"", "", "Index Scan Backward using _request_logs_pkey"},
		{"", "-created", "Index Scan Backward using _request_logs_pkey"},
		{"", "created", "Index Scan using _request_logs_pkey"},
		{"data.status >= 400", "", "_request_logs_errors_by_id"},
		{"data.status >= 400 && data.method = 'GET'", "", "_request_logs_errors_by_id"},
	})
	q, since := l.recentErrorsSQL(time.Now())
	if got := plan(q, since); !strings.Contains(got, "Index Scan Backward using _request_logs_errors_by_id") || strings.Contains(got, "Sort") {
		t.Errorf("recent errors: %q", got)
	}
	del, _ := l.retentionSQL()
	if got := plan(del, l.seqFrom(time.Now()), 10); !strings.Contains(got, "Index Scan using _request_logs_pkey") || strings.Contains(got, "Sort") {
		t.Errorf("retention: %q", got)
	}
	if got := plan("SELECT count(*) FROM "+logsTable+" WHERE id >= ?", l.seqFrom(time.Now())); !strings.Contains(got, "_request_logs_pkey") {
		t.Errorf("recent total: %q", got)
	}
}

// schemaPool is a pool on TORTOISE_TEST_POSTGRES whose connections work in
// a schema of their own, dropped at the end.
func schemaPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := testdb.PostgresURL(t)
	ctx := context.Background()
	schema := "reqlog_" + core.RandomString(10, "abcdefghijklmnopqrstuvwxyz")
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestPostgresEarlierIndexesReplaced opens the log over a table with the
// indexes earlier builds made: they are dropped, each having cost every
// request a write, and the errors' index by key is made.
func TestPostgresEarlierIndexesReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := schemaPool(t)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := createPostgres(ctx, db); err != nil {
		t.Fatal(err)
	}
	earlier := `DROP INDEX _request_logs_errors_by_id;
CREATE INDEX _request_logs_created ON _request_logs (created, id);
CREATE INDEX _request_logs_errors ON _request_logs (created) WHERE status >= 400;
CREATE INDEX _request_logs_status ON _request_logs (status);`
	if _, err := pool.Exec(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	l, err := OpenPostgres(ctx, pool, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	rows, err := pool.Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '_request_logs' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names, ","), "_request_logs_errors_by_id,_request_logs_pkey"; got != want {
		t.Errorf("indexes %s, want %s", got, want)
	}
}

// planCase is a list query (filter and sort) and what its plan must name.
type planCase struct{ filter, sort, want string }

// checkListPlans checks the plan of each case's list page: it must name
// want and not sortStep, the engine's word for sorting the rows.
func checkListPlans(t *testing.T, l *Log, plan func(string, ...any) string, sortStep string, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		where, err := l.where(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		order, err := l.orderBy(tc.sort)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := l.listSQL(where, order)
		var args []any
		if where != nil {
			args = where.Args
		}
		got := plan(q, append(args, 30, 0)...)
		if !strings.Contains(got, tc.want) || strings.Contains(got, sortStep) {
			t.Errorf("filter %q sort %q: plan %q, want %s and no sort", tc.filter, tc.sort, got, tc.want)
		}
	}
}
