package collections_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/service"
)

// A collection's life: created with a table at once, refused when its
// definition is wrong (and nothing half-made), changed live, found by a
// filter, imported and deleted — on both engines.
func TestCollectionLifecycle(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		cols := app.Collections
		posts, err := cols.Create(ctx, []byte(`{"name":"posts","fields":[{"name":"title","type":"text","required":true}],"listRule":""}`))
		if err != nil {
			t.Fatal(err)
		}
		if posts.Field("id") == nil || posts.Field("created") == nil || posts.ListRule == nil {
			t.Fatalf("created: %+v", posts)
		}
		for name, body := range map[string]string{
			"duplicate name":  `{"name":"POSTS"}`,
			"reserved field":  `{"name":"x1","fields":[{"name":"ctid","type":"text"}]}`,
			"unknown type":    `{"name":"x2","fields":[{"name":"a","type":"geo"}]}`,
			"bad rule":        `{"name":"x3","listRule":"nope = 1"}`,
			"bad relation":    `{"name":"x4","fields":[{"name":"r","type":"relation","collectionId":"missing"}]}`,
			"fields a number": `{"name":"x5","fields":5}`,
		} {
			if _, err := cols.Create(ctx, []byte(body)); core.KindOf(err) != core.KindInvalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := app.Service.Collection("x1"); err == nil {
			t.Fatal("a refused collection exists")
		}
		// A record survives a live change that adds a field.
		rec, err := app.Records.Create(ctx, &service.Request{Superuser: true}, posts, map[string]any{"title": "hello"})
		if err != nil {
			t.Fatal(err)
		}
		updated, err := cols.Update(ctx, "posts", []byte(`{"fields":[{"name":"title","type":"text","required":true},{"name":"views","type":"number"}]}`))
		if err != nil || updated.Field("views") == nil || updated.Field("title") == nil {
			t.Fatalf("update: %v %+v", err, updated)
		}
		kept, err := app.Records.Get(ctx, &service.Request{Superuser: true}, updated, rec.ID())
		if err != nil || kept.String("title") != "hello" || kept.Data["views"] != float64(0) {
			t.Fatalf("after the change: %v %v", kept, err)
		}
		found, err := cols.Find(`name = "posts"`)
		if err != nil || len(found) != 1 {
			t.Fatalf("find: %v %v", found, err)
		}
		if _, err := cols.Find(`nope = 1`); core.KindOf(err) != core.KindInvalid {
			t.Fatalf("bad find filter: %v", err)
		}
		def, _ := json.Marshal(map[string]any{"name": "tags", "fields": []any{map[string]any{"name": "label", "type": "text"}}})
		if err := cols.Import(ctx, []json.RawMessage{def}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Service.Collection("tags"); err != nil {
			t.Fatalf("imported: %v", err)
		}
		if err := cols.Delete(ctx, core.SuperusersName); core.KindOf(err) != core.KindInvalid {
			t.Fatalf("delete a system collection: %v", err)
		}
		if err := cols.Delete(ctx, "posts"); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Service.Collection("posts"); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("deleted: %v", err)
		}
	})
}
