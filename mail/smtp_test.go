package mail

import (
	"context"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

func testMessage() Message {
	return Message{
		From:    "Tortoise <no-reply@example.com>",
		To:      "ann@example.com",
		Subject: "Vérifiez votre adresse",
		Text:    "Hello Ann,\n.\nA line starting with a dot, and é.",
		HTML:    "<p>Hello Ann, é</p>",
	}
}

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	serverTLS, pool := selfSigned(t)
	tests := []struct {
		name     string
		opts     serverOpts
		cfg      SMTPConfig
		wantTLS  bool
		wantUser string
	}{
		{
			name: "plaintext loopback without auth",
			cfg:  SMTPConfig{Insecure: true},
		},
		{
			name:     "plaintext loopback with auth",
			opts:     serverOpts{auth: true},
			cfg:      SMTPConfig{Insecure: true, Username: "ann", Password: "secret"},
			wantUser: "ann",
		},
		{
			name:     "starttls with auth",
			opts:     serverOpts{tls: serverTLS, auth: true},
			cfg:      SMTPConfig{Username: "ann", Password: "secret"},
			wantTLS:  true,
			wantUser: "ann",
		},
		{
			name:     "implicit tls with auth",
			opts:     serverOpts{tls: serverTLS, implicit: true, auth: true},
			cfg:      SMTPConfig{TLS: true, Username: "ann", Password: "secret"},
			wantTLS:  true,
			wantUser: "ann",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, tt.opts)
			cfg := tt.cfg
			cfg.Host, cfg.Port, cfg.LocalName = "127.0.0.1", srv.port(), "client.test"
			s, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.rootCAs = pool
			m := testMessage()
			m.To = "Ann <ann@example.com>, bob@example.com"
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.sessions()
			if len(got) != 1 {
				t.Fatalf("server saw %d sessions, want 1", len(got))
			}
			r := got[0]
			if r.ehlo != "client.test" || r.tls != tt.wantTLS || r.authUser != tt.wantUser || !r.quit {
				t.Errorf("session = ehlo %q tls %v user %q quit %v", r.ehlo, r.tls, r.authUser, r.quit)
			}
			if tt.wantUser != "" && r.authPass != "secret" {
				t.Errorf("password = %q", r.authPass)
			}
			if r.from != "no-reply@example.com" || strings.Join(r.to, ",") != "ann@example.com,bob@example.com" {
				t.Errorf("envelope = %q -> %q", r.from, r.to)
			}
			msg, err := mail.ReadMessage(strings.NewReader(r.data))
			if err != nil {
				t.Fatalf("parse received message: %v", err)
			}
			text, html := readAlternative(t, msg)
			if text != strings.ReplaceAll(m.Text, "\n", "\r\n") || html != m.HTML {
				t.Errorf("bodies = %q, %q", text, html)
			}
		})
	}
}

func TestSMTPSendErrors(t *testing.T) {
	t.Parallel()
	serverTLS, _ := selfSigned(t) // not trusted by the client
	closedPort := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return port
	}
	tests := []struct {
		name string
		opts *serverOpts // nil: nothing listening
		cfg  SMTPConfig
		msg  func(*Message)
		want core.Kind
	}{
		{name: "connection refused", cfg: SMTPConfig{Insecure: true}, want: core.KindUnavailable},
		{name: "recipient refused", opts: &serverOpts{rejectRcpt: 550}, cfg: SMTPConfig{Insecure: true}, want: core.KindInvalid},
		{name: "recipient deferred", opts: &serverOpts{rejectRcpt: 450}, cfg: SMTPConfig{Insecure: true}, want: core.KindUnavailable},
		{name: "starttls not offered", opts: &serverOpts{}, cfg: SMTPConfig{}, want: core.KindInternal},
		{name: "auth not offered", opts: &serverOpts{}, cfg: SMTPConfig{Insecure: true, Username: "ann", Password: "secret"}, want: core.KindInternal},
		{name: "wrong password", opts: &serverOpts{auth: true}, cfg: SMTPConfig{Insecure: true, Username: "ann", Password: "nope"}, want: core.KindInternal},
		{name: "untrusted certificate, implicit tls", opts: &serverOpts{tls: serverTLS, implicit: true}, cfg: SMTPConfig{TLS: true}, want: core.KindInternal},
		{name: "untrusted certificate, starttls", opts: &serverOpts{tls: serverTLS}, cfg: SMTPConfig{}, want: core.KindInternal},
		{name: "header injection", opts: &serverOpts{}, cfg: SMTPConfig{Insecure: true},
			msg: func(m *Message) { m.Subject = "hi\r\nBcc: eve@example.com" }, want: core.KindInvalid},
		{name: "address injection", opts: &serverOpts{}, cfg: SMTPConfig{Insecure: true},
			msg: func(m *Message) { m.To = "ann@example.com>\r\nRCPT TO:<eve@example.com" }, want: core.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Host, cfg.Timeout = "127.0.0.1", 5*time.Second
			var srv *testServer
			if tt.opts == nil {
				cfg.Port = closedPort(t)
			} else {
				srv = newTestServer(t, *tt.opts)
				cfg.Port = srv.port()
			}
			s, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage()
			if tt.msg != nil {
				tt.msg(&m)
			}
			err = s.Send(context.Background(), m)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if got := core.KindOf(err); got != tt.want {
				t.Errorf("kind = %v, want %v (%v)", got, tt.want, err)
			}
			if srv != nil {
				for _, r := range srv.sessions() {
					if r.data != "" {
						t.Errorf("server accepted a message: %q", r.data)
					}
				}
			}
		})
	}
}

