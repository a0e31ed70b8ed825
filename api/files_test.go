package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// part is one multipart part: a field value, or a file when name is set.
type part struct {
	key, name string
	data      []byte
}

func multipartBody(t testing.TB, parts ...part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.name == "" {
			mw.WriteField(p.key, string(p.data))
			continue
		}
		w, err := mw.CreateFormFile(p.key, p.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func sendMultipart(t *testing.T, s *testkit.Server, method, path, token string, parts ...part) (int, map[string]any) {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	req, _ := http.NewRequest(method, s.URL+path, body)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobCount counts the stored objects under a collection's folder.
func blobCount(t *testing.T, s *testkit.Server, collectionID string) int {
	t.Helper()
	n := 0
	err := s.App.Records.Files().List(context.Background(), collectionID+"/", func(blob.Info) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually retries cond for a few seconds: the files of deleted records
// go after the commit, from the change feed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func filesSchema(t *testing.T, s *testkit.Server) string {
	t.Helper()
	var c map[string]any
	s.Super("POST", "/api/collections", map[string]any{
		"name": "albums", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
		"fields": []map[string]any{
			{"name": "title", "type": "text", "required": true},
			{"name": "cover", "type": "file", "maxSelect": 1, "mimeTypes": []string{"image/png", "image/jpeg"}, "thumbs": []string{"20x20", "10x0"}},
			{"name": "docs", "type": "file", "maxSelect": 3, "maxSize": 2000},
		},
	}, 200, &c)
	return c["id"].(string)
}

// Uploads through multipart, served back with caching headers, ranges,
// thumbnails and safe dispositions; modifiers add and remove files, and
// files a write lets go of leave storage after it commits.
func TestFiles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cid := filesSchema(t, s)
		cover := pngOf(t, 64, 32)
		status, rec := sendMultipart(t, s, "POST", "/api/collections/albums/records", "",
			part{key: "title", data: []byte("first")},
			part{key: "cover", name: "My Cover (1).PNG", data: cover},
			part{key: "docs", name: "notes.txt", data: []byte("hello notes")},
			part{key: "docs", name: "page.html", data: []byte("<html><script>alert(1)</script></html>")},
		)
		if status != 200 {
			t.Fatalf("create: %d %v", status, rec)
		}
		id := rec["id"].(string)
		coverName := rec["cover"].(string)
		docs := rec["docs"].([]any)
		if !strings.HasPrefix(coverName, "My_Cover__1_") || !strings.HasSuffix(coverName, ".png") || len(docs) != 2 {
			t.Fatalf("stored names: %v %v", coverName, docs)
		}
		base := s.URL + "/api/files/albums/" + id + "/"

		resp, b := get(t, base+coverName, nil)
		if resp.StatusCode != 200 || !bytes.Equal(b, cover) || resp.Header.Get("Content-Type") != "image/png" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || resp.Header.Get("ETag") == "" ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "public") || resp.Header.Get("Last-Modified") == "" {
			t.Errorf("cover: %d %v", resp.StatusCode, resp.Header)
		}
		resp, _ = get(t, base+coverName, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
		if resp.StatusCode != 304 {
			t.Errorf("conditional get: %d", resp.StatusCode)
		}
		resp, b = get(t, base+coverName, map[string]string{"Range": "bytes=0-7"})
		if resp.StatusCode != 206 || !bytes.Equal(b, cover[:8]) {
			t.Errorf("range: %d %q", resp.StatusCode, b)
		}
		resp, _ = get(t, base+coverName+"?download=1", nil)
		if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %v", resp.Header)
		}

		// Thumbnails: only the sizes the field declares.
		for spec, want := range map[string][2]int{"20x20": {20, 20}, "10x0": {10, 5}, "33x33": {64, 32}} {
			resp, b := get(t, base+coverName+"?thumb="+spec, nil)
			cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
			if resp.StatusCode != 200 || err != nil || cfg.Width != want[0] || cfg.Height != want[1] {
				t.Errorf("thumb %s: %d %v %dx%d", spec, resp.StatusCode, err, cfg.Width, cfg.Height)
			}
		}

		// HTML is never shown inline from our origin.
		var html string
		for _, d := range docs {
			if strings.HasSuffix(d.(string), ".html") {
				html = d.(string)
			}
		}
		resp, _ = get(t, base+html, nil)
		if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("Content-Security-Policy") != "sandbox" ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("html: %v", resp.Header)
		}

		// docs+ appends; docs- removes, and the removed file leaves storage.
		status, rec = sendMultipart(t, s, "PATCH", "/api/collections/albums/records/"+id, "",
			part{key: "docs+", name: "more.txt", data: []byte("more")})
		if status != 200 || len(rec["docs"].([]any)) != 3 {
			t.Fatalf("docs+: %d %v", status, rec)
		}
		s.Do("PATCH", "/api/collections/albums/records/"+id, "", map[string]any{"docs-": []string{html}}, 200, &rec)
		if len(rec["docs"].([]any)) != 2 {
			t.Errorf("docs-: %v", rec["docs"])
		}
		eventually(t, "the removed file is still served", func() bool {
			resp, _ := get(t, base+html, nil)
			return resp.StatusCode == 404
		})
		// A new cover replaces the old one, whose thumbnails go with it.
		status, rec = sendMultipart(t, s, "PATCH", "/api/collections/albums/records/"+id, "",
			part{key: "cover", name: "new.png", data: pngOf(t, 8, 8)})
		if status != 200 || rec["cover"] == coverName {
			t.Fatalf("new cover: %d %v", status, rec)
		}
		eventually(t, "the old cover is still served", func() bool {
			resp, _ := get(t, base+coverName+"?thumb=20x20", nil)
			return resp.StatusCode == 404
		})

		// Deleting the record deletes its folder.
		s.Do("DELETE", "/api/collections/albums/records/"+id, "", nil, 204, nil)
		eventually(t, "a deleted record's files are still stored", func() bool { return blobCount(t, s, cid) == 0 })
	})
}

