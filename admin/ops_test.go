package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
)

// Plain HTTP tests (no browser) of the settings, superusers, API keys,
// mailbox, jobs, crons and webhooks pages: what security rests on.

// opsClient is a superuser's admin session without a browser: the session
// cookie is the superuser's token, and the CSRF token is read from a page.
type opsClient struct {
	t    *testing.T
	srv  *testkit.Server
	http *http.Client
	csrf string
}

func opsSession(t *testing.T, engine string) (*testkit.Server, *opsClient) {
	t.Helper()
	srv := testkit.NewServer(t, engine)
	c := &opsClient{t: t, srv: srv, http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, body := c.get("/admin/settings")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the settings page:\n%s", clip(body, 2000))
	}
	c.csrf = m[1]
	srv.Super("POST", "/api/collections", map[string]any{"name": "users", "type": "auth",
		"createRule": "", "fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
	return srv, c
}

func (c *opsClient) do(method, path string, form url.Values) *http.Response {
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
	req.AddCookie(&http.Cookie{Name: "tortoise_admin", Value: c.srv.Token})
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func opsRead(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get fetches an admin page, requiring 200.
func (c *opsClient) get(path string) (*http.Response, string) {
	c.t.Helper()
	resp := c.do("GET", path, nil)
	body := opsRead(c.t, resp)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, clip(body, 2000))
	}
	return resp, body
}

// post sends a form with the CSRF token and returns the status, the body
// and where a redirect leads.
func (c *opsClient) post(path string, form url.Values) (int, string, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	resp := c.do("POST", path, form)
	return resp.StatusCode, opsRead(c.t, resp), resp.Header.Get("Location")
}

// opsFieldError reports whether body marks the input with id as invalid and
// shows want as its error.
func opsFieldError(body, id, want string) bool {
	input := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*aria-invalid="true"`)
	return input.MatchString(body) && strings.Contains(body, want)
}

// A state-changing request without the CSRF token is refused on every
// page of these, with the session cookie and all.
func TestOpsCSRF(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	paths := []string{
		"/admin/settings/app", "/admin/settings/smtp", "/admin/settings/test-email", "/admin/settings/test-s3",
		"/admin/settings/auth/users/tokens", "/admin/superusers", "/admin/keys", "/admin/keys/x/revoke",
		"/admin/jobs/1/retry", "/admin/jobs/1/cancel", "/admin/crons/x/run", "/admin/webhooks",
		"/admin/webhooks/x/rotate", "/admin/superusers/x/delete",
	}
	for _, p := range paths {
		resp := c.do("POST", p, url.Values{"meta.appName": {"Pwned"}, "name": {"k"}, "access": {"superuser"}})
		body := opsRead(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %d, want 403\n%s", p, resp.StatusCode, clip(body, 500))
		}
	}
	// Nor did anything change.
	var st struct{ Meta struct{ AppName string } }
	srv.Super("GET", "/api/settings", nil, 200, &st)
	if st.Meta.AppName == "Pwned" {
		t.Error("a POST without the CSRF token changed the settings")
	}
	var keys struct{ Items []any }
	srv.Super("GET", "/api/keys", nil, 200, &keys)
	if len(keys.Items) != 0 {
		t.Errorf("a POST without the CSRF token made %d keys", len(keys.Items))
	}
	// A token from another origin's page is refused too.
	req, _ := http.NewRequest("POST", srv.URL+"/admin/settings/app", strings.NewReader(url.Values{"csrf": {c.csrf}, "meta.appName": {"X"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.AddCookie(&http.Cookie{Name: "tortoise_admin", Value: srv.Token})
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST from another origin: %d, want 403", resp.StatusCode)
	}
}

// A user's (not a superuser's) token as the cookie reaches none of the
// pages: it is sent to sign in.
func TestOpsNotSuperuser(t *testing.T) {
	t.Parallel()
	srv, _ := opsSession(t, "sqlite")
	srv.Super("POST", "/api/collections/users/records", map[string]any{"email": "u@example.com", "password": "user-password-1", "passwordConfirm": "user-password-1"}, 200, nil)
	var auth struct{ Token string }
	srv.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "u@example.com", "password": "user-password-1"}, 200, &auth)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/admin/settings", "/admin/keys", "/admin/superusers", "/admin/mailbox", "/admin/jobs", "/admin/crons", "/admin/webhooks"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.AddCookie(&http.Cookie{Name: "tortoise_admin", Value: auth.Token})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
			t.Errorf("GET %s with a user's token: %d to %q, want a redirect to sign in", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

var opsKeySecret = regexp.MustCompile(`tk_[A-Za-z0-9]{40}`)

// An API key's secret is in the answer that makes it and nowhere after.
func TestOpsKeySecretOnce(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	status, body, _ := c.post("/admin/keys", url.Values{"name": {"deploy"}, "access": {"superuser"}})
	if status != http.StatusOK {
		t.Fatalf("make a key: %d\n%s", status, clip(body, 2000))
	}
	secret := opsKeySecret.FindString(body)
	if secret == "" {
		t.Fatalf("the answer that makes a key does not show it:\n%s", clip(body, 3000))
	}
	_, list := c.get("/admin/keys")
	if strings.Contains(list, secret) {
		t.Error("the key list shows the key's secret again")
	}
	if !strings.Contains(list, "deploy") || !strings.Contains(list, secret[:8]) {
		t.Error("the key list does not show the key's name and prefix")
	}
	srv.Do("GET", "/api/jobs", "Bearer "+secret, nil, 200, nil)

	// Revoking takes a confirmation page, then the key stops working.
	var keys struct {
		Items []struct{ ID string }
	}
	srv.Super("GET", "/api/keys", nil, 200, &keys)
	if len(keys.Items) != 1 {
		t.Fatalf("%d keys, want 1", len(keys.Items))
	}
	id := keys.Items[0].ID
	_, confirm := c.get("/admin/keys/" + id + "/revoke")
	if strings.Contains(confirm, secret) || !strings.Contains(confirm, "Revoke key") {
		t.Errorf("the revoke confirmation page is wrong:\n%s", clip(confirm, 2000))
	}
	status, body, loc := c.post("/admin/keys/"+id+"/revoke", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/keys?flash=") {
		t.Fatalf("revoke: %d to %q\n%s", status, loc, clip(body, 1000))
	}
	srv.Do("GET", "/api/jobs", "Bearer "+secret, nil, 401, nil)
}

// Bad input to a form gives 400 and the page again with the field named.
func TestOpsBadInput(t *testing.T) {
	t.Parallel()
	_, c := opsSession(t, "sqlite")
	cases := []struct {
		name, path string
		form       url.Values
		id, want   string
	}{
		{"port not a number", "/admin/settings/smtp", url.Values{"smtp.port": {"abc"}}, "smtp-port", "Must be a whole number."},
		{"app URL", "/admin/settings/app", url.Values{"meta.appName": {"App"}, "meta.appURL": {"not a url"}, "meta.senderAddress": {"a@example.com"}}, "meta-appURL", "Must be an absolute http(s) URL."},
		{"app name", "/admin/settings/app", url.Values{"meta.appName": {""}, "meta.appURL": {"https://example.com"}, "meta.senderAddress": {"a@example.com"}}, "meta-appName", "Give the app a name"},
		{"rule label", "/admin/settings/limits", url.Values{"rateLimits.rules.count": {"2"}, "rateLimits.rules.0.label": {""},
			"rateLimits.rules.1.label": {"no spaces allowed here"}, "rateLimits.rules.1.maxRequests": {"5"}, "rateLimits.rules.1.duration": {"60"}},
			"rule-1-label", "Must be a tag"},
		{"batch timeout", "/admin/settings/batch", url.Values{"batch.enabled": {"on"}, "batch.maxRequests": {"10"}, "batch.timeout": {"0"}}, "batch-timeout", "Must be at least 1 second"},
		{"superuser addresses", "/admin/settings/addresses", url.Values{"superuserIPs": {"10.9.9.9"}}, "superuserIPs", "would refuse your own"},
		{"test email address", "/admin/settings/test-email", url.Values{"test.email": {"nobody"}, "test.template": {"verification"}}, "test-email", "Must be a valid email address."},
		{"token duration", "/admin/settings/auth/users/tokens", url.Values{"authToken": {"5"}, "verificationToken": {"60"}, "passwordResetToken": {"60"},
			"emailChangeToken": {"60"}, "fileToken": {"60"}}, "token-authToken", "Duration must be between 60"},
		{"provider without client id", "/admin/settings/auth/users/oauth2", url.Values{"oauth2.providers.count": {"1"},
			"oauth2.providers.0.name": {"github"}, "oauth2.providers.0.clientSecret": {"s3cret-value"}}, "oauth2-providers-0-clientId", "Missing client id."},
		{"superuser password confirmation", "/admin/superusers", url.Values{"email": {"second@example.com"}, "password": {"password-one-1"}, "passwordConfirm": {"password-two-2"}}, "su-passwordConfirm", ""},
		{"key without a name", "/admin/keys", url.Values{"name": {""}, "access": {"superuser"}}, "key-name", "Give the key a name"},
		{"webhook URL", "/admin/webhooks", url.Values{"collection": {"users"}, "events": {"create"}, "url": {"ftp://example.com"}}, "wh-url", "The URL must be http:// or https://"},
		{"webhook filter", "/admin/webhooks", url.Values{"collection": {"users"}, "events": {"create"}, "url": {"https://example.com/h"}, "filter": {"nosuchfield = 1"}}, "wh-filter", ""},
	}
	for _, tc := range cases {
		status, body, _ := c.post(tc.path, tc.form)
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400\n%s", tc.name, status, clip(body, 1000))
			continue
		}
		if !opsFieldError(body, tc.id, tc.want) {
			t.Errorf("%s: the page does not mark #%s with %q", tc.name, tc.id, tc.want)
		}
		if strings.Contains(body, "password-one-1") || strings.Contains(body, "s3cret-value") {
			t.Errorf("%s: the page shows a password or secret it was sent", tc.name)
		}
	}
}

// Secrets in the settings are never in the page: not after saving, not
// after a failed save that sent them.
func TestOpsSettingsSecrets(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	const password, secret = "smtp-Pa55word-xyz", "s3-Secr3t-abcdef"
	status, body, _ := c.post("/admin/settings/smtp", url.Values{"smtp.host": {"smtp.example.com"}, "smtp.port": {"587"},
		"smtp.username": {"mailer"}, "smtp.password": {password}})
	if status != http.StatusSeeOther {
		t.Fatalf("save SMTP: %d\n%s", status, clip(body, 2000))
	}
	status, body, _ = c.post("/admin/settings/s3", url.Values{"s3.bucket": {"files"}, "s3.region": {"us-east-1"},
		"s3.endpoint": {"https://s3.example.com"}, "s3.accessKey": {"AKIA"}, "s3.secret": {secret}})
	if status != http.StatusSeeOther {
		t.Fatalf("save S3: %d\n%s", status, clip(body, 2000))
	}
	_, page := c.get("/admin/settings")
	for _, s := range []string{password, secret} {
		if strings.Contains(page, s) {
			t.Errorf("the settings page shows the secret %q", s)
		}
	}
	if !strings.Contains(page, `value="smtp.example.com"`) || !strings.Contains(page, `value="AKIA"`) {
		t.Error("the settings page does not show the saved settings")
	}
	// A failed save (port out of range) shows the form again without the
	// password typed into it.
	status, body, _ = c.post("/admin/settings/smtp", url.Values{"smtp.enabled": {"on"}, "smtp.host": {"smtp.example.com"}, "smtp.port": {"99999"}, "smtp.password": {"another-Pa55"}})
	if status != http.StatusBadRequest || strings.Contains(body, "another-Pa55") || strings.Contains(body, password) {
		t.Errorf("a failed SMTP save: %d, or it shows the password", status)
	}
	// An empty secret keeps the stored one: saving again without it
	// leaves the password in place, so mail can still log in.
	status, _, _ = c.post("/admin/settings/smtp", url.Values{"smtp.host": {"smtp2.example.com"}, "smtp.port": {"587"}, "smtp.password": {""}})
	if status != http.StatusSeeOther {
		t.Fatalf("save SMTP again: %d", status)
	}
	if ok, err := hasSMTPPassword(srv); err != nil || !ok {
		t.Errorf("saving without the password dropped the stored one (%v)", err)
	}
}

// hasSMTPPassword reports whether a password is stored for SMTP, by
// turning SMTP on through the API and reading the mail settings.
func hasSMTPPassword(srv *testkit.Server) (bool, error) {
	srv.Super("PATCH", "/api/settings", map[string]any{"smtp": map[string]any{"enabled": true}}, 200, nil)
	ms, err := srv.App.Settings.MailSettings(context.Background())
	if err != nil {
		return false, err
	}
	return ms.SMTP.Password != "", nil
}

// The dev mailbox's HTML bodies are never in the admin's page: escaped
// there, and served apart with a sandboxing policy.
func TestOpsMailboxHTML(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	const evil = `<script>alert("mail")</script><img src="https://tracker.example/p.gif"><p>Hello</p>`
	if err := srv.App.Settings.SendMessage(context.Background(), "dev@example.com", "Hi there", "plain text", evil); err != nil {
		t.Fatal(err)
	}
	_, list := c.get("/admin/mailbox")
	m := regexp.MustCompile(`href="/admin/mailbox/([^"/]+)"`).FindStringSubmatch(list)
	if m == nil || !strings.Contains(list, "Hi there") {
		t.Fatalf("the mailbox does not list the message:\n%s", clip(list, 2000))
	}
	_, page := c.get("/admin/mailbox/" + m[1])
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `<img src="https://tracker`) {
		t.Error("the message page puts the HTML body into the admin page")
	}
	if !strings.Contains(page, `<iframe class="mailframe" sandbox src="/admin/mailbox/`+m[1]+`/html"`) {
		t.Error("the message page has no sandboxed frame for the HTML body")
	}
	resp, body := c.get("/admin/mailbox/" + m[1] + "/html")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "sandbox;") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("the HTML body's policy is %q", csp)
	}
	if body != evil {
		t.Errorf("the HTML body is served as %q", body)
	}
}

