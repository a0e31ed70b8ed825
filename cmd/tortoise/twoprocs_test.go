package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// childEnv makes the test binary run `tortoise` with its arguments instead
// of the tests: TestTwoProcesses starts a second server that way, a
// process of its own, as a scaled-out deployment runs one per machine.
const childEnv = "TORTOISE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tortoise:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Two processes on one PostgreSQL: a record created through one reaches a
// realtime subscriber of the other, both ways.
func TestTwoProcesses(t *testing.T) {
	db := testkit.PostgresDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a := NewMain()
	a.Stdout, a.Stderr = &lineLogger{t: t, prefix: "a| "}, &lineLogger{t: t, prefix: "a| "}
	if err := a.ParseFlags([]string{"--http", "127.0.0.1:0", "--dir", t.TempDir(), "--db", db}); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.App.Auth.UpsertSuperuser(ctx, e2eEmail, e2ePassword); err != nil {
		t.Fatal(err)
	}
	aURL := "http://" + a.App.Addr()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bAddr := ln.Addr().String()
	ln.Close()
	child := exec.CommandContext(ctx, os.Args[0], "serve", "--http", bAddr, "--dir", t.TempDir(), "--db", db)
	child.Env = append(os.Environ(), childEnv+"=1")
	bLog := &lineLogger{t: t, prefix: "b| "}
	child.Stdout, child.Stderr = bLog, bLog
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
	}()
	bURL := "http://" + bAddr
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(bURL + "/api/health"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second process did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}

	token := login(t, aURL)
	call(t, aURL, token, "POST", "/api/collections", map[string]any{
		"name": "shared", "listRule": "", "viewRule": "", "createRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}},
	}, 200)

	onB := subscribeSSE(t, ctx, bURL, "shared/*")
	onA := subscribeSSE(t, ctx, aURL, "shared/*")
	created := call(t, aURL, "", "POST", "/api/collections/shared/records", map[string]any{"title": "from a"}, 200)
	if got := <-onB; !strings.Contains(got, created["id"].(string)) || !strings.Contains(got, `"from a"`) {
		t.Errorf("b received %s", got)
	}
	<-onA
	created = call(t, bURL, "", "POST", "/api/collections/shared/records", map[string]any{"title": "from b"}, 200)
	if got := <-onA; !strings.Contains(got, created["id"].(string)) {
		t.Errorf("a received %s", got)
	}
}

func login(t *testing.T, base string) string {
	t.Helper()
	out := call(t, base, "", "POST", "/api/collections/_superusers/auth-with-password",
		map[string]any{"identity": e2eEmail, "password": e2ePassword}, 200)
	return out["token"].(string)
}

func call(t *testing.T, base, token, method, path string, body any, status int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != status {
		t.Fatalf("%s %s%s: %d %v", method, base, path, resp.StatusCode, out)
	}
	return out
}

// subscribeSSE connects to base's realtime stream as a guest, subscribes
// to topic and returns the data of the events that follow; each must come
// within 10 s or the channel yields "timeout".
func subscribeSSE(t *testing.T, ctx context.Context, base, topic string) <-chan string {
	t.Helper()
	return subscribeSSEAs(t, ctx, base, "", topic)
}

// subscribeSSEAs is subscribeSSE subscribing with token.
func subscribeSSEAs(t *testing.T, ctx context.Context, base, token, topic string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	events := make(chan string, 16)
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		n := 0
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				if n == 0 {
					first <- data
				} else {
					events <- data
				}
				n++
			}
		}
	}()
	var hello struct{ ClientID string }
	select {
	case d := <-first:
		json.Unmarshal([]byte(d), &hello)
	case <-time.After(10 * time.Second):
		t.Fatal("no PB_CONNECT")
	}
	call(t, base, token, "POST", "/api/realtime", map[string]any{"clientId": hello.ClientID, "subscriptions": []string{topic}}, 204)
	out := make(chan string)
	go func() {
		for {
			select {
			case e := <-events:
				out <- e
			case <-time.After(10 * time.Second):
				out <- "timeout"
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
