package api_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/service"
)

// liftLimits raises the per-IP limits of the auth flows, for tests that
// make many requests from one address. Per-account limits stay.
func liftLimits(t *testing.T, s *testkit.Server) {
	t.Helper()
	var rules []any
	for _, label := range []string{"auth", "signup", "reset", "otp"} {
		rules = append(rules, map[string]any{"label": label, "maxRequests": 1000, "duration": 60})
	}
	s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": rules}}, 200, nil)
}

// nextMail waits for a mail to the address newer than the one with id
// prev ("" for none), as the flows send mail in the background.
func nextMail(t *testing.T, s *testkit.Server, to, prev string) *mail.Stored {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := s.App.Settings.Mailbox().Latest(to)
		if err == nil && m.ID != prev {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s (last error: %v)", to, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noMail checks that no mail to the address arrives, or none newer than prev.
func noMail(t *testing.T, s *testkit.Server, to, prev string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if m, err := s.App.Settings.Mailbox().Latest(to); err == nil && m.ID != prev {
		t.Errorf("unexpected mail to %s: %s", to, m.Subject)
	}
}

var (
	linkToken = regexp.MustCompile(`/_/#/auth/confirm-[a-z-]+/(\S+)`)
	otpCode   = regexp.MustCompile(`one-time password is: (\d+)`)
)

// mailed returns the first group of re in the mail's text.
func mailed(t *testing.T, m *mail.Stored, re *regexp.Regexp) string {
	t.Helper()
	g := re.FindStringSubmatch(m.Text)
	if g == nil {
		t.Fatalf("no %s in mail %q", re, m.Text)
	}
	return g[1]
}

// forgeToken signs a mail token for the record id of users with its real
// key (ttl may be negative: an expired token).
func forgeToken(t *testing.T, s *testkit.Server, id, typ string, ttl time.Duration) string {
	t.Helper()
	c, err := s.App.Service.Collection("users")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.App.Records.Get(context.Background(), &service.Request{Superuser: true}, c, id)
	if err != nil {
		t.Fatal(err)
	}
	secret := map[string]string{tokens.TypeVerification: c.Auth.VerificationToken.Secret,
		tokens.TypePasswordReset: c.Auth.PasswordResetToken.Secret}[typ]
	tok, err := tokens.SignMailToken(tokens.SigningKey(rec.String("tokenKey"), secret), id, c.ID, typ, rec.String("email"), "", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantFieldError(t *testing.T, r testkit.Response, status int, field string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if !regexp.MustCompile(`"data":\{[^}]*"` + field + `":\{"code":`).Match(r.Body) {
		t.Errorf("no data.%s error in %s", field, r.Body)
	}
}

func TestVerification(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		a := signUp(t, s, "ann@example.com", "ann-password-1")
		b := signUp(t, s, "bob@example.com", "bob-password-1")
		base := "/api/collections/users/"
		s.Do("POST", base+"request-verification", "", map[string]any{"email": "ANN@example.com"}, 204, nil)
		m := nextMail(t, s, "ann@example.com", "")
		tok := mailed(t, m, linkToken)
		if !regexp.MustCompile(`http://127\.0\.0\.1:8090/_/#/auth/confirm-verification/`).MatchString(m.Text) {
			t.Errorf("link not from the app URL: %q", m.Text)
		}
		// Unknown emails get the same answer and no mail.
		s.Do("POST", base+"request-verification", "", map[string]any{"email": "nobody@example.com"}, 204, nil)
		noMail(t, s, "nobody@example.com", "")

		bID := b.Record["id"].(string)
		s.Do("POST", base+"request-verification", "", map[string]any{"email": "bob@example.com"}, 204, nil)
		bobTok := mailed(t, nextMail(t, s, "bob@example.com", ""), linkToken)
		for name, bad := range map[string]string{
			"garbage":     "garbage",
			"expired":     forgeToken(t, s, a.Record["id"].(string), tokens.TypeVerification, -time.Minute),
			"auth token":  a.Token,
			"reset token": forgeToken(t, s, a.Record["id"].(string), tokens.TypePasswordReset, time.Hour),
			"wrong key":   mustSign(t, s, []byte("not the key"), a.Record["id"].(string), "ann@example.com"),
			"tampered":    tok[:len(tok)-2] + "xx",
		} {
			t.Run(name, func(t *testing.T) {
				wantFieldError(t, s.With(t).Request("POST", base+"confirm-verification", "", map[string]any{"token": bad}), 400, "token")
			})
		}
		// Bob's token verifies Bob, not Ann, and not in another collection.
		wantFieldError(t, s.Request("POST", "/api/collections/_superusers/confirm-verification", "", map[string]any{"token": bobTok}), 400, "token")
		s.Do("POST", base+"confirm-verification", "", map[string]any{"token": bobTok}, 204, nil)
		var rec map[string]any
		s.Do("GET", base+"records/"+a.Record["id"].(string), a.Token, nil, 200, &rec)
		if rec["verified"] != false {
			t.Fatalf("bob's token verified ann: %v", rec)
		}
		s.Do("GET", base+"records/"+bID, b.Token, nil, 200, &rec)
		if rec["verified"] != true {
			t.Fatalf("bob not verified: %v", rec)
		}

		s.Do("POST", base+"confirm-verification", "", map[string]any{"token": tok}, 204, nil)
		s.Do("GET", base+"records/"+a.Record["id"].(string), a.Token, nil, 200, &rec)
		if rec["verified"] != true {
			t.Fatalf("ann not verified: %v", rec)
		}
		// Already verified: the same answer, and no new mail on request.
		s.Do("POST", base+"confirm-verification", "", map[string]any{"token": tok}, 204, nil)
		s.Do("POST", base+"request-verification", "", map[string]any{"email": "ann@example.com"}, 204, nil)
		noMail(t, s, "ann@example.com", m.ID)

		// Bad requests are 4xx in PocketBase's shape.
		wantFieldError(t, s.Request("POST", base+"request-verification", "", map[string]any{}), 400, "email")
		s.Do("POST", base+"request-verification", "", "{not json", 400, nil)
		s.Do("POST", "/api/collections/notes/request-verification", "", map[string]any{"email": "ann@example.com"}, 400, nil)
		s.Do("POST", "/api/collections/nope/request-verification", "", map[string]any{"email": "ann@example.com"}, 404, nil)
	})
}

// mustSign signs a verification token for users with key.
func mustSign(t *testing.T, s *testkit.Server, key []byte, id, email string) string {
	t.Helper()
	c, err := s.App.Service.Collection("users")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokens.SignMailToken(key, id, c.ID, tokens.TypeVerification, email, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		a := signUp(t, s, "ann@example.com", "ann-password-1")
		base := "/api/collections/users/"
		req := map[string]any{"email": "ann@example.com"}
		s.Do("POST", base+"request-password-reset", "", req, 204, nil)
		m1 := nextMail(t, s, "ann@example.com", "")
		tok1 := mailed(t, m1, linkToken)
		time.Sleep(1100 * time.Millisecond) // tokens are signed to the second
		s.Do("POST", base+"request-password-reset", "", req, 204, nil)
		tok2 := mailed(t, nextMail(t, s, "ann@example.com", m1.ID), linkToken)
		if tok1 == tok2 {
			t.Fatal("same token twice")
		}
		s.Do("POST", base+"request-password-reset", "", map[string]any{"email": "nobody@example.com"}, 204, nil)
		noMail(t, s, "nobody@example.com", "")

		confirm := func(tok, pw, pwc string) testkit.Response {
			return s.Request("POST", base+"confirm-password-reset", "", map[string]any{"token": tok, "password": pw, "passwordConfirm": pwc})
		}
		wantFieldError(t, confirm(tok1, "new-password-1", "new-password-2"), 400, "passwordConfirm")
		wantFieldError(t, confirm(tok1, "short", "short"), 400, "password")
		wantFieldError(t, confirm("garbage", "new-password-1", "new-password-1"), 400, "token")
		wantFieldError(t, confirm(forgeToken(t, s, a.Record["id"].(string), tokens.TypePasswordReset, -time.Minute), "new-password-1", "new-password-1"), 400, "token")
		if r := confirm(tok1, "new-password-1", "new-password-1"); r.Status != 204 {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		// The old session and every reset token died with the old password.
		s.Do("POST", base+"auth-refresh", a.Token, nil, 401, nil)
		wantFieldError(t, confirm(tok1, "other-password-1", "other-password-1"), 400, "token")
		wantFieldError(t, confirm(tok2, "other-password-1", "other-password-1"), 400, "token")
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 400, nil)
		var fresh authed
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "new-password-1"}, 200, &fresh)
		if fresh.Record["verified"] != true {
			t.Errorf("reset did not verify the email: %v", fresh.Record)
		}

		// A reset token dies when the password changes another way.
		m3 := nextMail(t, s, "ann@example.com", "")
		s.Do("POST", base+"request-password-reset", "", req, 204, nil)
		tok3 := mailed(t, nextMail(t, s, "ann@example.com", m3.ID), linkToken)
		s.Do("PATCH", base+"records/"+a.Record["id"].(string), fresh.Token, map[string]any{
			"password": "third-password-1", "passwordConfirm": "third-password-1", "oldPassword": "new-password-1"}, 200, nil)
		wantFieldError(t, confirm(tok3, "fourth-password-1", "fourth-password-1"), 400, "token")
		s.Do("POST", base+"confirm-password-reset", "", "[]", 400, nil)
	})
}

