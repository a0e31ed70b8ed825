package records_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
)

// Input hooks see the body as the record reads it (modifiers resolved)
// and refuse a write with field errors or an error of their own; a
// refused write stores nothing.
func TestOnInputChecksTheBody(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		notes := collection(t, app, `{"name":"notes","fields":[{"name":"title","type":"text"},{"name":"n","type":"number"}]}`)
		var seen []map[string]any
		app.Records.OnInput(isNamed("notes"), func(w *records.Write) error {
			seen = append(seen, w.Input.Values)
			switch w.Input.Values["title"] {
			case "bad field":
				w.Errors.Add("title", "validation_not_this_title", "Not this title.")
			case "bad hook":
				return core.Forbidden("The hook refuses.")
			}
			return nil
		})
		kept := create(t, app, notes, map[string]any{"title": "kept", "n": 3.0})
		if len(seen) != 1 || seen[0]["title"] != "kept" || seen[0]["n"] != 3.0 {
			t.Fatalf("the hook saw %v", seen)
		}
		for _, tc := range []struct {
			name  string
			id    string // "" creates
			body  map[string]any
			want  core.Kind
			field string
			saw   map[string]any // what the hook saw in Input.Values
		}{
			{"create refused by a field error", "", map[string]any{"title": "bad field"}, core.KindInvalid, "title", map[string]any{"title": "bad field"}},
			{"create refused by an error", "", map[string]any{"title": "bad hook"}, core.KindForbidden, "", map[string]any{"title": "bad hook"}},
			{"update refused by a field error", kept.ID(), map[string]any{"title": "bad field", "n+": 1.0}, core.KindInvalid, "title", map[string]any{"title": "bad field", "n": 4.0}},
			{"update refused by an error", kept.ID(), map[string]any{"title": "bad hook"}, core.KindForbidden, "", map[string]any{"title": "bad hook"}},
			{"update admitted, modifier resolved", kept.ID(), map[string]any{"n+": 2.0}, ok, "", map[string]any{"n": 5.0}},
		} {
			seen = nil
			var err error
			if tc.id == "" {
				_, err = app.Records.Create(ctx, superuser, notes, tc.body)
			} else {
				_, err = app.Records.Update(ctx, superuser, notes, tc.id, tc.body)
			}
			if kindOf(err) != tc.want || (tc.field != "" && fieldCode(err, tc.field) != "validation_not_this_title") {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			if len(seen) != 1 || len(seen[0]) != len(tc.saw) {
				t.Errorf("%s: the hook saw %v, want %v", tc.name, seen, tc.saw)
				continue
			}
			for k, v := range tc.saw {
				if seen[0][k] != v {
					t.Errorf("%s: the hook saw %s = %v, want %v", tc.name, k, seen[0][k], v)
				}
			}
		}
		if n := count(t, app, notes, ""); n != 1 {
			t.Errorf("notes: %d, want 1", n)
		}
		if got := get(t, app, notes, kept.ID()); got.String("title") != "kept" || got.Data["n"] != 5.0 {
			t.Errorf("stored: %v", got.Data)
		}
	})
}

