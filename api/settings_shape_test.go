package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/blob/blobtest"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// withKey restarts s with an encryption key, so secrets can be saved on
// both engines.
func withKey(s *testkit.Server) *testkit.Server {
	return s.Restart(func(c *config.Config) { c.EncryptionKey = "settings-shape-test-key" })
}

// send sends a request with a token and extra headers and returns the
// status and body.
func send(t *testing.T, s *testkit.Server, method, path, token string, headers map[string]string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// at reads the value at a dotted path ("rateLimits.rules.0.label") of a
// decoded JSON object.
func at(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// documentedKeys are the settings keys PocketBase documents, and our own.
var documentedKeys = []string{
	"meta.appName", "meta.appURL", "meta.senderName", "meta.senderAddress", "meta.hideControls", "meta.accentColor",
	"smtp.enabled", "smtp.host", "smtp.port", "smtp.username", "smtp.password", "smtp.authMethod", "smtp.tls", "smtp.localName",
	"batch.enabled", "batch.maxRequests", "batch.timeout", "batch.maxBodySize",
	"trustedProxy.headers", "trustedProxy.useLeftmostIP", "superuserIPs",
	"s3.enabled", "s3.bucket", "s3.region", "s3.endpoint", "s3.accessKey", "s3.secret", "s3.forcePathStyle",
	"backups.cron", "backups.cronMaxKeep", "backups.s3.enabled", "backups.s3.bucket", "backups.s3.secret",
	"logs.maxDays", "logs.minLevel", "logs.logIP", "logs.logAuthId",
	"rateLimits.enabled", "rateLimits.excludedIPs", "rateLimits.rules.0.label", "rateLimits.rules.0.audience",
	"rateLimits.rules.0.duration", "rateLimits.rules.0.maxRequests",
	"trustedProxies",
}

// A tool that reads the whole settings object, changes it and sends it
// back saves every documented key, and the secrets it got back empty stay
// as they were.
func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s = withKey(s)
		var got map[string]any
		s.Super("GET", "/api/settings", nil, 200, &got)
		for _, k := range documentedKeys {
			if _, ok := at(got, k); !ok {
				t.Errorf("GET /api/settings lacks %s: %v", k, got)
			}
		}
		if v, _ := at(got, "batch.maxRequests"); v != 50.0 {
			t.Errorf("batch.maxRequests default: %v", v)
		}
		if v, _ := at(got, "logs.logIP"); v != true {
			t.Errorf("logs.logIP default: %v", v)
		}

		// Change every key, then send the whole object back.
		next := map[string]any{
			"meta": map[string]any{"appName": "Round Trip", "appURL": "https://rt.example.com", "senderName": "RT",
				"senderAddress": "rt@example.com", "hideControls": true, "accentColor": "#0e7a6d"},
			"smtp": map[string]any{"enabled": true, "host": "smtp.example.com", "port": 465.0, "username": "mailer",
				"password": "smtp-secret", "authMethod": "LOGIN", "tls": true, "localName": "mail.example.org"},
			"batch":          map[string]any{"enabled": true, "maxRequests": 20.0, "timeout": 5.0, "maxBodySize": 1048576.0},
			"trustedProxies": []any{"10.0.0.0/8"},
			"trustedProxy":   map[string]any{"headers": []any{"X-Forwarded-For"}, "useLeftmostIP": true},
			"superuserIPs":   []any{"127.0.0.1", "::1", "10.0.0.0/8"},
			"s3": map[string]any{"enabled": true, "bucket": "files", "region": "eu-central-1", "endpoint": "https://s3.example.com",
				"accessKey": "AKIA1", "secret": "s3-secret", "forcePathStyle": true},
			"backups": map[string]any{"cron": "0 3 * * *", "cronMaxKeep": 5.0, "s3": map[string]any{"enabled": false,
				"bucket": "backups", "region": "", "endpoint": "", "accessKey": "", "secret": "", "forcePathStyle": false}},
			"logs": map[string]any{"maxDays": 9.0, "minLevel": 4.0, "logIP": false, "logAuthId": true},
			"rateLimits": map[string]any{"enabled": true, "excludedIPs": []any{"192.0.2.0/24"}, "rules": []any{
				map[string]any{"label": "auth", "audience": "", "duration": 60.0, "maxRequests": 1000.0},
				map[string]any{"label": "signup", "audience": "", "duration": 60.0, "maxRequests": 1000.0},
				map[string]any{"label": "*:create", "audience": "@guest", "duration": 10.0, "maxRequests": 100.0},
				map[string]any{"label": "POST /api/batch", "audience": "@auth", "duration": 1.0, "maxRequests": 3.0},
			}},
		}
		whole := got
		for k, v := range next {
			whole[k] = v
		}
		var saved map[string]any
		s.Super("PATCH", "/api/settings", whole, 200, &saved)
		want := map[string]any{}
		b, _ := json.Marshal(whole)
		json.Unmarshal(b, &want)
		want["smtp"].(map[string]any)["password"] = ""
		want["s3"].(map[string]any)["secret"] = ""
		if !reflect.DeepEqual(saved, want) {
			t.Errorf("PATCH answered\n%v\nwant\n%v", saved, want)
		}
		var again map[string]any
		s.Super("GET", "/api/settings", nil, 200, &again)
		if !reflect.DeepEqual(again, want) {
			t.Errorf("GET after PATCH\n%v\nwant\n%v", again, want)
		}

		// Sending back what GET shows (secrets empty), or the old mask,
		// keeps the secrets.
		s.Super("PATCH", "/api/settings", again, 200, nil)
		again["s3"].(map[string]any)["secret"] = "******"
		again["smtp"].(map[string]any)["password"] = "******"
		s.Super("PATCH", "/api/settings", again, 200, nil)
		ctx := context.Background()
		if m, err := s.App.Settings.MailSettings(ctx); err != nil || m.SMTP.Password != "smtp-secret" {
			t.Errorf("smtp password after round trips: %q %v", m.SMTP.Password, err)
		}
		if c, err := s.App.Settings.S3(ctx); err != nil || c.Secret != "s3-secret" || c.Bucket != "files" {
			t.Errorf("s3 after round trips: %+v %v", c, err)
		}
		if b, err := s.App.Settings.Batch(ctx); err != nil || !b.Enabled || b.MaxRequests != 20 || b.BodyLimit() != 1048576 {
			t.Errorf("batch getter: %+v %v", b, err)
		}
		resp := s.Super("GET", "/api/settings", nil, 200, nil)
		if bytes.Contains(resp.Body, []byte("smtp-secret")) || bytes.Contains(resp.Body, []byte("s3-secret")) {
			t.Errorf("a secret is shown: %s", resp.Body)
		}
	})
}

