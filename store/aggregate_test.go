package store

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func aggCollection() *core.Collection {
	return &core.Collection{Name: "orders", Type: core.TypeBase, Fields: []core.Field{
		{Name: "id", Type: core.FieldText, PrimaryKey: true},
		{Name: "status", Type: core.FieldSelect, MaxSelect: 1, Values: []string{"a"}},
		{Name: "amount", Type: core.FieldNumber},
		{Name: "paid", Type: core.FieldBool},
		{Name: "placed", Type: core.FieldDate},
		{Name: "tags", Type: core.FieldSelect, MaxSelect: 3, Values: []string{"a"}},
		{Name: "meta", Type: core.FieldJSON},
	}}
}

// The statements compare text by bytes on PostgreSQL (SQLite's BINARY),
// quote every name, bind every value, and refuse names and shapes that
// do not fit the collection's columns.
func TestAggregateSQL(t *testing.T) {
	t.Parallel()
	c := aggCollection()
	q := AggregateQuery{Collection: c,
		Where:  &SQL{Text: `"_r"."amount" > ?`, Args: []any{1.5}},
		Groups: []AggregateGroup{{Field: "placed", Prefix: 10}, {Field: "paid"}},
		Values: []AggregateValue{{Func: AggCount}, {Func: AggSum, Field: "amount"}, {Func: AggMin, Field: "status"}},
		Order:  []AggregateOrder{{Column: 2, Desc: true}},
		Limit:  10, Offset: 20, WithTotal: true,
	}
	pg, err := AggregateSQL(Postgres, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`SELECT substr("_r"."placed", 1, 10), "_r"."paid", COUNT(*), COALESCE(SUM("_r"."amount"), 0), MIN(NULLIF("_r"."status", '') COLLATE "C")`,
		`GROUP BY substr("_r"."placed", 1, 10), "_r"."paid"`,
		`ORDER BY COUNT(*) DESC NULLS LAST, substr("_r"."placed", 1, 10) COLLATE "C" ASC, "_r"."paid" ASC LIMIT ? OFFSET ?`,
	} {
		if !strings.Contains(pg.Rows, want) {
			t.Errorf("postgres rows lack %s:\n%s", want, pg.Rows)
		}
	}
	if len(pg.RowsArgs) != 3 || pg.RowsArgs[1] != int64(10) || pg.RowsArgs[2] != int64(20) || strings.Count(pg.Rows, "?") != 3 {
		t.Errorf("postgres args %v for %s", pg.RowsArgs, pg.Rows)
	}
	if !strings.HasPrefix(pg.Count, "SELECT COUNT(*) FROM (SELECT 1 FROM") || len(pg.CountArgs) != 1 {
		t.Errorf("postgres count %s %v", pg.Count, pg.CountArgs)
	}
	lite, err := AggregateSQL(SQLite, q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(lite.Rows, "COLLATE") {
		t.Errorf("sqlite compares by bytes already: %s", lite.Rows)
	}
	q.Limit = 0
	if lite, _ = AggregateSQL(SQLite, q); lite.RowsArgs[1] != int64(-1) {
		t.Errorf("sqlite without a limit: %v", lite.RowsArgs)
	}
	if pg, _ = AggregateSQL(Postgres, q); pg.RowsArgs[1] != nil {
		t.Errorf("postgres without a limit: %v", pg.RowsArgs)
	}
	one, err := AggregateSQL(SQLite, AggregateQuery{Collection: c, Values: []AggregateValue{{Func: AggCount}}})
	if err != nil || one.Count != "" || strings.Contains(one.Rows, "GROUP BY") {
		t.Errorf("no groups: %+v %v", one, err)
	}

	for name, bad := range map[string]AggregateQuery{
		"unknown group":      {Groups: []AggregateGroup{{Field: `amount") FROM x; --`}}},
		"list group":         {Groups: []AggregateGroup{{Field: "tags"}}},
		"json group":         {Groups: []AggregateGroup{{Field: "meta"}}},
		"prefix of number":   {Groups: []AggregateGroup{{Field: "amount", Prefix: 4}}},
		"negative prefix":    {Groups: []AggregateGroup{{Field: "placed", Prefix: -1}}},
		"sum of text":        {Values: []AggregateValue{{Func: AggSum, Field: "status"}}},
		"min of bool":        {Values: []AggregateValue{{Func: AggMin, Field: "paid"}}},
		"unknown function":   {Values: []AggregateValue{{Func: "stddev", Field: "amount"}}},
		"unknown value":      {Values: []AggregateValue{{Func: AggMax, Field: "nope"}}},
		"nothing":            {},
		"order out of range": {Values: []AggregateValue{{Func: AggCount}}, Order: []AggregateOrder{{Column: 1}}},
		"order twice":        {Values: []AggregateValue{{Func: AggCount}}, Order: []AggregateOrder{{Column: 0}, {Column: 0}}},
	} {
		bad.Collection = c
		if _, err := AggregateSQL(SQLite, bad); core.KindOf(err) != core.KindInvalid {
			t.Errorf("%s: %v, want KindInvalid", name, err)
		}
	}
}
