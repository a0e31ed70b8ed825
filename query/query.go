// Package query holds the SQL fragments that pass between the filter
// compiler, the service layer and the store: parameterised text, the
// dialect it is written for, the alias of the queried table, and the
// dialect-neutral conditions the layers above need. It imports nothing of
// Tortoise's, so the filter package can produce what the store runs
// without importing the store.
package query

import (
	"strings"
)

// MainAlias is the alias of the queried collection's table in a fragment.
const MainAlias = "_r"

// Dialect names an SQL dialect.
type Dialect string

// The dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// SQL is a fragment of SQL with `?` placeholders and their arguments.
// Values are always passed as arguments, never spliced into Text.
type SQL struct {
	Text string
	Args []any
}

// column is the quoted column name of the queried table.
func column(name string) string {
	return MainAlias + `."` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Eq matches rows whose column name equals v. The same text in both
// dialects.
func Eq(name string, v any) *SQL { return &SQL{Text: column(name) + " = ?", Args: []any{v}} }

// EqFold matches rows whose text column name equals v regardless of ASCII
// case (emails as people type them).
func EqFold(name, v string) *SQL {
	return &SQL{Text: "lower(" + column(name) + ") = lower(?)", Args: []any{v}}
}

// In matches rows whose column name is one of vals; no values match nothing.
func In(name string, vals []string) *SQL {
	if len(vals) == 0 {
		return Never()
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return &SQL{Text: column(name) + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",") + ")", Args: args}
}

// Never matches no row.
func Never() *SQL { return &SQL{Text: "1=0"} }

// And joins conditions with AND, skipping nil ones; nil when all are nil.
func And(parts ...*SQL) *SQL {
	var out *SQL
	for _, p := range parts {
		if p == nil {
			continue
		}
		if out == nil {
			out = &SQL{Text: "(" + p.Text + ")", Args: append([]any(nil), p.Args...)}
			continue
		}
		out.Text += " AND (" + p.Text + ")"
		out.Args = append(out.Args, p.Args...)
	}
	return out
}

// Lt matches rows whose column name sorts before v.
func Lt(name string, v any) *SQL { return &SQL{Text: column(name) + " < ?", Args: []any{v}} }

// ListHasAny matches rows whose list column name (a JSON array of
// strings: a multiple select, relation or file field) holds any of vals,
// in dialect d's JSON functions. No values match nothing.
func ListHasAny(d Dialect, name string, vals []string) *SQL {
	if len(vals) == 0 {
		return Never()
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	col := column(name)
	if d == Postgres && len(vals) == 1 {
		// Containment uses a GIN index on the column where there is one.
		return &SQL{Text: col + " @> jsonb_build_array(?::text)", Args: args}
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")
	if d == Postgres {
		return &SQL{Text: "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + col + ") AS _e(value) WHERE _e.value IN (" + marks + "))", Args: args}
	}
	return &SQL{Text: "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value IN (" + marks + "))", Args: args}
}

// StableOrder is an ORDER BY list that keeps paging consistent when the
// caller asks for no order: insertion order on SQLite (its rowid), the
// primary key on PostgreSQL.
func StableOrder(d Dialect) string {
	if d == Postgres {
		return column("id")
	}
	return column("rowid")
}

// Asc is an ORDER BY list: column name, smallest first.
func Asc(name string) string { return column(name) }

// Desc is an ORDER BY list: column name, newest or largest first.
func Desc(name string) string { return column(name) + " DESC" }
