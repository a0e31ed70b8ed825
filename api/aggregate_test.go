package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// aggPage is the answer of the aggregate route.
type aggPage struct {
	Page, PerPage, TotalItems, TotalPages int
	Items                                 []map[string]any
}

// aggOrders is the fixed dataset of the aggregation tests: eight orders
// of two owners, whose answers are worked out by hand in the tests.
var aggOrders = []struct {
	status string
	amount float64
	paid   bool
	placed string
	note   string
	owner  int // index into the owners
}{
	{"paid", 10.5, true, "2026-01-05 10:15:00.000Z", "b", 0},
	{"paid", 20, true, "2026-01-05 11:30:00.000Z", "a", 1},
	{"paid", 4.5, true, "2026-02-10 09:00:00.000Z", "c", 0},
	{"pending", 100, false, "2026-02-11 09:45:00.000Z", "", 1},
	{"pending", 0.25, false, "", "z", 0},
	{"refunded", 7, false, "2025-12-31 23:59:59.000Z", "m", 1},
	{"paid", 1, true, "2026-01-05 10:59:00.000Z", "b", 0},
	{"refunded", -3, false, "2026-02-10 12:00:00.000Z", "q", 0},
}

// aggSchema creates users (see usersSchema), two accounts and orders
// (listRule: listRule) holding aggOrders; cost, hidden, is the order's
// number (1…8).
func aggSchema(t *testing.T, s *testkit.Server, listRule any) (owners [2]authed) {
	t.Helper()
	usersSchema(t, s, "")
	owners[0] = signUp(t, s, "ann@example.com", "ann-password-1")
	owners[1] = signUp(t, s, "bob@example.com", "bob-password-1")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "orders", "listRule": listRule, "viewRule": listRule,
		"fields": []map[string]any{
			{"name": "status", "type": "select", "maxSelect": 1, "values": []string{"paid", "pending", "refunded"}},
			{"name": "amount", "type": "number"},
			{"name": "paid", "type": "bool"},
			{"name": "placed", "type": "date"},
			{"name": "note", "type": "text"},
			{"name": "body", "type": "editor"},
			{"name": "owner", "type": "relation", "collectionId": "users", "maxSelect": 1},
			{"name": "tags", "type": "select", "maxSelect": 3, "values": []string{"x", "y", "z"}},
			{"name": "watchers", "type": "relation", "collectionId": "users", "maxSelect": 5},
			{"name": "meta", "type": "json"},
			{"name": "cost", "type": "number", "hidden": true},
			{"name": "count", "type": "number"},
			{"name": "created", "type": "autodate", "onCreate": true},
		},
	}, 200, nil)
	for i, o := range aggOrders {
		create(t, s, "orders", map[string]any{"status": o.status, "amount": o.amount, "paid": o.paid, "placed": o.placed,
			"note": o.note, "owner": owners[o.owner].Record["id"], "tags": []string{"x"}, "cost": i + 1})
	}
	return owners
}

// aggGet asks the aggregate route of orders with the query params
// (pairs of name and value) and token, and requires status.
func aggGet(t *testing.T, s *testkit.Server, token string, status int, params ...string) (aggPage, errBody, []byte) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	path := "/api/collections/orders/aggregate?" + v.Encode()
	r := s.Request("GET", path, token, nil)
	if r.Status != status {
		t.Fatalf("GET %s: status %d, want %d; body %s", path, r.Status, status, r.Body)
	}
	var p aggPage
	var e errBody
	if status == 200 {
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
	} else if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return p, e, r.Body
}

