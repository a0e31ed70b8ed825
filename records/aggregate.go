package records

import (
	"context"
	"math"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Limits of an aggregation.
const (
	// MaxAggregateGroups bounds the groupBy fields: three keys are a
	// report's rows, columns and series; more make groups of one record.
	MaxAggregateGroups = 3
	// MaxAggregateValues bounds the sum, avg, min and max fields together.
	MaxAggregateValues = 20
)

// AggregateParams are the query parameters of an aggregation. Each field
// list is comma-separated.
type AggregateParams struct {
	// GroupBy lists up to MaxAggregateGroups fields to group by; a date or
	// autodate field may take a bucket: "created:day" (also :hour,
	// :month, :year, in UTC). None: one row over every record.
	GroupBy string
	// Count is accepted for symmetry and must be empty or "*": every row
	// has "count", the number of records in its group.
	Count string
	// Sum and Avg list number fields; Min and Max number, date, autodate
	// and text fields (unset dates and empty text are skipped).
	Sum, Avg, Min, Max string
	// Filter restricts the records as a list's filter does.
	Filter string
	// Sort lists result keys (group fields, "count", "sum_price" …), "-"
	// for descending; the groups ascending by default.
	Sort          string
	Page, PerPage int
	// SkipTotal leaves out the number of groups (TotalItems -1).
	SkipTotal bool
}

// AggregateResult is one page of groups. Each item maps Keys to values:
// a group's value (text, number or bool; a date bucket as text such as
// "2026-03-14"), "count" (int64), sums and averages (float64) and minimums
// and maximums (float64 or text); an average, minimum or maximum over no
// value is nil, a sum over no record 0.
type AggregateResult struct {
	Page       int              `json:"page"`
	PerPage    int              `json:"perPage"`
	TotalItems int              `json:"totalItems"`
	TotalPages int              `json:"totalPages"`
	Keys       []string         `json:"-"`
	Items      []map[string]any `json:"items"`
}

// aggBuckets maps a date bucket to the length of the stored text's
// prefix that is that bucket (see core.DateLayout).
var aggBuckets = map[string]int{"year": 4, "month": 7, "day": 10, "hour": 13}

// aggColumn is one column of an aggregation's rows: its key in the
// items and how to read its values.
type aggColumn struct {
	key    string
	field  *core.Field // nil for count
	fn     store.AggregateFunc
	bucket string
}

// Aggregate groups the records of c that the list rule and p.Filter admit
// and computes counts, sums, averages, minimums and maximums per group.
// A caller aggregates exactly what it may list: the list rule applies as
// to List (a locked rule answers ErrSuperusersOnly), and fields are those
// its filters may use (hidden fields and others' emails are for
// superusers only). Errors: KindForbidden (a locked list rule),
// KindInvalid naming the parameter that is wrong, KindUnavailable (the
// read timeout), KindInternal.
func (s *Service) Aggregate(ctx context.Context, req *service.Request, c *core.Collection, p AggregateParams) (*AggregateResult, error) {
	where, _, err := s.listWhere(req, c, p.Filter)
	if err != nil {
		return nil, err
	}
	ag, ok := s.store.(store.Aggregator)
	if !ok {
		return nil, core.Internal(nil, "the store cannot aggregate")
	}
	q := store.AggregateQuery{Collection: c}
	var cols []aggColumn
	if cols, q.Groups, err = aggGroups(req, c, p.GroupBy); err != nil {
		return nil, err
	}
	switch strings.TrimSpace(p.Count) {
	case "", "*":
	default:
		return nil, aggError("count", "count is the number of records of each group and takes no field; use sum, avg, min or max for a field's values")
	}
	cols = append(cols, aggColumn{key: "count", fn: store.AggCount})
	q.Values = append(q.Values, store.AggregateValue{Func: store.AggCount})
	nvalues := 0
	for _, list := range []struct {
		param string
		fn    store.AggregateFunc
	}{{p.Sum, store.AggSum}, {p.Avg, store.AggAvg}, {p.Min, store.AggMin}, {p.Max, store.AggMax}} {
		param := string(list.fn)
		names, err := aggNames(param, list.param)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			f, err := aggField(req, c, param, name)
			if err != nil {
				return nil, err
			}
			if !aggComputes(list.fn, f) {
				return nil, aggError(param, "cannot compute %s of the %s field %q; %s", param, f.Type, name, aggNeeds(list.fn))
			}
			if nvalues++; nvalues > MaxAggregateValues {
				return nil, aggError(param, "at most %d fields in sum, avg, min and max together", MaxAggregateValues)
			}
			cols = append(cols, aggColumn{key: param + "_" + f.Name, field: f, fn: list.fn})
			q.Values = append(q.Values, store.AggregateValue{Func: list.fn, Field: f.Name})
		}
	}
	keys := make([]string, len(cols))
	seen := make(map[string]int, len(cols))
	for i, col := range cols {
		if j, dup := seen[col.key]; dup {
			param := "groupBy"
			if cols[i].fn != "" {
				param = string(cols[i].fn)
			}
			if j < len(q.Groups) && i >= len(q.Groups) {
				return nil, aggError("groupBy", "cannot group by %q: it is also the key of a computed value", col.key)
			}
			return nil, aggError(param, "%q is listed twice", col.key)
		}
		seen[col.key] = i
		keys[i] = col.key
	}
	if q.Order, err = aggSort(p.Sort, seen); err != nil {
		return nil, err
	}

	q.Where = where

	p.Page, p.PerPage, q.Offset = pageWindow(p.Page, p.PerPage)
	q.Limit = p.PerPage
	q.WithTotal = !p.SkipTotal

	res, err := ag.Aggregate(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &AggregateResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1, Keys: keys,
		Items: make([]map[string]any, 0, len(res.Rows))}
	if !p.SkipTotal {
		out.TotalItems = res.Total
		out.TotalPages = (res.Total + p.PerPage - 1) / p.PerPage
	}
	for _, row := range res.Rows {
		if len(row) != len(cols) {
			return nil, core.Internal(nil, "aggregate: %d columns, want %d", len(row), len(cols))
		}
		item := make(map[string]any, len(cols))
		for i, col := range cols {
			item[col.key] = col.value(row[i])
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

// aggGroups reads the groupBy parameter.
func aggGroups(req *service.Request, c *core.Collection, param string) ([]aggColumn, []store.AggregateGroup, error) {
	names, err := aggNames("groupBy", param)
	if err != nil {
		return nil, nil, err
	}
	if len(names) > MaxAggregateGroups {
		return nil, nil, aggError("groupBy", "at most %d fields", MaxAggregateGroups)
	}
	var cols []aggColumn
	var groups []store.AggregateGroup
	for _, name := range names {
		bucket, bucketed := "", false
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name, bucket, bucketed = name[:i], name[i+1:], true
		}
		f, err := aggField(req, c, "groupBy", name)
		if err != nil {
			return nil, nil, err
		}
		switch f.Type {
		case core.FieldText, core.FieldNumber, core.FieldBool, core.FieldEmail, core.FieldURL,
			core.FieldDate, core.FieldAutodate, core.FieldSelect, core.FieldRelation:
		default:
			return nil, nil, aggError("groupBy", "cannot group by the %s field %q", f.Type, name)
		}
		if f.IsMultiple() {
			return nil, nil, aggError("groupBy", "cannot group by %q: it holds several values", name)
		}
		g := store.AggregateGroup{Field: f.Name}
		if bucketed {
			if f.Type != core.FieldDate && f.Type != core.FieldAutodate {
				return nil, nil, aggError("groupBy", "%q is a %s field: only date fields take a bucket such as :day", name, f.Type)
			}
			if g.Prefix = aggBuckets[bucket]; g.Prefix == 0 {
				return nil, nil, aggError("groupBy", "unknown bucket %q of %q: use hour, day, month or year", bucket, name)
			}
		}
		cols = append(cols, aggColumn{key: f.Name, field: f, bucket: bucket})
		groups = append(groups, g)
	}
	return cols, groups, nil
}

// aggNames splits a comma-separated list of field names.
func aggNames(param, list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	if len(list) > filter.MaxLength {
		return nil, aggError(param, "longer than %d characters", filter.MaxLength)
	}
	names := strings.Split(list, ",")
	for i, n := range names {
		if names[i] = strings.TrimSpace(n); names[i] == "" {
			return nil, aggError(param, "an empty field name in the list")
		}
	}
	return names, nil
}

// aggField finds the field name of c that req may aggregate: what its
// filters may use, as the filter checks them. Hidden fields count as
// unknown for all but superusers, secrets and token keys for everyone;
// an auth collection's email (hidden from others unless its owner made
// it visible, which a group of many cannot honour) is for superusers.
func aggField(req *service.Request, c *core.Collection, param, name string) (*core.Field, error) {
	super := req != nil && req.Superuser
	f := c.Field(name)
	if f == nil || !core.ValidName(f.Name) || !core.KnownFieldType(f.Type) || f.Def().Secret() ||
		f.Hidden && !super || c.IsAuth() && f.Name == "tokenKey" {
		return nil, aggError(param, "unknown field %q", name)
	}
	if c.IsAuth() && f.Name == "email" && !super {
		return nil, aggError(param, "the email field of an auth collection is for superusers only")
	}
	return f, nil
}

// aggComputes reports whether fn applies to f.
func aggComputes(fn store.AggregateFunc, f *core.Field) bool {
	switch fn {
	case store.AggSum, store.AggAvg:
		return f.Type == core.FieldNumber
	case store.AggMin, store.AggMax:
		switch f.Type {
		case core.FieldNumber, core.FieldDate, core.FieldAutodate, core.FieldText:
			return true
		}
	}
	return false
}

func aggNeeds(fn store.AggregateFunc) string {
	if fn == store.AggSum || fn == store.AggAvg {
		return "it needs a number field"
	}
	return "it needs a number, date, autodate or text field"
}

// aggSort reads the sort parameter: result keys (columns maps them to
// their columns), "-" for descending.
func aggSort(sort string, columns map[string]int) ([]store.AggregateOrder, error) {
	if strings.TrimSpace(sort) == "" {
		return nil, nil
	}
	if len(sort) > filter.MaxLength {
		return nil, aggError("sort", "longer than %d characters", filter.MaxLength)
	}
	var out []store.AggregateOrder
	used := map[int]bool{}
	for _, item := range strings.Split(sort, ",") {
		item = strings.TrimSpace(item)
		var o store.AggregateOrder
		switch {
		case strings.HasPrefix(item, "-"):
			o.Desc, item = true, item[1:]
		case strings.HasPrefix(item, "+"):
			item = item[1:]
		}
		i, ok := columns[item]
		if !ok {
			return nil, aggError("sort", "unknown sort key %q: use a groupBy field, count or a result key such as sum_price", item)
		}
		if used[i] {
			return nil, aggError("sort", "%q is listed twice", item)
		}
		used[i] = true
		o.Column = i
		out = append(out, o)
	}
	return out, nil
}

// aggError is a 400 naming the parameter param.
func aggError(param, format string, args ...any) error {
	return service.FilterError(param, core.Invalid(format, args...))
}

// value turns what the store read for col into its item value.
func (col aggColumn) value(v any) any {
	if v == nil {
		return nil
	}
	switch {
	case col.fn == store.AggCount:
		switch x := v.(type) {
		case int64:
			return x
		case float64:
			return int64(x)
		}
		return v
	case col.field == nil:
		return v
	case col.field.Type == core.FieldBool:
		switch x := v.(type) {
		case int64:
			return x != 0
		case float64:
			return x != 0
		}
		return v
	case col.field.Type == core.FieldNumber:
		var f float64
		switch x := v.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return v
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil // a sum past the largest number
		}
		return f
	case col.bucket == "hour":
		if s, ok := v.(string); ok && s != "" {
			return s + ":00"
		}
	}
	return v
}
