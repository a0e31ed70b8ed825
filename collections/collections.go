// Package collections defines and changes collections: it validates a
// definition against the schema as it will be, migrates the table live in
// one transaction (no restart), imports and exports whole schemas, and
// swaps the service layer's schema snapshot when done.
package collections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Service changes collections.
type Service struct {
	svc   *service.Service
	store store.Store
	// deleted are called after a collection's deletion commits.
	deleted []func(ctx context.Context, c *core.Collection)
}

// OnDeleted registers fn to be called after a collection's deletion
// committed, for what lives outside the database (its files). Register
// before serving.
func (s *Service) OnDeleted(fn func(ctx context.Context, c *core.Collection)) {
	s.deleted = append(s.deleted, fn)
}

// New returns the collections service over the service layer's shared part.
func New(svc *service.Service) *Service {
	return &Service{svc: svc, store: svc.Store()}
}

// reservedFieldNames cannot name a user field: they appear in every record
// response or are the system's own. The engines' system columns are among
// them: PostgreSQL's (a column of that name cannot be created) and SQLite's
// row id aliases (a column of that name hides the row order). "_search"
// is the tsvector column PostgreSQL's search adds to a searchable table.
var reservedFieldNames = map[string]bool{
	"collectionid": true, "collectionname": true, "expand": true,
	"ctid": true, "xmin": true, "xmax": true, "cmin": true, "cmax": true, "tableoid": true,
	"rowid": true, "oid": true, "_rowid_": true, "_search": true,
}

// Create validates and stores a new collection from its JSON form
// and creates its table.
func (s *Service) Create(ctx context.Context, body []byte) (*core.Collection, error) {
	defer s.svc.LockSchema()()

	next, err := decodeCollection(nil, body)
	if err != nil {
		return nil, err
	}
	if next.ID == "" {
		next.ID = "pbc_" + core.RandomString(10, "0123456789")
	}
	sc := s.svc.Schema()
	if sc.ByID(next.ID) != nil {
		return nil, core.FieldInvalid("id", "validation_invalid_id", "The id is already in use.")
	}
	if next.IsView() {
		if err := s.viewFields(ctx, sc, nil, next); err != nil {
			return nil, err
		}
	} else {
		s.completeNew(next)
	}
	if err := s.validateCollection(sc, nil, next, byKey(ctx)); err != nil {
		return nil, err
	}
	now := core.Now()
	next.Created, next.Updated = now, now
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, next) }); err != nil {
		return nil, err
	}
	return next, s.afterSchemaChange(ctx, next)
}

// Update applies a partial JSON update to a collection and
// migrates its table in one transaction.
func (s *Service) Update(ctx context.Context, nameOrID string, body []byte) (*core.Collection, error) {
	defer s.svc.LockSchema()()

	prev, err := s.svc.Collection(nameOrID)
	if err != nil {
		return nil, err
	}
	next, err := decodeCollection(prev, body)
	if err != nil {
		return nil, err
	}
	if next.ID != prev.ID {
		return nil, core.FieldInvalid("id", "validation_invalid_id", "The collection id cannot be changed.")
	}
	if next.Type != prev.Type {
		return nil, core.FieldInvalid("type", "validation_invalid_type", "The collection type cannot be changed.")
	}
	if next.IsView() {
		if err := s.viewFields(ctx, s.svc.Schema(), prev, next); err != nil {
			return nil, err
		}
	} else {
		carryOver(prev, next)
	}
	if err := s.validateCollection(s.svc.Schema(), prev, next, byKey(ctx)); err != nil {
		return nil, err
	}
	next.Created, next.Updated = prev.Created, core.Now()
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.UpdateCollection(ctx, prev, next) }); err != nil {
		return nil, err
	}
	return next, s.afterSchemaChange(ctx, next)
}

