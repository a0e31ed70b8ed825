package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		cfg := testConfig(t)
		s, err := postgres.OpenConfig(context.Background(), cfg, postgres.WithReadTimeout(storetest.ReadTimeout))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}

// testConfig returns a pool configuration whose search_path is a schema of
// t's own, created on first use and dropped when t ends. Without
// TORTOISE_TEST_POSTGRES the test skips, or fails under CI.
func testConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	url := testkit.PostgresURL(t)
	schema := storetest.Memo(t, "schema", func() string {
		name := "test_" + core.RandomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Errorf("connect: %v", err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		return name
	})
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("TORTOISE_TEST_POSTGRES: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = 4
	return cfg
}

// TestOpenURL checks that Open takes settings such as search_path from the URL.
func TestOpenURL(t *testing.T) {
	cfg := testConfig(t)
	url := os.Getenv("TORTOISE_TEST_POSTGRES")
	sep := "?"
	if containsQuery(url) {
		sep = "&"
	}
	s, err := postgres.Open(context.Background(), url+sep+"search_path="+cfg.ConnConfig.RuntimeParams["search_path"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var path string
	if err := s.Pool().QueryRow(context.Background(), "SHOW search_path").Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != cfg.ConnConfig.RuntimeParams["search_path"] {
		t.Errorf("search_path = %q", path)
	}
	if _, err := postgres.Open(context.Background(), "postgres://%zz"); core.KindOf(err) != core.KindInvalid {
		t.Errorf("bad URL: %v", err)
	}
}

func containsQuery(url string) bool {
	for i := range len(url) {
		if url[i] == '?' {
			return true
		}
	}
	return false
}
