package storetest

import (
	"errors"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// testParams: system values round-trip, replace, roll back with a failing
// call, and survive a reopen.
func testParams(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	if _, err := h.s.Param(h.ctx, "settings"); core.KindOf(err) != core.KindNotFound {
		t.Fatalf("unset param: %v, want KindNotFound", err)
	}
	h.update(func(tx store.Tx) error { return tx.SetParam(h.ctx, "settings", []byte(`{"a":1}`)) })
	h.update(func(tx store.Tx) error {
		if err := tx.SetParam(h.ctx, "settings", []byte(`{"a":2}`)); err != nil {
			return err
		}
		v, err := tx.Param(h.ctx, "settings")
		if err != nil || string(v) != `{"a":2}` {
			t.Errorf("param inside the transaction: %q %v", v, err)
		}
		return nil
	})
	boom := errors.New("boom")
	err := h.s.Update(h.ctx, func(tx store.Tx) error {
		if err := tx.SetParam(h.ctx, "settings", []byte(`{"a":3}`)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing call: %v", err)
	}
	h.reopen()
	v, err := h.s.Param(h.ctx, "settings")
	if err != nil || string(v) != `{"a":2}` {
		t.Fatalf("param after reopen: %q %v, want {\"a\":2}", v, err)
	}
}
