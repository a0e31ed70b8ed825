package settings_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// open returns a fresh store of each engine.
func open(t *testing.T, engine string) store.Store {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if engine == "postgres" {
		st, err = postgres.Open(ctx, testkit.PostgresDatabase(t))
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "data.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func key() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// The SMTP password is stored sealed, shown to nobody, opened only to send
// mail, and a key it was not sealed with fails mail alone.
func TestSettingsKeepTheSMTPPasswordSealed(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t, engine)
			s, err := settings.New(st, settings.Options{EncryptionKey: key()})
			if err != nil {
				t.Fatal(err)
			}
			def, err := s.Settings(ctx)
			if err != nil || def.Meta.AppName == "" || !def.RateLimits.Enabled {
				t.Fatalf("defaults: %+v %v", def, err)
			}
			if _, err := s.UpdateSettings(ctx, []byte(`{"smtp":{"enabled":true,"host":"mail.example.com","password":"s3cret-pw"}}`)); err != nil {
				t.Fatal(err)
			}
			raw, err := st.Param(ctx, "settings")
			if err != nil || strings.Contains(string(raw), "s3cret-pw") {
				t.Fatalf("stored in the clear: %s %v", raw, err)
			}
			shown, _ := s.Settings(ctx)
			if shown.SMTP.Password != "" || shown.SMTP.Host != "mail.example.com" {
				t.Fatalf("shown: %+v", shown.SMTP)
			}
			mail, err := s.MailSettings(ctx)
			if err != nil || mail.SMTP.Password != "s3cret-pw" {
				t.Fatalf("mail settings: %+v %v", mail.SMTP, err)
			}
			other, _ := settings.New(st, settings.Options{EncryptionKey: key()})
			if _, err := other.MailSettings(ctx); core.KindOf(err) != core.KindUnavailable {
				t.Fatalf("another key: %v", err)
			}
			if _, err := other.Settings(ctx); err != nil {
				t.Fatalf("settings under another key: %v", err)
			}
			if ok, err := settings.HasEncryptedSecrets(ctx, st); !ok || err != nil {
				t.Fatalf("HasEncryptedSecrets = %v, %v", ok, err)
			}
			// Bad input names what is wrong and changes nothing.
			if _, err := s.UpdateSettings(ctx, []byte(`{"smtp":{"port":"x"}}`)); core.KindOf(err) != core.KindInvalid {
				t.Fatalf("bad port: %v", err)
			}
			if after, _ := s.Settings(ctx); after.SMTP.Port != shown.SMTP.Port {
				t.Fatalf("half-applied: %d", after.SMTP.Port)
			}
		})
	}
}
