package apikeys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A key is shown once, kept only as a hash, scoped as asked, and dies
// when revoked.
func TestKeys(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		if _, err := app.Service.Collection(apikeys.CollectionName); err != nil {
			t.Fatalf("no system collection: %v", err)
		}
		// Scopes name existing, non-system collections.
		for _, in := range []apikeys.Input{
			{Name: "", Superuser: true},
			{Name: "x"},
			{Name: "x", Collections: []string{"nope"}},
			{Name: "x", Collections: []string{core.SuperusersName}},
		} {
			if _, _, err := app.Keys.Create(ctx, in); core.KindOf(err) != core.KindInvalid {
				t.Errorf("%+v: %v", in, err)
			}
		}
		secret, key, err := app.Keys.Create(ctx, apikeys.Input{Name: "ops", Superuser: true})
		if err != nil || !strings.HasPrefix(secret, apikeys.Prefix) || !key.Superuser {
			t.Fatalf("create: %q %+v %v", secret, key, err)
		}
		list, err := app.Keys.List(ctx)
		if err != nil || len(list) != 1 || list[0].ID() != key.ID {
			t.Fatalf("list: %v %v", list, err)
		}
		for _, v := range list[0].Data {
			if s, _ := v.(string); strings.Contains(s, secret[len(apikeys.Prefix):]) {
				t.Fatalf("the secret is stored: %v", list[0].Data)
			}
		}
		got, err := app.Keys.Authenticate(ctx, secret)
		if err != nil || got.ID != key.ID || !got.Superuser {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		if _, err := app.Keys.Authenticate(ctx, secret+"x"); core.KindOf(err) != core.KindUnauthorized {
			t.Fatalf("wrong secret: %v", err)
		}
		if err := app.Keys.Revoke(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Keys.Authenticate(ctx, secret); core.KindOf(err) != core.KindUnauthorized {
			t.Fatalf("revoked key: %v", err)
		}
		if err := app.Keys.Revoke(ctx, key.ID); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("revoke twice: %v", err)
		}
	})
}
