package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
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

// ExplainTypos returns the plan of q's typo lookup (a fuzzy search's
// first step), run as searchFind runs it, with the settings its steps
// make.
func ExplainTypos(ctx context.Context, s *Store, q store.Query) (string, error) {
	var typos map[string]bool
	steps, ok := searchTyposSteps(q, &typos)
	if !ok {
		return "", nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	var plan strings.Builder
	for _, st := range steps {
		if st.rows == nil {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return "", err
			}
			continue
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+st.sql, st.args...)
		if err != nil {
			return "", err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", err
		}
		plan.WriteString(strings.Join(lines, "\n"))
	}
	return plan.String(), nil
}