// aggWant compares items with want, written as JSON.
func aggWant(t *testing.T, what string, items []map[string]any, want string) {
	t.Helper()
	var w []map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	if !reflect.DeepEqual(items, w) {
		got, _ := json.Marshal(items)
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestAggregateValues(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		aggSchema(t, s, "")
		p, _, body := aggGet(t, s, "", 200, "sum", "amount", "avg", "amount", "min", "amount,placed,note", "max", "amount,placed,note")
		aggWant(t, "no groupBy", p.Items, `[{"count":8,"sum_amount":140.25,"avg_amount":17.53125,
			"min_amount":-3,"min_placed":"2025-12-31 23:59:59.000Z","min_note":"a",
			"max_amount":100,"max_placed":"2026-02-11 09:45:00.000Z","max_note":"z"}]`)
		if p.Page != 1 || p.PerPage != 30 || p.TotalItems != 1 || p.TotalPages != 1 {
			t.Errorf("paging of one row: %+v", p)
		}
		// Keys come in a fixed order: groups, count, then as asked.
		if !strings.HasPrefix(string(body), `{"page":1,"perPage":30,"totalItems":1,"totalPages":1,"items":[{"count":8,"sum_amount":140.25,"avg_amount":17.53125,"min_amount":-3,`) {
			t.Errorf("shape: %s", body)
		}

		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "sum", "amount", "avg", "amount", "min", "amount,placed,note", "max", "amount,placed,note")
		aggWant(t, "by status", p.Items, `[
			{"status":"paid","count":4,"sum_amount":36,"avg_amount":9,"min_amount":1,"min_placed":"2026-01-05 10:15:00.000Z","min_note":"a","max_amount":20,"max_placed":"2026-02-10 09:00:00.000Z","max_note":"c"},
			{"status":"pending","count":2,"sum_amount":100.25,"avg_amount":50.125,"min_amount":0.25,"min_placed":"2026-02-11 09:45:00.000Z","min_note":"z","max_amount":100,"max_placed":"2026-02-11 09:45:00.000Z","max_note":"z"},
			{"status":"refunded","count":2,"sum_amount":4,"avg_amount":2,"min_amount":-3,"min_placed":"2025-12-31 23:59:59.000Z","min_note":"m","max_amount":7,"max_placed":"2026-02-10 12:00:00.000Z","max_note":"q"}]`)
		if p.TotalItems != 3 || p.TotalPages != 1 {
			t.Errorf("totals: %+v", p)
		}

		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status,paid", "sum", "amount")
		aggWant(t, "by status and paid", p.Items, `[{"status":"paid","paid":true,"count":4,"sum_amount":36},
			{"status":"pending","paid":false,"count":2,"sum_amount":100.25},{"status":"refunded","paid":false,"count":2,"sum_amount":4}]`)
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "paid")
		aggWant(t, "by bool", p.Items, `[{"paid":false,"count":4},{"paid":true,"count":4}]`)
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "amount", "filter", "amount < 5", "sort", "-amount")
		aggWant(t, "by number", p.Items, `[{"amount":4.5,"count":1},{"amount":1,"count":1},{"amount":0.25,"count":1},{"amount":-3,"count":1}]`)

		// No record: count and sum 0, the rest null.
		p, _, _ = aggGet(t, s, "", 200, "filter", "amount > 1000", "sum", "amount", "avg", "amount", "min", "placed", "max", "amount")
		aggWant(t, "no records", p.Items, `[{"count":0,"sum_amount":0,"avg_amount":null,"min_placed":null,"max_amount":null}]`)
		p, _, _ = aggGet(t, s, "", 200, "filter", "amount > 1000", "groupBy", "status")
		if len(p.Items) != 0 || p.TotalItems != 0 || p.TotalPages != 0 {
			t.Errorf("no groups: %+v", p)
		}
		// A view collection aggregates as a table does.
		s.Super("POST", "/api/collections", map[string]any{"name": "order_view", "type": "view", "listRule": "",
			"viewQuery": "SELECT id, status, amount, note FROM orders"}, 200, nil)
		var vp aggPage
		s.Do("GET", "/api/collections/order_view/aggregate?groupBy=status&sum=amount&max=note&sort=-sum_amount", "", nil, 200, &vp)
		aggWant(t, "view", vp.Items, `[{"status":"pending","count":2,"sum_amount":100.25,"max_note":"z"},
			{"status":"paid","count":4,"sum_amount":36,"max_note":"c"},{"status":"refunded","count":2,"sum_amount":4,"max_note":"q"}]`)
		// The autodate groups too: all were created today.
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "created:year")
		if len(p.Items) != 1 || p.Items[0]["count"] != 8.0 || len(p.Items[0]["created"].(string)) != 4 {
			t.Errorf("by created:year: %v", p.Items)
		}
	})
}

