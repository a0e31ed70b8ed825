package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Signing in and out, and what a browser without the session sees.
func TestBrowserSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		_, b := adminServer(t, engine)

		// Wrong password: the form again, with why.
		b.run("wrong password",
			chromedp.Navigate(b.base+"/admin/"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), "root@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "not-the-password"),
			chromedp.Submit(chromedp.CSS(`#password`)),
			chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
		)
		if got := b.text("#login-error"); !strings.Contains(got, "Wrong email or password") {
			t.Errorf("after a wrong password the page says %q", got)
		}

		b.signIn()
		if got := b.text("h1"); got != "Dashboard" {
			t.Errorf("after signing in the page is %q, want the dashboard", got)
		}
		if engine == "sqlite" {
			b.screenshot("dashboard.png")
		}

		// A state-changing request without the CSRF token is refused,
		// even with the session cookie.
		if got := b.fetchStatus("POST", "/admin/logout", ""); got != http.StatusForbidden {
			t.Errorf("POST /admin/logout without the CSRF token: %d, want 403", got)
		}
		if got := b.text("h1"); got != "Dashboard" {
			t.Errorf("the refused sign-out changed the page to %q", got)
		}

		// Another browser context has no session: it is sent to sign in.
		other := b.isolated()
		other.run("open the dashboard without a session",
			chromedp.Navigate(b.base+"/admin/collections"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
		)
		if loc := other.location(); !strings.Contains(loc, "/admin/login?next=%2Fadmin%2Fcollections") {
			t.Errorf("without a session the browser is at %s, want the sign-in form leading back", loc)
		}

		// Signing out ends the session: the dashboard asks to sign in.
		b.run("sign out",
			chromedp.Click(chromedp.CSS(`.signout button`)),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
		)
		b.run("dashboard after signing out",
			chromedp.Navigate(b.base+"/admin/"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
		)
	})
}
