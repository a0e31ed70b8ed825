package local_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/blob/blobtest"
	"github.com/tortoise-dev/tortoise/blob/local"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/fsutil"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Store { return blobtest.Local(t) })
}

func open(t *testing.T, dir string) *local.Store {
	t.Helper()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func list(t *testing.T, s blob.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), "", func(in blob.Info) error { keys = append(keys, in.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// Objects are plain files in the folder, private to the server's user,
// and keep their content type when the store is opened again.
func TestPlainFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Put(t.Context(), "c/r/a.txt", strings.NewReader("hello"), 5, "text/x-custom"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c", "r", "a.txt")
	if got, err := os.ReadFile(path); err != nil || string(got) != "hello" {
		t.Fatalf("file on disk: %q, %v", got, err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
			if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
				t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, want)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 2 {
		t.Errorf("folder holds %v, %v; want the file and its attributes", entries, err)
	}
	if got := list(t, s); len(got) != 1 || got[0] != "c/r/a.txt" {
		t.Errorf("listed %q", got)
	}
	before, err := s.Stat(t.Context(), "c/r/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	again := open(t, dir)
	info, err := again.Stat(t.Context(), "c/r/a.txt")
	if err != nil || info != before || info.ContentType != "text/x-custom" {
		t.Errorf("after reopening: %+v, %v; want %+v", info, err, before)
	}
}

// A file copied in by hand, or changed behind the store's back, is
// served with a content type from its extension and an ETag of its own.
func TestFilesChangedByHand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	if err := os.MkdirAll(filepath.Join(dir, "c", "r"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c", "r", "copied.png"), []byte("png bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "c/r/copied.png")
	if err != nil || info.ContentType != "image/png" || info.Size != 9 || info.ETag == "" {
		t.Errorf("copied file: %+v, %v", info, err)
	}
	if err := s.Put(ctx, "c/r/b.txt", strings.NewReader("by Put"), -1, "application/x-custom"); err != nil {
		t.Fatal(err)
	}
	put, err := s.Stat(ctx, "c/r/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c", "r", "b.txt"), []byte("by hand!"), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err = s.Stat(ctx, "c/r/b.txt")
	if err != nil || info.Size != 8 || info.ETag == put.ETag || !strings.HasPrefix(info.ContentType, "text/plain") {
		t.Errorf("after a change by hand: %+v, %v (was %+v)", info, err, put)
	}
}

// A key cannot be both a file and the folder of other keys.
func TestKeyAndFolder(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	ctx := t.Context()
	for _, k := range []string{"a/b", "x/y/z"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a/b/c", "a/b/c/d", "x/y"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); core.KindOf(err) != core.KindInvalid {
			t.Errorf("put %q: %v, want KindInvalid", k, err)
		}
	}
	if got := list(t, s); len(got) != 2 {
		t.Errorf("listed %q", got)
	}
}

// What a crash leaves behind — temporary files of Puts, attribute files
// of deleted objects — is never listed, and Sweep removes it when it is
// older than the time given.
func TestSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	if err := s.Put(ctx, "c/r/kept.txt", strings.NewReader("kept"), 4, "text/plain"); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "c", "r")
	tmp, err := fsutil.CreateTemp(folder, "upload.png", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString("half an upload"); err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	stray := filepath.Join(folder, ".deleted.png.meta")
	if err := os.WriteFile(stray, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := list(t, s); len(got) != 1 || got[0] != "c/r/kept.txt" {
		t.Errorf("listed %q, want only c/r/kept.txt", got)
	}
	// Fresh leftovers may belong to Puts in progress.
	if err := s.Sweep(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmp.Name(), stray} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a fresh %s was swept: %v", filepath.Base(p), err)
		}
	}
	if err := s.Sweep(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(folder)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != ".kept.txt.meta" || names[1] != "kept.txt" {
		t.Errorf("after the sweep the folder holds %q, want the object and its attributes", names)
	}
	if info, err := s.Stat(ctx, "c/r/kept.txt"); err != nil || info.ContentType != "text/plain" {
		t.Errorf("object after the sweep: %+v, %v", info, err)
	}
}

func TestOpenRefusesEmptyDir(t *testing.T) {
	t.Parallel()
	if _, err := local.Open(""); core.KindOf(err) != core.KindInvalid {
		t.Errorf("open \"\": %v, want KindInvalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(file); err == nil {
		t.Error("opened a file as a folder")
	}
}
