// Package storetest is the conformance suite of store.Store: every driver's
// test file is one call to Run, so both engines are held to the same
// contract, checked against the real engine.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Run runs the whole suite. open must return a store on an empty database
// of its own for t, with a read timeout of ReadTimeout; called again with
// the same t once the previous store is closed, it must reopen that same
// database (the durability tests do so). Memo helps with that. Run closes
// the stores it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Records", func(t *testing.T) { t.Parallel(); testRecords(t, open) })
	t.Run("Unique", func(t *testing.T) { t.Parallel(); testUnique(t, open) })
	t.Run("Update", func(t *testing.T) { t.Parallel(); testUpdate(t, open) })
	t.Run("Find", func(t *testing.T) { t.Parallel(); testFind(t, open) })
	t.Run("Totals", func(t *testing.T) { t.Parallel(); testTotals(t, open) })
	t.Run("Counts", func(t *testing.T) { t.Parallel(); testCounts(t, open) })
	t.Run("Collections", func(t *testing.T) { t.Parallel(); testCollections(t, open) })
	t.Run("Indexes", func(t *testing.T) { t.Parallel(); testIndexes(t, open) })
	t.Run("Durability", func(t *testing.T) { t.Parallel(); testDurability(t, open) })
	t.Run("Params", func(t *testing.T) { t.Parallel(); testParams(t, open) })
	t.Run("ReadTimeout", func(t *testing.T) { t.Parallel(); testReadTimeout(t, open) })
	t.Run("Feed", func(t *testing.T) { t.Parallel(); testFeed(t, open) })
	t.Run("TxHooks", func(t *testing.T) { t.Parallel(); testTxHooks(t, open) })
	t.Run("Search", func(t *testing.T) { t.Parallel(); testSearch(t, open) })
}

var memo sync.Map // memoKey → string

type memoKey struct {
	t   *testing.T
	key string
}

// Memo returns what make returned the first time it was called with this t
// and key, so an open function can hand out the same database path or
// schema again when a test reopens its store.
func Memo(t *testing.T, key string, make func() string) string {
	k := memoKey{t, key}
	if v, ok := memo.Load(k); ok {
		return v.(string)
	}
	v := make()
	memo.Store(k, v)
	t.Cleanup(func() { memo.Delete(k) })
	return v
}

// harness holds one test's store.
type harness struct {
	t    *testing.T
	s    store.Store
	open func(t *testing.T) store.Store
	ctx  context.Context
}

func setup(t *testing.T, open func(t *testing.T) store.Store) *harness {
	t.Helper()
	h := &harness{t: t, open: open, ctx: context.Background()}
	h.s = open(t)
	s := h.s
	t.Cleanup(func() { s.Close() })
	return h
}

// reopen closes the store and opens the same database again.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.s = h.open(h.t)
	s := h.s
	h.t.Cleanup(func() { s.Close() })
}

// update runs fn in a write transaction and fails the test on error.
func (h *harness) update(fn func(tx store.Tx) error) {
	h.t.Helper()
	if err := h.s.Update(h.ctx, fn); err != nil {
		h.t.Fatalf("Update: %v", err)
	}
}

func (h *harness) createCollection(c *core.Collection) {
	h.t.Helper()
	h.update(func(tx store.Tx) error { return tx.CreateCollection(h.ctx, c) })
}

func (h *harness) insert(recs ...*core.Record) {
	h.t.Helper()
	h.update(func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.Insert(h.ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *harness) get(c *core.Collection, id string) *core.Record {
	h.t.Helper()
	r, err := h.s.Get(h.ctx, c, id)
	if err != nil {
		h.t.Fatalf("Get %s/%s: %v", c.Name, id, err)
	}
	return r
}

func (h *harness) find(q store.Query) *store.Result {
	h.t.Helper()
	res, err := h.s.Find(h.ctx, q)
	if err != nil {
		h.t.Fatalf("Find: %v", err)
	}
	return res
}

// total returns the unfiltered count of c's records through Find.
func (h *harness) total(c *core.Collection) int {
	h.t.Helper()
	return h.find(store.Query{Collection: c, WithTotal: true, Limit: 1}).Total
}

func (h *harness) wantTotal(c *core.Collection, want int) {
	h.t.Helper()
	if got := h.total(c); got != want {
		h.t.Fatalf("total of %s = %d, want %d", c.Name, got, want)
	}
}

// wantKind fails unless err is a *core.Error of the given kind.
func wantKind(t *testing.T, err error, kind core.Kind) *core.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %v", kind)
	}
	e := core.AsError(err)
	if e == nil || e.Kind != kind {
		t.Fatalf("got %v (%T), want kind %v", err, err, kind)
	}
	return e
}

