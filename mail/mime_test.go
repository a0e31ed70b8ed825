package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// readAlternative checks that msg is multipart/alternative with a UTF-8
// text/plain part and a UTF-8 text/html part, and returns their decoded
// bodies.
func readAlternative(t *testing.T, msg *mail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	if msg.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", msg.Header.Get("MIME-Version"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || pp["charset"] != "utf-8" {
			t.Errorf("part Content-Type = %q", p.Header.Get("Content-Type"))
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part encoding = %q", cte)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatalf("decode part: %v", err)
		}
		types = append(types, pt)
		switch pt {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain then text/html", types)
	}
	return text, html
}

func TestBuildMIME(t *testing.T) {
	t.Parallel()
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("word ", 40) + "é"
	tests := []struct {
		name    string
		msg     Message
		subject string
	}{
		{name: "ascii", msg: Message{From: "a@example.com", To: "b@example.com", Subject: "Hello", Text: "hi", HTML: "<b>hi</b>"}, subject: "Hello"},
		{name: "utf-8 subject and name", msg: Message{From: "Zoë <a@example.com>", To: "Ängel <b@example.com>", Subject: "Vérification ✓", Text: "é\n", HTML: "<p>é</p>"}, subject: "Vérification ✓"},
		{name: "long subject", msg: Message{From: "a@example.com", To: "b@example.com", Subject: long, Text: strings.Repeat("x", 300), HTML: "<p>" + strings.Repeat("y", 300) + "</p>"}, subject: long},
		{name: "extra header", msg: Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "t", HTML: "h",
			Headers: map[string]string{"reply-to": "c@example.com", "X-Note": "naïve"}}, subject: "s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := tt.msg.envelope()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := buildMIME(tt.msg, env, date)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range bytes.Split(raw, []byte("\r\n")) {
				if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
					t.Errorf("line %d is not a proper CRLF line of at most 998 bytes", i)
				}
				for _, c := range line {
					if c >= 0x80 {
						t.Fatalf("line %d has 8-bit data: %q", i, line)
					}
				}
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			var dec mime.WordDecoder
			subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subject != tt.subject {
				t.Errorf("Subject = %q (%v), want %q", subject, err, tt.subject)
			}
			from, err := msg.Header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Address != env.from.Address || from[0].Name != env.from.Name {
				t.Errorf("From = %v (%v)", from, err)
			}
			to, err := msg.Header.AddressList("To")
			if err != nil || len(to) != len(env.to) || to[0].Name != env.to[0].Name {
				t.Errorf("To = %v (%v)", to, err)
			}
			if d, err := msg.Header.Date(); err != nil || !d.Equal(date) {
				t.Errorf("Date = %v (%v)", d, err)
			}
			if id := msg.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID = %q", id)
			}
			for k, v := range tt.msg.Headers {
				got, err := dec.DecodeHeader(msg.Header.Get(k))
				if err != nil || got != v {
					t.Errorf("%s = %q (%v), want %q", k, got, err, v)
				}
			}
			text, html := readAlternative(t, msg)
			if text != strings.ReplaceAll(tt.msg.Text, "\n", "\r\n") || html != tt.msg.HTML {
				t.Errorf("bodies = %q, %q", text, html)
			}
		})
	}
}