// Bad uploads get a 400 naming the field and store nothing.
func TestFilesRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cid := filesSchema(t, s)
		for name, parts := range map[string][]part{
			"too large":           {{key: "title", data: []byte("x")}, {key: "docs", name: "big.txt", data: bytes.Repeat([]byte("a"), 2001)}},
			"wrong type":          {{key: "title", data: []byte("x")}, {key: "cover", name: "cover.png", data: []byte("GIF89a not a png")}},
			"text named .png":     {{key: "title", data: []byte("x")}, {key: "cover", name: "cover.png", data: []byte("just some text")}},
			"too many":            {{key: "title", data: []byte("x")}, {key: "docs", name: "1.txt", data: []byte("1")}, {key: "docs", name: "2.txt", data: []byte("2")}, {key: "docs", name: "3.txt", data: []byte("3")}, {key: "docs", name: "4.txt", data: []byte("4")}},
			"two for one":         {{key: "title", data: []byte("x")}, {key: "cover", name: "a.png", data: pngOf(t, 2, 2)}, {key: "cover", name: "b.png", data: pngOf(t, 2, 2)}},
			"record fails":        {{key: "docs", name: "ok.txt", data: []byte("fine")}}, // no title
			"empty file":          {{key: "title", data: []byte("x")}, {key: "docs", name: "empty.txt", data: nil}},
			"unknown kept name":   {{key: "title", data: []byte("x")}, {key: "docs", data: []byte("someone_elses.txt")}},
			"id that is a path":   {{key: "id", data: []byte("../../etc")}, {key: "title", data: []byte("x")}, {key: "docs", name: "a.txt", data: []byte("a")}},
			"file on a text key":  {{key: "title", name: "t.txt", data: []byte("x")}},
			"modifier with names": {{key: "title", data: []byte("x")}, {key: "docs+", data: []byte("x.txt")}},
		} {
			status, out := sendMultipart(t, s, "POST", "/api/collections/albums/records", "", parts...)
			if status != 400 {
				t.Errorf("%s: %d %v", name, status, out)
			}
		}
		var l list
		s.Super("GET", "/api/collections/albums/records", nil, 200, &l)
		if l.TotalItems != 0 || blobCount(t, s, cid) != 0 {
			t.Errorf("after refused uploads: %d records, %d files", l.TotalItems, blobCount(t, s, cid))
		}
		s.Do("GET", "/api/files/albums/nope/nope.txt", "", nil, 404, nil)
		s.Do("GET", "/api/files/nope/nope/nope.txt", "", nil, 404, nil)
	})
}

