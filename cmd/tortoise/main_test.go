package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/service"
)

// startMain boots the real serve command on a free port over dir.
func startMain(t *testing.T, dir string) (*Main, string) {
	t.Helper()
	m := NewMain()
	var out bytes.Buffer
	m.Stdout, m.Stderr = &out, &out
	if err := m.ParseFlags([]string{"--http", "127.0.0.1:0", "--dir", dir}); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return m, "http://" + m.App.Addr()
}

func TestServeHealthAndGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, url := startMain(t, dir)
	resp, err := http.Get(url + "/api/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()

	ctx := context.Background()
	su, err := m.App.Auth.UpsertSuperuser(ctx, "a@example.com", "password-123456")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.App.Auth.NewAuthToken(su)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) (int, []byte) {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	if code, b := post("/api/collections", `{"name":"items","fields":[{"name":"n","type":"number"}]}`); code != 200 {
		t.Fatalf("create collection: %d %s", code, b)
	}
	// Writes racing the shutdown: every one acknowledged must survive it.
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				code, b := post("/api/collections/items/records", fmt.Sprintf(`{"n":%d}`, w*1000+i))
				if code != 200 {
					return // the server is shutting down
				}
				var rec struct{ ID string }
				json.Unmarshal(b, &rec)
				mu.Lock()
				acked = append(acked, rec.ID)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(50 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before shutdown")
	}

	m2, _ := startMain(t, dir)
	defer m2.Close()
	c, err := m2.App.Service.Collection("items")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if _, err := m2.App.Records.Get(ctx, &service.Request{Superuser: true}, c, id); err != nil {
			t.Fatalf("acknowledged record %s lost after shutdown: %v", id, err)
		}
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run1 := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, &out, &out)
		return out.String(), err
	}
	if out, err := run1("version"); err != nil || !strings.HasPrefix(out, "tortoise ") {
		t.Errorf("version: %q %v", out, err)
	}
	if out, err := run1("help"); err != nil || !strings.Contains(out, "superuser upsert") {
		t.Errorf("help: %q %v", out, err)
	}
	if _, err := run1("nope"); err == nil {
		t.Error("unknown command accepted")
	}
	if out, err := run1("superuser", "upsert", "boss@example.com", "boss-password-1", "--dir", dir); err != nil || !strings.Contains(out, "boss@example.com") {
		t.Fatalf("upsert: %q %v", out, err)
	}
	// Upsert again changes the password of the same account.
	if _, err := run1("superuser", "upsert", "--dir", dir, "boss@example.com", "boss-password-2"); err != nil {
		t.Fatalf("second upsert: %v", err)
	}
	if _, err := run1("superuser", "upsert", "not-an-email", "boss-password-2", "--dir", dir); err == nil {
		t.Error("invalid email accepted")
	}
	if _, err := run1("superuser", "upsert", "x@example.com", "short", "--dir", dir); err == nil {
		t.Error("short password accepted")
	}
	if _, err := run1("serve", "--db", "mysql://x"); err == nil {
		t.Error("bad database URL accepted")
	}
	m, url := startMain(t, dir)
	defer m.Close()
	body := `{"identity":"boss@example.com","password":"boss-password-2"}`
	resp, err := http.Post(url+"/api/collections/_superusers/auth-with-password", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login with upserted password: %v %v", resp, err)
	}
	resp.Body.Close()
}

// On SQLite one server serves a data folder: a second serve on it is
// refused with a message saying why and what to do instead, and starts
// once the first has stopped; superuser upsert works beside it. (Two processes on PostgreSQL share the
// work: see twoprocs_test.go.)
func TestSecondServeOnSQLiteRefused(t *testing.T) {
	t.Setenv("TORTOISE_DATABASE_URL", "")
	dir := t.TempDir()
	first, _ := startMain(t, dir)
	second := NewMain()
	var out bytes.Buffer
	second.Stdout, second.Stderr = &out, &out
	if err := second.ParseFlags([]string{"--http", "127.0.0.1:0", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	err := second.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in use by another Tortoise server") || !strings.Contains(err.Error(), "PostgreSQL") {
		second.Close()
		t.Fatalf("second serve: %v, want refused", err)
	}
	// A short command still works beside the server.
	var cli bytes.Buffer
	if err := run(context.Background(), []string{"superuser", "upsert", "beside@example.com", "a-long-password-1", "--dir", dir}, &cli, &cli); err != nil {
		t.Fatalf("superuser upsert beside a running server: %v\n%s", err, cli.String())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, _ := startMain(t, dir)
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
