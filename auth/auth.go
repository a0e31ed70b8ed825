package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// System collections besides _superusers, as PocketBase has them.
const (
	ExternalAuthsName = "_externalAuths" // OAuth2 identities linked to auth records
	OTPsName          = "_otps"          // one-time passwords sent by mail
)

// systemCollections returns the definitions of the system collections.
func systemCollections() []*core.Collection {
	fields := append([]core.Field{core.IDField()}, core.AuthSystemFields()...)
	fields = append(fields, core.AutodateFields()...)
	su := &core.Collection{
		ID: "pbc_3142635823", Name: core.SuperusersName, Type: core.TypeAuth, System: true,
		Fields: fields, Indexes: core.AuthIndexes(core.SuperusersName),
	}
	opts := core.DefaultAuthOptions()
	opts.AuthToken.Duration = core.SuperuserTokenTTL
	opts.KeepSecrets(&core.AuthOptions{})
	su.Auth = &opts

	text := func(id, name string) core.Field {
		return core.Field{ID: id, Name: name, Type: core.FieldText, System: true, Required: true}
	}
	// Users may list their own linked identities, as in PocketBase.
	own := "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId"
	ext := &core.Collection{
		ID: "pbc_2281828961", Name: ExternalAuthsName, Type: core.TypeBase, System: true,
		Fields: append([]core.Field{core.IDField(), text("text1", "collectionRef"), text("text2", "recordRef"),
			text("text3", "provider"), text("text4", "providerId")}, core.AutodateFields()...),
		Indexes: []string{
			"CREATE UNIQUE INDEX `idx_externalAuths_provider` ON `_externalAuths` (`collectionRef`, `provider`, `providerId`)",
			"CREATE INDEX `idx_externalAuths_record` ON `_externalAuths` (`collectionRef`, `recordRef`)",
		},
		ListRule: &own, ViewRule: &own, DeleteRule: &own,
	}
	otps := &core.Collection{
		ID: "pbc_1638494021", Name: OTPsName, Type: core.TypeBase, System: true,
		Fields: append([]core.Field{core.IDField(), text("text1", "collectionRef"), text("text2", "recordRef"),
			{ID: "password1", Name: "password", Type: core.FieldPassword, System: true, Hidden: true, Required: true},
			{ID: "text3", Name: "sentTo", Type: core.FieldText, System: true, Hidden: true}}, core.AutodateFields()...),
		Indexes: []string{"CREATE INDEX `idx_otps_record` ON `_otps` (`collectionRef`, `recordRef`)"},
	}
	return []*core.Collection{su, ext, otps, mfasCollection(), authOriginsCollection()}
}

// UpsertSuperuser creates the superuser with this email, or sets its password
// if it exists. Changing the password invalidates the superuser's tokens.
func (s *Service) UpsertSuperuser(ctx context.Context, email, password string) (*core.Record, error) {
	col, err := s.svc.Collection(core.SuperusersName)
	if err != nil {
		return nil, err
	}
	email = strings.TrimSpace(email)
	existing, err := s.findAuthByIdentity(ctx, col, "email", email)
	if err != nil && core.KindOf(err) != core.KindNotFound {
		return nil, err
	}
	body := map[string]any{"password": password}
	su := &service.Request{Superuser: true}
	if existing == nil {
		body["email"] = email
		return s.records.Create(ctx, su, col, body)
	}
	return s.records.Update(ctx, su, col, existing.ID(), body)
}

