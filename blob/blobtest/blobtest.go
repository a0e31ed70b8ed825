// Package blobtest is the conformance suite of blob.Store: each driver's
// test file calls Run, so the local folder and S3 are held to the same
// contract against the real engine. It also makes stores for the tests of
// packages built on blob (Local, S3).
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
)

// Run runs the whole suite. open must return a new, empty store for t;
// Run closes the stores it opens.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	h := func(test func(*testing.T, blob.Store)) func(*testing.T) {
		return func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			test(t, s)
		}
	}
	t.Run("RoundTrip", h(testRoundTrip))
	t.Run("Overwrite", h(testOverwrite))
	t.Run("Seek", h(testSeek))
	t.Run("ServeRange", h(testServeRange))
	t.Run("Missing", h(testMissing))
	t.Run("Delete", h(testDelete))
	t.Run("DeletePrefix", h(testDeletePrefix))
	t.Run("List", h(testList))
	t.Run("BadInput", h(testBadInput))
	t.Run("LongKey", h(testLongKey))
	t.Run("FailedPut", h(testFailedPut))
	t.Run("WrongSize", h(testWrongSize))
	t.Run("Canceled", h(testCanceled))
	t.Run("Large", h(testLarge))
	t.Run("Concurrent", h(testConcurrent))
	t.Run("ReadDuringOverwrite", h(testReadDuringOverwrite))
	t.Run("Closed", h(testClosed))
}

// onlyReader hides every method but Read (bytes.Reader's Seek, ReadAt,
// WriteTo), so a driver cannot take a shortcut a request body does not
// offer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func put(t *testing.T, s blob.Store, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, int64(len(data)), contentType); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

// read returns the bytes and Info of key, read through Open.
func read(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %q: %v", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, obj.Info()
}

func stat(t *testing.T, s blob.Store, key string) blob.Info {
	t.Helper()
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("stat %q: %v", key, err)
	}
	return info
}

