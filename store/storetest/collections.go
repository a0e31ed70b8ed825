package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// stored returns the stored definition of the collection with id, or nil.
func (h *harness) stored(id string) *core.Collection {
	h.t.Helper()
	all, err := h.s.Collections(h.ctx)
	if err != nil {
		h.t.Fatalf("Collections: %v", err)
	}
	for _, c := range all {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// sameDefinition fails unless got stores exactly what want does.
func sameDefinition(t *testing.T, got, want *core.Collection) {
	t.Helper()
	if got == nil {
		t.Fatalf("collection %s not stored", want.Name)
	}
	g, err1 := got.StoredJSON()
	w, err2 := want.StoredJSON()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if string(g) != string(w) {
		t.Fatalf("stored definition differs:\n got %s\nwant %s", g, w)
	}
}

// migrate runs UpdateCollection from prev to next and fails on error.
func (h *harness) migrate(prev, next *core.Collection) {
	h.t.Helper()
	h.update(func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, prev, next) })
}

func testCollections(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)

	t.Run("a definition a rename made stale", func(t *testing.T) {
		// What a request that read the definition before a rename
		// committed does after it: every statement names the old table.
		old := newCollection("stale1", number("n"))
		h.createCollection(old)
		id := newID()
		h.insert(record(old, id, "n", 1.0))
		next := old.Clone()
		next.Name = "stale2"
		h.migrate(old, next)
		// Not a 500: ErrMissingObject in the chain, for the records layer
		// to run the request again with the definition as it now stands
		// (KindUnavailable, or KindInvalid where the statement went the
		// way of a caller's fragment).
		check := func(what string, err error) {
			t.Helper()
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindUnavailable && e.Kind != core.KindInvalid || !errors.Is(err, store.ErrMissingObject) {
				t.Errorf("%s: %v, want ErrMissingObject in the chain of a 503 or 400", what, err)
			}
		}
		check("insert", h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(old, newID(), "n", 2.0)) }))
		check("update", h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Update(h.ctx, record(old, id, "n", 3.0)) }))
		check("delete", h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Delete(h.ctx, old, id) }))
		_, err := h.s.Get(h.ctx, old, id)
		check("get", err)
		_, err = h.s.Find(h.ctx, store.Query{Collection: old, WithTotal: true})
		check("find", err)
		if got := h.get(next, id); got.Data["n"] != 1.0 {
			t.Errorf("the record after the refused writes: %v", got.Data)
		}
		// A field renamed: the old definition names a column that is gone.
		renamed := next.Clone()
		renamed.Fields[len(renamed.Fields)-1].Name = "m"
		h.migrate(next, renamed)
		check("insert, a field renamed", h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(next, newID(), "n", 2.0)) }))
		check("update, a field renamed", h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Update(h.ctx, record(next, id, "n", 3.0)) }))
		_, err = h.s.Get(h.ctx, next, id)
		check("get, a field renamed", err)
	})

	t.Run("definitions round-trip", func(t *testing.T) {
		c := everyType("defs")
		c.Indexes = []string{"CREATE INDEX `idx_defs_title` ON `defs` (`title`)"}
		rule := "@request.auth.id != ''"
		c.ListRule, c.ViewRule = &rule, new(string)
		h.createCollection(c)
		sameDefinition(t, h.stored(c.ID), c)

		users := newCollection("users", core.Field{Name: "email", Type: core.FieldEmail}, core.Field{Name: "password", Type: core.FieldPassword})
		users.Type = core.TypeAuth
		manage := "@request.auth.role = 'admin'"
		users.Auth = &core.AuthOptions{AuthRule: new(string), ManageRule: &manage,
			AuthToken:    core.TokenConfig{Secret: "s3cret-with-enough-entropy", Duration: 1209600},
			PasswordAuth: core.PasswordAuth{Enabled: true, IdentityFields: []string{"email"}}}
		h.createCollection(users)
		got := h.stored(users.ID)
		sameDefinition(t, got, users)
		if got.Auth == nil || got.Auth.AuthToken.Secret != "s3cret-with-enough-entropy" {
			t.Errorf("auth options lost: %+v", got.Auth)
		}
	})

	t.Run("name in use", func(t *testing.T) {
		c := newCollection("taken")
		h.createCollection(c)
		for _, name := range []string{"taken", "TAKEN", "_collections"} {
			dup := newCollection(name)
			err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.CreateCollection(h.ctx, dup) })
			if e := wantKind(t, err, core.KindInvalid); e.Fields["name"].Code == "" {
				t.Errorf("%s: fields = %v, want an entry for name", name, e.Fields)
			}
		}
		sameID := newCollection("fresh")
		sameID.ID = c.ID
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.CreateCollection(h.ctx, sameID) })
		wantKind(t, err, core.KindInvalid)
		if h.stored(c.ID).Name != "taken" {
			t.Errorf("the original definition changed")
		}
	})

	t.Run("migrations keep data", func(t *testing.T) {
		prev := newCollection("notes", text("title"), number("n"), text("gone"), sel("one", 1), sel("many", 3))
		prev.Indexes = []string{"CREATE UNIQUE INDEX `idx_notes_title` ON `notes` (`title`)"}
		h.createCollection(prev)
		h.insert(
			record(prev, fmtID("n", 1), "title", "first", "n", 1.0, "gone", "x", "one", "a", "many", []string{"a", "b"}),
			record(prev, fmtID("n", 2), "title", "second", "n", 2.0, "one", "", "many", []string{}),
		)

		// Add a field, rename one, drop one, switch single ⇄ multiple.
		next := prev.Clone()
		next.Fields = slices.DeleteFunc(next.Fields, func(f core.Field) bool { return f.Name == "gone" })
		next.Field("title").Name = "heading"
		next.Field("one").MaxSelect = 2
		next.Field("many").MaxSelect = 1
		next.Fields = append(next.Fields, core.Field{ID: "bool_new", Name: "flag", Type: core.FieldBool})
		next.Indexes = []string{"CREATE UNIQUE INDEX `idx_notes_title` ON `notes` (`heading`)"}
		h.migrate(prev, next)
		sameDefinition(t, h.stored(next.ID), next)
		checkRecord(t, h.get(next, fmtID("n", 1)), map[string]any{"id": fmtID("n", 1), "heading": "first", "n": 1.0,
			"one": []string{"a"}, "many": "b", "flag": false})
		checkRecord(t, h.get(next, fmtID("n", 2)), map[string]any{"id": fmtID("n", 2), "heading": "second", "n": 2.0,
			"one": []string{}, "many": ""})
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			return tx.Insert(h.ctx, record(next, newID(), "heading", "first"))
		})
		wantNotUnique(t, err, "heading")

		// Rename the collection, keeping index statements that name the old table.
		renamed := next.Clone()
		renamed.Name = "memos"
		h.migrate(next, renamed)
		if !strings.Contains(renamed.Indexes[0], "memos") {
			t.Errorf("index not retargeted: %s", renamed.Indexes[0])
		}
		sameDefinition(t, h.stored(renamed.ID), renamed)
		checkRecord(t, h.get(renamed, fmtID("n", 1)), map[string]any{"id": fmtID("n", 1), "heading": "first", "n": 1.0,
			"one": []string{"a"}, "many": "b"})
		h.wantTotal(renamed, 2)
		err = h.s.Update(h.ctx, func(tx store.Tx) error {
			return tx.Insert(h.ctx, record(renamed, newID(), "heading", "first"))
		})
		wantNotUnique(t, err, "heading")
		if _, err := h.s.Get(h.ctx, next, fmtID("n", 1)); err == nil {
			t.Errorf("the old table still answers")
		}

		// Only the case of the name changes.
		upper := renamed.Clone()
		upper.Name = "Memos"
		h.migrate(renamed, upper)
		h.get(upper, fmtID("n", 1))

		// Change the indexes alone: drop the unique one, add another.
		reindexed := upper.Clone()
		reindexed.Indexes = []string{"CREATE INDEX idx_memos_n ON Memos (n DESC)"}
		h.migrate(upper, reindexed)
		h.insert(record(reindexed, newID(), "heading", "first"))
		h.wantTotal(reindexed, 3)
		sameDefinition(t, h.stored(reindexed.ID), reindexed)
	})

	t.Run("rejected migrations change nothing", func(t *testing.T) {
		prev := newCollection("fixed", text("title"), number("n"))
		h.createCollection(prev)
		h.insert(record(prev, fmtID("f", 1), "title", "kept", "n", 5.0))

		retyped := prev.Clone()
		retyped.Field("n").Type = core.FieldText
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, prev, retyped) })
		wantKind(t, err, core.KindInvalid)

		// A migration whose Update call fails is rolled back with it.
		next := prev.Clone()
		next.Name = "moved"
		next.Fields = next.Fields[:2] // drops n
		err = h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.UpdateCollection(h.ctx, prev, next); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("err = %v", err)
		}
		sameDefinition(t, h.stored(prev.ID), prev)
		checkRecord(t, h.get(prev, fmtID("f", 1)), map[string]any{"id": fmtID("f", 1), "title": "kept", "n": 5.0})
	})

	t.Run("delete", func(t *testing.T) {
		c := newCollection("doomed", text("title"))
		c.Indexes = []string{"CREATE INDEX idx_doomed ON doomed (title)"}
		h.createCollection(c)
		h.insert(record(c, newID()))
		h.update(func(tx store.Tx) error { return tx.DeleteCollection(h.ctx, c) })
		if h.stored(c.ID) != nil {
			t.Errorf("definition still stored")
		}
		if _, err := h.s.Get(h.ctx, c, newID()); err == nil {
			t.Errorf("Get on a deleted collection succeeded")
		}
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.DeleteCollection(h.ctx, c) })
		wantKind(t, err, core.KindNotFound)
		// The name and the index name are free again.
		again := newCollection("doomed", text("title"))
		again.Indexes = c.Indexes
		h.createCollection(again)
		h.wantTotal(again, 0)
	})
}

