package records_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
)

const aggDef = `{"name": "sales", "listRule": "", "fields": [
	{"name": "region", "type": "text"}, {"name": "total", "type": "number"},
	{"name": "open", "type": "bool"}, {"name": "day", "type": "date"},
	{"name": "tags", "type": "select", "maxSelect": 2, "values": ["a", "b"]},
	{"name": "meta", "type": "json"}, {"name": "margin", "type": "number", "hidden": true}]}`

func aggSales(t testing.TB, app *tortoise.App) *core.Collection {
	t.Helper()
	c := collection(t, app, aggDef)
	for _, r := range []map[string]any{
		{"region": "north", "total": 10, "open": true, "day": "2026-03-01 08:00:00.000Z", "margin": 1},
		{"region": "north", "total": 5.5, "open": false, "day": "2026-03-02 08:00:00.000Z", "margin": 2},
		{"region": "south", "total": 2, "open": true, "day": "2026-04-01 08:00:00.000Z", "margin": 3},
	} {
		if _, err := app.Records.Create(context.Background(), superuser, c, r); err != nil {
			t.Fatalf("create %v: %v", r, err)
		}
	}
	return c
}

// Go callers get typed values: counts as int64, numbers as float64,
// bools as bool, buckets and text as string, nil for no value.
func TestAggregateGoValues(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		c := aggSales(t, app)
		res, err := app.Records.Aggregate(context.Background(), guest, c, records.AggregateParams{
			GroupBy: "region,open,day:month", Sum: "total", Avg: "total", Max: "day", Sort: "-sum_total"})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"region", "open", "day", "count", "sum_total", "avg_total", "max_day"}; !slices.Equal(res.Keys, want) {
			t.Errorf("keys %v, want %v", res.Keys, want)
		}
		want := []map[string]any{
			{"region": "north", "open": true, "day": "2026-03", "count": int64(1), "sum_total": 10.0, "avg_total": 10.0, "max_day": "2026-03-01 08:00:00.000Z"},
			{"region": "north", "open": false, "day": "2026-03", "count": int64(1), "sum_total": 5.5, "avg_total": 5.5, "max_day": "2026-03-02 08:00:00.000Z"},
			{"region": "south", "open": true, "day": "2026-04", "count": int64(1), "sum_total": 2.0, "avg_total": 2.0, "max_day": "2026-04-01 08:00:00.000Z"},
		}
		if !reflect.DeepEqual(res.Items, want) || res.TotalItems != 3 || res.TotalPages != 1 {
			t.Errorf("got %+v\nwant %v", res, want)
		}
		res, err = app.Records.Aggregate(context.Background(), guest, c, records.AggregateParams{Filter: "total > 100", Sum: "total", Min: "total,day"})
		if err != nil {
			t.Fatal(err)
		}
		if want := []map[string]any{{"count": int64(0), "sum_total": 0.0, "min_total": nil, "min_day": nil}}; !reflect.DeepEqual(res.Items, want) {
			t.Errorf("no records: %v", res.Items)
		}
		if _, err := app.Records.Aggregate(context.Background(), guest, c, records.AggregateParams{Sum: "margin"}); fieldCode(err, "sum") != "validation_invalid_sum" {
			t.Errorf("guest sum of a hidden field: %v", err)
		}
		if _, err := app.Records.Aggregate(context.Background(), superuser, c, records.AggregateParams{Sum: "margin"}); err != nil {
			t.Errorf("superuser sum of a hidden field: %v", err)
		}
	})
}

// FuzzAggregate: whatever the parameters, an aggregation answers or is a
// 400 naming one parameter; never an internal error, never a panic.
func FuzzAggregate(f *testing.F) {
	app := testkit.NewApp(f, "sqlite")
	c := aggSales(f, app)
	for _, s := range [][5]string{
		{"region", "total", "day", "-count", "total > 1"},
		{"day:month,open", "total", "total,day", "-sum_total,day", ""},
		{"day:hour", "", "region", "min_region", `region ~ "n"`},
		{"tags", "meta", "open", "@random", "margin > 1"},
		{`region") FROM x;--`, "total,total", "day:day", "count,count", "total >"},
		{"region,open,day,total", "'total'", "", "-", "@request.auth.id != ''"},
		{"day:", ":day", "ünïcode", "+region", "region = @request.query.x"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], false)
	}
	params := []string{"groupBy", "sum", "min", "sort", "filter", "count"}
	f.Fuzz(func(t *testing.T, groupBy, sum, min, sort, filter string, super bool) {
		req := guest
		if super {
			req = superuser
		}
		p := records.AggregateParams{GroupBy: groupBy, Sum: sum, Avg: sum, Min: min, Max: min, Sort: sort, Filter: filter, PerPage: 2}
		res, err := app.Records.Aggregate(context.Background(), req, c, p)
		if err != nil {
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid || len(e.Fields) != 1 {
				t.Fatalf("%+v: %v, want a 400 naming one parameter", p, err)
			}
			for k := range e.Fields {
				if !slices.Contains(append(params, "avg", "max"), k) {
					t.Fatalf("%+v: names %q", p, k)
				}
			}
			return
		}
		if len(res.Items) > 2 {
			t.Fatalf("%+v: %d items on a page of 2", p, len(res.Items))
		}
		for _, it := range res.Items {
			if len(it) != len(res.Keys) {
				t.Fatalf("%+v: item %v, keys %v", p, it, res.Keys)
			}
		}
	})
}
