// Package s3 is the blob.Store on an S3-compatible object store (AWS S3,
// MinIO, Cloudflare R2, Backblaze B2, versitygw …), through
// github.com/minio/minio-go/v7. It is the file storage of scaled-out
// Tortoise, where several processes share the files.
//
// Objects are stored under Options.Prefix + key with the content type
// given to Put. ETags are the service's own (for most services the MD5
// of a file uploaded in one request, or a hash of the parts' MD5s and
// the number of parts for a multipart upload), and ModTime is kept to
// the second.
//
// Put reads a file of up to 1 MiB into memory and sends it in one
// request; it streams a larger file of known size up to Options.PartSize
// in one request, and sends a larger one (or one of unknown size over
// 1 MiB) as a multipart upload, one part in memory at a time: a Put holds
// at most PartSize + 1 MiB (17 MiB by default). S3 makes an object
// visible only when its upload completes, so a failed Put leaves nothing
// under its key; a failed multipart upload is aborted, which frees its
// parts.
//
// Open returns an Object that reads with ranged GETs: a Seek costs
// nothing until the next Read, which asks for the bytes from the new
// offset on. Each GET is conditional on the ETag Open saw, so an object
// replaced while it is read fails the read instead of mixing two
// versions.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
)

var _ blob.Store = (*Store)(nil)

// Part sizes: S3 refuses parts under 5 MiB (but the last) and over 5 GiB,
// and an upload of more than 10,000 parts.
const (
	DefaultPartSize int64 = 16 << 20
	MinPartSize     int64 = 5 << 20
	MaxPartSize     int64 = 5 << 30
)

// MaxPrefixLen is the longest Options.Prefix: with its slash and a key of
// blob.MaxKeyLen, an object name stays within S3's 1,024 bytes.
const MaxPrefixLen = 1024 - blob.MaxKeyLen - 1

// smallPut is the size up to which a file is read into memory before it
// is sent: a wrong size is caught before anything is sent, the client can
// retry the request, and a file of unknown size that turns out small
// goes in one request instead of a multipart upload (whose part buffer is
// PartSize).
const smallPut = 1 << 20

// Options configure the S3 driver. The first six are the fields of
// PocketBase's "s3" settings (endpoint, bucket, region, accessKey, secret,
// forcePathStyle).
type Options struct {
	// Endpoint is the service's address: "host[:port]", or a URL
	// "https://host[:port]" or "http://host[:port]" whose scheme says
	// whether to use TLS. Required.
	Endpoint string
	// Bucket is the bucket the objects go in; it must exist. Required.
	Bucket string
	// Region is the bucket's region; "" lets the client ask the service.
	Region string
	// AccessKey and Secret are the credentials; both empty means
	// anonymous requests.
	AccessKey string
	Secret    string
	// ForcePathStyle addresses the bucket in the path
	// (https://host/bucket/key) rather than in the host name
	// (https://bucket.host/key). When false the style is chosen by the
	// endpoint: virtual hosts for AWS and Google, paths elsewhere.
	ForcePathStyle bool
	// DisableTLS talks plain HTTP to an Endpoint given without a scheme
	// (default: TLS). It may not contradict an https:// Endpoint.
	DisableTLS bool
	// Prefix, when set, is put with a '/' before every key, so that
	// several applications (or tests) can share a bucket; "" (the
	// default) stores keys as they are.
	Prefix string
	// PartSize is the size of the parts of multipart uploads, and so the
	// memory one Put may hold (default DefaultPartSize, 16 MiB: files
	// of unknown size up to 156 GiB). Between MinPartSize and MaxPartSize.
	PartSize int64
}

// WithDefaults returns o with its defaults filled in.
func (o Options) WithDefaults() Options {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	return o
}

