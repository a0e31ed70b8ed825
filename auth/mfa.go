package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// MFAsName is the system collection of first factors awaiting a second.
const MFAsName = "_mfas"

// Login methods, as recorded in _mfas.
const (
	MethodPassword = "password"
	MethodOTP      = "otp"
	MethodOAuth2   = "oauth2"
)

func mfasCollection() *core.Collection {
	text := func(id, name string) core.Field {
		return core.Field{ID: id, Name: name, Type: core.FieldText, System: true, Required: true}
	}
	return &core.Collection{
		ID: "pbc_2279338944", Name: MFAsName, Type: core.TypeBase, System: true,
		Fields: append([]core.Field{core.IDField(), text("text1", "collectionRef"), text("text2", "recordRef"),
			text("text3", "method")}, core.AutodateFields()...),
		Indexes: []string{"CREATE INDEX `idx_mfas_record` ON `_mfas` (`collectionRef`, `recordRef`)"},
	}
}

// MFARequired is the answer to a first factor when multi-factor
// authentication applies: the client must log in again with another
// method and this ID. The API answers it with 401 {"mfaId": ID}, as
// PocketBase does.
type MFARequired struct{ ID string }

func (e *MFARequired) Error() string { return "multi-factor authentication required" }

// mfaApplies reports whether rec must pass a second factor.
func (s *Service) mfaApplies(ctx context.Context, rec *core.Record) (bool, error) {
	c := rec.Collection
	if c.Auth == nil || !c.Auth.MFA.Enabled {
		return false, nil
	}
	if c.Auth.MFA.Rule == "" {
		return true, nil
	}
	rule := c.Auth.MFA.Rule
	where, err := s.svc.RuleSQL(c, &rule, &service.Request{Auth: rec, Method: "POST"}, false)
	if err != nil || where == nil {
		return err == nil, err
	}
	if _, err := s.svc.GetWhere(ctx, s.store, c, rec.ID(), where); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// secondFactor handles MFA at the end of a successful login with method.
// Without mfaID it records this first factor and returns *MFARequired.
// With one, it checks the first factor was this record's, recent, and made
// with another method, and consumes it.
func (s *Service) secondFactor(ctx context.Context, rec *core.Record, method, mfaID string) error {
	applies, err := s.mfaApplies(ctx, rec)
	if err != nil || !applies {
		return err
	}
	col := s.svc.Schema().CollectionByNameOrID(MFAsName)
	if col == nil {
		return core.Internal(fmt.Errorf("no %s collection", MFAsName), "mfa")
	}
	c := rec.Collection
	if mfaID == "" {
		m := core.NewRecord(col)
		now := core.Now()
		m.Data["id"], m.Data["collectionRef"], m.Data["recordRef"], m.Data["method"] = core.NewID(), c.ID, rec.ID(), method
		m.Data["created"], m.Data["updated"] = now, now
		if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, m) }); err != nil {
			return err
		}
		return &MFARequired{ID: m.ID()}
	}
	bad := core.FieldInvalid("mfaId", "validation_invalid_mfa", "Invalid or expired MFA session.")
	return s.store.Update(ctx, func(tx store.Tx) error {
		m, err := tx.Get(ctx, col, mfaID)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound {
				return bad
			}
			return err
		}
		created, perr := time.Parse(core.DateLayout, m.String("created"))
		ttl := time.Duration(c.Auth.MFA.Duration) * time.Second
		if ttl <= 0 {
			ttl = 30 * time.Minute
		}
		if m.String("collectionRef") != c.ID || m.String("recordRef") != rec.ID() || m.String("method") == method ||
			perr != nil || time.Since(created) > ttl {
			return bad
		}
		return tx.Delete(ctx, col, mfaID)
	})
}
