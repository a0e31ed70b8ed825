package blobtest

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tortoise-dev/tortoise/blob/local"
	"github.com/tortoise-dev/tortoise/blob/s3"
	"github.com/tortoise-dev/tortoise/internal/testdb"
)

// Local returns a local store on a new folder in t.TempDir(), closed when
// the test ends.
func Local(t testing.TB) *local.Store {
	t.Helper()
	s, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open local blob store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// S3Env is the variable that points the tests at an S3 service, as a URL
// s3.ParseURL reads:
//
//	TORTOISE_TEST_S3=http://ACCESS_KEY:SECRET@127.0.0.1:PORT/BUCKET?region=us-east-1
//
// The bucket is created when missing. .ci/run starts versitygw and sets it.
const S3Env = "TORTOISE_TEST_S3"

// S3URL returns the URL in TORTOISE_TEST_S3 (see testdb.EnvURL: a skip
// without it, a failure under CI).
func S3URL(t testing.TB) string {
	t.Helper()
	return testdb.EnvURL(t, S3Env, "S3", "http://KEY:SECRET@127.0.0.1:7070/tortoise-test?region=us-east-1, served by versitygw; see README")
}

// S3Options returns options for an S3 store of one test: on the service
// and bucket TORTOISE_TEST_S3 names (the bucket created when missing),
// under a key prefix of the test's own, whose objects are deleted when
// the test ends, and with the smallest part size, so that a file of a few
// megabytes already goes up in several parts.
func S3Options(t testing.TB) s3.Options {
	t.Helper()
	o, err := s3.ParseURL(S3URL(t))
	if err != nil {
		t.Fatalf("%s: %v", S3Env, err)
	}
	base, err := s3.Open(o)
	if err != nil {
		t.Fatalf("open S3 store: %v", err)
	}
	t.Cleanup(func() { _ = base.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, err := base.Client().BucketExists(ctx, o.Bucket)
	if err == nil && !ok {
		err = base.Client().MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region})
		if minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
			err = nil // another test made it meanwhile
		}
	}
	if err != nil {
		t.Fatalf("create the test bucket %q: %v", o.Bucket, err)
	}
	dir := "test-" + strings.ToLower(rand.Text()[:12]) + "/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := base.DeletePrefix(ctx, dir); err != nil {
			t.Logf("empty S3 test prefix %s: %v", dir, err)
		}
	})
	if o.Prefix != "" {
		o.Prefix = strings.TrimSuffix(o.Prefix, "/") + "/"
	}
	o.Prefix += dir
	o.PartSize = s3.MinPartSize
	return o
}

// S3 returns an S3 store made with S3Options, closed when the test ends.
func S3(t testing.TB) *s3.Store {
	t.Helper()
	s, err := s3.Open(S3Options(t))
	if err != nil {
		t.Fatalf("open S3 store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
