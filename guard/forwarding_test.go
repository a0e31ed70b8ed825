package guard

import (
	"net/http/httptest"
	"testing"
)

func TestClientIPWith(t *testing.T) {
	t.Parallel()
	proxies := mustProxies(t, "10.0.0.0/8")
	tests := []struct {
		name    string
		peer    string
		headers map[string][]string
		f       Forwarding
		want    string
	}{
		{name: "untrusted peer ignores the named header", peer: "203.0.113.9:1234",
			headers: map[string][]string{"Cf-Connecting-Ip": {"198.51.100.1"}},
			f:       Forwarding{Headers: []string{"CF-Connecting-IP"}}, want: "203.0.113.9"},
		{name: "named header from a trusted peer", peer: "10.0.0.5:1234",
			headers: map[string][]string{"Cf-Connecting-Ip": {"198.51.100.1"}, "X-Forwarded-For": {"192.0.2.1"}},
			f:       Forwarding{Headers: []string{"CF-Connecting-IP"}}, want: "198.51.100.1"},
		{name: "first present header wins", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"192.0.2.1"}},
			f:       Forwarding{Headers: []string{"CF-Connecting-IP", "X-Forwarded-For"}}, want: "192.0.2.1"},
		{name: "no named header present: the peer", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"192.0.2.1"}},
			f:       Forwarding{Headers: []string{"CF-Connecting-IP"}}, want: "10.0.0.5"},
		{name: "rightmost untrusted by default", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 192.0.2.1, 10.0.0.7"}},
			f:       Forwarding{Headers: []string{"X-Forwarded-For"}}, want: "192.0.2.1"},
		{name: "leftmost when asked", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 192.0.2.1", "10.0.0.7"}},
			f:       Forwarding{Headers: []string{"X-Forwarded-For"}, Leftmost: true}, want: "6.6.6.6"},
		{name: "leftmost skips garbage", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"unknown, 192.0.2.1"}},
			f:       Forwarding{Leftmost: true}, want: "192.0.2.1"},
		{name: "leftmost with nothing valid: the peer", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"unknown"}},
			f:       Forwarding{Leftmost: true}, want: "10.0.0.5"},
		{name: "leftmost with default headers falls to X-Real-IP", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Real-Ip": {"192.0.2.8"}},
			f:       Forwarding{Leftmost: true}, want: "192.0.2.8"},
		{name: "malformed hop stops the walk", peer: "10.0.0.5:1234",
			headers: map[string][]string{"Fly-Client-Ip": {"192.0.2.1, bogus, 10.0.0.9"}},
			f:       Forwarding{Headers: []string{"Fly-Client-IP"}}, want: "10.0.0.9"},
		{name: "zero Forwarding is ClientIP", peer: "10.0.0.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 192.0.2.1"}},
			want:    "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := proxies.ClientIPWith(r, tt.f).String(); got != tt.want {
				t.Errorf("ClientIPWith = %s, want %s", got, tt.want)
			}
		})
	}
	var none *Proxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:1"
	r.Header.Set("X-Forwarded-For", "192.0.2.1")
	if got := none.ClientIPWith(r, Forwarding{Leftmost: true}).String(); got != "10.0.0.5" {
		t.Errorf("nil Proxies: %s", got)
	}
}