// Validate checks o (with its defaults) and returns a KindInvalid error
// naming the first wrong field.
func (o Options) Validate() error {
	if _, _, err := o.endpoint(); err != nil {
		return err
	}
	if o.Bucket == "" {
		return core.Invalid("The S3 bucket is not set.")
	}
	if err := s3utils.CheckValidBucketName(o.Bucket); err != nil {
		return core.Invalid("The S3 bucket %q is not a valid bucket name: %s", o.Bucket, err.Error())
	}
	if strings.ContainsFunc(o.Region, isSpaceOrControl) {
		return core.Invalid("The S3 region %q is not valid.", o.Region)
	}
	if (o.AccessKey == "") != (o.Secret == "") {
		return core.Invalid("The S3 access key and secret must be set together.")
	}
	if o.Prefix != "" {
		if len(o.Prefix) > MaxPrefixLen {
			return core.Invalid("The S3 key prefix %q is longer than %d bytes.", o.Prefix, MaxPrefixLen)
		}
		if err := blob.ValidKey(strings.TrimSuffix(o.Prefix, "/")); err != nil {
			return core.Invalid("The S3 key prefix %q is not valid: %s", o.Prefix, core.AsError(err).Message)
		}
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		return core.Invalid("The S3 part size %d is not between %d and %d bytes.", o.PartSize, MinPartSize, MaxPartSize)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// endpoint returns the host[:port] to connect to and whether to use TLS.
func (o Options) endpoint() (host string, secure bool, err error) {
	e := o.Endpoint
	if e == "" {
		return "", false, core.Invalid("The S3 endpoint is not set.")
	}
	secure = !o.DisableTLS
	if strings.Contains(e, "://") {
		u, perr := url.Parse(e)
		switch {
		case perr != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			strings.Trim(u.Path, "/") != "":
			return "", false, core.Invalid("The S3 endpoint %q must be host[:port] or http(s)://host[:port].", e)
		case u.Scheme == "http":
			secure = false
		case u.Scheme == "https":
			if o.DisableTLS {
				return "", false, core.Invalid("The S3 endpoint %q is https but TLS is disabled.", e)
			}
		default:
			return "", false, core.Invalid("The S3 endpoint %q must use http or https.", e)
		}
		e = u.Host
	}
	if strings.ContainsAny(e, "/?#@") || strings.ContainsFunc(e, isSpaceOrControl) {
		return "", false, core.Invalid("The S3 endpoint %q must be host[:port] or http(s)://host[:port].", o.Endpoint)
	}
	return e, secure, nil
}

// ParseURL reads Options from a URL of the form
//
//	http[s]://ACCESS_KEY:SECRET@HOST[:PORT]/BUCKET[/PREFIX][?region=R&forcePathStyle=true]
//
// (the access key and secret URL-escaped), the form TORTOISE_TEST_S3
// takes. The scheme sets TLS. Errors are KindInvalid.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Options{}, core.Invalid("The S3 URL must look like http[s]://ACCESS:SECRET@HOST:PORT/BUCKET[/PREFIX]?region=REGION.")
	}
	o := Options{Endpoint: u.Scheme + "://" + u.Host, DisableTLS: u.Scheme == "http"}
	if u.User != nil {
		o.AccessKey = u.User.Username()
		o.Secret, _ = u.User.Password()
	}
	o.Bucket, o.Prefix, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
	q := u.Query()
	o.Region = q.Get("region")
	if v := q.Get("forcePathStyle"); v != "" {
		if o.ForcePathStyle, err = strconv.ParseBool(v); err != nil {
			return Options{}, core.Invalid("The S3 URL's forcePathStyle %q is not true or false.", v)
		}
	}
	o = o.WithDefaults()
	return o, o.Validate()
}

// Store is a blob.Store on an S3 bucket. Open makes one.
type Store struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	prefix    string // "" or ending in '/'
	partSize  int64
	closed    atomic.Bool
}

// Open returns a Store on the bucket o names. It checks the options but
// does not contact the service (Check does), so a process can start while
// S3 is briefly unreachable.
func Open(o Options) (*Store, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	host, secure, _ := o.endpoint()
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("open S3 storage: %w", err)
	}
	lookup := minio.BucketLookupAuto
	if o.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.Secret, ""),
		Secure:       secure,
		Transport:    tr,
		Region:       o.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, core.Wrap(core.KindInvalid, err, "The S3 options are not valid.")
	}
	s := &Store{client: client, transport: tr, bucket: o.Bucket, partSize: o.PartSize}
	if o.Prefix != "" {
		s.prefix = strings.TrimSuffix(o.Prefix, "/") + "/"
	}
	return s, nil
}

// Client returns the underlying minio client (tests use it to create
// buckets and look for incomplete uploads).
func (s *Store) Client() *minio.Client { return s.client }

// Check asks the service whether the bucket exists and the credentials
// reach it: what a settings page's "test" button wants to know. Errors:
// KindInvalid (no such bucket), KindUnavailable (closed), KindInternal
// (unreachable, refused credentials).
func (s *Store) Check(ctx context.Context) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check S3 bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return core.Invalid("The S3 bucket %q does not exist.", s.bucket)
	}
	return nil
}

// Close makes later calls fail with blob.ErrClosed and closes idle
// connections. Objects already open stay readable.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.transport.CloseIdleConnections()
	}
	return nil
}

// check runs what every method on a key starts with.
func (s *Store) check(ctx context.Context, key string) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// translate turns the service's errors into the kinds of blob.Store.
func (s *Store) translate(op, key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case minio.NoSuchKey:
			return blob.NotFound(key)
		case minio.NoSuchBucket:
			return fmt.Errorf("%s %q: S3 bucket %q does not exist: %w", op, key, s.bucket, err)
		}
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

// Put implements blob.Store.
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
	// Remember the reader's own error: it is what the caller needs to
	// see (a wrong size, a body over its limit), however the client
	// reports the failed request.
	// Reading stops when ctx ends, so that the service gets a body
	// shorter than announced and stores nothing.
	body := &recorder{r: blob.ContextReader(ctx, blob.Sized(r, size))}
	var in io.Reader = body
	if size <= smallPut {
		head, err := io.ReadAll(io.LimitReader(body, smallPut+1))
		if err != nil {
			return s.putError(ctx, key, body, err)
		}
		if len(head) <= smallPut {
			in, size = bytes.NewReader(head), int64(len(head))
		} else {
			in = io.MultiReader(bytes.NewReader(head), body)
		}
	}
	_, err = s.client.PutObject(ctx, s.bucket, s.prefix+key, in, size, minio.PutObjectOptions{
		ContentType: ct,
		PartSize:    uint64(s.partSize),
	})
	if err != nil {
		return s.putError(ctx, key, body, err)
	}
	return nil
}

