// Package testdb gives tests the real services they run against: the URL
// of each from its TORTOISE_TEST_* variable, and fresh PostgreSQL
// databases. It imports nothing of Tortoise's, so tests inside any package
// can use it (testkit, which starts whole apps, cannot be imported by the
// packages an app is made of); testkit's helpers of the same names call
// these.
package testdb

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL returns the URL of service in the variable env. Without it the
// test is skipped with a message naming example, a value to set, except
// under CI (CI set), where a missing service is a failure.
func EnvURL(t testing.TB, env, service, example string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(env + " is not set under CI: " + service + " tests must run")
		}
		t.Skip(env + " is not set; skipping " + service + " test (e.g. " + env + "=" + example + ")")
	}
	return u
}

// PostgresURL returns the PostgreSQL URL tests should use, from
// TORTOISE_TEST_POSTGRES (see EnvURL).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return EnvURL(t, "TORTOISE_TEST_POSTGRES", "PostgreSQL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// PostgresDatabase creates a fresh, empty PostgreSQL database for one test
// and drops it when the test ends. It returns the database's URL.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TORTOISE_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	name := "tortoise_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TORTOISE_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
