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

// ErrMissingObject is in the chain of the error of a statement that named
// a table or column that is not there (errors.Is). The statements a store
// builds name only the tables and columns of the definitions they are
// given, so there it means a concurrent change of the collection renamed
// or dropped one: the request read the definition before that change
// committed and ran its statement after (or the table was changed around
// the store). Such errors are CollectionChangedError. In a query carrying
// a caller's fragment (Query.Where, a sort) it may instead be the
// fragment's own mistake: Find keeps those KindInvalid, with this in
// their chain, so a caller that knows the collection can tell.
var ErrMissingObject = errors.New("missing table or column")

// CollectionChangedError is the error of a statement that named what a
// concurrent change of its collection renamed or dropped, cause being
// what the engine reported: KindUnavailable, since the same request sent
// again meets the collection as it now stands.
func CollectionChangedError(cause error) *core.Error {
	return &core.Error{Kind: core.KindUnavailable, Message: "The collection changed while this request ran; please try again.",
		Err: fmt.Errorf("%w: %w", ErrMissingObject, cause)}
}

// MissingObjectInFragment is the error of a query with a caller's
// fragment that named a table or column that is not there: KindInvalid,
// as any fragment the engine rejects, with ErrMissingObject in its chain
// (see there).
func MissingObjectInFragment(cause error) *core.Error {
	return &core.Error{Kind: core.KindInvalid, Message: "Invalid filter or sort.", Err: fmt.Errorf("%w: %w", ErrMissingObject, cause)}
}