func testIndexes(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	owner := newCollection("owner", text("slug"))
	owner.Indexes = []string{"CREATE INDEX idx_owner_slug ON owner (slug)"}
	h.createCollection(owner)

	bad := []struct{ name, stmt string }{
		{"not an index", "DROP TABLE owner"},
		{"two statements", "CREATE INDEX idx_a ON tab (slug); DROP TABLE owner"},
		{"other table", "CREATE INDEX idx_a ON owner (slug)"},
		{"unknown column", "CREATE INDEX idx_a ON tab (nope)"},
		{"expression column", "CREATE INDEX idx_a ON tab (lower(slug))"},
		{"subquery in where", "CREATE INDEX idx_a ON tab (slug) WHERE slug IN (SELECT slug FROM owner)"},
		{"function in where", "CREATE INDEX idx_a ON tab (slug) WHERE length(slug) > 1"},
		{"unknown column in where", "CREATE INDEX idx_a ON tab (slug) WHERE nope = 1"},
		{"comment", "CREATE INDEX idx_a ON tab (slug) -- hi"},
		{"qualified name", "CREATE INDEX main.idx_a ON tab (slug)"},
		{"view", "CREATE VIEW v AS SELECT 1"},
		{"unknown collation", "CREATE INDEX idx_a ON tab (slug COLLATE RTRIM)"},
		{"name taken by another collection", "CREATE INDEX idx_owner_slug ON tab (slug)"},
		{"name taken by a table", "CREATE INDEX owner ON tab (slug)"},
		{"duplicate name", "CREATE INDEX idx_a ON tab (slug)\x00CREATE INDEX idx_a ON tab (n)"},
		{"empty", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollection("tab", text("slug"), number("n"))
			c.Indexes = append([]string{"CREATE INDEX idx_ok ON tab (n)"}, strings.Split(tc.stmt, "\x00")...)
			err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.CreateCollection(h.ctx, c) })
			e := wantKind(t, err, core.KindInvalid)
			if e.Fields["indexes"].Code == "" {
				t.Errorf("fields = %v, want an entry for indexes", e.Fields)
			}
			if h.stored(c.ID) != nil {
				t.Fatalf("collection stored despite the error")
			}

			// The same mistake in a migration leaves the collection as it was.
			prev := newCollection("tab", text("slug"), number("n"))
			prev.Indexes = []string{"CREATE UNIQUE INDEX idx_ok ON tab (slug)"}
			h.createCollection(prev) // also proves nothing was left behind above
			h.insert(record(prev, fmtID("t", 1), "slug", "s"))
			next := prev.Clone()
			next.Fields = append(next.Fields, text("extra"))
			next.Fields[len(next.Fields)-1].ID = "extra_field"
			next.Indexes = append([]string{"CREATE INDEX idx_ok2 ON tab (n)"}, strings.Split(tc.stmt, "\x00")...)
			err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, prev, next) })
			wantKind(t, err, core.KindInvalid)
			sameDefinition(t, h.stored(prev.ID), prev)
			err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(prev, newID(), "slug", "s")) })
			wantNotUnique(t, err, "slug")
			h.update(func(tx store.Tx) error { return tx.DeleteCollection(h.ctx, prev) })
		})
	}

	t.Run("indexes follow their columns", func(t *testing.T) {
		// PostgreSQL takes an index along with a column it renames, drops
		// or retypes: an index whose statement reads the same must still
		// cover the column it names afterwards.
		prev := newCollection("swapped", text("a"), text("b"), sel("status", 1))
		prev.Indexes = []string{"CREATE UNIQUE INDEX idx_swapped_a ON swapped (a)", "CREATE INDEX idx_swapped_status ON swapped (status)"}
		h.createCollection(prev)
		h.insert(record(prev, newID(), "a", "x", "b", "y"))
		// Swap the names: the data follows the fields, the index the name.
		swap := prev.Clone()
		swap.Fields[1].Name, swap.Fields[2].Name = "b", "a"
		h.migrate(prev, swap)
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(swap, newID(), "a", "y")) })
		wantNotUnique(t, err, "a")
		// Replace a by a new field of the same name (its data goes).
		replaced := swap.Clone()
		replaced.Fields = slices.DeleteFunc(replaced.Fields, func(f core.Field) bool { return f.Name == "a" })
		replaced.Fields = append(replaced.Fields, core.Field{ID: "text_new_a", Name: "a", Type: core.FieldText})
		h.migrate(swap, replaced)
		h.insert(record(replaced, newID(), "a", "dup"))
		err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(replaced, newID(), "a", "dup")) })
		wantNotUnique(t, err, "a")
		// A retyped column under an index: done, or refused naming the
		// index (an index PostgreSQL cannot build on the new type), never
		// an internal error.
		multi := replaced.Clone()
		multi.Field("status").MaxSelect = 2
		err = h.s.Update(h.ctx, func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, replaced, multi) })
		if err != nil && core.KindOf(err) != core.KindInvalid {
			t.Errorf("single to multiple under an index: %v", err)
		}
	})

	t.Run("unique index over duplicates", func(t *testing.T) {
		prev := newCollection("dups", text("slug"))
		h.createCollection(prev)
		h.insert(record(prev, newID(), "slug", "same"), record(prev, newID(), "slug", "same"))
		next := prev.Clone()
		next.Indexes = []string{"CREATE INDEX idx_dups_plain ON dups (slug)", "CREATE UNIQUE INDEX idx_dups_slug ON dups (slug)"}
		err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, prev, next) })
		if e := wantKind(t, err, core.KindInvalid); !strings.Contains(e.Fields["indexes"].Message, "idx_dups_slug") {
			t.Errorf("error does not name the index: %v", e.Fields)
		}
		sameDefinition(t, h.stored(prev.ID), prev)
		// idx_dups_plain was rolled back with the rest: its name is free.
		other := newCollection("other", text("slug"))
		other.Indexes = []string{"CREATE INDEX idx_dups_plain ON other (slug)"}
		h.createCollection(other)
	})

	t.Run("accepted forms", func(t *testing.T) {
		c := newCollection("forms", text("slug"), core.Field{Name: "email", Type: core.FieldEmail}, number("n"))
		c.Indexes = []string{
			"CREATE UNIQUE INDEX `idx_forms_slug` ON `forms` (`slug`)",
			`create index if not exists "idx_forms_multi" on "forms" ("n" desc, [slug] asc);`,
			"CREATE UNIQUE INDEX idx_forms_email ON forms (email COLLATE NOCASE) WHERE email != '' AND (n > 0 OR n IS NULL)",
		}
		h.createCollection(c)
		sameDefinition(t, h.stored(c.ID), c)
	})
}

func testDurability(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := everyType("kept")
	c.Indexes = []string{"CREATE UNIQUE INDEX idx_kept_title ON kept (title)"}
	h.createCollection(c)
	want := map[string]any{"id": newID(), "title": "survivor", "n": 42.0, "many": []string{"a"}, "doc": json.RawMessage(`{"k":1}`)}
	h.insert(record(c, want["id"].(string), kvs(want)...))
	for i := range 20 {
		h.insert(record(c, fmtID("k", i), "title", fmtID("t", i)))
	}
	h.update(func(tx store.Tx) error { return tx.Delete(h.ctx, c, fmtID("k", 0)) })
	h.wantTotal(c, 20)

	h.reopen()
	got := h.stored(c.ID)
	sameDefinition(t, got, c)
	checkRecord(t, h.get(got, want["id"].(string)), want)
	h.wantTotal(got, 20)
	err := h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(got, newID(), "title", "survivor")) })
	wantNotUnique(t, err, "title")
	h.insert(record(got, newID()))
	h.wantTotal(got, 21)
}
