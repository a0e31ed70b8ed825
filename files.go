package tortoise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/blob/s3"
	"github.com/tortoise-dev/tortoise/settings"
)

// fileStorage is the blob store of file fields as the settings choose it,
// as PocketBase does: the data folder's storage/ unless the settings' s3
// section is enabled, then that bucket. Each call asks the settings (a
// cached read) and, when the s3 section changed, opens the store it now
// names; a process whose settings another process changed follows within
// the settings cache's refresh. Files are not copied between the two: a
// switch makes the other store's files unreachable until switched back.
type fileStorage struct {
	sets  *settings.Service
	local blob.Store
	log   *slog.Logger

	mu  sync.Mutex
	cur blob.Store // local, or the S3 store of key
	key string     // the s3 settings in use; "" for local
}

var _ blob.Store = (*fileStorage)(nil)

func (f *fileStorage) store(ctx context.Context) (blob.Store, error) {
	cfg, err := f.sets.S3(ctx)
	if err != nil {
		return nil, err
	}
	key := ""
	if cfg.Enabled {
		key = fmt.Sprintf("%q %q %q %q %q %v", cfg.Endpoint, cfg.Bucket, cfg.Region, cfg.AccessKey, cfg.Secret, cfg.ForcePathStyle)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil && key == f.key {
		return f.cur, nil
	}
	next := f.local
	if key != "" {
		st, err := s3.Open(s3.Options{Endpoint: cfg.Endpoint, Bucket: cfg.Bucket, Region: cfg.Region,
			AccessKey: cfg.AccessKey, Secret: cfg.Secret, ForcePathStyle: cfg.ForcePathStyle})
		if err != nil {
			return nil, fmt.Errorf("open the S3 file storage: %w", err)
		}
		next = st
		f.log.Info("file storage: S3", "endpoint", cfg.Endpoint, "bucket", cfg.Bucket)
	} else if f.cur != nil {
		f.log.Info("file storage: the data folder")
	}
	if f.cur != nil && f.cur != f.local {
		f.cur.Close() // objects open on it stay readable
	}
	f.cur, f.key = next, key
	return next, nil
}

func (f *fileStorage) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	st, err := f.store(ctx)
	if err != nil {
		return err
	}
	return st.Put(ctx, key, r, size, contentType)
}

func (f *fileStorage) Open(ctx context.Context, key string) (blob.Object, error) {
	st, err := f.store(ctx)
	if err != nil {
		return nil, err
	}
	return st.Open(ctx, key)
}

func (f *fileStorage) Stat(ctx context.Context, key string) (blob.Info, error) {
	st, err := f.store(ctx)
	if err != nil {
		return blob.Info{}, err
	}
	return st.Stat(ctx, key)
}

func (f *fileStorage) Delete(ctx context.Context, key string) error {
	st, err := f.store(ctx)
	if err != nil {
		return err
	}
	return st.Delete(ctx, key)
}

func (f *fileStorage) DeletePrefix(ctx context.Context, prefix string) error {
	st, err := f.store(ctx)
	if err != nil {
		return err
	}
	return st.DeletePrefix(ctx, prefix)
}

func (f *fileStorage) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	st, err := f.store(ctx)
	if err != nil {
		return err
	}
	return st.List(ctx, prefix, fn)
}

// Close closes both stores.
func (f *fileStorage) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.cur != nil && f.cur != f.local {
		err = f.cur.Close()
	}
	if lerr := f.local.Close(); err == nil {
		err = lerr
	}
	return err
}
