package api_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// event decodes a record event's data.
type recordEvent struct {
	Action string         `json:"action"`
	Record map[string]any `json:"record"`
}

func (c *sseClient) nextRecord(t *testing.T, topic string) recordEvent {
	t.Helper()
	e := c.next(t)
	if e[0] != topic {
		t.Fatalf("event %q (%s), want topic %q", e[0], e[1], topic)
	}
	var ev recordEvent
	if err := json.Unmarshal([]byte(e[1]), &ev); err != nil {
		t.Fatalf("event data %s: %v", e[1], err)
	}
	return ev
}

// none fails if an event arrives within a short wait.
func (c *sseClient) none(t *testing.T) {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if ok {
			t.Fatalf("unexpected event %q: %s", e[0], e[1])
		}
	case <-time.After(300 * time.Millisecond):
	}
}

func subscribe(t *testing.T, s *testkit.Server, token, clientID string, topics ...string) {
	t.Helper()
	s.Do("POST", "/api/realtime", token, map[string]any{"clientId": clientID, "subscriptions": topics}, 204, nil)
}

// Subscriptions to a collection and to one record receive creates,
// updates and deletes, each only what the subscriber's rules let it see.
func TestRealtimeRecords(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		aID, bID := a.Record["id"].(string), b.Record["id"].(string)

		ca, caID := connectRealtime(t, s)
		subscribe(t, s, a.Token, caID, "notes/*")
		cb, cbID := connectRealtime(t, s)
		subscribe(t, s, b.Token, cbID, "notes/*")
		guest, guestID := connectRealtime(t, s)
		subscribe(t, s, "", guestID, "notes/*")

		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "a's secret", "owner": aID}, 200, &note)
		id := note["id"].(string)
		ev := ca.nextRecord(t, "notes/*")
		if ev.Action != "create" || ev.Record["id"] != id || ev.Record["text"] != "a's secret" || ev.Record["collectionName"] != "notes" {
			t.Errorf("A's create event: %+v", ev)
		}
		// B and guests may not see A's notes.
		cb.none(t)
		guest.none(t)

		// One record's topic, with expand through the subscriber's rules.
		one, oneID := connectRealtime(t, s)
		topic := "notes/" + id + "?options=" + url.QueryEscape(`{"query":{"expand":"owner","fields":"id,text,expand.owner.name"}}`)
		subscribe(t, s, a.Token, oneID, topic)
		s.Do("PATCH", "/api/collections/notes/records/"+id, a.Token, map[string]any{"text": "changed"}, 200, nil)
		if ev := ca.nextRecord(t, "notes/*"); ev.Action != "update" || ev.Record["text"] != "changed" {
			t.Errorf("A's update event: %+v", ev)
		}
		ev = one.nextRecord(t, topic)
		owner, _ := ev.Record["expand"].(map[string]any)["owner"].(map[string]any)
		if ev.Action != "update" || ev.Record["text"] != "changed" || owner["name"] != "a@example.com" || ev.Record["owner"] != nil {
			t.Errorf("record topic with options: %+v", ev)
		}

		// B's own note reaches B, not A.
		s.Do("POST", "/api/collections/notes/records", b.Token, map[string]any{"text": "b's", "owner": bID}, 200, nil)
		if ev := cb.nextRecord(t, "notes/*"); ev.Action != "create" || ev.Record["text"] != "b's" {
			t.Errorf("B's create event: %+v", ev)
		}
		ca.none(t)

		s.Do("DELETE", "/api/collections/notes/records/"+id, a.Token, nil, 204, nil)
		if ev := ca.nextRecord(t, "notes/*"); ev.Action != "delete" || ev.Record["id"] != id {
			t.Errorf("A's delete event: %+v", ev)
		}
		if ev := one.nextRecord(t, topic); ev.Action != "delete" {
			t.Errorf("record topic delete: %+v", ev)
		}
		cb.none(t)
		guest.none(t)

		// Unsubscribing (an empty list) stops the events.
		subscribe(t, s, a.Token, caID)
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "later", "owner": aID}, 200, nil)
		ca.none(t)
	})
}

