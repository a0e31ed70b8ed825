package auth

import (
	"context"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// The mail-based auth flows of PocketBase: email verification, password
// reset, email change and one-time passwords.
//
// Tokens sent by mail are JWTs like auth tokens, each type signed with the
// record's tokenKey joined with its own collection secret, and carrying the
// address they were sent for. A token dies when it expires, when its
// secret is rotated, when the record's email changes, and, for reset and
// email change, when the password changes (which resets tokenKey): so a
// reset or email change token can be used once.

// mailTimeout bounds a mail sent in the background.
const mailTimeout = time.Minute

// errInvalidToken answers every token that does not verify, whatever the
// reason, so the answer tells nothing about accounts.
func errInvalidToken() error {
	return core.FieldInvalid("token", "validation_invalid_token", "Invalid or expired token.")
}

func authCollection(c *core.Collection) error {
	if !c.IsAuth() || c.Auth == nil {
		return core.Invalid("Collection %q is not an auth collection.", c.Name)
	}
	return nil
}

func isVerified(rec *core.Record) bool { v, _ := rec.Data["verified"].(bool); return v }

// findByEmail returns the record of c with this email, nil when there is
// none.
func (s *Service) findByEmail(ctx context.Context, c *core.Collection, email string) (*core.Record, error) {
	rec, err := s.findAuthByIdentity(ctx, c, "email", strings.TrimSpace(email))
	if core.KindOf(err) == core.KindNotFound {
		return nil, nil
	}
	return rec, err
}

// sendLater sends a mail in the background, so that whether a request
// sends one (whether an account exists) does not show in its timing.
// Failures are logged: the requester is told the same thing either way.
func (s *Service) sendLater(kind tmail.Kind, to string, data tmail.Data) {
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		defer cancel()
		if err := s.settings.SendMail(ctx, kind, to, data); err != nil {
			s.svc.Log().Warn("send auth mail", "kind", string(kind), "err", err)
		}
	}()
}

// mailToken signs a token of type typ for rec with the collection secret
// of that type.
func mailToken(rec *core.Record, typ string, cfg core.TokenConfig, newEmail string) (string, error) {
	key := tokens.SigningKey(rec.String("tokenKey"), cfg.Secret)
	tok, err := tokens.SignMailToken(key, rec.ID(), rec.Collection.ID, typ, rec.String("email"), newEmail, seconds(cfg.Duration))
	if err != nil {
		return "", core.Internal(err, "sign %s token", typ)
	}
	return tok, nil
}

// checkMailToken verifies a mailed token of type typ for collection c and
// returns its claims and record. The record's email must still be the one
// the token was sent for. Every failure is errInvalidToken.
func (s *Service) checkMailToken(ctx context.Context, c *core.Collection, token, typ string, cfg core.TokenConfig) (*tokens.Claims, *core.Record, error) {
	claims, err := tokens.Peek(token)
	if err != nil || claims.CollectionID != c.ID || claims.Type != typ {
		return nil, nil, errInvalidToken()
	}
	rec, err := s.store.Get(ctx, c, claims.ID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, nil, errInvalidToken()
		}
		return nil, nil, err
	}
	if _, err := tokens.Verify(token, tokens.SigningKey(rec.String("tokenKey"), cfg.Secret), typ); err != nil {
		return nil, nil, errInvalidToken()
	}
	if claims.Email == "" || !strings.EqualFold(claims.Email, rec.String("email")) {
		return nil, nil, errInvalidToken()
	}
	return claims, rec, nil
}

