package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tortoise-dev/tortoise/core"
)

const (
	paramGetSQL = `SELECT value FROM _params WHERE key = ?`
	paramSetSQL = `INSERT INTO _params (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
)

var errParamNotFound = core.NotFound("No such parameter.")

// Param reads a system value on a read connection.
func (s *Store) Param(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var v string
	if err := s.rdb.QueryRowContext(ctx, paramGetSQL, key).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errParamNotFound
		}
		return nil, s.readErr(ctx, err)
	}
	return []byte(v), nil
}

// Param reads a system value as this transaction sees it.
func (t *writeTx) Param(ctx context.Context, key string) ([]byte, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	var v string
	if err := t.s.wconn.QueryRowContext(bg, paramGetSQL, key).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errParamNotFound
		}
		return nil, t.s.writeErr(err, "Failed to read a parameter.")
	}
	return []byte(v), nil
}

// SetParam stores a system value in the transaction.
func (t *writeTx) SetParam(ctx context.Context, key string, value []byte) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if _, err := t.s.wconn.ExecContext(bg, paramSetSQL, key, string(value)); err != nil {
		return t.s.writeErr(err, "Failed to save a parameter.")
	}
	return nil
}