// keys lists the keys under prefix, checking that they come in order.
func keys(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	got := []string{}
	err := s.List(t.Context(), prefix, func(info blob.Info) error {
		got = append(got, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	if !slices.IsSorted(got) {
		t.Errorf("list %q: keys out of order: %q", prefix, got)
	}
	return got
}

func wantKind(t *testing.T, what string, err error, kind core.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, kind)
		return
	}
	if got := core.KindOf(err); got != kind {
		t.Errorf("%s: %v (kind %v), want kind %v", what, err, got, kind)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	wantKind(t, what, err, core.KindNotFound)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("%s: %v does not wrap blob.ErrNotFound", what, err)
	}
}

// randomBytes returns n bytes that are the same for the same seed.
func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func testRoundTrip(t *testing.T, s blob.Store) {
	for name, tc := range map[string]struct {
		key         string
		data        []byte
		unknownSize bool
		contentType string
		want        string // content type
	}{
		"text":            {key: "c/r/hello.txt", data: []byte("hello, world\n"), contentType: "text/plain; charset=utf-8", want: "text/plain; charset=utf-8"},
		"unknown size":    {key: "c/r/unknown.txt", data: []byte("size not given"), unknownSize: true, contentType: "text/plain", want: "text/plain"},
		"empty":           {key: "c/r/empty", data: []byte{}, contentType: "text/plain", want: "text/plain"},
		"empty unknown":   {key: "c/r/empty-unknown", data: []byte{}, unknownSize: true, want: blob.DefaultContentType},
		"no content type": {key: "c/r/data.bin", data: randomBytes(4096, 1), want: blob.DefaultContentType},
		"spaces, unicode": {key: "c/r/ünïcødé name (1) & co+.png", data: randomBytes(300, 2), contentType: "image/png", want: "image/png"},
		"one segment":     {key: "top", data: []byte("x"), contentType: "text/plain", want: "text/plain"},
	} {
		t.Run(name, func(t *testing.T) {
			size := int64(len(tc.data))
			if tc.unknownSize {
				size = -1
			}
			before := time.Now()
			if err := s.Put(t.Context(), tc.key, onlyReader{bytes.NewReader(tc.data)}, size, tc.contentType); err != nil {
				t.Fatalf("put: %v", err)
			}
			after := time.Now()
			info := stat(t, s, tc.key)
			if info.Key != tc.key || info.Size != int64(len(tc.data)) || info.ContentType != tc.want || info.ETag == "" {
				t.Errorf("stat: %+v, want key %q, size %d, content type %q and an ETag", info, tc.key, len(tc.data), tc.want)
			}
			if strings.Contains(info.ETag, `"`) {
				t.Errorf("ETag %s is quoted", info.ETag)
			}
			// S3 keeps modification times to the second; clocks of a
			// service on another machine may differ a little.
			if info.ModTime.Before(before.Add(-5*time.Second)) || info.ModTime.After(after.Add(5*time.Second)) {
				t.Errorf("ModTime %v, want between %v and %v", info.ModTime, before, after)
			}
			got, oinfo := read(t, s, tc.key)
			if !bytes.Equal(got, tc.data) {
				t.Errorf("read %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tc.data), tc.data)
			}
			if oinfo.Key != info.Key || oinfo.Size != info.Size || oinfo.ContentType != info.ContentType ||
				oinfo.ETag != info.ETag || !oinfo.ModTime.Equal(info.ModTime) {
				t.Errorf("Open's Info %+v, Stat's %+v", oinfo, info)
			}
		})
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "o/file", []byte("first version"), "text/plain")
	first := stat(t, s, "o/file")
	put(t, s, "o/file", []byte("the second, longer version"), "image/png")
	got, second := read(t, s, "o/file")
	if string(got) != "the second, longer version" || second.Size != int64(len(got)) || second.ContentType != "image/png" {
		t.Errorf("after overwrite: %q %+v", got, second)
	}
	if second.ETag == first.ETag {
		t.Errorf("ETag %q unchanged by an overwrite", first.ETag)
	}
	// Same size, other bytes, at once: the ETag still changes.
	put(t, s, "o/file", []byte("THE SECOND, LONGER VERSION"), "image/png")
	got, third := read(t, s, "o/file")
	if string(got) != "THE SECOND, LONGER VERSION" {
		t.Errorf("after second overwrite: %q", got)
	}
	if third.ETag == second.ETag {
		t.Errorf("ETag %q unchanged by an overwrite of the same size", third.ETag)
	}
	if keys := keys(t, s, ""); !slices.Equal(keys, []string{"o/file"}) {
		t.Errorf("keys after overwrites: %q", keys)
	}
}

func testSeek(t *testing.T, s blob.Store) {
	data := randomBytes(10000, 3)
	put(t, s, "s/data", data, "")
	obj, err := s.Open(t.Context(), "s/data")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	readN := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		got, err := io.ReadFull(obj, b)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			t.Fatalf("read: %v", err)
		}
		return b[:got]
	}
	seek := func(off int64, whence int, want int64) {
		t.Helper()
		pos, err := obj.Seek(off, whence)
		if err != nil || pos != want {
			t.Fatalf("seek(%d, %d) = %d, %v; want %d", off, whence, pos, err, want)
		}
	}
	if got := readN(100); !bytes.Equal(got, data[:100]) {
		t.Error("first 100 bytes differ")
	}
	seek(1234, io.SeekStart, 1234)
	if got := readN(100); !bytes.Equal(got, data[1234:1334]) {
		t.Error("bytes at 1234 differ")
	}
	seek(0, io.SeekCurrent, 1334)
	seek(66, io.SeekCurrent, 1400)
	if got := readN(10); !bytes.Equal(got, data[1400:1410]) {
		t.Error("bytes at 1400 differ")
	}
	seek(-10, io.SeekEnd, 9990)
	if got, err := io.ReadAll(obj); err != nil || !bytes.Equal(got, data[9990:]) {
		t.Errorf("last 10 bytes: %v, %v", got, err)
	}
	seek(0, io.SeekStart, 0)
	if got, err := io.ReadAll(obj); err != nil || !bytes.Equal(got, data) {
		t.Errorf("whole object after rewinding: %d bytes, %v", len(got), err)
	}
	seek(20000, io.SeekStart, 20000)
	if n, err := obj.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("read past the end: %d, %v; want 0, EOF", n, err)
	}
	if _, err := obj.Seek(-1, io.SeekStart); err == nil {
		t.Error("seek to -1 succeeded")
	}
	if err := obj.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := obj.Read(make([]byte, 10)); err == nil {
		t.Error("read after close succeeded")
	}
}

