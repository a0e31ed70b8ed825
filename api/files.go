package api

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/thumb"
)

// inlineTypes are the media types a browser may show in place: images,
// audio, video and PDF. Everything else (HTML, SVG, XML, scripts, any
// type a browser could run) is sent as an attachment, sandboxed, so an
// uploaded file can never run as part of this origin.
var inlineTypes = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
	"video/mp4", "video/webm", "video/ogg", "video/quicktime",
	"audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "audio/webm", "audio/mp4", "audio/aac", "audio/flac",
	"application/pdf", "text/plain",
}

// publicCache is how long shared caches (a CDN) may keep a public file:
// stored names carry a random suffix and never change content.
const publicCache = "public, max-age=2592000, immutable"

// serveFile answers GET /api/files/{collection}/{record}/{filename}: a
// file of a record's file field, or one of the thumbnails the field
// declares (?thumb=WxH), as an attachment with ?download=1. A protected
// field's files need ?token= from POST /api/files/token, and the token's
// owner must pass the collection's view rule.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) error {
	notFound := core.NotFound("The requested file wasn't found.")
	files := s.records.Files()
	if files == nil {
		return notFound
	}
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return notFound
	}
	id, name := r.PathValue("record"), r.PathValue("filename")
	rec, err := s.svc.Store().Get(r.Context(), c, id)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return notFound
		}
		return err
	}
	var field *core.Field
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Type == core.FieldFile && slices.Contains(rec.Strings(f.Name), name) {
			field = f
			break
		}
	}
	if field == nil {
		return notFound
	}
	q := r.URL.Query()
	if field.Protected {
		if err := s.fileAccess(r.Context(), c, id, q.Get("token")); err != nil {
			return err
		}
	}
	key := records.FileKey(c.ID, id, name)
	if spec := q.Get("thumb"); spec != "" && slices.Contains(field.Thumbs, spec) {
		if tk, err := s.thumbnail(r.Context(), files, c, id, name, spec); err == nil {
			key = tk
		} else if core.KindOf(err) != core.KindInvalid {
			return err
		} // a file that is no image is served as it is, as PocketBase does
	}
	obj, err := files.Open(r.Context(), key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return notFound
		}
		return err
	}
	defer obj.Close()
	info := obj.Info()
	ct, _, _ := mime.ParseMediaType(info.ContentType)
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	if info.ETag != "" {
		h.Set("ETag", `"`+info.ETag+`"`)
	}
	disposition := "inline"
	if !slices.Contains(inlineTypes, ct) || q.Get("download") == "1" || q.Get("download") == "true" {
		disposition = "attachment"
	}
	if !slices.Contains(inlineTypes, ct) {
		h.Set("Content-Security-Policy", "sandbox")
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	if field.Protected {
		h.Set("Cache-Control", "private, no-store")
	} else {
		h.Set("Cache-Control", publicCache)
	}
	http.ServeContent(w, r, "", info.ModTime, obj)
	return nil
}

// fileAccess checks a protected file's token: a file token of an auth
// record that passes c's view rule for record id, or of a superuser.
func (s *Server) fileAccess(ctx context.Context, c *core.Collection, id, token string) error {
	if token == "" {
		return core.Forbidden("The file is protected: ask POST /api/files/token for a token.")
	}
	auth, err := s.auth.AuthenticateFile(ctx, token)
	if err != nil {
		return core.Forbidden("Invalid or expired file token.")
	}
	req := &service.Request{Method: http.MethodGet, Auth: auth, Superuser: auth.Collection.Name == core.SuperusersName}
	if _, err := s.records.Get(ctx, req, c, id); err != nil {
		if errors.Is(err, service.ErrNotFound) || core.KindOf(err) == core.KindForbidden {
			return core.Forbidden("The file token's owner may not see this record.")
		}
		return err
	}
	return nil
}

