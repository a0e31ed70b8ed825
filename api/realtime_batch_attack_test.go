package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A revoked API key stops working at once: a realtime stream subscribed
// with it no longer receives what only the key allowed.
func TestRealtimeRevokedKeyStopsEvents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "secrets", "type": "base",
			"fields": []map[string]any{{"name": "text", "type": "text"}},
		}, 200, nil)
		var key keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "reader", "collections": []string{"secrets"}}, 200, &key)
		c, id := connectRealtime(t, s)
		subscribe(t, s, "Bearer "+key.Key, id, "secrets/*")
		create(t, s, "secrets", map[string]any{"text": "before"})
		if ev := c.nextRecord(t, "secrets/*"); ev.Record["text"] != "before" {
			t.Fatalf("event with the key: %+v", ev)
		}
		// Narrowed to no collection by a superuser: the stream follows.
		r := s.Request("PATCH", "/api/collections/_apiKeys/records/"+key.APIKey.ID, s.Token,
			map[string]any{"scope": map[string]any{"collections": []string{}}})
		if r.Status != 200 {
			t.Fatalf("narrowing the key: %d %s", r.Status, r.Body)
		}
		s.Do("GET", "/api/collections/secrets/records", "Bearer "+key.Key, nil, 403, nil)
		create(t, s, "secrets", map[string]any{"text": "after narrowing"})
		c.none(t)
		// Widened again: the stream follows that too.
		s.Super("PATCH", "/api/collections/_apiKeys/records/"+key.APIKey.ID,
			map[string]any{"scope": map[string]any{"collections": key.APIKey.Collections}}, 200, nil)
		create(t, s, "secrets", map[string]any{"text": "after widening"})
		if ev := c.nextRecord(t, "secrets/*"); ev.Record["text"] != "after widening" {
			t.Fatalf("event with the widened key: %+v", ev)
		}
		s.Super("DELETE", "/api/keys/"+key.APIKey.ID, nil, 204, nil)
		s.Do("GET", "/api/collections/secrets/records", "Bearer "+key.Key, nil, 403, nil)
		create(t, s, "secrets", map[string]any{"text": "after revocation"})
		c.none(t)
	})
}

// An item's own Authorization header is checked as the request alone
// would be: a superuser token from an address outside superuserIPs is
// refused inside a batch too, whoever sent the batch.
func TestBatchItemSuperuserIPs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "locked", "type": "base",
			"fields": []map[string]any{{"name": "text", "type": "text"}},
		}, 200, nil)
		// Superusers only from this machine; requests through the local
		// proxy come from the address it forwards.
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"},
			"superuserIPs": []string{"127.0.0.1", "::1"}}, 200, nil)
		outside := map[string]string{"X-Forwarded-For": "203.0.113.7"}
		direct := s.RequestWithHeaders("POST", "/api/collections/locked/records",
			map[string]string{"X-Forwarded-For": "203.0.113.7", "Authorization": s.Token}, map[string]any{"text": "direct"})
		if direct.Status != 403 {
			t.Fatalf("a superuser from outside: %d %s", direct.Status, direct.Body)
		}
		item := []batchReq{{Method: "POST", URL: "/api/collections/locked/records",
			Headers: map[string]string{"Authorization": s.Token}, Body: map[string]any{"text": "through a batch"}}}
		if r := s.RequestWithHeaders("POST", "/api/batch", outside, map[string]any{"requests": item}); r.Status != 400 && r.Status != 403 {
			t.Errorf("a superuser item from outside: %d %s", r.Status, r.Body)
		}
		if n := countRecords(t, s, "locked"); n != 0 {
			t.Errorf("%d records written by a superuser from outside", n)
		}
	})
}