// Retry and cancel go through the queue; an unknown job is 404, not 500.
func TestOpsJobOps(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	e, err := srv.App.Jobs.Enqueue(context.Background(), "email", map[string]any{"to": "x@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := e.Job.ID
	status, _, loc := c.post("/admin/jobs/"+strconv.FormatInt(id, 10)+"/cancel", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/jobs/"+strconv.FormatInt(id, 10)+"?flash=") {
		t.Fatalf("cancel: %d to %q", status, loc)
	}
	j, err := srv.App.Jobs.Get(context.Background(), id)
	if err != nil || j.State != jobs.StateCancelled {
		t.Fatalf("after cancel the job is %v (%v)", j, err)
	}
	_, page := c.get("/admin/jobs/" + strconv.FormatInt(id, 10))
	if !strings.Contains(page, `id="job-state">cancelled`) || strings.Contains(page, `id="job-cancel"`) {
		t.Error("the job page does not show the cancelled job, or still offers to cancel it")
	}
	if status, _, _ := c.post("/admin/jobs/"+strconv.FormatInt(id, 10)+"/retry", nil); status != http.StatusSeeOther {
		t.Fatalf("retry: %d", status)
	}
	if j, _ := srv.App.Jobs.Get(context.Background(), id); j.State != jobs.StateAvailable {
		t.Errorf("after retry the job is %s, want available", j.State)
	}
	for _, p := range []string{"/admin/jobs/999999/retry", "/admin/jobs/abc/cancel"} {
		if status, _, _ := c.post(p, nil); status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, status)
		}
	}
	resp := c.do("GET", "/admin/jobs?state=nonsense", nil)
	opsRead(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown state tab: %d, want 400", resp.StatusCode)
	}
}

