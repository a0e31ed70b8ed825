package api_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// protectedNote sets up users and notes with a protected file field, and
// a note of a user's holding one file; it returns the user and the URL of
// the note's file.
func protectedNote(t *testing.T, s *testkit.Server) (a authed, url string) {
	t.Helper()
	usersSchema(t, s, "")
	var c map[string]any
	s.Super("GET", "/api/collections/notes", nil, 200, &c)
	fields := append(c["fields"].([]any), map[string]any{"name": "scan", "type": "file", "protected": true, "maxSelect": 1})
	s.Super("PATCH", "/api/collections/notes", map[string]any{"fields": fields}, 200, nil)
	a = signUp(t, s, "a@example.com", "a-password-123")
	status, note := sendMultipart(t, s, "POST", "/api/collections/notes/records", a.Token,
		part{key: "text", data: []byte("mine")}, part{key: "owner", data: []byte(a.Record["id"].(string))},
		part{key: "scan", name: "scan.pdf", data: []byte("%PDF-1.4 secret")})
	if status != 200 {
		t.Fatalf("create: %d %v", status, note)
	}
	return a, s.URL + "/api/files/notes/" + note["id"].(string) + "/" + note["scan"].(string)
}

// The request log keeps URLs, but not the file tokens in them: whoever
// reads the log (a superuser API key among them, which may not have file
// tokens of its own) must not be able to replay a user's token to read
// their protected files.
func TestAttackLogsKeepNoFileTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		a, url := protectedNote(t, s)
		var ft struct{ Token string }
		s.Do("POST", "/api/files/token", a.Token, nil, 200, &ft)
		// The name may come escaped: the server reads it all the same.
		for _, q := range []string{"?download=1&token=", "?to%6Ben="} {
			if resp, body := get(t, url+q+ft.Token, nil); resp.StatusCode != 200 || string(body) != "%PDF-1.4 secret" {
				t.Fatalf("owner's token (%s): %d %s", q, resp.StatusCode, body)
			}
		}
		var root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		key := "Bearer " + root.Key
		s.Do("POST", "/api/files/token", key, nil, 403, nil) // keys have no file tokens
		flushLogs(t, s)

		var l logList
		resp := s.Do("GET", "/api/logs?perPage=500&filter="+urlQuery("data.route ~ 'files'"), key, nil, 200, &l)
		if strings.Contains(string(resp.Body), ft.Token) {
			t.Errorf("the log list holds a user's file token: %s", resp.Body)
		}
		var entry *logItem
		for i, it := range l.Items {
			if strings.HasPrefix(it.Message, "GET /api/files/notes/") {
				entry = &l.Items[i]
			}
		}
		if entry == nil {
			t.Fatalf("no entry of the file's download among %+v", l.Items)
		}
		// What stays is enough to tell what was asked for.
		if u, _ := entry.Data["url"].(string); !strings.Contains(u, "download=1") || !strings.Contains(u, "token=") {
			t.Errorf("logged url: %q", u)
		}
		resp = s.Do("GET", "/api/logs/"+entry.ID, key, nil, 200, nil)
		if strings.Contains(string(resp.Body), ft.Token) {
			t.Errorf("the log entry holds a user's file token: %s", resp.Body)
		}
	})
}

// urlQuery escapes a query parameter's value.
func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "'", "%27", "&", "%26", "+", "%2B", "=", "%3D", "~", "%7E", "#", "%23")
	return r.Replace(s)
}

// damagedPNG is a w x h PNG whose end is cut off: its header is sound and
// decoding it allocates the whole image before it fails.
func damagedPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	return b[:len(b)-40] // IEND and the end of the last IDAT
}

// A thumbnail that cannot be made (a damaged image whose header promises
// a large picture) is not attempted again on every request, nor by every
// one of many requests arriving at once: a guest could otherwise make the
// server decode a large image per request, as often and as many at a time
// as they like. Not parallel: it measures the process's allocations.
func TestAttackThumbOfDamagedImageIsBounded(t *testing.T) {
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "pics", "listRule": "", "viewRule": "", "createRule": "",
		"fields": []map[string]any{{"name": "pic", "type": "file", "maxSelect": 1, "thumbs": []string{"50x50"}}},
	}, 200, nil)
	const side = 4000 // 64 MB decoded
	status, rec := sendMultipart(t, s, "POST", "/api/collections/pics/records", "",
		part{key: "pic", name: "big.png", data: damagedPNG(t, side, side)})
	if status != 200 {
		t.Fatalf("upload: %d %v", status, rec)
	}
	url := s.URL + "/api/files/pics/" + rec["id"].(string) + "/" + rec["pic"].(string) + "?thumb=50x50"
	fetch := func() {
		resp, _ := get(t, url, nil)
		if resp.StatusCode != 200 { // the original is served, as PocketBase does
			t.Errorf("thumb of a damaged image: %d", resp.StatusCode)
		}
	}
	fetch() // the first attempt decodes it
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(fetch)
	}
	wg.Wait()
	for range 4 {
		fetch()
	}
	runtime.ReadMemStats(&after)
	const decode = side * side * 4
	if n := after.TotalAlloc - before.TotalAlloc; n > decode {
		t.Errorf("8 more requests for the thumbnail allocated %d MB (one decode is %d MB)", n>>20, decode>>20)
	}
}