// With rate limits on, the caller of a batch is identified before it is
// routed; an item's own Authorization header still makes that item its
// caller's, under that caller's rules.
func TestBatchItemCallerWithRateLimits(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "a's", "owner": a.Record["id"]}, 200, &note)
		path := "/api/collections/notes/records/" + note["id"].(string)
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true, "rules": []any{
			map[string]any{"label": "POST /api/batch", "maxRequests": 100, "duration": 60}}}}, 200, nil)

		// A superuser's batch acting for B cannot change A's note.
		r := s.Request("POST", "/api/batch", s.Token, map[string]any{"requests": []batchReq{
			{Method: "PATCH", URL: path, Headers: map[string]string{"Authorization": b.Token}, Body: map[string]any{"text": "changed for b"}}}})
		if r.Status != 400 {
			t.Errorf("an item as B over A's note: %d %s", r.Status, r.Body)
		}
		// B's batch carrying A's token changes it as A.
		s.Do("POST", "/api/batch", b.Token, map[string]any{"requests": []batchReq{
			{Method: "PATCH", URL: path, Headers: map[string]string{"Authorization": a.Token}, Body: map[string]any{"text": "by a"}}}}, 200, nil)
		var got map[string]any
		s.Do("GET", path, a.Token, nil, 200, &got)
		if got["text"] != "by a" {
			t.Errorf("note: %v", got)
		}
	})
}

// Changing an auth collection's token secret signs out every account of
// it at once; realtime clients subscribed with its tokens become guests.
func TestRealtimeAuthSecretRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		aID := a.Record["id"].(string)
		c, id := connectRealtime(t, s)
		subscribe(t, s, a.Token, id, "notes/*")
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "before", "owner": aID}, 200, nil)
		if ev := c.nextRecord(t, "notes/*"); ev.Record["text"] != "before" {
			t.Fatalf("event as A: %+v", ev)
		}
		s.Super("PATCH", "/api/collections/users", map[string]any{"authToken": map[string]any{
			"secret": "a-brand-new-secret-0123456789-0123456789-0123456789", "duration": 604800}}, 200, nil)
		s.Do("GET", "/api/collections/notes/records", a.Token, nil, 200, nil) // a guest now: an empty list
		var l list
		s.Do("GET", "/api/collections/users/records", a.Token, nil, 200, &l)
		if l.TotalItems != 0 {
			t.Fatalf("the old token still works: %+v", l)
		}
		s.Super("POST", "/api/collections/notes/records", map[string]any{"text": "after rotation", "owner": aID}, 200, nil)
		c.none(t)
		// Nor does a change to the account bring the old token back.
		s.Super("PATCH", "/api/collections/users/records/"+aID, map[string]any{"name": "renamed"}, 200, nil)
		s.Super("POST", "/api/collections/notes/records", map[string]any{"text": "after a change", "owner": aID}, 200, nil)
		c.none(t)
	})
}

