// Package mail is how Tortoise sends email: the verification, password
// reset, email change, one-time password and login alert mails of the auth
// flows.
//
// A Mailer sends a Message. SMTP delivers through a mail server with net/smtp;
// Mailbox, used when no server is configured, writes each message as a JSON
// file under the data folder so developers, tests and the admin panel can read
// it. Templates renders the subject and bodies of each kind of mail, building
// links only from the configured application URL.
package mail

import (
	"context"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Message is one email. From is a single address and To a comma-separated
// list of one or more, both in RFC 5322 form ("Ann <ann@example.com>" or
// "ann@example.com"). Text and HTML are the two alternative bodies; at least
// one must be set. Headers adds extra header fields (for example Reply-To);
// it may not set the fields the mailer writes itself.
type Message struct {
	From    string
	To      string
	Subject string
	Text    string
	HTML    string
	Headers map[string]string
}

// Mailer sends email.
type Mailer interface {
	// Send delivers m. It returns KindInvalid when m is malformed (a bad
	// address, a header value with a line break) or a recipient is refused,
	// KindUnavailable when the mail server cannot be reached, times out,
	// answers with a temporary failure or ctx ends, and KindInternal for any
	// other failure, such as the server refusing the configured credentials.
	Send(ctx context.Context, m Message) error
}

// reserved are the header fields the mailer writes itself; Message.Headers
// may not set them, so a caller can neither forge them nor add recipients
// the envelope does not know about.
var reserved = map[string]bool{
	"from": true, "sender": true, "to": true, "cc": true, "bcc": true,
	"subject": true, "date": true, "message-id": true, "mime-version": true,
	"content-type": true, "content-transfer-encoding": true,
}

// envelope is a validated message's parsed addresses.
type envelope struct {
	from *mail.Address
	to   []*mail.Address
}

// Validate reports the first problem with m as a KindInvalid error naming
// the field: a missing or malformed address, a line break or other control
// character in a header value or address, an invalid or reserved extra
// header name, or no body at all.
func (m Message) Validate() error {
	_, err := m.envelope()
	return err
}

func (m Message) envelope() (envelope, error) {
	var env envelope
	if p := headerProblem(m.From); p != "" {
		return env, core.FieldInvalid("from", "validation_invalid_header", p)
	}
	if p := headerProblem(m.To); p != "" {
		return env, core.FieldInvalid("to", "validation_invalid_header", p)
	}
	if p := headerProblem(m.Subject); p != "" {
		return env, core.FieldInvalid("subject", "validation_invalid_header", p)
	}
	if strings.TrimSpace(m.From) == "" {
		return env, core.FieldInvalid("from", "validation_required", "Missing sender address.")
	}
	if strings.TrimSpace(m.To) == "" {
		return env, core.FieldInvalid("to", "validation_required", "Missing recipient address.")
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return env, core.FieldInvalid("from", "validation_invalid_email", "Invalid sender address.")
	}
	to, err := mail.ParseAddressList(m.To)
	if err != nil {
		return env, core.FieldInvalid("to", "validation_invalid_email", "Invalid recipient address.")
	}
	// net/mail accepts quoted local parts that SMTP's MAIL and RCPT lines
	// cannot carry safely; keep to printable ASCII without spaces or angle
	// brackets.
	if !plainAddress(from.Address) {
		return env, core.FieldInvalid("from", "validation_invalid_email", "Unsupported sender address.")
	}
	for _, a := range to {
		if !plainAddress(a.Address) {
			return env, core.FieldInvalid("to", "validation_invalid_email", fmt.Sprintf("Unsupported recipient address %q.", a.Address))
		}
	}
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !validFieldName(k) {
			return env, core.FieldInvalid("headers", "validation_invalid_header", fmt.Sprintf("Invalid header name %q.", k))
		}
		if reserved[strings.ToLower(k)] {
			return env, core.FieldInvalid("headers", "validation_reserved_header", fmt.Sprintf("Header %q is set by the mailer.", k))
		}
		if p := headerProblem(m.Headers[k]); p != "" {
			return env, core.FieldInvalid("headers", "validation_invalid_header", fmt.Sprintf("Header %q: %s", k, p))
		}
	}
	if m.Text == "" && m.HTML == "" {
		return env, core.FieldInvalid("text", "validation_required", "A text or HTML body is required.")
	}
	return envelope{from: from, to: to}, nil
}

// headerProblem describes, in a user-safe message, why v cannot be a header
// value, or returns "". It rejects the characters that could end a header
// line and start another: CR, LF, and the other control characters (tab is
// allowed).
//
// It also rejects a run of more than maxWord bytes without a space: headers
// are folded at spaces, and SMTP refuses lines over 998 bytes.
func headerProblem(v string) string {
	word := 0
	for _, r := range v {
		if r == '\r' || r == '\n' {
			return "Line breaks are not allowed."
		}
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return "Control characters are not allowed."
		}
		if r == ' ' || r == '\t' {
			word = 0
		} else if word += utf8.RuneLen(r); word > maxWord {
			return "Too long without a space."
		}
	}
	return ""
}

// maxWord bounds a header word so that, with its field name, it fits on one
// SMTP line.
const maxWord = 900

// validFieldName reports whether name is an RFC 5322 field name: printable
// ASCII other than the colon.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// plainAddress reports whether addr is safe on an SMTP command line.
func plainAddress(addr string) bool {
	if addr == "" || !strings.Contains(addr, "@") {
		return false
	}
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}
