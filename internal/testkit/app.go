package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
)

// Engines lists the databases tests run against: "sqlite" always,
// "postgres" when TORTOISE_TEST_POSTGRES is set (or under CI).
func Engines() []string { return []string{"sqlite", "postgres"} }

// Server is a Tortoise app served over real HTTP for one test, with a
// superuser logged in.
type Server struct {
	t     testing.TB
	App   *tortoise.App
	URL   string
	Token string // superuser token

	engine string
	logs   *logBuffer
	stop   func() // closes the HTTP server and the app, once
}

// SuperuserEmail and SuperuserPassword are the test server's superuser.
const (
	SuperuserEmail    = "root@example.com"
	SuperuserPassword = "root-password-123"
)

// NewServer boots a Tortoise app on engine ("sqlite" in a temp dir, or
// "postgres" in a fresh database), creates a superuser and logs it in.
func NewServer(t testing.TB, engine string) *Server {
	t.Helper()
	cfg := config.Config{Dir: t.TempDir()}
	if engine == "postgres" {
		cfg.DatabaseURL = PostgresDatabase(t)
	}
	return boot(t, engine, cfg)
}

// testBcrypt lifts the process-wide cap on bcrypt computations: the tests
// of a package share one process and run in parallel, and under the race
// detector bcrypt is slow enough that the production cap (CPUs - 1) would
// queue every test's logins behind each other's.
const testBcrypt = 64

// NewApp opens a Tortoise app on engine without serving it, for the tests
// of the service layer's packages; it is closed when the test ends.
func NewApp(t testing.TB, engine string) *tortoise.App {
	t.Helper()
	cfg := config.Config{Dir: t.TempDir(), LogLevel: "warn", MaxBcrypt: testBcrypt}
	if engine == "postgres" {
		cfg.DatabaseURL = PostgresDatabase(t)
	}
	log := slog.New(slog.NewTextHandler(&logBuffer{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := tortoise.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("open tortoise on %s: %v", engine, err)
	}
	t.Cleanup(func() {
		if err := app.Close(context.Background()); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return app
}

// EachApp runs fn in a parallel subtest per engine, each with an app of
// its own (see NewApp); t itself is marked parallel.
func EachApp(t *testing.T, fn func(t *testing.T, app *tortoise.App)) {
	t.Helper()
	t.Parallel()
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, NewApp(t, engine))
		})
	}
}

// Restart closes s's app and boots a new one on the same data folder and
// database, with its config changed by change (nil: unchanged), as an
// operator restarting the server would. The superuser is logged in again.
func (s *Server) Restart(change func(*config.Config)) *Server {
	s.t.Helper()
	s.stop()
	cfg := s.App.Config
	if change != nil {
		change(&cfg)
	}
	return boot(s.t, s.engine, cfg)
}

func boot(t testing.TB, engine string, cfg config.Config) *Server {
	t.Helper()
	cfg.LogLevel = "warn"
	cfg.MaxBcrypt = testBcrypt
	ctx := context.Background()
	logs := &logBuffer{t: t}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := tortoise.New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start tortoise on %s: %v", engine, err)
	}
	hs := httptest.NewServer(app.API)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			hs.Close()
			if err := app.Close(context.Background()); err != nil {
				t.Errorf("close app: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	if _, err := app.Auth.UpsertSuperuser(ctx, SuperuserEmail, SuperuserPassword); err != nil {
		t.Fatalf("create superuser: %v", err)
	}
	s := &Server{t: t, App: app, URL: hs.URL, engine: engine, logs: logs, stop: stop}
	var auth struct{ Token string }
	s.Do("POST", "/api/collections/_superusers/auth-with-password", "",
		map[string]any{"identity": SuperuserEmail, "password": SuperuserPassword}, 200, &auth)
	s.Token = auth.Token
	return s
}

// Logs returns the warnings and errors the app has logged so far.
func (s *Server) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.b.String()
}

// With returns a copy of s that reports through t, for use inside
// subtests and fuzz targets.
func (s *Server) With(t testing.TB) *Server {
	c := *s
	c.t = t
	return &c
}

// logBuffer shows the app's log in the test's output and keeps it for
// Logs.
type logBuffer struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Response is a raw HTTP answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// RequestWithHeaders sends a JSON request without a token and with extra headers.
func (s *Server) RequestWithHeaders(method, path string, headers map[string]string, body any) Response {
	s.t.Helper()
	return s.send(method, path, "", headers, body)
}

// Request sends a request with an optional token and body (a []byte or
// string is sent as is, anything else as JSON) and returns the answer.
func (s *Server) Request(method, path, token string, body any) Response {
	s.t.Helper()
	return s.send(method, path, token, nil, body)
}

func (s *Server) send(method, path, token string, headers map[string]string, body any) Response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// Do sends a request, requires the status, and decodes the JSON answer into
// out (when out is not nil).
func (s *Server) Do(method, path, token string, body any, status int, out any) Response {
	s.t.Helper()
	resp := s.Request(method, path, token, body)
	if resp.Status != status {
		s.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, resp.Status, status, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, resp.Body, err)
		}
	}
	return resp
}

// Super is Do with the superuser's token.
func (s *Server) Super(method, path string, body any, status int, out any) Response {
	s.t.Helper()
	return s.Do(method, path, s.Token, body, status, out)
}
