package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

// Two processes on one database: what one commits reaches the other's
// subscribers, typed as the store reads it, however large; and a process
// whose notification connection drops tells its subscribers they lag.
func TestFeedAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	open := func(app string) *postgres.Store {
		cfg := testConfig(t)
		cfg.ConnConfig.RuntimeParams["application_name"] = app
		s, err := postgres.OpenConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	listenerApp := "feedtest_" + core.RandomString(8, core.Alphanumeric)
	a, b := open("feedtest_writer"), open(listenerApp)

	c := &core.Collection{ID: "pbc_feed" + core.RandomString(6, "0123456789"), Name: "posts", Type: core.TypeBase,
		Fields: []core.Field{core.IDField(),
			{ID: "t1", Name: "title", Type: core.FieldText},
			{ID: "n1", Name: "n", Type: core.FieldNumber},
			{ID: "b1", Name: "ok", Type: core.FieldBool},
			{ID: "j1", Name: "doc", Type: core.FieldJSON},
			{ID: "s1", Name: "tags", Type: core.FieldSelect, Values: []string{"x", "y"}, MaxSelect: 2}},
		Indexes: []string{}, Created: core.Now(), Updated: core.Now()}
	if err := a.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	sub := b.Changes().Subscribe(16)
	defer sub.Close()
	next := func() store.Change {
		t.Helper()
		select {
		case ch, ok := <-sub.C:
			if !ok {
				t.Fatalf("feed closed: %v", sub.Err())
			}
			return ch
		case <-time.After(10 * time.Second):
			t.Fatal("nothing reached the other process within 10s")
		}
		panic("unreachable")
	}

	big := strings.Repeat("large payload ", 2000) // 28 KB: over NOTIFY's 8000 bytes
	r := core.NewRecord(c)
	r.Data["id"] = core.NewID()
	r.Data["title"], r.Data["n"], r.Data["ok"] = big, 4.5, true
	r.Data["doc"], r.Data["tags"] = jsonRaw(`{"k":[1,"two"]}`), []string{"x", "y"}
	if err := a.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	got := next()
	stored, err := a.Get(ctx, c, r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Action != store.ActionCreate || got.Collection.ID != c.ID {
		t.Fatalf("got %s on %s", got.Action, got.Collection.Name)
	}
	for k, v := range stored.Data {
		if g := got.Record.Data[k]; !sameJSON(t, g, v) {
			t.Errorf("%s: %#v (%T), stored %#v (%T)", k, g, g, v, v)
		}
	}

	if err := a.Update(ctx, func(tx store.Tx) error {
		u := stored.Clone()
		u.Data["title"] = "short"
		if err := tx.Update(ctx, u); err != nil {
			return err
		}
		return tx.Delete(ctx, c, u.ID())
	}); err != nil {
		t.Fatal(err)
	}
	if u := next(); u.Action != store.ActionUpdate || u.Record.Data["title"] != "short" || u.Old == nil || u.Old.Data["title"] != big {
		t.Errorf("update: %s, title %v", u.Action, u.Record.Data["title"])
	}
	if d := next(); d.Action != store.ActionDelete || d.Record.Data["title"] != "short" {
		t.Errorf("delete: %s, title %v", d.Action, d.Record.Data["title"])
	}

	// Cut the listener's connections (its pool's too): its subscribers are
	// told they lag.
	tag, err := a.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1`, listenerApp)
	if err != nil || tag.RowsAffected() < 1 {
		t.Fatalf("terminate the listener: %v, %d terminated", err, tag.RowsAffected())
	}
	select {
	case _, ok := <-sub.C:
		if ok || !errors.Is(sub.Err(), store.ErrLagged) {
			t.Fatalf("after the cut: open %v, err %v; want closed with ErrLagged", ok, sub.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the listener's subscribers were not told it lost its connection")
	}
	// It reconnects, and new subscriptions receive again.
	again := b.Changes().Subscribe(16)
	defer again.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r2 := core.NewRecord(c)
		r2.Data["id"] = core.NewID()
		if err := a.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r2) }); err != nil {
			t.Fatal(err)
		}
		select {
		case ch, ok := <-again.C:
			if ok && ch.Record.ID() == r2.ID() {
				return
			}
			if !ok {
				again = b.Changes().Subscribe(16) // lagged again while reconnecting
			}
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not come back")
		}
	}
}

func jsonRaw(s string) json.RawMessage { return json.RawMessage(s) }

// sameJSON compares two canonical values by their JSON.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("marshal: %v %v", err1, err2)
	}
	return string(ja) == string(jb)
}