// Each documented key can be changed on its own.
func TestSettingsAcceptEveryDocumentedKey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		for _, tc := range []struct {
			key   string
			patch string
			want  any
		}{
			{"meta.accentColor", `{"meta":{"accentColor":"rgb(14, 122, 109)"}}`, "rgb(14, 122, 109)"},
			{"meta.hideControls", `{"meta":{"hideControls":true}}`, true},
			{"smtp.authMethod", `{"smtp":{"authMethod":"PLAIN"}}`, "PLAIN"},
			{"smtp.localName", `{"smtp":{"localName":"relay.example.com"}}`, "relay.example.com"},
			{"smtp.tls", `{"smtp":{"tls":true}}`, true},
			{"batch.enabled", `{"batch":{"enabled":true}}`, true},
			{"batch.maxRequests", `{"batch":{"maxRequests":100}}`, 100.0},
			{"batch.timeout", `{"batch":{"timeout":10}}`, 10.0},
			{"batch.maxBodySize", `{"batch":{"maxBodySize":0}}`, 0.0},
			{"trustedProxy.useLeftmostIP", `{"trustedProxy":{"useLeftmostIP":true}}`, true},
			{"trustedProxy.headers.0", `{"trustedProxies":["10.0.0.1"],"trustedProxy":{"headers":["CF-Connecting-IP"]}}`, "CF-Connecting-IP"},
			{"superuserIPs.1", `{"superuserIPs":["127.0.0.1","::1"]}`, "::1"},
			{"superuserIPs", `{"superuserIPs":[]}`, []any{}},
			{"s3.forcePathStyle", `{"s3":{"forcePathStyle":true}}`, true},
			{"s3.endpoint", `{"s3":{"endpoint":"http://127.0.0.1:9000"}}`, "http://127.0.0.1:9000"},
			{"backups.cron", `{"backups":{"cron":"@daily"}}`, "@daily"},
			{"backups.cronMaxKeep", `{"backups":{"cronMaxKeep":1}}`, 1.0},
			{"backups.s3.bucket", `{"backups":{"s3":{"bucket":"b"}}}`, "b"},
			{"logs.maxDays", `{"logs":{"maxDays":0}}`, 0.0},
			{"logs.minLevel", `{"logs":{"minLevel":-4}}`, -4.0},
			{"logs.logIP", `{"logs":{"logIP":false}}`, false},
			{"logs.logAuthId", `{"logs":{"logAuthId":true}}`, true},
			{"rateLimits.enabled", `{"rateLimits":{"enabled":false}}`, false},
			{"rateLimits.excludedIPs.0", `{"rateLimits":{"excludedIPs":["2001:db8::/32"]}}`, "2001:db8::/32"},
			{"rateLimits.rules.0.audience", `{"rateLimits":{"rules":[{"label":"users:auth","audience":"@guest","duration":3,"maxRequests":2}]}}`, "@guest"},
			{"rateLimits.rules.1.label", `{"rateLimits":{"rules":[{"label":"/api/","audience":"@guest","duration":10,"maxRequests":300},{"label":"/api/","audience":"@auth","duration":10,"maxRequests":600}]}}`, "/api/"},
		} {
			var got map[string]any
			s.Super("PATCH", "/api/settings", json.RawMessage(tc.patch), 200, &got)
			if v, ok := at(got, tc.key); !ok || !reflect.DeepEqual(v, tc.want) {
				t.Errorf("%s: got %#v, want %#v", tc.key, v, tc.want)
			}
		}
	})
}

