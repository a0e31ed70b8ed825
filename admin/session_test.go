package admin_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

// client is a browser without a browser: a cookie jar, no redirects
// followed, so each answer can be checked.
type client struct {
	t    *testing.T
	srv  *testkit.Server
	http *http.Client
}

func newClient(t *testing.T, srv *testkit.Server) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, srv: srv, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values, header map[string]string) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken is the CSRF token of the form on the page at path.
func (c *client) formToken(path string) string {
	c.t.Helper()
	a := c.do("GET", path, nil, nil)
	m := csrfInput.FindStringSubmatch(a.body)
	if m == nil {
		c.t.Fatalf("GET %s (%d): no CSRF field in\n%s", path, a.status, clip(a.body, 1500))
	}
	return html.UnescapeString(m[1])
}

// signIn signs in through the form and returns the answer to the POST.
func (c *client) signIn(email, password, next string) answer {
	c.t.Helper()
	tok := c.formToken("/admin/login")
	return c.do("POST", "/admin/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}, "next": {next}}, nil)
}

func sessionCookie(a answer) *http.Cookie {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == "tortoise_admin" {
			return c
		}
	}
	return nil
}

func TestAdminHeaders(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	c := newClient(t, srv)
	for _, path := range []string{"/admin/login", "/admin/", "/admin/static/admin.css", "/admin/no-such-page"} {
		a := c.do("GET", path, nil, nil)
		csp := a.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: Content-Security-Policy %q allows inline code or another host", path, csp)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: headers %v", path, a.header)
		}
		if a.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s: the admin answers CORS", path)
		}
	}
	// The page loads nothing from another host, and has no inline script
	// or style for the policy to block.
	page := c.do("GET", "/admin/login", nil, nil).body
	for _, bad := range []string{"<style", " style=", "onclick=", "onload=", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the sign-in page contains %q", bad)
		}
	}
	if strings.Count(page, "<script") != strings.Count(page, `<script src="/admin/static/`) {
		t.Errorf("the sign-in page has a script not served by the admin:\n%s", page)
	}
	// PocketBase's admin address leads here.
	if a := c.do("GET", "/_/", nil, nil); a.status != http.StatusMovedPermanently || a.header.Get("Location") != "/admin/" {
		t.Errorf("GET /_/: %d to %q", a.status, a.header.Get("Location"))
	}
}

