package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/fsutil"
)

// Open sweeps, in the background, the leftovers of a crash before it.
func TestOpenSweeps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	folder := filepath.Join(dir, "c", "r")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	tmp, err := fsutil.CreateTemp(folder, "a.png", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	stray := filepath.Join(folder, ".gone.png.meta")
	if err := os.WriteFile(stray, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a crash are older than the sweep's margin.
	old := time.Now().Add(-2 * sweepMargin)
	for _, p := range []string{tmp.Name(), stray} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.swept
	if s.sweepErr != nil {
		t.Fatal(s.sweepErr)
	}
	for _, p := range []string{tmp.Name(), stray} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not swept: %v", filepath.Base(p), err)
		}
	}
}

// A file whose time is a little before the opening — a Put made just after
// Open, stamped by the kernel's coarse clock — is left alone.
func TestOpenSweepSparesFreshFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp, err := fsutil.CreateTemp(dir, "a.png", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	lagged := time.Now().Add(-sweepMargin / 2)
	if err := os.Chtimes(tmp.Name(), lagged, lagged); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.swept
	if _, err := os.Stat(tmp.Name()); err != nil {
		t.Errorf("a file of a Put in progress was swept: %v", err)
	}
}
