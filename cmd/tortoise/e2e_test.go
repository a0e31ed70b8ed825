package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/nodetest"

	"github.com/tortoise-dev/tortoise/blob/blobtest"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// e2eDir holds the JS side: package.json pins PocketBase's SDK, the lock
// file pins everything, the e2eScripts are the tests themselves.
const e2eDir = "testdata/e2e"

// e2eScripts are the test files Node runs: sdk.test.mjs covers collections
// and records, auth.test.mjs sign-up, owner-only rules and the flows by
// mail, realtime.test.mjs subscriptions, batch.test.mjs batches,
// files.test.mjs file fields, jobs.test.mjs jobs and crons, logs.test.mjs
// the request log, search.test.mjs full-text search. Each makes its own
// collections, so none depends on another or on the order they run in.
var e2eScripts = []string{"sdk.test.mjs", "auth.test.mjs", "realtime.test.mjs", "batch.test.mjs", "files.test.mjs", "jobs.test.mjs", "logs.test.mjs", "search.test.mjs"}

const (
	e2eEmail    = "e2e@example.com"
	e2ePassword = "e2e-password-123"
)

// TestJSSDK boots the real server on a free port and drives it with
// PocketBase's own JavaScript SDK under Node's test runner: if the SDK works
// against Tortoise, apps written for PocketBase do too. It runs once on
// SQLite and once on PostgreSQL (when TORTOISE_TEST_POSTGRES is set).
//
// It is not parallel: each run is a server plus a Node process, and one at
// a time is plenty for a small machine.
func TestJSSDK(t *testing.T) {
	const need = "the PocketBase JS SDK test needs Node.js 18+ and npm"
	node := nodetest.Tool(t, "node", need)
	npm := nodetest.Tool(t, "npm", need)
	nodeArgs := []string{"--test", "--test-reporter=spec"}
	if major, minor := checkNodeVersion(t, node); major > 20 || major == 20 && minor >= 10 {
		// One file at a time (Node runs them in parallel by default): the
		// log reads in order and a small machine is not asked for more.
		nodeArgs = append(nodeArgs, "--test-concurrency=1")
	}
	nodeArgs = append(nodeArgs, e2eScripts...)
	nodetest.Install(t, npm, e2eDir, "pocketbase/package.json")
	// Node reads the scripts, not this process: read them here too, so that
	// go test's result cache notices when they change.
	for _, name := range e2eScripts {
		if _, err := os.ReadFile(filepath.Join(e2eDir, name)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("sqlite", func(t *testing.T) {
		// The environment must not move this run to another database.
		t.Setenv("TORTOISE_DATABASE_URL", "")
		runSDK(t, node, nodeArgs)
	})
	t.Run("postgres", func(t *testing.T) {
		runSDK(t, node, nodeArgs, "--db", testkit.PostgresDatabase(t))
	})
	// Files in S3 instead of the data folder, chosen in the settings as an
	// operator would, on both engines: the file script only, as the others
	// do not touch files.
	t.Run("sqlite+s3", func(t *testing.T) {
		t.Setenv("TORTOISE_DATABASE_URL", "")
		runSDKOnS3(t, node)
	})
	t.Run("postgres+s3", func(t *testing.T) {
		runSDKOnS3(t, node, "--db", testkit.PostgresDatabase(t))
	})
}

// runSDKOnS3 runs files.test.mjs against a server (with serve's extra
// arguments) whose settings put files in the test S3 bucket.
func runSDKOnS3(t *testing.T, node string, extra ...string) {
	o := blobtest.S3Options(t)
	// The S3 secret is kept sealed; on PostgreSQL the key comes from here.
	t.Setenv("TORTOISE_ENCRYPTION_KEY", "e2e-test-encryption-key-0123456789")
	useS3 = func(ctx context.Context, m *Main) error {
		patch, _ := json.Marshal(map[string]any{"s3": map[string]any{
			"enabled": true, "endpoint": o.Endpoint, "bucket": o.Bucket, "region": o.Region,
			"accessKey": o.AccessKey, "secret": o.Secret, "forcePathStyle": true,
		}})
		_, err := m.App.Settings.UpdateSettings(ctx, patch)
		return err
	}
	defer func() { useS3 = nil }()
	runSDK(t, node, []string{"--test", "--test-reporter=spec", "files.test.mjs"}, extra...)
}

// useS3, when set, configures the server runSDK boots before Node runs.
var useS3 func(ctx context.Context, m *Main) error

// checkNodeVersion skips (or fails, under CI) on a Node.js older than 18
// and returns its major and minor version.
func checkNodeVersion(t *testing.T, node string) (major, minor int) {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	major, _ = strconv.Atoi(parts[0])
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	// node:test's spec reporter and a global fetch need 18; CI uses 20.
	if major < 18 {
		msg := fmt.Sprintf("node %s is too old: the PocketBase JS SDK test needs Node.js 18+", v)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping")
	}
	return major, minor
}

// runSDK boots a server in a fresh data folder with the extra serve flags,
// creates a superuser and runs node with nodeArgs (the e2eScripts) against
// it. Mail goes to the server's dev mailbox, whose folder the scripts get
// as TORTOISE_MAILBOX to read tokens and codes from.
func runSDK(t *testing.T, node string, nodeArgs []string, flags ...string) {
	serverLog := &lineLogger{t: t, prefix: "server| "}
	nodeLog := &lineLogger{t: t, prefix: "node| "}
	m := NewMain()
	m.Stdout, m.Stderr = serverLog, serverLog
	args := append([]string{"--http", "127.0.0.1:0", "--dir", t.TempDir()}, flags...)
	if err := m.ParseFlags(args); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	closed := false
	closeMain := func() {
		if closed {
			return
		}
		closed = true
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(closeMain) // on an early exit; the normal path closes below
	if _, err := m.App.Auth.UpsertSuperuser(ctx, e2eEmail, e2ePassword); err != nil {
		t.Fatalf("create superuser: %v", err)
	}

	if useS3 != nil {
		if err := useS3(ctx, m); err != nil {
			t.Fatalf("use S3 for files: %v", err)
		}
	}
	mailbox := m.App.Settings.Mailbox()
	if mailbox == nil {
		t.Fatal("the server has no dev mailbox: the auth flows need one")
	}

	cmd := exec.CommandContext(ctx, node, nodeArgs...)
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"TORTOISE_URL=http://"+m.App.Addr(),
		"TORTOISE_MAILBOX="+mailbox.Dir(),
		"TORTOISE_EMAIL="+e2eEmail,
		"TORTOISE_PASSWORD="+e2ePassword,
		"NO_COLOR=1",
	)
	cmd.Stdout, cmd.Stderr = nodeLog, nodeLog
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	nodeLog.flush()
	if ctx.Err() != nil {
		t.Fatalf("node %s did not finish in time: %v", strings.Join(nodeArgs, " "), err)
	}
	if err != nil {
		t.Fatalf("node %s: %v (the failing steps are in the log above)", strings.Join(nodeArgs, " "), err)
	}
	closeMain()
}

// lineLogger writes what the server or Node prints to the test log, a line
// at a time, each line marked with its source.
type lineLogger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(l.prefix + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + string(l.buf))
		l.buf = nil
	}
}
