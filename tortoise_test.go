package tortoise_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
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
	if _, err := app.Service.UpdateSettings(ctx, []byte(patch)); err != nil {
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
	st, err := app.Service.Settings(ctx)
	if err != nil || st.SMTP.Password != "pw-123" {
		t.Fatalf("after restart: %+v %v", st.SMTP, err)
	}
}
