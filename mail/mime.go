package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"sort"
	"strings"
	"time"
)

// buildMIME renders m, which must already have passed envelope, as an
// RFC 5322 message with CRLF line endings: a text/plain or text/html body,
// or a multipart/alternative with both, UTF-8 and quoted-printable.
func buildMIME(m Message, env envelope, date time.Time) ([]byte, error) {
	var b bytes.Buffer
	writeHeader(&b, "From", env.from.String())
	to := make([]string, len(env.to))
	for i, a := range env.to {
		to[i] = a.String()
	}
	writeHeader(&b, "To", strings.Join(to, ", "))
	writeHeader(&b, "Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	writeHeader(&b, "Date", date.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", messageID(env.from.Address))
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		writeHeader(&b, textproto.CanonicalMIMEHeaderKey(k), mime.QEncoding.Encode("utf-8", m.Headers[k]))
	}
	writeHeader(&b, "MIME-Version", "1.0")

	if m.Text == "" || m.HTML == "" {
		ctype, body := "text/plain; charset=utf-8", m.Text
		if m.Text == "" {
			ctype, body = "text/html; charset=utf-8", m.HTML
		}
		writeHeader(&b, "Content-Type", ctype)
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, body); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}

	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	// Plain text first: RFC 2046 orders alternatives from least to most
	// faithful, and clients show the last one they understand.
	for _, p := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("create mime part: %w", err)
		}
		if err := writeQP(w, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("close mime message: %w", err)
	}
	b.Write(parts.Bytes())
	return b.Bytes(), nil
}

// writeQP writes body quoted-printable encoded; line breaks become CRLF.
func writeQP(w interface{ Write([]byte) (int, error) }, body string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(body)); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	return nil
}

// writeHeader writes one header field, folding it at spaces so lines stay
// near 78 characters. value must already be free of CR and LF and encoded
// for 7-bit transport.
func writeHeader(b *bytes.Buffer, name, value string) {
	line := name + ":"
	for _, word := range strings.Split(value, " ") {
		if len(line)+1+len(word) > 78 && strings.TrimSpace(line) != "" && line != name+":" {
			b.WriteString(line)
			b.WriteString("\r\n")
			line = ""
		}
		line += " " + word
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

// messageID returns a new globally unique Message-ID in the sender's domain.
func messageID(from string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}
