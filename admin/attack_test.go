package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// Attacks on the admin from outside: what a guest or another site controls
// must never reach a superuser's page as the admin's own words.

// phish is what another site would like the admin to say.
const phish = "Your session is insecure: sign in again at evil.example"

// A flash message rides in the address a form's answer leads to. A link
// from elsewhere (another site, a mail) carrying one must not make the
// admin show its text as its own; the admin's own answers still do.
func TestAttackFlashFromElsewhere(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	get := func(path string, header map[string]string) string {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: "tortoise_admin", Value: srv.Token})
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := opsRead(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return body
	}
	forged := "/admin/?flash=" + url.QueryEscape(phish)
	for name, header := range map[string]map[string]string{
		"from another site":                 {"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"},
		"from a sibling site":               {"Sec-Fetch-Site": "same-site"},
		"opened from a mail or typed":       {"Sec-Fetch-Site": "none"},
		"a browser without fetch metadata":  {"Referer": "https://evil.example/"},
		"without fetch metadata or referer": nil,
	} {
		if body := get(forged, header); strings.Contains(body, "evil.example") {
			t.Errorf("%s: the admin shows the forged flash", name)
		}
	}
	if a := newClient(t, srv).do("GET", "/admin/login?flash="+url.QueryEscape(phish), nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); strings.Contains(a.body, "evil.example") {
		t.Errorf("the sign-in page shows a forged flash")
	}

	// The admin's own answer: creating a superuser leads to the list, which
	// says so, as the browser follows the redirect from the admin's page.
	status, _, loc := c.post("/admin/superusers", url.Values{"email": {"b@example.com"}, "password": {"b-password-123"}, "passwordConfirm": {"b-password-123"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "flash=") {
		t.Fatalf("create a superuser: %d to %q", status, loc)
	}
	for name, header := range map[string]map[string]string{
		"with fetch metadata":    {"Sec-Fetch-Site": "same-origin", "Referer": srv.URL + "/admin/superusers"},
		"without fetch metadata": {"Referer": srv.URL + "/admin/superusers"},
	} {
		if body := get(loc, header); !strings.Contains(body, "Superuser b@example.com was created.") {
			t.Errorf("%s: the admin's own flash is not shown", name)
		}
	}
}

// The sign-in page says why it is shown (signed out, session ended), but
// only in its own words.
func TestAttackLoginNote(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	c := newClient(t, srv)
	if a := c.do("GET", "/admin/login?note="+url.QueryEscape(phish), nil, nil); a.status != http.StatusOK || strings.Contains(a.body, "evil.example") {
		t.Errorf("the sign-in page shows a note from the address: %d", a.status)
	}

	// Signing out leads to the form saying so.
	if a := c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", a.status)
	}
	tok := c.formToken("/admin/")
	a := c.do("POST", "/admin/logout", url.Values{"csrf": {tok}}, nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", a.status)
	}
	if b := c.do("GET", a.header.Get("Location"), nil, nil); !strings.Contains(b.body, "You have signed out.") {
		t.Errorf("after signing out the form does not say so")
	}
	// A session that ended (here: a cookie that is no longer a valid
	// token) is named as such.
	u, _ := url.Parse(srv.URL + "/admin/")
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "tortoise_admin", Value: srv.Token + "x", Path: "/admin/"}})
	a = c.do("GET", "/admin/collections", nil, nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("ended session: %d", a.status)
	}
	if b := c.do("GET", a.header.Get("Location"), nil, nil); !strings.Contains(b.body, "Your session has ended.") {
		t.Errorf("after a session ended the form does not say so:\n%s", clip(b.body, 1500))
	}
}

// Without a session no admin address answers with a page: each leads to
// the sign-in form, whatever the method or the spelling of the path.
func TestAttackEveryRouteNeedsASession(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "users", "type": "auth", "fields": []any{}}, 200, nil)
	paths := []string{
		"/admin/", "/admin/collections", "/admin/collections/new", "/admin/collections/field-row", "/admin/collections/export",
		"/admin/collections/import", "/admin/collections/users", "/admin/collections/users/api", "/admin/collections/users/delete",
		"/admin/collections/users/records", "/admin/collections/users/records/new", "/admin/collections/users/records/x",
		"/admin/collections/users/records/x/delete", "/admin/collections/users/records/x/impersonate",
		"/admin/collections/users/records/pick-relation", "/admin/collections/users/records/check-json",
		"/admin/collections/check-rule", "/admin/settings", "/admin/settings/smtp", "/admin/settings/test-email",
		"/admin/settings/auth", "/admin/settings/auth/users", "/admin/keys", "/admin/keys/x/revoke",
		"/admin/superusers", "/admin/superusers/x/delete", "/admin/mailbox", "/admin/mailbox/x", "/admin/mailbox/x/html",
		"/admin/logs", "/admin/logs/x", "/admin/jobs", "/admin/jobs/1", "/admin/jobs/1/retry", "/admin/crons",
		"/admin/crons/x/run", "/admin/webhooks", "/admin/webhooks/new", "/admin/webhooks/x", "/admin/webhooks/x/delete",
		"/admin/logout", "/admin/no-such-page",
		// spellings
		"/admin//collections", "/admin/collections/", "/admin/./settings", "/admin/static/../settings",
		"/admin/%2e%2e/admin/settings", "/admin/collections%2Fusers", "/ADMIN/settings",
	}
	c := newClient(t, srv)
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
			a := c.do(m, p, url.Values{"csrf": {"x"}}, nil)
			if a.status == http.StatusOK || a.status == http.StatusNoContent || strings.Contains(a.body, "Sign out") {
				t.Errorf("%s %s without a session: %d\n%s", m, p, a.status, clip(a.body, 300))
			}
		}
	}
}
