// Package service is the shared part of Tortoise's service layer, the one
// path to data. The REST API, the admin, the CLI, jobs and users' Go code
// reach data through its feature packages — records, collections, auth,
// apikeys, settings — so validation, access rules and reactions to writes
// are the same whichever door a request comes in by. This package holds
// what those features share: the store, the live schema snapshot, the
// caller (Request) and compiled access rules, change events, and the
// registry of system collections.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Service holds the live schema and applies business rules on top of a store.
type Service struct {
	store  store.Store
	log    *slog.Logger
	schema atomic.Pointer[Snapshot]
	// schemaMu serializes collection changes, so each starts from the
	// schema the previous one left.
	schemaMu sync.Mutex

	// system lists the system collections features registered.
	systemMu sync.Mutex
	system   []*core.Collection

	// exprs caches parsed rules and filters.
	exprs exprCache
}

// Options configure a Service.
type Options struct {
	Logger *slog.Logger // default: slog.Default()
}

// New loads the schema from st. Call Bootstrap once the features have
// registered their system collections.
func New(ctx context.Context, st store.Store, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{store: st, log: opts.Logger}
	if err := s.reloadSchema(ctx); err != nil {
		return nil, err
	}
	// Stores shared by several processes announce collection changes, so
	// this process serves the schema another one just changed.
	if w, ok := st.(interface{ WatchSchema(func()) }); ok {
		w.WatchSchema(func() {
			s.schemaMu.Lock() // after any change of this process's own
			defer s.schemaMu.Unlock()
			if err := s.reloadSchema(context.Background()); err != nil {
				s.log.Warn("reload schema", "err", err)
			}
		})
	}
	return s, nil
}

// Snapshot is an immutable view of every collection, swapped atomically
// on change so readers never lock.
type Snapshot struct {
	byName map[string]*core.Collection // lowercased name
	byID   map[string]*core.Collection
	list   []*core.Collection // sorted by creation, then name
}

// NewSnapshot indexes cols (which it sorts by creation, then name).
func NewSnapshot(cols []*core.Collection) *Snapshot {
	sc := &Snapshot{byName: map[string]*core.Collection{}, byID: map[string]*core.Collection{}, list: cols}
	sort.SliceStable(cols, func(i, j int) bool {
		if cols[i].Created != cols[j].Created {
			return cols[i].Created < cols[j].Created
		}
		return cols[i].Name < cols[j].Name
	})
	for _, c := range cols {
		sc.byName[strings.ToLower(c.Name)] = c
		sc.byID[c.ID] = c
	}
	return sc
}

// CollectionByNameOrID finds a collection by id or (case-insensitive) name.
func (sc *Snapshot) CollectionByNameOrID(s string) *core.Collection {
	if c := sc.byID[s]; c != nil {
		return c
	}
	return sc.byName[strings.ToLower(s)]
}

// ByName finds a collection by name, in any case (nil if none).
func (sc *Snapshot) ByName(name string) *core.Collection { return sc.byName[strings.ToLower(name)] }

// ByID finds a collection by id (nil if none).
func (sc *Snapshot) ByID(id string) *core.Collection { return sc.byID[id] }

// List returns every collection, oldest first.
func (sc *Snapshot) List() []*core.Collection { return sc.list }

// ReloadSchema reads the collections from the store again.
func (s *Service) ReloadSchema(ctx context.Context) error { return s.reloadSchema(ctx) }

// RefreshSchema reads the collections again from the store, under the
// schema lock as a change or the watcher does, so that an older reading
// never replaces a newer one. While a change holds the lock it waits, up
// to refreshWait: past that (or should ctx end) it reads nothing and
// reports false, so a caller that holds the lock itself cannot deadlock.
func (s *Service) RefreshSchema(ctx context.Context) (bool, error) {
	deadline := time.Now().Add(refreshWait)
	for !s.schemaMu.TryLock() {
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer s.schemaMu.Unlock()
	return true, s.reloadSchema(ctx)
}

// refreshWait is how long RefreshSchema waits for a change of the schema
// to end.
const refreshWait = 2 * time.Second

// LockSchema serializes changes of collections, so each starts from the
// schema the previous one left; call the function it returns to unlock.
func (s *Service) LockSchema() (unlock func()) {
	s.schemaMu.Lock()
	return s.schemaMu.Unlock
}

func (s *Service) reloadSchema(ctx context.Context) error {
	cols, err := s.store.Collections(ctx)
	if err != nil {
		return fmt.Errorf("load collections: %w", err)
	}
	s.schema.Store(NewSnapshot(cols))
	return nil
}

// Collection returns the collection with the given name or id, or a
// KindNotFound error.
func (s *Service) Collection(nameOrID string) (*core.Collection, error) {
	if c := s.schema.Load().CollectionByNameOrID(nameOrID); c != nil {
		return c, nil
	}
	return nil, core.NotFound("Missing collection context.")
}

// Collections returns every collection, oldest first.
func (s *Service) Collections() []*core.Collection {
	return s.schema.Load().list
}
