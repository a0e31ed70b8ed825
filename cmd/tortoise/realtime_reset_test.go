package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A password reset from the command line, a process of its own on the
// SQLite file, is announced by no change feed of the server's: a stream
// the old token opened went on receiving what only superusers see. The
// server reads its realtime clients' accounts again every few seconds.
func TestCLIPasswordResetEndsRealtimeStreams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cli := func(args ...string) {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	cli("superuser", "upsert", "boss@example.com", "boss-password-1", "--dir", dir)
	m, base := startMain(t, dir)
	t.Cleanup(func() { m.Close() })
	login := func(pw string) string {
		return call(t, base, "", "POST", "/api/collections/_superusers/auth-with-password",
			map[string]any{"identity": "boss@example.com", "password": pw}, 200)["token"].(string)
	}
	old := login("boss-password-1")
	call(t, base, old, "POST", "/api/collections", map[string]any{"name": "ledger", "fields": []map[string]any{{"name": "note", "type": "text"}}}, 200)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := subscribeSSEAs(t, ctx, base, old, "ledger/*")
	call(t, base, old, "POST", "/api/collections/ledger/records", map[string]any{"note": "before"}, 200)
	if e := <-events; !strings.Contains(e, "before") {
		t.Fatalf("the superuser's stream: %s", e)
	}

	cli("superuser", "upsert", "boss@example.com", "boss-password-2", "--dir", dir)
	time.Sleep(12 * time.Second) // the server reads its clients' accounts again every 10 s
	call(t, base, login("boss-password-2"), "POST", "/api/collections/ledger/records", map[string]any{"note": "after-reset-SECRET"}, 200)
	deadline := time.After(3 * time.Second)
	for {
		select {
		case e := <-events: // "timeout" after 10 s without an event, which says nothing
			if strings.Contains(e, "after-reset-SECRET") {
				t.Fatalf("the stream of the reset password's token got: %s", e)
			}
		case <-deadline:
			return
		}
	}
}
