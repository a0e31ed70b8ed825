package outbound_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tortoise-dev/tortoise/outbound"
)

// A webhook delivery posts to the configured URL and records either the
// status or why the request was refused. Here the receiver listens on
// 127.0.0.1, so it is refused until a superuser allows its host.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "thanks")
	}))
	defer receiver.Close()

	deliver := func(client *http.Client, hookURL string) string {
		resp, err := client.Post(hookURL, "application/json", strings.NewReader(`{"event":"create"}`))
		var blocked *outbound.BlockedError
		switch {
		case errors.As(err, &blocked):
			return blocked.Error() // the short form, for the delivery log
		case err != nil:
			return "failed: " + err.Error()
		}
		defer resp.Body.Close()
		// The client does not bound the body: keep what the log needs.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}

	fmt.Println(deliver(outbound.NewClient(outbound.Options{}), receiver.URL))

	u, _ := url.Parse(receiver.URL)
	allowed := outbound.NewClient(outbound.Options{AllowHosts: []string{u.Host}})
	fmt.Println(deliver(allowed, receiver.URL))

	// Allowing one host does not open the others.
	fmt.Println(deliver(allowed, "http://169.254.169.254/latest/meta-data/"))
	// Output:
	// refused: 127.0.0.1 is a loopback address
	// 200 thanks
	// refused: 169.254.169.254 is the cloud metadata address
}

func ExampleCheck() {
	for _, s := range []string{"93.184.215.14", "10.1.2.3", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2606:4700::1111"} {
		if err := outbound.Check(netip.MustParseAddr(s)); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println(s, "may be dialled")
		}
	}
	// Output:
	// 93.184.215.14 may be dialled
	// refused: 10.1.2.3 is a private address
	// refused: ::ffff:127.0.0.1 is an IPv4-mapped form of 127.0.0.1, a loopback address
	// refused: 64:ff9b::a9fe:a9fe is a NAT64 form of 169.254.169.254, the cloud metadata address
	// 2606:4700::1111 may be dialled
}
