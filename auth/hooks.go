package auth

import (
	"strings"

	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/store"
)

// hook attaches auth to the writes of auth records.
func (s *Service) hook(recs *records.Service) {
	recs.AcceptKeys(isAuth, "passwordConfirm", "oldPassword")
	recs.OnPrepare(isAuth, s.checkOldPassword)
	recs.OnInput(isAuth, s.guardFields)
	recs.OnWrite(isAuth, s.uniqueID)
	recs.OnDelete(isAuth, s.deleteAccount)
}

// oldPasswordMemo notes, for one write, the stored hash the old password
// was checked against before the transaction and whether it matched.
const oldPasswordMemo = "auth.oldPassword"

type oldPasswordCheck struct {
	against string
	ok      bool
}

// checkOldPassword runs the bcrypt check of oldPassword before the write
// transaction, so the single writer never waits on it.
func (s *Service) checkOldPassword(w *records.Write) error {
	pw, _ := w.Input.Values["password"].(string)
	if w.Old == nil || pw == "" {
		return nil
	}
	oldPw, _ := w.Input.Extra["oldPassword"].(string)
	hash := w.Old.String("password")
	w.SetMemo(oldPasswordMemo, oldPasswordCheck{against: hash, ok: passwords.Check(hash, oldPw)})
	return nil
}

// guardFields keeps an auth record's protected fields to those who may
// change them: tokenKey to nobody, verified and another email to the
// manageRule (and superusers), a new password to whoever confirms it and,
// without manage rights, knows the old one. A new password or email
// replaces the token key, signing out every token issued before.
func (s *Service) guardFields(w *records.Write) error {
	rec, old, in := w.Record, w.Old, w.Input
	creating := w.Creating()
	// Manage rights cost a query (the manageRule), so they are asked only
	// when the body touches a field they guard. On create only superusers
	// (and write keys) manage auth fields; the manageRule is about
	// existing records.
	var manage *bool
	mayManage := func() (bool, error) {
		if manage == nil {
			m := w.Req.Bypasses(rec.Collection, true)
			if !creating && !m {
				var err error
				if m, err = s.canManage(w); err != nil {
					return false, err
				}
			}
			manage = &m
		}
		return *manage, nil
	}
	if _, ok := in.Values["tokenKey"]; ok {
		w.Errors.Add("tokenKey", "validation_readonly", "Cannot be set.")
		delete(in.Values, "tokenKey")
	}
	if v, ok := in.Values["verified"]; ok {
		m, err := mayManage()
		if err != nil {
			return err
		}
		if !m {
			if v != rec.Data["verified"] {
				w.Errors.Add("verified", "validation_readonly", "Only superusers or the manageRule can change this field.")
			}
			delete(in.Values, "verified")
		}
	}
	if v, ok := in.Values["email"]; ok && !creating && v != old.String("email") {
		m, err := mayManage()
		if err != nil {
			return err
		}
		if !m {
			w.Errors.Add("email", "validation_readonly", "Change the email with the request-email-change route.")
			delete(in.Values, "email")
		} else {
			rec.Data["tokenKey"] = core.Generate("[a-zA-Z0-9]{50}")
		}
	}
	pw, set := in.Values["password"].(string)
	if !set || (pw == "" && !creating) {
		return nil
	}
	if confirm, given := in.Extra["passwordConfirm"]; (given || !w.Req.Superuser) && confirm != pw {
		w.Errors.Add("passwordConfirm", "validation_values_mismatch", "Values don't match.")
		return nil
	}
	if !creating {
		m, err := mayManage()
		if err != nil {
			return err
		}
		if !m && !s.oldPasswordOK(w) {
			w.Errors.Add("oldPassword", "validation_invalid_old_password", "Missing or invalid old password.")
			return nil
		}
	}
	rec.Data["tokenKey"] = core.Generate("[a-zA-Z0-9]{50}")
	return nil
}

// oldPasswordOK reports whether the body's oldPassword is the stored one,
// from the check done before the transaction while the stored hash is
// still the one it checked.
func (s *Service) oldPasswordOK(w *records.Write) bool {
	hash := w.Old.String("password")
	if c, ok := w.Memo(oldPasswordMemo).(oldPasswordCheck); ok && c.against == hash {
		return c.ok
	}
	oldPw, _ := w.Input.Extra["oldPassword"].(string)
	return passwords.Check(hash, oldPw)
}

// canManage reports whether w's caller may manage the stored auth record:
// change its email, verified state or password without the old one, as
// the collection's manageRule admits.
func (s *Service) canManage(w *records.Write) (bool, error) {
	c := w.Old.Collection
	// A blank manageRule (refused since, but perhaps stored before) is
	// read as null: it never gives every user manage rights.
	if c.Auth == nil || c.Auth.ManageRule == nil || strings.TrimSpace(*c.Auth.ManageRule) == "" {
		return false, nil
	}
	rule, err := s.svc.RuleSQL(c, c.Auth.ManageRule, w.Req, true)
	if err != nil {
		return false, err
	}
	if _, err := s.svc.GetWhere(w.Ctx, w.Tx, c, w.Old.ID(), rule); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// uniqueID refuses a new auth record whose id an auth record of another
// collection already has: rules compare ids (owner = @request.auth.id),
// so a sign-up elsewhere with a chosen id must not become someone else.
func (s *Service) uniqueID(w *records.Write) error {
	if !w.Creating() {
		return nil
	}
	rec := w.Record
	for _, oc := range s.svc.Collections() {
		if !oc.IsAuth() || oc.ID == rec.Collection.ID {
			continue
		}
		_, err := w.Tx.Get(w.Ctx, oc, rec.ID())
		switch {
		case err == nil:
			return core.FieldInvalid("id", "validation_not_unique", "The id is already in use.")
		case core.KindOf(err) != core.KindNotFound:
			return err
		}
	}
	return nil
}

// deleteAccount keeps the last superuser, and deletes what belongs to a
// deleted account: its linked identities, codes, pending second factors
// and known login origins.
func (s *Service) deleteAccount(w *records.Write) error {
	c, id := w.Record.Collection, w.Record.ID()
	if c.Name == core.SuperusersName {
		res, err := w.Tx.Find(w.Ctx, store.Query{Collection: c, Limit: 1, WithTotal: true})
		if err != nil {
			return err
		}
		if res.Total <= 1 {
			return core.Invalid("The only remaining superuser cannot be deleted.")
		}
	}
	for _, name := range []string{ExternalAuthsName, OTPsName, MFAsName, AuthOriginsName} {
		sys := s.svc.Schema().CollectionByNameOrID(name)
		if sys == nil {
			continue
		}
		res, err := w.Tx.Find(w.Ctx, store.Query{Collection: sys, Where: query.And(query.Eq("collectionRef", c.ID), query.Eq("recordRef", id))})
		if err != nil {
			return err
		}
		for _, r := range res.Records {
			if err := w.Tx.Delete(w.Ctx, sys, r.ID()); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockedTokenKey returns a precondition for records.UpdateChecked that
// refuses unless the record's tokenKey still is want. Single-use tokens
// are signed with the tokenKey their redemption rotates, so two
// redemptions racing cannot both get past this (the record is read under
// a lock).
func lockedTokenKey(want string) func(*core.Record) error {
	return func(cur *core.Record) error {
		if cur.String("tokenKey") != want {
			return errInvalidToken()
		}
		return nil
	}
}