func TestAggregateBuckets(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		aggSchema(t, s, "")
		for _, c := range []struct{ bucket, want string }{
			{"year", `[{"placed":"","count":1},{"placed":"2025","count":1},{"placed":"2026","count":6}]`},
			{"month", `[{"placed":"","count":1},{"placed":"2025-12","count":1},{"placed":"2026-01","count":3},{"placed":"2026-02","count":3}]`},
			{"day", `[{"placed":"","count":1},{"placed":"2025-12-31","count":1},{"placed":"2026-01-05","count":3},{"placed":"2026-02-10","count":2},{"placed":"2026-02-11","count":1}]`},
			{"hour", `[{"placed":"","count":1},{"placed":"2025-12-31 23:00","count":1},{"placed":"2026-01-05 10:00","count":2},{"placed":"2026-01-05 11:00","count":1},
				{"placed":"2026-02-10 09:00","count":1},{"placed":"2026-02-10 12:00","count":1},{"placed":"2026-02-11 09:00","count":1}]`},
		} {
			p, _, _ := aggGet(t, s, "", 200, "groupBy", "placed:"+c.bucket)
			aggWant(t, c.bucket, p.Items, c.want)
		}
		// Newest first, with the sums of a dashboard.
		p, _, _ := aggGet(t, s, "", 200, "groupBy", "placed:month", "sum", "amount", "filter", `placed != ""`, "sort", "-placed")
		aggWant(t, "months, newest first", p.Items, `[{"placed":"2026-02","count":3,"sum_amount":101.5},
			{"placed":"2026-01","count":3,"sum_amount":31.5},{"placed":"2025-12","count":1,"sum_amount":7}]`)
		// A bucket and a plain group.
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "placed:year,status", "filter", `placed != ""`)
		aggWant(t, "year and status", p.Items, `[{"placed":"2025","status":"refunded","count":1},{"placed":"2026","status":"paid","count":4},
			{"placed":"2026","status":"pending","count":1},{"placed":"2026","status":"refunded","count":1}]`)
	})
}

func TestAggregateFilterSortPaging(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		aggSchema(t, s, "")
		p, _, _ := aggGet(t, s, "", 200, "groupBy", "status", "sum", "amount", "filter", "amount > 1", "sort", "-sum_amount")
		aggWant(t, "filter and sort", p.Items, `[{"status":"pending","count":1,"sum_amount":100},{"status":"paid","count":3,"sum_amount":35},
			{"status":"refunded","count":1,"sum_amount":7}]`)
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "sum", "amount", "filter", "amount > 1", "sort", "-sum_amount", "perPage", "2", "page", "2")
		aggWant(t, "page 2", p.Items, `[{"status":"refunded","count":1,"sum_amount":7}]`)
		if p.Page != 2 || p.PerPage != 2 || p.TotalItems != 3 || p.TotalPages != 2 {
			t.Errorf("paging: %+v", p)
		}
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "skipTotal", "1", "perPage", "1")
		if p.TotalItems != -1 || p.TotalPages != -1 || len(p.Items) != 1 || p.Items[0]["status"] != "paid" {
			t.Errorf("skipTotal: %+v", p)
		}
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "perPage", "5000")
		if p.PerPage != 1000 || len(p.Items) != 3 {
			t.Errorf("perPage clamp: %+v", p)
		}
		// Ties keep the groups' order; an explicit second key wins.
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "sort", "-count")
		aggWant(t, "ties", p.Items, `[{"status":"paid","count":4},{"status":"pending","count":2},{"status":"refunded","count":2}]`)
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "sort", "count,-status")
		aggWant(t, "two keys", p.Items, `[{"status":"refunded","count":2},{"status":"pending","count":2},{"status":"paid","count":4}]`)
		// Pages of groups never overlap, whatever the sort.
		seen := map[string]bool{}
		for page := 1; page <= 4; page++ {
			p, _, _ = aggGet(t, s, "", 200, "groupBy", "placed:day", "sort", "-count", "perPage", "2", "page", fmt.Sprint(page))
			for _, it := range p.Items {
				if seen[it["placed"].(string)] {
					t.Errorf("page %d repeats %v", page, it)
				}
				seen[it["placed"].(string)] = true
			}
		}
		if len(seen) != 5 {
			t.Errorf("pages held %d groups, want 5", len(seen))
		}
		// The filter's @request context is the list's.
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status", "filter", "status = @request.query.want", "want", "pending")
		aggWant(t, "@request.query", p.Items, `[{"status":"pending","count":2}]`)
		// Relations group by id.
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "owner", "sum", "amount")
		if len(p.Items) != 2 || p.Items[0]["count"].(float64)+p.Items[1]["count"].(float64) != 8 {
			t.Errorf("by owner: %v", p.Items)
		}
	})
}