// Bad values are refused with a 400 naming the key, and nothing of the
// patch is saved.
func TestSettingsRefuseBadValues(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		before := s.Super("GET", "/api/settings", nil, 200, nil).Body
		for name, tc := range map[string]struct {
			patch string
			key   string
		}{
			"negative batch size":          {`{"batch":{"maxRequests":-1}}`, "batch.maxRequests"},
			"enabled batch of nothing":     {`{"batch":{"enabled":true,"maxRequests":0}}`, "batch.maxRequests"},
			"enabled batch without time":   {`{"batch":{"enabled":true,"timeout":0}}`, "batch.timeout"},
			"negative body size":           {`{"batch":{"maxBodySize":-5}}`, "batch.maxBodySize"},
			"batch flag of the wrong type": {`{"batch":{"enabled":"yes"}}`, "batch.enabled"},
			"negative rule maxRequests":    {`{"rateLimits":{"rules":[{"label":"auth","duration":60,"maxRequests":-1}]}}`, "rateLimits.rules.0.maxRequests"},
			"zero rule duration":           {`{"rateLimits":{"rules":[{"label":"auth","duration":0,"maxRequests":1}]}}`, "rateLimits.rules.0.duration"},
			"unknown audience":             {`{"rateLimits":{"rules":[{"label":"auth","audience":"@admins","duration":60,"maxRequests":1}]}}`, "rateLimits.rules.0.audience"},
			"bad label":                    {`{"rateLimits":{"rules":[{"label":"not a label!","duration":60,"maxRequests":1}]}}`, "rateLimits.rules.0.label"},
			"conflicting labels": {`{"rateLimits":{"rules":[{"label":"*:list","duration":60,"maxRequests":1},{"label":"*:list","audience":"@auth","duration":60,"maxRequests":1}]}}`,
				"rateLimits.rules.1.label"},
			"bad excluded IP":            {`{"rateLimits":{"excludedIPs":["10.0.0.1","nope"]}}`, "rateLimits.excludedIPs.1"},
			"malformed superuser IP":     {`{"superuserIPs":["127.0.0.1","not-an-ip"]}`, "superuserIPs.1"},
			"malformed superuser CIDR":   {`{"superuserIPs":["10.0.0.0/33"]}`, "superuserIPs.0"},
			"superuser IP with a port":   {`{"superuserIPs":["127.0.0.1:8090"]}`, "superuserIPs.0"},
			"bad header name":            {`{"trustedProxies":["10.0.0.1"],"trustedProxy":{"headers":["X Forwarded"]}}`, "trustedProxy.headers.0"},
			"headers without proxies":    {`{"trustedProxy":{"headers":["X-Forwarded-For"]}}`, "trustedProxy.headers"},
			"s3 endpoint not http":       {`{"s3":{"endpoint":"ftp://s3.example.com"}}`, "s3.endpoint"},
			"s3 enabled without bucket":  {`{"s3":{"enabled":true,"region":"r","endpoint":"https://s3.example.com","accessKey":"k"}}`, "s3.bucket"},
			"bad backup cron":            {`{"backups":{"cron":"61 * * * *"}}`, "backups.cron"},
			"backups kept: none":         {`{"backups":{"cron":"@daily","cronMaxKeep":0}}`, "backups.cronMaxKeep"},
			"negative log days":          {`{"logs":{"maxDays":-1}}`, "logs.maxDays"},
			"unknown smtp auth":          {`{"smtp":{"authMethod":"CRAM-MD5"}}`, "smtp.authMethod"},
			"accent color that escapes":  {`{"meta":{"accentColor":"red;}body{display:none"}}`, "meta.accentColor"},
			"unknown key":                {`{"batch":{"enabled":false},"nope":1}`, "nope"},
			"valid keys with a bad one":  {`{"meta":{"appName":"Changed"},"logs":{"maxDays":-3}}`, "logs.maxDays"},
			"smtp local name with space": {`{"smtp":{"localName":"a b"}}`, "smtp.localName"},
		} {
			var e errBody
			s.Super("PATCH", "/api/settings", json.RawMessage(tc.patch), 400, &e)
			if e.Data[tc.key].Code == "" {
				t.Errorf("%s: want data.%s, got %+v", name, tc.key, e)
			}
		}
		if after := s.Super("GET", "/api/settings", nil, 200, nil).Body; !bytes.Equal(before, after) {
			t.Errorf("a refused patch changed the settings:\n%s\n%s", before, after)
		}
	})
}

