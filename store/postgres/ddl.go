package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// CreateCollection stores c and creates its table and indexes.
// Errors: KindInvalid (a name in use, a bad definition or index), KindInternal.
func (t *tx) CreateCollection(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	idx, err := store.PrepareCollection(nil, c)
	if err != nil {
		return err
	}
	data, err := c.StoredJSON()
	if err != nil {
		return core.Internal(err, "Failed to encode the collection.")
	}
	return t.ddl(ctx, func() error {
		_, err := t.tx.Exec(ctx, `INSERT INTO _collections (id, name, data, created, updated) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, c.Name, string(data), c.Created, c.Updated)
		if err != nil {
			return t.collectionRowErr(ctx, err)
		}
		if c.IsView() {
			return nil // its view is created with the others (see ddl)
		}
		if _, err := t.tx.Exec(ctx, store.CreateTableSQL(store.Postgres, c, c.Name)); err != nil {
			return t.tableErr(ctx, err, "Failed to create the collection's table.")
		}
		if err := t.attachCount(ctx, c); err != nil {
			return err
		}
		if err := t.createIndexes(ctx, idx, c.Name); err != nil {
			return err
		}
		return t.searchApply(ctx, nil, c) // search.go
	})
}

// UpdateCollection stores next in place of prev and migrates the table with
// ALTER TABLE in this transaction: fields are matched by id, so renamed
// fields keep their data; single ⇄ multiple switches convert the column
// (empty ⇄ [], "v" → ["v"], a list → its last element). Indexes whose
// definition did not change are kept.
// Errors: KindInvalid, KindNotFound (no such collection), KindInternal.
func (t *tx) UpdateCollection(ctx context.Context, prev, next *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if prev == nil {
		return errNoCollection
	}
	idx, err := store.PrepareCollection(prev, next)
	if err != nil {
		return err
	}
	data, err := next.StoredJSON()
	if err != nil {
		return core.Internal(err, "Failed to encode the collection.")
	}
	kept, added, dropped := store.DiffFields(prev, next)
	table := store.QuoteIdent(next.Name)
	// Renames go through temporary names so swaps (a→b, b→a) work.
	var renamed []store.FieldChange
	var converts []string
	for _, k := range kept {
		if k.Old.Name != k.New.Name {
			renamed = append(renamed, k)
		}
		if q := convertSQL(table, k.Old, k.New); q != "" {
			converts = append(converts, q)
		}
	}
	drop, create := store.DiffIndexes(store.Postgres, next.Name, store.StoredIndexes(prev), idx)
	if len(dropped) > 0 || len(renamed) > 0 || len(converts) > 0 {
		// PostgreSQL takes an index along with a column it drops, renames
		// or retypes: one whose statement reads the same may then sit on
		// another column (a swap), be gone (a field replaced by one of
		// the same name), or stop a type change. So every index goes
		// before the columns change and comes back after, as SQLite's
		// rebuilt table gets them.
		drop, create = nil, idx
		for _, ix := range store.StoredIndexes(prev) {
			drop = append(drop, ix.Name)
		}
	}
	return t.ddl(ctx, func() error {
		tag, err := t.tx.Exec(ctx, `UPDATE _collections SET name = $1, data = $2, updated = $3 WHERE id = $4`,
			next.Name, string(data), next.Updated, next.ID)
		if err != nil {
			return t.collectionRowErr(ctx, err)
		}
		if tag.RowsAffected() == 0 {
			return core.NotFound("Missing collection %q.", prev.Name)
		}
		if next.IsView() {
			return nil // its view is created again with the others (see ddl)
		}
		// Indexes go first, so column changes never trip over them.
		var stmts []string
		for _, name := range drop {
			stmts = append(stmts, "DROP INDEX IF EXISTS "+store.QuoteIdent(name))
		}
		if err := t.execAll(ctx, stmts, "Failed to drop an index."); err != nil {
			return err
		}
		if prev.Name != next.Name {
			if _, err := t.tx.Exec(ctx, "ALTER TABLE "+store.QuoteIdent(prev.Name)+" RENAME TO "+table); err != nil {
				return t.tableErr(ctx, err, "Failed to rename the collection's table.")
			}
		}
		stmts = stmts[:0]
		for _, f := range dropped {
			stmts = append(stmts, "ALTER TABLE "+table+" DROP COLUMN IF EXISTS "+store.QuoteIdent(f.Name))
		}
		for i, k := range renamed {
			stmts = append(stmts, "ALTER TABLE "+table+" RENAME COLUMN "+store.QuoteIdent(k.Old.Name)+" TO "+store.QuoteIdent(tmpColumn(i)))
		}
		for i, k := range renamed {
			stmts = append(stmts, "ALTER TABLE "+table+" RENAME COLUMN "+store.QuoteIdent(tmpColumn(i))+" TO "+store.QuoteIdent(k.New.Name))
		}
		stmts = append(stmts, converts...)
		for _, f := range added {
			stmts = append(stmts, "ALTER TABLE "+table+" ADD COLUMN "+store.QuoteIdent(f.Name)+" "+store.ColumnDef(store.Postgres, f))
		}
		if err := t.execAll(ctx, stmts, "Failed to migrate the collection's table."); err != nil {
			return err
		}
		if err := t.createIndexes(ctx, create, next.Name); err != nil {
			return err
		}
		return t.searchApply(ctx, prev, next) // search.go
	})
}

// tmpColumn names the i-th column being renamed while it moves; the "-"
// makes it a name no field can have (see core.ValidName).
func tmpColumn(i int) string { return fmt.Sprintf("_tortoise_tmp-%d", i) }

// convertSQL switches a column between a single value and a list, or
// returns "" when its kind is unchanged.
func convertSQL(table string, old, new *core.Field) string {
	col := store.QuoteIdent(new.Name) // already renamed
	from, to := store.KindOf(old), store.KindOf(new)
	alter := "ALTER TABLE " + table + " ALTER COLUMN " + col
	switch {
	case from == store.ColumnText && to == store.ColumnList:
		return alter + " DROP DEFAULT, ALTER COLUMN " + col + " TYPE JSONB USING (CASE WHEN " + col +
			" = '' THEN '[]'::jsonb ELSE jsonb_build_array(" + col + ") END), ALTER COLUMN " + col + " SET DEFAULT '[]'"
	case from == store.ColumnList && to == store.ColumnText:
		return alter + " DROP DEFAULT, ALTER COLUMN " + col + " TYPE TEXT USING COALESCE(CASE WHEN jsonb_typeof(" + col +
			") = 'array' THEN " + col + " ->> -1 END, ''), ALTER COLUMN " + col + " SET DEFAULT ''"
	}
	return ""
}

// DeleteCollection drops c's table and definition.
// Errors: KindNotFound, KindInternal.
func (t *tx) DeleteCollection(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if c == nil {
		return errNoCollection
	}
	return t.ddl(ctx, func() error {
		tag, err := t.tx.Exec(ctx, `DELETE FROM _collections WHERE id = $1`, c.ID)
		if err != nil {
			return t.s.connErr(ctx, err, "Failed to delete the collection.")
		}
		if tag.RowsAffected() == 0 {
			return core.NotFound("Missing collection %q.", c.Name)
		}
		if err := t.searchDrop(ctx, c); err != nil { // search.go
			return err
		}
		if _, err := t.tx.Exec(ctx, "DROP TABLE IF EXISTS "+store.QuoteIdent(c.Name)); err != nil {
			return t.s.connErr(ctx, err, "Failed to drop the collection's table.")
		}
		return t.detachCount(ctx, c)
	})
}

// ddl runs a schema change in its own savepoint, so a failure part way
// leaves nothing half-applied and the transaction usable.
func (t *tx) ddl(ctx context.Context, fn func() error) error {
	if _, err := t.tx.Exec(ctx, "SAVEPOINT ddl"); err != nil {
		return t.s.connErr(ctx, err, "Failed to change the schema.")
	}
	err := t.dropViews(ctx)
	if err == nil {
		err = fn()
	}
	if err == nil {
		err = t.createViews(ctx)
	}
	if err != nil {
		t.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT ddl; RELEASE SAVEPOINT ddl")
		return err
	}
	// Other processes on this database reload their schema when the
	// transaction commits (NOTIFY is delivered on commit only).
	if _, err := t.tx.Exec(ctx, "RELEASE SAVEPOINT ddl; SELECT pg_notify('"+schemaChannel+"', '')"); err != nil {
		return t.s.connErr(ctx, err, "Failed to change the schema.")
	}
	return nil
}

func (t *tx) execAll(ctx context.Context, stmts []string, msg string) error {
	for _, q := range stmts {
		if _, err := t.tx.Exec(ctx, q); err != nil {
			return t.s.connErr(ctx, err, msg)
		}
	}
	return nil
}

// createIndexes creates idx on table; the errors a definition can cause
// are the caller's, reported against the index.
func (t *tx) createIndexes(ctx context.Context, idx []*store.Index, table string) error {
	for i, ix := range idx {
		if _, err := t.tx.Exec(ctx, ix.SQL(store.Postgres, table)); err != nil {
			e := pgError(err)
			var why string
			switch {
			case e == nil:
				return t.s.connErr(ctx, err, "Failed to create an index.")
			case e.Code == codeDuplicateTable:
				why = "the name is already used by another table or index"
			case e.Code == codeUniqueViolation:
				why = "existing records have duplicate values"
			case strings.HasPrefix(e.Code, "42"), strings.HasPrefix(e.Code, "22"):
				why = "the database rejected it"
			default:
				return t.s.connErr(ctx, err, "Failed to create an index.")
			}
			ie := store.IndexError(i, ix.Name, why)
			ie.Err = err
			return ie
		}
	}
	return nil
}

// PostgreSQL error codes the store interprets.
const (
	codeUniqueViolation = "23505"
	codeDuplicateTable  = "42P07"
)

var errNameExists = core.FieldInvalid("name", "validation_collection_name_exists",
	"Collection name must be unique (case insensitive).")

func nameExists(cause error) error {
	return &core.Error{Kind: errNameExists.Kind, Message: errNameExists.Message, Fields: errNameExists.Fields, Err: cause}
}

// tableErr maps the failure of creating or renaming a table: another
// relation of that name is the caller's problem.
func (t *tx) tableErr(ctx context.Context, err error, msg string) error {
	if e := pgError(err); e != nil && e.Code == codeDuplicateTable {
		return nameExists(err)
	}
	return t.s.connErr(ctx, err, msg)
}

// collectionRowErr maps a failed write of a _collections row.
func (t *tx) collectionRowErr(ctx context.Context, err error) error {
	e := pgError(err)
	if e == nil || e.Code != codeUniqueViolation {
		return t.s.connErr(ctx, err, "Failed to store the collection.")
	}
	if e.ConstraintName == "_collections_name" {
		return nameExists(err)
	}
	fe := core.FieldInvalid("id", "validation_not_unique", "A collection with this id already exists.")
	fe.Err = err
	return fe
}
