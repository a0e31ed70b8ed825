package records

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// Input is a record body read once, the way its fields read it: every
// value converted to the type its field stores and every modifier
// ("field+", "+field", "field-") applied, so that what the access rules
// test and what the store writes are the same values.
//
// A body is read in two steps with the rules in between: readInput
// resolves the values (it needs no permission), the rules run against
// RuleBody, and apply then lets the Input hooks check what the caller may
// change and sets the values on the record.
type Input struct {
	// Values holds each field the body set, by its plain name. A password
	// field holds the submitted plain text until it is hashed.
	Values map[string]any
	// Extra holds the body keys that are not fields but that a feature
	// accepts for the collection (see AcceptKeys), as sent.
	Extra map[string]any
	// hashed holds bcrypt work done before the write transaction.
	hashed map[string]*hashWork
}

// hashWork is bcrypt of a new password, done before the write
// transaction, so the one SQLite writer never waits on bcrypt.
type hashWork struct {
	plain, hash string
}

// prehash hashes the password fields body sets. A failure here is left
// for apply to report.
func prehash(c *core.Collection, body map[string]any) map[string]*hashWork {
	var out map[string]*hashWork
	for i := range c.Fields {
		f := &c.Fields[i]
		pw, _ := body[f.Name].(string)
		if f.Type != core.FieldPassword || pw == "" || core.ValidateValue(f, pw) != nil {
			continue
		}
		hash, err := passwords.Hash(pw, f.Cost)
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]*hashWork{}
		}
		out[f.Name] = &hashWork{plain: pw, hash: hash}
	}
	return out
}

// hasPassword reports whether body sets one of c's password fields.
func hasPassword(c *core.Collection, body map[string]any) bool {
	for i := range c.Fields {
		if c.Fields[i].Type == core.FieldPassword {
			if pw, _ := body[c.Fields[i].Name].(string); pw != "" {
				return true
			}
		}
	}
	return false
}

