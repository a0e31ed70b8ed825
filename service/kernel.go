package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// What the feature packages of the service layer (records, collections,
// auth, apikeys, settings) share: the store, the live schema, compiled
// rules, change events and the system collections they define.

// Errors every feature answers with.
var (
	ErrNotFound       = core.NotFound("The requested resource wasn't found.")
	ErrSuperusersOnly = core.Forbidden("Only superusers can perform this action.")
)

// Store is the store under the service layer, for its feature packages.
// The API and users' Go code go through the features, never around them.
func (s *Service) Store() store.Store { return s.store }

// Log is the service layer's logger.
func (s *Service) Log() *slog.Logger { return s.log }

// Schema is the current schema.
func (s *Service) Schema() *Snapshot { return s.schema.Load() }

// Changes is the change feed: every committed record change, whoever made
// it (the REST API, a batch, a job, Go code, another process on the same
// PostgreSQL), after its commit, in commit order. See store.Feed.
func (s *Service) Changes() *store.Feed { return s.store.Changes() }

// RegisterSystemCollection adds c to the system collections Bootstrap
// creates. Features call it when they are made, before Bootstrap.
func (s *Service) RegisterSystemCollection(c *core.Collection) {
	s.systemMu.Lock()
	defer s.systemMu.Unlock()
	s.system = append(s.system, c)
}

// Bootstrap creates the registered system collections a database lacks.
// Processes starting at once on one PostgreSQL may race to create them:
// the loser finds them made and carries on.
func (s *Service) Bootstrap(ctx context.Context) error {
	s.systemMu.Lock()
	defs := append([]*core.Collection(nil), s.system...)
	s.systemMu.Unlock()
	for _, c := range defs {
		if s.schema.Load().CollectionByNameOrID(c.Name) != nil {
			continue
		}
		now := core.Now()
		c.Created, c.Updated = now, now
		err := s.store.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) })
		if rerr := s.reloadSchema(ctx); rerr != nil {
			return rerr
		}
		if err != nil && s.schema.Load().CollectionByNameOrID(c.Name) == nil {
			return fmt.Errorf("create system collection %s: %w", c.Name, err)
		}
	}
	return nil
}
