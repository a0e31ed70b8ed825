package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// ColumnKind is how a field's value is kept in its column: its type and
// default on each engine and the Go type a driver scans it into. It is
// the field type's core.Storage; ColumnDef lays each one out per dialect.
type ColumnKind = core.Storage

// The column kinds of the storage model (see core.Storage).
const (
	ColumnText   = core.StorageText   // TEXT NOT NULL DEFAULT ''
	ColumnNumber = core.StorageNumber // REAL / DOUBLE PRECISION NOT NULL DEFAULT 0
	ColumnBool   = core.StorageBool   // INTEGER / BOOLEAN NOT NULL DEFAULT false
	ColumnJSON   = core.StorageJSON   // TEXT / JSONB DEFAULT NULL (NOT NULL DEFAULT its zero value for a type that has one: geoPoint)
	ColumnList   = core.StorageList   // TEXT / JSONB NOT NULL DEFAULT '[]'
)

// KindOf returns the column kind of f, as its type defines it.
func KindOf(f *core.Field) ColumnKind { return f.Def().Storage(f) }

// QuoteIdent quotes a table, column or index name for either dialect.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString is s as an SQL string literal for either dialect (standard
// SQL: single quotes, each embedded one doubled; PostgreSQL's
// standard_conforming_strings, on by default, reads backslashes as is).
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ColumnDef returns the definition of f's column in dialect d, without the
// column name: type, nullability and default, as the storage model lays out.
// The id field becomes the primary key.
func ColumnDef(d Dialect, f *core.Field) string {
	if f.Name == "id" {
		return "TEXT PRIMARY KEY NOT NULL"
	}
	pg := d == Postgres
	switch KindOf(f) {
	case ColumnNumber:
		if pg {
			return "DOUBLE PRECISION NOT NULL DEFAULT 0"
		}
		return "REAL NOT NULL DEFAULT 0"
	case ColumnBool:
		if pg {
			return "BOOLEAN NOT NULL DEFAULT FALSE"
		}
		return "INTEGER NOT NULL DEFAULT 0"
	case ColumnJSON:
		typ := "TEXT"
		if pg {
			typ = "JSONB"
		}
		// A type whose empty value is not null (geoPoint) keeps it as the
		// column's default, so rows from before the field was added read
		// as that value too.
		if z, _ := core.ZeroValue(f).(json.RawMessage); z != nil {
			return typ + " NOT NULL DEFAULT '" + strings.ReplaceAll(string(z), "'", "''") + "'"
		}
		return typ + " DEFAULT NULL"
	case ColumnList:
		if pg {
			return "JSONB NOT NULL DEFAULT '[]'"
		}
		return "TEXT NOT NULL DEFAULT '[]'"
	}
	return "TEXT NOT NULL DEFAULT ''"
}

// CreateTableSQL returns the CREATE TABLE statement of c's table, named
// table (normally c.Name), in dialect d.
func CreateTableSQL(d Dialect, c *core.Collection, table string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(QuoteIdent(table))
	b.WriteString(" (")
	for i := range c.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.Fields[i].Name))
		b.WriteByte(' ')
		b.WriteString(ColumnDef(d, &c.Fields[i]))
	}
	b.WriteString(")")
	return b.String()
}

// collectionInvalid is the error for a bad collection definition, in the
// shape PocketBase uses for its collection form.
func collectionInvalid(field, code, format string, args ...any) *core.Error {
	return core.FieldInvalid(field, code, fmt.Sprintf(format, args...))
}

// reservedNames are the tables the stores, the request log and the job
// queue keep in the database beside the collections' tables.
var reservedNames = []string{"_collections", "_meta", "_params", "_migrations", "_counts", "_changes",
	"_search_flush", "_request_logs", "_request_stats", "_jobs_outbox"}

// reservedPrefixes begin the names of tables the engines and Tortoise's
// parts create: the engines' catalogues, the search indexes (with FTS5's
// shadow tables) and River's tables.
var reservedPrefixes = []string{"sqlite_", "pg_", "_search_", "river_"}