// testServeRange is what the files API will do: http.ServeContent over
// an Object answers Range requests.
func testServeRange(t *testing.T, s blob.Store) {
	data := randomBytes(10000, 4)
	put(t, s, "r/photo.jpg", data, "image/jpeg")
	for name, tc := range map[string]struct {
		rangeHeader string
		status      int
		body        []byte
		contentRng  string
	}{
		"whole":  {status: http.StatusOK, body: data},
		"middle": {rangeHeader: "bytes=100-199", status: http.StatusPartialContent, body: data[100:200], contentRng: "bytes 100-199/10000"},
		"suffix": {rangeHeader: "bytes=-5", status: http.StatusPartialContent, body: data[9995:], contentRng: "bytes 9995-9999/10000"},
		"open":   {rangeHeader: "bytes=9000-", status: http.StatusPartialContent, body: data[9000:], contentRng: "bytes 9000-9999/10000"},
		"beyond": {rangeHeader: "bytes=20000-", status: http.StatusRequestedRangeNotSatisfiable},
	} {
		t.Run(name, func(t *testing.T) {
			obj, err := s.Open(t.Context(), "r/photo.jpg")
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			req := httptest.NewRequest(http.MethodGet, "/api/files/c/r/photo.jpg", nil)
			if tc.rangeHeader != "" {
				req.Header.Set("Range", tc.rangeHeader)
			}
			w := httptest.NewRecorder()
			w.Header().Set("Content-Type", obj.Info().ContentType)
			http.ServeContent(w, req, "photo.jpg", obj.Info().ModTime, obj)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Errorf("body: %d bytes, want %d", w.Body.Len(), len(tc.body))
			}
			if got := w.Header().Get("Content-Range"); tc.contentRng != "" && got != tc.contentRng {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRng)
			}
		})
	}
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "m/file", []byte("x"), "")
	for _, key := range []string{"m/none", "none", "m/file/below", "m", "m/fil"} {
		_, err := s.Stat(ctx, key)
		wantNotFound(t, "stat "+key, err)
		_, err = s.Open(ctx, key)
		wantNotFound(t, "open "+key, err)
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("delete missing %q: %v", key, err)
		}
	}
	if err := s.DeletePrefix(ctx, "none/"); err != nil {
		t.Errorf("delete missing folder: %v", err)
	}
	if err := s.DeletePrefix(ctx, "m/file/"); err != nil {
		t.Errorf("delete folder below a file: %v", err)
	}
	if got := keys(t, s, "none/"); len(got) != 0 {
		t.Errorf("list of a missing folder: %q", got)
	}
	if got := keys(t, s, ""); !slices.Equal(got, []string{"m/file"}) {
		t.Errorf("keys: %q", got)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "d/1", []byte("one"), "")
	put(t, s, "d/2", []byte("two"), "")
	if err := s.Delete(ctx, "d/1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Stat(ctx, "d/1")
	wantNotFound(t, "stat deleted", err)
	if got, _ := read(t, s, "d/2"); string(got) != "two" {
		t.Errorf("sibling: %q", got)
	}
	if err := s.Delete(ctx, "d/1"); err != nil {
		t.Errorf("delete again: %v", err)
	}
	if got := keys(t, s, ""); !slices.Equal(got, []string{"d/2"}) {
		t.Errorf("keys: %q", got)
	}
	// A deleted key can be put again.
	put(t, s, "d/1", []byte("again"), "")
	if got, _ := read(t, s, "d/1"); string(got) != "again" {
		t.Errorf("put after delete: %q", got)
	}
}

