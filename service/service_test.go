package service_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// A snapshot finds collections by id, or by name in any case, and lists
// them oldest first (by name among equals).
var collection = testkit.Collection

func TestSnapshotLookups(t *testing.T) {
	t.Parallel()
	beta := &core.Collection{ID: "id_beta", Name: "beta", Created: "2024-01-02 00:00:00.000Z"}
	zeta := &core.Collection{ID: "id_zeta", Name: "Zeta", Created: "2024-01-01 00:00:00.000Z"}
	alpha := &core.Collection{ID: "id_alpha", Name: "alpha", Created: "2024-01-02 00:00:00.000Z"}
	sc := service.NewSnapshot([]*core.Collection{beta, zeta, alpha})
	var order []string
	for _, c := range sc.List() {
		order = append(order, c.Name)
	}
	if !slices.Equal(order, []string{"Zeta", "alpha", "beta"}) {
		t.Errorf("list: %v", order)
	}
	for _, tc := range []struct {
		name string
		got  *core.Collection
		want *core.Collection
	}{
		{"ByName as written", sc.ByName("Zeta"), zeta},
		{"ByName lowercase", sc.ByName("zeta"), zeta},
		{"ByName uppercase", sc.ByName("ALPHA"), alpha},
		{"ByName of an id", sc.ByName("id_beta"), nil},
		{"ByName unknown", sc.ByName("gamma"), nil},
		{"ByID", sc.ByID("id_beta"), beta},
		{"ByID of a name", sc.ByID("beta"), nil},
		{"ByID in another case", sc.ByID("ID_BETA"), nil},
		{"CollectionByNameOrID by id", sc.CollectionByNameOrID("id_alpha"), alpha},
		{"CollectionByNameOrID by name", sc.CollectionByNameOrID("BETA"), beta},
		{"CollectionByNameOrID unknown", sc.CollectionByNameOrID("gamma"), nil},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if empty := service.NewSnapshot(nil); empty.ByName("x") != nil || len(empty.List()) != 0 {
		t.Error("an empty snapshot finds something")
	}
}

// Superusers bypass every rule; an API key bypasses the rules of the
// collections it was given (writing only with Write), never those of a
// system collection, where it is a guest.
func TestRequestBypassesAndKeyBarred(t *testing.T) {
	t.Parallel()
	posts := &core.Collection{ID: "c_posts", Name: "posts"}
	other := &core.Collection{ID: "c_other", Name: "other"}
	sys := &core.Collection{ID: "c_sys", Name: "_superusers", System: true}
	readKey := &service.APIKey{ID: "k1", Collections: []string{posts.ID, sys.ID}}
	writeKey := &service.APIKey{ID: "k2", Collections: []string{posts.ID}, Write: true}
	superKey := &service.APIKey{ID: "k3", Superuser: true}
	for _, tc := range []struct {
		name                  string
		req                   *service.Request
		c                     *core.Collection
		barred, reads, writes bool
	}{
		{"no request", nil, posts, false, false, false},
		{"guest", &service.Request{}, posts, false, false, false},
		{"user", &service.Request{Auth: &core.Record{Data: map[string]any{"id": "u1"}}}, posts, false, false, false},
		{"superuser", &service.Request{Superuser: true}, posts, false, true, true},
		{"superuser on a system collection", &service.Request{Superuser: true}, sys, false, true, true},
		{"read key on its collection", &service.Request{Key: readKey}, posts, false, true, false},
		{"read key on another collection", &service.Request{Key: readKey}, other, false, false, false},
		{"read key naming a system collection", &service.Request{Key: readKey}, sys, true, false, false},
		{"write key on its collection", &service.Request{Key: writeKey}, posts, false, true, true},
		{"superuser key", &service.Request{Superuser: true, Key: superKey}, other, false, true, true},
		{"superuser key on a system collection", &service.Request{Superuser: true, Key: superKey}, sys, true, false, false},
	} {
		if got := tc.req.KeyBarred(tc.c); got != tc.barred {
			t.Errorf("%s: KeyBarred %v, want %v", tc.name, got, tc.barred)
		}
		if got := tc.req.Bypasses(tc.c, false); got != tc.reads {
			t.Errorf("%s: Bypasses to read %v, want %v", tc.name, got, tc.reads)
		}
		if got := tc.req.Bypasses(tc.c, true); got != tc.writes {
			t.Errorf("%s: Bypasses to write %v, want %v", tc.name, got, tc.writes)
		}
	}
	if (*service.Request)(nil).IsGuest() != true || (&service.Request{Superuser: true}).IsGuest() {
		t.Error("IsGuest")
	}
}

// RuleSQL turns a rule into what a query adds: nothing for "" and for
// those who bypass it, ErrSuperusersOnly for a null rule, and for a stored
// rule that no longer compiles a condition nothing meets, not an error.
func TestRuleSQL(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		docs := collection(t, app, `{"name":"docs","fields":[{"name":"owner","type":"text"}]}`)
		sus, err := app.Service.Collection(core.SuperusersName)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, owner := range []string{"u1", "u2"} {
			rec, err := app.Records.Create(ctx, &service.Request{Superuser: true}, docs, map[string]any{"owner": owner})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rec.ID())
		}
		rule := func(s string) *string { return &s }
		asU1 := &service.Request{Query: map[string]string{"user": "u1"}}
		readKey := &service.Request{Key: &service.APIKey{ID: "k", Collections: []string{docs.ID}}}
		superKey := &service.Request{Superuser: true, Key: &service.APIKey{ID: "k", Superuser: true}}
		for _, tc := range []struct {
			name    string
			c       *core.Collection
			rule    *string
			req     *service.Request
			write   bool
			wantErr error
			nilSQL  bool
			admits  []string // of ids, in order; nil for none
		}{
			{"null rule, guest", docs, nil, &service.Request{}, false, service.ErrSuperusersOnly, true, nil},
			{"null rule, superuser", docs, nil, &service.Request{Superuser: true}, false, nil, true, ids},
			{"blank rule, guest", docs, rule(""), &service.Request{}, false, nil, true, ids},
			{"spaces, guest", docs, rule("  "), &service.Request{}, false, nil, true, ids},
			{"a rule on the request", docs, rule("owner = @request.query.user"), asU1, false, nil, false, ids[:1]},
			{"the rule for another caller", docs, rule("owner = @request.query.user"), &service.Request{}, false, nil, false, nil},
			{"a stored rule that does not compile", docs, rule("missing_field = 1"), &service.Request{}, false, nil, false, nil},
			{"a superuser skips a broken rule", docs, rule("missing_field = 1"), &service.Request{Superuser: true}, false, nil, true, ids},
			{"a read key reads", docs, nil, readKey, false, nil, true, ids},
			{"a read key may not write", docs, nil, readKey, true, service.ErrSuperusersOnly, true, nil},
			{"a superuser key on a system collection", sus, nil, superKey, false, service.ErrSuperusersOnly, true, nil},
		} {
			sql, err := app.Service.RuleSQL(tc.c, tc.rule, tc.req, tc.write)
			if !errors.Is(err, tc.wantErr) || (sql == nil) != tc.nilSQL {
				t.Errorf("%s: %v %v, want %v (nil SQL %v)", tc.name, sql, err, tc.wantErr, tc.nilSQL)
				continue
			}
			if err != nil || tc.c != docs {
				continue
			}
			var admitted []string
			for _, id := range ids {
				rec, err := app.Service.GetWhere(ctx, app.Service.Store(), docs, id, sql)
				switch {
				case err == nil && rec.ID() == id:
					admitted = append(admitted, id)
				case !errors.Is(err, service.ErrNotFound):
					t.Errorf("%s: get %s: %v", tc.name, id, err)
				}
			}
			if !slices.Equal(admitted, tc.admits) {
				t.Errorf("%s: admits %v, want %v", tc.name, admitted, tc.admits)
			}
		}
		if _, err := app.Service.GetWhere(ctx, app.Service.Store(), docs, "missingid000000", nil); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("a missing record: %v", err)
		}
	})
}

