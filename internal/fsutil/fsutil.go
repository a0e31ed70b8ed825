// Package fsutil holds the file-system helpers Tortoise's packages share.
package fsutil

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// WriteFileDurable writes data to path so that, once it returns nil, path
// holds data even after a crash or a power cut, and at no moment does path
// hold a partial or empty file:
//
//  1. data is written to a new temporary file in path's directory (the
//     same file system, so the rename below is atomic), with mode perm
//     (set with chmod, so the umask does not reduce it);
//  2. the temporary file is fsynced, so its contents are on disk before
//     the name pointing at them is: without this, file systems with
//     delayed allocation (ext4, XFS) can come back from a power cut with
//     the new name on an empty file;
//  3. it is renamed over path, so readers see the old file or the new one,
//     never a mix;
//  4. the directory is fsynced, so the rename itself is on disk: without
//     this, a new file can be missing after a power cut.
//
// On an error before the rename the temporary file is removed and path is
// unchanged. Concurrent writers of one path each leave a whole file; the
// last rename wins. On Windows, where directories cannot be fsynced, step
// 4 is skipped.
func WriteFileDurable(path string, data []byte, perm fs.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := CreateTemp(dir, name, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		Discard(f)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := Publish(f, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tempMark separates the final name from the random part in the names of
// temporary files; tempRandLen is the length of that part (rand.Text).
const (
	tempMark    = ".tmp-"
	tempRandLen = 26
)

// CreateTemp creates a new, empty temporary file in dir, opened for
// reading and writing, for a file that will be published as dir/name
// (the same directory, so the rename is atomic). Its name is "." + name
// + ".tmp-" + 26 random characters, which IsTemp recognises, so that
// temporary files left by a crash can be told apart and removed. The file
// has mode perm, set with chmod so the umask does not reduce it.
func CreateTemp(dir, name string, perm fs.FileMode) (*os.File, error) {
	path := filepath.Join(dir, "."+name+tempMark+rand.Text())
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		Discard(f)
		return nil, err
	}
	return f, nil
}

// IsTemp reports whether base, a file name without its directory, is the
// name of a file CreateTemp made.
func IsTemp(base string) bool {
	i := strings.LastIndex(base, tempMark)
	if !strings.HasPrefix(base, ".") || i < 1 || len(base)-i-len(tempMark) != tempRandLen {
		return false
	}
	for _, c := range base[i+len(tempMark):] {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Publish fsyncs and closes tmp, a file from CreateTemp with its contents
// written, and renames it to path, replacing any file there. It does not
// fsync the directory: call SyncDir once after publishing the files of one
// change. On an error tmp is removed and path is unchanged.
func Publish(tmp *os.File, path string) error {
	err := tmp.Sync()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Discard closes and removes tmp, a file from CreateTemp that will not be
// published. Errors are ignored: there is nothing more to do about them.
func Discard(tmp *os.File) {
	_ = tmp.Close()
	_ = os.Remove(tmp.Name())
}

// MkdirAllDurable creates dir and any missing parents with mode perm
// (before the umask), like os.MkdirAll, and fsyncs the parent of each
// directory it creates, so that files later published in dir are not
// lost with their directory after a power cut. A directory that exists
// already, or that another goroutine creates meanwhile, is fine.
func MkdirAllDurable(dir string, perm fs.FileMode) error {
	info, err := os.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAllDurable(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return SyncDir(parent)
}

// SyncDir fsyncs the directory dir, so that files just created, renamed
// or removed in it stay so after a power cut. It does nothing on Windows,
// which cannot fsync a directory.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