func TestEmailChange(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		a := signUp(t, s, "ann@example.com", "ann-password-1")
		signUp(t, s, "bob@example.com", "bob-password-1")
		base := "/api/collections/users/"
		s.Do("POST", base+"request-email-change", "", map[string]any{"newEmail": "ann2@example.com"}, 401, nil)
		s.Do("POST", "/api/collections/_superusers/request-email-change", a.Token, map[string]any{"newEmail": "ann2@example.com"}, 401, nil)
		wantFieldError(t, s.Request("POST", base+"request-email-change", a.Token, map[string]any{"newEmail": "BOB@example.com"}), 400, "newEmail")
		wantFieldError(t, s.Request("POST", base+"request-email-change", a.Token, map[string]any{"newEmail": "not-an-email"}), 400, "newEmail")
		noMail(t, s, "bob@example.com", "")

		s.Do("POST", base+"request-email-change", a.Token, map[string]any{"newEmail": "ann2@example.com"}, 204, nil)
		tok := mailed(t, nextMail(t, s, "ann2@example.com", ""), linkToken)
		confirm := func(tok, pw string) testkit.Response {
			return s.Request("POST", base+"confirm-email-change", "", map[string]any{"token": tok, "password": pw})
		}
		wantFieldError(t, confirm(tok, "wrong-password-1"), 400, "password")
		wantFieldError(t, confirm(a.Token, "ann-password-1"), 400, "token")
		if r := confirm(tok, "ann-password-1"); r.Status != 204 {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		wantFieldError(t, confirm(tok, "ann-password-1"), 400, "token")
		s.Do("POST", base+"auth-refresh", a.Token, nil, 401, nil)
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 400, nil)
		var fresh authed
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann2@example.com", "password": "ann-password-1"}, 200, &fresh)
		if fresh.Record["email"] != "ann2@example.com" || fresh.Record["verified"] != true {
			t.Errorf("after the change: %v", fresh.Record)
		}
	})
}

