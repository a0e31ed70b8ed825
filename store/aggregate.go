package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// Aggregator reads grouped totals of a collection's records (GET
// /api/collections/{c}/aggregate). Both drivers implement it; it is an
// interface of its own, apart from Store, because nothing but aggregation
// needs it, as SQLConsole is.
type Aggregator interface {
	// Aggregate runs q outside any write transaction; with WithTotal the
	// rows and the number of groups come from one snapshot. It is bounded
	// by the store's read timeout: the whole of the grouping runs within
	// it on both engines. q names fields, never SQL: the store quotes
	// them and refuses a name that is not a field of q.Collection whose
	// storage fits. Errors: KindInvalid (such a name; a fragment the
	// engine rejects), KindUnavailable (the read timeout, wrapping
	// ErrReadTimeout), KindInternal.
	Aggregate(ctx context.Context, q AggregateQuery) (*AggregateResult, error)
}

// AggregateFunc is what an AggregateValue computes over a group.
type AggregateFunc string

// The aggregate functions. Sum of no rows is 0; avg, min and max of no
// rows are NULL (nil).
const (
	AggCount AggregateFunc = "count" // the group's records (no field)
	AggSum   AggregateFunc = "sum"   // a number field
	AggAvg   AggregateFunc = "avg"   // a number field
	AggMin   AggregateFunc = "min"   // a number or text field; unset ('') text is skipped
	AggMax   AggregateFunc = "max"   // as AggMin
)

// AggregateGroup is one key of a grouping: a field's value, or with
// Prefix > 0 the first Prefix characters of a text field's value. Dates
// are text in core.DateLayout, so a prefix is a calendar bucket (4: the
// year, 7: the month, 10: the day, 13: the hour) that is the same text
// on both engines and sorts chronologically.
type AggregateGroup struct {
	Field  string
	Prefix int
}

// AggregateValue is one computed column.
type AggregateValue struct {
	Func  AggregateFunc
	Field string // "" for AggCount
}

// AggregateOrder sorts by one result column: Column indexes the groups,
// then the values, in their order in the query.
type AggregateOrder struct {
	Column int
	Desc   bool
}

// AggregateQuery groups the records of Collection that Where admits by
// Groups (none: one row over all of them) and computes Values per group.
type AggregateQuery struct {
	Collection *core.Collection
	// Where restricts the rows (nil: all rows); it refers to the table as MainAlias.
	Where  *SQL
	Groups []AggregateGroup
	Values []AggregateValue
	// Order comes first; then every group not in it, ascending, so that
	// the order is total and pages do not overlap. Text sorts by bytes on
	// both engines; NULL sorts as the smallest value.
	Order []AggregateOrder
	// Limit caps the rows returned (0: no limit); Offset skips rows.
	Limit, Offset int
	// WithTotal asks for the number of groups, ignoring Limit and Offset.
	WithTotal bool
	// ExactSums makes PostgreSQL add in numeric, where a double precision
	// sum past the largest number fails the query: the PostgreSQL store
	// asks again with it after such a failure, and a sum or average out
	// of double's range is then NULL, as on SQLite.
	ExactSums bool
}

// AggregateResult holds one row per group: the groups' values, then the
// Values', in query order. A value is nil (NULL), int64 (counts), float64
// (numbers, sums, averages), bool or string, whichever the engine.
type AggregateResult struct {
	Rows [][]any
	// Total is the number of groups when WithTotal was set, else -1.
	Total int
}

// AggregateStmts are the statements of an AggregateQuery in dialect d,
// with `?` placeholders: Rows is the page (Where's arguments, then LIMIT
// and OFFSET: RowsArgs), Count the number of groups (Where's arguments:
// CountArgs), "" without groups, where there is always exactly one row.
type AggregateStmts struct {
	Rows, Count         string
	RowsArgs, CountArgs []any
}