// A webhook's secret is shown when it is made and rotated, never on its
// page after.
func TestOpsWebhookSecret(t *testing.T) {
	t.Parallel()
	_, c := opsSession(t, "sqlite")
	status, body, _ := c.post("/admin/webhooks", url.Values{"collection": {"users"}, "events": {"create", "update"}, "url": {"https://example.com/hook"}, "enabled": {"on"}})
	if status != http.StatusOK {
		t.Fatalf("create: %d\n%s", status, clip(body, 2000))
	}
	m := regexp.MustCompile(`id="webhook-secret">([^<]+)<`).FindStringSubmatch(body)
	idm := regexp.MustCompile(`action="/admin/webhooks/([^"/]+)/rotate"`).FindStringSubmatch(body)
	if m == nil || idm == nil {
		t.Fatalf("the answer that creates a webhook lacks its secret or id:\n%s", clip(body, 3000))
	}
	_, page := c.get("/admin/webhooks/" + idm[1])
	if strings.Contains(page, m[1]) {
		t.Error("the webhook page shows its secret again")
	}
	status, body, _ = c.post("/admin/webhooks/"+idm[1]+"/rotate", nil)
	m2 := regexp.MustCompile(`id="webhook-secret">([^<]+)<`).FindStringSubmatch(body)
	if status != http.StatusOK || m2 == nil || m2[1] == m[1] {
		t.Errorf("rotate: %d, new secret %v", status, m2)
	}
}

