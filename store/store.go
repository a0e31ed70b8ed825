// Package store defines how Tortoise keeps collections and records in a
// database, and the contract its two drivers (store/sqlite, store/postgres)
// both fulfil. The conformance suite in store/storetest checks that contract
// against real engines.
//
// # Storage model
//
// Each collection is a real table named after it, with one typed column per
// field, so indexes work and people can use the database's own tools:
//
//	field                                   SQLite                          PostgreSQL
//	id                                      TEXT PRIMARY KEY                TEXT PRIMARY KEY
//	text, editor, email, url, date,         TEXT NOT NULL DEFAULT ''        TEXT NOT NULL DEFAULT ''
//	autodate, password, single select,
//	single relation, single file
//	number                                  REAL NOT NULL DEFAULT 0         DOUBLE PRECISION NOT NULL DEFAULT 0
//	bool                                    INTEGER NOT NULL DEFAULT 0      BOOLEAN NOT NULL DEFAULT FALSE
//	json                                    TEXT DEFAULT NULL (JSON text)   JSONB DEFAULT NULL
//	multiple select, relation, file         TEXT NOT NULL DEFAULT '[]'      JSONB NOT NULL DEFAULT '[]'
//	                                        (a JSON array of strings)       (a JSON array of strings)
//
// Dates are stored as text in core.DateLayout, which sorts chronologically.
// Collection definitions live in the table _collections (id, name, data),
// where data is core.Collection.StoredJSON; system values such as the
// settings live in _params (key, value).
//
// SQL fragments handed to a store (Query.Where, Query.OrderBy) use `?`
// placeholders and refer to the queried table by the alias MainAlias.
package store

