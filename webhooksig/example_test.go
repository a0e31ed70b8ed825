package webhooksig_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/webhooksig"
)

// A sender signs each delivery with the receiver's secret (made once with
// NewSecret and shown to the receiver) and sets the three headers.
func ExampleSetHeaders() {
	secret := "whsec_dG9ydG9pc2Utd2ViaG9va3NpZy10ZXN0LWtleS0zMmI="
	body := []byte(`{"type":"record.created","data":{"name":"Zoë"}}`)
	req, err := http.NewRequest(http.MethodPost, "https://example.com/hooks", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	// The id stays the same when the delivery is retried, so the receiver
	// can tell a retry from a new event.
	if err := webhooksig.SetHeaders(req.Header, "msg_tortoise_0001", time.Unix(1700000000, 0), body, secret); err != nil {
		panic(err)
	}
	for _, name := range []string{webhooksig.HeaderID, webhooksig.HeaderTimestamp, webhooksig.HeaderSignature} {
		fmt.Printf("%s: %s\n", name, req.Header.Get(name))
	}
	// Output:
	// webhook-id: msg_tortoise_0001
	// webhook-timestamp: 1700000000
	// webhook-signature: v1,uyLEQt4H8yOlxI4Ays90qEOt9tlYQAeqojyTyiC10Bw=
}

// A receiver verifies the raw body before decoding it, then refuses a
// message id it has already handled.
func ExampleVerify() {
	secret := webhooksig.NewSecret()
	var (
		mu   sync.Mutex
		seen = map[string]bool{} // a real receiver forgets ids after timestamp + tolerance
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := webhooksig.Verify(secret, r.Header, body, time.Now(), webhooksig.DefaultTolerance); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id, _ := webhooksig.EventID(webhooksig.StandardWebhooks, r.Header, body)
		mu.Lock()
		dup := seen[id]
		seen[id] = true
		mu.Unlock()
		if dup {
			fmt.Fprint(w, "duplicate") // already handled: acknowledge, do nothing
			return
		}
		fmt.Fprint(w, "handled")
	})

	send := func(body, secret string) {
		r := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader([]byte(body)))
		if err := webhooksig.SetHeaders(r.Header, "msg_1", time.Now(), []byte(body), secret); err != nil {
			panic(err)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	send(`{"type":"ping"}`, secret)
	send(`{"type":"ping"}`, secret)
	send(`{"type":"ping"}`, webhooksig.NewSecret())
	// Output:
	// 200 handled
	// 200 duplicate
	// 401 bad signature
}

// Verify tells the kinds of failure apart for logging.
func ExampleVerify_errors() {
	secret := "whsec_dG9ydG9pc2Utd2ViaG9va3NpZy10ZXN0LWtleS0zMmI="
	body := []byte(`{"type":"ping"}`)
	h := http.Header{}
	sent := time.Unix(1700000000, 0)
	if err := webhooksig.SetHeaders(h, "msg_1", sent, body, secret); err != nil {
		panic(err)
	}
	for _, now := range []time.Time{sent.Add(time.Minute), sent.Add(time.Hour)} {
		err := webhooksig.Verify(secret, h, body, now, 0)
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, webhooksig.ErrTimestampTooOld):
			fmt.Println("authentic but stale:", err)
		default:
			fmt.Println("refused:", err)
		}
	}
	// Output:
	// ok
	// authentic but stale: webhooksig: timestamp too old: sent 1h0m0s ago, tolerance 5m0s
}

// A Stripe endpoint's signing secret is used as it is; the event id for
// replay protection is in the body.
func ExampleVerifyStripe() {
	secret := "whsec_tortoiseStripeTestSecret"
	body := []byte(`{"id":"evt_1","object":"event"}`)
	header := "t=1700000000,v1=fc9f248a00d1ddda041b8ed68eb45efaff1828f987fe9b5911bcad4e2de90057"

	err := webhooksig.VerifyStripe(secret, header, body, time.Unix(1700000060, 0), 0)
	fmt.Println(err)
	id, err := webhooksig.EventID(webhooksig.Stripe, nil, body)
	fmt.Println(id, err)
	// Output:
	// <nil>
	// evt_1 <nil>
}