// Delete drops a collection and its records. System collections
// and collections other collections relate to cannot be deleted.
func (s *Service) Delete(ctx context.Context, nameOrID string) error {
	defer s.svc.LockSchema()()

	c, err := s.svc.Collection(nameOrID)
	if err != nil {
		return err
	}
	if c.System {
		return core.Invalid("System collection %q cannot be deleted.", c.Name)
	}
	for _, other := range s.svc.Collections() {
		if other.ID == c.ID {
			continue
		}
		for _, f := range other.Fields {
			if f.Type == core.FieldRelation && f.CollectionID == c.ID {
				return core.Invalid("Collection %q cannot be deleted: field %q of collection %q relates to it.", c.Name, f.Name, other.Name)
			}
		}
	}
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.DeleteCollection(ctx, c) }); err != nil {
		return err
	}
	for _, fn := range s.deleted {
		fn(ctx, c)
	}
	return s.afterSchemaChange(ctx, c)
}

// Truncate deletes every record of a collection.
func (s *Service) Truncate(ctx context.Context, nameOrID string) error {
	c, err := s.svc.Collection(nameOrID)
	if err != nil {
		return err
	}
	if c.Name == core.SuperusersName {
		return core.Invalid("The superusers collection cannot be truncated.")
	}
	if c.IsView() {
		return core.Invalid("The records of a view collection are read-only.")
	}
	// No change per record reaches the feed: the store tells its OnLost
	// observers (the record cache), of every process on PostgreSQL.
	return s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.checkNoIncomingRequired(c); err != nil {
			return err
		}
		if err := s.dropAccountState(ctx, tx, c); err != nil {
			return err
		}
		return tx.Truncate(ctx, c)
	})
}

// dropAccountState deletes, in a truncate of c, what the system
// collections keep about c's records (linked OAuth2 identities, codes,
// second factors, login origins: every system collection with
// collectionRef and recordRef fields), as deleting each record does. Left
// behind, an identity link would pass to a record created later with
// the same id, which a client may choose.
func (s *Service) dropAccountState(ctx context.Context, tx store.Tx, c *core.Collection) error {
	if !c.IsAuth() {
		return nil
	}
	for _, sys := range s.svc.Collections() {
		if !sys.System || sys.Field("collectionRef") == nil || sys.Field("recordRef") == nil {
			continue
		}
		for {
			res, err := tx.Find(ctx, store.Query{Collection: sys, Where: query.Eq("collectionRef", c.ID), Limit: 500})
			if err != nil {
				return err
			}
			for _, r := range res.Records {
				if err := tx.Delete(ctx, sys, r.ID()); err != nil {
					return err
				}
			}
			if len(res.Records) < 500 {
				break
			}
		}
	}
	return nil
}

// checkNoIncomingRequired refuses to empty a collection that required
// relations of other collections point at.
func (s *Service) checkNoIncomingRequired(c *core.Collection) error {
	for _, other := range s.svc.Collections() {
		for _, f := range other.Fields {
			if f.Type == core.FieldRelation && f.CollectionID == c.ID && other.ID != c.ID && (f.Required || f.CascadeDelete) {
				return core.Invalid("Collection %q cannot be truncated: required or cascading relation %q of collection %q points at it.", c.Name, f.Name, other.Name)
			}
		}
	}
	return nil
}

func (s *Service) afterSchemaChange(ctx context.Context, c *core.Collection) error {
	return s.svc.ReloadSchema(ctx)
}

// decodeCollection reads a collection from JSON; with prev, body is a
// partial update over prev (top-level keys replace prev's).
func decodeCollection(prev *core.Collection, body []byte) (*core.Collection, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil || in == nil {
		return nil, core.Invalid("The request body must be a JSON object.")
	}
	merged := map[string]json.RawMessage{}
	if prev != nil {
		b, _ := json.Marshal(prev)
		_ = json.Unmarshal(b, &merged)
	}
	for k, v := range in {
		merged[k] = v
	}
	b, _ := json.Marshal(merged)
	var c core.Collection
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		return nil, collectionDecodeError(err)
	}
	if c.Type == "" {
		c.Type = core.TypeBase
	}
	if c.Type == core.TypeAuth {
		opts := core.DefaultAuthOptions()
		if prev != nil && prev.Auth != nil {
			opts = *prev.Clone().Auth
		}
		// Decoding over the defaults (or the stored options) keeps what the
		// body leaves out; secrets never travel in JSON, so they stay too.
		secrets := opts
		secrets.OAuth2.Providers = append([]core.OAuth2Provider(nil), opts.OAuth2.Providers...)
		// Lists and maps are replaced, not merged element by element:
		// encoding/json would otherwise decode into the old elements.
		opts.OAuth2.Providers, opts.OAuth2.MappedFields = nil, nil
		if err := json.Unmarshal(b, &opts); err != nil {
			return nil, collectionDecodeError(err)
		}
		if _, given := in["authRule"]; !given && prev == nil {
			// New auth collections let every record log in unless told otherwise.
			everyone := ""
			opts.AuthRule = &everyone
		}
		opts.KeepSecrets(&secrets)
		c.Auth = &opts
	}
	return &c, nil
}

