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
