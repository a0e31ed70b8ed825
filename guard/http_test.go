package guard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTooMany(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		retry time.Duration
		want  string
	}{
		{"zero", 0, "1"},
		{"negative", -time.Second, "1"},
		{"nanosecond", time.Nanosecond, "1"},
		{"exactly one second", time.Second, "1"},
		{"just over a second rounds up", time.Second + time.Nanosecond, "2"},
		{"fraction rounds up", 5500 * time.Millisecond, "6"},
		{"minutes", 20 * time.Minute, "1200"},
		{"huge", time.Duration(1<<63 - 1), "9223372037"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			TooMany(w, tt.retry)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("status = %d, want 429", w.Code)
			}
			if got := w.Header().Get("Retry-After"); got != tt.want {
				t.Fatalf("Retry-After = %q, want %q", got, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
			var body struct {
				Status  int            `json:"status"`
				Message string         `json:"message"`
				Data    map[string]any `json:"data"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			if body.Status != 429 || body.Message != "Too many requests." || body.Data == nil || len(body.Data) != 0 {
				t.Fatalf("body = %s", w.Body.String())
			}
		})
	}
}
