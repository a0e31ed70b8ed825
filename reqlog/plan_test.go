package reqlog

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteQueriesUseIndexes holds the log's common queries to plans
// whose cost does not grow with the log: an index for the default order
// and the usual filters (no sort of every row), the partial index for the
// dashboard's errors, the created index for retention.
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
	for _, tc := range []struct{ filter, sort, index string }{
		{"", "", "USING INDEX _request_logs_created"},
		{"", "-created", "USING INDEX _request_logs_created"},
		{"", "created", "USING INDEX _request_logs_created"},
		{"data.status >= 400", "", "USING INDEX _request_logs_errors"},
		{"created >= '2026-01-01 00:00:00'", "", "USING INDEX _request_logs_created (created>?)"},
		{"id = 'abc'", "", "USING INDEX _request_logs_id (id=?)"},
	} {
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
		if !strings.Contains(got, tc.index) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("filter %q sort %q: plan %q, want %s and no sort", tc.filter, tc.sort, got, tc.index)
		}
	}
	if got := plan(recentErrorsSQL, "2026-01-01"); !strings.Contains(got, "USING INDEX _request_logs_errors (created>?)") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("recent errors: %q", got)
	}
	del, _ := l.retentionSQL()
	if got := plan(del, "2026-01-01", 10); !strings.Contains(got, "USING COVERING INDEX _request_logs_created (created<?)") {
		t.Errorf("retention: %q", got)
	}
}
