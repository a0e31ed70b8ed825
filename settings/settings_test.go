package settings_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// The S3 secrets are sealed like the SMTP password: never shown, kept
// when the settings come back whole (empty or masked), replaced when a new
// one is sent, opened only by the S3 getters; S3 cannot be enabled
// without one.
func TestSettingsKeepTheS3SecretsSealed(t *testing.T) {
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
			s3 := map[string]any{"enabled": true, "bucket": "files", "region": "eu-1", "endpoint": "http://127.0.0.1:9000", "accessKey": "AK"}
			_, err = s.UpdateSettings(ctx, mustJSON(t, map[string]any{"s3": s3}))
			if testkit.FieldCode(err, "s3.secret") != "validation_required" {
				t.Fatalf("enabled without a secret: %v", err)
			}
			s3["secret"] = "first-secret"
			bs3 := map[string]any{"enabled": false, "secret": "backup-secret"}
			shown, err := s.UpdateSettings(ctx, mustJSON(t, map[string]any{"s3": s3, "backups": map[string]any{"s3": bs3}}))
			if err != nil {
				t.Fatal(err)
			}
			if shown.S3.Secret != "" || shown.Backups.S3.Secret != "" || shown.S3.Bucket != "files" {
				t.Fatalf("shown: %+v %+v", shown.S3, shown.Backups.S3)
			}
			raw, _ := st.Param(ctx, "settings")
			if strings.Contains(string(raw), "first-secret") || strings.Contains(string(raw), "backup-secret") {
				t.Fatalf("stored in the clear: %s", raw)
			}
			for _, back := range []string{"", "******"} {
				whole := shown
				whole.S3.Secret = back
				whole.Meta.AppName = "Round trip " + back
				if _, err := s.UpdateSettings(ctx, mustJSON(t, whole)); err != nil {
					t.Fatalf("whole settings back with %q: %v", back, err)
				}
				if got, err := s.S3(ctx); err != nil || got.Secret != "first-secret" || got.AccessKey != "AK" {
					t.Fatalf("after sending %q back: %+v %v", back, got, err)
				}
			}
			if got, err := s.BackupsS3(ctx); err != nil || got.Secret != "backup-secret" {
				t.Fatalf("backups secret: %+v %v", got, err)
			}
			if _, err := s.UpdateSettings(ctx, []byte(`{"s3":{"secret":"second-secret"}}`)); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.S3(ctx); got.Secret != "second-secret" {
				t.Fatalf("new secret: %q", got.Secret)
			}
			if ok, _ := settings.HasEncryptedSecrets(ctx, st); !ok {
				t.Fatal("HasEncryptedSecrets = false")
			}
			other, _ := settings.New(st, settings.Options{EncryptionKey: key()})
			if _, err := other.S3(ctx); core.KindOf(err) != core.KindUnavailable || !strings.Contains(err.Error(), "s3.secret") {
				t.Fatalf("another key: %v", err)
			}
		})
	}
}

// Current serves one cached value until the refresh interval passes or
// the settings change through the same Service; a change made elsewhere
// (another process) shows once the interval has passed.
func TestCurrentCachesTheSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, "sqlite")
	here, _ := settings.New(st, settings.Options{Refresh: time.Hour})
	elsewhere, _ := settings.New(st, settings.Options{})
	a, err := here.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := here.Current(ctx); a != b {
		t.Fatal("Current read the store again within the refresh interval")
	}
	if _, err := elsewhere.UpdateSettings(ctx, []byte(`{"batch":{"enabled":true,"maxRequests":7}}`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := elsewhere.Batch(ctx); !b.Enabled || b.MaxRequests != 7 || b.TimeoutDuration() != 3*time.Second || b.BodyLimit() != settings.DefaultBatchMaxBodySize {
		t.Fatalf("Batch after a change through the same Service: %+v", b)
	}
	if b, _ := here.Batch(ctx); b.Enabled {
		t.Fatal("a change made elsewhere showed before the refresh interval")
	}
	if _, err := here.UpdateSettings(ctx, []byte(`{"meta":{"appName":"Here"}}`)); err != nil {
		t.Fatal(err)
	}
	c, _ := here.Current(ctx)
	if c.Meta.AppName != "Here" || !c.Batch.Enabled {
		t.Fatalf("after a change here: %+v", c)
	}
	fresh, _ := settings.New(st, settings.Options{Refresh: time.Millisecond})
	fresh.Current(ctx)
	if _, err := here.UpdateSettings(ctx, []byte(`{"meta":{"appName":"Later"}}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	fresh.Current(ctx) // starts the refresh, may still serve the old value
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, _ := fresh.Current(ctx); c.Meta.AppName == "Later" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a change made elsewhere never showed")
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Current is safe to call from many goroutines while the settings change
// (run with -race); once the changes are done, everyone sees the last one.
func TestCurrentUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, "sqlite")
	s, _ := settings.New(st, settings.Options{Refresh: time.Millisecond})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if c, err := s.Current(ctx); err != nil || c.Meta.AppName == "" {
					t.Errorf("Current: %v %v", c, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		if _, err := s.UpdateSettings(ctx, []byte(`{"meta":{"appName":"v`+strconv.Itoa(i)+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if c, _ := s.Current(ctx); c.Meta.AppName != "v19" {
		t.Fatalf("after the changes: %q", c.Meta.AppName)
	}
}
