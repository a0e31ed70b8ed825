// Package apikeys makes, lists, revokes and checks the API keys of
// server-to-server calls. A key is shown once; only its SHA-256 is kept, in
// the system collection _apiKeys, with its scope (service.APIKey).
package apikeys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// CollectionName is the system collection holding API keys (hashed).
const CollectionName = "_apiKeys"

// Prefix starts every API key, so keys are recognisable in headers,
// logs and secret scanners.
const Prefix = "tk_"

// Service manages API keys.
type Service struct {
	svc   *service.Service
	store store.Store
}

// New returns the API key service, registering its system collection.
func New(svc *service.Service) *Service {
	svc.RegisterSystemCollection(collection())
	return &Service{svc: svc, store: svc.Store()}
}

func collection() *core.Collection {
	return &core.Collection{
		ID: "pbc_4036195471", Name: CollectionName, Type: core.TypeBase, System: true,
		Fields: append([]core.Field{core.IDField(),
			{ID: "text1", Name: "name", Type: core.FieldText, System: true, Required: true, Max: &maxName},
			// The hash sits in a password field, so no API response shows it.
			{ID: "password1", Name: "keyHash", Type: core.FieldPassword, System: true, Hidden: true, Required: true},
			{ID: "text2", Name: "prefix", Type: core.FieldText, System: true},
			{ID: "json1", Name: "scope", Type: core.FieldJSON, System: true},
			{ID: "date1", Name: "lastUsed", Type: core.FieldDate, System: true},
		}, core.AutodateFields()...),
		Indexes: []string{"CREATE UNIQUE INDEX `idx_apiKeys_hash` ON `_apiKeys` (`keyHash`)"},
	}
}

var maxName = 100.0

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Input is what a superuser posts to create a key.
type Input struct {
	Name        string   `json:"name"`
	Superuser   bool     `json:"superuser"`
	Collections []string `json:"collections"` // names or ids
	Write       bool     `json:"write"`
	// Scopes: "jobs", "webhooks" (see service.APIKey.Scopes).
	Scopes []string `json:"scopes"`
}

// Create makes a key and returns it in clear, once; only its hash is
// kept. Keys for collections cannot reach system collections: that takes a
// superuser key.
func (s *Service) Create(ctx context.Context, in Input) (string, *service.APIKey, error) {
	errs := core.ValidationErrors{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		errs.Add("name", "validation_required", "Give the key a name (at most 100 characters).")
	}
	key := &service.APIKey{Name: in.Name, Superuser: in.Superuser, Write: in.Write, Collections: []string{}}
	for i, sc := range in.Scopes {
		if sc != service.ScopeJobs && sc != service.ScopeWebhooks {
			errs.Add(fmt.Sprintf("scopes.%d", i), "validation_invalid_scope", fmt.Sprintf("Unknown scope %q: use jobs or webhooks.", sc))
		} else if !in.Superuser && !slices.Contains(key.Scopes, sc) {
			key.Scopes = append(key.Scopes, sc)
		}
	}
	if !in.Superuser {
		if len(in.Collections) == 0 && len(in.Scopes) == 0 {
			errs.Add("collections", "validation_required", "Name the collections (or scopes) the key may use, or make it a superuser key.")
		}
		for i, n := range in.Collections {
			c := s.svc.Schema().CollectionByNameOrID(n)
			switch {
			case c == nil:
				errs.Add(fmt.Sprintf("collections.%d", i), "validation_missing_collection", fmt.Sprintf("Unknown collection %q.", n))
			case c.System:
				errs.Add(fmt.Sprintf("collections.%d", i), "validation_system_collection", "System collections need a superuser key.")
			default:
				key.Collections = append(key.Collections, c.ID)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return "", nil, err
	}
	col := s.svc.Schema().CollectionByNameOrID(CollectionName)
	if col == nil {
		return "", nil, core.Internal(fmt.Errorf("no %s collection", CollectionName), "api keys")
	}
	secret := Prefix + core.RandomString(40, core.Alphanumeric)
	scope, _ := json.Marshal(key)
	rec := core.NewRecord(col)
	now := core.Now()
	key.ID = core.NewID()
	rec.Data["id"], rec.Data["name"], rec.Data["keyHash"] = key.ID, key.Name, hashKey(secret)
	rec.Data["prefix"], rec.Data["scope"] = secret[:8], json.RawMessage(scope)
	rec.Data["created"], rec.Data["updated"] = now, now
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec) }); err != nil {
		return "", nil, err
	}
	return secret, key, nil
}

// List lists the keys (never their secrets), newest first.
func (s *Service) List(ctx context.Context) ([]*core.Record, error) {
	col := s.svc.Schema().CollectionByNameOrID(CollectionName)
	if col == nil {
		return nil, nil
	}
	res, err := s.store.Find(ctx, store.Query{Collection: col, OrderBy: query.Desc("created"), Limit: 1000})
	if err != nil {
		return nil, err
	}
	return res.Records, nil
}

// Revoke deletes a key: it stops working at once.
func (s *Service) Revoke(ctx context.Context, id string) error {
	col := s.svc.Schema().CollectionByNameOrID(CollectionName)
	if col == nil {
		return service.ErrNotFound
	}
	err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, col, id) })
	if core.KindOf(err) == core.KindNotFound {
		return service.ErrNotFound
	}
	return err
}

// lastUsedEvery is how stale lastUsed may get: recording every use would
// turn every read into a write.
const lastUsedEvery = time.Minute

// Authenticate finds the key a secret belongs to and notes its use.
// Errors: KindUnauthorized.
func (s *Service) Authenticate(ctx context.Context, secret string) (*service.APIKey, error) {
	bad := core.Unauthorized("The API key is not valid.")
	col := s.svc.Schema().CollectionByNameOrID(CollectionName)
	if col == nil || !strings.HasPrefix(secret, Prefix) || len(secret) > 100 {
		return nil, bad
	}
	res, err := s.store.Find(ctx, store.Query{Collection: col, Limit: 1,
		Where: query.Eq("keyHash", hashKey(secret))})
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 {
		return nil, bad
	}
	rec := res.Records[0]
	key := KeyOf(rec)
	if key == nil {
		return nil, bad
	}
	if last, err := time.Parse(core.DateLayout, rec.String("lastUsed")); err != nil || time.Since(last) > lastUsedEvery {
		upd := rec.Clone()
		upd.Data["lastUsed"] = core.Now()
		if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, upd) }); err != nil {
			s.svc.Log().Warn("record api key use", "key", key.ID, "err", err)
		}
	}
	return key, nil
}

// KeyOf is the key an _apiKeys record stands for, nil when its scope
// does not read (such a key allows nothing).
func KeyOf(rec *core.Record) *service.APIKey {
	v := rec.Data["scope"]
	if v == nil {
		return nil
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		// A record being written holds its scope as decoded.
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil
		}
	}
	var key service.APIKey
	if err := json.Unmarshal(raw, &key); err != nil {
		return nil
	}
	key.ID, key.Name = rec.ID(), rec.String("name")
	return &key
}
