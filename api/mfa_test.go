package api_test

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

func TestMFA(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		base := "/api/collections/users/"
		ann := signUp(t, s, "ann@example.com", "ann-password-1")
		signUp(t, s, "bob@example.com", "bob-password-1")
		// MFA for verified users: password plus a mailed code.
		s.Super("PATCH", "/api/collections/users", map[string]any{
			"mfa": map[string]any{"enabled": true, "duration": 600, "rule": "verified = true"},
			"otp": map[string]any{"enabled": true, "duration": 180, "length": 6},
		}, 200, nil)
		s.Super("PATCH", base+"records/"+ann.Record["id"].(string), map[string]any{"verified": true}, 200, nil)

		var methods struct{ MFA struct{ Enabled bool } }
		s.Do("GET", base+"auth-methods", "", nil, 200, &methods)
		if !methods.MFA.Enabled {
			t.Errorf("auth-methods: mfa not shown as enabled")
		}
		// Bob is not covered by the rule: one factor is enough.
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "bob@example.com", "password": "bob-password-1"}, 200, nil)

		// Ann's first factor answers 401 with an mfaId, and no token.
		var first struct {
			MFAID string
			Token string
		}
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 401, &first)
		if first.MFAID == "" || first.Token != "" {
			t.Fatalf("first factor: %+v", first)
		}
		// The same method twice is not two factors.
		r := s.Request("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1", "mfaId": first.MFAID})
		if r.Status != 400 {
			t.Errorf("password twice: %d %s", r.Status, r.Body)
		}
		// Another user's mfaId does not help.
		var bobFirst struct{ MFAID string }
		s.Super("PATCH", "/api/collections/users", map[string]any{"mfa": map[string]any{"enabled": true, "duration": 600, "rule": ""}}, 200, nil)
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "bob@example.com", "password": "bob-password-1"}, 401, &bobFirst)

		otp := func(mfaID string) testkit.Response {
			var o struct{ OTPID string }
			prev := ""
			if m, err := s.App.Settings.Mailbox().Latest("ann@example.com"); err == nil {
				prev = m.ID
			}
			s.Do("POST", base+"request-otp", "", map[string]any{"email": "ann@example.com"}, 200, &o)
			code := mailed(t, nextMail(t, s, "ann@example.com", prev), otpCode)
			return s.Request("POST", base+"auth-with-otp", "", map[string]any{"otpId": o.OTPID, "password": code, "mfaId": mfaID})
		}
		if r := otp(bobFirst.MFAID); r.Status != 400 {
			t.Errorf("another user's mfaId: %d %s", r.Status, r.Body)
		}
		// The second method with Ann's mfaId completes the login.
		var second struct {
			Token  string
			Record map[string]any
		}
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 401, &first)
		decode(t, otp(first.MFAID), 200, &second)
		if second.Token == "" || second.Record["id"] != ann.Record["id"] {
			t.Fatalf("second factor: %+v", second)
		}
		// An mfaId works once.
		if r := otp(first.MFAID); r.Status != 400 {
			t.Errorf("reused mfaId: %d %s", r.Status, r.Body)
		}
	})
}

func TestLoginAlert(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		s.Super("PATCH", "/api/collections/users", map[string]any{"authAlert": map[string]any{"enabled": true}}, 200, nil)
		signUp(t, s, "ann@example.com", "ann-password-1") // first login: nothing to compare with
		login := func(agent string) {
			s.RequestWithHeaders("POST", "/api/collections/users/auth-with-password", map[string]string{"User-Agent": agent},
				map[string]any{"identity": "ann@example.com", "password": "ann-password-1"})
		}
		last := func() string {
			if m, err := s.App.Settings.Mailbox().Latest("ann@example.com"); err == nil {
				return m.ID
			}
			return ""
		}
		login("Go-http-client/1.1") // the same place as the sign-up login
		noMail(t, s, "ann@example.com", "")
		login("NewPhone/1.0")
		m := nextMail(t, s, "ann@example.com", "")
		if !strings.Contains(m.Text, "NewPhone/1.0") || !strings.Contains(m.Subject, "new location") {
			t.Errorf("alert mail: %s\n%s", m.Subject, m.Text)
		}
		seen := last()
		login("NewPhone/1.0") // known now: no second alert
		noMail(t, s, "ann@example.com", seen)
	})
}