// Protected files need a file token whose owner may view the record.
func TestProtectedFiles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		var c map[string]any
		s.Super("GET", "/api/collections/notes", nil, 200, &c)
		fields := append(c["fields"].([]any), map[string]any{"name": "scan", "type": "file", "protected": true, "maxSelect": 1})
		s.Super("PATCH", "/api/collections/notes", map[string]any{"fields": fields}, 200, nil)
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		status, note := sendMultipart(t, s, "POST", "/api/collections/notes/records", a.Token,
			part{key: "text", data: []byte("mine")}, part{key: "owner", data: []byte(a.Record["id"].(string))},
			part{key: "scan", name: "scan.pdf", data: []byte("%PDF-1.4 secret")})
		if status != 200 {
			t.Fatalf("create: %d %v", status, note)
		}
		url := s.URL + "/api/files/notes/" + note["id"].(string) + "/" + note["scan"].(string)
		if resp, _ := get(t, url, nil); resp.StatusCode != 403 {
			t.Errorf("no token: %d", resp.StatusCode)
		}
		if resp, _ := get(t, url+"?token="+a.Token, nil); resp.StatusCode != 403 {
			t.Errorf("an auth token instead of a file token: %d", resp.StatusCode)
		}
		var ta, tb struct{ Token string }
		s.Do("POST", "/api/files/token", a.Token, nil, 200, &ta)
		s.Do("POST", "/api/files/token", b.Token, nil, 200, &tb)
		s.Do("POST", "/api/files/token", "", nil, 401, nil)
		resp, body := get(t, url+"?token="+ta.Token, nil)
		if resp.StatusCode != 200 || string(body) != "%PDF-1.4 secret" || resp.Header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("owner's token: %d %s %v", resp.StatusCode, body, resp.Header)
		}
		if resp, _ := get(t, url+"?token="+tb.Token, nil); resp.StatusCode != 403 {
			t.Errorf("another user's token: %d", resp.StatusCode)
		}
		// A password change voids the owner's file tokens.
		s.Do("PATCH", "/api/collections/users/records/"+a.Record["id"].(string), a.Token,
			map[string]any{"oldPassword": "a-password-123", "password": "a-password-456", "passwordConfirm": "a-password-456"}, 200, nil)
		if resp, _ := get(t, url+"?token="+ta.Token, nil); resp.StatusCode != 403 {
			t.Errorf("token after a password change: %d", resp.StatusCode)
		}
	})
}