// superuserIPs is enforced on every request a superuser makes, by token
// or superuser API key; others are not concerned, and a change that would
// refuse its own sender is refused.
func TestSuperuserIPs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		var key keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &key)
		usersSchema(t, s, "")
		u := signUp(t, s, "u@example.com", "u-password-123")
		away := map[string]string{"X-Forwarded-For": "203.0.113.9"}

		// The test talks over loopback; the proxy there says the client is
		// elsewhere.
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		if code, _ := send(t, s, "GET", "/api/settings", s.Token, away, nil); code != 200 {
			t.Fatalf("no list yet: %d", code)
		}
		var e errBody
		s.Super("PATCH", "/api/settings", map[string]any{"superuserIPs": []string{"198.51.100.0/24"}}, 400, &e)
		if e.Data["superuserIPs"].Code != "validation_superuser_ip_lockout" {
			t.Fatalf("lockout: %+v", e)
		}
		s.Super("PATCH", "/api/settings", map[string]any{"superuserIPs": []string{"127.0.0.1", "::1"}}, 200, nil)

		for _, tc := range []struct {
			name, method, path, token string
			body                      any
		}{
			{"settings", "GET", "/api/settings", s.Token, nil},
			{"collections", "GET", "/api/collections", s.Token, nil},
			{"records", "GET", "/api/collections/users/records", s.Token, nil},
			{"sql", "POST", "/api/sql", s.Token, map[string]any{"sql": "select 1"}},
			{"health", "GET", "/api/health", s.Token, nil},
			{"api key", "GET", "/api/collections", "Bearer " + key.Key, nil},
		} {
			if code, body := send(t, s, tc.method, tc.path, tc.token, away, tc.body); code != 403 {
				t.Errorf("%s from elsewhere: %d %s", tc.name, code, body)
			}
			if code, body := send(t, s, tc.method, tc.path, tc.token, nil, tc.body); code != 200 {
				t.Errorf("%s from loopback: %d %s", tc.name, code, body)
			}
		}
		// Users and guests are not concerned.
		if code, _ := send(t, s, "GET", "/api/collections/users/records", u.Token, away, nil); code != 200 {
			t.Errorf("user from elsewhere: %d", code)
		}
		if code, _ := send(t, s, "GET", "/api/health", "", away, nil); code != 200 {
			t.Errorf("guest from elsewhere: %d", code)
		}
		// An empty list lets superusers in from anywhere again.
		s.Super("PATCH", "/api/settings", map[string]any{"superuserIPs": []string{}}, 200, nil)
		if code, _ := send(t, s, "GET", "/api/settings", s.Token, away, nil); code != 200 {
			t.Errorf("after emptying the list: %d", code)
		}
	})
}