// enableOTP turns on one-time passwords for users, codes living duration
// seconds.
func enableOTP(t *testing.T, s *testkit.Server, duration int) {
	t.Helper()
	s.Super("PATCH", "/api/collections/users", map[string]any{"otp": map[string]any{"enabled": true, "duration": duration, "length": 6}}, 200, nil)
}

func TestOTP(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "verified = true")
		liftLimits(t, s)
		base := "/api/collections/users/"
		s.Do("POST", base+"records", "", map[string]any{"email": "ann@example.com", "password": "ann-password-1", "passwordConfirm": "ann-password-1"}, 200, nil)
		s.Do("POST", base+"request-otp", "", map[string]any{"email": "someone@example.com"}, 400, nil)
		enableOTP(t, s, 180)

		type otpAnswer struct{ OTPID string }
		request := func(email, prev string) (string, *mail.Stored) {
			var o otpAnswer
			s.Do("POST", base+"request-otp", "", map[string]any{"email": email}, 200, &o)
			if len(o.OTPID) != 15 {
				t.Fatalf("otpId %q", o.OTPID)
			}
			if email == "nobody@example.com" {
				return o.OTPID, nil
			}
			return o.OTPID, nextMail(t, s, email, prev)
		}
		login := func(id, code string) testkit.Response {
			return s.Request("POST", base+"auth-with-otp", "", map[string]any{"otpId": id, "password": code})
		}

		// The code logs in once, and proves the email (authRule needs it).
		id1, m1 := request("ann@example.com", "")
		code := mailed(t, m1, otpCode)
		if len(code) != 6 {
			t.Fatalf("code %q", code)
		}
		r := login(id1, code)
		if r.Status != 200 {
			t.Fatalf("otp login: %d %s", r.Status, r.Body)
		}
		if !regexp.MustCompile(`"token":"[^"]+".*"verified":true`).Match(r.Body) {
			t.Errorf("otp login answer: %s", r.Body)
		}
		if r := login(id1, code); r.Status != 400 {
			t.Errorf("code reused: %d", r.Status)
		}

		// A wrong code burns the code.
		id2, m2 := request("ann@example.com", m1.ID)
		code2 := mailed(t, m2, otpCode)
		wrong := "000000"
		if code2 == wrong {
			wrong = "111111"
		}
		if r := login(id2, wrong); r.Status != 400 {
			t.Errorf("wrong code: %d", r.Status)
		}
		if r := login(id2, code2); r.Status != 400 {
			t.Errorf("code after a wrong guess: %d", r.Status)
		}

		// An unknown email gets an otpId that never works, and no mail.
		id3, _ := request("nobody@example.com", "")
		noMail(t, s, "nobody@example.com", "")
		for _, c := range []string{"000000", "123456", code2} {
			if r := login(id3, c); r.Status != 400 {
				t.Errorf("unknown email's otp: %d", r.Status)
			}
		}
		s.Do("POST", base+"auth-with-otp", "", map[string]any{"otpId": id3}, 400, nil)
		s.Do("POST", base+"auth-with-otp", "", "nope", 400, nil)

		// A code mailed before the account's email changed proves the old
		// mailbox only: refused.
		var bea map[string]any
		s.Do("POST", base+"records", "", map[string]any{"email": "bea@example.com", "password": "bea-password-1", "passwordConfirm": "bea-password-1"}, 200, &bea)
		id5, m5 := request("bea@example.com", "")
		s.Super("PATCH", base+"records/"+bea["id"].(string), map[string]any{"email": "bea-new@example.com", "verified": true}, 200, nil)
		if r := login(id5, mailed(t, m5, otpCode)); r.Status != 400 {
			t.Errorf("a code mailed to the old address: %d %s", r.Status, r.Body)
		}

		// An expired code is refused.
		enableOTP(t, s, 1)
		id4, m4 := request("ann@example.com", m2.ID)
		time.Sleep(1100 * time.Millisecond)
		if r := login(id4, mailed(t, m4, otpCode)); r.Status != 400 {
			t.Errorf("expired code: %d %s", r.Status, r.Body)
		}
	})
}