func TestAdminSignIn(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, engine)
			c := newClient(t, srv)

			// Without a session every page leads to the form, keeping where
			// it was going.
			a := c.do("GET", "/admin/collections?x=1", nil, nil)
			if a.status != http.StatusSeeOther || a.header.Get("Location") != "/admin/login?next=%2Fadmin%2Fcollections%3Fx%3D1" {
				t.Errorf("GET without a session: %d to %q", a.status, a.header.Get("Location"))
			}

			// The sign-in form needs its CSRF token.
			a = c.do("POST", "/admin/login", url.Values{"email": {testkit.SuperuserEmail}, "password": {testkit.SuperuserPassword}}, nil)
			if a.status != http.StatusForbidden || sessionCookie(a) != nil {
				t.Errorf("sign-in without the token: %d, cookie %v", a.status, sessionCookie(a))
			}
			// A wrong password.
			if a = c.signIn(testkit.SuperuserEmail, "wrong-password-1", ""); a.status != http.StatusBadRequest || sessionCookie(a) != nil {
				t.Errorf("wrong password: %d, cookie %v", a.status, sessionCookie(a))
			}
			// A user of another auth collection is not a superuser.
			srv.Super("POST", "/api/collections", map[string]any{"name": "users", "type": "auth", "createRule": "", "fields": []any{}}, 200, nil)
			srv.Do("POST", "/api/collections/users/records", "", map[string]any{"email": "ann@example.com", "password": "ann-password-1", "passwordConfirm": "ann-password-1"}, 200, nil)
			if a = c.signIn("ann@example.com", "ann-password-1", ""); sessionCookie(a) != nil {
				t.Errorf("a users record signed in to the admin: %d", a.status)
			}
			var user struct{ Token string }
			srv.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 200, &user)
			other := newClient(t, srv)
			u, _ := url.Parse(srv.URL + "/admin/")
			other.http.Jar.SetCookies(u, []*http.Cookie{{Name: "tortoise_admin", Value: user.Token, Path: "/admin/"}})
			if a = other.do("GET", "/admin/", nil, nil); a.status != http.StatusSeeOther {
				t.Errorf("a users token as the session cookie: %d, want the sign-in form", a.status)
			}

			// The right password: a session cookie, then where it was going,
			// but only inside the admin.
			for next, want := range map[string]string{
				"/admin/collections":          "/admin/collections",
				"//evil.example/":             "/admin/",
				"https://evil.example/admin/": "/admin/",
				"/admin/\\evil":               "/admin/",
			} {
				c := newClient(t, srv)
				a = c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, next)
				if a.status != http.StatusSeeOther || a.header.Get("Location") != want {
					t.Errorf("sign in with next=%q: %d to %q, want %q", next, a.status, a.header.Get("Location"), want)
				}
			}
			a = c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, "")
			ck := sessionCookie(a)
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/admin/" || ck.Secure {
				t.Fatalf("session cookie: %+v", ck)
			}
			if a = c.do("GET", "/admin/", nil, nil); a.status != http.StatusOK || !strings.Contains(a.body, testkit.SuperuserEmail) {
				t.Fatalf("dashboard after sign-in: %d", a.status)
			}

			// State changes need the token and the same origin.
			tok := c.formToken("/admin/")
			if a = c.do("POST", "/admin/logout", url.Values{}, nil); a.status != http.StatusForbidden {
				t.Errorf("sign-out without the token: %d", a.status)
			}
			if a = c.do("POST", "/admin/logout", url.Values{"csrf": {tok + "x"}}, nil); a.status != http.StatusForbidden {
				t.Errorf("sign-out with a wrong token: %d", a.status)
			}
			if a = c.do("POST", "/admin/logout", url.Values{"csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}); a.status != http.StatusForbidden {
				t.Errorf("sign-out from another origin: %d", a.status)
			}
			// The token in the header, as htmx sends it.
			if a = c.do("POST", "/admin/logout", url.Values{}, map[string]string{"X-CSRF-Token": tok}); a.status != http.StatusSeeOther || sessionCookie(a) == nil || sessionCookie(a).MaxAge >= 0 {
				t.Errorf("sign-out with the token: %d, cookie %+v", a.status, sessionCookie(a))
			}
			if a = c.do("GET", "/admin/", nil, nil); a.status != http.StatusSeeOther {
				t.Errorf("dashboard after signing out: %d", a.status)
			}
		})
	}
}

// Behind a TLS proxy the session cookie is Secure.
func TestAdminSecureCookie(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	c := newClient(t, srv)
	tok := c.formToken("/admin/login")
	a := c.do("POST", "/admin/login", url.Values{"csrf": {tok}, "email": {testkit.SuperuserEmail}, "password": {testkit.SuperuserPassword}},
		map[string]string{"X-Forwarded-Proto": "https"})
	if ck := sessionCookie(a); ck == nil || !ck.Secure {
		t.Errorf("session cookie behind TLS: %+v", ck)
	}
}

// An expired session sends the browser to sign in again, saying so.
func TestAdminSessionExpires(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	col, err := srv.App.Service.Collection("_superusers")
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.App.Records.List(t.Context(), &service.Request{Superuser: true}, col, records.ListParams{Filter: "email = 'root@example.com'"})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("find the superuser: %v %+v", err, res)
	}
	short, err := srv.App.Auth.ImpersonateToken(res.Items[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	u, _ := url.Parse(srv.URL + "/admin/")
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "tortoise_admin", Value: short, Path: "/admin/"}})
	if a := c.do("GET", "/admin/", nil, nil); a.status != http.StatusOK {
		t.Fatalf("fresh session: %d", a.status)
	}
	time.Sleep(2100 * time.Millisecond)
	a := c.do("GET", "/admin/", nil, nil)
	if a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "note=") {
		t.Errorf("expired session: %d to %q", a.status, a.header.Get("Location"))
	}
}

