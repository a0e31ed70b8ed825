package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/store"
)

// AuthOriginsName is the system collection of the places (client address
// and user agent) each account has logged in from, for login alerts.
const AuthOriginsName = "_authOrigins"

func authOriginsCollection() *core.Collection {
	text := func(id, name string) core.Field {
		return core.Field{ID: id, Name: name, Type: core.FieldText, System: true, Required: true}
	}
	return &core.Collection{
		ID: "pbc_4275539003", Name: AuthOriginsName, Type: core.TypeBase, System: true,
		Fields: append([]core.Field{core.IDField(), text("text1", "collectionRef"), text("text2", "recordRef"),
			{ID: "text3", Name: "fingerprint", Type: core.FieldText, System: true, Required: true, Hidden: true}}, core.AutodateFields()...),
		Indexes: []string{"CREATE UNIQUE INDEX `idx_authOrigins_unique` ON `_authOrigins` (`collectionRef`, `recordRef`, `fingerprint`)"},
	}
}

type originKey struct{}

// Origin is where a request comes from, as far as login alerts care.
type Origin struct {
	IP        string
	UserAgent string
}

// WithOrigin returns a context carrying the request's origin; logins made
// with it record the origin and, for collections with authAlert on, mail
// the account when it is new.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// noteOrigin records where rec just logged in from and, when that is a new
// place for an account that logged in before and its collection wants
// alerts, mails the account.
func (s *Service) noteOrigin(ctx context.Context, rec *core.Record) error {
	o, ok := ctx.Value(originKey{}).(Origin)
	col := s.svc.Schema().CollectionByNameOrID(AuthOriginsName)
	if !ok || col == nil {
		return nil
	}
	c := rec.Collection
	sum := sha256.Sum256([]byte(o.IP + "\x00" + o.UserAgent))
	fp := hex.EncodeToString(sum[:])
	isNew, hadOthers := false, false
	err := s.store.Update(ctx, func(tx store.Tx) error {
		res, err := tx.Find(ctx, store.Query{Collection: col, Limit: 1, WithTotal: true, Where: query.And(
			query.Eq("collectionRef", c.ID), query.Eq("recordRef", rec.ID()))})
		if err != nil {
			return err
		}
		hadOthers = res.Total > 0
		seen, err := tx.Find(ctx, store.Query{Collection: col, Limit: 1, Where: query.And(
			query.Eq("collectionRef", c.ID), query.Eq("recordRef", rec.ID()), query.Eq("fingerprint", fp))})
		if err != nil {
			return err
		}
		now := core.Now()
		if len(seen.Records) > 0 {
			r := seen.Records[0].Clone()
			r.Data["updated"] = now
			return tx.Update(ctx, r)
		}
		isNew = true
		r := core.NewRecord(col)
		r.Data["id"], r.Data["collectionRef"], r.Data["recordRef"], r.Data["fingerprint"] = core.NewID(), c.ID, rec.ID(), fp
		r.Data["created"], r.Data["updated"] = now, now
		return tx.Insert(ctx, r)
	})
	if err != nil {
		return err
	}
	if isNew && hadOthers && c.Auth != nil && c.Auth.AuthAlert.Enabled && rec.String("email") != "" {
		info := fmt.Sprintf("When: %s\nAddress: %s\nDevice: %s", time.Now().UTC().Format(time.RFC1123), o.IP, o.UserAgent)
		s.sendLater(tmail.KindLoginAlert, rec.String("email"), tmail.Data{Extra: map[string]any{"Info": info}})
	}
	return nil
}
