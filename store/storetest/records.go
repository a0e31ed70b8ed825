package storetest

import (
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// everyType is a collection with a field of every type, single and multiple.
func everyType(name string) *core.Collection {
	return newCollection(name,
		text("title"),
		core.Field{Name: "body", Type: core.FieldEditor},
		number("n"),
		boolean("ok"),
		core.Field{Name: "email", Type: core.FieldEmail},
		core.Field{Name: "site", Type: core.FieldURL},
		core.Field{Name: "when", Type: core.FieldDate},
		core.Field{Name: "created", Type: core.FieldAutodate, OnCreate: true},
		sel("one", 1),
		sel("many", 3),
		jsonField("doc"),
		core.Field{Name: "owner", Type: core.FieldRelation, CollectionID: "x", MaxSelect: 1},
		core.Field{Name: "tags", Type: core.FieldRelation, CollectionID: "x", MaxSelect: 5},
		core.Field{Name: "avatar", Type: core.FieldFile, MaxSelect: 1},
		core.Field{Name: "docs", Type: core.FieldFile, MaxSelect: 5},
		core.Field{Name: "secret", Type: core.FieldPassword},
	)
}

func testRecords(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := everyType("things")
	h.createCollection(c)

	full := map[string]any{
		"id":      newID(),
		"title":   `Hello, "world" — ünïcödé ' ? $1`,
		"body":    "<p>rich\ntext</p>",
		"n":       -3.25,
		"ok":      true,
		"email":   "a@example.com",
		"site":    "https://example.com/?q=1",
		"when":    "2024-01-02 03:04:05.678Z",
		"created": core.Now(),
		"one":     "b",
		"many":    []string{"a", "c"},
		"doc":     json.RawMessage(`{"b":[1,2.5,"x"],"a":{"nested":true},"n":null}`),
		"owner":   "abc",
		"tags":    []string{"t1", "t2", "t3"},
		"avatar":  "a.png",
		"docs":    []string{"d1.pdf"},
		"secret":  "$2a$10$hash",
	}
	empty := map[string]any{"id": newID()}
	h.insert(record(c, full["id"].(string), kvs(full)...), record(c, empty["id"].(string)))

	t.Run("round trip", func(t *testing.T) {
		checkRecord(t, h.get(c, full["id"].(string)), full)
		checkRecord(t, h.get(c, empty["id"].(string)), empty)
	})

	t.Run("json values", func(t *testing.T) {
		for _, v := range []string{`"text"`, `42`, `-1.5e3`, `[1,"a",null]`, `true`, `false`, `{}`, `[]`} {
			id := newID()
			h.insert(record(c, id, "doc", json.RawMessage(v)))
			checkRecord(t, h.get(c, id), map[string]any{"id": id, "doc": json.RawMessage(v)})
		}
		id := newID()
		h.insert(record(c, id, "doc", json.RawMessage("null")))
		checkRecord(t, h.get(c, id), map[string]any{"id": id}) // JSON null reads as nil
	})

	t.Run("find returns the same values", func(t *testing.T) {
		res := h.find(store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."id" = ?`, Args: []any{full["id"]}}})
		if len(res.Records) != 1 {
			t.Fatalf("got %d records", len(res.Records))
		}
		checkRecord(t, res.Records[0], full)
		if res.Total != -1 {
			t.Errorf("Total without WithTotal = %d, want -1", res.Total)
		}
	})

	t.Run("update", func(t *testing.T) {
		next := map[string]any{"id": full["id"], "title": "", "n": 1e9, "ok": false, "many": []string{},
			"doc": json.RawMessage(nil), "tags": []string{"only"}, "one": ""}
		h.update(func(tx store.Tx) error { return tx.Update(h.ctx, record(c, full["id"].(string), kvs(next)...)) })
		checkRecord(t, h.get(c, full["id"].(string)), next)
	})

	t.Run("read your writes in a transaction", func(t *testing.T) {
		id := newID()
		h.update(func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, id, "title", "mine")); err != nil {
				return err
			}
			r, err := tx.Get(h.ctx, c, id)
			if err != nil {
				return err
			}
			checkRecord(t, r, map[string]any{"id": id, "title": "mine"})
			res, err := tx.Find(h.ctx, store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."title" = ?`, Args: []any{"mine"}}, WithTotal: true})
			if err != nil {
				return err
			}
			if res.Total != 1 || len(res.Records) != 1 {
				t.Errorf("Find in tx: total %d, %d records; want 1, 1", res.Total, len(res.Records))
			}
			return nil
		})
	})

	t.Run("delete", func(t *testing.T) {
		id := empty["id"].(string)
		h.update(func(tx store.Tx) error { return tx.Delete(h.ctx, c, id) })
		_, err := h.s.Get(h.ctx, c, id)
		wantKind(t, err, core.KindNotFound)
	})

	t.Run("not found", func(t *testing.T) {
		missing := newID()
		_, err := h.s.Get(h.ctx, c, missing)
		wantKind(t, err, core.KindNotFound)
		err = h.s.Update(h.ctx, func(tx store.Tx) error { _, err := tx.Get(h.ctx, c, missing); return err })
		wantKind(t, err, core.KindNotFound)
		err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Update(h.ctx, record(c, missing)) })
		wantKind(t, err, core.KindNotFound)
		err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Delete(h.ctx, c, missing) })
		wantKind(t, err, core.KindNotFound)
	})

	t.Run("bad value", func(t *testing.T) {
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(c, newID(), "n", "not a number")) })
		if e := wantKind(t, err, core.KindInvalid); e.Fields["n"].Code == "" {
			t.Errorf("fields = %v, want an entry for n", e.Fields)
		}
	})
}

