package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// An SMTP password saved under one encryption key and read under another
// (a lost key file, a changed TORTOISE_ENCRYPTION_KEY) breaks sending mail,
// with the reason logged, and nothing else: logins read the settings for
// the rate limiter, which never need the secret.
func TestLoginsSurviveUndecryptableSMTPSecret(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			if engine == "postgres" {
				testkit.PostgresURL(t) // skip early without a database
			}
			s := testkit.NewServer(t, engine)
			s = s.Restart(func(c *config.Config) { c.EncryptionKey = "the-first-key" })
			usersSchema(t, s, "")
			liftLimits(t, s)
			signUp(t, s, "ann@example.com", "ann-password-1")
			s.Super("PATCH", "/api/settings", map[string]any{"smtp": map[string]any{
				"enabled": true, "host": "smtp.invalid", "port": 587, "username": "mailer", "password": "s3cret-pass"}}, 200, nil)

			s = s.Restart(func(c *config.Config) { c.EncryptionKey = "another-key" })
			base := "/api/collections/users/"
			var ann struct{ Token string }
			s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 200, &ann)
			s.Do("POST", base+"auth-refresh", ann.Token, nil, 200, nil)
			s.Super("POST", "/api/collections/_superusers/auth-refresh", nil, 200, nil)
			s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "wrong-password"}, 400, nil)
			var st struct{ SMTP map[string]any }
			s.Super("GET", "/api/settings", nil, 200, &st)
			if st.SMTP["host"] != "smtp.invalid" || st.SMTP["password"] != "" {
				t.Errorf("settings: %v", st.SMTP)
			}

			// Mail sent after the answer: the answer is the same as ever, the
			// failure is in the log.
			s.Do("POST", base+"request-password-reset", "", map[string]any{"email": "ann@example.com"}, 204, nil)
			s.Do("POST", base+"request-verification", "", map[string]any{"email": "ann@example.com"}, 204, nil)
			const logged = "the SMTP password in the settings cannot be decrypted"
			for deadline := time.Now().Add(10 * time.Second); strings.Count(s.Logs(), logged) < 2; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the failures were not logged twice; log:\n%s", s.Logs())
				}
			}
			// Mail sent before the answer: unavailable, saying why.
			var e errBody
			s.Do("POST", base+"request-email-change", ann.Token, map[string]any{"newEmail": "ann2@example.com"}, 503, &e)
			if !strings.Contains(e.Message, "SMTP password") || !strings.Contains(e.Message, "encryption key") {
				t.Errorf("message: %q", e.Message)
			}

			// Entering the password again mends mail.
			s.Super("PATCH", "/api/settings", map[string]any{"smtp": map[string]any{"password": "new-pass"}}, 200, nil)
			got, err := s.App.Settings.MailSettings(context.Background())
			if err != nil || got.SMTP.Password != "new-pass" {
				t.Errorf("after a new password: %q %v", got.SMTP.Password, err)
			}
		})
	}
}