// thumbnail returns the key of name's thumbnail spec, making and storing
// it the first time. Errors: KindInvalid when the file is no image.
//
// Making one decodes the whole source, up to thumb.MaxDecodeBytes, so it
// goes through thumbGate: one making per thumbnail at a time (requests
// for the same one wait for it), a few at a time in all, and a failure
// (a damaged image, whose decoding may still have cost the full size) is
// remembered for a while rather than repeated on every request.
func (s *Server) thumbnail(ctx context.Context, files blob.Store, c *core.Collection, id, name, spec string) (string, error) {
	key := records.ThumbsPrefix(c.ID, id, name) + spec + "_" + name
	if _, err := files.Stat(ctx, key); err == nil {
		return key, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return "", err
	}
	sp, err := thumb.ParseSpec(spec)
	if err != nil {
		return "", core.Invalid("Bad thumb size.")
	}
	err = s.thumbs.do(ctx, key, func() (failed bool, err error) {
		if _, err := files.Stat(ctx, key); err == nil {
			return false, nil // made while this request waited for a slot
		}
		src, err := files.Open(ctx, records.FileKey(c.ID, id, name))
		if err != nil {
			return false, err
		}
		defer src.Close()
		if !thumb.Supported(src.Info().ContentType) {
			return false, core.Invalid("Not an image.")
		}
		var out bytes.Buffer
		ct, err := thumb.Make(&out, src, sp)
		if err != nil {
			if core.KindOf(err) == core.KindTooLarge {
				return true, err
			}
			return true, core.Invalid("Not an image.")
		}
		return false, files.Put(ctx, key, &out, int64(out.Len()), ct)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// newThumbGate returns a thumbGate making a few thumbnails at a time.
func newThumbGate() *thumbGate {
	return &thumbGate{slots: make(chan struct{}, min(runtime.GOMAXPROCS(0), 4)),
		running: map[string]chan struct{}{}, failed: map[string]thumbFailure{}}
}

// Bounds of thumbGate's memory of failures: each is kept failTTL (a
// failure to read the source may pass), and at most maxFailed of them
// (beyond, the oldest half is forgotten).
const (
	failTTL   = 10 * time.Minute
	maxFailed = 4096
)

// thumbGate bounds the making of thumbnails: with thumb.Make holding up to
// thumb.MaxDecodeBytes for a source plus its thumbnail, at most
// cap(slots) run at once (4 × about 320 MiB at most), one per thumbnail
// key; and a key whose making failed is not tried again for failTTL.
type thumbGate struct {
	slots   chan struct{}
	mu      sync.Mutex
	running map[string]chan struct{} // closed when the making of the key ends
	failed  map[string]thumbFailure
}

type thumbFailure struct {
	err error
	at  time.Time
}

// do runs mk for key unless it failed lately (its error is returned
// again) or another request is making it (do waits for that one, then
// looks again). mk reports whether its error is the image's (to be
// remembered) rather than the storage's. Errors: mk's, ctx's.
func (g *thumbGate) do(ctx context.Context, key string, mk func() (failed bool, err error)) error {
	for {
		g.mu.Lock()
		if f, ok := g.failed[key]; ok && time.Since(f.at) < failTTL {
			g.mu.Unlock()
			return f.err
		}
		wait, busy := g.running[key]
		if !busy {
			done := make(chan struct{})
			g.running[key] = done
			g.mu.Unlock()
			return g.run(ctx, key, done, mk)
		}
		g.mu.Unlock()
		select {
		case <-wait:
			// The other request ended: it stored the thumbnail (make
			// finds it and returns at once), failed (remembered), or its
			// client left (this one tries).
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *thumbGate) run(ctx context.Context, key string, done chan struct{}, mk func() (bool, error)) error {
	defer func() {
		g.mu.Lock()
		delete(g.running, key)
		close(done)
		g.mu.Unlock()
	}()
	select {
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	failed, err := mk()
	if failed && err != nil {
		g.mu.Lock()
		if len(g.failed) >= maxFailed {
			g.forgetOldest()
		}
		g.failed[key] = thumbFailure{err: err, at: time.Now()}
		g.mu.Unlock()
	}
	return err
}

// forgetOldest drops the expired failures, or the older half if none has
// expired. g.mu is held.
func (g *thumbGate) forgetOldest() {
	var ages []time.Time
	for k, f := range g.failed {
		if time.Since(f.at) >= failTTL {
			delete(g.failed, k)
		} else {
			ages = append(ages, f.at)
		}
	}
	if len(g.failed) < maxFailed {
		return
	}
	slices.SortFunc(ages, time.Time.Compare)
	cut := ages[len(ages)/2]
	for k, f := range g.failed {
		if !f.at.After(cut) {
			delete(g.failed, k)
		}
	}
}

// fileToken answers POST /api/files/token: a token valid for a few
// minutes with which the caller's account may download protected files.
func (s *Server) fileToken(w http.ResponseWriter, r *http.Request) error {
	req := s.caller(r)
	if req.Auth == nil {
		if req.Key != nil {
			return core.Forbidden("API keys cannot have file tokens: protected files need an account.")
		}
		return core.Unauthorized("The request requires valid record authorization token.")
	}
	tok, err := s.auth.FileToken(req.Auth)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	return nil
}
