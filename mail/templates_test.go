package mail

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func TestTemplatesRenderDefaults(t *testing.T) {
	t.Parallel()
	tpl := NewTemplates()
	data := Data{AppName: "Acme", AppURL: "https://acme.test/", Email: "ann@example.com", Token: "tok.en/1", OTP: "424242"}
	tests := []struct {
		kind    Kind
		subject string
		want    []string // in both bodies
	}{
		{KindVerification, "Verify your Acme email", []string{"https://acme.test/_/#/auth/confirm-verification/tok.en%2F1"}},
		{KindPasswordReset, "Reset your Acme password", []string{"https://acme.test/_/#/auth/confirm-password-reset/tok.en%2F1"}},
		{KindEmailChange, "Confirm your Acme new email address", []string{"https://acme.test/_/#/auth/confirm-email-change/tok.en%2F1", "ann@example.com"}},
		{KindOTP, "OTP for Acme", []string{"424242"}},
		{KindLoginAlert, "Login from a new location", []string{"Acme", "ann@example.com"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			subject, text, html, err := tpl.Render(tt.kind, data)
			if err != nil {
				t.Fatal(err)
			}
			if subject != tt.subject {
				t.Errorf("subject = %q, want %q", subject, tt.subject)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) || !strings.Contains(html, w) {
					t.Errorf("bodies lack %q:\n%s\n%s", w, text, html)
				}
			}
			if strings.Contains(text+html, "<no value>") {
				t.Errorf("a template printed a missing value:\n%s\n%s", text, html)
			}
			m := Message{From: "a@example.com", To: data.Email, Subject: subject, Text: text, HTML: html}
			if err := m.Validate(); err != nil {
				t.Errorf("rendered mail does not validate: %v", err)
			}
		})
	}
	if len(Kinds) != len(tests) {
		t.Errorf("tested %d kinds of %d", len(tests), len(Kinds))
	}
}

func TestTemplatesEscapeUserData(t *testing.T) {
	t.Parallel()
	tpl := NewTemplates()
	evil := `<script>alert(1)</script>"'&`
	data := Data{
		AppName: "Acme", AppURL: "https://acme.test", Email: evil + "@example.com", Token: "t",
		Extra: map[string]any{"Info": `<img src=x onerror=alert(1)>`},
	}
	for _, kind := range []Kind{KindEmailChange, KindLoginAlert} {
		_, text, html, err := tpl.Render(kind, data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, "<script>") || strings.Contains(html, "<img") {
			t.Errorf("%s: HTML body carries user markup unescaped:\n%s", kind, html)
		}
		if !strings.Contains(html, "&lt;script&gt;") {
			t.Errorf("%s: HTML body lacks the escaped email:\n%s", kind, html)
		}
		if !strings.Contains(text, evil) {
			t.Errorf("%s: text body altered the email:\n%s", kind, text)
		}
	}
	// An explicit link that is not http(s) is neutralised by html/template.
	_, _, html, err := tpl.Render(KindVerification, Data{AppName: "Acme", Link: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "javascript:") {
		t.Errorf("javascript: link survived:\n%s", html)
	}
	// A subject cannot be made to span lines.
	subject, _, _, err := tpl.Render(KindVerification, Data{AppName: "Acme\r\nBcc: eve@example.com", AppURL: "https://acme.test", Token: "t"})
	if err != nil || strings.ContainsAny(subject, "\r\n") {
		t.Errorf("subject = %q, %v", subject, err)
	}
}

func TestTemplatesRenderErrors(t *testing.T) {
	t.Parallel()
	tpl := NewTemplates()
	if _, _, _, err := tpl.Render("nope", Data{}); core.KindOf(err) != core.KindNotFound {
		t.Errorf("unknown kind: %v", err)
	}
	if _, _, _, err := tpl.Render(KindVerification, Data{AppURL: "/relative", Token: "t"}); core.KindOf(err) != core.KindInvalid {
		t.Errorf("relative app URL: %v", err)
	}
}

func TestTemplatesSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   Template
		field string // "" means accepted
	}{
		{name: "valid", src: Template{Subject: "Hi {{.AppName}}", Text: "code {{.OTP}} {{index .Extra \"x\"}}", HTML: "<b>{{.OTP}}</b>"}},
		{name: "text only", src: Template{Subject: "Hi", Text: "code {{.OTP}}"}},
		{name: "html only", src: Template{Subject: "Hi", HTML: "<b>{{.OTP}}</b>"}},
		{name: "no subject", src: Template{Text: "x"}, field: "subject"},
		{name: "no body", src: Template{Subject: "x"}, field: "html"},
		{name: "bad subject syntax", src: Template{Subject: "{{.AppName", Text: "x"}, field: "subject"},
		{name: "bad text syntax", src: Template{Subject: "s", Text: "{{if}}"}, field: "text"},
		{name: "bad html syntax", src: Template{Subject: "s", HTML: "{{end}}"}, field: "html"},
		{name: "unknown field", src: Template{Subject: "s", Text: "{{.Password}}"}, field: "text"},
		{name: "unknown field in html", src: Template{Subject: "s", HTML: "<p>{{.Nope}}</p>"}, field: "html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl := NewTemplates()
			err := tpl.Set(KindOTP, tt.src)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Set: %v", err)
				}
				subject, text, html, err := tpl.Render(KindOTP, Data{AppName: "Acme", OTP: "99"})
				if err != nil || !strings.HasPrefix(subject, "Hi") || !strings.Contains(text+html, "99") {
					t.Errorf("Render after Set = %q %q %q %v", subject, text, html, err)
				}
				return
			}
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid || e.Fields[tt.field].Code == "" {
				t.Fatalf("Set = %v, want KindInvalid on %q", err, tt.field)
			}
			// The default is still in place.
			if subject, _, _, err := tpl.Render(KindOTP, Data{AppName: "Acme"}); err != nil || subject != "OTP for Acme" {
				t.Errorf("default lost after a rejected Set: %q %v", subject, err)
			}
		})
	}
}