// wantNotUnique fails unless err reports exactly fields as not unique.
func wantNotUnique(t *testing.T, err error, fields ...string) {
	t.Helper()
	e := wantKind(t, err, core.KindInvalid)
	if e.Message != "Failed to validate the submitted data." {
		t.Errorf("message = %q", e.Message)
	}
	if len(e.Fields) != len(fields) {
		t.Fatalf("fields = %v, want %v", e.Fields, fields)
	}
	for _, f := range fields {
		fe, ok := e.Fields[f]
		if !ok || fe.Code != "validation_not_unique" || fe.Message != "Value must be unique." {
			t.Fatalf("fields = %v, want %s not unique", e.Fields, f)
		}
	}
}

var errBoom = errors.New("boom")

// idField is the id field as PocketBase defines it.
func idField() core.Field {
	min, max := 15.0, 15.0
	return core.Field{ID: "text3208210256", Name: "id", Type: core.FieldText, System: true, Required: true,
		PrimaryKey: true, Pattern: "^[a-z0-9]+$", AutogeneratePattern: "[a-z0-9]{15}", Min: &min, Max: &max}
}

// newCollection returns a base collection with an id field and fields.
func newCollection(name string, fields ...core.Field) *core.Collection {
	now := core.Now()
	c := &core.Collection{ID: "pbc_" + core.RandomString(10, "0123456789"), Name: name, Type: core.TypeBase,
		Fields: append([]core.Field{idField()}, fields...), Indexes: []string{}, Created: now, Updated: now}
	for i := range c.Fields {
		if c.Fields[i].ID == "" {
			c.Fields[i].ID = string(c.Fields[i].Type) + core.RandomString(10, "0123456789")
		}
	}
	return c
}

func text(name string) core.Field   { return core.Field{Name: name, Type: core.FieldText} }
func number(name string) core.Field { return core.Field{Name: name, Type: core.FieldNumber} }
func boolean(name string) core.Field {
	return core.Field{Name: name, Type: core.FieldBool}
}
func jsonField(name string) core.Field { return core.Field{Name: name, Type: core.FieldJSON} }
func sel(name string, maxSelect int) core.Field {
	return core.Field{Name: name, Type: core.FieldSelect, Values: []string{"a", "b", "c"}, MaxSelect: maxSelect}
}

// record returns a record of c with every field at its zero value, the
// given id and the given values.
func record(c *core.Collection, id string, kv ...any) *core.Record {
	r := core.NewRecord(c)
	r.Data["id"] = id
	for i := 0; i+1 < len(kv); i += 2 {
		r.Data[kv[i].(string)] = kv[i+1]
	}
	return r
}

// newID returns a fresh record id.
func newID() string { return core.NewID() }

// checkRecord compares a record read back with the values written.
func checkRecord(t *testing.T, got *core.Record, want map[string]any) {
	t.Helper()
	if got.Collection == nil {
		t.Errorf("record %s has no collection", got.ID())
	}
	for i := range got.Collection.Fields {
		f := &got.Collection.Fields[i]
		g, ok := got.Data[f.Name]
		if !ok {
			t.Errorf("%s: missing from Data", f.Name)
			continue
		}
		w, ok := want[f.Name]
		if !ok {
			w = core.ZeroValue(f)
		}
		if !sameValue(f, w, g) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", f.Name, g, g, w, w)
		}
	}
}

// sameValue compares canonical values; JSON compares by meaning, since
// PostgreSQL's jsonb normalises spacing and key order.
func sameValue(f *core.Field, want, got any) bool {
	if f.Type == core.FieldJSON {
		wr, ok1 := want.(json.RawMessage)
		gr, ok2 := got.(json.RawMessage)
		if !ok1 || !ok2 {
			return false
		}
		if wr == nil || gr == nil {
			return wr == nil && gr == nil
		}
		var wv, gv any
		if json.Unmarshal(wr, &wv) != nil || json.Unmarshal(gr, &gv) != nil {
			return false
		}
		return reflect.DeepEqual(wv, gv)
	}
	if l, ok := got.([]string); ok && l == nil {
		return false // multiple fields always read as a non-nil list
	}
	return reflect.DeepEqual(want, got)
}

// ids returns the ids of records, in order.
func ids(recs []*core.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID()
	}
	return out
}

func fmtID(prefix string, i int) string {
	s := fmt.Sprintf("%s%d", prefix, i)
	for len(s) < core.IDLength {
		s = s[:len(prefix)] + "0" + s[len(prefix):]
	}
	return s
}
