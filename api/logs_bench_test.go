package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// BenchmarkRequestLog is what the request log costs the API: a record
// read and a list page (20 records with totals) served by App.API in
// process, from parallel clients, with the log on and off
// (TORTOISE_LOGS_DAYS=0). In process there is no network and no
// net/http server work, so the log's share here is larger than over HTTP
// (bench/, docs/benchmarks.md). Alternate the two to see past a busy
// machine:
//
//	for i in 1 2 3; do for m in off on; do
//	  go test -run '^$' -bench "RequestLog/$m" -benchtime 3s ./api
//	done; done
func BenchmarkRequestLog(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			s := testkit.NewServer(b, "sqlite")
			if mode == "off" {
				s = s.Restart(func(c *config.Config) { c.LogsDays = -1 })
			}
			s.Super("POST", "/api/collections", map[string]any{
				"name": "items", "listRule": "", "viewRule": "",
				"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "n", "type": "number"}},
			}, 200, nil)
			var ids []string
			for i := range 1000 {
				var rec struct{ ID string }
				s.Super("POST", "/api/collections/items/records", map[string]any{"title": fmt.Sprintf("item %d", i), "n": i}, 200, &rec)
				ids = append(ids, rec.ID)
			}
			if s.App.Logs != nil {
				if err := s.App.Logs.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			for _, sc := range []struct {
				name string
				path func(i int) string
			}{
				{"get", func(i int) string { return "/api/collections/items/records/" + ids[i%len(ids)] }},
				{"list", func(i int) string { return fmt.Sprintf("/api/collections/items/records?page=%d&perPage=20", 1+i%50) }},
			} {
				b.Run(sc.name, func(b *testing.B) {
					var n atomic.Int64
					b.ReportAllocs()
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := int(n.Add(1))
							req := httptest.NewRequest("GET", sc.path(i), nil)
							req.RemoteAddr = "127.0.0.1:40000"
							w := httptest.NewRecorder()
							s.App.API.ServeHTTP(w, req)
							if w.Code != http.StatusOK {
								b.Fatalf("%s: %d %s", req.URL, w.Code, w.Body)
							}
						}
					})
				})
			}
			if s.App.Logs != nil {
				full, failed := s.App.Logs.Dropped()
				b.Logf("request log: %d entries dropped on a full queue, %d lost to failed writes", full, failed)
			}
		})
	}
}