// Security case 6: guessing one-time passwords is throttled, as are the
// routes that send mail.
func TestOTPThrottled(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		enableOTP(t, s, 180)
		signUp(t, s, "ann@example.com", "ann-password-1")
		base := "/api/collections/users/"
		var o struct{ OTPID string }
		s.Do("POST", base+"request-otp", "", map[string]any{"email": "ann@example.com"}, 200, &o)
		code := mailed(t, nextMail(t, s, "ann@example.com", ""), otpCode)
		limited := 0
		for i := range 12 {
			guess := core.RandomString(6, "0123456789")
			if guess == code || i == 0 {
				guess = "x" // never the code
			}
			r := s.Request("POST", base+"auth-with-otp", "", map[string]any{"otpId": o.OTPID, "password": guess})
			switch r.Status {
			case 429:
				limited++
			case 400:
			default:
				t.Errorf("guess %d: %d %s", i, r.Status, r.Body)
			}
		}
		if limited < 2 {
			t.Errorf("%d of 12 guesses throttled", limited)
		}
		// Mail-sending routes: 3 per account in 15 minutes.
		for i, want := range []int{204, 204, 204, 429} {
			if r := s.Request("POST", base+"request-password-reset", "", map[string]any{"email": "nobody@example.com"}); r.Status != want {
				t.Errorf("reset request %d: %d, want %d", i, r.Status, want)
			}
		}
	})
}

