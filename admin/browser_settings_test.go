package admin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The settings, API keys, superusers and mailbox pages in a browser, on
// each engine.

// opsShot saves a screenshot of the page to the folder
// TORTOISE_ADMIN_SHOTS names, at 1280 px and at 390 px wide, when it is
// set: for looking at these pages, not for the README.
func opsShot(b *browser, name string) {
	b.t.Helper()
	dir := os.Getenv("TORTOISE_ADMIN_SHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, width := range []int64{1280, 390} {
		b.run("viewport", chromedp.EmulateViewport(width, 900))
		// Nothing but a table's own scroller is wider than the window.
		if w := get(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > int(width) {
			b.t.Errorf("%s at %d px: the page is %d px wide", name, width, w)
		}
		png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
		file := filepath.Join(dir, name+"-"+map[int64]string{1280: "wide", 390: "narrow"}[width]+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.run("viewport", chromedp.EmulateViewport(1280, 900))
}

func TestBrowserSettings(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		b.signIn()

		// Change the application's name: saved, as the API reads it.
		b.run("rename the application",
			chromedp.Navigate(b.base+"/admin/settings"),
			chromedp.WaitVisible(chromedp.CSS(`#meta-appName`)),
			chromedp.SetValue(chromedp.CSS(`#meta-appName`), "Acme backend"),
			chromedp.Click(chromedp.CSS(`#save-app`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); !strings.Contains(got, "saved") {
			t.Errorf("after saving, the page says %q", got)
		}
		var st struct {
			Meta struct{ AppName string }
		}
		srv.Super("GET", "/api/settings", nil, 200, &st)
		if st.Meta.AppName != "Acme backend" {
			t.Errorf("the API reads the app name %q, want the one saved", st.Meta.AppName)
		}

		// A bad value: the error beside its field, nothing saved.
		b.run("a bad URL",
			chromedp.Navigate(b.base+"/admin/settings"),
			chromedp.WaitVisible(chromedp.CSS(`#meta-appURL`)),
			chromedp.SetValue(chromedp.CSS(`#meta-appURL`), "not a url"),
			chromedp.Click(chromedp.CSS(`#save-app`)),
			chromedp.WaitVisible(chromedp.CSS(`#meta-appURL-err`)),
		)
		if got := b.text("#meta-appURL-err"); !strings.Contains(got, "http(s) URL") {
			t.Errorf("the app URL's error says %q", got)
		}
		if engine == "sqlite" {
			opsShot(b, "settings-error")
		}

		// A test email lands in the dev mailbox, and opens there.
		b.run("send a test email",
			chromedp.Navigate(b.base+"/admin/settings#smtp"),
			chromedp.WaitVisible(chromedp.CSS(`#test-email`)),
			chromedp.SendKeys(chromedp.CSS(`#test-email`), "dev@example.com"),
			chromedp.Click(chromedp.CSS(`#send-test-email`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); !strings.Contains(got, "dev@example.com") || !strings.Contains(got, "Mailbox") {
			t.Errorf("after sending a test email the page says %q", got)
		}
		if engine == "sqlite" {
			opsShot(b, "settings")
		}
		b.run("open the mailbox",
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/mailbox"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#mailbox`)),
		)
		if got := b.text("#mailbox tbody"); !strings.Contains(got, "dev@example.com") || !strings.Contains(got, "Acme backend") {
			t.Errorf("the mailbox lists %q, want the test email (with the new app name)", got)
		}
		if engine == "sqlite" {
			opsShot(b, "mailbox")
		}
		b.run("open the test email",
			chromedp.Click(chromedp.CSS(`#mailbox tbody a`)),
			chromedp.WaitVisible(chromedp.CSS(`#mail-subject`)),
			chromedp.WaitVisible(chromedp.CSS(`iframe.mailframe`)),
		)
		if got := b.text("#mail-to"); got != "dev@example.com" {
			t.Errorf("the message is to %q", got)
		}
		// The HTML body is in a sandboxed frame the page cannot reach into.
		reach := get(b, "reach into the frame", chromedp.Evaluate[bool](
			`(() => { try { return document.querySelector("iframe.mailframe").contentDocument !== null } catch (e) { return false } })()`))
		if reach {
			t.Error("the admin page can reach into the email's frame: it is not sandboxed")
		}
		if engine == "sqlite" {
			opsShot(b, "mailbox-message")
		}

		// The superusers' session length is their collection's token
		// duration.
		srv.Super("POST", "/api/collections", map[string]any{"name": "users", "type": "auth"}, 200, nil)
		b.run("the auth collections",
			chromedp.Navigate(b.base+"/admin/settings/auth"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/settings/auth/_superusers"]`)),
		)
		if engine == "sqlite" {
			opsShot(b, "settings-auth-list")
		}
		b.run("shorten the superusers' sessions",
			chromedp.Navigate(b.base+"/admin/settings/auth/_superusers"),
			chromedp.WaitVisible(chromedp.CSS(`#token-authToken`)),
			chromedp.SetValue(chromedp.CSS(`#token-authToken`), "7200"),
			chromedp.Click(chromedp.CSS(`#save-tokens`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		var col struct{ AuthToken struct{ Duration int64 } }
		srv.Super("GET", "/api/collections/_superusers", nil, 200, &col)
		if col.AuthToken.Duration != 7200 {
			t.Errorf("the superusers' token lasts %d s, want 7200", col.AuthToken.Duration)
		}
		if engine == "sqlite" {
			b.run("the users' auth settings", chromedp.Navigate(b.base+"/admin/settings/auth/users"), chromedp.WaitVisible(chromedp.CSS(`#save-oauth2`)))
			opsShot(b, "settings-auth")
		}
	})
}

func TestBrowserAPIKeys(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		b.signIn()
		b.run("make a superuser key",
			chromedp.Navigate(b.base+"/admin/keys"),
			chromedp.WaitVisible(chromedp.CSS(`#key-name`)),
			chromedp.SendKeys(chromedp.CSS(`#key-name`), "deploy bot"),
			chromedp.Click(chromedp.CSS(`#key-access-superuser`)),
			chromedp.Click(chromedp.CSS(`#create-key`)),
			chromedp.WaitVisible(chromedp.CSS(`#new-key`)),
		)
		secret := strings.TrimSpace(b.text("#new-key"))
		if !strings.HasPrefix(secret, "tk_") {
			t.Fatalf("the new key reads %q", secret)
		}
		if engine == "sqlite" {
			opsShot(b, "keys-new")
		}
		srv.Do("GET", "/api/jobs", "Bearer "+secret, nil, 200, nil)

		// Not shown again.
		b.run("the key list", chromedp.Navigate(b.base+"/admin/keys"), chromedp.WaitVisible(chromedp.CSS(`#keys`)))
		if body := b.text("body"); strings.Contains(body, secret) {
			t.Error("the key list shows the secret again")
		} else if !strings.Contains(body, "deploy bot") || !strings.Contains(body, "superuser") {
			t.Errorf("the key list lacks the key:\n%s", clip(body, 1000))
		}

		// Revoke, after a confirmation page: the key stops working.
		b.run("revoke it",
			chromedp.Click(chromedp.CSS(`#keys a[href$="/revoke"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-revoke`)),
			chromedp.Click(chromedp.CSS(`#confirm-revoke`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); !strings.Contains(got, "revoked") {
			t.Errorf("after revoking, the page says %q", got)
		}
		srv.Do("GET", "/api/jobs", "Bearer "+secret, nil, 401, nil)
	})
}

func TestBrowserSuperusers(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		b.signIn()
		b.run("add a superuser",
			chromedp.Navigate(b.base+"/admin/superusers"),
			chromedp.WaitVisible(chromedp.CSS(`#su-email`)),
			chromedp.SendKeys(chromedp.CSS(`#su-email`), "second@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#su-password`), "second-password-1"),
			chromedp.SendKeys(chromedp.CSS(`#su-passwordConfirm`), "second-password-1"),
			chromedp.Click(chromedp.CSS(`#create-superuser`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text("#superusers"); !strings.Contains(got, "second@example.com") {
			t.Errorf("the list lacks the new superuser: %q", got)
		}
		// The new one can sign in to the API.
		srv.Do("POST", "/api/collections/_superusers/auth-with-password", "",
			map[string]any{"identity": "second@example.com", "password": "second-password-1"}, 200, nil)
		if engine == "sqlite" {
			opsShot(b, "superusers")
		}
		// There is a delete button for them, none for yourself.
		n := get(b, "delete buttons", chromedp.Evaluate[int](`document.querySelectorAll("#superusers a[href$='/delete']").length`))
		if n != 1 {
			t.Errorf("%d delete buttons, want 1 (not one for yourself)", n)
		}
		b.run("delete them",
			chromedp.Click(chromedp.CSS(`#superusers a[href$="/delete"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-delete`)),
			chromedp.Click(chromedp.CSS(`#confirm-delete`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text("#superusers"); strings.Contains(got, "second@example.com") {
			t.Errorf("the deleted superuser is still listed: %q", got)
		}
	})
}
