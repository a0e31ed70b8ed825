package settings

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	blobs3 "github.com/tortoise-dev/tortoise/blob/s3"
	"github.com/tortoise-dev/tortoise/core"
)

// s3CheckTimeout bounds CheckS3, so an endpoint that never answers does
// not hold the request.
const s3CheckTimeout = 30 * time.Second

// CheckS3 tries the S3 settings of file storage (filesystem "storage", or
// "") or of backups ("backups"), as PocketBase's test route does: it asks
// for the bucket, writes a small object to it and deletes it again, so
// that the endpoint, the credentials and the right to write are all
// checked. Errors: KindInvalid naming "filesystem" for another name,
// KindInvalid "S3 storage is not configured." while that S3 is disabled,
// KindInvalid with S3's answer when a step fails, and those of S3 and
// BackupsS3.
func (s *Service) CheckS3(ctx context.Context, filesystem string) error {
	var (
		cfg S3Settings
		err error
	)
	switch filesystem {
	case "", "storage":
		cfg, err = s.S3(ctx)
	case "backups":
		cfg, err = s.BackupsS3(ctx)
	default:
		return core.FieldInvalid("filesystem", "validation_in_invalid", `Must be "storage" or "backups".`)
	}
	if err != nil {
		return err
	}
	if !cfg.Enabled {
		return core.Invalid("S3 storage is not configured.")
	}
	st, err := blobs3.Open(blobs3.Options{
		Endpoint: cfg.Endpoint, Bucket: cfg.Bucket, Region: cfg.Region,
		AccessKey: cfg.AccessKey, Secret: cfg.Secret, ForcePathStyle: cfg.ForcePathStyle,
	})
	if err != nil {
		return s3Failed(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, s3CheckTimeout)
	defer cancel()
	if err := st.Check(ctx); err != nil {
		return s3Failed(err)
	}
	const body = "Tortoise checks that it can write to this bucket; this object is deleted at once.\n"
	key := "tortoise_s3_test_" + strings.ToLower(rand.Text()[:12]) + ".txt"
	if err := st.Put(ctx, key, strings.NewReader(body), int64(len(body)), "text/plain"); err != nil {
		return s3Failed(err)
	}
	if err := st.Delete(ctx, key); err != nil {
		return s3Failed(err)
	}
	return nil
}

// s3Failed is the answer of a failed S3 check: the superuser is testing
// the settings, so S3's own words (no such bucket, access denied, no
// route to host) are the point.
func s3Failed(err error) error {
	e := core.Invalid("Failed to test the S3 filesystem: %s", strings.TrimSuffix(err.Error(), "."))
	e.Err = err
	return e
}
