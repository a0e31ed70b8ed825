package fsutil_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/fsutil"
)

// Whether the data would survive a power cut cannot be checked from a
// test; what can is that the file is whole, has its mode, replaces the old
// one and that no temporary file is left behind, whatever happens.
func TestWriteFileDurable(t *testing.T) {
	t.Parallel()
	onlyFile := func(t *testing.T, dir, want string) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) != 1 || names[0] != want {
			t.Errorf("directory holds %v, want only %s", names, want)
		}
	}
	for name, tc := range map[string]struct {
		before []byte // nil: no file yet
		data   []byte
		perm   os.FileMode
	}{
		"new file":       {data: []byte("key\n"), perm: 0o600},
		"replaces":       {before: []byte("old contents, longer than the new"), data: []byte("new"), perm: 0o644},
		"empty contents": {data: []byte{}, perm: 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, ".encryption_key")
			if tc.before != nil {
				if err := os.WriteFile(path, tc.before, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := fsutil.WriteFileDurable(path, tc.data, tc.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(tc.data) {
				t.Fatalf("read back %q, %v; want %q", got, err, tc.data)
			}
			if info, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && info.Mode().Perm() != tc.perm) {
				t.Errorf("mode: %v %v, want %v", info.Mode(), err, tc.perm)
			}
			onlyFile(t, dir, ".encryption_key")
		})
	}

	t.Run("failed rename leaves no temporary file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		// A non-empty directory cannot be replaced by a file.
		path := filepath.Join(dir, "taken")
		if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fsutil.WriteFileDurable(path, []byte("x"), 0o600); err == nil {
			t.Fatal("replaced a non-empty directory")
		}
		onlyFile(t, dir, "taken")
	})

	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nope", "file")
		if err := fsutil.WriteFileDurable(path, []byte("x"), 0o600); err == nil {
			t.Fatal("wrote into a missing directory")
		}
	})
}

// A bare file name is written in the working directory.
func TestWriteFileDurableRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // so not parallel
	if err := fsutil.WriteFileDurable("plain", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "plain")); err != nil || string(got) != "x" {
		t.Fatalf("read back %q, %v", got, err)
	}
}

// Temporary files are made beside their final name, recognised by
// IsTemp, and appear under that name only when published.
func TestCreateTempPublish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := fsutil.CreateTemp(dir, "photo.png", 0o640)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(f.Name())
	if filepath.Dir(f.Name()) != dir || !fsutil.IsTemp(base) {
		t.Fatalf("temporary file %s: not in %s or not recognised", f.Name(), dir)
	}
	if info, err := f.Stat(); err != nil || (runtime.GOOS != "windows" && info.Mode().Perm() != 0o640) {
		t.Errorf("mode: %v, %v", info.Mode(), err)
	}
	if _, err := f.WriteString("png"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "photo.png")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file visible before Publish: %v", err)
	}
	if err := fsutil.Publish(f, path); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "png" {
		t.Fatalf("published file: %q, %v", got, err)
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("temporary file still there: %v", err)
	}

	d, err := fsutil.CreateTemp(dir, "discarded", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fsutil.Discard(d)
	if _, err := os.Stat(d.Name()); !os.IsNotExist(err) {
		t.Errorf("discarded file still there: %v", err)
	}
}

func TestIsTemp(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]bool{
		".a.png.tmp-ABCDEFGHIJKLMNOPQRSTUVWXYZ":        true,
		"..a.png.meta.tmp-234567ABCDEFGHIJKLMNOPQRST":  true,
		"a.png.tmp-ABCDEFGHIJKLMNOPQRSTUVWXYZ":         false, // no leading dot
		".a.png.tmp-ABCDEFGHIJKLMNOPQRSTUVWXY":         false, // 25 characters
		".a.png.tmp-abcdefghijklmnopqrstuvwxyz":        false, // not rand.Text's alphabet
		".a.tmp-ABCDEFGHIJKLMNOPQRSTUVWXYZ.meta":       false, // an attribute file
		".a.png.tmp-ABCDEFGHIJKLMNOPQRSTUVWXY1":        false, // 1 is not base32
		".tmp-ABCDEFGHIJKLMNOPQRSTUVWXYZ":              false, // no name
		".encryption_key":                              false,
		".x.tmp-ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp-AAAAAA": false,
	} {
		if got := fsutil.IsTemp(base); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", base, got, want)
		}
	}
}

func TestMkdirAllDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b", "c")
	if err := fsutil.MkdirAllDurable(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(deep); err != nil || !info.IsDir() || (runtime.GOOS != "windows" && info.Mode().Perm() != 0o700) {
		t.Fatalf("created %v, %v", info, err)
	}
	if err := fsutil.MkdirAllDurable(deep, 0o700); err != nil {
		t.Errorf("existing directory: %v", err)
	}
	file := filepath.Join(dir, "a", "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, filepath.Join(file, "below")} {
		if err := fsutil.MkdirAllDurable(p, 0o700); err == nil {
			t.Errorf("MkdirAllDurable(%s) over a file succeeded", p)
		}
	}
}