// readInput resolves body against base: the stored record on update, a
// new record on create. Modifiers start from the body's plain value for
// the same field if it has one, else from base. The errors name the body
// key that is wrong; the input is usable for the rules even when there
// are errors (the caller reports them after the rules ran, so a record
// the caller may not change answers the same whatever its body says).
//
// Hidden fields are closed to callers who may not see them (see
// seesHidden): their keys answer as unknown fields, as in filters, so
// that a body cannot set what rules may trust (an isAdmin flag) nor learn
// which hidden fields exist.
func (s *Service) readInput(c *core.Collection, base *core.Record, body map[string]any, hidden bool) (*Input, error) {
	if len(body) > 1000 {
		return nil, core.Invalid("Too many fields in the request body.")
	}
	in := &Input{Values: map[string]any{}, Extra: map[string]any{}}
	errs := core.ValidationErrors{}
	type mod struct {
		key, name, op string
		val           any
	}
	var mods []mod
	for key, val := range body {
		name, op := splitModifier(key)
		switch name {
		case "collectionId", "collectionName", "expand":
			continue
		}
		f := c.Field(name)
		if f != nil && !hidden && closedField(c, f) {
			errs.Add(key, "validation_unknown_field", fmt.Sprintf("Unknown field %q.", key))
			continue
		}
		if f == nil {
			if op == "" && s.accepts(c, name) {
				in.Extra[name] = val
				continue
			}
			errs.Add(key, "validation_unknown_field", fmt.Sprintf("Unknown field %q.", key))
			continue
		}
		switch f.Type {
		case core.FieldAutodate:
			continue // set by the server only
		case core.FieldFile:
			if op != "" {
				mods = append(mods, mod{key, name, op, val})
				continue
			}
			names, fe := fileValue(core.StringsOf(base.Data[name]), val)
			if fe == nil {
				in.Values[name], fe = fileFieldValue(f, names)
			}
			if fe != nil {
				errs[key] = *fe
			}
			continue
		}
		if op != "" {
			mods = append(mods, mod{key, name, op, val})
			continue
		}
		v, fe := core.CoerceValue(f, val)
		if fe != nil {
			errs[key] = *fe
			continue
		}
		in.Values[name] = v
	}
	// Modifiers after plain values, in a fixed order, so "tags" with
	// "tags+" and "tags-" combine the same way every time.
	sort.Slice(mods, func(i, j int) bool { return mods[i].key < mods[j].key })
	for _, m := range mods {
		f := c.Field(m.name)
		cur, set := in.Values[f.Name]
		if !set {
			cur = base.Data[f.Name]
		}
		switch {
		case f.Type == core.FieldNumber && (m.op == "+" || m.op == "-"):
			v, fe := core.CoerceValue(f, m.val)
			if fe != nil {
				errs[m.key] = *fe
				continue
			}
			n, _ := cur.(float64)
			if m.op == "+" {
				in.Values[f.Name] = n + v.(float64)
			} else {
				in.Values[f.Name] = n - v.(float64)
			}
		case f.Type == core.FieldSelect || f.Type == core.FieldRelation:
			v, fe := core.CoerceValue(&core.Field{Type: f.Type, MaxSelect: 2}, m.val)
			if fe != nil {
				errs[m.key] = *fe
				continue
			}
			items := v.([]string)
			now := core.StringsOf(cur)
			var next []string
			switch m.op {
			case "+":
				next = core.Dedupe(append(append([]string{}, now...), items...))
			case "^+":
				next = core.Dedupe(append(append([]string{}, items...), now...))
			case "-":
				next = now
				for _, it := range items {
					next = removeString(next, it)
				}
			}
			switch {
			case f.IsMultiple():
				in.Values[f.Name] = next
			case len(next) > 0:
				in.Values[f.Name] = next[len(next)-1]
			default:
				in.Values[f.Name] = ""
			}
		case f.Type == core.FieldFile:
			now := core.StringsOf(cur)
			var next []string
			switch m.op {
			case "+", "^+":
				names, ups := splitFileValue(m.val)
				if len(names) > 0 {
					errs.Add(m.key, "validation_invalid_file", "Only uploaded files can be added with a modifier.")
					continue
				}
				var added []string
				for _, up := range ups {
					added = append(added, up.storedName())
				}
				switch {
				case !f.IsMultiple() && len(added) > 0:
					next = added[max(0, len(added)-1):] // a new file replaces the one
				case m.op == "+":
					next = core.Dedupe(append(append([]string{}, now...), added...))
				default:
					next = core.Dedupe(append(added, now...))
				}
			case "-":
				next = now
				names, _ := splitFileValue(m.val)
				for _, n := range names {
					next = removeString(next, n)
				}
			}
			v, fe := fileFieldValue(f, next)
			if fe != nil {
				errs[m.key] = *fe
				continue
			}
			in.Values[f.Name] = v
		default:
			errs.Add(m.key, "validation_invalid_modifier", fmt.Sprintf("The %q modifier does not apply to field %q.", strings.TrimPrefix(m.op, "^"), f.Name))
		}
	}
	return in, errs.Err()
}

// seesHidden reports whether req sees c's hidden fields, as the answers
// show them: superusers do, and superuser API keys outside the system
// collections (which keys meet as guests). Only they may set hidden
// fields or expand hidden relations.
func seesHidden(req *service.Request, c *core.Collection) bool {
	return req != nil && req.Superuser && !(req.Key != nil && c.System)
}

// closedField reports whether f is a hidden field that only those who
// seesHidden may set. Passwords are hidden yet set by their owners, and
// an auth record's tokenKey has its own refusal (the auth hooks).
func closedField(c *core.Collection, f *core.Field) bool {
	return f.Hidden && f.Type != core.FieldPassword && !(c.IsAuth() && f.Name == "tokenKey")
}

