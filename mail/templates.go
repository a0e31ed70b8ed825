package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/tortoise-dev/tortoise/core"
)

// Kind names one kind of mail the auth flows send.
type Kind string

// The kinds of mail with default templates.
const (
	KindVerification  Kind = "verification"   // confirm an email address
	KindPasswordReset Kind = "password_reset" // reset a forgotten password
	KindEmailChange   Kind = "email_change"   // confirm a new email address
	KindOTP           Kind = "otp"            // a one-time login code
	KindLoginAlert    Kind = "login_alert"    // a login from a new location
)

// Kinds lists every Kind, in a stable order.
var Kinds = []Kind{KindVerification, KindPasswordReset, KindEmailChange, KindOTP, KindLoginAlert}

// LinkPath returns the path, under the app URL, that the link in a mail of
// this kind points at (the token is appended), or "" when the kind carries
// no link. The paths are those of PocketBase's admin UI.
func LinkPath(kind Kind) string {
	switch kind {
	case KindVerification:
		return "/_/#/auth/confirm-verification/"
	case KindPasswordReset:
		return "/_/#/auth/confirm-password-reset/"
	case KindEmailChange:
		return "/_/#/auth/confirm-email-change/"
	}
	return ""
}

// Data is what a template sees. Every field may hold user input; the HTML
// template escapes it, the text template writes it as is.
type Data struct {
	AppName string // the application's name, from settings
	AppURL  string // the configured public URL of the application
	Email   string // the recipient's address
	Token   string // the verification, reset or email change token
	// Link is the action link. When empty and the kind has a LinkPath,
	// Render builds it from AppURL and Token with BuildLink.
	Link  string
	OTP   string         // the one-time password, for KindOTP
	Extra map[string]any // anything else a custom template needs
}

// Template is the source of one kind's templates: Subject and Text in
// text/template syntax, HTML in html/template syntax. Subject and at least
// one body are required.
type Template struct {
	Subject string
	Text    string
	HTML    string
}

// compiled is a parsed Template.
type compiled struct {
	subject *texttemplate.Template
	text    *texttemplate.Template // nil when the source is empty
	html    *htmltemplate.Template // nil when the source is empty
}

// Templates renders the mail of each Kind. NewTemplates starts it with
// defaults; Set overrides one kind. It is safe for concurrent use.
type Templates struct {
	mu    sync.RWMutex
	kinds map[Kind]compiled
}

// NewTemplates returns Templates holding the default template of every
// Kind.
func NewTemplates() *Templates {
	t := &Templates{kinds: make(map[Kind]compiled, len(defaults))}
	for k, src := range defaults {
		c, err := compile(k, src)
		if err != nil {
			panic(fmt.Sprintf("mail: default %s template: %v", k, err))
		}
		t.kinds[k] = c
	}
	return t
}

// Default returns the default template source of kind, for an admin panel
// to show and edit.
func Default(kind Kind) (Template, bool) {
	src, ok := defaults[kind]
	return src, ok
}

// Set replaces the template of kind after checking that it parses and
// renders sample data. It returns a KindInvalid error naming the field
// (subject, text or html) that is wrong, leaving the previous template in
// place.
func (t *Templates) Set(kind Kind, src Template) error {
	if kind == "" || headerProblem(string(kind)) != "" {
		return core.FieldInvalid("kind", "validation_invalid_value", "Invalid mail kind.")
	}
	c, err := compile(kind, src)
	if err != nil {
		return err
	}
	// Execute once on sample data so a reference to a missing field fails
	// now, in front of whoever set it, rather than when a user signs up.
	if _, _, _, err := render(c, sampleData); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.kinds[kind] = c
	return nil
}