// Write hooks run in the transaction with the record complete: what they
// write there commits with the record, and their error rolls it all back.
func TestOnWriteRunsInTheTransaction(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		notes := collection(t, app, `{"name":"notes","fields":[{"name":"title","type":"text"},{"name":"slug","type":"text","autogeneratePattern":"[a-z]{8}"}]}`)
		audit := collection(t, app, `{"name":"audit","fields":[{"name":"note","type":"text"},{"name":"title","type":"text"}]}`)
		var problems []string
		app.Records.OnWrite(isNamed("notes"), func(w *records.Write) error {
			rec := w.Record
			if w.Tx == nil || len(rec.ID()) != core.IDLength || rec.String("created") == "" || len(rec.String("slug")) != 8 {
				problems = append(problems, "incomplete record: "+rec.ID())
			}
			if !w.Creating() && w.Old.String("title") == rec.String("title") {
				problems = append(problems, "Old is the new record")
			}
			// A write of the hook's own, in the same transaction.
			if _, err := app.Records.CreateIn(w.Ctx, w.Tx, superuser, audit, map[string]any{"note": rec.ID(), "title": rec.String("title")}, nil); err != nil {
				return err
			}
			if strings.HasPrefix(rec.String("title"), "rollback") {
				return core.Invalid("Rolled back by the hook.")
			}
			return nil
		})
		kept := create(t, app, notes, map[string]any{"title": "kept"})
		for _, tc := range []struct {
			name string
			id   string // "" creates
			body map[string]any
			want core.Kind
		}{
			{"create rolled back", "", map[string]any{"title": "rollback create"}, core.KindInvalid},
			{"update rolled back", kept.ID(), map[string]any{"title": "rollback update"}, core.KindInvalid},
			{"update kept", kept.ID(), map[string]any{"title": "kept again"}, ok},
		} {
			var err error
			if tc.id == "" {
				_, err = app.Records.Create(ctx, superuser, notes, tc.body)
			} else {
				_, err = app.Records.Update(ctx, superuser, notes, tc.id, tc.body)
			}
			if kindOf(err) != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if len(problems) > 0 {
			t.Errorf("the hook saw: %v", problems)
		}
		if got := get(t, app, notes, kept.ID()); got.String("title") != "kept again" || count(t, app, notes, "") != 1 {
			t.Errorf("notes after the rollbacks: %v, %d", got.Data, count(t, app, notes, ""))
		}
		res, err := app.Records.List(ctx, superuser, audit, records.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, r := range res.Items {
			titles = append(titles, r.String("title"))
		}
		slices.Sort(titles)
		if !slices.Equal(titles, []string{"kept", "kept again"}) {
			t.Errorf("audit: %v, want only the committed writes", titles)
		}
	})
}

// Delete hooks run for every record a delete removes, the ones its
// cascade reaches included, and one refusing undoes the whole delete.
func TestOnDeleteSeesTheCascade(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		parents := collection(t, app, `{"name":"parents","fields":[{"name":"title","type":"text"}]}`)
		children := collection(t, app, `{"name":"children","fields":[{"name":"title","type":"text"},
			{"name":"parent","type":"relation","collectionId":"parents","required":true,"cascadeDelete":true}]}`)
		var deleted []string
		app.Records.OnDelete(func(c *core.Collection) bool { return c.Name == "parents" || c.Name == "children" }, func(w *records.Write) error {
			if w.Tx == nil || w.Record == nil || w.Old != nil || w.Input != nil {
				t.Errorf("delete hook: tx %v record %v old %v input %v", w.Tx, w.Record, w.Old, w.Input)
				return nil
			}
			deleted = append(deleted, w.Record.Collection.Name+":"+w.Record.String("title"))
			if w.Record.String("title") == "keep" {
				return core.Invalid("This one stays.")
			}
			return nil
		})
		family := func(parent string, kids ...string) (*core.Record, []*core.Record) {
			p := create(t, app, parents, map[string]any{"title": parent})
			var cs []*core.Record
			for _, k := range kids {
				cs = append(cs, create(t, app, children, map[string]any{"title": k, "parent": p.ID()}))
			}
			return p, cs
		}
		for _, tc := range []struct {
			name    string
			kids    []string
			want    core.Kind
			deleted []string // what the hook saw, sorted
		}{
			{"the cascade reaches every child", []string{"a", "b"}, ok, []string{"children:a", "children:b", "parents:p"}},
			// The children's order is the store's, so "a" may come first or not at all.
			{"a child refuses", []string{"a", "keep"}, core.KindInvalid, []string{"children:keep"}},
		} {
			p, kids := family("p", tc.kids...)
			deleted = nil
			err := app.Records.Delete(ctx, superuser, parents, p.ID())
			if kindOf(err) != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			slices.Sort(deleted)
			if tc.want != ok {
				deleted = slices.DeleteFunc(deleted, func(s string) bool { return s == "children:a" })
			}
			if !slices.Equal(deleted, tc.deleted) {
				t.Errorf("%s: the hook saw %v, want %v", tc.name, deleted, tc.deleted)
			}
			// All or nothing.
			stays := tc.want != ok
			if (get(t, app, parents, p.ID()) != nil) != stays {
				t.Errorf("%s: the parent stays: %v", tc.name, !stays)
			}
			for _, k := range kids {
				if (get(t, app, children, k.ID()) != nil) != stays {
					t.Errorf("%s: child %s stays: %v", tc.name, k.String("title"), !stays)
				}
			}
		}
	})
}

