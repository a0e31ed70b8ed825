package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/config"
)

// Main is the serve command as a value, so end-to-end tests can boot the
// real binary's code on a free port and shut it down.
type Main struct {
	Config config.Config
	App    *tortoise.App
	Stdout io.Writer
	Stderr io.Writer
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// ParseFlags reads serve's flags and the environment into m.Config.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var d dbFlags
	httpAddr := fs.String("http", "", "address to listen on (default 127.0.0.1:8090, or TORTOISE_HTTP)")
	role := fs.String("role", "", "all (API and background jobs, the default), api or worker (or TORTOISE_ROLE)")
	d.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", pos)
	}
	m.Config, err = loadConfig(func(c *config.Config) {
		d.apply(c)
		if *httpAddr != "" {
			c.HTTP = *httpAddr
		}
		if *role != "" {
			c.Role = *role
		}
		c.Exclusive = true // one server per SQLite data folder
	})
	return err
}

// Run opens the app and starts serving in the background.
func (m *Main) Run(ctx context.Context) error {
	var level slog.Level
	_ = level.UnmarshalText([]byte(m.Config.LogLevel))
	log := slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	app, err := tortoise.New(ctx, m.Config, log)
	if err != nil {
		return err
	}
	where := "sqlite " + m.Config.SQLitePath()
	if m.Config.IsPostgres() {
		where = "postgres"
	}
	if !m.Config.ServesAPI() {
		if err := app.StartJobs(ctx); err != nil {
			app.Close(ctx)
			return err
		}
		m.App = app
		log.Info("tortoise is running jobs", "role", m.Config.Role, "database", where, "version", tortoise.Version)
		fmt.Fprintf(m.Stdout, "Tortoise %s running background jobs (role worker; data: %s)\n", tortoise.Version, where)
		return nil
	}
	if err := app.Listen(); err != nil {
		app.Close(ctx)
		return err
	}
	if err := app.StartJobs(ctx); err != nil {
		app.Close(ctx)
		return err
	}
	m.App = app
	go func() {
		if err := app.Serve(); err != nil {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("tortoise is serving", "addr", "http://"+app.Addr(), "database", where, "version", tortoise.Version)
	fmt.Fprintf(m.Stdout, "Tortoise %s serving the REST API at http://%s/api/ (data: %s)\n", tortoise.Version, app.Addr(), where)
	return nil
}

// Close shuts down gracefully: in-flight requests finish, queued writes are
// committed, the database is closed.
func (m *Main) Close() error {
	if m.App == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return m.App.Close(ctx)
}

// Serve runs until ctx is done (SIGINT or SIGTERM in main).
func (m *Main) Serve(ctx context.Context, args []string) error {
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	// The process is ours: let bcrypt add a P while it runs, unless the
	// operator chose GOMAXPROCS (see passwords.SetExtraProcs).
	passwords.SetExtraProcs(os.Getenv("GOMAXPROCS") == "")
	if err := m.Run(ctx); err != nil {
		return err
	}
	if m.Config.PprofAddr != "" {
		if err := servePprof(ctx, m.Config.PprofAddr, m.Stderr); err != nil {
			m.Close()
			return err
		}
	}
	<-ctx.Done()
	fmt.Fprintln(m.Stdout, "shutting down…")
	return m.Close()
}

// servePprof serves Go's profiler on addr until ctx is done: on its own
// listener, so the API's routes, limits and timeouts never see it.
func servePprof(ctx context.Context, addr string, log io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("TORTOISE_PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln)
	fmt.Fprintf(log, "Go profiler at http://%s/debug/pprof/\n", ln.Addr())
	return nil
}