// kvs flattens a map into key, value pairs for record.
func kvs(m map[string]any) []any {
	out := make([]any, 0, 2*len(m))
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

func testUnique(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("posts", text("slug"), text("a"), text("b"), core.Field{Name: "email", Type: core.FieldEmail})
	c.Indexes = []string{
		"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
		"CREATE UNIQUE INDEX idx_ab ON posts (a, b DESC)",
		`CREATE UNIQUE INDEX "idx_email" ON "posts" ("email" COLLATE NOCASE) WHERE "email" != ''`,
		"CREATE INDEX `idx_b` ON `posts` (`b`)",
	}
	h.createCollection(c)
	first := fmtID("p", 1)
	h.insert(record(c, first, "slug", "x", "a", "1", "b", "1", "email", "Me@Example.com"))
	insert := func(r *core.Record) error {
		return h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, r) })
	}

	t.Run("single column", func(t *testing.T) {
		wantNotUnique(t, insert(record(c, newID(), "slug", "x")), "slug")
	})
	t.Run("primary key", func(t *testing.T) {
		wantNotUnique(t, insert(record(c, first, "slug", "other")), "id")
	})
	t.Run("two columns", func(t *testing.T) {
		wantNotUnique(t, insert(record(c, newID(), "slug", "y", "a", "1", "b", "1")), "a", "b")
		if err := insert(record(c, newID(), "slug", "y1", "a", "1", "b", "2")); err != nil {
			t.Fatalf("distinct pair: %v", err)
		}
	})
	t.Run("nocase and partial", func(t *testing.T) {
		wantNotUnique(t, insert(record(c, newID(), "slug", "z", "a", "z", "email", "me@example.COM")), "email")
		// The index skips empty emails, so these two do not collide.
		if err := insert(record(c, newID(), "slug", "e1", "a", "e1")); err != nil {
			t.Fatal(err)
		}
		if err := insert(record(c, newID(), "slug", "e2", "a", "e2")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("update", func(t *testing.T) {
		id := newID()
		if err := insert(record(c, id, "slug", "u", "a", "u")); err != nil {
			t.Fatal(err)
		}
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Update(h.ctx, record(c, id, "slug", "x", "a", "u")) })
		wantNotUnique(t, err, "slug")
		if got := h.get(c, id).String("slug"); got != "u" {
			t.Errorf("slug after failed update = %q", got)
		}
	})
	t.Run("failed Update leaves nothing behind", func(t *testing.T) {
		before := h.total(c)
		ok := newID()
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, ok, "slug", "fine", "a", "fine")); err != nil {
				return err
			}
			return tx.Insert(h.ctx, record(c, newID(), "slug", "x", "a", "dup"))
		})
		wantNotUnique(t, err, "slug")
		_, err = h.s.Get(h.ctx, c, ok)
		wantKind(t, err, core.KindNotFound)
		h.wantTotal(c, before)
	})
	t.Run("a failed statement leaves the transaction usable", func(t *testing.T) {
		before := h.total(c)
		ok := newID()
		h.update(func(tx store.Tx) error {
			err := tx.Insert(h.ctx, record(c, newID(), "slug", "x", "a", "again"))
			wantNotUnique(t, err, "slug")
			return tx.Insert(h.ctx, record(c, ok, "slug", "after", "a", "after"))
		})
		h.get(c, ok)
		h.wantTotal(c, before+1)
	})
}
