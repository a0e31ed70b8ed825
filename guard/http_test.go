package guard

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
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
			if got := RetryAfter(tt.retry); got != tt.want {
				t.Fatalf("RetryAfter(%v) = %q, want %q", tt.retry, got, tt.want)
			}
		})
	}
}
