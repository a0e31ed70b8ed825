package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tortoise-dev/tortoise/guard"
)

// An auth handler checks the client address and the account before doing
// any work, answering 429 when either is over its limit.
func Example() {
	proxies, err := guard.ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		panic(err)
	}
	lim := guard.NewLimiter(guard.DefaultMaxKeys)
	pol := guard.DefaultPolicy()
	auth, _ := pol.For(guard.LabelAuth)

	login := func(w http.ResponseWriter, r *http.Request, identity string) {
		now := time.Now()
		if ok, wait := lim.Allow(guard.IPKey(guard.LabelAuth, proxies.ClientIP(r)), auth.PerIP, now); !ok {
			w.Header().Set("Retry-After", guard.RetryAfter(wait))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if ok, wait := lim.Allow(guard.AccountKey(guard.LabelAuth, "users", identity), auth.PerAccount, now); !ok {
			w.Header().Set("Retry-After", guard.RetryAfter(wait))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}

	for i := range 11 {
		r := httptest.NewRequest(http.MethodPost, "/api/collections/users/auth-with-password", nil)
		r.RemoteAddr = "10.0.0.1:4242"                  // the trusted proxy
		r.Header.Set("X-Forwarded-For", "198.51.100.9") // the real client
		w := httptest.NewRecorder()
		login(w, r, fmt.Sprintf("Ada@Example.com%s", []string{"", " "}[i%2])) // case and padding do not help
		if w.Code != http.StatusOK {
			fmt.Println(i+1, w.Code, w.Header().Get("Retry-After"))
		}
	}
	// Output:
	// 11 429 6
}
