package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The collections pages in a browser: a collection with a text, a number,
// a relation and a file field made in the editor (fields added by htmx),
// a rule's syntax error shown at its position while it is typed, a valid
// rule saved, the schema exported, and a collection deleted after its
// name is typed to confirm.
func TestBrowserCollections(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		var authors struct{ ID string }
		srv.Super("POST", "/api/collections", map[string]any{"name": "authors",
			"fields": []any{map[string]any{"name": "name", "type": "text"}}}, http.StatusOK, &authors)
		b.signIn()

		b.run("open the list and the editor",
			chromedp.Navigate(b.base+"/admin/collections"),
			chromedp.WaitVisible(chromedp.CSS(`#collections`)),
			chromedp.Click(chromedp.CSS(`#new-collection`)),
			chromedp.WaitVisible(chromedp.CSS(`#collection-form`)),
			chromedp.SendKeys(chromedp.CSS(`#c-name`), "posts"),
		)
		// The scaffold has id, created and updated; each field added is
		// fetched by htmx and appended.
		n := get(b, "count the rows", chromedp.Evaluate[int](`document.querySelectorAll("#fields > fieldset").length`))
		if n != 3 {
			t.Fatalf("the new collection's scaffold has %d rows: %q", n, b.text("#fields"))
		}
		// add adds a field of typ named name as row n, then sets its options
		// with the actions opts makes of the row's option selectors.
		add := func(typ, name string, opts func(in func(opt string) chromedp.CSS) []chromedp.Action[chromedp.Void]) {
			t.Helper()
			n++
			row := fmt.Sprintf("#fields > fieldset:nth-child(%d) ", n)
			in := func(opt string) chromedp.CSS { return chromedp.CSS(row + `[id$="-` + opt + `"]`) }
			b.run("add the "+typ+" field "+name,
				chromedp.SetValue(chromedp.CSS(`#newType`), typ),
				chromedp.Click(chromedp.CSS(`#add-field`)),
				chromedp.WaitVisible(in("name")),
			)
			// htmx focuses the new row's name (autofocus) when the swap
			// settles, 20 ms after it shows: typing into the options before
			// then would land in the name.
			get(b, "wait for the "+name+" field's focus",
				chromedp.Poll[bool](fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, string(in("name")))))
			b.run("name the "+typ+" field "+name, append([]chromedp.Action[chromedp.Void]{chromedp.SendKeys(in("name"), name)}, opts(in)...)...)
		}
		type acts = []chromedp.Action[chromedp.Void]
		add("text", "title", func(in func(string) chromedp.CSS) acts {
			return acts{chromedp.SendKeys(in("max"), "120"), chromedp.Click(in("required"))}
		})
		add("number", "score", func(in func(string) chromedp.CSS) acts {
			return acts{chromedp.SendKeys(in("min"), "0"), chromedp.Click(in("onlyInt"))}
		})
		add("relation", "author", func(in func(string) chromedp.CSS) acts {
			return acts{chromedp.SetValue(in("collectionId"), authors.ID), chromedp.Click(in("cascadeDelete"))}
		})
		add("file", "cover", func(in func(string) chromedp.CSS) acts {
			return acts{chromedp.SendKeys(in("mimeTypes"), "image/png, image/jpeg"), chromedp.SendKeys(in("thumbs"), "100x100")}
		})

		// A rule with a syntax error: the error, at its position, before
		// anything is saved.
		b.run("type a bad rule",
			chromedp.Click(chromedp.CSS(`#r-listRule-locked`)), // unlock
			chromedp.SendKeys(chromedp.CSS(`#r-listRule`), "title ~~ 'x'"),
			chromedp.WaitVisible(chromedp.CSS(`#r-listRule-check .ruleerr`)),
		)
		msg := b.text(`#r-listRule-check`)
		if !strings.Contains(msg, "line 1, column 8") || !strings.Contains(msg, "title ~~ 'x'") || !strings.Contains(msg, "       ^") {
			t.Errorf("the rule error lacks its position and caret:\n%s", msg)
		}
		if engine == "sqlite" {
			b.screenshot("collection-editor.png")
		}
		srv.Super("GET", "/api/collections/posts", nil, http.StatusNotFound, nil)

		// A valid rule, over a field of the draft and a relation.
		get(b, "clear the rule", chromedp.Evaluate[bool](`(document.querySelector("#r-listRule").value = "", true)`))
		b.run("type a valid rule",
			chromedp.SendKeys(chromedp.CSS(`#r-listRule`), `@request.auth.id != "" && author.name != "" && score >= 0`),
			chromedp.WaitVisible(chromedp.CSS(`#r-listRule-check .ruleok`)),
		)
		b.run("save",
			chromedp.Click(chromedp.CSS(`#save`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); got != "Saved the collection posts." {
			t.Fatalf("after saving: %q", got)
		}

		// The REST API has each field with its type and options.
		var col struct {
			ListRule *string `json:"listRule"`
			ViewRule *string `json:"viewRule"`
			Fields   []map[string]any
		}
		srv.Super("GET", "/api/collections/posts", nil, http.StatusOK, &col)
		fields := map[string]map[string]any{}
		var order []string
		for _, f := range col.Fields {
			fields[f["name"].(string)] = f
			order = append(order, f["name"].(string))
		}
		for name, want := range map[string]map[string]any{
			"title":  {"type": "text", "max": 120.0, "required": true},
			"score":  {"type": "number", "min": 0.0, "onlyInt": true},
			"author": {"type": "relation", "collectionId": authors.ID, "cascadeDelete": true, "maxSelect": 1.0},
			"cover":  {"type": "file", "mimeTypes": []any{"image/png", "image/jpeg"}, "thumbs": []any{"100x100"}, "maxSelect": 1.0},
		} {
			f := fields[name]
			if f == nil {
				t.Errorf("no field %s in %v", name, order)
				continue
			}
			for k, v := range want {
				if fmt.Sprint(f[k]) != fmt.Sprint(v) {
					t.Errorf("field %s: %s = %v, want %v", name, k, f[k], v)
				}
			}
		}
		if got := strings.Join(order, ","); got != "id,created,updated,title,score,author,cover" {
			t.Errorf("fields: %s", got)
		}
		if col.ListRule == nil || *col.ListRule != `@request.auth.id != "" && author.name != "" && score >= 0` || col.ViewRule != nil {
			t.Errorf("rules: list %v, view %v", col.ListRule, col.ViewRule)
		}
		// The editor of the saved collection shows the fields back.
		if got := b.text("#fields"); !strings.Contains(got, "cover") || !strings.Contains(got, "author") {
			t.Errorf("the saved editor shows %q", got)
		}

		// Export: the schema as a JSON download.
		type export struct {
			Disposition string `json:"disposition"`
			Body        string `json:"body"`
		}
		exp := get(b, "export", chromedp.Evaluate[export](`fetch("/admin/collections/export").then(async r => ({disposition: r.headers.get("Content-Disposition"), body: await r.text()}))`, chromedp.EvalAwaitPromise))
		var schema []struct {
			Name   string
			Fields []struct{ Name, Type string }
		}
		if err := json.Unmarshal([]byte(exp.Body), &schema); err != nil {
			t.Fatalf("export: %v\n%s", err, clip(exp.Body, 500))
		}
		if !strings.Contains(exp.Disposition, "attachment") {
			t.Errorf("export Content-Disposition: %q", exp.Disposition)
		}
		found := false
		for _, c := range schema {
			if c.Name == "posts" {
				found = len(c.Fields) == 7 && c.Fields[6].Name == "cover" && c.Fields[6].Type == "file"
			}
		}
		if !found {
			t.Errorf("the export lacks posts with its fields: %s", clip(exp.Body, 1000))
		}

		// Delete: authors is refused (posts relates to it), posts goes
		// once its name is typed.
		b.run("try to delete authors",
			chromedp.Navigate(b.base+"/admin/collections"),
			chromedp.WaitVisible(chromedp.CSS(`#collections`)),
			chromedp.Click(chromedp.CSS(`a[aria-label="Delete authors"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
			chromedp.SendKeys(chromedp.CSS(`#confirm`), "authors"),
			chromedp.Click(chromedp.CSS(`#confirm-delete`)),
			chromedp.WaitVisible(chromedp.CSS(`#delete-error`)),
		)
		if got := b.text("#delete-error"); !strings.Contains(got, "relates to it") {
			t.Errorf("deleting a related collection: %q", got)
		}
		b.run("delete posts",
			chromedp.Navigate(b.base+"/admin/collections/posts"),
			chromedp.WaitVisible(chromedp.CSS(`#delete-link`)),
			chromedp.Click(chromedp.CSS(`#delete-link`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
			chromedp.SendKeys(chromedp.CSS(`#confirm`), "posts"),
			chromedp.Click(chromedp.CSS(`#confirm-delete`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); got != "Deleted the collection posts." {
			t.Errorf("after deleting: %q", got)
		}
		if strings.Contains(b.text("#collections"), "posts") {
			t.Error("the list still shows posts")
		}
		srv.Super("GET", "/api/collections/posts", nil, http.StatusNotFound, nil)
	})
}
