package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
)

const (
	paramGetSQL = `SELECT value FROM _params WHERE key = $1`
	paramSetSQL = `INSERT INTO _params (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`
)

var errParamNotFound = core.NotFound("No such parameter.")

// Param reads a system value.
func (s *Store) Param(ctx context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var v string
	if err := s.pool.QueryRow(ctx, paramGetSQL, key).Scan(&v); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errParamNotFound
		}
		return nil, s.connErr(ctx, err, "Failed to read a parameter.")
	}
	return []byte(v), nil
}

// Param reads a system value as this transaction sees it.
func (t *tx) Param(ctx context.Context, key string) ([]byte, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	var v string
	if err := t.tx.QueryRow(ctx, paramGetSQL, key).Scan(&v); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errParamNotFound
		}
		return nil, t.s.connErr(ctx, err, "Failed to read a parameter.")
	}
	return []byte(v), nil
}

// SetParam stores a system value in the transaction.
func (t *tx) SetParam(ctx context.Context, key string, value []byte) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if err := t.guarded(ctx, step{sql: paramSetSQL, args: []any{key, string(value)}}); err != nil {
		return t.s.connErr(ctx, err, "Failed to save a parameter.")
	}
	return nil
}
