package guard

import (
	"net/http"
	"strconv"
	"time"
)

// TooMany answers 429 Too Many Requests with a Retry-After header of
// retryAfter in whole seconds, rounded up and at least 1, and PocketBase's
// error body {"status":429,"message":"Too many requests.","data":{}}.
func TooMany(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int64(retryAfter / time.Second)
	if retryAfter%time.Second > 0 {
		secs++
	}
	if secs < 1 {
		secs = 1
	}
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(tooManyBody)
}

var tooManyBody = []byte(`{"status":429,"message":"Too many requests.","data":{}}`)