// The superuser part of /api/health: the client address as the server
// sees it through the trusted proxies, and a forwarding header present.
func TestHealthForSuperusers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		type health struct {
			Code int
			Data map[string]any
		}
		var h health
		s.Do("GET", "/api/health", "", nil, 200, &h)
		if h.Code != 200 || len(h.Data) != 0 {
			t.Errorf("guest health: %+v", h)
		}
		fwd := map[string]string{"X-Forwarded-For": "198.51.100.7"}
		code, body := send(t, s, "GET", "/api/health", s.Token, fwd, nil)
		json.Unmarshal(body, &h)
		if code != 200 || h.Data["canBackup"] != false || h.Data["possibleProxyHeader"] != "X-Forwarded-For" {
			t.Errorf("superuser health behind an untrusted proxy: %d %s", code, body)
		}
		if ip := h.Data["realIP"]; ip != "127.0.0.1" && ip != "::1" {
			t.Errorf("realIP without trusted proxies: %v", ip)
		}
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		_, body = send(t, s, "GET", "/api/health", s.Token, fwd, nil)
		json.Unmarshal(body, &h)
		if h.Data["realIP"] != "198.51.100.7" {
			t.Errorf("realIP through a trusted proxy: %s", body)
		}
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxy": map[string]any{"headers": []string{"Fly-Client-IP"}}}, 200, nil)
		_, body = send(t, s, "GET", "/api/health", s.Token, map[string]string{"Fly-Client-IP": "192.0.2.44", "X-Forwarded-For": "198.51.100.7"}, nil)
		json.Unmarshal(body, &h)
		if h.Data["realIP"] != "192.0.2.44" || h.Data["possibleProxyHeader"] != "Fly-Client-IP" {
			t.Errorf("with a configured header: %s", body)
		}
	})
}

// The documented rate limit rules drive the limiter: collection tags,
// paths, audiences, excluded addresses; superusers are never limited.
func TestRateLimitRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		u := signUp(t, s, "u@example.com", "u-password-123")
		for _, name := range []string{"memos", "todos"} {
			s.Super("POST", "/api/collections", map[string]any{"name": name, "listRule": "", "fields": []map[string]any{{"name": "text", "type": "text"}}}, 200, nil)
		}
		rules := []map[string]any{
			{"label": "*:list", "audience": "@guest", "duration": 3600, "maxRequests": 2},
			{"label": "GET /api/health", "duration": 3600, "maxRequests": 3},
		}
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true, "rules": rules}}, 200, nil)

		for i := 0; i < 2; i++ {
			s.Do("GET", "/api/collections/memos/records", "", nil, 200, nil)
		}
		resp := s.Do("GET", "/api/collections/memos/records", "", nil, 429, nil)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		// A "*:" rule counts per collection, and the @guest rule leaves
		// authenticated callers and superusers alone.
		s.Do("GET", "/api/collections/todos/records", "", nil, 200, nil)
		for i := 0; i < 4; i++ {
			s.Do("GET", "/api/collections/memos/records", u.Token, nil, 200, nil)
			s.Super("GET", "/api/collections/memos/records", nil, 200, nil)
		}
		// A method and path label; superusers are not counted.
		for i := 0; i < 3; i++ {
			s.Super("GET", "/api/health", nil, 200, nil)
			s.Do("GET", "/api/health", "", nil, 200, nil)
		}
		s.Do("GET", "/api/health", u.Token, nil, 429, nil)
		// Excluded addresses are never limited.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"excludedIPs": []string{"127.0.0.1", "::1"}}}, 200, nil)
		s.Do("GET", "/api/collections/memos/records", "", nil, 200, nil)
		s.Do("GET", "/api/health", "", nil, 200, nil)
		// Nothing is limited while rate limits are off.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": false, "excludedIPs": []string{}}}, 200, nil)
		s.Do("GET", "/api/collections/memos/records", "", nil, 200, nil)
		// A prefix rule covers every path under it.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true, "rules": []map[string]any{
			{"label": "/api/collections/", "audience": "@auth", "duration": 3600, "maxRequests": 1}}}}, 200, nil)
		s.Do("GET", "/api/collections/todos/records", u.Token, nil, 200, nil)
		s.Do("GET", "/api/collections/memos/records", u.Token, nil, 429, nil)
		s.Do("GET", "/api/collections/memos/records", "", nil, 200, nil)
	})
}

