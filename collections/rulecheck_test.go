package collections_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// CheckRule says of a rule what saving the draft says of it: the same
// verdict and message, for a new collection and for a change to a stored
// one whose draft adds a field; it saves nothing.
func TestCheckRuleAgreesWithSave(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		cols := app.Collections
		if _, err := cols.Create(ctx, []byte(`{"name":"authors","fields":[{"name":"name","type":"text"}]}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := cols.Create(ctx, []byte(`{"name":"stored","fields":[{"name":"title","type":"text"}]}`)); err != nil {
			t.Fatal(err)
		}
		draft := map[string]any{"name": "drafted", "fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "score", "type": "number"},
			map[string]any{"name": "author", "type": "relation", "collectionId": "authors"},
		}}
		update := map[string]any{"fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "added", "type": "bool"},
		}}
		for _, rule := range []string{
			`title = "x"`, `title = `, `title ~~ 'x'`, `score > 3 && author.name = "a"`, `author.nope = 1`,
			`score = "x"`, `@request.auth.id != ""`, `added = true`, `(title = "a"`,
		} {
			for _, tc := range []struct {
				ref  string
				body map[string]any
				save func([]byte) error
			}{
				{"", draft, func(b []byte) error { _, err := cols.Create(ctx, b); return err }},
				{"stored", update, func(b []byte) error { _, err := cols.Update(ctx, "stored", b); return err }},
			} {
				body, _ := json.Marshal(tc.body)
				checked := cols.CheckRule(ctx, tc.ref, body, rule)
				withRule := map[string]any{"listRule": rule}
				for k, v := range tc.body {
					withRule[k] = v
				}
				b, _ := json.Marshal(withRule)
				saved := tc.save(b)
				want := ""
				if e := core.AsError(saved); e != nil {
					want = e.Fields["listRule"].Message
				}
				got := ""
				if e := core.AsError(checked); e != nil {
					got = e.Fields["rule"].Message
				}
				if got != want || (checked != nil) != (saved != nil) {
					t.Errorf("rule %q on %q: check says %v, save says %v", rule, tc.ref, checked, saved)
				}
				if saved == nil {
					// Undo, so the next rule starts from the same schema.
					if tc.ref == "" {
						if err := cols.Delete(ctx, "drafted"); err != nil {
							t.Fatal(err)
						}
					} else if _, err := cols.Update(ctx, "stored", []byte(`{"listRule":null}`)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if err := cols.CheckRule(ctx, "nope", []byte(`{}`), ""); core.KindOf(err) != core.KindNotFound {
			t.Errorf("unknown collection: %v", err)
		}
		if err := cols.CheckRule(ctx, "", []byte(`{"fields": 5}`), "x = 1"); core.KindOf(err) != core.KindInvalid {
			t.Errorf("a draft that does not decode: %v", err)
		}
	})
}