func testDeletePrefix(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, k := range []string{"c1/r1/a.png", "c1/r1/thumbs_a.png/100x100_a.png", "c1/r10/b.png", "c1/r2/c.png", "c2/r1/d.png"} {
		put(t, s, k, []byte(k), "image/png")
	}
	if err := s.DeletePrefix(ctx, "c1/r1/"); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(t, s, ""), []string{"c1/r10/b.png", "c1/r2/c.png", "c2/r1/d.png"}; !slices.Equal(got, want) {
		t.Errorf("after deleting c1/r1/: %q, want %q", got, want)
	}
	if err := s.DeletePrefix(ctx, "c1/"); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(t, s, ""), []string{"c2/r1/d.png"}; !slices.Equal(got, want) {
		t.Errorf("after deleting c1/: %q, want %q", got, want)
	}
	for _, p := range []string{"", "/", "c2", "c2/r1", "/c2/", "../", "c2//", "c2/../", "c2\\r1/"} {
		wantKind(t, fmt.Sprintf("DeletePrefix(%q)", p), s.DeletePrefix(ctx, p), core.KindInvalid)
	}
	if got := keys(t, s, ""); len(got) != 1 {
		t.Errorf("refused prefixes deleted something: %q", got)
	}
	// Objects in a deleted folder can be put again.
	put(t, s, "c1/r1/a.png", []byte("new"), "image/png")
	if got, _ := read(t, s, "c1/r1/a.png"); string(got) != "new" {
		t.Errorf("put after DeletePrefix: %q", got)
	}
}

