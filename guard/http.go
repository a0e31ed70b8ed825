package guard

import (
	"strconv"
	"time"
)

// RetryAfter is the Retry-After header value of a refusal that may be
// retried after d: whole seconds, rounded up, at least 1. The API's error
// table writes it on every 429.
func RetryAfter(d time.Duration) string {
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return strconv.FormatInt(max(secs, 1), 10)
}
