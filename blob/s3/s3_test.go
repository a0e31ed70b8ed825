package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/blob/blobtest"
	"github.com/tortoise-dev/tortoise/blob/s3"
	"github.com/tortoise-dev/tortoise/core"
)

// The tests that talk to S3 use the service TORTOISE_TEST_S3 names, a URL
// of the form
//
//	http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET?region=REGION
//
// (see blobtest.S3Env; .ci/run serves one with versitygw), each test under
// a key prefix of its own. Without it they skip, except under CI.
func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Store { return blobtest.S3(t) })
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		url  string
		want s3.Options
	}{
		"versitygw": {
			url:  "http://K:S3CR%2FT@127.0.0.1:7070/files?region=us-east-1",
			want: s3.Options{Endpoint: "http://127.0.0.1:7070", DisableTLS: true, Bucket: "files", Region: "us-east-1", AccessKey: "K", Secret: "S3CR/T", PartSize: s3.DefaultPartSize},
		},
		"TLS, prefix, path style": {
			url:  "https://AK:SK@s3.example.com/bucket/app/files/?region=eu-west-3&forcePathStyle=true",
			want: s3.Options{Endpoint: "https://s3.example.com", Bucket: "bucket", Prefix: "app/files", Region: "eu-west-3", AccessKey: "AK", Secret: "SK", ForcePathStyle: true, PartSize: s3.DefaultPartSize},
		},
		"anonymous": {
			url:  "https://s3.example.com/public",
			want: s3.Options{Endpoint: "https://s3.example.com", Bucket: "public", PartSize: s3.DefaultPartSize},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := s3.ParseURL(tc.url)
			if err != nil || got != tc.want {
				t.Errorf("ParseURL(%q) =\n%+v, %v; want\n%+v", tc.url, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{
		"", "127.0.0.1:7070/bucket", "ftp://h/bkt", "http:///bucket", "http://h", "http://h/",
		"http://K@h/bkt", "http://h/bkt?forcePathStyle=maybe", "http://h/bkt/../x", "http://h/bkt/" + strings.Repeat("p", 100), "http://h/b",
	} {
		if _, err := s3.ParseURL(bad); core.KindOf(err) != core.KindInvalid {
			t.Errorf("ParseURL(%q): %v, want KindInvalid", bad, err)
		}
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	good := s3.Options{Endpoint: "s3.example.com", Bucket: "files", AccessKey: "k", Secret: "s"}
	if _, err := s3.Open(good); err != nil {
		t.Fatalf("open %+v: %v", good, err)
	}
	for name, change := range map[string]func(*s3.Options){
		"no endpoint":             func(o *s3.Options) { o.Endpoint = "" },
		"endpoint with path":      func(o *s3.Options) { o.Endpoint = "https://s3.example.com/bucket" },
		"endpoint scheme":         func(o *s3.Options) { o.Endpoint = "ftp://s3.example.com" },
		"https with TLS disabled": func(o *s3.Options) { o.Endpoint, o.DisableTLS = "https://s3.example.com", true },
		"endpoint with space":     func(o *s3.Options) { o.Endpoint = "s3 .example.com" },
		"no bucket":               func(o *s3.Options) { o.Bucket = "" },
		"bucket with slash":       func(o *s3.Options) { o.Bucket = "ab/cd" },
		"bucket too short":        func(o *s3.Options) { o.Bucket = "ab" },
		"secret alone":            func(o *s3.Options) { o.AccessKey = "" },
		"part size too small":     func(o *s3.Options) { o.PartSize = s3.MinPartSize - 1 },
		"part size too large":     func(o *s3.Options) { o.PartSize = s3.MaxPartSize + 1 },
		"prefix with dot dot":     func(o *s3.Options) { o.Prefix = "../x" },
		"prefix too long":         func(o *s3.Options) { o.Prefix = strings.Repeat("p", s3.MaxPrefixLen+1) },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			change(&o)
			if _, err := s3.Open(o); core.KindOf(err) != core.KindInvalid {
				t.Errorf("open %+v: %v, want KindInvalid", o, err)
			}
		})
	}
}

// A multipart upload that fails is aborted: no parts are left to pay for.
func TestFailedUploadAborted(t *testing.T) {
	t.Parallel()
	o := blobtest.S3Options(t)
	s, err := s3.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errBoom := errors.New("boom")
	for _, size := range []int64{12 << 20, -1} {
		r := io.MultiReader(io.LimitReader(zeros{}, 8<<20), errReader{errBoom})
		if err := s.Put(t.Context(), "big/file", r, size, ""); !errors.Is(err, errBoom) {
			t.Fatalf("put: %v, want the reader's error", err)
		}
	}
	for u := range s.Client().ListIncompleteUploads(t.Context(), o.Bucket, o.Prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Errorf("incomplete upload left: %s (%s)", u.Key, u.UploadID)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Stores with different prefixes share a bucket without seeing each
// other's objects; objects other tools put there with keys blob refuses
// are not listed.
func TestPrefixes(t *testing.T) {
	t.Parallel()
	a, b := blobtest.S3(t), blobtest.S3(t)
	ctx := t.Context()
	for _, s := range []*s3.Store{a, b} {
		if err := s.Put(ctx, "c/r/file", strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DeletePrefix(ctx, "c/"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "c/r/file"); err != nil {
		t.Errorf("b's object after a deleted its folder: %v", err)
	}
	o := blobtest.S3Options(t)
	c, err := s3.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"folder/", "folder/.hidden", "ok"} {
		if _, err := c.Client().PutObject(ctx, o.Bucket, o.Prefix+name, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if err := c.List(ctx, "", func(in blob.Info) error { keys = append(keys, in.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "ok" {
		t.Errorf("listed %q, want only ok", keys)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	o := blobtest.S3Options(t)
	s, err := s3.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(t.Context()); err != nil {
		t.Errorf("check: %v", err)
	}
	o.Bucket = "tortoise-no-such-bucket"
	missing, err := s3.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if err := missing.Check(t.Context()); core.KindOf(err) != core.KindInvalid {
		t.Errorf("check of a missing bucket: %v, want KindInvalid", err)
	}
	err = missing.Put(t.Context(), "k", strings.NewReader("x"), 1, "")
	if err == nil || core.KindOf(err) != core.KindInternal || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("put into a missing bucket: %v, want an internal error saying so", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Check(ctx); err == nil {
		t.Error("check with a canceled context succeeded")
	}
}
