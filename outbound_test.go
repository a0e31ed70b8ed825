package tortoise_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/jobs"
)

// http jobs (and webhook deliveries, which use the same clients) share one
// connection pool: after 300 requests to one receiver the process holds a
// bounded number of connections open, not one per request. A pool per
// request kept each connection open for 90 s; at a few thousand deliveries
// a minute the process ran out of file descriptors, its API's included.
func TestOutboundRequestsShareConnections(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	var served atomic.Int64
	recv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	recv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	recv.Start()
	defer recv.Close()
	u, _ := url.Parse(recv.URL)

	ctx := context.Background()
	app, err := tortoise.New(ctx, config.Config{Dir: t.TempDir(), LogLevel: "warn", OutboundAllowHosts: []string{u.Host}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	if err := app.StartJobs(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 300
	items := make([]jobs.Item, n)
	for i := range items {
		items[i] = jobs.Item{Kind: jobs.KindHTTP, Args: jobs.HTTPArgs{Method: "POST", URL: recv.URL + "/hook"}}
	}
	if _, err := app.Jobs.EnqueueMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); served.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests arrived", served.Load(), n)
		}
	}
	time.Sleep(200 * time.Millisecond) // closes reach the receiver
	mu.Lock()
	defer mu.Unlock()
	if len(open) > 40 {
		t.Errorf("%d connections still open after %d requests: one pool per request?", len(open), n)
	}
}
