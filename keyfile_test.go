package tortoise_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
)

// startStop starts and closes an app on cfg, failing the test if it cannot.
func startStop(t *testing.T, cfg config.Config, settings string) {
	t.Helper()
	ctx := context.Background()
	app, err := tortoise.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if settings != "" {
		if _, err := app.Settings.UpdateSettings(ctx, []byte(settings)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A key file a crash left empty (or blank) stops the start with what to do,
// rather than running with a key derived from nothing; the file is left as
// it is.
func TestEmptyEncryptionKeyRefusesToStart(t *testing.T) {
	t.Parallel()
	for name, contents := range map[string]string{
		"empty":           "",
		"whitespace-only": " \n\t\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Config{Dir: t.TempDir(), LogLevel: "warn"}
			startStop(t, cfg, "")
			path := filepath.Join(cfg.Dir, ".encryption_key")
			if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
				t.Fatal(err)
			}
			app, err := tortoise.New(context.Background(), cfg, nil)
			if err == nil {
				app.Close(context.Background())
				t.Fatal("started with an empty key file")
			}
			for _, want := range []string{"the encryption key file " + path + " is empty", "restore it from a backup", "TORTOISE_ENCRYPTION_KEY"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != contents {
				t.Errorf("key file changed: %q %v", b, err)
			}
		})
	}
}

// A missing key file is created anew only while no secret was saved with
// the old one; an unreadable one stops the start.
func TestMissingOrUnreadableEncryptionKey(t *testing.T) {
	t.Parallel()
	smtp := `{"smtp":{"enabled":true,"host":"mail.example.com","port":587,"password":"pw-123"}}`
	for name, tc := range map[string]struct {
		settings string                  // saved before the key file is damaged
		damage   func(path string) error // what happens to the key file
		wantErr  string                  // "": starts
	}{
		"missing, no secrets": {
			damage: os.Remove,
		},
		"missing, secrets saved": {
			settings: smtp, damage: os.Remove,
			wantErr: "is missing, but the settings hold secrets saved with it: restore it from a backup, or set TORTOISE_ENCRYPTION_KEY",
		},
		"unreadable": {
			damage: func(path string) error {
				if err := os.Remove(path); err != nil {
					return err
				}
				return os.Mkdir(path, 0o700) // reading a directory fails, even as root
			},
			wantErr: "read the encryption key file",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Config{Dir: t.TempDir(), LogLevel: "warn"}
			startStop(t, cfg, tc.settings)
			path := filepath.Join(cfg.Dir, ".encryption_key")
			if err := tc.damage(path); err != nil {
				t.Fatal(err)
			}
			app, err := tortoise.New(context.Background(), cfg, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				app.Close(context.Background())
				if b, err := os.ReadFile(path); err != nil || strings.TrimSpace(string(b)) == "" {
					t.Errorf("no new key file: %q %v", b, err)
				}
				return
			}
			if err == nil {
				app.Close(context.Background())
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say %q about %s", err, tc.wantErr, path)
			}
		})
	}
}

// A configured key of only spaces is refused, not used.
func TestBlankEncryptionKeyRefusesToStart(t *testing.T) {
	t.Parallel()
	cfg := config.Config{Dir: t.TempDir(), LogLevel: "warn", EncryptionKey: "  "}
	app, err := tortoise.New(context.Background(), cfg, nil)
	if err == nil {
		app.Close(context.Background())
		t.Fatal("started with a blank key")
	}
	if !strings.Contains(err.Error(), "TORTOISE_ENCRYPTION_KEY is blank") {
		t.Errorf("error: %v", err)
	}
}
