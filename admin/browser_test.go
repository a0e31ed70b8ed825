package admin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// The admin is tested in a real browser: Debian's chromium, driven by
// chromedp, against the real app served over HTTP on each engine. Without
// a chromium these tests skip with a message, unless CI is set (.ci/run
// installs chromium and sets TORTOISE_TEST_CHROMIUM), where they fail.
//
// With TORTOISE_SCREENSHOTS=1 the tests save the screenshots the README
// shows to docs/screenshots/ (the SQLite run's).

// chromium finds the browser to drive.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TORTOISE_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TORTOISE_TEST_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found and CI is set: install it (apt-get install chromium) or set TORTOISE_TEST_CHROMIUM")
	}
	t.Skip("no chromium found: install it (apt-get install chromium) or set TORTOISE_TEST_CHROMIUM to run the admin's browser tests")
	return ""
}

// browser is one headless chromium for a test, 1280 px wide; tab opens a
// tab in it (sharing its cookies) and, with its own, a separate context.
type browser struct {
	t     *testing.T
	alloc context.Context
	ctx   context.Context // the first tab
	base  string
}

// adminServer boots the app on engine and a browser pointed at it.
func adminServer(t *testing.T, engine string) (*testkit.Server, *browser) {
	t.Helper()
	path := chromium(t)
	srv := testkit.NewServer(t, engine)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	b := &browser{t: t, alloc: alloc, ctx: ctx, base: srv.URL}
	// Start the browser now, so its start does not count against the
	// first step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return srv, b
}

// isolated opens a browser context of its own: no cookies of b's tabs.
func (b *browser) isolated() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("new browser context: %v", err)
	}
	return &browser{t: b.t, alloc: b.alloc, ctx: ctx, base: b.base}
}

// run runs steps with a timeout, failing the test with step's name and
// where the browser was.
func (b *browser) run(step string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(step, err)
	}
}

// get runs one action that returns a value, as run does.
func get[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(step, err)
	}
	return v
}

func (b *browser) fail(step string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\nat %s\npage text:\n%s", step, err, loc, clip(body, 2000))
}

// text returns the visible text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// location is the current page's address.
func (b *browser) location() string {
	b.t.Helper()
	return get(b, "location", chromedp.Location())
}

// signIn signs in as the test server's superuser and waits for the
// dashboard.
func (b *browser) signIn() {
	b.t.Helper()
	b.run("sign in",
		chromedp.Navigate(b.base+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testkit.SuperuserEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testkit.SuperuserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`.signout`)),
	)
}

// fetchStatus sends a request from the page with fetch (same origin,
// the page's cookies) and returns the status.
func (b *browser) fetchStatus(method, path, body string) int {
	b.t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q, redirect: "manual"}).then(r => r.status)`,
		path, method, body)
	return get(b, "fetch "+path, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
}

// screenshot saves the page as docs/screenshots/name.png when
// TORTOISE_SCREENSHOTS is set, full page, at the browser's width.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("TORTOISE_SCREENSHOTS") == "" {
		return
	}
	png := get(b, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// eachEngine runs fn as a parallel subtest per engine.
func eachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			fn(t, engine)
		})
	}
}
