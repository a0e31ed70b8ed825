package service

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/core"
)

// input is a record body read once, the way its fields read it: every
// value converted to the type its field stores and every modifier
// ("field+", "+field", "field-") applied, so that what the access rules
// test and what the store writes are the same values.
//
// A body is read in two steps with the rules in between: readInput
// resolves the values (it needs no permission), the rules run against
// ruleBody, and applyInput then checks what the caller may change and
// writes the values on the record.
type input struct {
	// values holds each field the body set, by its plain name. A password
	// field holds the submitted plain text until applyInput hashes it.
	values map[string]any
	// extra holds the body keys that are not fields but mean something to
	// a collection (passwordConfirm and oldPassword of auth collections).
	extra map[string]any
	// hashed holds bcrypt work done before the write transaction, by
	// field name (see prehash).
	hashed map[string]*hashWork
}

// hashWork is the CPU-bound part of setting a password — bcrypt of the
// new one and the check of the old one — done before the write
// transaction, so the one SQLite writer never waits on bcrypt.
type hashWork struct {
	plain string
	hash  string
	// against is the stored hash the old password was checked against,
	// and oldOK the outcome; they count only while the record still has
	// that hash when the transaction reads it.
	against string
	oldOK   bool
}

// prehash does the bcrypt work for the password fields body sets, against
// stored (the record as read before the transaction; nil on create). A
// failure here is left for setPassword to report.
func prehash(c *core.Collection, stored *core.Record, body map[string]any) map[string]*hashWork {
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
		w := &hashWork{plain: pw, hash: hash}
		if stored != nil && c.IsAuth() && f.Name == "password" {
			oldPw, _ := body["oldPassword"].(string)
			w.against = stored.String("password")
			w.oldOK = passwords.Check(w.against, oldPw)
		}
		if out == nil {
			out = map[string]*hashWork{}
		}
		out[f.Name] = w
	}
	return out
}

// readInput resolves body against base: the stored record on update, a
// new record on create. Modifiers start from the body's plain value for
// the same field if it has one, else from base. The errors name the body
// key that is wrong; the input is usable for the rules even when there
// are errors (the caller reports them after the rules ran, so a record
// the caller may not change answers the same whatever its body says).
func readInput(c *core.Collection, base *core.Record, body map[string]any) (*input, error) {
	if len(body) > 1000 {
		return nil, core.Invalid("Too many fields in the request body.")
	}
	in := &input{values: map[string]any{}, extra: map[string]any{}}
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
		if f == nil {
			if c.IsAuth() && op == "" && (name == "passwordConfirm" || name == "oldPassword") {
				in.extra[name] = val
				continue
			}
			errs.Add(key, "validation_unknown_field", fmt.Sprintf("Unknown field %q.", key))
			continue
		}
		switch f.Type {
		case core.FieldAutodate:
			continue // set by the server only
		case core.FieldFile:
			errs.Add(key, "validation_file_upload", "File uploads are not supported yet.")
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
		in.values[name] = v
	}
	// Modifiers after plain values, in a fixed order, so "tags" with
	// "tags+" and "tags-" combine the same way every time.
	sort.Slice(mods, func(i, j int) bool { return mods[i].key < mods[j].key })
	for _, m := range mods {
		f := c.Field(m.name)
		cur, set := in.values[f.Name]
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
				in.values[f.Name] = n + v.(float64)
			} else {
				in.values[f.Name] = n - v.(float64)
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
				in.values[f.Name] = next
			case len(next) > 0:
				in.values[f.Name] = next[len(next)-1]
			default:
				in.values[f.Name] = ""
			}
		default:
			errs.Add(m.key, "validation_invalid_modifier", fmt.Sprintf("The %q modifier does not apply to field %q.", strings.TrimPrefix(m.op, "^"), f.Name))
		}
	}
	return in, errs.Err()
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

