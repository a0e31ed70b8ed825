package filter_test

import (
	"fmt"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
)

func ExampleCompile() {
	posts := &core.Collection{ID: "c1", Name: "posts", Fields: []core.Field{
		{Name: "id", Type: core.FieldText, PrimaryKey: true},
		{Name: "title", Type: core.FieldText},
		{Name: "views", Type: core.FieldNumber},
		{Name: "owner", Type: core.FieldText},
	}}
	users := &core.Collection{ID: "c2", Name: "users", Type: core.TypeAuth}
	auth := &core.Record{Collection: users, Data: map[string]any{"id": "u1"}}
	env := &filter.Env{Collection: posts, Request: &filter.Request{Auth: auth}}

	where, err := filter.Compile(`title ~ 'tortoise' && (views > 10 || owner = @request.auth.id)`, env, query.SQLite)
	if err != nil {
		panic(err)
	}
	fmt.Println(where.Text)
	fmt.Println(where.Args...)

	_, err = filter.Compile(`secret = 1`, env, query.SQLite)
	fmt.Println(err)
	// Output:
	// (_r."title" LIKE ? ESCAPE '\' AND (_r."views" > ? OR _r."owner" = ?))
	// %tortoise% 10 u1
	// invalid filter: unknown field "secret" at position 0
}

func ExampleEval() {
	tasks := &core.Collection{Name: "tasks", Fields: []core.Field{
		{Name: "labels", Type: core.FieldSelect, MaxSelect: 3, Values: []string{"bug", "ui", "db"}},
	}}
	rec := &core.Record{Collection: tasks, Data: map[string]any{"id": "t1", "labels": []string{"bug", "ui"}}}
	env := &filter.Env{Collection: tasks}
	for _, src := range []string{`labels ?= 'ui'`, `labels = 'ui'`, `labels ~ 'b'`, `labels:each ~ 'b'`, `labels:each ?= 'ui'`, `labels:length = 2`} {
		e, _ := filter.Parse(src)
		ok, _ := filter.Eval(e, env, rec, nil)
		fmt.Println(src, ok)
	}
	// Output:
	// labels ?= 'ui' true
	// labels = 'ui' false
	// labels ~ 'b' true
	// labels:each ~ 'b' false
	// labels:each ?= 'ui' true
	// labels:length = 2 true
}