func TestAggregateListRule(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		owners := aggSchema(t, s, "owner = @request.auth.id")
		// Each owner aggregates exactly their own orders.
		p, _, _ := aggGet(t, s, owners[0].Token, 200, "sum", "amount")
		aggWant(t, "ann", p.Items, `[{"count":5,"sum_amount":13.25}]`)
		p, _, _ = aggGet(t, s, owners[1].Token, 200, "sum", "amount")
		aggWant(t, "bob", p.Items, `[{"count":3,"sum_amount":127}]`)
		p, _, _ = aggGet(t, s, owners[1].Token, 200, "groupBy", "status", "sum", "amount")
		aggWant(t, "bob by status", p.Items, `[{"status":"paid","count":1,"sum_amount":20},{"status":"pending","count":1,"sum_amount":100},
			{"status":"refunded","count":1,"sum_amount":7}]`)
		// A filter cannot widen the rule.
		p, _, _ = aggGet(t, s, owners[0].Token, 200, "filter", fmt.Sprintf("owner = %q || owner != ''", owners[1].Record["id"]))
		aggWant(t, "ann's filter for bob's", p.Items, `[{"count":5}]`)
		// A guest gets what the list gives a guest: nothing.
		var l list
		s.Do("GET", "/api/collections/orders/records", "", nil, 200, &l)
		p, _, _ = aggGet(t, s, "", 200, "sum", "amount", "avg", "amount")
		aggWant(t, "guest", p.Items, fmt.Sprintf(`[{"count":%d,"sum_amount":0,"avg_amount":null}]`, l.TotalItems))
		p, _, _ = aggGet(t, s, "", 200, "groupBy", "status")
		if len(p.Items) != 0 || p.TotalItems != 0 {
			t.Errorf("guest groups: %+v", p)
		}
		// Superusers see all.
		p, _, _ = aggGet(t, s, s.Token, 200, "sum", "amount")
		aggWant(t, "superuser", p.Items, `[{"count":8,"sum_amount":140.25}]`)

		// A locked list rule: superusers only, as the list answers.
		s.Super("PATCH", "/api/collections/orders", map[string]any{"listRule": nil}, 200, nil)
		listed := s.Request("GET", "/api/collections/orders/records", owners[0].Token, nil)
		for _, token := range []string{"", owners[0].Token} {
			aggGet(t, s, token, listed.Status, "sum", "amount")
		}
		if listed.Status != 403 {
			t.Errorf("a locked list answered %d", listed.Status)
		}
		p, _, _ = aggGet(t, s, s.Token, 200, "groupBy", "status")
		if len(p.Items) != 3 {
			t.Errorf("superuser on a locked rule: %+v", p)
		}
		// An unknown collection is a 404.
		if r := s.Request("GET", "/api/collections/nope/aggregate", "", nil); r.Status != 404 {
			t.Errorf("unknown collection: %d", r.Status)
		}
	})
}

func TestAggregateHiddenFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		owners := aggSchema(t, s, "")
		for _, token := range []string{"", owners[0].Token} {
			for _, param := range []string{"groupBy", "sum", "avg", "min", "max", "sort"} {
				args := []string{param, "cost"}
				if param == "sort" {
					args = []string{"groupBy", "status", "sort", "cost"}
				}
				_, e, _ := aggGet(t, s, token, 400, args...)
				if e.Data[param].Code != "validation_invalid_"+param || !strings.Contains(e.Data[param].Message, "cost") {
					t.Errorf("%s=cost: %+v", param, e)
				}
			}
			// As a filter on it is refused.
			_, e, _ := aggGet(t, s, token, 400, "filter", "cost > 1")
			if e.Data["filter"].Code == "" {
				t.Errorf("filter on cost: %+v", e)
			}
		}
		p, _, _ := aggGet(t, s, s.Token, 200, "sum", "cost", "max", "cost", "filter", "cost > 4")
		aggWant(t, "superuser", p.Items, `[{"count":4,"sum_cost":26,"max_cost":8}]`)
		p, _, _ = aggGet(t, s, s.Token, 200, "groupBy", "cost", "filter", "cost <= 2")
		aggWant(t, "superuser groups", p.Items, `[{"cost":1,"count":1},{"cost":2,"count":1}]`)

		// Auth collections: others' emails, token keys and passwords.
		s.Super("PATCH", "/api/collections/users", map[string]any{"listRule": ""}, 200, nil)
		for _, c := range []struct {
			token, param, field string
		}{
			{owners[0].Token, "groupBy", "email"}, {"", "min", "email"}, {owners[0].Token, "groupBy", "secret"},
			{s.Token, "groupBy", "tokenKey"}, {s.Token, "max", "tokenKey"}, {s.Token, "groupBy", "password"}, {s.Token, "min", "password"},
		} {
			r := s.Request("GET", "/api/collections/users/aggregate?"+c.param+"="+c.field, c.token, nil)
			var e errBody
			json.Unmarshal(r.Body, &e)
			if r.Status != 400 || e.Data[c.param].Code == "" {
				t.Errorf("users %s=%s: %d %s", c.param, c.field, r.Status, r.Body)
			}
		}
		var p2 aggPage
		s.Super("GET", "/api/collections/users/aggregate?groupBy=email", nil, 200, &p2)
		if len(p2.Items) != 2 {
			t.Errorf("superuser by email: %+v", p2)
		}
	})
}