import (
	"context"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// MainAlias is the alias of the queried collection's table in Query SQL.
const MainAlias = query.MainAlias

// Dialect names the SQL dialect of a store (see package query).
type Dialect = query.Dialect

// The dialects.
const (
	SQLite   = query.SQLite
	Postgres = query.Postgres
)

// SQL is a fragment of SQL with `?` placeholders and their arguments
// (see package query, which also builds the conditions layers above need).
type SQL = query.SQL

// Query selects records of one collection.
type Query struct {
	Collection *core.Collection
	// Where restricts the rows (nil: all rows). It refers to the table as MainAlias.
	Where *SQL
	// OrderBy is an ORDER BY list without the keywords ("" : unspecified order).
	OrderBy string
	// Limit caps the rows returned (0: no limit); Offset skips rows.
	Limit, Offset int
	// WithTotal asks for the number of rows matching Where, ignoring Limit and Offset.
	WithTotal bool
	// Search, when set, keeps only the rows its query matches (ANDed with
	// Where) and orders them by relevance unless OrderBy is given. The
	// collection must have a search option (core.SearchOptions).
	Search *SearchQuery
}

// Result is what Find returns.
type Result struct {
	Records []*core.Record
	// Total is the number of matching rows when Query.WithTotal was set, else -1.
	Total int
	// Highlights holds, when Query.Search asked for them, the matching
	// text of the returned records: record id → field → snippet, the
	// matched words between SearchQuery.Marks.
	Highlights map[string]map[string]string
}

// Reader reads records. Outside a Tx, a read that runs longer than the
// store's read timeout (DefaultReadTimeout unless configured) is stopped
// and fails with KindUnavailable wrapping ErrReadTimeout (see
// ReadTimeoutError); reads inside a Tx are not limited, so that a
// timeout never undoes a write.
type Reader interface {
	// Get returns one record. Errors: KindNotFound, KindUnavailable, KindInternal.
	Get(ctx context.Context, c *core.Collection, id string) (*core.Record, error)
	// Find runs a query. Errors: KindInvalid (a fragment the engine
	// rejects), KindUnavailable (the read timeout), KindInternal.
	Find(ctx context.Context, q Query) (*Result, error)
	// Param returns a named system value (such as the settings), kept in
	// the table _params apart from records. Errors: KindNotFound, KindInternal.
	Param(ctx context.Context, key string) ([]byte, error)
}

// Tx is a write transaction (on SQLite, one savepoint of a grouped commit).
// Its reads see its own writes, and nothing another transaction changes
// between a read and a write: SQLite runs write transactions one at a
// time, and on PostgreSQL the rows a Tx reads are locked (FOR UPDATE), so
// read-modify-write is safe.
type Tx interface {
	Reader
	// Insert adds a record; its Data must hold every field of its collection.
	// Errors: KindInvalid with a field entry coded "validation_not_unique" when
	// a unique index is violated, KindInternal.
	Insert(ctx context.Context, r *core.Record) error
	// Update replaces a record's row. Errors: as Insert, and KindNotFound.
	Update(ctx context.Context, r *core.Record) error
	// Delete removes a record. Errors: KindNotFound, KindInternal.
	Delete(ctx context.Context, c *core.Collection, id string) error

	// CreateCollection stores c and creates its table and indexes.
	// Errors: KindInvalid (a name in use, a bad index), KindInternal.
	CreateCollection(ctx context.Context, c *core.Collection) error
	// UpdateCollection stores next in place of prev and migrates the table:
	// fields are matched by Field.ID, so a renamed field keeps its data, new
	// fields are added, missing ones dropped, the table renamed with the
	// collection, and indexes rebuilt. Errors: KindInvalid, KindInternal.
	UpdateCollection(ctx context.Context, prev, next *core.Collection) error
	// DeleteCollection drops the table and the definition.
	DeleteCollection(ctx context.Context, c *core.Collection) error
	// Truncate deletes every record of c.
	Truncate(ctx context.Context, c *core.Collection) error
	// SetParam stores a named system value, replacing any earlier one.
	SetParam(ctx context.Context, key string, value []byte) error
}

// TxHook takes part in every write transaction: it runs once the Update
// function has returned nil, in the same transaction (on SQLite, the same
// savepoint), with the record changes that function made, so that what it
// writes commits or rolls back with them. It is how durable consumers of
// the change path (webhook deliveries) enqueue their work without a
// window in which a commit could happen without it. An error it returns
// undoes the whole call and is what Update returns. On SQLite it runs on
// the writer goroutine: it must not call Update, and should be quick.
type TxHook func(ctx context.Context, tx Tx, changes []Change) error

// Store is a database holding collections and records.
type Store interface {
	Reader
	// Dialect tells SQL producers which engine they target.
	Dialect() Dialect
	// Collections returns every stored collection definition.
	Collections(ctx context.Context) ([]*core.Collection, error)
	// Update runs fn in a write transaction. An error from fn undoes all of
	// fn's changes and is returned as is; other transactions are unaffected.
	// When Update returns nil, fn's changes are durable (on SQLite, fsynced
	// with synchronous=FULL). fn runs once; it must not have side effects
	// outside tx, since its changes may still be rolled back.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// AddTxHook adds h to every later write transaction with changes.
	// Add hooks at start-up, before the first Update.
	AddTxHook(h TxHook)
	// Changes returns the change feed: every committed Insert, Update and
	// Delete, published after its transaction commits (never for one that
	// rolls back), in commit order. On PostgreSQL it carries the changes
	// of every process on the database. Truncate publishes no change: it
	// calls the feed's OnLost observers once it has committed, before
	// Update returns (on PostgreSQL those of every process).
	Changes() *Feed
	// ViewColumns returns the names of the columns a view collection's
	// query yields, running it with no rows in a read-only transaction, so
	// a query that would write is refused. Errors: KindInvalid with the
	// database's reason under "viewQuery".
	ViewColumns(ctx context.Context, query string) ([]string, error)
	// Close waits for queued writes and releases the database.
	Close() error
}

// SearchQuery is the full-text part of a Query (see Query.Search).
type SearchQuery struct {
	// Query builds the engine's text for the parsed query (package
	// search's Query does): an FTS5 MATCH expression restricted to
	// columns, or to_tsquery text restricted to weight labels.
	Query SearchMatcher
	// Columns are the searchable fields the caller may search and see
	// highlighted: the records layer leaves hidden fields out for anyone
	// but a superuser. An empty list matches nothing.
	Columns []string
	// Fuzzy lets each word match with one typo: the driver looks up
	// which of Query.Typos() its index holds, for the caller's columns,
	// and passes those to FTS5 or TSQuery.
	Fuzzy bool
	// Highlights asks for Result.Highlights, for the returned rows only.
	Highlights bool
	// Marks enclose the matched words in highlights (search.MarkStart
	// and search.MarkEnd).
	Marks [2]string
}

// Rebuilding a search index (both drivers): a table of at most
// SearchInlineRows rows is indexed in the transaction that changes the
// search option; a larger one after it commits, SearchFillBatch rows per
// write transaction (a few milliseconds of the writer's time), its
// progress kept in the _params key SearchFillKey so a fill stopped by a
// restart resumes.
const (
	SearchInlineRows = 1000
	SearchFillBatch  = 500
)

// SearchFillKey is the _params key of c's online search fill.
func SearchFillKey(c *core.Collection) string { return "search_fill:" + c.ID }

// SearchMatcher is a parsed search query as drivers need it.
// Typos are the words a fuzzy search may also match; FTS5 and TSQuery
// take the subset of them the index holds (nil: none, as typed).
type SearchMatcher interface {
	Typos() []string
	FTS5(columns []string, typos map[string]bool) string
	TSQuery(labels string, typos map[string]bool) string
}