// putError reports a failed Put: the reader's error or the context's
// when there is one, else the service's.
func (s *Store) putError(ctx context.Context, key string, body *recorder, err error) error {
	switch {
	case body.err != nil && core.AsError(body.err) != nil:
		return body.err // a wrong size
	case body.err != nil:
		return fmt.Errorf("put %q: %w", key, body.err)
	case ctx.Err() != nil:
		return fmt.Errorf("put %q canceled: %w", key, ctx.Err())
	}
	return s.translate("put", key, err)
}

// recorder passes reads through and keeps the first error other than
// io.EOF.
type recorder struct {
	r   io.Reader
	err error
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// info converts what the service says of an object.
func (s *Store) info(key string, oi minio.ObjectInfo) blob.Info {
	ct := oi.ContentType
	if ct == "" {
		ct = blob.DefaultContentType
	}
	return blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, ContentType: ct, ETag: oi.ETag}
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return blob.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.translate("stat", key, err)
	}
	return s.info(key, oi), nil
}

// Open implements blob.Store. It asks for the object's description; its
// bytes are fetched by the Object's first Read.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &object{s: s, ctx: ctx, info: info}, nil
}

// object reads an object with ranged GETs. It is not safe for concurrent
// use, as no io.ReadSeeker is.
type object struct {
	s    *Store
	ctx  context.Context
	info blob.Info
	off  int64         // where the next Read starts
	body io.ReadCloser // the GET in progress, reading from off; nil if none
	err  error         // sticky: closed, or a failed GET
}

var errObjectClosed = errors.New("s3 object is closed")

func (o *object) Info() blob.Info { return o.info }

func (o *object) Read(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.off >= o.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil {
		var opts minio.GetObjectOptions
		if o.off > 0 {
			if err := opts.SetRange(o.off, 0); err != nil {
				return 0, err
			}
		}
		if o.info.ETag != "" {
			if err := opts.SetMatchETag(o.info.ETag); err != nil {
				return 0, err
			}
		}
		body, _, _, err := minio.Core{Client: o.s.client}.GetObject(o.ctx, o.s.bucket, o.s.prefix+o.info.Key, opts)
		if err != nil {
			return 0, o.s.translate("read", o.info.Key, err)
		}
		o.body = body
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	if err == io.EOF && o.off < o.info.Size {
		err = fmt.Errorf("read %q: %w", o.info.Key, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		_ = o.body.Close()
		o.body = nil
		return n, err
	}
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	if o.err != nil {
		return 0, o.err
	}
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = o.off + offset
	case io.SeekEnd:
		to = o.info.Size + offset
	default:
		return 0, fmt.Errorf("seek %q: invalid whence %d", o.info.Key, whence)
	}
	if to < 0 {
		return 0, fmt.Errorf("seek %q: negative position %d", o.info.Key, to)
	}
	if to != o.off && o.body != nil {
		_ = o.body.Close()
		o.body = nil
	}
	o.off = to
	return to, nil
}

func (o *object) Close() error {
	if o.err == errObjectClosed {
		return nil
	}
	o.err = errObjectClosed
	if o.body != nil {
		err := o.body.Close()
		o.body = nil
		return err
	}
	return nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil {
		if err := s.translate("delete", key, err); core.KindOf(err) != core.KindNotFound {
			return err
		}
	}
	return nil
}

// DeletePrefix implements blob.Store: it lists the keys under prefix and
// deletes them in batches of up to 1,000 (S3's multi-object delete).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidFolder(prefix); err != nil {
		return err
	}
	var listErr error
	objects := func(yield func(minio.ObjectInfo) bool) {
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if oi.Err != nil {
				listErr = oi.Err
				return
			}
			if !yield(minio.ObjectInfo{Key: oi.Key}) {
				return
			}
		}
	}
	results, err := s.client.RemoveObjectsWithIter(ctx, s.bucket, objects, minio.RemoveObjectsOptions{})
	if err != nil {
		return s.translate("delete folder", prefix, err)
	}
	var first error
	for res := range results {
		if res.Err != nil && first == nil {
			first = res.Err
		}
	}
	switch {
	case listErr != nil:
		return s.translate("delete folder", prefix, listErr)
	case first != nil:
		return s.translate("delete folder", prefix, first)
	case ctx.Err() != nil:
		return fmt.Errorf("delete folder %q: %w", prefix, ctx.Err())
	}
	return nil
}

// List implements blob.Store. The service lists 1,000 keys per request;
// the Info of each has Key, Size, ModTime and ETag. Objects whose keys
// blob.ValidKey refuses (put by other tools) are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if s.closed.Load() {
		return blob.ErrClosed
	}
	if err := blob.ValidPrefix(prefix); err != nil {
		return err
	}
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.translate("list", prefix, oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, s.prefix)
		if blob.ValidKey(key) != nil {
			continue
		}
		if err := fn(blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, ETag: oi.ETag}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}