// AggregateSQL writes q's statements for dialect d. Every name is checked
// against q.Collection and quoted; the only values spliced into the text
// are the prefixes, which are numbers. Errors: KindInvalid naming what is
// wrong.
func AggregateSQL(d Dialect, q AggregateQuery) (*AggregateStmts, error) {
	c := q.Collection
	if c == nil {
		return nil, core.Internal(nil, "aggregate: no collection")
	}
	pg := d == Postgres
	col := func(name string) (string, *core.Field, error) {
		f := c.Field(name)
		if f == nil || !core.ValidName(f.Name) {
			return "", nil, core.Invalid("Unknown field %q.", name)
		}
		return QuoteIdent(MainAlias) + "." + QuoteIdent(f.Name), f, nil
	}
	// byBytes makes PostgreSQL compare text by bytes, as SQLite does.
	byBytes := func(expr string, f *core.Field) string {
		if pg && KindOf(f) == ColumnText {
			return expr + ` COLLATE "C"`
		}
		return expr
	}
	groups := make([]string, 0, len(q.Groups)) // as selected and grouped
	sorts := make([]string, 0, len(q.Groups)+len(q.Values))
	for _, g := range q.Groups {
		expr, f, err := col(g.Field)
		if err != nil {
			return nil, err
		}
		switch KindOf(f) {
		case ColumnText, ColumnNumber, ColumnBool:
		default:
			return nil, core.Invalid("Cannot group by the %s field %q.", f.Type, f.Name)
		}
		if g.Prefix < 0 || g.Prefix > 0 && KindOf(f) != ColumnText {
			return nil, core.Invalid("Cannot take a prefix of the %s field %q.", f.Type, f.Name)
		}
		if g.Prefix > 0 {
			expr = "substr(" + expr + ", 1, " + strconv.Itoa(g.Prefix) + ")"
		}
		groups = append(groups, expr)
		sorts = append(sorts, byBytes(expr, f))
	}
	values := make([]string, 0, len(q.Values))
	for _, v := range q.Values {
		if v.Func == AggCount {
			values = append(values, "COUNT(*)")
			sorts = append(sorts, "COUNT(*)")
			continue
		}
		expr, f, err := col(v.Field)
		if err != nil {
			return nil, err
		}
		kind := KindOf(f)
		switch {
		case (v.Func == AggSum || v.Func == AggAvg) && kind == ColumnNumber:
			const maxDouble = "1.7976931348623157e308"
			switch {
			case pg && q.ExactSums && v.Func == AggSum:
				// No rows sum to 0; a sum out of double's range is NULL,
				// as SQLite's infinite sum. PostgreSQL computes the
				// repeated aggregate once.
				total := "SUM(" + expr + "::numeric)"
				expr = "CASE WHEN " + total + " IS NULL THEN 0 WHEN abs(" + total + ") <= " + maxDouble + " THEN " + total + "::float8 END"
			case pg && q.ExactSums:
				avg := "AVG(" + expr + "::numeric)"
				expr = "CASE WHEN abs(" + avg + ") <= " + maxDouble + " THEN " + avg + "::float8 END"
			case v.Func == AggSum:
				expr = "COALESCE(SUM(" + expr + "), 0)"
			default:
				expr = "AVG(" + expr + ")"
			}
		case (v.Func == AggMin || v.Func == AggMax) && (kind == ColumnNumber || kind == ColumnText):
			if kind == ColumnText {
				// Unset text (a date never set) is no value.
				expr = byBytes("NULLIF("+expr+", '')", f)
			}
			expr = strings.ToUpper(string(v.Func)) + "(" + expr + ")"
		default:
			return nil, core.Invalid("Cannot compute %s of the %s field %q.", v.Func, f.Type, f.Name)
		}
		values = append(values, expr)
		sorts = append(sorts, expr)
	}
	if len(groups)+len(values) == 0 {
		return nil, core.Invalid("Nothing to compute.")
	}

	var where string
	var whereArgs []any
	if q.Where != nil && strings.TrimSpace(q.Where.Text) != "" {
		where = " WHERE (" + q.Where.Text + ")"
		whereArgs = q.Where.Args
	}
	from := FromClause(c) + where
	groupBy := ""
	if len(groups) > 0 {
		groupBy = " GROUP BY " + strings.Join(groups, ", ")
	}

	order := make([]string, 0, len(q.Order)+len(groups))
	used := make(map[int]bool, len(q.Order))
	for _, o := range q.Order {
		if o.Column < 0 || o.Column >= len(sorts) || used[o.Column] {
			return nil, core.Invalid("Bad sort column %d.", o.Column)
		}
		used[o.Column] = true
		// NULLs first ascending and last descending, as SQLite does.
		if o.Desc {
			order = append(order, sorts[o.Column]+" DESC NULLS LAST")
		} else {
			order = append(order, sorts[o.Column]+" ASC NULLS FIRST")
		}
	}
	for i := range groups {
		if !used[i] {
			order = append(order, sorts[i]+" ASC")
		}
	}

	st := &AggregateStmts{CountArgs: whereArgs}
	st.Rows = "SELECT " + strings.Join(append(append([]string{}, groups...), values...), ", ") + from + groupBy
	if len(order) > 0 {
		st.Rows += " ORDER BY " + strings.Join(order, ", ")
	}
	st.Rows += " LIMIT ? OFFSET ?"
	var limit any = int64(-1) // SQLite: no limit
	if pg {
		limit = nil // PostgreSQL: LIMIT NULL, no limit
	}
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	st.RowsArgs = append(append(make([]any, 0, len(whereArgs)+2), whereArgs...), limit, int64(max(q.Offset, 0)))
	if len(groups) > 0 {
		st.Count = "SELECT COUNT(*) FROM (SELECT 1" + from + groupBy + ") AS " + QuoteIdent("_groups")
	}
	return st, nil
}

// AggregateScanValue turns a value the engine returned for a result
// column into one of AggregateResult's types ([]byte becomes text).
func AggregateScanValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, string:
		return x, nil
	case []byte:
		return string(x), nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case float32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("aggregate: unexpected value of type %T", v)
}
