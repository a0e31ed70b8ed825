// Package blob stores the bytes of files (the values of file fields, their
// thumbnails) by key, and defines the contract its two drivers fulfil:
// blob/local (a folder, the default, in the data folder) and blob/s3 (any
// S3-compatible object store). The conformance suite in blob/blobtest
// checks that contract against both.
//
// # Keys
//
// A key is a slash-separated path such as "COLLECTION_ID/RECORD_ID/name.png".
// ValidKey states the rules; they are the same for both drivers, so files
// can move from disk to S3 and back. A prefix (List, DeletePrefix) is a
// plain string prefix of keys: "c/r" matches "c/r/a.png" and "c/r2/b.png",
// so callers that mean a folder end the prefix with '/'.
//
// # Errors
//
// Errors are *core.Error values where the caller can do something about
// them: a bad key or content type is core.KindInvalid, a missing key is
// core.KindNotFound wrapping ErrNotFound, a closed store is
// core.KindUnavailable. Failures of the disk or of the S3 service are
// plain errors (core.KindInternal). An error of the reader given to Put
// and the context's error are wrapped, so errors.Is and errors.As find
// them (an over-limit body's *http.MaxBytesError, context.Canceled).
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Store keeps file bytes by key. Its methods are safe for concurrent use.
// Writes of one key are atomic: readers see the previous object or the
// new one, never a part of either.
type Store interface {
	// Put stores the bytes r yields under key, replacing any object there.
	// size is the number of bytes r will yield, or -1 when unknown; a
	// reader that yields another number of bytes is refused. Put streams:
	// it holds at most a bounded buffer in memory (see each driver), never
	// the whole file. contentType is the media type to serve the object
	// with ("" stores application/octet-stream). When Put fails — the
	// reader fails, the size is wrong, ctx ends — nothing is stored and
	// the previous object under key, if any, is unchanged. (One case is
	// undecidable, as with any remote write: when ctx ends after the last
	// byte was read, a remote service may have stored the object before
	// Put learns of it; the caller then treats the key as possibly
	// written, as it would any orphan.)
	// Errors: KindInvalid (key, content type or size), KindUnavailable
	// (closed), the reader's and ctx's errors wrapped, KindInternal.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error

	// Open opens the object under key for reading. The Object reads the
	// bytes Info describes and can seek, so http.ServeContent can answer
	// Range requests from it. The caller closes it. ctx also governs the
	// Object's reads on drivers that fetch lazily (S3).
	// Errors: KindNotFound (ErrNotFound), KindInvalid (key),
	// KindUnavailable (closed), KindInternal.
	Open(ctx context.Context, key string) (Object, error)

	// Stat describes the object under key.
	// Errors: KindNotFound (ErrNotFound), KindInvalid (key),
	// KindUnavailable (closed), KindInternal.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes the object under key; a missing key is not an error.
	// Errors: KindInvalid (key), KindUnavailable (closed), KindInternal.
	Delete(ctx context.Context, key string) error

	// DeletePrefix removes every object whose key starts with prefix,
	// which must name a folder: non-empty and ending in '/'
	// ("COLLECTION_ID/RECORD_ID/"), so that deleting the files of record
	// "r1" cannot take those of "r10". Nothing to delete is not an error.
	// Errors: KindInvalid (prefix), KindUnavailable (closed), KindInternal.
	DeletePrefix(ctx context.Context, prefix string) error

	// List calls fn for each object whose key starts with prefix ("" for
	// all), in ascending byte order of keys. The Info passed to fn has
	// Key, Size and ModTime; ContentType and ETag may be empty (S3 lists
	// no content types; ask Stat). Objects put or deleted while List runs
	// may or may not be seen. When fn returns an error List stops and
	// returns it unchanged.
	// Errors: KindInvalid (prefix), KindUnavailable (closed), fn's error,
	// KindInternal.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Close releases the store's resources. Calls made after Close fail
	// with KindUnavailable; Objects already open stay readable. Close is
	// idempotent.
	Close() error
}

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64 // in bytes
	// ModTime is when the object was last put. S3 keeps it to the second.
	ModTime time.Time
	// ContentType is the media type given to Put, or
	// application/octet-stream.
	ContentType string
	// ETag is an opaque validator of the object's content, without
	// quotes: it changes when the bytes change (an HTTP layer sends it as
	// `"` + ETag + `"`). Each driver documents how it derives it.
	ETag string
}

// Object is an open stored object: its bytes, readable and seekable, and
// its Info. Reading past Info.Size yields io.EOF.
type Object interface {
	io.ReadSeekCloser
	// Info describes the bytes this Object reads.
	Info() Info
}

// ErrNotFound is wrapped by the KindNotFound errors of Open and Stat:
// errors.Is(err, blob.ErrNotFound).
var ErrNotFound = errors.New("blob not found")

// NotFound returns the KindNotFound error for a missing key, wrapping
// ErrNotFound. Drivers return it; the message shown to users names no key.
func NotFound(key string) error {
	return &core.Error{Kind: core.KindNotFound, Message: "The requested file wasn't found.",
		Err: fmt.Errorf("%q: %w", key, ErrNotFound)}
}

// ErrClosed is the KindUnavailable error of a store's methods after Close.
var ErrClosed = &core.Error{Kind: core.KindUnavailable, Message: "The file storage is closed."}

// Limits on keys. MaxKeyLen leaves 64 of the 1,024 bytes S3 allows an
// object name for the S3 driver's key prefix; MaxSegmentLen leaves room,
// under the 255 bytes most file systems allow a file name, for the local
// driver's temporary and attribute files named after a segment.
const (
	MaxKeyLen     = 960 // bytes
	MaxSegmentLen = 200 // bytes between two slashes
)

