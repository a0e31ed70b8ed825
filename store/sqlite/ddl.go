package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// CreateCollection stores c and creates its table and indexes.
// Errors: KindInvalid (a name in use, a bad definition or index), KindInternal.
func (t *writeTx) CreateCollection(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	idx, err := store.PrepareCollection(nil, c)
	if err != nil {
		return err
	}
	if err := t.nameFree(c.Name, ""); err != nil {
		return err
	}
	if err := t.indexNamesFree(idx, c.Name, c.Name); err != nil {
		return err
	}
	data, err := c.StoredJSON()
	if err != nil {
		return core.Internal(err, "Failed to encode the collection.")
	}
	err = t.ddl(func() error {
		_, err := t.s.wexec(`INSERT INTO _collections (id, name, data, created, updated) VALUES (?, ?, ?, ?, ?)`,
			c.ID, c.Name, string(data), c.Created, c.Updated)
		if err != nil {
			return t.collectionRowErr(err)
		}
		if c.IsView() {
			return nil // its view is created with the others (see ddl)
		}
		if _, err := t.s.wexec(store.CreateTableSQL(store.SQLite, c, c.Name)); err != nil {
			return t.s.writeErr(err, "Failed to create the collection's table.")
		}
		if err := t.createIndexes(idx, c.Name); err != nil {
			return err
		}
		return t.searchCreate(c)
	})
	if err != nil {
		return err
	}
	if !c.IsView() {
		t.ops.add(c.ID, countOp{set: true})
	}
	return nil
}

// UpdateCollection stores next in place of prev and migrates the table in
// this transaction. Fields are matched by id. Adding fields or renaming
// the collection is done with ALTER TABLE; renaming, dropping or switching
// a field between single and multiple rebuilds the table (create, copy,
// drop, rename), the way SQLite recommends for changes ALTER TABLE cannot
// make. Indexes whose definition did not change are kept.
// Errors: KindInvalid, KindNotFound (no such collection), KindInternal.
func (t *writeTx) UpdateCollection(ctx context.Context, prev, next *core.Collection) error {
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
	renamed := prev.Name != next.Name
	if renamed && !strings.EqualFold(prev.Name, next.Name) {
		if err := t.nameFree(next.Name, ""); err != nil {
			return err
		}
	}
	if err := t.indexNamesFree(idx, prev.Name, next.Name); err != nil {
		return err
	}
	data, err := next.StoredJSON()
	if err != nil {
		return core.Internal(err, "Failed to encode the collection.")
	}
	kept, added, dropped := store.DiffFields(prev, next)
	rebuild := len(dropped) > 0
	for _, k := range kept {
		if k.Old.Name != k.New.Name || store.KindOf(k.Old) != store.KindOf(k.New) {
			rebuild = true
		}
	}
	return t.ddl(func() error {
		res, err := t.s.wexec(`UPDATE _collections SET name = ?, data = ?, updated = ? WHERE id = ?`,
			next.Name, string(data), next.Updated, next.ID)
		if err != nil {
			return t.collectionRowErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return t.s.writeErr(err, "Failed to update the collection.")
		} else if n == 0 {
			return core.NotFound("Missing collection %q.", prev.Name)
		}
		if next.IsView() {
			return nil // its view is created again with the others (see ddl)
		}
		// The search index goes first and comes back last (search.go).
		redoSearch := searchRedo(prev, next, renamed || rebuild)
		if redoSearch {
			if err := t.searchDrop(prev); err != nil {
				return err
			}
		}
		if rebuild {
			if err := t.rebuild(prev, next, kept, idx); err != nil || !redoSearch {
				return err
			}
			return t.searchCreate(next)
		}
		drop, create := store.DiffIndexes(store.SQLite, next.Name, store.StoredIndexes(prev), idx)
		for _, name := range drop {
			if _, err := t.s.wexec("DROP INDEX IF EXISTS " + store.QuoteIdent(name)); err != nil {
				return t.s.writeErr(err, "Failed to drop an index.")
			}
		}
		if renamed {
			if err := t.renameTable(prev.Name, next.Name, next.ID); err != nil {
				return err
			}
		}
		for _, f := range added {
			q := "ALTER TABLE " + store.QuoteIdent(next.Name) + " ADD COLUMN " + store.QuoteIdent(f.Name) + " " + store.ColumnDef(store.SQLite, f)
			if _, err := t.s.wexec(q); err != nil {
				return t.s.writeErr(err, "Failed to add a column.")
			}
		}
		if err := t.createIndexes(create, next.Name); err != nil || !redoSearch {
			return err
		}
		return t.searchCreate(next)
	})
}

