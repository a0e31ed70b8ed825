package testkit

import (
	"context"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// The callers tests of the service layer act as.
var (
	Superuser = &service.Request{Superuser: true}
	Guest     = &service.Request{}
)

// NoError is what Kind gives for a nil error, so that a table case can
// name the error kind it wants, or none.
const NoError = core.Kind(-1)

// Kind is the kind of err, or NoError.
func Kind(err error) core.Kind {
	if err == nil {
		return NoError
	}
	return core.KindOf(err)
}

// FieldCode is the code err gives for a body key, "" if none.
func FieldCode(err error, key string) string {
	if e := core.AsError(err); e != nil {
		return e.Fields[key].Code
	}
	return ""
}

// Collection creates a collection in app from its JSON definition.
func Collection(t testing.TB, app *tortoise.App, def string) *core.Collection {
	t.Helper()
	c, err := app.Collections.Create(context.Background(), []byte(def))
	if err != nil {
		t.Fatalf("create collection %s: %v", def, err)
	}
	return c
}