// splitModifier splits a body key into its field name and modifier:
// "+" (append, or add for numbers), "^+" (prepend) or "-" (remove, or
// subtract); "" for a plain key.
func splitModifier(key string) (name, op string) {
	switch {
	case len(key) > 1 && strings.HasSuffix(key, "+"):
		return key[:len(key)-1], "+"
	case len(key) > 1 && strings.HasPrefix(key, "+"):
		return key[1:], "^+"
	case len(key) > 1 && strings.HasSuffix(key, "-"):
		return key[:len(key)-1], "-"
	}
	return key, ""
}

// RuleBody is what @request.body.* sees: the resolved value of every field
// the body set (a modifier key sets its field), under the field's plain
// name, and the other keys a collection accepts as they were sent.
func (in *Input) RuleBody() map[string]any {
	if in == nil {
		return nil
	}
	out := make(map[string]any, len(in.Values)+len(in.Extra))
	for k, v := range in.Extra {
		out[k] = v
	}
	for k, v := range in.Values {
		if raw, ok := v.(json.RawMessage); ok && raw == nil {
			v = nil // a json field set to null
		}
		out[k] = v
	}
	return out
}

// apply runs the Input hooks, then sets in's remaining values on w.Record
// (w.Old is the stored record on update, nil on create), hashing
// passwords, and validates the result and fills in generated values.
func (s *Service) apply(w *Write) error {
	rec, old, in := w.Record, w.Old, w.Input
	c := rec.Collection
	w.Errors = core.ValidationErrors{}
	if err := run(s.hooks.input, c, w); err != nil {
		return err
	}
	errs := w.Errors
	creating := old == nil
	names := make([]string, 0, len(in.Values))
	for name := range in.Values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := in.Values[name]
		f := c.Field(name)
		switch {
		case name == "id" && !creating:
			if v != old.ID() {
				errs.Add(name, "validation_readonly", "The id cannot be changed.")
			}
			continue
		case f.Type == core.FieldPassword:
			pw, _ := v.(string)
			if pw == "" && !creating {
				continue // an empty password on update keeps the old one
			}
			if fe := core.ValidateValue(f, pw); fe != nil {
				errs[name] = *fe
				continue
			}
			hash, err := in.hash(f, pw)
			if err != nil {
				// bcrypt's only refusal of a password: longer than 72 bytes.
				errs.Add(name, "validation_max_text_constraint", "Must be at most 72 bytes.")
				continue
			}
			rec.Data[name] = hash
			continue
		}
		rec.Data[name] = v
	}
	if err := errs.Err(); err != nil {
		return err
	}
	now := core.Now()
	for i := range c.Fields {
		f := &c.Fields[i]
		switch {
		case f.Type == core.FieldAutodate:
			if (creating && f.OnCreate) || (!creating && f.OnUpdate) {
				rec.Data[f.Name] = now
			}
			continue
		case f.Type == core.FieldText && creating && rec.Data[f.Name] == "" && f.AutogeneratePattern != "":
			rec.Data[f.Name] = core.Generate(f.AutogeneratePattern)
		}
		if f.Type == core.FieldPassword {
			if rec.Data[f.Name] == "" && f.Required {
				errs.Add(f.Name, "validation_required", "Cannot be blank.")
			}
			continue
		}
		if fe := core.ValidateValue(f, rec.Data[f.Name]); fe != nil {
			errs[f.Name] = *fe
		}
	}
	if creating {
		if id := rec.ID(); id != "" && !core.ValidName("x"+id) {
			errs.Add("id", "validation_invalid_format", "Invalid id format.")
		}
	}
	return errs.Err()
}

// hash returns the bcrypt hash of pw for field f, from the work done
// before the transaction when there is some.
func (in *Input) hash(f *core.Field, pw string) (string, error) {
	if w := in.hashed[f.Name]; w != nil && w.plain == pw {
		return w.hash, nil
	}
	return passwords.Hash(pw, f.Cost)
}
