package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// sseClient reads server-sent events from /api/realtime.
type sseClient struct {
	events chan [2]string // event name, data
	cancel context.CancelFunc
	proto  int // the HTTP major version it runs on
}

func connectRealtime(t *testing.T, s *testkit.Server) (*sseClient, string) {
	t.Helper()
	return connectRealtimeVia(t, http.DefaultClient, s.URL)
}

// connectRealtimeVia opens a stream at base with client.
func connectRealtimeVia(t *testing.T, client *http.Client, base string) (*sseClient, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	c := &sseClient{events: make(chan [2]string, 16), cancel: cancel, proto: resp.ProtoMajor}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				ev = strings.TrimPrefix(line, "event:")
			case strings.HasPrefix(line, "data:"):
				data = strings.TrimPrefix(line, "data:")
			case line == "":
				c.events <- [2]string{ev, data}
			}
		}
		close(c.events)
	}()
	first := c.next(t)
	var hello struct{ ClientID string }
	if first[0] != "PB_CONNECT" || json.Unmarshal([]byte(first[1]), &hello) != nil || hello.ClientID == "" {
		t.Fatalf("first event: %v", first)
	}
	return c, hello.ClientID
}

func (c *sseClient) next(t *testing.T) [2]string {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatal("realtime stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no realtime event")
	}
	return [2]string{}
}

// The SDKs' all-in-one OAuth2 flow: the client waits on the realtime
// stream, the provider sends the user back to /api/oauth2-redirect, and
// the code reaches the client as an @oauth2 event.
func TestOAuth2AllInOneFlow(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	usersSchema(t, s, "")
	m := startProvider(t, s)
	m.QueueUser(mockoidc.DefaultUser())

	rt, clientID := connectRealtime(t, s)
	s.Do("POST", "/api/realtime", "", map[string]any{"clientId": clientID, "subscriptions": []string{"@oauth2"}}, 204, nil)

	var methods struct {
		OAuth2 struct{ Providers []oauthStart }
	}
	s.Do("GET", "/api/collections/users/auth-methods", "", nil, 200, &methods)
	p := methods.OAuth2.Providers[0]
	redirect := s.URL + "/api/oauth2-redirect"
	// As the SDK does: the realtime client id becomes the state.
	u, err := url.Parse(p.AuthURL + url.QueryEscape(redirect))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("state", clientID)
	u.RawQuery = q.Encode()

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, redirect) {
		t.Fatalf("provider sent the browser to %q", back)
	}
	page, err := browser.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("redirect page: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	ev := rt.next(t)
	var got struct{ State, Code, Error string }
	if ev[0] != "@oauth2" || json.Unmarshal([]byte(ev[1]), &got) != nil || got.State != clientID || got.Code == "" || got.Error != "" {
		t.Fatalf("@oauth2 event: %v", ev)
	}
	var res oauthResult
	decode(t, s.Request("POST", "/api/collections/users/auth-with-oauth2", "", map[string]any{
		"provider": "oidc", "code": got.Code, "codeVerifier": p.CodeVerifier, "redirectURL": redirect,
	}), 200, &res)
	if res.Token == "" || res.Record["email"] != mockoidc.DefaultUser().Email {
		t.Fatalf("login: %+v", res)
	}

	// A redirect nobody waits for, and bad subscriptions, are refused.
	if r, _ := browser.Get(s.URL + "/api/oauth2-redirect?state=nobody&code=x"); r.StatusCode != 400 {
		t.Errorf("unknown state: %d", r.StatusCode)
	}
	s.Do("POST", "/api/realtime", "", map[string]any{"clientId": "nope", "subscriptions": []string{"@oauth2"}}, 404, nil)
	s.Do("POST", "/api/realtime", "", map[string]any{"clientId": clientID, "subscriptions": []string{"posts"}}, 400, nil)
	s.Do("POST", "/api/realtime", "", "{", 400, nil)
}
