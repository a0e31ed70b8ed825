package api_test

import (
	"context"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		type sections struct {
			Meta, SMTP, RateLimits map[string]any
		}
		var st sections
		s.Super("GET", "/api/settings", nil, 200, &st)
		if st.Meta["appName"] != "Tortoise" || st.RateLimits["enabled"] != true {
			t.Errorf("defaults: %v", st)
		}
		s.Do("GET", "/api/settings", "", nil, 401, nil)
		s.Do("PATCH", "/api/settings", "", map[string]any{"meta": map[string]any{"appName": "x"}}, 401, nil)
		usersSchema(t, s, "")
		u := signUp(t, s, "u@example.com", "u-password-123")
		s.Do("GET", "/api/settings", u.Token, nil, 403, nil)

		s.Super("PATCH", "/api/settings", map[string]any{"meta": map[string]any{"appName": "Acme", "appURL": "https://acme.example"}}, 200, &st)
		if st.Meta["appName"] != "Acme" || st.Meta["senderAddress"] != "no-reply@example.com" {
			t.Errorf("merge: %v", st.Meta)
		}
		for name, tc := range map[string]struct {
			body  map[string]any
			field string
		}{
			"relative app url":  {map[string]any{"meta": map[string]any{"appURL": "/x"}}, "meta.appURL"},
			"script app url":    {map[string]any{"meta": map[string]any{"appURL": "javascript:alert(1)"}}, "meta.appURL"},
			"bad sender":        {map[string]any{"meta": map[string]any{"senderAddress": "nope"}}, "meta.senderAddress"},
			"unknown key":       {map[string]any{"nope": 1}, "nope"},
			"wrong type":        {map[string]any{"smtp": map[string]any{"port": "x"}}, "smtp.port"},
			"smtp without host": {map[string]any{"smtp": map[string]any{"enabled": true, "host": ""}}, "smtp.host"},
			"bad proxy":         {map[string]any{"trustedProxies": []string{"10.0.0.0/8", "not-an-ip"}}, "trustedProxies.1"},
			"bad limit":         {map[string]any{"rateLimits": map[string]any{"rules": []any{map[string]any{"label": "auth", "maxRequests": 0, "duration": 60}}}}, "rateLimits.rules.0.maxRequests"},
		} {
			var e errBody
			s.Super("PATCH", "/api/settings", tc.body, 400, &e)
			if e.Data[tc.field].Code == "" {
				t.Errorf("%s: want data.%s, got %+v", name, tc.field, e)
			}
		}
		smtp := map[string]any{"smtp": map[string]any{"enabled": true, "host": "smtp.example.com", "port": 465, "tls": true, "username": "mailer", "password": "s3cret-pass"}}
		if s.App.Config.IsPostgres() && s.App.Config.EncryptionKey == "" {
			// Without a shared key, processes could not read the secret back.
			s.Super("PATCH", "/api/settings", smtp, 400, nil)
			return
		}
		s.Super("PATCH", "/api/settings", smtp, 200, &st)
		if st.SMTP["password"] != "" || st.SMTP["host"] != "smtp.example.com" {
			t.Errorf("smtp shown: %v", st.SMTP)
		}
		got, err := s.App.Settings.MailSettings(context.Background())
		if err != nil || got.SMTP.Password != "s3cret-pass" || got.Meta.AppName != "Acme" {
			t.Errorf("stored settings: %+v %v", got, err)
		}
		// A later change that leaves the password out keeps it.
		s.Super("PATCH", "/api/settings", map[string]any{"smtp": map[string]any{"port": 2465}}, 200, nil)
		if got, _ := s.App.Settings.MailSettings(context.Background()); got.SMTP.Password != "s3cret-pass" || got.SMTP.Port != 2465 {
			t.Errorf("after partial change: %+v", got.SMTP)
		}
	})
}
