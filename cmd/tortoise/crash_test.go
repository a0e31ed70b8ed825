package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// The real binary, killed with SIGKILL at random moments while clients
// create records whose webhook deliveries are jobs enqueued in the same
// transaction, and restarted: once drained, every acknowledged create's
// job ran at least once, no job of a rolled-back write (a failing batch)
// ever ran, and a job ran twice only when a kill caught it running (each
// kill can add at most one extra run per job).
func TestJobsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server several times")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Setenv("TORTOISE_DATABASE_URL", "")
		crashJobs(t)
	})
	t.Run("postgres", func(t *testing.T) {
		crashJobs(t, "--db", testkit.PostgresDatabase(t))
	})
}

const (
	crashTarget = 10000 // acknowledged creates
	crashKills  = 4
)

func crashJobs(t *testing.T, dbFlags ...string) {
	// The receiver counts deliveries by record title.
	var mu sync.Mutex
	delivered := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			Record struct{ Title string } `json:"record"`
		}
		if err := json.NewDecoder(r.Body).Decode(&d); err == nil {
			mu.Lock()
			delivered[d.Record.Title]++
			mu.Unlock()
		}
	}))
	defer recv.Close()
	ru, _ := url.Parse(recv.URL)

	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	var cli bytes.Buffer
	if err := run(context.Background(), append([]string{"superuser", "upsert", e2eEmail, e2ePassword, "--dir", dir}, dbFlags...), &cli, &cli); err != nil {
		t.Fatalf("superuser: %v\n%s", err, cli.String())
	}

	var child *exec.Cmd
	start := func() {
		t.Helper()
		child = exec.Command(os.Args[0], append([]string{"serve", "--http", addr, "--dir", dir}, dbFlags...)...)
		child.Env = append(os.Environ(), childEnv+"=1", "TORTOISE_LOG_LEVEL=error", "TORTOISE_MAX_CONNS_PER_IP=-1",
			"TORTOISE_OUTBOUND_ALLOW_HOSTS="+ru.Host, "TORTOISE_JOBS_RESCUE_AFTER=2s",
			"TORTOISE_ENCRYPTION_KEY=crash-test-key-0123456789abcdef")
		log := &lineLogger{t: t, prefix: "server| "}
		child.Stdout, child.Stderr = log, log
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			resp, err := http.Get(base + "/api/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the server did not come up")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	kill := func() {
		child.Process.Signal(syscall.SIGKILL)
		child.Wait()
	}
	start()
	defer func() { kill() }()

	client := &http.Client{Timeout: 15 * time.Second}
	call := func(method, path, token string, body any) (int, []byte, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}
	must := func(method, path, token string, body any, want int) []byte {
		t.Helper()
		status, out, err := call(method, path, token, body)
		if err != nil || status != want {
			t.Fatalf("%s %s: %d %s %v", method, path, status, out, err)
		}
		return out
	}
	var auth struct{ Token string }
	json.Unmarshal(must("POST", "/api/collections/_superusers/auth-with-password", "", map[string]string{"identity": e2eEmail, "password": e2ePassword}, 200), &auth)
	su := auth.Token
	must("POST", "/api/collections", su, map[string]any{"name": "crash_orders", "type": "base", "createRule": "", "listRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text", "required": true}}}, 200)
	must("PATCH", "/api/settings", su, map[string]any{"batch": map[string]any{"enabled": true, "maxRequests": 10}}, 200)
	must("POST", "/api/webhooks", su, map[string]any{"collection": "crash_orders", "events": []string{"create"}, "url": recv.URL + "/hook"}, 200)

	// Writers: creates (acknowledged or not) and failing batches.
	var acked sync.Map // title → true, for creates answered 200
	var nAcked, nBatches atomic.Int64
	var running sync.WaitGroup
	stop := make(chan struct{})
	var seq atomic.Int64
	for range 8 {
		running.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := seq.Add(1)
				if k%10 == 0 {
					status, _, err := call("POST", "/api/batch", "", map[string]any{"requests": []map[string]any{
						{"method": "POST", "url": "/api/collections/crash_orders/records", "body": map[string]any{"title": fmt.Sprintf("rb-%d", k)}},
						{"method": "POST", "url": "/api/collections/crash_orders/records", "body": map[string]any{}},
					}})
					if err == nil && status == 400 {
						nBatches.Add(1)
					} else if err == nil && status != 503 {
						t.Errorf("a failing batch answered %d", status)
					}
					continue
				}
				title := fmt.Sprintf("ok-%d", k)
				status, _, err := call("POST", "/api/collections/crash_orders/records", "", map[string]any{"title": title})
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the server is down: a restart comes
					continue
				}
				if status == 200 {
					acked.Store(title, true)
					if nAcked.Add(1) >= crashTarget {
						return
					}
				}
			}
		})
	}
	// The killer.
	for range crashKills {
		time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
		kill()
		start()
	}
	running.Wait()
	close(stop)
	t.Logf("%d creates acknowledged, %d failing batches answered, %d kills", nAcked.Load(), nBatches.Load(), crashKills)

	// Drain: every acknowledged create delivered.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		missing := 0
		mu.Lock()
		acked.Range(func(k, _ any) bool {
			if delivered[k.(string)] == 0 {
				missing++
			}
			return true
		})
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged creates never had their job run", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // late duplicates
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for title, n := range delivered {
		if len(title) > 3 && title[:3] == "rb-" {
			t.Errorf("the job of a rolled-back write ran: %s", title)
		}
		if n > 1 {
			dups += n - 1
		}
		if n > crashKills+1 {
			t.Errorf("%s ran %d times with %d kills", title, n, crashKills)
		}
	}
	t.Logf("drained: %d distinct deliveries, %d duplicates (jobs a kill caught running or not yet marked done)", len(delivered), dups)
}
