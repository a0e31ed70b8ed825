// Package fsutil holds the file-system helpers Tortoise's packages share.
package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
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
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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