// Prepare hooks run before the transaction (no Tx, no Record yet) with
// the resolved body in Req, and what they note with SetMemo reaches the
// later hooks of the same write, on create and on update alike; an error
// from one stops the write.
func TestOnPrepareMemoReachesOnInput(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		notes := collection(t, app, `{"name":"notes","fields":[{"name":"title","type":"text"},{"name":"note","type":"text"}]}`)
		var problems []string
		app.Records.OnPrepare(isNamed("notes"), func(w *records.Write) error {
			if w.Tx != nil || w.Record != nil {
				problems = append(problems, "prepare runs in the transaction")
			}
			title, _ := w.Input.Values["title"].(string)
			if w.Req.Body["title"] != title {
				problems = append(problems, "prepare's @request.body is not the resolved body: "+title)
			}
			if title == "stop" {
				return core.Invalid("Stopped before the transaction.")
			}
			old := "none"
			if w.Old != nil {
				old = w.Old.String("title")
			}
			w.SetMemo("test.prepared", "prepared "+title+" over "+old)
			return nil
		})
		app.Records.OnInput(isNamed("notes"), func(w *records.Write) error {
			memo, _ := w.Memo("test.prepared").(string)
			w.Record.Data["note"] = memo
			return nil
		})
		rec := create(t, app, notes, map[string]any{"title": "a"})
		if rec.String("note") != "prepared a over none" {
			t.Errorf("create: note %q", rec.String("note"))
		}
		up, err := app.Records.Update(ctx, superuser, notes, rec.ID(), map[string]any{"title": "b"})
		if err != nil || up.String("note") != "prepared b over a" {
			t.Errorf("update: %v %v", up, err)
		}
		for _, id := range []string{"", rec.ID()} {
			var err error
			if id == "" {
				_, err = app.Records.Create(ctx, superuser, notes, map[string]any{"title": "stop"})
			} else {
				_, err = app.Records.Update(ctx, superuser, notes, id, map[string]any{"title": "stop"})
			}
			if core.KindOf(err) != core.KindInvalid {
				t.Errorf("a prepare hook's error (id %q): %v", id, err)
			}
		}
		if got := get(t, app, notes, rec.ID()); got.String("title") != "b" || count(t, app, notes, "") != 1 {
			t.Errorf("after the stopped writes: %v", got.Data)
		}
		if len(problems) > 0 {
			t.Error(problems)
		}
	})
}

// AcceptKeys lets a body carry a key that is no field, for hooks (in
// Input.Extra) and rules (in @request.body); it is never stored. Without
// it, such a key is an unknown field.
func TestAcceptKeys(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		notes := collection(t, app, `{"name":"notes","fields":[{"name":"title","type":"text"}],"createRule":"@request.body.mood != 'angry'"}`)
		plain := collection(t, app, `{"name":"plain","fields":[{"name":"title","type":"text"}],"createRule":""}`)
		app.Records.AcceptKeys(isNamed("notes"), "mood")
		app.Records.OnInput(isNamed("notes"), func(w *records.Write) error {
			if w.Input.Extra["mood"] == "loud" {
				w.Input.Values["title"] = strings.ToUpper(w.Input.Values["title"].(string))
			}
			return nil
		})
		for _, tc := range []struct {
			name  string
			c     *core.Collection
			body  map[string]any
			want  core.Kind
			title string // stored
		}{
			{"an accepted key reaches the hook", notes, map[string]any{"title": "hi", "mood": "loud"}, ok, "HI"},
			{"an accepted key reaches the rule", notes, map[string]any{"title": "hi", "mood": "angry"}, core.KindInvalid, ""},
			{"a modifier on an accepted key", notes, map[string]any{"title": "hi", "mood+": "x"}, core.KindInvalid, ""},
			{"a collection that does not accept it", plain, map[string]any{"title": "hi", "mood": "loud"}, core.KindInvalid, ""},
		} {
			rec, err := app.Records.Create(ctx, guest, tc.c, tc.body)
			if kindOf(err) != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				continue
			}
			if err != nil {
				continue
			}
			stored := get(t, app, tc.c, rec.ID())
			if _, has := stored.Data["mood"]; has || stored.String("title") != tc.title {
				t.Errorf("%s: stored %v", tc.name, stored.Data)
			}
		}
		_, err := app.Records.Create(ctx, guest, plain, map[string]any{"title": "hi", "mood": "loud"})
		if fieldCode(err, "mood") != "validation_unknown_field" {
			t.Errorf("unknown key: %v", err)
		}
		if n := count(t, app, plain, ""); n != 0 {
			t.Errorf("plain: %d records", n)
		}
	})
}