// Hidden fields and emails follow the same visibility as the REST API; a
// client's own filter narrows what it receives; a deleted account's
// clients stop receiving what needed that account.
func TestRealtimeVisibility(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		aID := a.Record["id"].(string)

		self, selfID := connectRealtime(t, s)
		subscribe(t, s, a.Token, selfID, "users/"+aID)
		// The hidden field is set (by a superuser: only they may) before the
		// owner's change, whose event must not show it.
		s.Super("PATCH", "/api/collections/users/records/"+aID, map[string]any{"secret": "s3"}, 200, nil)
		_ = self.nextRecord(t, "users/"+aID)
		s.Do("PATCH", "/api/collections/users/records/"+aID, a.Token, map[string]any{"name": "A"}, 200, nil)
		ev := self.nextRecord(t, "users/"+aID)
		if ev.Record["name"] != "A" || ev.Record["email"] != "a@example.com" {
			t.Errorf("own record: %+v", ev.Record)
		}
		for _, k := range []string{"secret", "password", "tokenKey"} {
			if _, ok := ev.Record[k]; ok {
				t.Errorf("own record shows %s: %+v", k, ev.Record)
			}
		}

		// A client filter in the options.
		filtered, fID := connectRealtime(t, s)
		topic := "notes/*?options=" + url.QueryEscape(`{"query":{"filter":"text ~ 'keep'"}}`)
		subscribe(t, s, a.Token, fID, topic)
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "drop me", "owner": aID}, 200, nil)
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "keep me", "owner": aID}, 200, nil)
		if ev := filtered.nextRecord(t, topic); ev.Record["text"] != "keep me" {
			t.Errorf("filtered: %+v", ev.Record)
		}
		filtered.none(t)

		// B subscribed as B; B's account is deleted: B's client is a guest
		// from then on and no longer receives B's notes.
		bc, bcID := connectRealtime(t, s)
		subscribe(t, s, b.Token, bcID, "notes/*")
		bID := b.Record["id"].(string)
		var bn map[string]any
		s.Do("POST", "/api/collections/notes/records", b.Token, map[string]any{"text": "b1", "owner": bID}, 200, &bn)
		bc.nextRecord(t, "notes/*")
		s.Super("DELETE", "/api/collections/notes/records/"+bn["id"].(string), nil, 204, nil)
		bc.nextRecord(t, "notes/*") // its delete
		s.Super("DELETE", "/api/collections/users/records/"+bID, nil, 204, nil)
		s.Super("POST", "/api/collections/notes/records", map[string]any{"text": "orphan", "owner": aID}, 200, nil)
		bc.none(t)
	})
}

// Bad subscriptions are refused with a 400 naming the problem, and a
// client authorized as one user cannot be taken over as another.
func TestRealtimeBadSubscriptions(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	usersSchema(t, s, "")
	a := signUp(t, s, "a@example.com", "a-password-123")
	b := signUp(t, s, "b@example.com", "b-password-123")
	_, id := connectRealtime(t, s)
	long := make([]byte, 3000)
	for i := range long {
		long[i] = 'x'
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = "notes/*"
	}
	for _, topics := range [][]string{
		{"notes"}, {"/x"}, {"notes/"}, {"notes/a/b"}, {"@nope"}, {string(long) + "/*"},
		{"notes/*?options=" + url.QueryEscape("{bad json")}, many,
	} {
		r := s.Request("POST", "/api/realtime", a.Token, map[string]any{"clientId": id, "subscriptions": topics})
		if r.Status != 400 {
			t.Errorf("topics %.60q: status %d %s", topics, r.Status, r.Body)
		}
	}
	subscribe(t, s, a.Token, id, "notes/*")
	s.Do("POST", "/api/realtime", b.Token, map[string]any{"clientId": id, "subscriptions": []string{"notes/*"}}, 403, nil)
	s.Do("POST", "/api/realtime", "", map[string]any{"clientId": "nope", "subscriptions": []string{"notes/*"}}, 404, nil)
}

// Over HTTP/2 (and TLS) the stream cannot be handed to the hub's writers:
// a goroutine of its own serves it, with the same events.
func TestRealtimeOverHTTP2(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "type": "base", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}},
	}, 200, nil)
	h2 := httptest.NewUnstartedServer(s.App.API)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	c, id := connectRealtimeVia(t, h2.Client(), h2.URL)
	subscribe(t, s, "", id, "notes/*")
	var rec map[string]any
	s.Super("POST", "/api/collections/notes/records", map[string]any{"title": "over h2"}, 200, &rec)
	if ev := c.nextRecord(t, "notes/*"); ev.Action != "create" || ev.Record["title"] != "over h2" {
		t.Fatalf("event %+v", ev)
	}
	if c.proto != 2 {
		t.Errorf("the stream was HTTP/%d, want 2", c.proto)
	}
}

// A subscription reads its caller, then parses its topics (up to a
// thousand) before its client is known to the dispatcher: a demotion
// committed in between was applied to the clients the dispatcher knew,
// not this one, which kept the admin's access for as long as it stayed
// connected. The caller is read again once the client is known. This
// races demotions against subscriptions; on the code before, some
// demoted subscribers got the admin-only record.
func TestRealtimeSubscriptionRacingADemotion(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	token, path := staffAndDocs(t, s)
	// A thousand topics widen the window between reading the caller and
	// registering the client.
	topics := []string{"docs/*"}
	for i := range 999 {
		topics = append(topics, fmt.Sprintf("docs/%015d?options=%s", i, url.QueryEscape(`{"query":{"filter":"title != '`+strings.Repeat("x", 1500)+`'"}}`)))
	}
	leaked := 0
	for trial := range 30 {
		s.Super("PATCH", path, map[string]any{"role": "admin"}, 200, nil)
		client, id := connectRealtime(t, s)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Request("POST", "/api/realtime", token, map[string]any{"clientId": id, "subscriptions": topics})
		}()
		time.Sleep(time.Duration(trial%15) * 3 * time.Millisecond)
		s.Super("PATCH", path, map[string]any{"role": "user"}, 200, nil)
		<-done
		create(t, s, "docs", map[string]any{"title": "ADMIN-ONLY"})
		select {
		case e := <-client.events:
			if strings.Contains(e[1], "ADMIN-ONLY") {
				leaked++
			}
		case <-time.After(150 * time.Millisecond):
		}
		client.cancel()
	}
	if leaked > 0 {
		t.Errorf("%d of 30 subscribers demoted while subscribing got an admin-only record", leaked)
	}
}
