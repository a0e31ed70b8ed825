package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/tortoise-dev/tortoise"
)

// runSuperuser handles `tortoise superuser upsert EMAIL PASSWORD`. It opens
// the database directly, so it works whether or not a server is running
// (SQLite's WAL lets both write safely).
func runSuperuser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "upsert" {
		fmt.Fprintln(stderr, "usage: tortoise superuser upsert EMAIL PASSWORD [--dir DIR] [--db URL]")
		return errUsage
	}
	fs := flag.NewFlagSet("superuser upsert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var d dbFlags
	d.register(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return errUsage
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: tortoise superuser upsert EMAIL PASSWORD [--dir DIR] [--db URL]")
		return errUsage
	}
	cfg, err := loadConfig(d.apply)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := tortoise.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close(ctx)
	rec, err := app.Auth.UpsertSuperuser(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Superuser %s (%s) saved.\n", rec.String("email"), rec.ID())
	return nil
}