func TestAggregateBadInput(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		aggSchema(t, s, "")
		for _, c := range []struct {
			name, param string
			args        []string
		}{
			{"unknown group", "groupBy", []string{"groupBy", "nope"}},
			{"multiple select", "groupBy", []string{"groupBy", "tags"}},
			{"multiple relation", "groupBy", []string{"groupBy", "watchers"}},
			{"json", "groupBy", []string{"groupBy", "meta"}},
			{"editor", "groupBy", []string{"groupBy", "body"}},
			{"too many", "groupBy", []string{"groupBy", "status,paid,note,amount"}},
			{"bad bucket", "groupBy", []string{"groupBy", "placed:week"}},
			{"empty bucket", "groupBy", []string{"groupBy", "placed:"}},
			{"bucket of text", "groupBy", []string{"groupBy", "status:day"}},
			{"twice", "groupBy", []string{"groupBy", "placed:day,placed:month"}},
			{"empty name", "groupBy", []string{"groupBy", "status,"}},
			{"group named count", "groupBy", []string{"groupBy", "count"}},
			{"sum of text", "sum", []string{"sum", "note"}},
			{"sum of date", "sum", []string{"sum", "placed"}},
			{"sum unknown", "sum", []string{"sum", "nope"}},
			{"sum twice", "sum", []string{"sum", "amount,amount"}},
			{"avg of select", "avg", []string{"avg", "status"}},
			{"min of bool", "min", []string{"min", "paid"}},
			{"min of select", "min", []string{"min", "status"}},
			{"max of list", "max", []string{"max", "tags"}},
			{"max of json", "max", []string{"max", "meta"}},
			{"count of a field", "count", []string{"count", "amount"}},
			{"unknown sort", "sort", []string{"groupBy", "status", "sort", "nope"}},
			{"sort by a value not asked", "sort", []string{"groupBy", "status", "sort", "sum_amount"}},
			{"sort by a field not grouped", "sort", []string{"groupBy", "status", "sort", "amount"}},
			{"sort twice", "sort", []string{"groupBy", "status", "sort", "-count,count"}},
			{"sort by bucket", "sort", []string{"groupBy", "placed:day", "sort", "placed:day"}},
			{"bad filter", "filter", []string{"filter", "nope = 1"}},
			{"filter syntax", "filter", []string{"filter", "amount >"}},
			{"bad page", "page", []string{"page", "-1"}},
			{"bad perPage", "perPage", []string{"perPage", "x"}},
		} {
			_, e, body := aggGet(t, s, "", 400, c.args...)
			if e.Data[c.param].Code != "validation_invalid_"+c.param || e.Data[c.param].Message == "" {
				t.Errorf("%s: want an error naming %s, got %s", c.name, c.param, body)
			}
		}
	})
}