// An API key's own filters see no system collection; rules (written by
// superusers) and other callers' filters do.
func TestKeyFiltersSeeNoSystemCollection(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		docs := collection(t, app, `{"name":"docs","fields":[{"name":"owner","type":"text"}]}`)
		key := &service.Request{Key: &service.APIKey{ID: "k", Superuser: true}, Superuser: true}
		const probe = `@collection._superusers.email != ""`
		for _, tc := range []struct {
			name        string
			req         *service.Request
			allowHidden bool
			ok          bool
		}{
			{"a key's filter", key, false, false},
			{"a rule under a key", key, true, true},
			{"a superuser's filter", &service.Request{Superuser: true}, false, true},
		} {
			_, err := app.Service.Compile(probe, app.Service.Env(docs, tc.req, tc.allowHidden))
			if (err == nil) != tc.ok {
				t.Errorf("%s: %v, want compiled %v", tc.name, err, tc.ok)
			}
		}
		if _, err := app.Service.Compile(`owner = "u1"`, app.Service.Env(docs, key, false)); err != nil {
			t.Errorf("a key's plain filter: %v", err)
		}
	})
}

// A bad filter or sort is invalid input naming its parameter; other
// failures keep their kind.
func TestFilterError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		param string
		err   error
		want  core.Kind
		code  string
	}{
		{"plain error", "filter", errors.New("unexpected token"), core.KindInvalid, "validation_invalid_filter"},
		{"invalid", "sort", core.Invalid("Unknown field nope."), core.KindInvalid, "validation_invalid_sort"},
		{"unavailable", "filter", core.Errorf(core.KindUnavailable, "Timed out."), core.KindUnavailable, ""},
	} {
		err := service.FilterError(tc.param, tc.err)
		e := core.AsError(err)
		if e == nil || e.Kind != tc.want || e.Fields[tc.param].Code != tc.code {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// Bootstrap creates the system collections a database lacks, and leaves
// alone the ones it has: calling it again changes nothing.
func TestBootstrapIsIdempotent(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		svc := app.Service
		if _, err := app.Auth.UpsertSuperuser(ctx, "root@example.com", "root-password-1"); err != nil {
			t.Fatal(err)
		}
		names := func() []string {
			var out []string
			for _, c := range svc.Collections() {
				out = append(out, c.ID+" "+c.Name+" "+c.Created)
			}
			return out
		}
		before := names()
		for i := range 2 {
			if err := svc.Bootstrap(ctx); err != nil {
				t.Fatalf("bootstrap %d: %v", i, err)
			}
		}
		if after := names(); !slices.Equal(before, after) {
			t.Errorf("bootstrap changed the collections:\n%v\n%v", before, after)
		}
		sus, err := svc.Collection(core.SuperusersName)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := app.Records.List(ctx, &service.Request{Superuser: true}, sus, records.ListParams{}); err != nil || res.TotalItems != 1 {
			t.Errorf("superusers after bootstrap: %v %v", res, err)
		}
		// A system collection gone from the database comes back.
		otps, err := svc.Collection("_otps")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Store().Update(ctx, func(tx store.Tx) error { return tx.DeleteCollection(ctx, otps) }); err != nil {
			t.Fatal(err)
		}
		if err := svc.ReloadSchema(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Collection("_otps"); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("deleted: %v", err)
		}
		if err := svc.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if c, err := svc.Collection("_otps"); err != nil || c.ID != otps.ID || !c.System {
			t.Errorf("recreated: %v %v", c, err)
		}
	})
}

