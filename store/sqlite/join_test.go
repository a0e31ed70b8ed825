package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// What runs through writeTx.SQLTx is part of the call's savepoint: it
// commits with the call and rolls back with it, even when other calls of
// the same group commit.
func TestSQLTxJoinsTheCall(t *testing.T) {
	t.Parallel()
	f := setupFault(t)
	ctx := context.Background()
	exec := func(tx store.Tx, q string) error {
		sqlTx, err := tx.(*writeTx).SQLTx(ctx)
		if err != nil {
			return err
		}
		_, err = sqlTx.ExecContext(ctx, q)
		return err
	}
	if err := f.Update(ctx, func(tx store.Tx) error { return exec(tx, "CREATE TABLE outbox (n INTEGER)") }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var kept store.Tx
	res := f.runGroup(t, nil,
		func(tx store.Tx) error { return exec(tx, "INSERT INTO outbox VALUES (1)") },
		func(tx store.Tx) error {
			if err := exec(tx, "INSERT INTO outbox VALUES (2)"); err != nil {
				return err
			}
			return boom
		},
		func(tx store.Tx) error {
			kept = tx
			// Twice in one call: the same transaction.
			if err := exec(tx, "INSERT INTO outbox VALUES (3)"); err != nil {
				return err
			}
			return exec(tx, "INSERT INTO outbox VALUES (4)")
		},
	)
	if res[0].err != nil || !errors.Is(res[1].err, boom) || res[2].err != nil {
		t.Fatalf("results %v %v %v", res[0].err, res[1].err, res[2].err)
	}
	var sum, count int
	if err := f.rdb.QueryRowContext(ctx, "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM outbox").Scan(&sum, &count); err != nil {
		t.Fatal(err)
	}
	if sum != 1+3+4 || count != 3 {
		t.Errorf("outbox holds %d rows summing to %d, want 3 rows summing to 8 (the failed call's row gone)", count, sum)
	}
	if _, err := kept.(*writeTx).SQLTx(ctx); core.KindOf(err) != core.KindInternal {
		t.Errorf("SQLTx after the call: %v, want refused", err)
	}
	// The write connection is free again: writes and Close go on.
	if err := f.Update(ctx, func(tx store.Tx) error { return exec(tx, "INSERT INTO outbox VALUES (5)") }); err != nil {
		t.Fatal(err)
	}
}
