package store

import (
	"context"
	"encoding/json"

	"github.com/tortoise-dev/tortoise/core"
)

// ReadParamJSON decodes the system value key, read through r, into v,
// leaving v as it is when there is none. Errors: KindInternal.
func ReadParamJSON(ctx context.Context, r Reader, key string, v any) error {
	raw, err := r.Param(ctx, key)
	if core.KindOf(err) == core.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return core.Internal(err, "Failed to read the stored %s.", key)
	}
	return nil
}

// UpdateParamJSON reads the system value key in tx into a T (its zero
// value when there is none), lets change alter it, and stores it back:
// a read-modify-write of a definition list kept as JSON (crons,
// webhooks). An error from change is returned as is and stores nothing.
func UpdateParamJSON[T any](ctx context.Context, tx Tx, key string, change func(*T) error) error {
	var v T
	if err := ReadParamJSON(ctx, tx, key, &v); err != nil {
		return err
	}
	if err := change(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return core.Internal(err, "Failed to store %s.", key)
	}
	return tx.SetParam(ctx, key, b)
}