// Render executes the templates of kind with data. The subject has its
// whitespace, line breaks included, collapsed to single spaces. It returns
// KindNotFound for a kind with no template, KindInvalid when data.AppURL
// cannot make a link, and KindInternal when a template fails.
func (t *Templates) Render(kind Kind, data Data) (subject, text, html string, err error) {
	t.mu.RLock()
	c, ok := t.kinds[kind]
	t.mu.RUnlock()
	if !ok {
		return "", "", "", core.NotFound("No mail template %q.", string(kind))
	}
	if data.Link == "" && data.Token != "" && LinkPath(kind) != "" {
		data.Link, err = BuildLink(data.AppURL, LinkPath(kind), data.Token)
		if err != nil {
			return "", "", "", err
		}
	}
	subject, text, html, err = render(c, data)
	if err != nil {
		return "", "", "", core.Internal(err, "Failed to render the email.")
	}
	return subject, text, html, nil
}

// sampleData is what Set renders a new template with.
var sampleData = Data{
	AppName: "Acme", AppURL: "https://example.com", Email: "user@example.com",
	Token: "token", Link: "https://example.com/_/#/auth/confirm-verification/token",
	OTP: "123456", Extra: map[string]any{},
}

func compile(kind Kind, src Template) (compiled, error) {
	var c compiled
	var err error
	if strings.TrimSpace(src.Subject) == "" {
		return c, core.FieldInvalid("subject", "validation_required", "A subject template is required.")
	}
	if strings.TrimSpace(src.Text) == "" && strings.TrimSpace(src.HTML) == "" {
		return c, core.FieldInvalid("html", "validation_required", "A text or HTML template is required.")
	}
	if c.subject, err = texttemplate.New(string(kind) + ".subject").Parse(src.Subject); err != nil {
		return c, core.FieldInvalid("subject", "validation_invalid_template", err.Error())
	}
	if strings.TrimSpace(src.Text) != "" {
		if c.text, err = texttemplate.New(string(kind) + ".text").Parse(src.Text); err != nil {
			return c, core.FieldInvalid("text", "validation_invalid_template", err.Error())
		}
	}
	if strings.TrimSpace(src.HTML) != "" {
		if c.html, err = htmltemplate.New(string(kind) + ".html").Parse(src.HTML); err != nil {
			return c, core.FieldInvalid("html", "validation_invalid_template", err.Error())
		}
	}
	return c, nil
}

// render executes c; its errors are KindInvalid errors naming the field.
func render(c compiled, data Data) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err := c.subject.Execute(&b, data); err != nil {
		return "", "", "", core.FieldInvalid("subject", "validation_invalid_template", err.Error())
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	if c.text != nil {
		b.Reset()
		if err := c.text.Execute(&b, data); err != nil {
			return "", "", "", core.FieldInvalid("text", "validation_invalid_template", err.Error())
		}
		text = b.String()
	}
	if c.html != nil {
		b.Reset()
		if err := c.html.Execute(&b, data); err != nil {
			return "", "", "", core.FieldInvalid("html", "validation_invalid_template", err.Error())
		}
		html = b.String()
	}
	return subject, text, html, nil
}

// BuildLink returns appURL joined with path and the path-escaped token, for
// example BuildLink("https://example.com", "/_/#/auth/confirm-verification/",
// tok). appURL must be an absolute http or https URL with a host and no
// query, fragment or credentials: links in mail are built only from the
// configured application URL, never from a request's Host header. path
// must start with "/". Errors are KindInvalid.
func BuildLink(appURL, path, token string) (string, error) {
	u, err := url.Parse(appURL)
	if err != nil || headerProblem(appURL) != "" || !u.IsAbs() || u.Opaque != "" {
		return "", core.FieldInvalid("appURL", "validation_invalid_url", "The application URL must be an absolute http or https URL.")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", core.FieldInvalid("appURL", "validation_invalid_url", "The application URL must use http or https.")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", core.FieldInvalid("appURL", "validation_invalid_url", "The application URL must have a host and no credentials, query or fragment.")
	}
	if !strings.HasPrefix(path, "/") || headerProblem(path) != "" || strings.ContainsAny(path, " \"<>\\") {
		return "", core.Invalid("Invalid link path %q.", path)
	}
	if token == "" {
		return "", core.Invalid("Missing link token.")
	}
	u.Scheme = scheme
	return strings.TrimRight(u.String(), "/") + path + url.PathEscape(token), nil
}