// The change feed carries every committed write, the records a cascade
// changes included, and nothing of a write that failed.
func TestChangesCarryCommittedWrites(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		su := &service.Request{Superuser: true}
		parents := collection(t, app, `{"name":"parents","fields":[{"name":"title","type":"text","required":true}]}`)
		kids := collection(t, app, `{"name":"kids","fields":[{"name":"parent","type":"relation","collectionId":"parents","cascadeDelete":true}]}`)
		sub := app.Service.Changes().Subscribe(64)
		defer sub.Close()
		p, err := app.Records.Create(ctx, su, parents, map[string]any{"title": "p"})
		if err != nil {
			t.Fatal(err)
		}
		k, err := app.Records.Create(ctx, su, kids, map[string]any{"parent": p.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Records.Create(ctx, su, parents, map[string]any{}); err == nil {
			t.Fatal("a parent without a title was created")
		}
		if _, err := app.Records.Update(ctx, su, parents, p.ID(), map[string]any{"title": "p2"}); err != nil {
			t.Fatal(err)
		}
		if err := app.Records.Delete(ctx, su, parents, p.ID()); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"create parents " + p.ID(), "create kids " + k.ID(), "update parents " + p.ID(),
			"delete kids " + k.ID(), "delete parents " + p.ID(),
		}
		var heard []string
		for len(heard) < len(want) {
			select {
			case c := <-sub.C:
				heard = append(heard, c.Action+" "+c.Collection.Name+" "+c.Record.ID())
			case <-time.After(5 * time.Second):
				t.Fatalf("heard only %v", heard)
			}
		}
		select {
		case c := <-sub.C:
			t.Errorf("then %s %s", c.Action, c.Collection.Name)
		case <-time.After(100 * time.Millisecond):
		}
		if !slices.Equal(heard, want) {
			t.Errorf("heard %v\nwant  %v", heard, want)
		}
	})
}
