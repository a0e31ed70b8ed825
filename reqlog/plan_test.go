package reqlog

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	for _, tc := range []struct{ filter, sort, want string }{
		{"", "", "SCAN _request_logs"},
		{"", "-created", "SCAN _request_logs"},
		{"", "created", "SCAN _request_logs"},
		{"", "rowid", "SCAN _request_logs"},
		{"data.status >= 400", "", "INDEX _request_logs_errors"},
		{"data.status >= 400 && data.method = 'GET'", "", "INDEX _request_logs_errors"},
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
		if !strings.Contains(got, tc.want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("filter %q sort %q: plan %q, want %s and no sort", tc.filter, tc.sort, got, tc.want)
		}
	}
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