// setAuthFields stores values on the auth record id of c, bypassing the
// protection of email and verified (the flows have proven the right to
// set them) and, when rotate is set, replaces its tokenKey so that every
// token issued before dies. A non-empty expect is the tokenKey the record
// must still have (see lockedTokenKey), making a token's redemption single
// use even under races.
func (s *Service) setAuthFields(ctx context.Context, c *core.Collection, id string, values map[string]any, rotate bool, expect string) (*core.Record, error) {
	errs := core.ValidationErrors{}
	for name, v := range values {
		if f := c.Field(name); f != nil {
			if fe := core.ValidateValue(f, v); fe != nil {
				errs[name] = *fe
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var rec *core.Record
	err := s.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.Get(ctx, c, id)
		if err != nil {
			return err
		}
		if expect != "" {
			if err := lockedTokenKey(expect)(old); err != nil {
				return err
			}
		}
		rec = old.Clone()
		for name, v := range values {
			rec.Data[name] = v
		}
		if rotate {
			rec.Data["tokenKey"] = core.Generate("[a-zA-Z0-9]{50}")
		}
		if f := c.Field("updated"); f != nil && f.Type == core.FieldAutodate && f.OnUpdate {
			rec.Data["updated"] = core.Now()
		}
		return tx.Update(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// RequestVerification mails a verification link to the record of c with
// this email, if there is one and it is not verified yet. It answers the
// same whether or not there is: nil, or an error about c itself.
func (s *Service) RequestVerification(ctx context.Context, c *core.Collection, email string) error {
	if err := authCollection(c); err != nil {
		return err
	}
	rec, err := s.findByEmail(ctx, c, email)
	if err != nil || rec == nil || isVerified(rec) {
		return err
	}
	tok, err := mailToken(rec, tokens.TypeVerification, c.Auth.VerificationToken, "")
	if err != nil {
		return err
	}
	s.sendLater(tmail.KindVerification, rec.String("email"), tmail.Data{Token: tok})
	return nil
}

// ConfirmVerification marks the record of a verification token verified.
// Errors: KindInvalid with a "token" entry.
func (s *Service) ConfirmVerification(ctx context.Context, c *core.Collection, token string) error {
	if err := authCollection(c); err != nil {
		return err
	}
	_, rec, err := s.checkMailToken(ctx, c, token, tokens.TypeVerification, c.Auth.VerificationToken)
	if err != nil || isVerified(rec) {
		return err
	}
	_, err = s.setAuthFields(ctx, c, rec.ID(), map[string]any{"verified": true}, false, "")
	return err
}

// RequestPasswordReset mails a password reset link to the record of c
// with this email, if there is one. It answers the same whether or not
// there is.
func (s *Service) RequestPasswordReset(ctx context.Context, c *core.Collection, email string) error {
	if err := authCollection(c); err != nil {
		return err
	}
	rec, err := s.findByEmail(ctx, c, email)
	if err != nil || rec == nil {
		return err
	}
	tok, err := mailToken(rec, tokens.TypePasswordReset, c.Auth.PasswordResetToken, "")
	if err != nil {
		return err
	}
	s.sendLater(tmail.KindPasswordReset, rec.String("email"), tmail.Data{Token: tok})
	return nil
}

// ConfirmPasswordReset sets the password of a reset token's record, which
// resets its tokenKey (signing out every session and killing every other
// reset token), and marks the record verified: the user read its mail.
// Errors: KindInvalid with "token", "password" or "passwordConfirm" entries.
func (s *Service) ConfirmPasswordReset(ctx context.Context, c *core.Collection, token, password, passwordConfirm string) error {
	if err := authCollection(c); err != nil {
		return err
	}
	_, rec, err := s.checkMailToken(ctx, c, token, tokens.TypePasswordReset, c.Auth.PasswordResetToken)
	if err != nil {
		return err
	}
	// The records path hashes the password and rotates tokenKey; requiring
	// the tokenKey the token was signed with, under a lock, makes the token
	// single-use even when two redemptions race.
	body := map[string]any{"password": password, "passwordConfirm": passwordConfirm, "verified": true}
	_, err = s.records.UpdateChecked(ctx, &service.Request{Superuser: true, Method: "PATCH"}, c, rec.ID(), body, lockedTokenKey(rec.String("tokenKey")))
	return err
}

// RequestEmailChange mails a confirmation link to newEmail, for the auth
// record rec to change its email to. Errors: KindInvalid with a "newEmail"
// entry (missing, malformed or in use), KindUnavailable (no mail server).
func (s *Service) RequestEmailChange(ctx context.Context, rec *core.Record, newEmail string) error {
	c := rec.Collection
	if err := authCollection(c); err != nil {
		return err
	}
	newEmail = strings.TrimSpace(newEmail)
	if newEmail == "" {
		return core.FieldInvalid("newEmail", "validation_required", "Cannot be blank.")
	}
	if fe := core.ValidateValue(c.Field("email"), newEmail); fe != nil {
		return core.FieldInvalid("newEmail", fe.Code, fe.Message)
	}
	taken, err := s.findByEmail(ctx, c, newEmail)
	if err != nil {
		return err
	}
	if taken != nil {
		return core.FieldInvalid("newEmail", "validation_invalid_new_email", "Invalid or already in use email address.")
	}
	tok, err := mailToken(rec, tokens.TypeEmailChange, c.Auth.EmailChangeToken, newEmail)
	if err != nil {
		return err
	}
	return s.settings.SendMail(ctx, tmail.KindEmailChange, newEmail, tmail.Data{Token: tok, Email: newEmail})
}

// ConfirmEmailChange sets the email of an email change token's record to
// the token's new address, after checking the record's password. The
// record becomes verified and its tokenKey is reset, signing it out
// everywhere. limit, when not nil, runs once the token is known good,
// with the record's email, before the password is checked: the caller's
// per-account limit, whose error is returned. Errors: KindInvalid with a
// "token", "password" or "email" entry.
func (s *Service) ConfirmEmailChange(ctx context.Context, c *core.Collection, token, password string, limit func(account string) error) error {
	if err := authCollection(c); err != nil {
		return err
	}
	claims, rec, err := s.checkMailToken(ctx, c, token, tokens.TypeEmailChange, c.Auth.EmailChangeToken)
	if err != nil {
		return err
	}
	if claims.NewEmail == "" {
		return errInvalidToken()
	}
	if limit != nil {
		if err := limit(rec.String("email")); err != nil {
			return err
		}
	}
	if !passwords.Check(rec.String("password"), password) {
		return core.FieldInvalid("password", "validation_invalid_password", "Missing or invalid password.")
	}
	_, err = s.setAuthFields(ctx, c, rec.ID(), map[string]any{"email": claims.NewEmail, "verified": true}, true, rec.String("tokenKey"))
	return err
}

// OTP code lengths accepted from the collection options.
const (
	minOTPLength     = 4
	defaultOTPLength = 8
	maxOTPLength     = 20
)

// defaultOTPDuration is how long a code lives, in seconds, when the
// collection sets no duration.
const defaultOTPDuration = 180

func otpDuration(c *core.Collection) time.Duration {
	if d := c.Auth.OTP.Duration; d > 0 {
		return seconds(d)
	}
	return seconds(defaultOTPDuration)
}

func otpLength(n int) int {
	switch {
	case n <= 0:
		return defaultOTPLength
	case n < minOTPLength:
		return minOTPLength
	case n > maxOTPLength:
		return maxOTPLength
	}
	return n
}

func otpEnabled(c *core.Collection) error {
	if err := authCollection(c); err != nil {
		return err
	}
	if !c.Auth.OTP.Enabled {
		return core.Invalid("The collection is not configured to allow OTP authentication.")
	}
	return nil
}

// RequestOTP mails a one-time password to the record of c with this email
// and returns the id to log in with it. For an unknown email it returns a
// random id that matches no code, after the same hashing work, so the
// answer tells nothing about accounts. The code is stored bcrypt-hashed.
func (s *Service) RequestOTP(ctx context.Context, c *core.Collection, email string) (string, error) {
	if err := otpEnabled(c); err != nil {
		return "", err
	}
	otps, err := s.svc.Collection(OTPsName)
	if err != nil {
		return "", err
	}
	code := core.RandomString(otpLength(c.Auth.OTP.Length), "0123456789")
	rec, err := s.findByEmail(ctx, c, email)
	if err != nil {
		return "", err
	}
	if rec == nil {
		if _, err := passwords.Hash(code, 0); err != nil {
			return "", core.Internal(err, "hash otp")
		}
		return core.Generate("[a-z0-9]{15}"), nil
	}
	s.deleteExpiredOTPs(ctx, otps, rec)
	to := rec.String("email")
	otp, err := s.records.Create(ctx, &service.Request{Superuser: true, Method: "POST"}, otps, map[string]any{
		"collectionRef": c.ID, "recordRef": rec.ID(), "password": code, "sentTo": to,
	})
	if err != nil {
		return "", err
	}
	s.sendLater(tmail.KindOTP, to, tmail.Data{OTP: code})
	return otp.ID(), nil
}

// deleteExpiredOTPs removes rec's codes that can no longer be used, so
// the table does not grow with every request. Failures only leave rows.
func (s *Service) deleteExpiredOTPs(ctx context.Context, otps *core.Collection, rec *core.Record) {
	cutoff := core.FormatTime(time.Now().Add(-otpDuration(rec.Collection)))
	where := query.And(query.Eq("collectionRef", rec.Collection.ID), query.Eq("recordRef", rec.ID()), query.Lt("created", cutoff))
	err := s.store.Update(ctx, func(tx store.Tx) error {
		res, err := tx.Find(ctx, store.Query{Collection: otps, Where: where, Limit: 100})
		if err != nil {
			return err
		}
		for _, o := range res.Records {
			if err := tx.Delete(ctx, otps, o.ID()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.svc.Log().Warn("delete expired otps", "err", err)
	}
}

// AuthWithOTP logs in with the id RequestOTP returned and the mailed code,
// returning the record and a fresh auth token. A code is used at most
// once: the first attempt, right or wrong, deletes it, so guessing needs
// a new mail per guess (and request-otp is rate limited). It expires
// OTP.Duration seconds after it was created. Success proves the mailbox,
// so a record whose email the code went to becomes verified; then the
// authRule applies; verifying an account so replaces its password and
// signs out its sessions, set by whoever signed up with the address before
// proving it. Every failure is the same KindInvalid error.
func (s *Service) AuthWithOTP(ctx context.Context, c *core.Collection, otpID, code, mfaID string) (*core.Record, string, error) {
	if err := otpEnabled(c); err != nil {
		return nil, "", err
	}
	fail := core.Invalid("Invalid or expired OTP.")
	otps, err := s.svc.Collection(OTPsName)
	if err != nil {
		return nil, "", err
	}
	// Take the code in one transaction: of two concurrent attempts, one
	// finds it gone.
	var otp *core.Record
	err = s.store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Get(ctx, otps, otpID)
		if err != nil {
			return err
		}
		if o.String("collectionRef") != c.ID {
			return core.NotFound("no such otp")
		}
		otp = o
		return tx.Delete(ctx, otps, o.ID())
	})
	if err != nil {
		if core.KindOf(err) != core.KindNotFound {
			return nil, "", err
		}
		passwords.Check("", code) // the same bcrypt work as a real check
		return nil, "", fail
	}
	ok := passwords.Check(otp.String("password"), code)
	created, perr := time.Parse(core.DateLayout, otp.String("created"))
	if !ok || perr != nil || time.Now().After(created.Add(otpDuration(c))) {
		return nil, "", fail
	}
	rec, err := s.store.Get(ctx, c, otp.String("recordRef"))
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, "", fail
		}
		return nil, "", err
	}
	if sentTo := otp.String("sentTo"); sentTo != "" && !strings.EqualFold(sentTo, rec.String("email")) {
		// The code went to an address the account no longer has: it
		// proves that mailbox, which is no longer the account's (as mailed
		// tokens die when the email changes).
		return nil, "", fail
	}
	switch {
	case isVerified(rec) || otp.String("sentTo") == "":
	case mfaID == "":
		// The code proves the address; whoever set the account's password
		// before may not have owned it (anyone can sign up with another's
		// email and wait for them to log in by code). Verifying it so
		// ends what was set before: a new random password, every session
		// signed out. The owner keeps this login and may set a password
		// by a reset.
		pw := core.RandomString(passwordLength(c), core.Alphanumeric)
		body := map[string]any{"password": pw, "passwordConfirm": pw, "verified": true}
		if rec, err = s.records.UpdateChecked(ctx, &service.Request{Superuser: true, Method: "PATCH"}, c, rec.ID(), body,
			lockedTokenKey(rec.String("tokenKey"))); err != nil {
			return nil, "", err
		}
	default:
		// As a second factor, after the password, the code shows the same
		// person holds both: the account only becomes verified.
		if rec, err = s.setAuthFields(ctx, c, rec.ID(), map[string]any{"verified": true}, false, ""); err != nil {
			return nil, "", err
		}
	}
	tok, err := s.completeLogin(ctx, rec, fail, MethodOTP, mfaID)
	if err != nil {
		return nil, "", err
	}
	return rec, tok, nil
}

// passwordLength is the length of a random password for c: 64 characters,
// or its password field's maximum if lower.
func passwordLength(c *core.Collection) int {
	if f := c.Field("password"); f != nil && f.Max != nil && *f.Max > 0 && *f.Max < 64 {
		return int(*f.Max)
	}
	return 64
}
