package reqlog_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/reqlog"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	l, err := reqlog.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "logs.db"),
		reqlog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	type ctxKey struct{}
	mux := http.NewServeMux()
	// What the API's handler adapter does: the route, the caller, the error.
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		e := reqlog.FromContext(r.Context())
		e.Route, e.Auth, e.AuthID = r.Pattern, "users", "u1"
		e.SetError("The item wasn't found.", nil)
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("/api/any", func(w http.ResponseWriter, r *http.Request) {
		reqlog.FromContext(r.Context()).Route = r.Pattern
		if r.Context().Value(ctxKey{}) != "outer" {
			t.Error("the entry's context hides the request's values")
		}
		// Through Unwrap, the connection's controls still work.
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the log's writer: %v", err)
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /api/boom", func(w http.ResponseWriter, r *http.Request) {
		reqlog.FromContext(r.Context()).SetError("Something went wrong.", errors.New("disk on fire"))
		w.WriteHeader(http.StatusInternalServerError)
	})
	health := http.StatusOK
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(health) })
	mux.HandleFunc("GET /api/realtime", func(w http.ResponseWriter, r *http.Request) {
		if reqlog.FromContext(r.Context()) != nil {
			t.Error("the realtime stream is being logged")
		}
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		if reqlog.FromContext(r.Context()) != nil {
			t.Error("the admin is being logged")
		}
	})
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.Handler(mux).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "outer")))
	})
	srv := httptest.NewServer(outer)
	defer srv.Close()

	send := func(method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("User-Agent", "test-agent")
		req.Header.Set("Referer", "https://example.com/page")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send("GET", "/api/items/42?expand=x")
	send("POST", "/api/any")
	send("GET", "/api/boom")
	send("GET", "/api/health") // 200: left out
	health = http.StatusServiceUnavailable
	send("GET", "/api/health") // 503: kept
	send("GET", "/api/realtime")
	send("GET", "/admin/")
	send("GET", "/favicon.ico")
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := l.List(context.Background(), reqlog.ListParams{Sort: "rowid"})
	if err != nil {
		t.Fatal(err)
	}
	if got := urls(res.Items); !slices.Equal(got, []string{"/api/items/42?expand=x", "/api/any", "/api/boom", "/api/health"}) {
		t.Fatalf("logged %q", got)
	}
	items, anyReq, boom, down := res.Items[0], res.Items[1], res.Items[2], res.Items[3]
	if items.Status != 404 || items.Route != "GET /api/items/{id}" || items.Auth != "users" || items.AuthID != "u1" ||
		items.Error != "The item wasn't found." || items.Details != "" || items.Level() != reqlog.LevelWarn {
		t.Errorf("404: %+v", items)
	}
	if items.RemoteIP != "127.0.0.1" || items.UserIP != "127.0.0.1" || items.UserAgent != "test-agent" ||
		items.Referer != "https://example.com/page" || items.Method != "GET" || items.Duration <= 0 {
		t.Errorf("request details: %+v", items)
	}
	if anyReq.Status != 200 || anyReq.Route != "POST /api/any" || anyReq.Error != "" || anyReq.Level() != reqlog.LevelInfo {
		t.Errorf("200 on a pattern without a method: %+v", anyReq)
	}
	if boom.Status != 500 || boom.Details != "disk on fire" || boom.Level() != reqlog.LevelError || !strings.HasPrefix(boom.Message(), "GET /api/boom") {
		t.Errorf("500: %+v", boom)
	}
	if down.Status != 503 {
		t.Errorf("failing health check: %+v", down)
	}
}

// BenchmarkHandler is what the request log adds to a request that does
// nothing: the entry, the context, the status writer and the queue.
func BenchmarkHandler(b *testing.B) {
	l, err := reqlog.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "logs.db"),
		reqlog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqlog.FromContext(r.Context()).Route = "GET /api/x/{id}"
		w.WriteHeader(http.StatusOK)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })}, {"logged", l.Handler(h)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/x/1?fields=a", nil)
			req.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					bc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// TestHostileRequestsAreStored: what a client sends is stored as text
// either engine keeps. A byte 0xff in a path or header (or a cut through
// a character) failed the whole batch's COPY on PostgreSQL, losing every
// entry of that second; a method a hundred thousand letters long was kept
// whole, twice (in the route too). Referers are masked as URLs are.
func TestHostileRequestsAreStored(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		l := open(reqlog.Options{})
		mux := http.NewServeMux()
		mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			reqlog.FromContext(r.Context()).Route = "/api/"
			w.WriteHeader(http.StatusNotFound)
		})
		srv := httptest.NewServer(l.Handler(mux))
		defer srv.Close()
		raw := func(request string) {
			t.Helper()
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, request); err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, c)
		}
		send := func(path string, headers map[string]string) {
			t.Helper()
			var b strings.Builder
			b.WriteString("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
			for k, v := range headers {
				b.WriteString(k + ": " + v + "\r\n")
			}
			raw(b.String() + "\r\n")
		}
		send("/api/victim/1", nil)
		send("/api/attacker\xff", map[string]string{"User-Agent": "x\xff"})
		send("/api/victim/2", map[string]string{"User-Agent": strings.Repeat("a", 511) + "é"})
		send("/api/victim/3", map[string]string{"Referer": "https://app.example.com/cb?code=SECRETCODE&state=s"})
		raw(strings.Repeat("A", 100_000) + " /api/victim/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		res, err := l.List(context.Background(), reqlog.ListParams{PerPage: 50})
		if err != nil {
			t.Fatal(err)
		}
		victims := 0
		for _, e := range res.Items {
			if strings.Contains(e.URL, "victim") {
				victims++
			}
			for _, s := range []string{e.Method, e.URL, e.Route, e.UserAgent, e.Referer} {
				if !utf8.ValidString(s) {
					t.Errorf("invalid UTF-8 stored: %q", s)
				}
			}
			if len(e.Method) > 32 || len(e.Route) > 64 {
				t.Errorf("method of %d bytes, route of %d kept", len(e.Method), len(e.Route))
			}
			if strings.Contains(e.Referer, "SECRETCODE") {
				t.Errorf("a code in a referer kept: %s", e.Referer)
			}
		}
		if victims != 4 || len(res.Items) != 5 {
			t.Errorf("%d entries stored, %d of the 4 others'", len(res.Items), victims)
		}
	})
}