// rebuild moves prev's table to next's shape: a new table, the rows copied
// by field id (so renamed fields keep their data), the old table dropped
// (with its indexes) and the new one renamed into place.
func (t *writeTx) rebuild(prev, next *core.Collection, kept []store.FieldChange, idx []*store.Index) error {
	tmp := "_tmp_" + next.ID
	if _, err := t.s.wexec(store.CreateTableSQL(store.SQLite, next, tmp)); err != nil {
		return t.s.writeErr(err, "Failed to create the new table.")
	}
	cols := make([]string, 0, len(kept))
	exprs := make([]string, 0, len(kept))
	for _, k := range kept {
		cols = append(cols, store.QuoteIdent(k.New.Name))
		exprs = append(exprs, convertExpr(k.Old, k.New))
	}
	copySQL := "INSERT INTO " + store.QuoteIdent(tmp) + " (" + strings.Join(cols, ", ") + ") SELECT " +
		strings.Join(exprs, ", ") + " FROM " + store.QuoteIdent(prev.Name)
	for _, q := range []string{
		copySQL,
		"DROP TABLE " + store.QuoteIdent(prev.Name),
		"ALTER TABLE " + store.QuoteIdent(tmp) + " RENAME TO " + store.QuoteIdent(next.Name),
	} {
		if _, err := t.s.wexec(q); err != nil {
			return t.s.writeErr(err, "Failed to migrate the collection's table.")
		}
	}
	return t.createIndexes(idx, next.Name)
}

// convertExpr reads old's column as new's: unchanged, or converted between
// a single value and a list (empty ⇄ [], "v" → ["v"], a list → its last element).
func convertExpr(old, new *core.Field) string {
	col := store.QuoteIdent(old.Name)
	from, to := store.KindOf(old), store.KindOf(new)
	switch {
	case from == store.ColumnText && to == store.ColumnList:
		return "CASE WHEN " + col + " = '' THEN '[]' ELSE json_array(" + col + ") END"
	case from == store.ColumnList && to == store.ColumnText:
		// Nested CASE: json_type would fail on text that is not JSON.
		return "CASE WHEN json_valid(" + col + ") THEN CASE WHEN json_type(" + col + ") = 'array' THEN " +
			"COALESCE(json_extract(" + col + ", '$[#-1]'), '') ELSE '' END ELSE '' END"
	}
	return col
}

// renameTable renames a table; a change of case alone goes through a
// temporary name, since SQLite names are case-insensitive.
func (t *writeTx) renameTable(from, to, id string) error {
	steps := [][2]string{{from, to}}
	if strings.EqualFold(from, to) {
		tmp := "_tmp_" + id
		steps = [][2]string{{from, tmp}, {tmp, to}}
	}
	for _, s := range steps {
		if _, err := t.s.wexec("ALTER TABLE " + store.QuoteIdent(s[0]) + " RENAME TO " + store.QuoteIdent(s[1])); err != nil {
			return t.s.writeErr(err, "Failed to rename the collection's table.")
		}
	}
	return nil
}