// Files no record names (a crash between storing uploads and committing)
// are swept; the files records name, and their thumbnails, stay.
func TestSweepOrphans(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cid := filesSchema(t, s)
		status, rec := sendMultipart(t, s, "POST", "/api/collections/albums/records", "",
			part{key: "title", data: []byte("kept")}, part{key: "cover", name: "c.png", data: pngOf(t, 30, 30)})
		if status != 200 {
			t.Fatalf("create: %d %v", status, rec)
		}
		id, cover := rec["id"].(string), rec["cover"].(string)
		get(t, s.URL+"/api/files/albums/"+id+"/"+cover+"?thumb=20x20", nil) // makes a thumbnail
		files := s.App.Records.Files()
		ctx := context.Background()
		for _, key := range []string{
			cid + "/" + id + "/stray_abc.txt",            // a record's folder, a name it does not hold
			cid + "/gonerecord00001/left.txt",            // a record that does not exist
			"pbc_nosuchcoll/rec/whatever.txt",            // a collection that does not exist
			cid + "/" + id + "/thumbs_x.png/20x20_x.png", // a thumbnail of a file it does not hold
		} {
			if err := files.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.App.Records.SweepOrphans(ctx, 0)
		if err != nil || n != 3 {
			t.Fatalf("swept %d, %v; want 3", n, err)
		}
		if _, err := files.Stat(ctx, "pbc_nosuchcoll/rec/whatever.txt"); err != nil {
			t.Errorf("another app's file: %v", err)
		}
		if resp, _ := get(t, s.URL+"/api/files/albums/"+id+"/"+cover, nil); resp.StatusCode != 200 {
			t.Errorf("the record's own file: %d", resp.StatusCode)
		}
		if _, err := files.Stat(ctx, cid+"/"+id+"/thumbs_"+cover+"/20x20_"+cover); err != nil {
			t.Errorf("its thumbnail: %v", err)
		}
		// Young files are spared: a write may still be committing them.
		files.Put(ctx, cid+"/"+id+"/young.txt", strings.NewReader("y"), 1, "text/plain")
		if n, err := s.App.Records.SweepOrphans(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("young files swept: %d, %v", n, err)
		}
	})
}

// Deleting a collection deletes its records' files.
func TestDeleteCollectionFiles(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	cid := filesSchema(t, s)
	if status, out := sendMultipart(t, s, "POST", "/api/collections/albums/records", "",
		part{key: "title", data: []byte("x")}, part{key: "docs", name: "a.txt", data: []byte("a")}); status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	if blobCount(t, s, cid) != 1 {
		t.Fatal("the upload is not stored")
	}
	s.Super("DELETE", "/api/collections/albums", nil, 204, nil)
	if n := blobCount(t, s, cid); n != 0 {
		t.Errorf("%d files of a deleted collection stay", n)
	}

	// An import with deleteMissing drops collections too; the orphan
	// sweep passes over the folders of collections the app no longer has.
	cid = filesSchema(t, s)
	if status, out := sendMultipart(t, s, "POST", "/api/collections/albums/records", "",
		part{key: "title", data: []byte("x")}, part{key: "docs", name: "a.txt", data: []byte("a")}); status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	s.Super("PUT", "/api/collections/import", map[string]any{"deleteMissing": true, "collections": []any{
		map[string]any{"name": "kept", "fields": []map[string]any{{"name": "t", "type": "text"}}}}}, 204, nil)
	if n := blobCount(t, s, cid); n != 0 {
		t.Errorf("%d files of a collection an import dropped stay", n)
	}
}

// Malformed multipart bodies and bodies over the server's limit are
// refused with a 4xx on the record and batch routes, and nothing is
// stored.
func TestMultipartBadInput(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.MaxBodyBytes = 64 << 10 })
	cid := filesSchema(t, s)
	enableBatch(t, s)
	send := func(path, ct string, body []byte) int {
		req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", s.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	big, bigCT := multipartBody(t, part{key: "title", data: []byte("x")}, part{key: "docs", name: "big.txt", data: bytes.Repeat([]byte("a"), 100<<10)})
	bigBody, _ := io.ReadAll(big)
	for name, c := range map[string]struct {
		ct   string
		body []byte
		want int
	}{
		"no boundary":         {"multipart/form-data", []byte("--x\r\n"), 400},
		"truncated":           {"multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhal"), 400},
		"garbage":             {"multipart/form-data; boundary=x", []byte("not multipart at all"), 400},
		"over the body limit": {bigCT, bigBody, 413},
	} {
		for _, path := range []string{"/api/collections/albums/records", "/api/batch"} {
			if got := send(path, c.ct, c.body); got != c.want {
				t.Errorf("%s %s: %d, want %d", name, path, got, c.want)
			}
		}
	}
	var l list
	s.Super("GET", "/api/collections/albums/records", nil, 200, &l)
	if l.TotalItems != 0 || blobCount(t, s, cid) != 0 {
		t.Errorf("after refused bodies: %d records, %d files", l.TotalItems, blobCount(t, s, cid))
	}
}