// countingFiles is the app's own file store, counting the objects written.
type countingFiles struct {
	blob.Store
	puts atomic.Int64
}

func (c *countingFiles) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, size, contentType)
}

// More uploads than a file field holds are refused before any is stored:
// a guest's request of hundreds of tiny files for a one-file field must
// not cost the server (or its S3 bill) a write and a delete for each.
func TestAttackTooManyUploadsStoreNothing(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	filesSchema(t, s)
	files := &countingFiles{Store: s.App.Records.Files()}
	s.App.Records.SetFiles(files)
	status, rec := sendMultipart(t, s, "POST", "/api/collections/albums/records", "",
		part{key: "title", data: []byte("x")}, part{key: "docs", name: "a.txt", data: []byte("a")})
	if status != 200 || files.puts.Load() != 1 {
		t.Fatalf("create: %d %v, %d objects written", status, rec, files.puts.Load())
	}
	id := rec["id"].(string)
	many := func(key string, n int) []part {
		parts := []part{{key: "title", data: []byte("x")}}
		for i := range n {
			parts = append(parts, part{key: key, name: strconv.Itoa(i) + ".txt", data: []byte("x")})
		}
		return parts
	}
	for name, c := range map[string]struct {
		method, path string
		parts        []part
	}{
		"one-file field":             {"POST", "/api/collections/albums/records", many("cover", 50)},
		"list field":                 {"POST", "/api/collections/albums/records", many("docs", 50)},
		"list field, modifiers":      {"PATCH", "/api/collections/albums/records/" + id, append(many("docs+", 3), many("+docs", 3)[1:]...)},
		"update of a one-file field": {"PATCH", "/api/collections/albums/records/" + id, many("cover", 2)},
	} {
		before := files.puts.Load()
		if status, out := sendMultipart(t, s, c.method, c.path, "", c.parts...); status != 400 {
			t.Errorf("%s: %d %v", name, status, out)
		}
		if n := files.puts.Load() - before; n != 0 {
			t.Errorf("%s: %d objects written for a refused request", name, n)
		}
	}
}

// A create rule that reads only the caller (here: signed in) is decided
// before a create's uploads are stored: a guest it refuses costs no write
// (before, each of its uploads was stored, then deleted). A rule that
// reads the record is still decided in the transaction.
func TestAttackUploadsOfARefusedCallerStoreNothing(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	usersSchema(t, s, "")
	liftLimits(t, s)
	u := signUp(t, s, "u@example.com", "u-password-123")
	for name, rule := range map[string]string{"members": `@request.auth.id != ""`, "titled": `title = "ok"`} {
		s.Super("POST", "/api/collections", map[string]any{"name": name, "createRule": rule, "fields": []map[string]any{
			{"name": "title", "type": "text"}, {"name": "cover", "type": "file", "maxSelect": 1}}}, 200, nil)
	}
	files := &countingFiles{Store: s.App.Records.Files()}
	s.App.Records.SetFiles(files)
	upload := func(coll, token, title string) int {
		t.Helper()
		status, _ := sendMultipart(t, s, "POST", "/api/collections/"+coll+"/records", token,
			part{key: "title", data: []byte(title)}, part{key: "cover", name: "a.txt", data: []byte("a")})
		return status
	}
	if st := upload("members", "", "x"); st != 400 || files.puts.Load() != 0 {
		t.Errorf("a guest: %d, %d objects written", st, files.puts.Load())
	}
	if st := upload("members", u.Token, "x"); st != 200 || files.puts.Load() != 1 {
		t.Errorf("a member: %d, %d objects written", st, files.puts.Load())
	}
	if st := upload("titled", "", "no"); st != 400 {
		t.Errorf("a rule on the record, refused: %d", st)
	}
	if st := upload("titled", "", "ok"); st != 200 {
		t.Errorf("a rule on the record, admitted: %d", st)
	}
}
