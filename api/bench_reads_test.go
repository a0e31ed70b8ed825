package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// benchReads is the read load of the API's in-process benchmarks: it
// creates "items" (public list and view) on s with records records, calls
// seeded (when not nil), then runs two sub-benchmarks from 8 parallel
// guests per CPU served by App.API without a network: "get" (a record
// read, ids in turn) and "list" (a page of 20 with totals, pages 1 to
// pages in turn).
func benchReads(b *testing.B, s *testkit.Server, records, pages int, seeded func()) {
	b.Helper()
	s.Super("POST", "/api/collections", map[string]any{
		"name": "items", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "n", "type": "number"}},
	}, 200, nil)
	var ids []string
	for i := range records {
		var rec struct{ ID string }
		s.Super("POST", "/api/collections/items/records", map[string]any{"title": fmt.Sprintf("item %d", i), "n": i}, 200, &rec)
		ids = append(ids, rec.ID)
	}
	if seeded != nil {
		seeded()
	}
	for _, sc := range []struct {
		name string
		path func(i int) string
	}{
		{"get", func(i int) string { return "/api/collections/items/records/" + ids[i%len(ids)] }},
		{"list", func(i int) string { return fmt.Sprintf("/api/collections/items/records?page=%d&perPage=20", 1+i%pages) }},
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
}