// Confirming an email change asks for the account's password: what a
// thief of the session and the new mailbox lacks. Guessing it is limited
// per account, as logins are, whatever addresses the guesses come from
// (before, only per address: a few addresses guessed without end).
func TestEmailChangePasswordGuessesAreLimitedPerAccount(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		a := signUp(t, s, "ann@example.com", "ann-password-1")
		base := "/api/collections/users/"
		s.Do("POST", base+"request-email-change", a.Token, map[string]any{"newEmail": "thief@example.com"}, 204, nil)
		tok := mailed(t, nextMail(t, s, "thief@example.com", ""), linkToken)
		guess := func(i int, pw string) int {
			status, _ := send(t, s, "POST", base+"confirm-email-change", "",
				map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}, map[string]any{"token": tok, "password": pw})
			return status
		}
		limited := -1
		for i := range 30 {
			if guess(i, fmt.Sprintf("guess-%d", i)) == 429 {
				limited = i
				break
			}
		}
		if limited < 0 || limited > 12 {
			t.Fatalf("30 wrong passwords from 30 addresses: limited after %d", limited)
		}
		// The right password is refused too until the window passes, and
		// the email is unchanged.
		if st := guess(99, "ann-password-1"); st != 429 {
			t.Errorf("the right password after the limit: %d", st)
		}
		var me map[string]any
		s.Do("GET", base+"records/"+a.Record["id"].(string), a.Token, nil, 200, &me)
		if me["email"] != "ann@example.com" {
			t.Errorf("email now %v", me["email"])
		}
	})
}

// TestTruncateDropsAccountState: emptying an auth collection deletes what
// the system collections keep about its records, as deleting each does:
// codes, second factors, login origins, linked identities (one left
// behind would pass to a record made later with the same id).
func TestTruncateDropsAccountState(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		liftLimits(t, s)
		var members map[string]any
		s.Super("POST", "/api/collections", map[string]any{"name": "members", "type": "auth", "createRule": "",
			"otp": map[string]any{"enabled": true, "duration": 180, "length": 6}, "authAlert": map[string]any{"enabled": true}}, 200, &members)
		s.Do("POST", "/api/collections/members/records", "", map[string]any{"email": "ann@example.com",
			"password": "ann-password-1", "passwordConfirm": "ann-password-1"}, 200, nil)
		s.Do("POST", "/api/collections/members/auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 200, nil)
		s.Do("POST", "/api/collections/members/request-otp", "", map[string]any{"email": "ann@example.com"}, 200, nil)
		count := func(name string) int {
			var l struct{ TotalItems int }
			s.Super("GET", "/api/collections/"+name+"/records?filter="+url.QueryEscape("collectionRef = '"+members["id"].(string)+"'"), nil, 200, &l)
			return l.TotalItems
		}
		if count("_otps") == 0 {
			t.Fatal("no code was kept")
		}
		s.Super("DELETE", "/api/collections/members/truncate", nil, 204, nil)
		for _, name := range []string{"_otps", "_mfas", "_authOrigins", "_externalAuths"} {
			if n := count(name); n != 0 {
				t.Errorf("%s keeps %d records of the emptied collection", name, n)
			}
		}
	})
}
