package admin_test

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// writePNG writes a small image to a file of the test's, for an upload.
func writePNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{R: uint8(40 + 8*x), G: 111, B: uint8(60 + 10*y), A: 255})
		}
	}
	p := filepath.Join(t.TempDir(), "cover.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// book is a books record as the API answers it.
type book struct {
	ID, Title, Author, Kind, Cover string
	Count                          float64
	Done                           bool
	Meta                           json.RawMessage
}

func books(t *testing.T, srv *testkit.Server, filter string) []book {
	t.Helper()
	var list struct{ Items []book }
	srv.Super("GET", "/api/collections/books/records?sort=title&filter="+strings.ReplaceAll(filter, " ", "%20"), nil, 200, &list)
	return list.Items
}

// leaving marks the page, so that waiting for an element of the next
// one (such as the flash message) does not find it on this one.
var leaving = chromedp.Evaluate[chromedp.Void](`document.body.dataset.left = "1"`)

// fresh is a selector within the page the browser went to after leaving.
func fresh(sel string) chromedp.CSS { return chromedp.CSS(`body:not([data-left]) ` + sel) }

// The records pages in a browser: the table, a record added with a file
// through the form (after an inline validation error), edited, found
// with a filter (and a bad filter's error), sorted, and deleted with a
// confirmation; the API sees each change.
func TestBrowserRecords(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		authors := booksSchema(t, srv)
		for _, bk := range []map[string]any{
			{"title": "Anathem", "count": 2, "kind": "novel", "author": authors["Grace"], "meta": map[string]any{"pages": 937}},
			{"title": "Middlemarch", "count": 7, "done": true, "kind": "novel", "author": authors["Ada"]},
			{"title": "Walden", "count": 4, "kind": "essay"},
		} {
			srv.Super("POST", "/api/collections/books/records", bk, 200, nil)
		}
		cover := writePNG(t)
		table := b.base + "/admin/collections/books/records"

		b.signIn()
		b.run("open the table",
			chromedp.Navigate(table),
			chromedp.WaitVisible(chromedp.CSS(`table.rec-table`)),
		)
		if n := get(b, "count rows", chromedp.Evaluate[int](`document.querySelectorAll("table.rec-table tbody tr").length`)); n != 3 {
			t.Errorf("the table shows %d rows, want 3", n)
		}
		if got := b.text("table.rec-table tbody"); !strings.Contains(got, "Grace") || !strings.Contains(got, "Middlemarch") {
			t.Errorf("the table does not show the titles and the related authors' names:\n%s", got)
		}

		// A new record with a number below its min: the error is beside
		// the field, and nothing is created.
		b.run("new record with a count below its min",
			chromedp.Click(chromedp.CSS(`.rec-head a.button`)),
			chromedp.WaitVisible(chromedp.CSS(`#f-title`)),
			chromedp.SendKeys(chromedp.CSS(`#f-title`), "Dune"),
			chromedp.SendKeys(chromedp.CSS(`#f-count`), "0"),
			chromedp.SetUploadFiles(chromedp.CSS(`#f-cover`), []string{cover}),
			chromedp.WaitVisible(chromedp.CSS(`#f-cover-preview img`)),
			chromedp.Click(chromedp.CSS(`#save`)),
			chromedp.WaitVisible(chromedp.CSS(`#f-count-msg .fielderror`)),
		)
		if got := b.text("#f-count-msg"); !strings.Contains(got, "Must be larger than 1") {
			t.Errorf("the count's message is %q", got)
		}
		if inv := get(b, "aria-invalid", chromedp.Evaluate[string](`document.querySelector("#f-count").getAttribute("aria-invalid") || ""`)); inv != "true" {
			t.Errorf("the count input's aria-invalid is %q", inv)
		}
		if got := b.text("#form-error"); !strings.Contains(got, "choose them again") {
			t.Errorf("the form does not say the file must be chosen again: %q", got)
		}
		if n := len(books(t, srv, "")); n != 3 {
			t.Fatalf("%d books after a refused form, want 3", n)
		}

		// The JSON editor checks as one types.
		b.run("type bad JSON",
			chromedp.SendKeys(chromedp.CSS(`#f-meta`), `{"pages": }`),
			chromedp.WaitVisible(chromedp.CSS(`#f-meta-msg .fielderror`)),
		)
		if got := b.text("#f-meta-msg"); !strings.Contains(got, "Invalid JSON at line 1") {
			t.Errorf("the JSON editor says %q", got)
		}

		// Fixed: the record is created with its file and relation.
		b.run("fix the form and create",
			chromedp.SetValue(chromedp.CSS(`#f-meta`), `{"pages": 412}`),
			chromedp.SetValue(chromedp.CSS(`#f-count`), "5"),
			chromedp.Click(chromedp.CSS(`#f-done`)),
			chromedp.SetValue(chromedp.CSS(`#f-kind`), "novel"),
			chromedp.SendKeys(chromedp.CSS(`#f-author-search`), "ada"),
			chromedp.WaitVisible(chromedp.CSS(`#f-author-r-`+authors["Ada"])),
			chromedp.WaitNotPresent(chromedp.CSS(`#f-author-r-`+authors["Grace"])),
			chromedp.Sleep(350*time.Millisecond), // past the search's debounce
		)
		// The search runs 300 ms after the last keystroke; on a loaded
		// machine the keystrokes can be slower than that, and a later
		// search's results can replace the row between finding it and
		// clicking it. Click once the last search has answered.
		get(b, "wait for the author search to settle", chromedp.Poll[bool](
			`document.querySelector("#f-author-search").value === "ada" && !document.querySelector(".htmx-request")`))
		b.run("choose the author and create",
			chromedp.Click(chromedp.CSS(`#f-author-r-`+authors["Ada"])),
			chromedp.WaitVisible(chromedp.CSS(`#f-author-chosen #f-author-r-`+authors["Ada"]+`:checked`)),
			chromedp.SetUploadFiles(chromedp.CSS(`#f-cover`), []string{cover}),
			leaving,
			chromedp.Click(chromedp.CSS(`#save`)),
			chromedp.WaitVisible(fresh(`.flash`)),
			chromedp.WaitVisible(chromedp.CSS(`.rec-filelist img.rec-thumb`)),
		)
		got := books(t, srv, `title="Dune"`)
		if len(got) != 1 {
			t.Fatalf("%d books named Dune after creating one", len(got))
		}
		dune := got[0]
		var meta map[string]any
		json.Unmarshal(dune.Meta, &meta)
		if dune.Count != 5 || !dune.Done || dune.Kind != "novel" || dune.Author != authors["Ada"] || !strings.HasSuffix(dune.Cover, ".png") || meta["pages"] != 412.0 {
			t.Errorf("created %+v", dune)
		}
		if loc := b.location(); !strings.HasSuffix(strings.Split(loc, "?")[0], "/records/"+dune.ID) {
			t.Errorf("after creating, the browser is at %s", loc)
		}
		// The thumbnail is served by the file route.
		b.run("the cover's thumbnail loads",
			chromedp.Poll[chromedp.Void](`(() => { const i = document.querySelector(".rec-filelist img.rec-thumb"); return i.complete && i.naturalWidth > 0; })()`,
				chromedp.WithPollingTimeout(10*time.Second)),
		)

		// Edit: a new title, done unchecked.
		b.run("edit the record",
			chromedp.SetValue(chromedp.CSS(`#f-title`), "Dune Messiah"),
			chromedp.Click(chromedp.CSS(`#f-done`)),
			leaving,
			chromedp.Click(chromedp.CSS(`#save`)),
			chromedp.WaitVisible(fresh(`.flash`)),
		)
		if got := books(t, srv, `id="`+dune.ID+`"`); len(got) != 1 || got[0].Title != "Dune Messiah" || got[0].Done || got[0].Cover != dune.Cover || got[0].Count != 5 {
			t.Errorf("after the edit: %+v", got)
		}

		// Filter: a good one shows the matching rows only; a bad one its error.
		b.run("filter the table",
			chromedp.Navigate(table),
			chromedp.WaitVisible(chromedp.CSS(`#filter`)),
			chromedp.SendKeys(chromedp.CSS(`#filter`), `title ~ "Messiah" || count > 6`),
			chromedp.Submit(chromedp.CSS(`#filter`)),
			chromedp.WaitNotPresent(chromedp.CSS(`table.rec-table tbody tr:nth-child(3)`)),
		)
		if got := b.text("table.rec-table tbody"); !strings.Contains(got, "Dune Messiah") || !strings.Contains(got, "Middlemarch") || strings.Contains(got, "Walden") {
			t.Errorf("the filtered table shows:\n%s", got)
		}
		if loc := b.location(); !strings.Contains(loc, "filter=") {
			t.Errorf("the filter is not in the address: %s", loc)
		}
		b.run("a bad filter",
			chromedp.SetValue(chromedp.CSS(`#filter`), `title ~`),
			chromedp.Submit(chromedp.CSS(`#filter`)),
			chromedp.WaitVisible(chromedp.CSS(`#filter-error`)),
		)
		if got := b.text("#filter-error"); got == "" {
			t.Error("the bad filter's error is empty")
		}
		status := get(b, "status of the bad filter", chromedp.Evaluate[int](`fetch(location.href).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if status != 400 {
			t.Errorf("the bad filter's page answers %d, want 400", status)
		}

		// Sort by count, then the other way.
		b.run("sort by count",
			chromedp.Navigate(table),
			chromedp.WaitVisible(chromedp.CSS(`table.rec-table`)),
			chromedp.Click(chromedp.CSS(`th a[href*="sort=count"]`)),
			chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)),
		)
		firstTitle := func() string {
			return get(b, "first title", chromedp.Evaluate[string](`(() => { const h = [...document.querySelectorAll("table.rec-table thead th")].map(th => th.textContent.trim()); const i = h.findIndex(x => x.startsWith("title")); return document.querySelector("table.rec-table tbody tr").children[i].textContent.trim(); })()`))
		}
		if got := firstTitle(); got != "Anathem" {
			t.Errorf("sorted by count, the first row is %q, want Anathem (2)", got)
		}
		b.run("sort by count, descending",
			chromedp.Click(chromedp.CSS(`th[aria-sort="ascending"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)),
		)
		if got := firstTitle(); got != "Middlemarch" {
			t.Errorf("sorted by -count, the first row is %q, want Middlemarch (7)", got)
		}
		if loc := b.location(); !strings.Contains(loc, "sort=-count") {
			t.Errorf("the sort is not in the address: %s", loc)
		}
		if engine == "sqlite" {
			b.run("filter box for the screenshot",
				chromedp.SendKeys(chromedp.CSS(`#filter`), `count > 1`),
				chromedp.Submit(chromedp.CSS(`#filter`)),
				chromedp.WaitVisible(chromedp.CSS(`#filter[value="count > 1"]`)),
			)
			b.screenshot("records-table.png")
		}

		// Delete the record, after a confirmation.
		b.run("delete the record",
			chromedp.Navigate(table+"/"+dune.ID),
			chromedp.WaitVisible(chromedp.CSS(`#f-title`)),
			chromedp.Click(chromedp.CSS(`.actions a.danger`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-delete`)),
		)
		if got := b.text("h1"); got != "Delete this record?" {
			t.Errorf("the confirmation asks %q", got)
		}
		if n := len(books(t, srv, `id="`+dune.ID+`"`)); n != 1 {
			t.Fatal("the confirmation page deleted the record")
		}
		b.run("confirm",
			leaving,
			chromedp.Click(chromedp.CSS(`#confirm-delete`)),
			chromedp.WaitVisible(fresh(`.flash`)),
		)
		if got := b.text(".flash"); got != "Deleted the record." {
			t.Errorf("after deleting, the page says %q", got)
		}
		srv.Super("GET", "/api/collections/books/records/"+dune.ID, nil, 404, nil)

		// Bulk delete: two rows checked, a confirmation counting them.
		b.run("bulk delete",
			chromedp.Navigate(table+"?sort=title"),
			chromedp.WaitVisible(chromedp.CSS(`table.rec-table`)),
			chromedp.Click(chromedp.CSS(`tbody tr:nth-child(1) input[name=id]`)),
			chromedp.Click(chromedp.CSS(`tbody tr:nth-child(2) input[name=id]`)),
			chromedp.Click(chromedp.CSS(`#delete-selected`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-delete`)),
		)
		if got := b.text("h1"); got != "Delete 2 records?" {
			t.Errorf("the bulk confirmation asks %q", got)
		}
		b.run("confirm the bulk delete",
			leaving,
			chromedp.Click(chromedp.CSS(`#confirm-delete`)),
			chromedp.WaitVisible(fresh(`.flash`)),
		)
		if left := books(t, srv, ""); len(left) != 1 || left[0].Title != "Walden" {
			t.Errorf("after deleting Anathem and Middlemarch, the books are %+v", left)
		}
		if loc := b.location(); !strings.Contains(loc, "sort=title") {
			t.Errorf("after the bulk delete the table lost its sort: %s", loc)
		}
	})
}