// ruleBody is what @request.body.* sees: the resolved value of every field
// the body set (a modifier key sets its field), under the field's plain
// name, and the other keys a collection reads as they were sent.
func (in *input) ruleBody() map[string]any {
	if in == nil {
		return nil
	}
	out := make(map[string]any, len(in.values)+len(in.extra))
	for k, v := range in.extra {
		out[k] = v
	}
	for k, v := range in.values {
		if raw, ok := v.(json.RawMessage); ok && raw == nil {
			v = nil // a json field set to null
		}
		out[k] = v
	}
	return out
}

// applyInput checks what the caller may change and sets in's values on
// rec (old is the stored record on update, nil on create), hashing
// passwords, then validates the result and fills in generated values.
// manage says the caller may manage an auth record's protected fields
// (see canManage).
func (s *Service) applyInput(rec, old *core.Record, in *input, req *Request, manage bool) error {
	c := rec.Collection
	errs := core.ValidationErrors{}
	creating := old == nil
	names := make([]string, 0, len(in.values))
	for name := range in.values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := in.values[name]
		f := c.Field(name)
		if c.IsAuth() {
			switch name {
			case "tokenKey":
				errs.Add(name, "validation_readonly", "Cannot be set.")
				continue
			case "verified":
				if !manage {
					if v != rec.Data["verified"] {
						errs.Add(name, "validation_readonly", "Only superusers or the manageRule can change this field.")
					}
					continue
				}
			case "email":
				if !creating && v != old.String("email") {
					if !manage {
						errs.Add(name, "validation_readonly", "Change the email with the request-email-change route.")
						continue
					}
					// Like a new password, a new email signs out every
					// token issued before it, whichever route changed it.
					rec.Data["tokenKey"] = core.Generate("[a-zA-Z0-9]{50}")
				}
			}
		}
		switch {
		case name == "id" && !creating:
			if v != old.ID() {
				errs.Add(name, "validation_readonly", "The id cannot be changed.")
			}
			continue
		case f.Type == core.FieldPassword:
			if fe := s.setPassword(rec, old, f, v.(string), in, req, manage); fe != nil {
				errs[fe.key] = fe.FieldError
			}
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

type keyedError struct {
	key string
	core.FieldError
}

// setPassword hashes the plain password pw into rec's field f. On an auth
// collection's password it also requires passwordConfirm and, from a
// caller who does not manage the record, the old password; and it rotates
// the token key so that every token issued before dies.
func (s *Service) setPassword(rec, old *core.Record, f *core.Field, pw string, in *input, req *Request, manage bool) *keyedError {
	creating := old == nil
	if pw == "" && !creating {
		return nil // an empty password on update keeps the old one
	}
	if fe := core.ValidateValue(f, pw); fe != nil {
		return &keyedError{f.Name, *fe}
	}
	isAuthPassword := rec.Collection.IsAuth() && f.Name == "password"
	if isAuthPassword {
		if confirm, given := in.extra["passwordConfirm"]; (given || !req.Superuser) && confirm != pw {
			return &keyedError{"passwordConfirm", core.FieldError{Code: "validation_values_mismatch", Message: "Values don't match."}}
		}
		if !creating && !manage {
			var ok bool
			if w := in.hashed[f.Name]; w != nil && w.plain == pw && w.against == old.String("password") {
				ok = w.oldOK
			} else {
				oldPw, _ := in.extra["oldPassword"].(string)
				ok = passwords.Check(old.String("password"), oldPw)
			}
			if !ok {
				return &keyedError{"oldPassword", core.FieldError{Code: "validation_invalid_old_password", Message: "Missing or invalid old password."}}
			}
		}
	}
	var hash string
	var err error
	if w := in.hashed[f.Name]; w != nil && w.plain == pw {
		hash = w.hash
	} else if hash, err = passwords.Hash(pw, f.Cost); err != nil {
		// bcrypt's only refusal of a password: longer than 72 bytes.
		return &keyedError{f.Name, core.FieldError{Code: "validation_max_text_constraint", Message: "Must be at most 72 bytes."}}
	}
	rec.Data[f.Name] = hash
	if isAuthPassword {
		rec.Data["tokenKey"] = core.Generate("[a-zA-Z0-9]{50}")
	}
	return nil
}
