// Package local is the blob.Store on a folder of the local file system,
// Tortoise's default file storage (the data folder's storage/).
//
// # Layout
//
// The object under key "c/r/a.png" is the plain file c/r/a.png inside the
// folder, so the folder can be browsed, backed up and copied with the
// usual tools. Beside each file its attributes are kept in a small JSON
// file named ".a.png.meta": the content type given to Put and the ETag,
// with the identity of the file they describe (inode, size and
// modification time). Names starting with '.' are the driver's own
// (blob.ValidKey refuses such keys): they are never listed.
//
// # Durability and atomicity
//
// Put streams the bytes to a temporary file in the key's folder (see
// fsutil.CreateTemp), fsyncs it, writes the attribute file the same way,
// renames both into place and fsyncs the folder: once Put returns, the
// object survives a crash or a power cut, and readers see the old object
// or the new one, never a part of one. Folders Put creates are fsynced in
// their parents. Should a crash fall between the two renames, the
// attribute file no longer matches the data file's identity and is
// ignored: the object is then served with a content type derived from its
// name's extension and an ETag derived from its size and modification
// time, as are files copied into the folder by hand. Temporary files and
// stray attribute files left by a crash are never listed, and are removed
// by Sweep, which Open starts in the background.
//
// # ETags
//
// The ETag of an object written by Put is the first 128 bits of the
// SHA-256 of its bytes, in hex, computed while streaming: it changes
// exactly when the content does, whatever the timing of writes.
//
// The folder is meant for one process, as the SQLite database beside it
// is. Keys that differ only in case collide on case-insensitive file
// systems, and a key cannot be both an object and the folder of other
// keys ("a/b" and "a/b/c"): such a Put fails with KindInvalid.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/fsutil"
)

var _ blob.Store = (*Store)(nil)

// Permissions of what the driver creates: files may be protected, so
// they are private to the server's user.
const (
	filePerm fs.FileMode = 0o600
	dirPerm  fs.FileMode = 0o700
)

// copyBufSize is the buffer Put streams through: the only memory a Put
// holds, whatever the size of the file.
const copyBufSize = 128 << 10

// Store is a blob.Store on a folder. Open makes one.
type Store struct {
	root   string
	closed atomic.Bool

	// locks serialise, per key (striped by hash), the two renames of a
	// Put and the two removals of a Delete, so that concurrent writers
	// of one key leave a data file and an attribute file that belong
	// together. The slow part of a Put (streaming, fsync) runs unlocked.
	locks [64]sync.Mutex
	seed  maphash.Seed

	stopSweep context.CancelFunc
	swept     chan struct{} // closed when the sweep started by Open ends
	sweepErr  error         // what that sweep returned; read after swept
}

// sweepMargin is how much older than the time of opening a leftover must
// be for Open's sweep to remove it.
const sweepMargin = 2 * time.Second

// Open opens the folder dir as a blob store, creating it (mode 0700) when
// missing, and starts sweeping, in the background, what Puts and Deletes
// interrupted by a crash left there more than two seconds before now (see
// Sweep). Close stops the sweep.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, core.Invalid("The storage folder is not set.")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage folder %s: %w", dir, err)
	}
	if err := fsutil.MkdirAllDurable(root, dirPerm); err != nil {
		return nil, fmt.Errorf("open storage folder %s: %w", dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{root: root, seed: maphash.MakeSeed(), stopSweep: cancel, swept: make(chan struct{})}
	// A file's times come from the kernel's coarse clock, which can lag
	// time.Now by a clock tick: a Put made just after Open may carry a
	// time before it. The margin keeps the sweep off such files.
	before := time.Now().Add(-sweepMargin)
	go func() {
		defer close(s.swept)
		s.sweepErr = s.Sweep(ctx, before)
	}()
	return s, nil
}

// Dir returns the absolute path of the store's folder.
func (s *Store) Dir() string { return s.root }

// Close stops the background sweep and makes later calls fail with
// blob.ErrClosed. Objects already open stay readable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stopSweep()
	<-s.swept
	return nil
}

// meta is the content of an attribute file.
type meta struct {
	ContentType string `json:"contentType"`
	ETag        string `json:"etag"`
	// The identity of the data file described: the attributes apply
	// only while the file under the key is that one.
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"` // Unix nanoseconds
	File    uint64 `json:"file"`  // inode number; 0 where the system has none
}

func (m *meta) describes(fi fs.FileInfo) bool {
	return m.Size == fi.Size() && m.ModTime == fi.ModTime().UnixNano() && m.File == fileID(fi)
}

const metaSuffix = ".meta"

// metaName is the name of the attribute file of the data file name.
func metaName(name string) string { return "." + name + metaSuffix }

// path maps a valid key to its file.
func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

func (s *Store) lock(key string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, key)%uint64(len(s.locks))]
}