func testList(t *testing.T, s blob.Store) {
	ctx := t.Context()
	all := []string{"l/a-b", "l/a/c", "l/a0", "l/b/c/d", "l/ä", "l2/x"} // in byte order
	for _, k := range []string{"l2/x", "l/ä", "l/a/c", "l/b/c/d", "l/a0", "l/a-b"} {
		put(t, s, k, []byte(k), "")
	}
	for prefix, want := range map[string][]string{
		"":        all,
		"l":       all,
		"l/":      all[:5],
		"l/a":     all[:3],
		"l/a/":    {"l/a/c"},
		"l/b/c/":  {"l/b/c/d"},
		"l/b/c/d": {"l/b/c/d"},
		"l2/":     {"l2/x"},
		"l/zz":    {},
		"zz/":     {},
	} {
		if got := keys(t, s, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	// Info carries the size and time.
	err := s.List(ctx, "l/b/", func(info blob.Info) error {
		if info.Key != "l/b/c/d" || info.Size != int64(len("l/b/c/d")) || info.ModTime.IsZero() {
			t.Errorf("listed %+v", info)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// fn's error stops the listing and comes back unchanged.
	errStop := errors.New("stop")
	calls := 0
	err = s.List(ctx, "", func(blob.Info) error { calls++; return errStop })
	if err != errStop || calls != 1 {
		t.Errorf("stopping: %v after %d calls, want errStop after 1", err, calls)
	}
	for _, p := range []string{"/l", "l/../x", "l\\x", "l/./", "l//", "\x00"} {
		wantKind(t, fmt.Sprintf("List(%q)", p), s.List(ctx, p, func(blob.Info) error { return nil }), core.KindInvalid)
	}
}

// badKeys are keys every driver refuses with KindInvalid.
var badKeys = map[string]string{
	"empty":             "",
	"leading slash":     "/etc/passwd",
	"trailing slash":    "c/r/",
	"double slash":      "c//r",
	"dot dot":           "c/../../etc/passwd",
	"only dot dot":      "..",
	"dot":               "c/./r",
	"hidden":            "c/.r.meta",
	"backslash":         `c\r`,
	"NUL":               "c/r\x00.png",
	"newline":           "c/r\n.png",
	"DEL":               "c/r\x7f",
	"C1 control":        "c/r\u0085",
	"invalid UTF-8":     "c/r\xff.png",
	"too long":          strings.Repeat("a/", blob.MaxKeyLen/2) + "a",
	"segment too long":  "c/" + strings.Repeat("x", blob.MaxSegmentLen+1),
	"windows traversal": `..\..\x`,
}

func testBadInput(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for name, key := range badKeys {
		t.Run(name, func(t *testing.T) {
			wantKind(t, "put", s.Put(ctx, key, strings.NewReader("x"), 1, ""), core.KindInvalid)
			_, err := s.Stat(ctx, key)
			wantKind(t, "stat", err, core.KindInvalid)
			_, err = s.Open(ctx, key)
			wantKind(t, "open", err, core.KindInvalid)
			wantKind(t, "delete", s.Delete(ctx, key), core.KindInvalid)
		})
	}
	for _, ct := range []string{"text/plain\r\nX-Evil: 1", "not a media type", "text/", "image/png; " + strings.Repeat("a", 300) + "=1"} {
		wantKind(t, fmt.Sprintf("content type %q", ct), s.Put(ctx, "b/ct", strings.NewReader("x"), 1, ct), core.KindInvalid)
	}
	wantKind(t, "size -2", s.Put(ctx, "b/size", strings.NewReader("x"), -2, ""), core.KindInvalid)
	if got := keys(t, s, ""); len(got) != 0 {
		t.Errorf("refused Puts stored %q", got)
	}
}

// testLongKey puts the longest key allowed, with segments of the longest
// length allowed.
func testLongKey(t *testing.T, s blob.Store) {
	seg := strings.Repeat("s", blob.MaxSegmentLen)
	key := seg
	for len(key)+1+blob.MaxSegmentLen < blob.MaxKeyLen {
		key += "/" + seg
	}
	key += "/" + strings.Repeat("t", blob.MaxKeyLen-len(key)-1)
	if len(key) != blob.MaxKeyLen {
		t.Fatalf("test key is %d bytes", len(key))
	}
	put(t, s, key, []byte("long"), "text/plain")
	if got, info := read(t, s, key); string(got) != "long" || info.ContentType != "text/plain" {
		t.Errorf("read %q %+v", got, info)
	}
	if got := keys(t, s, seg[:10]); !slices.Equal(got, []string{key}) {
		t.Errorf("list: %d keys", len(got))
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
}

// failing yields n bytes of data, then fails with err.
type failing struct {
	data []byte
	n    int
	err  error
}

func (f *failing) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	k := copy(p, f.data[:len(p)])
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

var errBoom = errors.New("boom: the client went away")

func testFailedPut(t *testing.T, s blob.Store) {
	big := randomBytes(12<<20, 5)
	for name, tc := range map[string]struct {
		total, failAt int
		unknownSize   bool
	}{
		"small":               {total: 5000, failAt: 1000},
		"small unknown size":  {total: 5000, failAt: 1000, unknownSize: true},
		"large":               {total: len(big), failAt: 7 << 20},
		"large unknown size":  {total: len(big), failAt: 7 << 20, unknownSize: true},
		"at once":             {total: 5000, failAt: 0},
		"at once unknown":     {total: 5000, failAt: 0, unknownSize: true},
		"just before the end": {total: 5000, failAt: 4999},
	} {
		t.Run(name, func(t *testing.T) {
			key := "f/" + strings.ReplaceAll(name, " ", "-")
			size := int64(tc.total)
			if tc.unknownSize {
				size = -1
			}
			err := s.Put(t.Context(), key, &failing{data: big[:tc.total], n: tc.failAt, err: errBoom}, size, "")
			if !errors.Is(err, errBoom) {
				t.Fatalf("put: %v, want the reader's error", err)
			}
			_, err = s.Stat(t.Context(), key)
			wantNotFound(t, "stat after failed put", err)
		})
	}
	if got := keys(t, s, ""); len(got) != 0 {
		t.Errorf("failed Puts left %q", got)
	}
	// A failed overwrite leaves the object as it was.
	put(t, s, "f/keep", []byte("kept"), "text/plain")
	err := s.Put(t.Context(), "f/keep", &failing{data: big, n: 100, err: errBoom}, 1000, "image/png")
	if !errors.Is(err, errBoom) {
		t.Fatalf("put: %v, want the reader's error", err)
	}
	if got, info := read(t, s, "f/keep"); string(got) != "kept" || info.ContentType != "text/plain" {
		t.Errorf("after a failed overwrite: %q %+v", got, info)
	}
	if got := keys(t, s, ""); !slices.Equal(got, []string{"f/keep"}) {
		t.Errorf("keys: %q", got)
	}
}

func testWrongSize(t *testing.T, s blob.Store) {
	big := randomBytes(6<<20+1, 6)
	for name, tc := range map[string]struct {
		data []byte
		size int64
	}{
		"shorter":       {data: []byte("12345"), size: 10},
		"longer":        {data: []byte("1234567890"), size: 5},
		"empty":         {data: []byte{}, size: 1},
		"not empty":     {data: []byte("x"), size: 0},
		"large longer":  {data: big, size: 6 << 20},
		"large shorter": {data: big[:6<<20], size: 6<<20 + 1},
	} {
		t.Run(name, func(t *testing.T) {
			key := "w/" + strings.ReplaceAll(name, " ", "-")
			err := s.Put(t.Context(), key, onlyReader{bytes.NewReader(tc.data)}, tc.size, "")
			wantKind(t, "put", err, core.KindInvalid)
			_, err = s.Stat(t.Context(), key)
			wantNotFound(t, "stat after put of the wrong size", err)
		})
	}
	if got := keys(t, s, ""); len(got) != 0 {
		t.Errorf("Puts of the wrong size left %q", got)
	}
}

// cancelling yields data and cancels its context after its first Read.
type cancelling struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelling) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func testCanceled(t *testing.T, s blob.Store) {
	data := randomBytes(3<<20, 7)
	for name, tc := range map[string]struct {
		size   int64
		before bool
	}{
		"before":               {size: int64(len(data)), before: true},
		"midway":               {size: int64(len(data))},
		"midway unknown size":  {size: -1},
		"before, unknown size": {size: -1, before: true},
	} {
		t.Run(name, func(t *testing.T) {
			key := "x/" + strings.NewReplacer(" ", "-", ",", "").Replace(name)
			ctx, cancel := context.WithCancel(t.Context())
			var r io.Reader = &cancelling{r: onlyReader{bytes.NewReader(data)}, cancel: cancel}
			if tc.before {
				cancel()
				r = onlyReader{bytes.NewReader(data)}
			}
			err := s.Put(ctx, key, r, tc.size, "")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("put: %v, want context.Canceled", err)
			}
			_, err = s.Stat(t.Context(), key)
			wantNotFound(t, "stat after a canceled put", err)
		})
	}
	if got := keys(t, s, ""); len(got) != 0 {
		t.Errorf("canceled Puts left %q", got)
	}
}

// testLarge streams objects of several megabytes, larger than an S3 part.
func testLarge(t *testing.T, s blob.Store) {
	data := randomBytes(12<<20+12345, 8)
	want := sha256.Sum256(data)
	for name, size := range map[string]int64{"known size": int64(len(data)), "unknown size": -1} {
		t.Run(name, func(t *testing.T) {
			key := "big/" + strings.ReplaceAll(name, " ", "-") + ".bin"
			if err := s.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, size, "application/octet-stream"); err != nil {
				t.Fatal(err)
			}
			if info := stat(t, s, key); info.Size != int64(len(data)) {
				t.Errorf("size %d, want %d", info.Size, len(data))
			}
			obj, err := s.Open(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			h := sha256.New()
			if n, err := io.Copy(h, obj); err != nil || n != int64(len(data)) {
				t.Fatalf("read %d bytes, %v", n, err)
			}
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Error("content differs")
			}
			off := int64(9<<20 + 7)
			if _, err := obj.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			if _, err := io.ReadFull(obj, chunk); err != nil || !bytes.Equal(chunk, data[off:off+1<<20]) {
				t.Errorf("1 MiB at %d differs (%v)", off, err)
			}
		})
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			data := randomBytes(1000+i*40000, byte(i))
			key := fmt.Sprintf("con/r%d/file%d.bin", i%3, i)
			if err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, int64(len(data)), ""); err != nil {
				errs <- err
			}
		})
	}
	// Writers of one key leave one whole version, its content type with it.
	versions := map[string][]byte{}
	for i := range n {
		versions[fmt.Sprintf("text/x-v%d", i)] = randomBytes(50000+i, byte(100+i))
	}
	for ct, data := range versions {
		wg.Go(func() {
			if err := s.Put(ctx, "con/same", onlyReader{bytes.NewReader(data)}, int64(len(data)), ct); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent put: %v", err)
	}
	for i := range n {
		key := fmt.Sprintf("con/r%d/file%d.bin", i%3, i)
		if got, _ := read(t, s, key); !bytes.Equal(got, randomBytes(1000+i*40000, byte(i))) {
			t.Errorf("%s differs", key)
		}
	}
	got, info := read(t, s, "con/same")
	if want, ok := versions[info.ContentType]; !ok || !bytes.Equal(got, want) {
		t.Fatalf("con/same holds %d bytes with content type %q: not one version", len(got), info.ContentType)
	}
	// Its ETag is the one its content gets when put alone.
	put(t, s, "con/alone", got, info.ContentType)
	if alone := stat(t, s, "con/alone"); alone.ETag != info.ETag {
		t.Errorf("ETag %q after concurrent writes, %q for the same bytes put alone", info.ETag, alone.ETag)
	}
	if got := keys(t, s, "con/"); len(got) != n+2 {
		t.Errorf("%d keys under con/, want %d", len(got), n+2)
	}
}

// testReadDuringOverwrite: an Object opened before an overwrite reads the
// old bytes whole, or fails; it never mixes versions.
func testReadDuringOverwrite(t *testing.T, s blob.Store) {
	old := randomBytes(200000, 9)
	put(t, s, "rw/file", old, "")
	obj, err := s.Open(t.Context(), "rw/file")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	first := make([]byte, 1000)
	if _, err := io.ReadFull(obj, first); err != nil || !bytes.Equal(first, old[:1000]) {
		t.Fatalf("first bytes: %v", err)
	}
	put(t, s, "rw/file", randomBytes(200000, 10), "")
	if _, err := obj.Seek(100000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(obj)
	if err == nil && !bytes.Equal(rest, old[100000:]) {
		t.Error("an open Object read bytes of the object that replaced it")
	}
}

func testClosed(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "z/file", []byte("still readable"), "")
	obj, err := s.Open(ctx, "z/file")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || string(got) != "still readable" {
		t.Errorf("Object opened before Close: %q, %v", got, err)
	}
	wantKind(t, "put", s.Put(ctx, "z/new", strings.NewReader("x"), 1, ""), core.KindUnavailable)
	_, err = s.Stat(ctx, "z/file")
	wantKind(t, "stat", err, core.KindUnavailable)
	_, err = s.Open(ctx, "z/file")
	wantKind(t, "open", err, core.KindUnavailable)
	wantKind(t, "delete", s.Delete(ctx, "z/file"), core.KindUnavailable)
	wantKind(t, "delete prefix", s.DeletePrefix(ctx, "z/"), core.KindUnavailable)
	wantKind(t, "list", s.List(ctx, "", func(blob.Info) error { return nil }), core.KindUnavailable)
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
