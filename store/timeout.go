package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// DefaultReadTimeout is how long a read may run before the store stops
// it, unless the store is opened with another value. Filters come from
// clients, and a filter can ask for far more work than its length
// suggests; the timeout frees the connection such a read holds.
const DefaultReadTimeout = 5 * time.Second

// ErrReadTimeout is in the chain of the error a read returns when the
// store stopped it at its read timeout (errors.Is).
var ErrReadTimeout = errors.New("read timeout")

// ReadTimeoutError is the error of a read the store stopped at its read
// timeout, cause being what the engine reported: KindUnavailable, as the
// server stopped it to stay responsive; a retry may succeed under less
// load, while the same costly filter fails again.
func ReadTimeoutError(cause error) *core.Error {
	return &core.Error{Kind: core.KindUnavailable, Message: "The query took too long and was stopped.",
		Err: fmt.Errorf("%w: %w", ErrReadTimeout, cause)}
}
