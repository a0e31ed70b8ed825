package settings

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// current caches the stored settings for the code on every request's
// path (client addresses, rate limits, superuser addresses), which would
// otherwise read the store once per request.
//
// A cached value is served for up to refresh after it was read. When it
// is older, one caller reads the store again while the others keep being
// served the older value, so an expiry costs one read, not one per
// request in flight; callers wait only when there is no value at all
// yet. A change saved through the Service invalidates the cache at once;
// one saved by another process on the same database (PostgreSQL) applies
// here within refresh. Each load records the generation it started in and
// is kept only if no invalidation happened meanwhile, so a read that
// raced a change cannot put the old settings back.
type current struct {
	refresh time.Duration
	val     atomic.Pointer[cachedSettings]

	mu      sync.Mutex
	gen     uint64
	loading bool
}

type cachedSettings struct {
	st   storedSettings
	at   time.Time
	gen  uint64
	view *Settings // &st.Settings, shared with callers
}

func (c *current) invalidate() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
	c.val.Store(nil)
}

// get returns the cached settings, reading them with load when needed.
func (c *current) get(ctx context.Context, load func(context.Context) (storedSettings, error)) (*cachedSettings, error) {
	v := c.val.Load()
	if v != nil && time.Since(v.at) < c.refresh {
		return v, nil
	}
	c.mu.Lock()
	if v = c.val.Load(); v != nil && (time.Since(v.at) < c.refresh || c.loading) {
		// Fresh after all, or someone is refreshing it: serve this one.
		c.mu.Unlock()
		return v, nil
	}
	gen := c.gen
	c.loading = true
	// With no value at all, callers queue here behind the one loading.
	// With a stale one, only this caller loads; the others were served
	// above. Either way the lock is held for the load only when there is
	// nothing to serve.
	stale := v != nil
	if stale {
		c.mu.Unlock()
	}
	st, err := load(ctx)
	if stale {
		c.mu.Lock()
	}
	c.loading = false
	if err != nil {
		c.mu.Unlock()
		if stale {
			return v, nil // keep serving what we had; the next caller retries
		}
		return nil, err
	}
	n := &cachedSettings{st: st, at: time.Now(), gen: gen}
	n.view = &n.st.Settings
	if c.gen == gen {
		c.val.Store(n)
	}
	c.mu.Unlock()
	return n, nil
}

// Current returns the settings without their secrets, as Settings does,
// from a cache refreshed at most every Options.Refresh (see current).
// The value is shared: callers must not modify it. Errors: those of the
// store, only when nothing was read before.
func (s *Service) Current(ctx context.Context) (*Settings, error) {
	c, err := s.current.get(ctx, func(ctx context.Context) (storedSettings, error) { return loadSettings(ctx, s.store) })
	if err != nil {
		return nil, err
	}
	return c.view, nil
}

// Batch returns the settings of POST /api/batch (see Current).
func (s *Service) Batch(ctx context.Context) (BatchSettings, error) {
	st, err := s.Current(ctx)
	if err != nil {
		return BatchSettings{}, err
	}
	return st.Batch, nil
}

// S3 returns the S3 settings of file storage with the secret decrypted
// (see Current; S3Settings.Enabled false: files stay on local disk).
// Errors: KindUnavailable when the stored secret cannot be decrypted with
// the encryption key (logged), those of the store.
func (s *Service) S3(ctx context.Context) (S3Settings, error) {
	return s.s3(ctx, func(st *storedSettings) (S3Settings, string, string) { return st.S3, st.S3SecretEnc, "s3.secret" })
}

// BackupsS3 returns the S3 settings of backups with the secret decrypted,
// as S3 does.
func (s *Service) BackupsS3(ctx context.Context) (S3Settings, error) {
	return s.s3(ctx, func(st *storedSettings) (S3Settings, string, string) {
		return st.Backups.S3, st.BackupsS3SecretEnc, "backups.s3.secret"
	})
}

func (s *Service) s3(ctx context.Context, pick func(*storedSettings) (S3Settings, string, string)) (S3Settings, error) {
	c, err := s.current.get(ctx, func(ctx context.Context) (storedSettings, error) { return loadSettings(ctx, s.store) })
	if err != nil {
		return S3Settings{}, err
	}
	out, enc, key := pick(&c.st)
	if enc != "" {
		secret, err := s.open(enc, key)
		if err != nil {
			return S3Settings{}, err
		}
		out.Secret = secret
	}
	return out, nil
}
