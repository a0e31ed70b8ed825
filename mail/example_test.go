package mail_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tortoise-dev/tortoise/mail"
)

func ExampleBuildLink() {
	link, err := mail.BuildLink("https://acme.test/", mail.LinkPath(mail.KindPasswordReset), "a/b")
	fmt.Println(link, err)
	_, err = mail.BuildLink("javascript:alert(1)", "/x/", "a")
	fmt.Println(err)
	// Output:
	// https://acme.test/_/#/auth/confirm-password-reset/a%2Fb <nil>
	// Failed to validate the submitted data. (appURL: The application URL must be an absolute http or https URL.)
}

// A verification mail rendered from the defaults and delivered to the
// development mailbox, then read back as a test would.
func ExampleMailbox() {
	dir, _ := os.MkdirTemp("", "mailbox")
	defer os.RemoveAll(dir)
	box, err := mail.NewMailbox(filepath.Join(dir, "mailbox"), 0, nil)
	if err != nil {
		panic(err)
	}
	var mailer mail.Mailer = box

	subject, text, html, err := mail.NewTemplates().Render(mail.KindVerification, mail.Data{
		AppName: "Acme", AppURL: "https://acme.test", Email: "ann@example.com", Token: "tok",
	})
	if err != nil {
		panic(err)
	}
	err = mailer.Send(context.Background(), mail.Message{
		From: "Acme <no-reply@acme.test>", To: "ann@example.com",
		Subject: subject, Text: text, HTML: html,
	})
	if err != nil {
		panic(err)
	}

	got, err := box.Latest("ann@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Subject)
	// Output: Verify your Acme email
}