// The test email goes through the mailer of the settings: the dev
// mailbox without SMTP, and a clear 400 when the SMTP server cannot be
// reached.
func TestSettingsTestEmail(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Do("POST", "/api/settings/test/email", "", map[string]any{"email": "a@example.com", "template": "verification"}, 401, nil)
		var e errBody
		s.Super("POST", "/api/settings/test/email", map[string]any{"email": "nope", "template": "welcome", "collection": "nope"}, 400, &e)
		for _, k := range []string{"email", "template", "collection"} {
			if e.Data[k].Code == "" {
				t.Errorf("bad %s not named: %+v", k, e)
			}
		}
		for template, subject := range map[string]string{"verification": "Verify", "password-reset": "Reset", "otp": "OTP"} {
			to := template + "@example.com"
			s.Super("POST", "/api/settings/test/email", map[string]any{"email": to, "template": template, "collection": "_superusers"}, 204, nil)
			m, err := s.App.Settings.Mailbox().Latest(to)
			if err != nil || !strings.Contains(m.Subject, subject) {
				t.Errorf("%s mail: %+v %v", template, m, err)
			}
		}

		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // nothing listens there now
		s.Super("PATCH", "/api/settings", map[string]any{"smtp": map[string]any{"enabled": true, "host": "127.0.0.1", "port": port}}, 200, nil)
		s.Super("POST", "/api/settings/test/email", map[string]any{"email": "x@example.com", "template": "otp"}, 400, &e)
		if !strings.HasPrefix(e.Message, "Failed to send the test email") {
			t.Errorf("unreachable SMTP: %+v", e)
		}
	})
}

func TestSettingsTestS3(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Do("POST", "/api/settings/test/s3", "", nil, 401, nil)
		var e errBody
		s.Super("POST", "/api/settings/test/s3", map[string]any{"filesystem": "storage"}, 400, &e)
		if e.Message != "S3 storage is not configured." {
			t.Errorf("disabled: %+v", e)
		}
		s.Super("POST", "/api/settings/test/s3", map[string]any{"filesystem": "backups"}, 400, &e)
		if e.Message != "S3 storage is not configured." {
			t.Errorf("backups disabled: %+v", e)
		}
		s.Super("POST", "/api/settings/test/s3", map[string]any{"filesystem": "nfs"}, 400, &e)
		if e.Data["filesystem"].Code == "" {
			t.Errorf("unknown filesystem: %+v", e)
		}
		// Enabled, on an endpoint where nothing listens: S3's reason.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		l.Close()
		s = withKey(s)
		s.Super("PATCH", "/api/settings", map[string]any{"s3": map[string]any{"enabled": true, "bucket": "files", "region": "us-east-1",
			"endpoint": closed, "accessKey": "k", "secret": "s", "forcePathStyle": true}}, 200, nil)
		s.Super("POST", "/api/settings/test/s3", nil, 400, &e)
		if !strings.HasPrefix(e.Message, "Failed to test the S3 filesystem: ") {
			t.Errorf("unreachable: %+v", e)
		}
	})
}

// With a real S3 service (TORTOISE_TEST_S3), the check writes to the
// bucket and answers 204; a bucket that does not exist is a 400 saying so.
func TestSettingsTestS3ReachesTheBucket(t *testing.T) {
	t.Parallel()
	o := blobtest.S3Options(t) // skips without TORTOISE_TEST_S3
	s := withKey(testkit.NewServer(t, "sqlite"))
	s3 := map[string]any{"enabled": true, "bucket": o.Bucket, "region": o.Region, "endpoint": o.Endpoint,
		"accessKey": o.AccessKey, "secret": o.Secret, "forcePathStyle": true}
	s.Super("PATCH", "/api/settings", map[string]any{"backups": map[string]any{"s3": s3}}, 200, nil)
	s.Super("POST", "/api/settings/test/s3", map[string]any{"filesystem": "backups"}, 204, nil)
	s3["bucket"] = "tortoise-no-such-bucket"
	s.Super("PATCH", "/api/settings", map[string]any{"s3": s3}, 200, nil)
	var e errBody
	s.Super("POST", "/api/settings/test/s3", map[string]any{"filesystem": "storage"}, 400, &e)
	if !strings.Contains(e.Message, "does not exist") {
		t.Errorf("missing bucket: %+v", e)
	}
}
