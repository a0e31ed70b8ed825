package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// logItem is an entry of /api/logs as PocketBase's SDK reads it.
type logItem struct {
	ID      string         `json:"id"`
	Created string         `json:"created"`
	Updated string         `json:"updated"`
	Level   int            `json:"level"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

type logList struct {
	Page, PerPage, TotalItems, TotalPages int
	Items                                 []logItem
}

// flushLogs waits until the requests made so far are in the request log.
func flushLogs(t *testing.T, s *testkit.Server) {
	t.Helper()
	if err := s.App.Logs.Flush(context.Background()); err != nil {
		t.Fatalf("flush the request log: %v", err)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		u := signUp(t, s, "u@example.com", "u-password-123")
		// A 404 as a guest, a 400 as a user, a read as the superuser.
		s.Do("GET", "/api/collections/nope/records?x=1", "", nil, 404, nil)
		s.Do("POST", "/api/collections/notes/records", u.Token, map[string]any{"text": "no owner"}, 400, nil)
		s.Super("GET", "/api/collections/users/records/"+u.Record["id"].(string), nil, 200, nil)
		flushLogs(t, s)

		// Superusers only.
		for _, route := range []string{"/api/logs", "/api/logs/stats", "/api/logs/abcdefghijklmno"} {
			s.Do("GET", route, "", nil, http.StatusUnauthorized, nil)
			s.Do("GET", route, u.Token, nil, http.StatusForbidden, nil)
		}

		var all logList
		s.Super("GET", "/api/logs?perPage=100", nil, 200, &all)
		if all.Page != 1 || all.PerPage != 100 || all.TotalItems != len(all.Items) || all.TotalPages != 1 || len(all.Items) < 5 {
			t.Fatalf("list: %+v", all)
		}
		find := func(message string) logItem {
			t.Helper()
			for _, it := range all.Items {
				if it.Message == message {
					return it
				}
			}
			t.Fatalf("no entry %q among %d", message, len(all.Items))
			return logItem{}
		}
		guest := find("GET /api/collections/nope/records?x=1")
		if guest.Level != 4 || guest.Created == "" || guest.Updated != guest.Created || len(guest.ID) != 15 {
			t.Errorf("404 entry: %+v", guest)
		}
		for key, want := range map[string]any{
			"type": "request", "status": 404.0, "method": "GET", "url": "/api/collections/nope/records?x=1",
			"route": "GET /api/collections/{collection}/records", "auth": "", "authId": "",
			"userIP": "127.0.0.1", "remoteIP": "127.0.0.1", "referer": "",
		} {
			if guest.Data[key] != want {
				t.Errorf("404 entry: data.%s = %#v, want %#v", key, guest.Data[key], want)
			}
		}
		if ms, ok := guest.Data["execTime"].(float64); !ok || ms <= 0 {
			t.Errorf("execTime %#v", guest.Data["execTime"])
		}
		if guest.Data["error"] == "" || guest.Data["userAgent"] == "" {
			t.Errorf("404 entry: error %q, user agent %q", guest.Data["error"], guest.Data["userAgent"])
		}
		user := find("POST /api/collections/notes/records")
		if user.Data["auth"] != "users" || user.Data["authId"] != u.Record["id"] || user.Data["status"] != 400.0 ||
			user.Data["error"] != "Failed to validate the submitted data." {
			t.Errorf("400 entry: %+v", user)
		}
		super := find("GET /api/collections/users/records/" + u.Record["id"].(string))
		if super.Data["auth"] != "_superusers" || super.Data["authId"] == "" || super.Level != 0 || super.Data["error"] != nil {
			t.Errorf("superuser's entry: %+v", super)
		}

		// Filter, sort, one entry.
		var errs logList
		s.Super("GET", "/api/logs?sort=-data.status&filter="+url.QueryEscape("data.status >= 400 && data.url !~ '/api/logs'"), nil, 200, &errs)
		var statuses []float64
		for _, it := range errs.Items {
			statuses = append(statuses, it.Data["status"].(float64))
		}
		if !slices.IsSortedFunc(statuses, func(a, b float64) int { return int(b - a) }) || len(statuses) < 2 || statuses[len(statuses)-1] < 400 {
			t.Errorf("filtered, sorted: %v", statuses)
		}
		var one logItem
		s.Super("GET", "/api/logs/"+guest.ID, nil, 200, &one)
		if one.ID != guest.ID || one.Message != guest.Message || one.Data["route"] != guest.Data["route"] {
			t.Errorf("one: %+v, want %+v", one, guest)
		}
		var missing errBody
		s.Super("GET", "/api/logs/nosuchentry0000", nil, 404, &missing)
		if missing.Status != 404 || missing.Message == "" {
			t.Errorf("missing entry: %+v", missing)
		}

		// Paging: perPage is capped at 500, skipTotal skips the count.
		var capped logList
		s.Super("GET", "/api/logs?perPage=1000&skipTotal=1", nil, 200, &capped)
		if capped.PerPage != 500 || capped.TotalItems != -1 || capped.TotalPages != -1 {
			t.Errorf("capped: %+v", capped)
		}
		// The log's own reads are logged as they go: page a set that holds still.
		notLogs := "&filter=" + url.QueryEscape("data.url !~ '/api/logs'")
		var first, page2 logList
		s.Super("GET", "/api/logs?perPage=4"+notLogs, nil, 200, &first)
		s.Super("GET", "/api/logs?page=2&perPage=2"+notLogs, nil, 200, &page2)
		if page2.Page != 2 || len(page2.Items) != 2 || page2.Items[0].ID != first.Items[2].ID || page2.Items[1].ID != first.Items[3].ID ||
			page2.TotalItems != first.TotalItems || page2.TotalPages != (first.TotalItems+1)/2 {
			t.Errorf("page 2: %+v of %+v", page2, first)
		}

		// Stats per hour, filtered too.
		var stats []struct {
			Total int    `json:"total"`
			Date  string `json:"date"`
		}
		s.Super("GET", "/api/logs/stats", nil, 200, &stats)
		total := 0
		for _, st := range stats {
			total += st.Total
			if len(st.Date) != len("2006-01-02 15:00:00.000Z") || st.Date[13:] != ":00:00.000Z" {
				t.Errorf("stat date %q", st.Date)
			}
		}
		if total < all.TotalItems {
			t.Errorf("stats count %d requests, the list %d", total, all.TotalItems)
		}
		s.Super("GET", "/api/logs/stats?filter="+url.QueryEscape("data.status = 404 && data.url ~ 'nope'"), nil, 200, &stats)
		if len(stats) != 1 || stats[0].Total != 1 {
			t.Errorf("filtered stats: %+v", stats)
		}

		// Bad filters and sorts are the caller's mistake, named.
		for _, q := range []string{"filter=" + url.QueryEscape("data.nope = 1"), "filter=" + url.QueryEscape("data.status = 'x'"),
			"filter=" + url.QueryEscape("(data.status"), "sort=data.nope", "page=-1", "perPage=x"} {
			var bad errBody
			s.Super("GET", "/api/logs?"+q, nil, 400, &bad)
			if len(bad.Data) != 1 {
				t.Errorf("%s: %+v, want the parameter named", q, bad)
			}
			for _, fe := range bad.Data {
				if fe.Message == "" {
					t.Errorf("%s: %+v, want the problem said", q, bad)
				}
			}
		}
		s.Super("GET", "/api/logs/stats?filter="+url.QueryEscape("data = 1"), nil, 400, nil)
	})
}

func TestLogsOff(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.LogsDays = -1 })
	if s.App.Logs != nil {
		t.Fatal("TORTOISE_LOGS_DAYS=0 opened the request log")
	}
	for _, route := range []string{"/api/logs", "/api/logs/stats", "/api/logs/abcdefghijklmno"} {
		var body errBody
		s.Super("GET", route, nil, 404, &body)
	}
	raw := s.Super("GET", "/api/health", nil, 200, nil)
	if !json.Valid(raw.Body) {
		t.Errorf("health: %s", raw.Body)
	}
}