// TestAggregateHostileNames sends what an attacker would put where field
// names go: each is a 400 naming the parameter, and nothing changes.
func TestAggregateHostileNames(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		aggSchema(t, s, "")
		hostile := []string{
			`price) FROM x;--`, `amount) FROM orders;--`, `amount"`, `"amount"`, `'amount'`, "`amount`", `[amount]`,
			`amount;DROP TABLE orders`, `amount--`, `amount/*`, `_r.amount`, `"_r"."amount"`, `amount COLLATE "C"`,
			`@request.auth.id`, `@collection.users.email`, `@rowid`, `@random`, `ämount`, `amount\u0000`, "amount\x00", `amöunt`,
			`1`, `*`, `count(*)`, `SUM(amount)`, `amount,`, `amount::text`, `owner.email`, `rowid`, `ctid`, `amount OR 1=1`,
			strings.Repeat("a", 4000),
		}
		for _, name := range hostile {
			for _, param := range []string{"groupBy", "sum", "avg", "min", "max", "sort"} {
				args := []string{param, name}
				if param == "sort" {
					args = []string{"groupBy", "status", "sum", "amount", "sort", name}
				}
				_, e, body := aggGet(t, s, "", 400, args...)
				if e.Data[param].Code != "validation_invalid_"+param {
					t.Errorf("%s=%q: %s", param, name, body)
				}
			}
			// A bucket is a name too.
			if _, e, body := aggGet(t, s, "", 400, "groupBy", "placed:"+name); e.Data["groupBy"].Code == "" {
				t.Errorf("groupBy=placed:%q: %s", name, body)
			}
		}
		p, _, _ := aggGet(t, s, "", 200, "sum", "amount")
		aggWant(t, "after", p.Items, `[{"count":8,"sum_amount":140.25}]`)
	})
}

// TestAggregateEnginesAgree runs the same aggregations over the same
// generated records on SQLite and PostgreSQL and requires the same
// answers, byte for byte. Amounts are multiples of 1/4, which sums and
// averages compute exactly in any order; texts mix case, accents and
// emptiness, which the engines order alike only when both compare bytes.
func TestAggregateEnginesAgree(t *testing.T) {
	t.Parallel()
	sq := testkit.NewServer(t, "sqlite")
	pg := testkit.NewServer(t, "postgres")
	rng := rand.New(rand.NewPCG(11, 11))
	words := []string{"", "a", "B", "b", "Z", "é", "ä", "zz", "Apple", "apple", "日本", "a b", "a-b"}
	var records []map[string]any
	for i := 0; i < 300; i++ {
		placed := ""
		if rng.IntN(10) > 0 {
			placed = fmt.Sprintf("%d-%02d-%02d %02d:%02d:00.000Z", 2024+rng.IntN(3), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60))
		}
		records = append(records, map[string]any{
			"status": []string{"paid", "pending", "refunded"}[rng.IntN(3)],
			"amount": float64(rng.IntN(4001)-2000) / 4,
			"paid":   rng.IntN(2) == 0,
			"placed": placed,
			"note":   words[rng.IntN(len(words))],
			"cost":   rng.IntN(50),
		})
	}
	for _, s := range []*testkit.Server{sq, pg} {
		aggSchema(t, s, "")
		for _, r := range records {
			create(t, s, "orders", r)
		}
	}
	queries := [][]string{
		{"sum", "amount", "avg", "amount", "min", "amount,placed,note", "max", "amount,placed,note"},
		{"groupBy", "status", "sum", "amount", "avg", "amount", "min", "note,placed", "max", "note,placed"},
		{"groupBy", "note", "sum", "amount", "sort", "-note"},
		{"groupBy", "note,paid", "avg", "amount", "perPage", "7", "page", "2"},
		{"groupBy", "placed:month", "sum", "amount", "sort", "-sum_amount", "perPage", "10"},
		{"groupBy", "placed:day", "min", "amount", "max", "note", "sort", "-count,-max_note", "perPage", "20", "page", "3"},
		{"groupBy", "placed:hour,status", "sum", "amount", "perPage", "15", "page", "4"},
		{"groupBy", "placed:year,paid,status", "avg", "amount", "max", "placed", "sort", "max_placed"},
		{"groupBy", "amount", "filter", "amount > 400 && note != ''", "sort", "-amount"},
		{"groupBy", "status", "filter", `note ~ "a" || placed >= "2025-06-01 00:00:00.000Z"`, "sum", "amount", "min", "note", "sort", "min_note"},
		{"groupBy", "note", "filter", "amount > 5000", "sum", "amount"},
		{"filter", "amount > 5000", "sum", "amount", "avg", "amount", "min", "placed", "max", "note"},
	}
	for _, q := range queries {
		_, _, a := aggGet(t, sq, "", 200, q...)
		_, _, b := aggGet(t, pg, "", 200, q...)
		if string(a) != string(b) {
			t.Errorf("%v:\n sqlite   %s\n postgres %s", q, a, b)
		}
		var p aggPage
		json.Unmarshal(a, &p)
		if len(p.Items) == 0 && !strings.Contains(strings.Join(q, " "), "5000") {
			t.Errorf("%v: no items: %s", q, a)
		}
	}
}