// IsReservedName reports whether name may not be used for a collection's
// table because an engine or Tortoise keeps it for itself.
func IsReservedName(name string) bool {
	l := strings.ToLower(name)
	if slices.Contains(reservedNames, l) {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// PrepareCollection checks that next can be stored, replacing prev (nil
// when next is new), and returns its parsed indexes. It checks what the
// store needs, not the service layer's rules: a usable table name, valid
// and distinct field names and ids, an "id" text field, no field changing
// type (apart from single ⇄ multiple), and indexes that ProcessIndexes
// accepts. Index statements naming prev's table are rewritten in
// next.Indexes to name next's, so they keep working after a rename.
// Errors: KindInvalid naming the offending part.
func PrepareCollection(prev, next *core.Collection) ([]*Index, error) {
	if next == nil {
		return nil, core.Invalid("Missing collection.")
	}
	if !core.ValidName(next.Name) {
		return nil, collectionInvalid("name", "validation_invalid_name", "Invalid collection name %q.", next.Name)
	}
	if IsReservedName(next.Name) {
		return nil, collectionInvalid("name", "validation_collection_name_exists", "The name %q is reserved.", next.Name)
	}
	if next.ID == "" {
		return nil, collectionInvalid("id", "validation_required", "Missing collection id.")
	}
	if prev != nil && prev.ID != next.ID {
		return nil, collectionInvalid("id", "validation_invalid_id", "The collection id cannot change.")
	}
	names := make(map[string]bool, len(next.Fields))
	ids := make(map[string]bool, len(next.Fields))
	for i := range next.Fields {
		f := &next.Fields[i]
		switch {
		case !core.ValidName(f.Name):
			return nil, collectionInvalid("fields", "validation_invalid_name", "Invalid field name %q.", f.Name)
		case !core.KnownFieldType(f.Type):
			return nil, collectionInvalid("fields", "validation_invalid_type", "Field %q has an unknown type %q.", f.Name, f.Type)
		case f.ID == "":
			return nil, collectionInvalid("fields", "validation_required", "Field %q has no id.", f.Name)
		case ids[f.ID]:
			return nil, collectionInvalid("fields", "validation_duplicated_field_id", "Duplicated field id %q.", f.ID)
		case names[strings.ToLower(f.Name)]:
			// Column names are case-insensitive in SQLite, so PostgreSQL follows.
			return nil, collectionInvalid("fields", "validation_duplicated_field_name", "Duplicated field name %q.", f.Name)
		}
		names[strings.ToLower(f.Name)], ids[f.ID] = true, true
		if prev != nil {
			if old := prev.FieldByID(f.ID); old != nil && old.Type != f.Type {
				return nil, collectionInvalid("fields", "validation_field_type_change", "The type of field %q cannot change.", f.Name)
			}
		}
	}
	if id := next.Field("id"); id == nil || id.Type != core.FieldText {
		return nil, collectionInvalid("fields", "validation_missing_id", "The collection needs an \"id\" text field.")
	}
	if prev != nil {
		if old, now := prev.Field("id"), next.Field("id"); old != nil && old.ID != now.ID {
			return nil, collectionInvalid("fields", "validation_missing_id", "The \"id\" field cannot be replaced.")
		}
	}
	var oldTable string
	if prev != nil {
		oldTable = prev.Name
	}
	return ProcessIndexes(next, oldTable)
}

// FieldChange pairs a field of the previous definition with the one that
// replaces it (matched by Field.ID).
type FieldChange struct {
	Old, New *core.Field
}

// DiffFields matches the fields of prev and next by id: kept holds fields
// in both (possibly renamed or switched between single and multiple),
// added the new ones and dropped the removed ones.
func DiffFields(prev, next *core.Collection) (kept []FieldChange, added, dropped []*core.Field) {
	for i := range next.Fields {
		f := &next.Fields[i]
		if old := prev.FieldByID(f.ID); old != nil {
			kept = append(kept, FieldChange{Old: old, New: f})
		} else {
			added = append(added, f)
		}
	}
	for i := range prev.Fields {
		if next.FieldByID(prev.Fields[i].ID) == nil {
			dropped = append(dropped, &prev.Fields[i])
		}
	}
	return kept, added, dropped
}

// DiffIndexes compares the indexes of two definitions of a collection, both
// rendered for table in dialect d: drop names indexes of prev that are gone
// or changed, create the indexes of next that are new or changed.
func DiffIndexes(d Dialect, table string, prev, next []*Index) (drop []string, create []*Index) {
	old := make(map[string]string, len(prev))
	for _, ix := range prev {
		old[strings.ToLower(ix.Name)] = ix.SQL(d, table)
	}
	kept := make(map[string]bool, len(next))
	for _, ix := range next {
		key := strings.ToLower(ix.Name)
		if sql, ok := old[key]; ok && sql == ix.SQL(d, table) {
			kept[key] = true
			continue
		}
		create = append(create, ix)
	}
	for _, ix := range prev {
		if !kept[strings.ToLower(ix.Name)] {
			drop = append(drop, ix.Name)
		}
	}
	return drop, create
}

// StoredIndexes parses the indexes of a stored definition, skipping any that
// no longer parse or match its fields, so a migration can compare with what
// exists.
func StoredIndexes(c *core.Collection) []*Index {
	var out []*Index
	for _, stmt := range c.Indexes {
		if ix, err := ParseIndex(stmt); err == nil && ix.resolve(c) == nil {
			out = append(out, ix)
		}
	}
	return out
}