// findAuthByIdentity finds an auth record by an identity field's value.
func (s *Service) findAuthByIdentity(ctx context.Context, col *core.Collection, field, value string) (*core.Record, error) {
	if col.Field(field) == nil {
		return nil, core.Invalid("unknown identity field %q", field)
	}
	where := query.Eq(field, value)
	if field == "email" {
		// Emails match case-insensitively, as people type them.
		where = query.EqFold("email", value)
	}
	res, err := s.store.Find(ctx, store.Query{Collection: col, Where: where, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 {
		return nil, core.NotFound("no such account")
	}
	return res.Records[0], nil
}

// AuthWithPassword checks an identity and password against an auth
// collection and returns the record and a fresh token.
func (s *Service) AuthWithPassword(ctx context.Context, col *core.Collection, identity, password, identityField, mfaID string) (*core.Record, string, error) {
	fail := core.Invalid("Failed to authenticate.")
	if !col.IsAuth() || col.Auth == nil || !col.Auth.PasswordAuth.Enabled {
		return nil, "", core.Forbidden("The collection is not configured to allow password authentication.")
	}
	fields := col.Auth.PasswordAuth.IdentityFields
	if identityField != "" {
		fields = []string{identityField}
		ok := false
		for _, f := range col.Auth.PasswordAuth.IdentityFields {
			ok = ok || f == identityField
		}
		if !ok {
			return nil, "", core.FieldInvalid("identityField", "validation_invalid_identity_field", "Invalid identity field.")
		}
	} else {
		fields = emailFirst(col, fields, identity)
	}
	var rec *core.Record
	for _, f := range fields {
		r, err := s.findAuthByIdentity(ctx, col, f, identity)
		if err == nil {
			rec = r
			break
		}
		if core.KindOf(err) != core.KindNotFound {
			return nil, "", err
		}
	}
	hash := ""
	if rec != nil {
		hash = rec.String("password")
	}
	// CheckPassword runs bcrypt even when rec is nil, so timing gives no oracle.
	if !passwords.Check(hash, password) || rec == nil {
		return nil, "", fail
	}
	tok, err := s.completeLogin(ctx, rec, fail, MethodPassword, mfaID)
	if err != nil {
		return nil, "", err
	}
	return rec, tok, nil
}

// emailFirst moves "email" to the front of the identity fields when the
// identity is an email address, as PocketBase does: otherwise a user who
// takes someone's email as their username (a field looked up before
// email) would shut that person out of logging in with it.
func emailFirst(col *core.Collection, fields []string, identity string) []string {
	f := col.Field("email")
	if f == nil || core.ValidateValue(f, identity) != nil {
		return fields
	}
	out := []string{}
	for _, name := range fields {
		if name == "email" {
			out = append([]string{name}, out...)
		} else {
			out = append(out, name)
		}
	}
	return out
}

// completeLogin ends every login method the same way: the authRule must
// admit rec (else fail), multi-factor authentication must be satisfied
// (see secondFactor), and a fresh auth token is issued.
func (s *Service) completeLogin(ctx context.Context, rec *core.Record, fail error, method, mfaID string) (string, error) {
	ok, err := s.mayAuthenticate(ctx, rec)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fail
	}
	if err := s.secondFactor(ctx, rec, method, mfaID); err != nil {
		return "", err
	}
	if err := s.noteOrigin(ctx, rec); err != nil {
		s.svc.Log().Warn("record login origin", "collection", rec.Collection.Name, "err", err)
	}
	return s.NewAuthToken(rec)
}

// mayAuthenticate checks an auth record against its collection's authRule:
// nil disables logging in (superusers excepted), "" lets everyone in, and a
// filter must match the record, with the record as @request.auth.
func (s *Service) mayAuthenticate(ctx context.Context, rec *core.Record) (bool, error) {
	col := rec.Collection
	if col.Name == core.SuperusersName {
		return true, nil
	}
	rule := col.Auth.AuthRule
	if rule == nil {
		return false, nil
	}
	where, err := s.svc.RuleSQL(col, rule, &service.Request{Auth: rec, Method: "POST"}, false)
	if err != nil || where == nil {
		return err == nil, err
	}
	if _, err := s.svc.GetWhere(ctx, s.store, col, rec.ID(), where); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// NewAuthToken issues a refreshable auth token for an auth record, valid
// for its collection's token duration. It checks nothing: routes issue
// tokens through completeLogin or RefreshAuthToken, which apply the
// authRule first.
func (s *Service) NewAuthToken(rec *core.Record) (string, error) {
	return s.signAuthToken(rec, 0, true)
}

// RefreshAuthToken issues a fresh token for rec, the record of a valid
// refreshable token (read afresh from the store by Authenticate, so a
// deleted record never gets here), if its collection's authRule still
// admits it: an account the rule now shuts out (banned, no longer
// verified, logins disabled) cannot keep a session alive by refreshing.
// Errors: KindForbidden, as PocketBase answers.
func (s *Service) RefreshAuthToken(ctx context.Context, rec *core.Record) (string, error) {
	ok, err := s.mayAuthenticate(ctx, rec)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", core.Forbidden("The request doesn't satisfy the collection requirements to authenticate.")
	}
	return s.NewAuthToken(rec)
}

// ImpersonateToken issues a non-refreshable auth token for rec, so a
// superuser can act as that record. duration is in seconds; 0 means the
// collection's token duration. The authRule is deliberately not checked,
// as in PocketBase: the superuser acts knowingly (say, to see what a
// banned user saw), and the token can never be refreshed past it.
func (s *Service) ImpersonateToken(rec *core.Record, duration int64) (string, error) {
	if duration < 0 || duration > core.MaxTokenTTL {
		return "", core.FieldInvalid("duration", "validation_invalid_duration",
			fmt.Sprintf("Duration must be between 0 and %d seconds.", core.MaxTokenTTL))
	}
	return s.signAuthToken(rec, duration, false)
}

func (s *Service) signAuthToken(rec *core.Record, ttl int64, refreshable bool) (string, error) {
	col := rec.Collection
	if !col.IsAuth() || col.Auth == nil {
		return "", core.Invalid("Collection %q is not an auth collection.", col.Name)
	}
	if ttl <= 0 {
		ttl = col.Auth.AuthToken.Duration
	}
	if ttl <= 0 {
		ttl = core.AuthTokenTTL
	}
	key := tokens.SigningKey(rec.String("tokenKey"), col.Auth.AuthToken.Secret)
	tok, err := tokens.Sign(key, rec.ID(), col.ID, tokens.TypeAuth, refreshable, seconds(ttl))
	if err != nil {
		return "", core.Internal(err, "sign token")
	}
	return tok, nil
}

// Authenticate verifies a token and returns the auth record it belongs to
// and whether the token may be refreshed. Errors: KindUnauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (*core.Record, bool, error) {
	claims, err := tokens.Peek(token)
	if err != nil {
		return nil, false, err
	}
	bad := core.Unauthorized("The request requires valid authorization token.")
	col := s.svc.Schema().ByID(claims.CollectionID)
	if col == nil || !col.IsAuth() || col.Auth == nil {
		return nil, false, bad
	}
	rec, err := s.store.Get(ctx, col, claims.ID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, false, bad
		}
		return nil, false, err
	}
	key := tokens.SigningKey(rec.String("tokenKey"), col.Auth.AuthToken.Secret)
	verified, err := tokens.Verify(token, key, tokens.TypeAuth)
	if err != nil {
		return nil, false, err
	}
	return rec, verified.Refreshable, nil
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// FileToken issues a short-lived token (the collection's fileToken
// duration, 3 minutes by default) with which rec may download protected
// files: GET /api/files/...?token=. It is signed with the record's token
// key, so a password change or "log out everywhere" voids it too.
func (s *Service) FileToken(rec *core.Record) (string, error) {
	col := rec.Collection
	if !col.IsAuth() || col.Auth == nil {
		return "", core.Invalid("Collection %q is not an auth collection.", col.Name)
	}
	ttl := col.Auth.FileToken.Duration
	if ttl <= 0 {
		ttl = 180
	}
	key := tokens.SigningKey(rec.String("tokenKey"), col.Auth.FileToken.Secret)
	tok, err := tokens.Sign(key, rec.ID(), col.ID, tokens.TypeFile, false, seconds(ttl))
	if err != nil {
		return "", core.Internal(err, "sign token")
	}
	return tok, nil
}

// AuthenticateFile verifies a file token and returns the auth record it
// belongs to. Errors: KindUnauthorized.
func (s *Service) AuthenticateFile(ctx context.Context, token string) (*core.Record, error) {
	bad := core.Unauthorized("Invalid or expired file token.")
	claims, err := tokens.Peek(token)
	if err != nil {
		return nil, bad
	}
	col := s.svc.Schema().ByID(claims.CollectionID)
	if col == nil || !col.IsAuth() || col.Auth == nil {
		return nil, bad
	}
	rec, err := s.store.Get(ctx, col, claims.ID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, bad
		}
		return nil, err
	}
	if _, err := tokens.Verify(token, tokens.SigningKey(rec.String("tokenKey"), col.Auth.FileToken.Secret), tokens.TypeFile); err != nil {
		return nil, bad
	}
	return rec, nil
}