// Superusers with MFA sign in with their password and a mailed code.
func TestAdminSignInMFA(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("PATCH", "/api/collections/_superusers", map[string]any{
		"mfa": map[string]any{"enabled": true, "duration": 600},
		"otp": map[string]any{"enabled": true, "duration": 180, "length": 6},
	}, 200, nil)
	c := newClient(t, srv)
	a := c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, "/admin/keys")
	if a.status != http.StatusOK || sessionCookie(a) != nil || !strings.Contains(a.body, `name="code"`) {
		t.Fatalf("password step with MFA: %d, cookie %v\n%s", a.status, sessionCookie(a), clip(a.body, 1500))
	}
	field := func(name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(a.body)
		if m == nil {
			t.Fatalf("no %s in the code step", name)
		}
		return html.UnescapeString(m[1])
	}
	form := url.Values{"csrf": {field("csrf")}, "email": {field("email")}, "mfaId": {field("mfaId")}, "otpId": {field("otpId")}, "next": {field("next")}}

	mailedCode := func(after string) (string, string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m, err := srv.App.Settings.Mailbox().Latest(testkit.SuperuserEmail); err == nil && m.ID != after {
				if code := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text); code != "" {
					return code, m.ID
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("no code mailed")
		return "", ""
	}
	_, first := mailedCode("")

	// A wrong code does not sign in; a code allows one guess, so a new
	// one is mailed, for the same first factor.
	wrong := url.Values{}
	for k, v := range form {
		wrong[k] = v
	}
	wrong.Set("code", "000000")
	a = c.do("POST", "/admin/login/otp", wrong, nil)
	if a.status != http.StatusBadRequest || sessionCookie(a) != nil || !strings.Contains(a.body, "emailed you a new one") {
		t.Fatalf("wrong code: %d\n%s", a.status, clip(a.body, 1500))
	}
	form.Set("otpId", field("otpId"))
	code, _ := mailedCode(first)
	form.Set("code", code)
	b := c.do("POST", "/admin/login/otp", form, nil)
	if b.status != http.StatusSeeOther || sessionCookie(b) == nil || b.header.Get("Location") != "/admin/keys" {
		t.Fatalf("code step: %d to %q, cookie %v\n%s", b.status, b.header.Get("Location"), sessionCookie(b), clip(b.body, 1000))
	}
}

// The settings' superuser addresses hold in the admin too: behind a
// trusted proxy, a superuser session from an address outside them is
// refused.
func TestAdminSuperuserAddresses(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("PATCH", "/api/settings", map[string]any{
		"trustedProxies": []string{"127.0.0.1/32"},
		"trustedProxy":   map[string]any{"headers": []string{"X-Forwarded-For"}},
		"superuserIPs":   []string{"127.0.0.1/32", "10.1.2.3/32"},
	}, 200, nil)
	c := newClient(t, srv)
	c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, "")
	for ip, want := range map[string]int{"10.1.2.3": http.StatusOK, "10.9.9.9": http.StatusForbidden} {
		if a := c.do("GET", "/admin/", nil, map[string]string{"X-Forwarded-For": ip}); a.status != want {
			t.Errorf("dashboard from %s: %d, want %d", ip, a.status, want)
		}
	}
}

// Sign-in attempts are throttled as the API's are, per account too.
func TestAdminSignInThrottled(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true}}, 200, nil)
	c := newClient(t, srv)
	var last answer
	for range 12 {
		last = c.signIn(testkit.SuperuserEmail, "wrong-password-1", "")
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests || !strings.Contains(last.body, "Too many attempts") {
		t.Fatalf("12 wrong passwords: last answer %d", last.status)
	}
	// The right password is refused too while the limit holds.
	if a := c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, ""); sessionCookie(a) != nil {
		t.Errorf("signed in while throttled: %d", a.status)
	}
}