// OAuth2 providers and token durations are saved into the auth
// collection; the client secret is write-only and kept when left empty.
func TestOpsAuthSettings(t *testing.T) {
	t.Parallel()
	srv, c := opsSession(t, "sqlite")
	const secret = "gh-client-s3cret"
	status, body, loc := c.post("/admin/settings/auth/users/oauth2", url.Values{"oauth2.enabled": {"on"}, "oauth2.providers.count": {"1"},
		"oauth2.providers.0.name": {"github"}, "oauth2.providers.0.clientId": {"client-1"}, "oauth2.providers.0.clientSecret": {secret}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/settings/auth/users?flash=") {
		t.Fatalf("add a provider: %d to %q\n%s", status, loc, clip(body, 2000))
	}
	type provider struct {
		Name, ClientID, ClientSecret string
	}
	var col struct {
		OAuth2 struct {
			Enabled   bool
			Providers []provider
		}
		AuthToken struct{ Duration int64 }
	}
	srv.Super("GET", "/api/collections/users", nil, 200, &col)
	if !col.OAuth2.Enabled || len(col.OAuth2.Providers) != 1 || col.OAuth2.Providers[0].ClientID != "client-1" {
		t.Fatalf("after saving, the collection's OAuth2 is %+v", col.OAuth2)
	}
	_, page := c.get("/admin/settings/auth/users")
	if strings.Contains(page, secret) || !strings.Contains(page, `value="client-1"`) {
		t.Error("the page shows the client secret, or not the client id")
	}
	// Saved again without the secret: it is kept (a provider without one
	// would not validate).
	status, body, _ = c.post("/admin/settings/auth/users/oauth2", url.Values{"oauth2.enabled": {"on"}, "oauth2.providers.count": {"2"},
		"oauth2.providers.0.existing": {"on"}, "oauth2.providers.0.name": {"github"}, "oauth2.providers.0.clientId": {"client-2"},
		"oauth2.providers.1.name": {""}})
	if status != http.StatusSeeOther {
		t.Fatalf("save without the secret: %d\n%s", status, clip(body, 2000))
	}
	srv.Super("GET", "/api/collections/users", nil, 200, &col)
	if len(col.OAuth2.Providers) != 1 || col.OAuth2.Providers[0].ClientID != "client-2" {
		t.Errorf("after saving again, the providers are %+v", col.OAuth2.Providers)
	}
	// Removed.
	status, _, _ = c.post("/admin/settings/auth/users/oauth2", url.Values{"oauth2.providers.count": {"1"},
		"oauth2.providers.0.existing": {"on"}, "oauth2.providers.0.name": {"github"}, "oauth2.providers.0.remove": {"on"}})
	srv.Super("GET", "/api/collections/users", nil, 200, &col)
	if status != http.StatusSeeOther || len(col.OAuth2.Providers) != 0 || col.OAuth2.Enabled {
		t.Errorf("remove: %d, providers %+v", status, col.OAuth2)
	}
	// Token durations; the superusers' is the admin session's.
	form := url.Values{"authToken": {"3600"}, "verificationToken": {"600"}, "passwordResetToken": {"600"}, "emailChangeToken": {"600"}, "fileToken": {"120"}}
	if status, body, _ := c.post("/admin/settings/auth/_superusers/tokens", form); status != http.StatusSeeOther {
		t.Fatalf("save token durations: %d\n%s", status, clip(body, 2000))
	}
	srv.Super("GET", "/api/collections/_superusers", nil, 200, &col)
	if col.AuthToken.Duration != 3600 {
		t.Errorf("the superusers' token lasts %d s, want 3600", col.AuthToken.Duration)
	}
	// No OAuth2 for superusers here.
	if status, _, _ := c.post("/admin/settings/auth/_superusers/oauth2", url.Values{"oauth2.enabled": {"on"}}); status != http.StatusBadRequest {
		t.Errorf("OAuth2 for superusers: %d, want 400", status)
	}
	// A base collection has no auth settings.
	srv.Super("POST", "/api/collections", map[string]any{"name": "notes"}, 200, nil)
	resp := c.do("GET", "/admin/settings/auth/notes", nil)
	opsRead(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("auth settings of a base collection: %d, want 404", resp.StatusCode)
	}
}
