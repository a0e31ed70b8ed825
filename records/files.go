package records

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// DefaultMaxFileSize applies to a file field whose maxSize is 0, as in
// PocketBase: 5 MiB.
const DefaultMaxFileSize = 5 << 20

// Upload is a file sent for a file field (a multipart part). A body holds
// it, alone or in a list, under the field's key or a modifier key
// ("docs+", "+docs").
type Upload struct {
	// Filename is the name the client gave.
	Filename string
	// Size is the length in bytes.
	Size int64
	// Open reads the bytes; each call starts from the beginning.
	Open func() (io.ReadCloser, error)

	// stored is the name it is stored under, set when its bytes are put
	// (before the write transaction), so the transaction only names it.
	stored string
	// contentType is the media type sniffed from its first bytes.
	contentType string
}

// FileKey is where a record's file is kept in the blob store.
func FileKey(collectionID, recordID, name string) string {
	return collectionID + "/" + recordID + "/" + name
}

// RecordFilesPrefix is the folder of a record's files (and thumbnails).
func RecordFilesPrefix(collectionID, recordID string) string {
	return collectionID + "/" + recordID + "/"
}

// ThumbsPrefix is the folder of one file's thumbnails.
func ThumbsPrefix(collectionID, recordID, name string) string {
	return collectionID + "/" + recordID + "/thumbs_" + name + "/"
}

// fileStore holds the blob store; nil until SetFiles.
type fileStore struct{ p atomic.Pointer[blob.Store] }

// SetFiles sets the blob store record files are kept in (the folder or S3
// bucket the settings name). Without one, uploads are refused.
func (s *Service) SetFiles(b blob.Store) { s.files.p.Store(&b) }

// Files returns the blob store, or nil.
func (s *Service) Files() blob.Store {
	if p := s.files.p.Load(); p != nil {
		return *p
	}
	return nil
}

// uploadsIn returns the uploads body carries for c's file fields.
func uploadsIn(c *core.Collection, body map[string]any) []*Upload {
	var out []*Upload
	for key, v := range body {
		name, _ := splitModifier(key)
		if f := c.Field(name); f == nil || f.Type != core.FieldFile {
			continue
		}
		_, ups := splitFileValue(v)
		out = append(out, ups...)
	}
	return out
}

// splitFileValue reads a file field's body value: names of files the
// record has, and uploads.
func splitFileValue(v any) (names []string, ups []*Upload) {
	switch v := v.(type) {
	case *Upload:
		return nil, []*Upload{v}
	case []*Upload:
		return nil, v
	case []any:
		for _, x := range v {
			n, u := splitFileValue(x)
			names, ups = append(names, n...), append(ups, u...)
		}
		return names, ups
	}
	return core.StringsOf(v), nil
}