// TestAggregateIsBounded: a costly aggregation is stopped at the query
// timeout with a 503, and every aggregation a client asks for counts
// against its filtered reads in progress, with a filter or without: two
// costly ones hold a client's slots, and its third, unfiltered, answers
// 429, while another client is served.
func TestAggregateIsBounded(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	const slack = 10 * time.Second // generous: the machine may be loaded
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s = s.Restart(func(c *config.Config) { c.QueryTimeout = timeout })
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "posts", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
		}, 200, nil)
		for i := range 100 {
			s.Super("POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprintf("post %03d", i%10)}, 200, nil)
		}
		const attacker, victim = "203.0.113.7", "198.51.100.9"
		agg := "/api/collections/posts/aggregate?groupBy=title"
		slow := agg + "&filter=" + url.QueryEscape(aliasCycle(5))
		for _, path := range []string{slow, slow + "&skipTotal=1"} {
			a := guestGet(s, path, attacker)
			if a.status != 503 || a.body.Message != "The query took too long and was stopped." {
				t.Fatalf("costly aggregation: %d %+v (%v), want 503", a.status, a.body, a.err)
			}
			if a.took > timeout+slack {
				t.Errorf("costly aggregation stopped after %v, timeout %v", a.took, timeout)
			}
		}

		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if a := guestGet(s, slow, attacker); a.status != 503 {
					t.Errorf("costly aggregation: %d %+v", a.status, a.body)
				}
			})
		}
		time.Sleep(timeout / 4)
		if a := guestGet(s, agg, attacker); a.status != 429 {
			t.Errorf("third aggregation from one client: %d, want 429", a.status)
		}
		if a := guestGet(s, agg, victim); a.status != 200 {
			t.Errorf("another client: %d %+v", a.status, a.body)
		}
		wg.Wait()
		if a := guestGet(s, agg, attacker); a.status != 200 {
			t.Errorf("after the costly ones: %d %+v", a.status, a.body)
		}
	})
}

// TestAggregateSumPastTheLargestNumber: any client that may create
// records can store numbers near double's largest; their sum and average
// are then NULL on both engines (PostgreSQL failed the whole query with
// "Invalid filter or sort."), per group, the other groups unharmed.
func TestAggregateSumPastTheLargestNumber(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{"name": "ledger", "listRule": "", "createRule": "",
			"fields": []map[string]any{{"name": "amount", "type": "number"}, {"name": "kind", "type": "text"}}}, 200, nil)
		for _, r := range []map[string]any{{"amount": 1e308, "kind": "big"}, {"amount": 1e308, "kind": "big"},
			{"amount": 2, "kind": "small"}, {"amount": 3, "kind": "small"}} {
			s.Do("POST", "/api/collections/ledger/records", "", r, 200, nil)
		}
		var all struct{ Items []map[string]any }
		s.Do("GET", "/api/collections/ledger/aggregate?sum=amount&avg=amount", "", nil, 200, &all)
		// The average itself fits: PostgreSQL, adding exactly, gives it;
		// SQLite's double sum is infinite, so its average is too (null).
		if len(all.Items) != 1 || all.Items[0]["sum_amount"] != nil || all.Items[0]["count"] != 4.0 ||
			all.Items[0]["avg_amount"] != nil && all.Items[0]["avg_amount"] != 5e307 {
			t.Errorf("over all: %v, want a null sum", all.Items)
		}
		var groups struct{ Items []map[string]any }
		s.Do("GET", "/api/collections/ledger/aggregate?groupBy=kind&sum=amount&avg=amount&min=amount&sort=kind", "", nil, 200, &groups)
		if len(groups.Items) != 2 || groups.Items[0]["sum_amount"] != nil || groups.Items[0]["min_amount"] != 1e308 ||
			groups.Items[1]["sum_amount"] != 5.0 || groups.Items[1]["avg_amount"] != 2.5 {
			t.Errorf("by kind: %v", groups.Items)
		}
		var none struct{ Items []map[string]any }
		s.Do("GET", "/api/collections/ledger/aggregate?sum=amount&avg=amount&filter="+url.QueryEscape("kind = 'none'"), "", nil, 200, &none)
		if len(none.Items) != 1 || none.Items[0]["sum_amount"] != 0.0 || none.Items[0]["avg_amount"] != nil {
			t.Errorf("no rows: %v, want sum 0 and no average", none.Items)
		}
	})
}
