// Command tortoise runs the Tortoise backend: `tortoise serve` starts the
// server, `tortoise superuser upsert` manages superusers. It parses flags
// and calls into package tortoise; everything else lives there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tortoise-dev/tortoise/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "tortoise:", err)
		}
		os.Exit(1)
	}
}

// errUsage means usage was already printed.
var errUsage = errors.New("usage")

const usage = `Tortoise: a startup's whole backend in one binary.

Usage:
  tortoise serve [--http 127.0.0.1:8090] [--dir ./tortoise_data] [--db URL]
  tortoise superuser upsert EMAIL PASSWORD [--dir DIR] [--db URL]
  tortoise version
  tortoise help

Without --db, data lives in SQLite in the data folder. With --db (or
TORTOISE_DATABASE_URL) set to a postgres:// URL, it lives in PostgreSQL.
Environment variables (flags win over them):
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, e := range config.Env {
		fmt.Fprintf(w, "  %-29s %s\n", e.Name, e.Usage)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return errUsage
	}
	switch args[0] {
	case "serve":
		m := NewMain()
		m.Stdout, m.Stderr = stdout, stderr
		return m.Serve(ctx, args[1:])
	case "superuser":
		return runSuperuser(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		return runVersion(stdout)
	case "help", "--help", "-h":
		printUsage(stdout)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n", args[0])
	printUsage(stderr)
	return errUsage
}

// dbFlags are the flags every command that opens the database takes.
type dbFlags struct {
	dir, db string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dir, "dir", "", "data folder (default ./tortoise_data, or TORTOISE_DIR)")
	fs.StringVar(&d.db, "db", "", "PostgreSQL URL (default: SQLite in the data folder, or TORTOISE_DATABASE_URL)")
}

// apply overlays the flags that were given on cfg.
func (d *dbFlags) apply(cfg *config.Config) {
	if d.dir != "" {
		cfg.Dir = d.dir
	}
	if d.db != "" {
		cfg.DatabaseURL = d.db
	}
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("upsert EMAIL PASSWORD --dir x") and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// loadConfig builds the config from the environment, then the flags.
func loadConfig(apply func(*config.Config)) (config.Config, error) {
	cfg, err := config.Config{}.FromEnv(nil)
	if err != nil {
		return cfg, err
	}
	apply(&cfg)
	cfg = cfg.WithDefaults()
	return cfg, cfg.Validate()
}