// putUploads checks the uploads body carries for c and stores them under
// the record's folder, before the write transaction. It returns the keys
// written, for the caller to delete if the transaction fails. Errors:
// KindInvalid naming the body key of a file too large or of a type the
// field refuses.
//
// Nothing is stored when any key is refused: uploads to a hidden field the
// caller may not set (hidden false, see seesHidden), and uploads under
// "field-", which removes files by name and would leave them stored but
// named by no record.
func (s *Service) putUploads(ctx context.Context, c *core.Collection, recordID string, body map[string]any, hidden bool) ([]string, error) {
	errs := core.ValidationErrors{}
	type job struct {
		f  *core.Field
		up *Upload
	}
	var jobs []job
	perField := map[string]int{}
	for key, v := range body {
		name, op := splitModifier(key)
		f := c.Field(name)
		if f == nil || f.Type != core.FieldFile {
			continue
		}
		_, ups := splitFileValue(v)
		if len(ups) > 0 && !hidden && closedField(c, f) {
			errs.Add(key, "validation_unknown_field", fmt.Sprintf("Unknown field %q.", key))
			continue
		}
		if len(ups) > 0 && op == "-" {
			errs.Add(key, "validation_invalid_file", "Files are removed by name: uploads cannot be removed.")
			continue
		}
		// Uploads are only ever added, so more of them than the field
		// holds are refused before any is read or stored: a request of
		// a thousand tiny files must not cost a thousand writes.
		perField[f.Name] += len(ups)
		if limit := max(f.MaxSelect, 1); perField[f.Name] > limit {
			if f.IsMultiple() {
				errs[key] = core.FieldError{Code: "validation_too_many_values", Message: fmt.Sprintf("Select no more than %d.", limit)}
			} else {
				errs[key] = core.FieldError{Code: "validation_too_many_files", Message: "This field holds one file."}
			}
			continue
		}
		for _, up := range ups {
			if fe := checkUpload(f, up); fe != nil {
				errs[key] = *fe
				break
			}
			jobs = append(jobs, job{f, up})
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	files := s.Files()
	if files == nil {
		return nil, core.Invalid("File storage is not configured.")
	}
	var keys []string
	for _, j := range jobs {
		j.up.stored = storedName(j.up.Filename)
		key := FileKey(c.ID, recordID, j.up.stored)
		rc, err := j.up.Open()
		if err != nil {
			s.deleteKeys(keys)
			return nil, core.Invalid("Failed to read the uploaded file %q.", j.up.Filename)
		}
		err = files.Put(ctx, key, rc, j.up.Size, j.up.contentType)
		rc.Close()
		if err != nil {
			s.deleteKeys(append(keys, key))
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// deleteKeys removes blobs written for a write that did not commit. A
// failure leaves an orphan, which the sweep removes later.
func (s *Service) deleteKeys(keys []string) {
	files := s.Files()
	if files == nil {
		return
	}
	for _, k := range keys {
		if err := files.Delete(context.Background(), k); err != nil {
			s.svc.Log().Warn("could not delete an uploaded file of a failed write", "key", k, "err", err)
		}
	}
}

// checkUpload sniffs up's media type and checks it and its size against f.
func checkUpload(f *core.Field, up *Upload) *core.FieldError {
	limit := f.MaxSize
	if limit <= 0 {
		limit = DefaultMaxFileSize
	}
	if up.Size > int64(limit) {
		return &core.FieldError{Code: "validation_file_size_limit",
			Message: fmt.Sprintf("The file %q is larger than %d bytes.", up.Filename, limit)}
	}
	if up.Size == 0 {
		return &core.FieldError{Code: "validation_file_empty", Message: fmt.Sprintf("The file %q is empty.", up.Filename)}
	}
	ct, err := sniff(up)
	if err != nil {
		return &core.FieldError{Code: "validation_file_unreadable", Message: fmt.Sprintf("The file %q cannot be read.", up.Filename)}
	}
	up.contentType = ct
	if len(f.MimeTypes) > 0 {
		base, _, _ := mime.ParseMediaType(ct)
		ok := false
		for _, m := range f.MimeTypes {
			if strings.EqualFold(m, base) {
				ok = true
				break
			}
		}
		if !ok {
			return &core.FieldError{Code: "validation_invalid_mime_type",
				Message: fmt.Sprintf("The file %q is %s, which this field does not accept (%s).", up.Filename, base, strings.Join(f.MimeTypes, ", "))}
		}
	}
	return nil
}

// sniff is the media type of up from its first bytes, or from its
// extension where the bytes say only "text" or "binary" (SVG, CSS, JSON).
func sniff(up *Upload) (string, error) {
	rc, err := up.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	ct := http.DetectContentType(head[:n])
	base, _, _ := mime.ParseMediaType(ct)
	switch base {
	case "text/plain", "application/octet-stream", "text/xml":
		byExt := mime.TypeByExtension(strings.ToLower(path.Ext(up.Filename)))
		if byExt != "" && !hasMagic(byExt) {
			return byExt, nil
		}
	}
	return ct, nil
}

// hasMagic reports whether files of media type t start with bytes that
// sniffing recognises: for those the extension is not believed (a text
// file named .png is text, whatever its name says).
func hasMagic(t string) bool {
	base, _, _ := mime.ParseMediaType(t)
	switch {
	case base == "image/svg+xml":
		return false
	case strings.HasPrefix(base, "image/"), strings.HasPrefix(base, "audio/"), strings.HasPrefix(base, "video/"):
		return true
	}
	switch base {
	case "application/pdf", "application/zip", "application/gzip", "application/x-gzip", "application/wasm",
		"font/woff", "font/woff2", "font/ttf", "font/otf", "application/vnd.ms-fontobject":
		return true
	}
	return false
}

// storedName is the name a file is kept under: the client's name reduced
// to letters, digits, '_' and '-', with a random suffix so names never
// collide and cannot be guessed from the original, and its extension.
func storedName(original string) string {
	original = path.Base(strings.ReplaceAll(original, "\\", "/"))
	ext := strings.ToLower(path.Ext(original))
	base := strings.TrimSuffix(original, path.Ext(original))
	clean := func(s string, max int) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
			if b.Len() >= max {
				break
			}
		}
		return b.String()
	}
	base = strings.Trim(clean(base, 100), "_")
	if base == "" {
		base = "file"
	}
	ext = clean(strings.TrimPrefix(ext, "."), 10)
	name := base + "_" + core.RandomString(10, core.Alphanumeric)
	if ext != "" {
		name += "." + ext
	}
	return name
}

// fileValue resolves a file field's plain body value against the names
// the record has (cur): names kept (each must be one of cur), then the
// uploads' stored names.
func fileValue(cur []string, v any) ([]string, *core.FieldError) {
	names, ups := splitFileValue(v)
	have := map[string]bool{}
	for _, n := range cur {
		have[n] = true
	}
	out := make([]string, 0, len(names)+len(ups))
	for _, n := range names {
		if n == "" {
			continue
		}
		if !have[n] {
			return nil, &core.FieldError{Code: "validation_invalid_file", Message: fmt.Sprintf("%q is not a file of this record.", n)}
		}
		out = append(out, n)
	}
	for _, up := range ups {
		out = append(out, up.storedName())
	}
	return core.Dedupe(out), nil
}

// fileFieldValue is names as f stores them: the list, or for a single
// file field its one name ("" for none).
func fileFieldValue(f *core.Field, names []string) (any, *core.FieldError) {
	if f.IsMultiple() {
		if names == nil {
			names = []string{}
		}
		return names, nil
	}
	switch len(names) {
	case 0:
		return "", nil
	case 1:
		return names[0], nil
	}
	return nil, &core.FieldError{Code: "validation_too_many_files", Message: "This field holds one file."}
}

// storedName is the name up was stored under (see putUploads); an upload
// that was not stored (a write path without file storage) gets none, and
// its write is refused there.
func (up *Upload) storedName() string { return up.stored }

// fileJanitor deletes the files that committed writes let go of: a deleted
// record's folder, and the files an update removed (with their
// thumbnails). It reads the change feed, so it sees every write, whoever
// made it, and only once it committed. A file it misses (the process
// stopped first) is an orphan the sweep removes later.
func (s *Service) fileJanitor(sub *store.Sub) {
	defer sub.Close()
	for ch := range sub.C {
		files := s.Files()
		if files == nil || !hasFileField(ch.Collection) {
			continue
		}
		ctx := context.Background()
		c, id := ch.Collection, ch.Record.ID()
		switch ch.Action {
		case store.ActionDelete:
			if err := files.DeletePrefix(ctx, RecordFilesPrefix(c.ID, id)); err != nil {
				s.svc.Log().Warn("could not delete a deleted record's files", "collection", c.Name, "id", id, "err", err)
			}
		case store.ActionUpdate:
			if ch.Old == nil {
				continue
			}
			for i := range c.Fields {
				f := &c.Fields[i]
				if f.Type != core.FieldFile {
					continue
				}
				keep := map[string]bool{}
				for _, n := range ch.Record.Strings(f.Name) {
					keep[n] = true
				}
				for _, n := range ch.Old.Strings(f.Name) {
					if keep[n] || n == "" {
						continue
					}
					_ = files.Delete(ctx, FileKey(c.ID, id, n))
					_ = files.DeletePrefix(ctx, ThumbsPrefix(c.ID, id, n))
				}
			}
		}
	}
	if errors.Is(sub.Err(), store.ErrLagged) {
		s.svc.Log().Warn("the file janitor fell behind the change feed: some removed files stay until the sweep")
		go s.fileJanitor(s.svc.Changes().Subscribe(1024))
	}
}

// StartFileJanitor starts deleting, after each commit, the files writes
// let go of (see fileJanitor). It runs until the store closes.
func (s *Service) StartFileJanitor() { go s.fileJanitor(s.svc.Changes().Subscribe(1024)) }

func hasFileField(c *core.Collection) bool {
	for i := range c.Fields {
		if c.Fields[i].Type == core.FieldFile {
			return true
		}
	}
	return false
}

// safeFileID reports whether a record id can name a folder of the blob
// store: no '/', no dots, nothing a key could escape with.
func safeFileID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// SweepOrphans deletes the stored files no record names, in the folders of
// this app's collections: left by a write whose process stopped between
// storing its uploads and committing, or by a janitor that missed a
// change. Only files older than minAge go, so uploads of writes still in
// progress stay; folders of collections this app does not have are left
// alone (a bucket may be shared). It returns how many it deleted.
func (s *Service) SweepOrphans(ctx context.Context, minAge time.Duration) (int, error) {
	files := s.Files()
	if files == nil {
		return 0, nil
	}
	cutoff := time.Now().Add(-minAge)
	records := map[string]*core.Record{} // by collection/record folder; nil: none
	var orphans []string
	err := files.List(ctx, "", func(info blob.Info) error {
		if info.ModTime.After(cutoff) {
			return nil
		}
		parts := strings.SplitN(info.Key, "/", 3)
		if len(parts) != 3 {
			return nil // not ours
		}
		c := s.svc.Schema().ByID(parts[0])
		if c == nil {
			// Not a collection of this app: a bucket may be shared, and a
			// deleted collection's folder is not ours to judge.
			return nil
		}
		folder := parts[0] + "/" + parts[1]
		rec, seen := records[folder]
		if !seen {
			r, err := s.store.Get(ctx, c, parts[1])
			if err != nil && core.KindOf(err) != core.KindNotFound {
				return err
			}
			rec = r
			records[folder] = rec
		}
		name := parts[2]
		if thumbs, rest, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(thumbs, "thumbs_") && rest != "" {
			name = strings.TrimPrefix(thumbs, "thumbs_")
		}
		if rec == nil || !namesFile(rec, name) {
			orphans = append(orphans, info.Key)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range orphans {
		if err := files.Delete(ctx, k); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

// namesFile reports whether one of rec's file fields holds name.
func namesFile(rec *core.Record, name string) bool {
	for i := range rec.Collection.Fields {
		f := &rec.Collection.Fields[i]
		if f.Type == core.FieldFile && slices.Contains(rec.Strings(f.Name), name) {
			return true
		}
	}
	return false
}

// StartSweeper sweeps orphaned files (see SweepOrphans) an hour after
// start and then every day, sparing files younger than an hour, until ctx
// ends.
func (s *Service) StartSweeper(ctx context.Context) {
	go func() {
		for wait := time.Hour; ; wait = 24 * time.Hour {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			if n, err := s.SweepOrphans(ctx, time.Hour); err != nil {
				s.svc.Log().Warn("sweeping orphaned files failed", "err", err)
			} else if n > 0 {
				s.svc.Log().Info("swept orphaned files", "count", n)
			}
		}
	}()
}

// DeleteCollectionFiles deletes the files of every record of c, after c
// itself was deleted. A failure is logged: the files stay as orphans.
func (s *Service) DeleteCollectionFiles(ctx context.Context, c *core.Collection) {
	files := s.Files()
	if files == nil || !hasFileField(c) {
		return
	}
	if err := files.DeletePrefix(context.WithoutCancel(ctx), c.ID+"/"); err != nil {
		s.svc.Log().Warn("could not delete a deleted collection's files", "collection", c.Name, "err", err)
	}
}
