package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/store"
)

// Migrations returns the migrations this binary knows.
func Migrations() ([]store.Migration, error) { return migrations() }

// MigrateConfig runs store.Migrate with ms on the database cfg points to,
// on a pool of its own, as another process starting would.
func MigrateConfig(ctx context.Context, cfg *pgxpool.Config, ms []store.Migration) error {
	pool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		return err
	}
	defer pool.Close()
	return store.Migrate(ctx, migrator{pool}, ms)
}
