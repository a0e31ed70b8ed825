package api_test

import (
	"context"
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
			benchReads(b, s, 1000, 50, func() {
				if s.App.Logs != nil {
					if err := s.App.Logs.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			})
			if s.App.Logs != nil {
				full, failed := s.App.Logs.Dropped()
				b.Logf("request log: %d entries dropped on a full queue, %d lost to failed writes", full, failed)
			}
		})
	}
}
