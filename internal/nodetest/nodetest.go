// Package nodetest lets Go tests run JavaScript under Node.js: it finds
// node and npm and installs a test folder's npm packages once. It imports
// nothing of Tortoise's, so any package's tests can use it (the JS SDK
// end-to-end test, the Standard Webhooks reference check).
package nodetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tool finds a program a test needs (need says what for). Without it the
// test skips, except under CI, where it fails: CI must run every test.
func Tool(t testing.TB, name, need string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found in PATH: %s", name, need)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping")
	}
	return p
}

// Install runs `npm ci` in dir (`npm install` without a lock file) unless
// node_modules was already installed from the same package.json and lock
// file, as a stamp in node_modules records by their hash, and marker (a
// path under node_modules, such as "pocketbase/package.json") is there.
func Install(t testing.TB, npm, dir, marker string) {
	t.Helper()
	stamp := filepath.Join(dir, "node_modules", ".tortoise-npm-stamp")
	want, haveLock := packageHash(t, dir)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", marker)); err == nil {
			return
		}
	}
	args := []string{"ci", "--no-audit", "--no-fund"}
	if !haveLock {
		args[0] = "install"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	t.Logf("npm %s in %s: %v", args[0], dir, time.Since(start).Round(time.Millisecond))
	want, _ = packageHash(t, dir) // npm install may have written the lock file
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
}

// packageHash hashes dir's package.json and package-lock.json, and
// reports whether the lock file exists.
func packageHash(t testing.TB, dir string) (string, bool) {
	t.Helper()
	h := sha256.New()
	haveLock := true
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && name == "package-lock.json" {
			haveLock = false
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), haveLock
}
