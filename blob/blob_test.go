package blob_test

import (
	"bytes"
	"errors"
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
)

func TestValidKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"a", "c/r/a.png", "pbc_123/abc/thumbs_a_x1.png/100x100_a_x1.png", "ünï/cødé (1).txt",
		"a..b", "a/b.", "a b/c", strings.Repeat("s", blob.MaxSegmentLen),
	} {
		if err := blob.ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q): %v", key, err)
		}
	}
	for name, tc := range map[string]struct{ key, says string }{
		"empty":            {"", "empty"},
		"leading slash":    {"/a", "start with '/'"},
		"trailing slash":   {"a/", "end with '/'"},
		"double slash":     {"a//b", "empty segment"},
		"dot dot":          {"a/../b", "'..'"},
		"dot":              {"./a", "'.'"},
		"hidden":           {"a/.b", "starting with '.'"},
		"backslash":        {`a\b`, "backslash"},
		"NUL":              {"a\x00", "control"},
		"tab":              {"a\tb", "control"},
		"C1":               {"a\u009bb", "control"},
		"bad UTF-8":        {"a\xc3", "UTF-8"},
		"too long":         {strings.Repeat("ab/", 400), "longer than"},
		"segment too long": {strings.Repeat("s", blob.MaxSegmentLen+1), "longer than"},
	} {
		err := blob.ValidKey(tc.key)
		if core.KindOf(err) != core.KindInvalid || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: ValidKey(%.20q) = %v, want KindInvalid saying %q", name, tc.key, err, tc.says)
		}
	}
}

// A valid key, however made, stays inside the folder it is joined to, on
// every operating system, and is its own clean form.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"c/r/a.png", "../a", "a/../../b", `a\..\b`, "a//b", "/a", "a/", ".", "C:/x", "a\x00", "ü/ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if blob.ValidKey(key) != nil {
			return
		}
		if !utf8.ValidString(key) || len(key) > blob.MaxKeyLen {
			t.Fatalf("accepted %q", key)
		}
		if path.Clean(key) != key || !filepath.IsLocal(filepath.FromSlash(key)) || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("accepted %q, which is not a clean local path", key)
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg[0] == '.' {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if blob.ValidPrefix(key) != nil || blob.ValidFolder(key+"/") != nil {
			t.Fatalf("key %q is not a valid prefix and folder", key)
		}
	})
}

func TestPrefixes(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "c", "c/", "c/r", "c/r/"} {
		if err := blob.ValidPrefix(p); err != nil {
			t.Errorf("ValidPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"/", "/c", "c//", "../", "c/./", `c\`} {
		if err := blob.ValidPrefix(p); core.KindOf(err) != core.KindInvalid {
			t.Errorf("ValidPrefix(%q): %v, want KindInvalid", p, err)
		}
	}
	for _, p := range []string{"", "c", "c/r", "/", "//", "../"} {
		if err := blob.ValidFolder(p); core.KindOf(err) != core.KindInvalid {
			t.Errorf("ValidFolder(%q): %v, want KindInvalid", p, err)
		}
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                          blob.DefaultContentType,
		"image/png":                 "image/png",
		"text/plain; charset=utf-8": "text/plain; charset=utf-8",
	} {
		if got, err := blob.ContentType(in); err != nil || got != want {
			t.Errorf("ContentType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"text/html\r\nSet-Cookie: a=b", "png", "text/", "a/b; c", "text/plain\x00", strings.Repeat("a", 250) + "/" + strings.Repeat("b", 10)} {
		if _, err := blob.ContentType(in); core.KindOf(err) != core.KindInvalid {
			t.Errorf("ContentType(%q): %v, want KindInvalid", in, err)
		}
	}
}

func TestSized(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	for name, tc := range map[string]struct {
		r       io.Reader
		size    int64
		want    string
		invalid bool  // a KindInvalid error
		err     error // this error
	}{
		"exact":            {r: strings.NewReader("hello"), size: 5, want: "hello"},
		"exact, one byte":  {r: iotest.OneByteReader(strings.NewReader("hello")), size: 5, want: "hello"},
		"exact, data+EOF":  {r: iotest.DataErrReader(strings.NewReader("hello")), size: 5, want: "hello"},
		"unknown":          {r: strings.NewReader("hello"), size: -1, want: "hello"},
		"empty":            {r: strings.NewReader(""), size: 0, want: ""},
		"shorter":          {r: strings.NewReader("hell"), size: 5, invalid: true},
		"longer":           {r: strings.NewReader("hello!"), size: 5, invalid: true},
		"longer, one byte": {r: iotest.OneByteReader(strings.NewReader("hello!")), size: 5, invalid: true},
		"not empty":        {r: strings.NewReader("x"), size: 0, invalid: true},
		"reader error":     {r: io.MultiReader(strings.NewReader("he"), iotest.ErrReader(errBoom)), size: 5, err: errBoom},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := io.ReadAll(blob.Sized(tc.r, tc.size))
			switch {
			case tc.invalid:
				if core.KindOf(err) != core.KindInvalid {
					t.Errorf("%v, want KindInvalid", err)
				}
				if int64(len(got)) > tc.size {
					t.Errorf("passed on %d bytes of %d", len(got), tc.size)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("%v, want %v", err, tc.err)
				}
			case err != nil || !bytes.Equal(got, []byte(tc.want)):
				t.Errorf("read %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	err := blob.NotFound("c/r/secret-name.png")
	if !errors.Is(err, blob.ErrNotFound) || core.KindOf(err) != core.KindNotFound {
		t.Errorf("%v: not ErrNotFound of KindNotFound", err)
	}
	if strings.Contains(core.AsError(err).Message, "secret-name") {
		t.Errorf("user-facing message %q names the key", core.AsError(err).Message)
	}
}
