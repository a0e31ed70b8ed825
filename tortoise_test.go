package tortoise_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/service"
)

// Secrets saved in the settings are readable after a restart: the SQLite
// data folder keeps its own encryption key, readable by the owner only.
func TestEncryptionKeyFileSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.Config{Dir: t.TempDir(), LogLevel: "warn"}
	app, err := tortoise.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	patch := `{"smtp":{"enabled":true,"host":"mail.example.com","port":587,"password":"pw-123"}}`
	if _, err := app.Settings.UpdateSettings(ctx, []byte(patch)); err != nil {
		t.Fatal(err)
	}
	app.Close(ctx)
	info, err := os.Stat(filepath.Join(cfg.Dir, ".encryption_key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	app, err = tortoise.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	st, err := app.Settings.MailSettings(ctx)
	if err != nil || st.SMTP.Password != "pw-123" {
		t.Fatalf("after restart: %+v %v", st.SMTP, err)
	}
}

// Scaled out: two processes on one PostgreSQL database. A collection made,
// changed or dropped through one is served by the other without a restart.
func TestSchemaChangesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	url := testkit.PostgresDatabase(t)
	ctx := context.Background()
	open := func() *tortoise.App {
		app, err := tortoise.New(ctx, config.Config{Dir: t.TempDir(), DatabaseURL: url, LogLevel: "warn"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close(ctx) })
		return app
	}
	a, b := open(), open()
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("the other process never saw: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := a.Collections.Create(ctx, []byte(`{"name":"notes","fields":[{"name":"text","type":"text"}]}`)); err != nil {
		t.Fatal(err)
	}
	eventually("the new collection", func() bool { _, err := b.Service.Collection("notes"); return err == nil })
	if _, err := a.Collections.Update(ctx, "notes", []byte(`{"fields":[{"name":"text","type":"text"},{"name":"mood","type":"text"}]}`)); err != nil {
		t.Fatal(err)
	}
	eventually("the new field", func() bool {
		c, err := b.Service.Collection("notes")
		return err == nil && c.Field("mood") != nil
	})
	c, _ := b.Service.Collection("notes")
	if _, err := b.Records.Create(ctx, &service.Request{Superuser: true}, c, map[string]any{"text": "hi", "mood": "good"}); err != nil {
		t.Fatalf("write through the other process: %v", err)
	}
	if err := a.Collections.Delete(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	eventually("the dropped collection", func() bool { _, err := b.Service.Collection("notes"); return err != nil })
}