// System collections never stream to users, guests or API keys, however
// the topic names them; options cannot widen what a subscriber sees:
// expand follows the related collection's view rule, fields cannot reach
// hidden fields or hidden emails.
func TestRealtimeSystemTopicsAndOptions(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		aID, bID := a.Record["id"].(string), b.Record["id"].(string)
		var root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "root", "superuser": true}, 200, &root)
		var su struct{ ID string }
		s.Super("GET", "/api/collections/_superusers", nil, 200, &su)
		var supers list
		s.Super("GET", "/api/collections/_superusers/records", nil, 200, &supers)
		system := []string{"_superusers/*", "_SUPERUSERS/*", "_Superusers/" + supers.Items[0]["id"].(string), su.ID + "/*",
			"_apiKeys/*", "_apikeys/*", "_otps/*", "_mfas/*", "_externalAuths/*", "_authOrigins/*"}
		var clients []*sseClient
		for _, tok := range []string{"", a.Token, "Bearer " + root.Key} {
			c, id := connectRealtime(t, s)
			subscribe(t, s, tok, id, system...)
			clients = append(clients, c)
		}
		// A superuser's account sees them (the events do flow).
		sc, sid := connectRealtime(t, s)
		subscribe(t, s, s.Token, sid, "_SUPERUSERS/*")
		s.Super("POST", "/api/collections/_superusers/records", map[string]any{
			"email": "second@example.com", "password": "second-password-1", "passwordConfirm": "second-password-1"}, 200, nil)
		s.Super("POST", "/api/keys", map[string]any{"name": "other", "superuser": true}, 200, nil)
		s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "b@example.com", "password": "b-password-123"}, 200, nil)
		if ev := sc.nextRecord(t, "_SUPERUSERS/*"); ev.Record["email"] != "second@example.com" {
			t.Errorf("superuser's event: %+v", ev)
		}
		for _, c := range clients {
			c.none(t)
		}

		// A's note about B: B's record is not A's to expand, and A's own
		// hidden field stays hidden whatever fields asks for.
		c, id := connectRealtime(t, s)
		topic := "notes/*?options=" + url.QueryEscape(`{"query":{"expand":"owner,about","fields":"*,expand.about.email,expand.owner.secret,expand.owner.tokenKey,expand.owner.password"}}`)
		subscribe(t, s, a.Token, id, topic)
		s.Super("PATCH", "/api/collections/users/records/"+aID, map[string]any{"secret": "a-hidden"}, 200, nil)
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "about b", "owner": aID, "about": bID}, 200, nil)
		ev := c.nextRecord(t, topic)
		exp, _ := ev.Record["expand"].(map[string]any)
		owner, _ := exp["owner"].(map[string]any)
		if _, ok := exp["about"]; ok || owner == nil || len(owner) != 0 {
			t.Errorf("expand: %+v", ev.Record)
		}
	})
}

// A subscription request is read only as far as the most topics a
// client may hold, at their longest: a larger body is refused as too
// large before it is decoded.
func TestRealtimeSubscribeBodyCap(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	_, id := connectRealtime(t, s)
	topic := "notes/*?options=" + url.QueryEscape(`{"query":{"filter":"`+strings.Repeat("x", 1900)+`"}}`)
	subs := make([]string, 1500)
	for i := range subs {
		subs[i] = topic
	}
	if r := s.Request("POST", "/api/realtime", "", map[string]any{"clientId": id, "subscriptions": subs}); r.Status != 413 {
		t.Errorf("a %d-topic subscription: %d %s", len(subs), r.Status, r.Body)
	}
	// The most a client may hold still goes through to the topic checks.
	if r := s.Request("POST", "/api/realtime", "", map[string]any{"clientId": id, "subscriptions": subs[:1000]}); r.Status != 204 {
		t.Errorf("1000 topics: %d %s", r.Status, r.Body)
	}
}

// An upsert decides between create and update by what the batch's
// earlier items left, as they run before it in the same transaction: a
// record created earlier is updated, one deleted earlier is created again.
func TestBatchUpsertSeesEarlierItems(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		blogSchema(t, s)
		old := create(t, s, "posts", map[string]any{"title": "old", "slug": "old"})["id"].(string)
		var res []batchRes
		s.Super("POST", "/api/batch", map[string]any{"requests": []batchReq{
			{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"id": "batchpost000001", "title": "one", "slug": "one"}},
			{Method: "PUT", URL: "/api/collections/posts/records", Body: map[string]any{"id": "batchpost000001", "title": "one, upserted"}},
			{Method: "DELETE", URL: "/api/collections/posts/records/" + old},
			{Method: "PUT", URL: "/api/collections/posts/records", Body: map[string]any{"id": old, "title": "again", "slug": "again"}},
		}}, 200, &res)
		if len(res) != 4 || res[1].Body["title"] != "one, upserted" || res[1].Body["slug"] != "one" || res[3].Body["title"] != "again" {
			t.Errorf("results %+v", res)
		}
		var got map[string]any
		s.Super("GET", "/api/collections/posts/records/"+old, nil, 200, &got)
		if got["title"] != "again" {
			t.Errorf("the record deleted and upserted again: %+v", got)
		}
	})
}
