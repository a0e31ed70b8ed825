package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The request log page lists API requests, filters them and shows one.
func TestBrowserRequestLog(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		// Some traffic: a success, a 404 and a 400.
		srv.Super("GET", "/api/collections", nil, 200, nil)
		srv.Request("GET", "/api/collections/nope/records", "", nil)
		srv.Request("GET", "/api/collections/_superusers/records?filter=bad((", srv.Token, nil)
		if err := srv.App.Logs.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.signIn()
		b.run("open the request log",
			chromedp.Navigate(b.base+"/admin/logs"),
			chromedp.WaitVisible(chromedp.CSS(`table.logtable`)),
		)
		rows := b.text("table.logtable tbody")
		for _, want := range []string{"/api/collections/nope/records", "GET /api/collections"} {
			if !strings.Contains(rows, want) {
				t.Errorf("the log lacks %q:\n%s", want, rows)
			}
		}
		if engine == "sqlite" {
			b.screenshot("request-log.png")
		}

		// Errors only: the 404 and the 400, not the 200.
		b.run("filter by status class",
			chromedp.SetValue(chromedp.CSS(`#status`), "errors"),
			chromedp.Submit(chromedp.CSS(`#status`)),
			chromedp.WaitVisible(chromedp.CSS(`table.logtable`)),
		)
		rows = b.text("table.logtable tbody")
		if !strings.Contains(rows, "404") || !strings.Contains(rows, "400") || strings.Contains(rows, " 200 ") {
			t.Errorf("4xx and 5xx only:\n%s", rows)
		}
		// A bad filter is shown, not swallowed.
		b.run("bad filter",
			chromedp.Navigate(b.base+"/admin/logs?filter="+"data.nope+%3D+1"),
			chromedp.WaitVisible(chromedp.CSS(`#filter-error`)),
		)
		if got := b.text("#filter-error"); !strings.Contains(got, "nope") {
			t.Errorf("bad filter error: %q", got)
		}

		// One request, with its error message.
		b.run("open the 404",
			chromedp.Navigate(b.base+"/admin/logs?status=4xx&route="+"GET+%2Fapi%2Fcollections%2F%7Bcollection%7D%2Frecords"),
			chromedp.WaitVisible(chromedp.CSS(`table.logtable tbody a`)),
			chromedp.Click(chromedp.CSS(`table.logtable tbody a`)),
			chromedp.WaitVisible(chromedp.CSS(`dl.details`)),
		)
		details := b.text("dl.details")
		for _, want := range []string{"GET /api/collections/{collection}/records", "Error"} {
			if !strings.Contains(details, want) {
				t.Errorf("the request's page lacks %q:\n%s", want, details)
			}
		}
	})
}