func TestBuildLink(t *testing.T) {
	t.Parallel()
	const path = "/_/#/auth/confirm-verification/"
	tests := []struct {
		name, appURL, path, token string
		want                      string // "" means an error
	}{
		{name: "plain", appURL: "https://acme.test", path: path, token: "abc", want: "https://acme.test/_/#/auth/confirm-verification/abc"},
		{name: "trailing slash", appURL: "https://acme.test/", path: path, token: "abc", want: "https://acme.test/_/#/auth/confirm-verification/abc"},
		{name: "sub path and port", appURL: "http://localhost:8090/app", path: path, token: "abc", want: "http://localhost:8090/app/_/#/auth/confirm-verification/abc"},
		{name: "upper-case scheme", appURL: "HTTPS://acme.test", path: path, token: "abc", want: "https://acme.test/_/#/auth/confirm-verification/abc"},
		{name: "token escaped", appURL: "https://acme.test", path: path, token: "a/b?c#d e\"<", want: "https://acme.test/_/#/auth/confirm-verification/a%2Fb%3Fc%23d%20e%22%3C"},
		{name: "relative", appURL: "/app", path: path, token: "abc"},
		{name: "host only", appURL: "acme.test", path: path, token: "abc"},
		{name: "scheme relative", appURL: "//acme.test", path: path, token: "abc"},
		{name: "javascript", appURL: "javascript:alert(1)", path: path, token: "abc"},
		{name: "javascript with slashes", appURL: "javascript://acme.test/%0aalert(1)", path: path, token: "abc"},
		{name: "data", appURL: "data:text/html,hi", path: path, token: "abc"},
		{name: "ftp", appURL: "ftp://acme.test", path: path, token: "abc"},
		{name: "no host", appURL: "https://", path: path, token: "abc"},
		{name: "credentials", appURL: "https://user:pw@acme.test", path: path, token: "abc"},
		{name: "query", appURL: "https://acme.test/?next=x", path: path, token: "abc"},
		{name: "fragment", appURL: "https://acme.test/#x", path: path, token: "abc"},
		{name: "control character", appURL: "https://acme.test/\n", path: path, token: "abc"},
		{name: "empty", appURL: "", path: path, token: "abc"},
		{name: "relative path", appURL: "https://acme.test", path: "x/", token: "abc"},
		{name: "empty token", appURL: "https://acme.test", path: path, token: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildLink(tt.appURL, tt.path, tt.token)
			if tt.want == "" {
				if err == nil || core.KindOf(err) != core.KindInvalid {
					t.Errorf("BuildLink = %q, %v; want a KindInvalid error", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("BuildLink = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