// check runs what every method starts with.
func (s *Store) check(ctx context.Context, key string) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// missing reports whether err means that a path does not exist: no such
// file, or a parent that is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Put implements blob.Store. It holds a buffer of 128 KiB, whatever the
// size of the file.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	ct, err := blob.ContentType(contentType)
	if err != nil {
		return err
	}
	if err := blob.ValidSize(size); err != nil {
		return err
	}
	path := s.path(key)
	dir, name := filepath.Split(path)
	if err := fsutil.MkdirAllDurable(dir, dirPerm); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
			return core.Invalid("The file key %q is inside another file's key.", key)
		}
		return fmt.Errorf("put %q: %w", key, err)
	}
	f, err := fsutil.CreateTemp(dir, name, filePerm)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	h := sha256.New()
	_, err = io.CopyBuffer(io.MultiWriter(f, h), blob.ContextReader(ctx, blob.Sized(r, size)), make([]byte, copyBufSize))
	var fi fs.FileInfo
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		fi, err = f.Stat()
	}
	if err != nil {
		fsutil.Discard(f)
		if core.AsError(err) != nil {
			return err // a wrong size
		}
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("put %q: %w", key, err)
	}
	m := meta{ContentType: ct, ETag: hex.EncodeToString(h.Sum(nil)[:16]),
		Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), File: fileID(fi)}
	mf, err := writeTemp(dir, metaName(name), &m)
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		_ = os.Remove(f.Name())
		_ = os.Remove(mf)
		return fmt.Errorf("put %q canceled: %w", key, err)
	}
	// From here on the Put goes through: a caller that gives up now must
	// not find a half-replaced object.
	mu := s.lock(key)
	mu.Lock()
	err = os.Rename(mf, filepath.Join(dir, metaName(name)))
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	mu.Unlock()
	if err != nil {
		_ = os.Remove(f.Name())
		_ = os.Remove(mf)
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return core.Invalid("The file key %q is the folder of other files.", key)
		}
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// writeTemp writes m to a new, fsynced temporary file for dir/name and
// returns its path.
func writeTemp(dir, name string, m *meta) (string, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	f, err := fsutil.CreateTemp(dir, name, filePerm)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// info describes the data file of key, whose file information is fi.
func (s *Store) info(key string, fi fs.FileInfo) blob.Info {
	in := blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	dir, name := filepath.Split(s.path(key))
	var m meta
	if data, err := os.ReadFile(filepath.Join(dir, metaName(name))); err == nil &&
		json.Unmarshal(data, &m) == nil && m.describes(fi) {
		in.ContentType, in.ETag = m.ContentType, m.ETag
		return in
	}
	// No attributes for this file: a crash between Put's renames, or a
	// file copied in by hand.
	in.ContentType = mime.TypeByExtension(filepath.Ext(name))
	if in.ContentType == "" {
		in.ContentType = blob.DefaultContentType
	}
	in.ETag = fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
	return in
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(s.path(key))
	if missing(err) || err == nil && !fi.Mode().IsRegular() {
		return blob.Info{}, blob.NotFound(key)
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	return s.info(key, fi), nil
}

// Open implements blob.Store.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(key))
	if missing(err) {
		return nil, blob.NotFound(key)
	}
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	// The identity comes from the open file, so Info describes the bytes
	// read even if the key is overwritten meanwhile.
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, blob.NotFound(key)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	return &object{File: f, info: s.info(key, fi)}, nil
}

// object is an open file and its Info. Only the methods of blob.Object
// are reachable through the interface.
type object struct {
	*os.File
	info blob.Info
}

func (o *object) Info() blob.Info { return o.info }

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	path := s.path(key)
	dir, name := filepath.Split(path)
	mu := s.lock(key)
	mu.Lock()
	defer mu.Unlock()
	fi, err := os.Lstat(path)
	if missing(err) || err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err == nil || missing(err) {
		err = os.Remove(filepath.Join(dir, metaName(name)))
	}
	if err != nil && !missing(err) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// DeletePrefix implements blob.Store: it removes the folder prefix names.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidFolder(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := s.path(strings.TrimSuffix(prefix, "/"))
	fi, err := os.Lstat(dir)
	if missing(err) || err == nil && !fi.IsDir() {
		return nil
	}
	if err == nil {
		err = os.RemoveAll(dir)
	}
	if err == nil {
		err = fsutil.SyncDir(filepath.Dir(dir))
	}
	if err != nil {
		return fmt.Errorf("delete folder %q: %w", prefix, err)
	}
	return nil
}

// List implements blob.Store. Keys come in byte order; each folder's
// names are held in memory while it is listed.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidPrefix(prefix); err != nil {
		return err
	}
	// Start in the deepest folder the prefix names.
	base := prefix[:strings.LastIndex(prefix, "/")+1]
	err := s.list(ctx, base, prefix, fn)
	if missing(err) {
		return nil
	}
	return err
}

// list lists the folder of keys starting with dirKey ("" or ending in
// '/'), in key order: a folder "a" sorts as "a/", so it comes after the
// file "a-b" ('-' < '/') and before "a0".
func (s *Store) list(ctx context.Context, dirKey, prefix string, fn func(blob.Info) error) error {
	entries, err := os.ReadDir(s.path(dirKey))
	if err != nil {
		if dirKey != "" && missing(err) {
			return nil // removed meanwhile
		}
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	type item struct {
		key string
		e   fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		key := dirKey + name
		if e.IsDir() {
			key += "/"
			if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key) {
				continue
			}
		} else if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			continue
		}
		items = append(items, item{key, e})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if it.e.IsDir() {
			if err := s.list(ctx, it.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := it.e.Info()
		if missing(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(blob.Info{Key: it.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Sweep removes what Puts and Deletes interrupted by a crash left in the
// folder and last modified before the time before: temporary files, and
// attribute files whose data file is gone. Open runs it in the background
// with the time of opening, so a Put in progress is never disturbed; run
// it again (from a periodic job) with a time well in the past, for
// temporary files of a Put still in progress are fresh. It does not look
// at objects: orphaned files of deleted records are the files feature's
// concern (List and Delete).
func (s *Store) Sweep(ctx context.Context, before time.Time) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	return filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if missing(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || !strings.HasPrefix(name, ".") {
			return nil
		}
		stray := fsutil.IsTemp(name)
		if !stray && strings.HasSuffix(name, metaSuffix) {
			data := filepath.Join(filepath.Dir(path), strings.TrimSuffix(name[1:], metaSuffix))
			_, err := os.Lstat(data)
			stray = missing(err)
		}
		if !stray {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(path); err != nil && !missing(err) {
			return fmt.Errorf("sweep: %w", err)
		}
		return nil
	})
}
