package api_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// TestSearchAcrossFields: ~ works on every field type, the value compared
// as its text, so a search box can look through all of a collection's
// fields with one filter (issue 8). Before, views ~ "x" on a number was a
// 400.
func TestSearchAcrossFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "items", "listRule": "", "viewRule": "",
			"fields": []map[string]any{
				{"name": "title", "type": "text"},
				{"name": "views", "type": "number"},
				{"name": "published", "type": "bool"},
				{"name": "due", "type": "date"},
				{"name": "tags", "type": "select", "values": []string{"red", "green", "blue"}, "maxSelect": 3},
				{"name": "meta", "type": "json"},
				{"name": "spot", "type": "geoPoint"},
			},
		}, 200, nil)
		for _, it := range []map[string]any{
			{"title": "alpha", "views": 3, "published": true, "due": "2031-05-06", "tags": []string{"red"},
				"meta": map[string]any{"size": 12.5, "notes": []any{"fragile", map[string]any{"ok": false}}}, "spot": map[string]any{"lon": 23.32, "lat": 42.69}},
			{"title": "beta", "views": 0.1 + 0.2, "published": false, "tags": []string{"green", "blue"},
				"meta": []any{"x", 7}},
			{"title": "gamma", "views": 1e21, "published": true, "meta": "plain"},
			{"title": "delta x3", "views": -7},
		} {
			create(t, s, "items", it)
		}
		titles := func(filter string) []string {
			t.Helper()
			var l list
			s.Do("GET", "/api/collections/items/records?sort=title&filter="+url.QueryEscape(filter), "", nil, 200, &l)
			out := []string{}
			for _, it := range l.Items {
				out = append(out, it["title"].(string))
			}
			return out
		}
		all := func(term string) string {
			var parts []string
			for _, f := range []string{"title", "views", "published", "due", "tags", "meta", "spot"} {
				parts = append(parts, f+` ~ "`+term+`"`)
			}
			return strings.Join(parts, " || ")
		}
		for _, tc := range []struct {
			filter string
			want   []string
		}{
			// The example: no longer refused.
			{`title ~ "x" || views ~ "x" || published ~ "x"`, []string{"delta x3"}},
			// Numbers as a client reads them: 3, 0.3, no exponent, no ".0".
			{`views ~ "3"`, []string{"alpha", "beta"}},
			{`views ~ "3.0"`, []string{}},
			{`views ~ "0.3"`, []string{"beta"}},
			{`views ~ "1000000000000000000000"`, []string{"gamma"}},
			{`views ~ "e"`, []string{}},
			{`views ~ "-"`, []string{"delta x3"}},
			{`views !~ "3"`, []string{"delta x3", "gamma"}},
			// Bools as true/false.
			{`published ~ "true"`, []string{"alpha", "gamma"}},
			{`published ~ "fal"`, []string{"beta", "delta x3"}},
			{`published ~ "1"`, []string{}},
			// Dates, selects, json scalars at any depth, geo points.
			{`due ~ "2031-05"`, []string{"alpha"}},
			{`tags ~ "e"`, []string{"alpha", "beta"}},
			{`tags ?~ "blu"`, []string{"beta"}},
			{`meta ~ "fragile"`, []string{"alpha"}},
			{`meta ~ "false"`, []string{"alpha"}},
			{`meta ~ "12.5"`, []string{"alpha"}},
			{`meta ~ "7"`, []string{"beta"}},
			{`meta ~ "plain"`, []string{"gamma"}},
			{`meta ~ "notes"`, []string{}},
			{`meta.notes ~ "frag"`, []string{"alpha"}},
			{`spot ~ "42.69"`, []string{"alpha"}},
			{`spot.lon ~ "23"`, []string{"alpha"}},
			// One search over every field.
			{all("3"), []string{"alpha", "beta", "delta x3"}},
			{all("a"), []string{"alpha", "beta", "delta x3", "gamma"}},
			{all("fragile"), []string{"alpha"}},
			{all("2031"), []string{"alpha"}},
			{all("true"), []string{"alpha", "gamma"}},
			{all("nothing"), []string{}},
		} {
			if got := titles(tc.filter); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
			}
		}
		// Still refused: what no type makes sense of.
		for _, bad := range []string{`views:lower ~ "3"`, `published > true`, `views ~`, `meta = meta`} {
			var e errBody
			s.Do("GET", "/api/collections/items/records?filter="+url.QueryEscape(bad), "", nil, 400, &e)
			if e.Data["filter"].Code != "validation_invalid_filter" || !strings.Contains(e.Data["filter"].Message, "invalid filter") {
				t.Errorf("%s: %+v", bad, e)
			}
		}
	})
}