// ValidKey returns nil when key can name an object, or a KindInvalid error
// saying what is wrong. A key is valid UTF-8 of at most MaxKeyLen bytes,
// made of segments separated by single slashes, each non-empty and at
// most MaxSegmentLen bytes. It has no leading or trailing slash, no
// backslash, no NUL or other control character, and no segment that
// starts with '.': that refuses "." and ".." (a key can never climb out
// of its folder) and reserves dot names for the local driver's own
// temporary and attribute files, with the same rule on S3 so keys
// stay portable between the drivers.
func ValidKey(key string) error {
	if key == "" {
		return core.Invalid("The file key is empty.")
	}
	if err := validChars(key); err != nil {
		return err
	}
	if key[0] == '/' {
		return core.Invalid("The file key %q must not start with '/'.", key)
	}
	if key[len(key)-1] == '/' {
		return core.Invalid("The file key %q must not end with '/'.", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return core.Invalid("The file key %q has an empty segment ('//').", key)
		case seg == "." || seg == "..":
			return core.Invalid("The file key %q must not contain '.' or '..' segments.", key)
		case seg[0] == '.':
			return core.Invalid("The file key %q has a segment starting with '.' (reserved).", key)
		case len(seg) > MaxSegmentLen:
			return core.Invalid("The file key %q has a segment longer than %d bytes.", clip(key), MaxSegmentLen)
		}
	}
	return nil
}

// validChars checks what ValidKey and ValidPrefix share: length,
// encoding and characters.
func validChars(s string) error {
	if len(s) > MaxKeyLen {
		return core.Invalid("The file key %q is longer than %d bytes.", clip(s), MaxKeyLen)
	}
	if !utf8.ValidString(s) {
		return core.Invalid("The file key %q is not valid UTF-8.", s)
	}
	for _, r := range s {
		switch {
		case r == '\\':
			return core.Invalid("The file key %q must not contain a backslash.", s)
		case unicode.IsControl(r):
			return core.Invalid("The file key %q must not contain control characters.", s)
		}
	}
	return nil
}

// clip shortens an over-long key for an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 60
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// ValidPrefix returns nil when prefix can select keys in List: "" (all
// keys), or a key with or without a trailing slash, whose last segment
// may be partial ("c/r" selects "c/r1/a" and "c/r2/b"). Otherwise it
// returns a KindInvalid error.
func ValidPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidKey(strings.TrimSuffix(prefix, "/"))
}

// ValidFolder returns nil when prefix can be given to DeletePrefix: a
// valid prefix, non-empty, ending in '/'. Otherwise it returns a
// KindInvalid error.
func ValidFolder(prefix string) error {
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return core.Invalid("The folder %q to delete must be non-empty and end with '/'.", prefix)
	}
	return ValidPrefix(prefix)
}

// DefaultContentType is what an object put without a content type is
// served as.
const DefaultContentType = "application/octet-stream"

// maxContentTypeLen bounds the content type Put accepts.
const maxContentTypeLen = 255

// ContentType returns the content type to store for contentType as given
// to Put: DefaultContentType for "", contentType itself when it is a
// well-formed type/subtype (mime.ParseMediaType) of at most 255 bytes, or a
// KindInvalid error. The check keeps header injection and garbage out of
// what is later sent as a Content-Type header.
func ContentType(contentType string) (string, error) {
	if contentType == "" {
		return DefaultContentType, nil
	}
	if len(contentType) > maxContentTypeLen {
		return "", core.Invalid("The content type is longer than %d bytes.", maxContentTypeLen)
	}
	for _, r := range contentType {
		if r < ' ' || r == 0x7f {
			return "", core.Invalid("The content type %q contains control characters.", contentType)
		}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if typ, sub, ok := strings.Cut(mt, "/"); err != nil || !ok || typ == "" || sub == "" {
		return "", core.Invalid("The content type %q is not a valid media type (type/subtype).", contentType)
	}
	return contentType, nil
}

// ValidSize returns nil when size can be given to Put (-1 or more), or a
// KindInvalid error.
func ValidSize(size int64) error {
	if size < -1 {
		return core.Invalid("The file size %d is negative.", size)
	}
	return nil
}

// Sized returns a reader that yields what r yields when that is exactly
// size bytes (size -1: any number), and otherwise fails with a
// KindInvalid error: at the end of r when it is shorter, or with the last
// of the size bytes when r has more, before the extra bytes are passed
// on. Drivers wrap Put's reader in it so that a wrong size stores nothing.
func Sized(r io.Reader, size int64) io.Reader {
	if size < 0 {
		return r
	}
	return &sized{r: r, size: size, left: size}
}

type sized struct {
	r          io.Reader
	size, left int64
	err        error // sticky
}

func (s *sized) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.left == 0 {
		s.err = s.probe()
		return 0, s.err
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case err == io.EOF && s.left > 0:
		s.err = core.Invalid("The file is shorter than its declared size of %d bytes.", s.size)
		return n, s.err
	case err != nil && err != io.EOF:
		s.err = err
		return n, err
	case s.left == 0:
		// Look for an extra byte now: a consumer that stops at size
		// bytes would not ask again, and would store a truncated file.
		s.err = s.probe()
		return n, s.err
	}
	return n, nil
}

// probe reads one more byte: io.EOF when r is at its end, as it should be.
func (s *sized) probe() error {
	var b [1]byte
	for range 100 {
		n, err := s.r.Read(b[:])
		if n > 0 {
			return core.Invalid("The file is longer than its declared size of %d bytes.", s.size)
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// ContextReader returns a reader that yields what r yields and fails with
// ctx's error, wrapped, once ctx is done: drivers that copy in a loop
// stop there.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("put canceled: %w", err)
	}
	return c.r.Read(p)
}