func TestSMTPSendContext(t *testing.T) {
	t.Parallel()
	// A server that accepts and never greets: the context must end the wait.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1))
		}
	}()
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, testMessage())
	if core.KindOf(err) != core.KindUnavailable {
		t.Errorf("err = %v, want KindUnavailable", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Send ignored the context")
	}
}

func TestSMTPConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     SMTPConfig
		wantErr string // substring; "" means valid
	}{
		{name: "defaults", cfg: SMTPConfig{Host: "smtp.example.com"}},
		{name: "implicit tls", cfg: SMTPConfig{Host: "smtp.example.com", TLS: true, Username: "u", Password: "p"}},
		{name: "no host", cfg: SMTPConfig{}, wantErr: "host"},
		{name: "host with line break", cfg: SMTPConfig{Host: "a\r\nb"}, wantErr: "host"},
		{name: "bad port", cfg: SMTPConfig{Host: "h", Port: 70000}, wantErr: "port"},
		{name: "tls and starttls", cfg: SMTPConfig{Host: "h", TLS: true, StartTLS: true}, wantErr: "not both"},
		{name: "insecure auth to remote host", cfg: SMTPConfig{Host: "smtp.example.com", Insecure: true, Username: "u", Password: "p"}, wantErr: "refusing"},
		{name: "insecure auth to loopback", cfg: SMTPConfig{Host: "127.0.0.1", Insecure: true, Username: "u", Password: "p"}},
		{name: "insecure auth to localhost", cfg: SMTPConfig{Host: "localhost", Insecure: true, Username: "u", Password: "p"}},
		{name: "password without user", cfg: SMTPConfig{Host: "h", Password: "p"}, wantErr: "username"},
		{name: "local name with space", cfg: SMTPConfig{Host: "h", LocalName: "a b"}, wantErr: "local name"},
		{name: "negative timeout", cfg: SMTPConfig{Host: "h", Timeout: -1}, wantErr: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.WithDefaults().Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}

	d := SMTPConfig{Host: "h"}.WithDefaults()
	if d.Port != 587 || !d.StartTLS || d.LocalName != "localhost" || d.Timeout != 10*time.Second {
		t.Errorf("defaults = %+v", d)
	}
	if d := (SMTPConfig{Host: "h", TLS: true}).WithDefaults(); d.Port != 465 || d.StartTLS {
		t.Errorf("tls defaults = %+v", d)
	}
	if d := (SMTPConfig{Host: "h", Insecure: true}).WithDefaults(); d.StartTLS {
		t.Errorf("insecure defaults = %+v", d)
	}
}

// TestPlainAuthRefusesPlaintext checks the auth mechanism itself, in case
// a configuration slipped past Validate.
func TestPlainAuthRefusesPlaintext(t *testing.T) {
	t.Parallel()
	a := plainAuth{username: "u", password: "p", host: "smtp.example.com"}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "smtp.example.com"}); err == nil {
		t.Error("PLAIN over plaintext to a remote host was allowed")
	}
	if _, resp, err := a.Start(&smtp.ServerInfo{Name: "smtp.example.com", TLS: true}); err != nil || string(resp) != "\x00u\x00p" {
		t.Errorf("PLAIN over TLS = %q, %v", resp, err)
	}
	local := plainAuth{username: "u", password: "p", host: "127.0.0.2"}
	if _, _, err := local.Start(&smtp.ServerInfo{Name: "127.0.0.2"}); err != nil {
		t.Errorf("PLAIN to loopback: %v", err)
	}
}