// DeleteCollection drops c's table and definition.
// Errors: KindNotFound, KindInternal.
func (t *writeTx) DeleteCollection(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if c == nil {
		return errNoCollection
	}
	err := t.ddl(func() error {
		res, err := t.s.wexec(`DELETE FROM _collections WHERE id = ?`, c.ID)
		if err != nil {
			return t.s.writeErr(err, "Failed to delete the collection.")
		}
		if n, err := res.RowsAffected(); err != nil {
			return t.s.writeErr(err, "Failed to delete the collection.")
		} else if n == 0 {
			return core.NotFound("Missing collection %q.", c.Name)
		}
		if err := t.searchDrop(c); err != nil {
			return err
		}
		if _, err := t.s.wexec("DROP TABLE IF EXISTS " + store.QuoteIdent(c.Name)); err != nil {
			return t.s.writeErr(err, "Failed to drop the collection's table.")
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.ops.add(c.ID, countOp{set: true})
	return nil
}

// ddl runs a schema change in its own savepoint, so a failure part way
// leaves nothing half-applied even if the Update function goes on.
func (t *writeTx) ddl(fn func() error) error {
	// Cached statements could pin the tables being changed.
	t.s.resetWriteStmts()
	t.schema = true
	if _, err := t.s.wexec("SAVEPOINT ddl"); err != nil {
		return t.s.writeErr(err, "Failed to change the schema.")
	}
	err := t.dropViews()
	if err == nil {
		err = fn()
	}
	if err == nil {
		err = t.createViews()
	}
	if err != nil {
		// If this fails the transaction is gone; the writer sees it when
		// it releases the call's savepoint.
		t.s.wexec("ROLLBACK TO ddl; RELEASE ddl")
		return err
	}
	if _, err := t.s.wexec("RELEASE ddl"); err != nil {
		return t.s.writeErr(err, "Failed to change the schema.")
	}
	return nil
}

// nameFree checks that no table, index or view is called name (SQLite
// names are case-insensitive), except one called except.
func (t *writeTx) nameFree(name, except string) error {
	var found string
	err := t.s.wconn.QueryRowContext(bg, `SELECT name FROM sqlite_master WHERE name = ? COLLATE NOCASE`, name).Scan(&found)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return t.s.writeErr(err, "Failed to check the collection name.")
	case except != "" && strings.EqualFold(found, except):
		return nil
	}
	return errNameExists
}

var errNameExists = core.FieldInvalid("name", "validation_collection_name_exists",
	"Collection name must be unique (case insensitive).")

// indexNamesFree checks that each index's name is free or already belongs
// to an index of this collection's table (called old or table).
func (t *writeTx) indexNamesFree(idx []*store.Index, old, table string) error {
	for i, ix := range idx {
		var typ, tbl string
		err := t.s.wconn.QueryRowContext(bg, `SELECT type, tbl_name FROM sqlite_master WHERE name = ? COLLATE NOCASE`, ix.Name).Scan(&typ, &tbl)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return t.s.writeErr(err, "Failed to check the index names.")
		case typ == "index" && (strings.EqualFold(tbl, old) || strings.EqualFold(tbl, table)):
			continue
		}
		return store.IndexError(i, ix.Name, "the name is already used by another table or index")
	}
	return nil
}

// createIndexes creates idx on table. A unique index that existing rows
// violate is the caller's error, not the database's.
func (t *writeTx) createIndexes(idx []*store.Index, table string) error {
	for i, ix := range idx {
		if _, err := t.s.wexec(ix.SQL(store.SQLite, table)); err != nil {
			why := "the database rejected it"
			if code, _ := sqliteCode(err); code == codeUnique {
				why = "existing records have duplicate values"
			}
			e := store.IndexError(i, ix.Name, why)
			e.Err = err
			return e
		}
	}
	return nil
}

// collectionRowErr maps a failed write of a _collections row.
func (t *writeTx) collectionRowErr(err error) error {
	switch code, _ := sqliteCode(err); code {
	case codePrimaryKey:
		e := core.FieldInvalid("id", "validation_not_unique", "A collection with this id already exists.")
		e.Err = err
		return e
	case codeUnique:
		return &core.Error{Kind: errNameExists.Kind, Message: errNameExists.Message, Fields: errNameExists.Fields, Err: err}
	}
	return t.s.writeErr(err, "Failed to store the collection.")
}