func TestBuildMIMESinglePart(t *testing.T) {
	t.Parallel()
	for _, m := range []Message{
		{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "only text é"},
		{From: "a@example.com", To: "b@example.com", Subject: "s", HTML: "<p>only html é</p>"},
	} {
		env, err := m.envelope()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := buildMIME(m, env, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		want, body := "text/plain", m.Text
		if m.Text == "" {
			want, body = "text/html", m.HTML
		}
		if mt != want || params["charset"] != "utf-8" {
			t.Errorf("Content-Type = %q", msg.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if string(b) != body {
			t.Errorf("body = %q, want %q", b, body)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	ok := Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "t"}
	tests := []struct {
		name  string
		edit  func(*Message)
		field string // "" means valid
	}{
		{name: "valid", edit: func(*Message) {}},
		{name: "tab in subject is fine", edit: func(m *Message) { m.Subject = "a\tb" }},
		{name: "CRLF in subject", edit: func(m *Message) { m.Subject = "hi\r\nBcc: eve@example.com" }, field: "subject"},
		{name: "LF in subject", edit: func(m *Message) { m.Subject = "hi\nBcc: eve@example.com" }, field: "subject"},
		{name: "CR in subject", edit: func(m *Message) { m.Subject = "hi\rBcc: eve@example.com" }, field: "subject"},
		{name: "NUL in subject", edit: func(m *Message) { m.Subject = "hi\x00" }, field: "subject"},
		{name: "CRLF in from", edit: func(m *Message) { m.From = "a@example.com\r\nBcc: eve@example.com" }, field: "from"},
		{name: "LF in to", edit: func(m *Message) { m.To = "b@example.com\nBcc: eve@example.com" }, field: "to"},
		{name: "CRLF in display name", edit: func(m *Message) { m.To = "\"Bob\r\nBcc: eve@example.com\" <b@example.com>" }, field: "to"},
		{name: "CRLF in header value", edit: func(m *Message) { m.Headers = map[string]string{"Reply-To": "c@example.com\r\nBcc: eve@example.com"} }, field: "headers"},
		{name: "colon in header name", edit: func(m *Message) { m.Headers = map[string]string{"X-A: b\r\nBcc": "x"} }, field: "headers"},
		{name: "space in header name", edit: func(m *Message) { m.Headers = map[string]string{"X A": "x"} }, field: "headers"},
		{name: "reserved header", edit: func(m *Message) { m.Headers = map[string]string{"bcc": "eve@example.com"} }, field: "headers"},
		{name: "reserved content-type", edit: func(m *Message) { m.Headers = map[string]string{"Content-Type": "text/html"} }, field: "headers"},
		{name: "missing from", edit: func(m *Message) { m.From = "" }, field: "from"},
		{name: "missing to", edit: func(m *Message) { m.To = " " }, field: "to"},
		{name: "bad from", edit: func(m *Message) { m.From = "not an address" }, field: "from"},
		{name: "two senders", edit: func(m *Message) { m.From = "a@example.com, c@example.com" }, field: "from"},
		{name: "bad to", edit: func(m *Message) { m.To = "b@" }, field: "to"},
		{name: "quoted local part with space", edit: func(m *Message) { m.To = "\"b c\"@example.com" }, field: "to"},
		{name: "no body", edit: func(m *Message) { m.Text = "" }, field: "text"},
		{name: "long subject with spaces", edit: func(m *Message) { m.Subject = strings.Repeat("word ", 400) }},
		{name: "long unbreakable subject", edit: func(m *Message) { m.Subject = strings.Repeat("x", 901) }, field: "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ok
			tt.edit(&m)
			err := m.Validate()
			if tt.field == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid {
				t.Fatalf("Validate = %v, want KindInvalid", err)
			}
			if _, ok := e.Fields[tt.field]; !ok {
				t.Errorf("Validate = %v, want a problem with %q", err, tt.field)
			}
		})
	}
}

// FuzzBuildMIME checks that whatever passes Validate renders to a message
// that parses back with the same subject, recipients and bodies, and no
// header the caller did not ask for.
func FuzzBuildMIME(f *testing.F) {
	f.Add("Ann <a@example.com>", "b@example.com", "Hello", "text", "<p>html</p>", "X-Tag", "v")
	f.Add("a@example.com", "b@example.com, c@example.com", "Vérif\r\nBcc: x@y", "é\r\n.\r\n", "", "Reply-To", "c@example.com")
	f.Add("a@example.com", "\"Q\" <b@example.com>", "=?utf-8?q?x?=", "", "h", "X-A", "=?utf-8?q?\r\nBcc: x?=")
	f.Fuzz(func(t *testing.T, from, to, subject, text, html, hk, hv string) {
		m := Message{From: from, To: to, Subject: subject, Text: text, HTML: html, Headers: map[string]string{hk: hv}}
		env, err := m.envelope()
		if err != nil {
			return
		}
		raw, err := buildMIME(m, env, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(raw, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("line of %d bytes", len(line))
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ReadMessage: %v\n%s", err, raw)
		}
		want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
			"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true}
		want[strings.ToLower(hk)] = true
		for k := range msg.Header {
			if !want[k] && !want[strings.ToLower(k)] {
				t.Errorf("unexpected header %q in\n%s", k, raw)
			}
		}
		if got := msg.Header.Get("To"); got == "" {
			t.Errorf("no To header")
		}
		var dec mime.WordDecoder
		// Readers collapse whitespace where a header is folded, and an
		// ASCII subject that itself looks like an encoded word decodes.
		s, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if err == nil && utf8.ValidString(subject) && !strings.Contains(subject, "=?") && norm(s) != norm(subject) {
			t.Errorf("Subject = %q, want %q", s, subject)
		}
	})
}