// collectionDecodeError names the JSON field and type at fault, never a Go type.
func collectionDecodeError(err error) error { return core.DecodeError(err, "collection data") }

// carryOver matches the fields of an updated definition to the stored ones:
// a field given without an id takes the id of the stored field with the same
// name (so its data stays), and system fields left out are kept, since they
// cannot be removed. Renaming a field needs its id, as in PocketBase.
func carryOver(prev, next *core.Collection) {
	given := map[string]bool{}
	for i := range next.Fields {
		f := &next.Fields[i]
		if f.ID == "" {
			for _, of := range prev.Fields {
				if strings.EqualFold(of.Name, f.Name) && next.FieldByID(of.ID) == nil {
					f.ID = of.ID
					break
				}
			}
		}
		given[f.ID] = true
	}
	var kept []core.Field
	for _, of := range prev.Fields {
		if of.System && !given[of.ID] && next.Field(of.Name) == nil {
			kept = append(kept, of)
		}
	}
	if len(kept) > 0 {
		next.Fields = append(kept, next.Fields...)
	}
}

// completeNew adds the fields every new collection gets: id, the auth
// system fields for auth collections, and created/updated timestamps.
func (s *Service) completeNew(c *core.Collection) {
	var fields []core.Field
	if c.Field("id") == nil {
		fields = append(fields, core.IDField())
	}
	fields = append(fields, c.Fields...)
	c.Fields = fields
	if c.Type == core.TypeAuth {
		for _, f := range core.AuthSystemFields() {
			if c.Field(f.Name) == nil {
				c.Fields = append(c.Fields, f)
			}
		}
		c.Indexes = append(c.Indexes, core.AuthIndexes(c.Name)...)
	}
	for _, f := range core.AutodateFields() {
		if c.Field(f.Name) == nil {
			c.Fields = append(c.Fields, f)
		}
	}
}

var fieldIDPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,100}$`)

// validateCollection checks next (which replaces prev, or is new when prev
// is nil) against the schema sc. It normalizes relation targets to ids and
// fills in field ids.
func (s *Service) validateCollection(sc *service.Snapshot, prev, next *core.Collection, key bool) error {
	errs := core.ValidationErrors{}
	switch {
	case next.Name == "":
		errs.Add("name", "validation_required", "Cannot be blank.")
	case !core.ValidName(next.Name):
		errs.Add("name", "validation_invalid_name", "Use letters, digits and underscores, starting with a letter (at most 100).")
	case core.IsSystemName(next.Name) && (prev == nil || !prev.System):
		errs.Add("name", "validation_invalid_name", "Names starting with an underscore are reserved for system collections.")
	case prev != nil && prev.System && prev.Name != next.Name:
		errs.Add("name", "validation_system_collection", "System collections cannot be renamed.")
	default:
		if other := sc.ByName(next.Name); other != nil && (prev == nil || other.ID != prev.ID) {
			errs.Add("name", "validation_collection_name_exists", "Collection name must be unique (case insensitive).")
		}
	}
	switch next.Type {
	case core.TypeBase, core.TypeAuth, core.TypeView:
	default:
		errs.Add("type", "validation_invalid_type", `Must be "base", "auth" or "view".`)
	}
	if prev != nil {
		next.System = prev.System
	} else {
		next.System = false
	}
	if next.Name == core.SuperusersName && next.System {
		// Superusers are reached through superuser tokens only; opening
		// their rules would expose the accounts that guard everything.
		for name, r := range map[string]*string{"listRule": next.ListRule, "viewRule": next.ViewRule,
			"createRule": next.CreateRule, "updateRule": next.UpdateRule, "deleteRule": next.DeleteRule} {
			if r != nil {
				errs.Add(name, "validation_system_collection", "The rules of the superusers collection cannot be changed.")
			}
		}
	}
	if next.Type == core.TypeAuth {
		ensureAuthIndexes(next)
	}
	if !fieldIDPattern.MatchString(next.ID) {
		errs.Add("id", "validation_invalid_id", "Use 1-100 letters, digits or underscores.")
	}
	s.validateFields(sc, prev, next, errs)
	validateSearch(prev, next, errs)
	if err := errs.Err(); err != nil {
		return err
	}
	// Rules are checked against the schema as it will be, this collection included.
	cols := make([]*core.Collection, 0, len(sc.List())+1)
	for _, c := range sc.List() {
		if c.ID != next.ID {
			cols = append(cols, c)
		}
	}
	future := service.NewSnapshot(append(cols, next))
	rules := rulesOf(next)
	before := map[string]*string{} // prev's rules, by name
	if prev != nil {
		for _, r := range rulesOf(prev) {
			before[r.name] = r.rule
		}
	}
	for _, r := range rules {
		if r.name == "manageRule" && r.rule != nil && strings.TrimSpace(*r.rule) == "" {
			// As in PocketBase: "" would let every user manage every
			// account (verify it, change its email or password unasked).
			errs.Add(r.name, "validation_nil_or_not_empty_required",
				"Cannot be blank: use null for superusers only, or a rule naming who may manage the accounts.")
			continue
		}
		if r.rule == nil || strings.TrimSpace(*r.rule) == "" {
			continue
		}
		if err := s.compileRule(future, next, *r.rule); err != nil {
			errs.Add(r.name, "validation_invalid_rule", ruleMessage(err))
			continue
		}
		if key && (before[r.name] == nil || *before[r.name] != *r.rule) {
			// A rule an API key writes may not reach the system
			// collections, by @collection or by a relation to them:
			// rules see every field, so it would be an oracle over
			// password hashes and token keys for any guest.
			if err := s.compileRule(service.WithoutSystem(future), next, *r.rule); err != nil {
				errs.Add(r.name, "validation_invalid_rule", "An API key's rule cannot reach the system collections: "+ruleMessage(err))
			}
		}
	}
	if next.Auth != nil {
		if d := next.Auth.AuthToken.Duration; d < 60 || d > core.MaxTokenTTL {
			errs.Add("authToken", "validation_invalid_duration", fmt.Sprintf("Duration must be between 60 and %d seconds.", core.MaxTokenTTL))
		}
		names := map[string]bool{}
		for i := range next.Auth.OAuth2.Providers {
			pc := &next.Auth.OAuth2.Providers[i]
			key := fmt.Sprintf("oauth2.providers.%d", i)
			if names[pc.Name] {
				errs.Add(key+".name", "validation_duplicated_provider", fmt.Sprintf("Provider %q is configured twice.", pc.Name))
			}
			names[pc.Name] = true
			if err := oauth2.ConfigOf(pc).Validate(); err != nil {
				if e := core.AsError(err); e != nil && len(e.Fields) > 0 {
					for k, v := range e.Fields {
						errs.Add(key+"."+k, v.Code, v.Message)
					}
				} else {
					errs.Add(key, "validation_invalid_provider", err.Error())
				}
			}
		}
		for field := range next.Auth.OAuth2.MappedFields {
			switch field {
			case "id", "name", "username", "avatarURL":
			default:
				errs.Add("oauth2.mappedFields", "validation_invalid_mapped_field", fmt.Sprintf("Unknown provider field %q.", field))
			}
		}
		for _, f := range next.Auth.PasswordAuth.IdentityFields {
			switch {
			case next.Field(f) == nil:
				errs.Add("passwordAuth", "validation_invalid_identity_field", fmt.Sprintf("Unknown identity field %q.", f))
			case f != "id" && f != "email" && !uniqueAlone(next.Indexes, f):
				// A login looks the identity up in this field: were two
				// records to share a value, it would find either.
				errs.Add("passwordAuth", "validation_identity_field_not_unique",
					fmt.Sprintf("Identity field %q needs a UNIQUE index of its own (CREATE UNIQUE INDEX … (%s)).", f, f))
			}
		}
	}
	if len(next.Indexes) > 64 {
		errs.Add("indexes", "validation_too_many", "At most 64 indexes.")
	}
	return errs.Err()
}

// uniqueAlone reports whether indexes hold a UNIQUE index on field alone.
func uniqueAlone(indexes []string, field string) bool {
	for _, stmt := range indexes {
		ix, err := store.ParseIndex(stmt)
		if err == nil && ix.Unique && len(ix.Columns) == 1 && strings.EqualFold(ix.Columns[0].Name, field) {
			return true
		}
	}
	return false
}

func (s *Service) validateFields(sc *service.Snapshot, prev, next *core.Collection, errs core.ValidationErrors) {
	if len(next.Fields) > 500 {
		errs.Add("fields", "validation_too_many", "At most 500 fields.")
		return
	}
	names := map[string]bool{}
	ids := map[string]bool{}
	for i := range next.Fields {
		f := &next.Fields[i]
		key := fmt.Sprintf("fields.%d", i)
		if f.ID == "" {
			f.ID = string(f.Type) + core.RandomString(10, "0123456789")
		}
		var old *core.Field
		if prev != nil {
			old = prev.FieldByID(f.ID)
		}
		switch {
		case !fieldIDPattern.MatchString(f.ID):
			errs.Add(key+".id", "validation_invalid_id", "Use 1-100 letters, digits or underscores.")
		case ids[f.ID]:
			errs.Add(key+".id", "validation_duplicated_id", "Field ids must be unique.")
		}
		ids[f.ID] = true
		lname := strings.ToLower(f.Name)
		switch {
		case f.Name == "":
			errs.Add(key+".name", "validation_required", "Cannot be blank.")
		case !core.ValidName(f.Name):
			errs.Add(key+".name", "validation_invalid_name", "Use letters, digits and underscores, starting with a letter or underscore.")
		case names[lname]:
			errs.Add(key+".name", "validation_duplicated_name", fmt.Sprintf("Duplicated field name %q.", f.Name))
		case reservedFieldNames[lname]:
			errs.Add(key+".name", "validation_reserved_name", fmt.Sprintf("%q is reserved.", f.Name))
		case lname == "id" && !f.PrimaryKey:
			errs.Add(key+".name", "validation_reserved_name", `"id" is reserved for the primary key.`)
		}
		names[lname] = true
		if !core.KnownFieldType(f.Type) {
			errs.Add(key+".type", "validation_invalid_type", fmt.Sprintf("Unknown field type %q.", f.Type))
			continue
		}
		if old != nil {
			if old.Type != f.Type {
				errs.Add(key+".type", "validation_field_type_change", "The type of an existing field cannot be changed.")
			}
			if old.System {
				// System fields keep their definition; only presentation may change.
				keep := *old
				keep.Presentable = f.Presentable
				*f = keep
			}
		} else if f.System && (prev == nil || !prev.System) && !isBuiltinField(next, f) {
			f.System = false
		}
		if f.PrimaryKey && (f.Name != "id" || f.Type != core.FieldText) {
			errs.Add(key+".primaryKey", "validation_invalid_primary_key", "Only the text field \"id\" is the primary key.")
		}
		core.PrepareField(f, core.PrepareContext{Collection: next, Lookup: sc.CollectionByNameOrID}, key, errs)
	}
	if prev != nil {
		for _, of := range prev.Fields {
			if of.System && next.FieldByID(of.ID) == nil {
				errs.Add("fields", "validation_system_field", fmt.Sprintf("System field %q cannot be removed.", of.Name))
			}
		}
	}
	if id := next.Field("id"); id == nil || !id.PrimaryKey || id.Type != core.FieldText {
		errs.Add("fields", "validation_missing_id", `The collection must keep its text primary key "id".`)
	}
}

// ensureAuthIndexes puts back the unique indexes an auth collection needs
// (tokenKey, email) if a change left them out.
func ensureAuthIndexes(c *core.Collection) {
	have := func(col string) bool {
		for _, idx := range c.Indexes {
			l := strings.ToLower(idx)
			lc := strings.ToLower(col)
			if strings.Contains(l, "unique") && (strings.Contains(l, "(`"+lc+"`") ||
				strings.Contains(l, "("+lc+")") || strings.Contains(l, "("+lc+" ") || strings.Contains(l, `("`+lc+`"`)) {
				return true
			}
		}
		return false
	}
	for i, col := range []string{"tokenKey", "email"} {
		if !have(col) {
			c.Indexes = append(c.Indexes, core.AuthIndexes(c.Name)[i])
		}
	}
}

// isBuiltinField reports whether f is one of the fields Tortoise itself adds.
func isBuiltinField(c *core.Collection, f *core.Field) bool {
	if f.Name == "id" {
		return true
	}
	if c.Type == core.TypeAuth {
		for _, af := range core.AuthSystemFields() {
			if af.Name == f.Name {
				return true
			}
		}
	}
	return false
}

// Import creates or updates every collection in defs (matched by
// id, then by name) and, with deleteMissing, deletes the non-system
// collections not listed — all in one transaction, so a failure changes
// nothing.
func (s *Service) Import(ctx context.Context, defs []json.RawMessage, deleteMissing bool) error {
	defer s.svc.LockSchema()()

	if len(defs) == 0 {
		return core.FieldInvalid("collections", "validation_required", "Cannot be blank.")
	}
	work := s.svc.Schema()
	type op struct{ prev, next *core.Collection }
	var ops []op
	listed := map[string]bool{}
	imported := map[string]bool{} // lower-cased names of the collections created or changed so far
	for i, raw := range defs {
		wrap := func(err error) error {
			if e := core.AsError(err); e != nil {
				fields := map[string]core.FieldError{}
				for k, v := range e.Fields {
					fields[fmt.Sprintf("collections.%d.%s", i, k)] = v
				}
				if len(fields) == 0 {
					fields[fmt.Sprintf("collections.%d", i)] = core.FieldError{Code: "validation_invalid_collection", Message: e.Message}
				}
				return &core.Error{Kind: e.Kind, Message: "Failed to import the collections.", Fields: fields}
			}
			return err
		}
		var head struct{ ID, Name string }
		if err := json.Unmarshal(raw, &head); err != nil {
			return wrap(core.Invalid("Each collection must be a JSON object."))
		}
		var prev *core.Collection
		if head.ID != "" {
			prev = work.ByID(head.ID)
		}
		if prev == nil && head.Name != "" {
			prev = work.ByName(head.Name)
		}
		next, err := decodeCollection(prev, raw)
		if err != nil {
			return wrap(err)
		}
		if prev == nil {
			if next.ID == "" {
				next.ID = "pbc_" + core.RandomString(10, "0123456789")
			}
		} else {
			next.ID = prev.ID
			if next.Type != prev.Type {
				return wrap(core.FieldInvalid("type", "validation_invalid_type", "The collection type cannot be changed."))
			}
		}
		switch {
		case next.IsView():
			if err := s.importViewFields(ctx, work, prev, next, imported); err != nil {
				return wrap(err)
			}
		case prev == nil:
			s.completeNew(next)
		default:
			carryOver(prev, next)
		}
		if err := s.validateCollection(work, prev, next, byKey(ctx)); err != nil {
			return wrap(err)
		}
		now := core.Now()
		next.Created, next.Updated = now, now
		if prev != nil {
			next.Created = prev.Created
		}
		listed[next.ID] = true
		imported[strings.ToLower(next.Name)] = true
		ops = append(ops, op{prev, next})
		cols := make([]*core.Collection, 0, len(work.List())+1)
		for _, c := range work.List() {
			if c.ID != next.ID {
				cols = append(cols, c)
			}
		}
		work = service.NewSnapshot(append(cols, next))
	}
	var drop []*core.Collection
	if deleteMissing {
		for _, c := range work.List() {
			if !listed[c.ID] && !c.System {
				drop = append(drop, c)
			}
		}
		for _, c := range work.List() {
			if !listed[c.ID] && !c.System {
				continue
			}
			for _, f := range c.Fields {
				for _, d := range drop {
					if f.Type == core.FieldRelation && f.CollectionID == d.ID {
						return core.Invalid("Collection %q cannot be deleted: field %q of %q relates to it.", d.Name, f.Name, c.Name)
					}
				}
			}
		}
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		for _, o := range ops {
			var err error
			if o.prev == nil {
				err = tx.CreateCollection(ctx, o.next)
			} else {
				err = tx.UpdateCollection(ctx, o.prev, o.next)
			}
			if err != nil {
				return err
			}
		}
		for _, d := range drop {
			if err := tx.DeleteCollection(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// What the dropped collections kept outside the database (their
	// files) goes as a delete's does: the orphan sweep passes over the
	// folders of collections the app no longer has.
	for _, d := range drop {
		for _, fn := range s.deleted {
			fn(ctx, d)
		}
	}
	return s.afterSchemaChange(ctx, nil)
}

// collectionsView is the pseudo collection that filters over collections
// (GET /api/collections?filter=...) are checked against.
var collectionsView = &core.Collection{ID: "_collections", Name: "_collections", Fields: []core.Field{
	{Name: "id", Type: core.FieldText}, {Name: "name", Type: core.FieldText}, {Name: "type", Type: core.FieldText},
	{Name: "system", Type: core.FieldBool}, {Name: "created", Type: core.FieldDate}, {Name: "updated", Type: core.FieldDate},
}}

// Find returns the collections matching a filter over their id,
// name, type, system, created and updated.
func (s *Service) Find(filterSrc string) ([]*core.Collection, error) {
	all := append([]*core.Collection(nil), s.svc.Collections()...)
	if strings.TrimSpace(filterSrc) == "" {
		return all, nil
	}
	expr, err := filter.Parse(filterSrc)
	if err != nil {
		return nil, service.FilterError("filter", err)
	}
	env := &filter.Env{Collection: collectionsView, Request: &filter.Request{}, Now: time.Now(), AllowHidden: true}
	var out []*core.Collection
	for _, c := range all {
		rec := &core.Record{Collection: collectionsView, Data: map[string]any{
			"id": c.ID, "name": c.Name, "type": string(c.Type), "system": c.System, "created": c.Created, "updated": c.Updated,
		}}
		ok, err := filter.Eval(expr, env, rec, nil)
		if err != nil {
			return nil, service.FilterError("filter", err)
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// byKeyKey marks a context whose collection changes an API key asks for.
type byKeyKey struct{}

// ByKey returns ctx marking the collection changes made with it as an API
// key's: the rules such a change writes may not reach the system
// collections (see validateCollection).
func ByKey(ctx context.Context) context.Context { return context.WithValue(ctx, byKeyKey{}, true) }

func byKey(ctx context.Context) bool { v, _ := ctx.Value(byKeyKey{}).(bool); return v }

// namedRule is one of a collection's rules with its name in definitions.
type namedRule struct {
	name string
	rule *string // nil: superusers only
}

// rulesOf returns c's rules: the five of every collection, and an auth
// collection's authRule and manageRule.
func rulesOf(c *core.Collection) []namedRule {
	rules := []namedRule{{"listRule", c.ListRule}, {"viewRule", c.ViewRule}, {"createRule", c.CreateRule},
		{"updateRule", c.UpdateRule}, {"deleteRule", c.DeleteRule}}
	if c.Auth != nil {
		rules = append(rules, namedRule{"authRule", c.Auth.AuthRule}, namedRule{"manageRule", c.Auth.ManageRule})
	}
	return rules
}
