package settings

import (
	"context"
	"fmt"
	"net/mail"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
)

// mailer returns where mail goes now: the SMTP server of the settings when
// it is enabled, else the dev mailbox in the data folder.
func (s *Service) mailer(st Settings) (tmail.Mailer, error) {
	if !st.SMTP.Enabled {
		if s.mailbox == nil {
			return nil, core.Errorf(core.KindUnavailable, "No mail server is configured.")
		}
		return s.mailbox, nil
	}
	m, err := tmail.NewSMTP(tmail.SMTPConfig{
		Host: st.SMTP.Host, Port: st.SMTP.Port, TLS: st.SMTP.TLS,
		Username: st.SMTP.Username, Password: st.SMTP.Password, LocalName: st.SMTP.LocalName,
	})
	if err != nil {
		return nil, core.Wrap(core.KindUnavailable, err, "The mail server settings are not usable.")
	}
	return m, nil
}

// SendMail renders the template of kind for data and sends it to to, from
// the sender of the settings. Links in it are built from the settings' app
// URL, never from anything in a request.
func (s *Service) SendMail(ctx context.Context, kind tmail.Kind, to string, data tmail.Data) error {
	st, err := s.MailSettings(ctx)
	if err != nil {
		return err
	}
	m, err := s.mailer(st)
	if err != nil {
		return err
	}
	data.AppName, data.AppURL = st.Meta.AppName, st.Meta.AppURL
	if data.Email == "" {
		data.Email = to
	}
	subject, text, html, err := s.templates.Render(kind, data)
	if err != nil {
		return core.Internal(err, "render %s mail", kind)
	}
	from := (&mail.Address{Name: st.Meta.SenderName, Address: st.Meta.SenderAddress}).String()
	if err := m.Send(ctx, tmail.Message{From: from, To: to, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("send %s mail: %w", kind, err)
	}
	return nil
}

// TestTemplates maps the template names POST /api/settings/test/email
// takes, as PocketBase names them, to the kinds of mail they send.
var TestTemplates = map[string]tmail.Kind{
	"verification":   tmail.KindVerification,
	"password-reset": tmail.KindPasswordReset,
	"email-change":   tmail.KindEmailChange,
	"otp":            tmail.KindOTP,
	"login-alert":    tmail.KindLoginAlert,
}

// SendTestMail sends to to a sample of the mail of kind, through the
// mailer mail goes through now (the SMTP server of the settings, or the
// dev mailbox), so a superuser can check the settings. Its link and code
// do nothing. Errors: those of SendMail.
func (s *Service) SendTestMail(ctx context.Context, kind tmail.Kind, to string) error {
	return s.SendMail(ctx, kind, to, tmail.Data{
		Token: "test-token-does-nothing",
		OTP:   "000000",
		Extra: map[string]any{"Info": "This is a test email sent from the settings."},
	})
}

// SendMessage sends a message of the caller's own (the "email" job kind's)
// to to, from the sender of the settings, through the mailer mail goes
// through now. Errors: KindInvalid for a malformed message or a refused
// recipient, KindUnavailable when the mail server cannot be reached or
// answers with a temporary failure, KindInternal.
func (s *Service) SendMessage(ctx context.Context, to, subject, text, html string) error {
	st, err := s.MailSettings(ctx)
	if err != nil {
		return err
	}
	m, err := s.mailer(st)
	if err != nil {
		return err
	}
	from := (&mail.Address{Name: st.Meta.SenderName, Address: st.Meta.SenderAddress}).String()
	return m.Send(ctx, tmail.Message{From: from, To: to, Subject: subject, Text: text, HTML: html})
}
