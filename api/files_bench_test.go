package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/tortoise-dev/tortoise/blob/blobtest"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// BenchmarkFiles measures file upload (a multipart create with one file)
// and download (GET /api/files/...) through the HTTP API, with files on
// the local disk and, when TORTOISE_TEST_S3 is set, in S3. b.SetBytes
// makes `go test -bench` report MB/s:
//
//	go test -run '^$' -bench BenchmarkFiles -benchtime 3s ./api
func BenchmarkFiles(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		b.Run("local/"+sizeName(size), func(b *testing.B) { benchFiles(b, data, false) })
		if os.Getenv(blobtest.S3Env) != "" {
			b.Run("s3/"+sizeName(size), func(b *testing.B) { benchFiles(b, data, true) })
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}

func benchFiles(b *testing.B, data []byte, s3 bool) {
	s := testkit.NewServer(b, "sqlite")
	if s3 {
		o := blobtest.S3Options(b)
		s.Super("PATCH", "/api/settings", map[string]any{"s3": map[string]any{
			"enabled": true, "endpoint": o.Endpoint, "bucket": o.Bucket, "region": o.Region,
			"accessKey": o.AccessKey, "secret": o.Secret, "forcePathStyle": true,
		}}, 200, nil)
	}
	s.Super("POST", "/api/collections", map[string]any{
		"name": "blobs", "listRule": "", "viewRule": "", "createRule": "",
		"fields": []map[string]any{{"name": "f", "type": "file", "maxSelect": 1, "maxSize": 16 << 20}},
	}, 200, nil)
	upload := func() string {
		var buf bytes.Buffer
		body, ct := multipartBody(b, part{key: "f", name: "data.bin", data: data})
		io.Copy(&buf, body)
		req, _ := http.NewRequest("POST", s.URL+"/api/collections/blobs/records", &buf)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("upload: %v %v", err, resp.Status)
		}
		defer resp.Body.Close()
		var rec struct{ ID, F string }
		if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
			b.Fatal(err)
		}
		return "/api/files/blobs/" + rec.ID + "/" + rec.F
	}
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			upload()
		}
	})
	path := upload()
	b.Run("download", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			resp, err := http.Get(s.URL + path)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("download: %v", err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != int64(len(data)) {
				b.Fatalf("downloaded %d bytes of %d", n, len(data))
			}
		}
	})
}
