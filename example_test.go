package tortoise_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

// Go code takes part in record writes through the records hooks, the same
// way Tortoise's own features do: here every post gets a slug from its
// title, and a post marked pinned cannot be deleted. Writes through the
// REST API, the admin or Go code all pass through the hooks.
func ExampleApp_hooks() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "tortoise-example")
	defer os.RemoveAll(dir)
	app, err := tortoise.New(ctx, config.Config{Dir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close(ctx)

	posts, err := app.Collections.Create(ctx, []byte(`{"name": "posts", "fields": [
		{"name": "title", "type": "text"}, {"name": "slug", "type": "text"}, {"name": "pinned", "type": "bool"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	isPosts := func(c *core.Collection) bool { return c.Name == "posts" }
	app.Records.OnInput(isPosts, func(w *records.Write) error {
		if title, ok := w.Input.Values["title"].(string); ok {
			w.Record.Data["slug"] = strings.ToLower(strings.Join(strings.Fields(title), "-"))
		}
		return nil
	})
	app.Records.OnDelete(isPosts, func(w *records.Write) error {
		if w.Record.Data["pinned"] == true {
			return core.Invalid("Pinned posts cannot be deleted.")
		}
		return nil
	})

	// Go code acts as a superuser only when it says so.
	su := &service.Request{Superuser: true}
	post, err := app.Records.Create(ctx, su, posts, map[string]any{"title": "Hello  Tortoise World", "pinned": true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(post.String("slug"))
	fmt.Println(app.Records.Delete(ctx, su, posts, post.ID()))
	// Output:
	// hello-tortoise-world
	// Pinned posts cannot be deleted.
}
