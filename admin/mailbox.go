package admin

import (
	"net/http"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
)

// The Mailbox page: the dev mailbox's messages (the mail sent while no
// SMTP server is configured), newest first, and one message. An HTML body
// is never put into the admin's page: it is served on its own address
// with a Content-Security-Policy of "sandbox" (no script, an opaque
// origin, nothing loaded from anywhere but inline styles and data:
// images) and shown in an <iframe sandbox>, besides its source as text.

// mailboxRoutes registers the mailbox pages.
func (a *Admin) mailboxRoutes() {
	a.page("GET /admin/mailbox", a.mailboxPage)
	a.page("GET /admin/mailbox/{id}", a.mailboxMessage)
	a.page("GET /admin/mailbox/{id}/html", a.mailboxHTML)
}

// maxMailboxShown bounds the list (the mailbox keeps 500 by default).
const maxMailboxShown = 200

type mailboxView struct {
	Available bool // there is a dev mailbox
	SMTP      bool // mail goes to an SMTP server now, not here
	Dir       string
	Messages  []tmail.Stored
}

func (mailboxView) title() (string, string) { return "Mailbox", "mailbox" }

func (a *Admin) mailboxPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	v := mailboxView{}
	if st, err := a.opts.Settings.Settings(r.Context()); err == nil {
		v.SMTP = st.SMTP.Enabled
	}
	if box := a.opts.Settings.Mailbox(); box != nil {
		list, err := box.List(maxMailboxShown)
		if err != nil {
			return err
		}
		v.Available, v.Dir, v.Messages = true, box.Dir(), list
	}
	a.render(w, r, http.StatusOK, "mailbox.html", sess, v)
	return nil
}

type mailboxMessageView struct {
	M *tmail.Stored
}

func (v mailboxMessageView) title() (string, string) { return v.M.Subject + " · Mailbox", "mailbox" }

func (a *Admin) mailboxGet(r *http.Request) (*tmail.Stored, error) {
	box := a.opts.Settings.Mailbox()
	if box == nil {
		return nil, core.NotFound("There is no dev mailbox.")
	}
	return box.Get(r.PathValue("id"))
}

func (a *Admin) mailboxMessage(w http.ResponseWriter, r *http.Request, sess *session) error {
	m, err := a.mailboxGet(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "mailbox_message.html", sess, mailboxMessageView{M: m})
	return nil
}

// mailboxCSP is the policy of a message's HTML body: sandboxed (scripts,
// forms, popups and same-origin access all off, even when opened on its
// own), nothing fetched but data: images, its own inline styles allowed,
// framed only by the admin.
const mailboxCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// mailboxHTML serves a message's HTML body for the sandboxed frame.
func (a *Admin) mailboxHTML(w http.ResponseWriter, r *http.Request, sess *session) error {
	m, err := a.mailboxGet(r)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", mailboxCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(m.HTML))
	return nil
}
