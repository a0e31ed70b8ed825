package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/webhooksig"
)

// received is one request a webhook receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that keeps what it gets.
func receiver(t *testing.T) (*httptest.Server, chan received) {
	t.Helper()
	got := make(chan received, 32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func nextDelivery(t *testing.T, got chan received) received {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery")
	}
	return received{}
}

func noDelivery(t *testing.T, got chan received) {
	t.Helper()
	select {
	case r := <-got:
		t.Fatalf("unexpected delivery: %s", r.body)
	case <-time.After(700 * time.Millisecond):
	}
}

type delivered struct {
	ID         string         `json:"id"`
	Event      string         `json:"event"`
	Collection string         `json:"collection"`
	Record     map[string]any `json:"record"`
	Previous   map[string]any `json:"previous"`
}

// Outgoing webhooks: signed deliveries of the changes a webhook asks for,
// fed by the write's transaction (a rolled-back batch sends nothing),
// without hidden fields; the delivery log and replay; SSRF refused; bad
// input answered with a 400.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			recv, got := receiver(t)
			u, _ := url.Parse(recv.URL)
			s := testkit.NewServer(t, engine).Restart(func(c *config.Config) {
				c.OutboundAllowHosts = []string{u.Host}
				c.EncryptionKey = "webhook-test-key-0123456789abcdef"
			})
			if err := s.App.StartJobs(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.Super("POST", "/api/collections", map[string]any{"name": "orders", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
				"fields": []map[string]any{{"name": "title", "type": "text", "required": true}, {"name": "total", "type": "number"}, {"name": "note", "type": "text", "hidden": true}},
			}, 200, nil)

			var hook map[string]any
			s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "events": []string{"create", "update"},
				"filter": "total > 10", "url": recv.URL + "/hook"}, 200, &hook)
			secret, _ := hook["secret"].(string)
			id, _ := hook["id"].(string)
			if !strings.HasPrefix(secret, "whsec_") || id == "" {
				t.Fatalf("created %v", hook)
			}
			var listed []map[string]any
			s.Super("GET", "/api/webhooks", nil, 200, &listed)
			if len(listed) != 1 || listed[0]["secret"] != nil {
				t.Fatalf("the list shows %v", listed)
			}

			verify := func(r received) delivered {
				t.Helper()
				if err := webhooksig.Verify(secret, r.header, r.body, time.Now(), 0); err != nil {
					t.Fatalf("signature: %v (%s)", err, r.body)
				}
				var d delivered
				if err := json.Unmarshal(r.body, &d); err != nil {
					t.Fatal(err)
				}
				if d.ID != r.header.Get("webhook-id") {
					t.Errorf("body id %q, header %q", d.ID, r.header.Get("webhook-id"))
				}
				return d
			}

			var small, big map[string]any
			s.Do("POST", "/api/collections/orders/records", "", map[string]any{"title": "small", "total": 5}, 200, &small)
			// Only superusers set hidden fields; a delivery never carries one.
			s.Super("POST", "/api/collections/orders/records", map[string]any{"title": "big", "total": 50, "note": "hush"}, 200, &big)
			d := verify(nextDelivery(t, got))
			if d.Event != "create" || d.Collection != "orders" || d.Record["title"] != "big" || d.Record["total"] != 50.0 {
				t.Errorf("delivery %+v", d)
			}
			if _, leaked := d.Record["note"]; leaked {
				t.Error("a hidden field left in a delivery")
			}
			s.Super("PATCH", "/api/collections/orders/records/"+big["id"].(string), map[string]any{"total": 60}, 200, nil)
			d = verify(nextDelivery(t, got))
			if d.Event != "update" || d.Record["total"] != 60.0 || d.Previous["total"] != 50.0 {
				t.Errorf("update delivery %+v", d)
			}
			s.Super("DELETE", "/api/collections/orders/records/"+big["id"].(string), nil, 204, nil)
			// A batch that fails rolls back its deliveries with its writes.
			enableBatch(t, s)
			s.Super("POST", "/api/batch", map[string]any{"requests": []batchReq{
				{Method: "POST", URL: "/api/collections/orders/records", Body: map[string]any{"title": "rolled back", "total": 99}},
				{Method: "POST", URL: "/api/collections/orders/records", Body: map[string]any{"total": 99}}, // title is required
			}}, 400, nil)
			noDelivery(t, got) // small (filtered), the delete (not asked for), the batch

			// The delivery log, and replay with the same message id.
			var page jobs.ListResult
			s.Super("GET", "/api/webhooks/"+id+"/deliveries", nil, 200, &page)
			if len(page.Jobs) != 2 || page.Jobs[0].State != jobs.StateCompleted {
				t.Fatalf("deliveries %+v", page.Jobs)
			}
			var out struct{ Status int }
			if err := json.Unmarshal(page.Jobs[0].Output, &out); err != nil || out.Status != 200 {
				t.Errorf("output %s", page.Jobs[0].Output)
			}
			s.Super("POST", "/api/webhooks/"+id+"/deliveries/"+strconv.FormatInt(page.Jobs[1].ID, 10)+"/replay", nil, 200, nil)
			again := verify(nextDelivery(t, got))
			if again.Event != "create" || again.Record["title"] != "big" {
				t.Errorf("replayed %+v", again)
			}
			s.Super("POST", "/api/webhooks/"+id+"/deliveries/999999/replay", nil, 404, nil)

			// A private address not allowed: the delivery is refused, not sent.
			s.Super("PATCH", "/api/webhooks/"+id, map[string]any{"url": "http://localhost:" + u.Port() + "/hook"}, 200, nil)
			s.Do("POST", "/api/collections/orders/records", "", map[string]any{"title": "blocked", "total": 70}, 200, nil)
			deadline := time.Now().Add(20 * time.Second)
			for {
				s.Super("GET", "/api/webhooks/"+id+"/deliveries?state=cancelled", nil, 200, &page)
				if len(page.Jobs) == 1 {
					if !strings.Contains(page.Jobs[0].Errors[0].Error, "refused") {
						t.Errorf("errors %+v", page.Jobs[0].Errors)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the refused delivery was not cancelled")
				}
				time.Sleep(50 * time.Millisecond)
			}
			noDelivery(t, got)

			// A new secret signs from then on.
			var rotated map[string]any
			s.Super("POST", "/api/webhooks/"+id+"/secret", nil, 200, &rotated)
			if rotated["secret"] == secret || !strings.HasPrefix(rotated["secret"].(string), "whsec_") {
				t.Errorf("rotated %v", rotated)
			}

			for _, bad := range []any{
				map[string]any{"collection": "nope", "url": recv.URL},
				map[string]any{"collection": "_superusers", "url": recv.URL},
				map[string]any{"collection": "orders", "url": "ftp://example.com"},
				map[string]any{"collection": "orders"},
				map[string]any{"collection": "orders", "url": recv.URL, "events": []string{"explode"}},
				map[string]any{"collection": "orders", "url": recv.URL, "events": []string{}},
				map[string]any{"collection": "orders", "url": recv.URL, "filter": "total >"},
				map[string]any{"collection": "orders", "url": recv.URL, "filter": "nosuchfield = 1"},
				[]string{"x"},
			} {
				s.Super("POST", "/api/webhooks", bad, 400, nil)
			}
			usersSchema(t, s, "")
			s.Do("GET", "/api/webhooks", userToken(t, s), nil, 403, nil)
			s.Do("POST", "/api/webhooks", "", map[string]any{"collection": "orders", "url": recv.URL}, 401, nil)
			s.Super("DELETE", "/api/webhooks/"+id, nil, 204, nil)
			s.Super("GET", "/api/webhooks/"+id, nil, 404, nil)
		})
	}
}

// Inbound webhooks: /api/hooks/{name} verifies Stripe's and Standard
// Webhooks' signatures with the source's secret and tolerance, keeps each
// event as a job, and acknowledges a replayed event without keeping it
// again; sources are managed by superusers and never show their secret.
func TestInboundHooks(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := testkit.NewServer(t, engine).Restart(func(c *config.Config) { c.EncryptionKey = "inbound-test-key-0123456789abcdef" })
			const stripeSecret = "whsec_stripe_test_secret"
			standardSecret := webhooksig.NewSecret()
			s.Super("POST", "/api/hooks", map[string]any{"name": "stripe", "scheme": "stripe", "secret": stripeSecret}, 200, nil)
			s.Super("POST", "/api/hooks", map[string]any{"name": "partner", "secret": standardSecret, "toleranceSeconds": 60}, 200, nil)
			var sources []map[string]any
			s.Super("GET", "/api/hooks", nil, 200, &sources)
			if len(sources) != 2 || sources[0]["secret"] != nil || sources[1]["kind"] != "hook" {
				t.Fatalf("sources %v", sources)
			}

			post := func(name string, header http.Header, body string) testkit.Response {
				t.Helper()
				req, _ := http.NewRequest("POST", s.URL+"/api/hooks/"+name, strings.NewReader(body))
				for k, v := range header {
					req.Header[k] = v
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return testkit.Response{Status: resp.StatusCode, Body: b}
			}
			stripeHeader := func(body string, at time.Time) http.Header {
				sig, err := webhooksig.SignStripe(stripeSecret, at, []byte(body))
				if err != nil {
					t.Fatal(err)
				}
				return http.Header{"Stripe-Signature": {sig}}
			}
			event := `{"id":"evt_1","type":"charge.succeeded","data":{"amount":100}}`
			var got struct {
				EventID   string `json:"eventId"`
				Duplicate bool   `json:"duplicate"`
			}
			r := post("stripe", stripeHeader(event, time.Now()), event)
			if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || got.EventID != "evt_1" || got.Duplicate {
				t.Fatalf("first: %d %s", r.Status, r.Body)
			}
			r = post("stripe", stripeHeader(event, time.Now()), event) // replayed (signed anew)
			if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || !got.Duplicate {
				t.Fatalf("replay: %d %s", r.Status, r.Body)
			}
			for name, h := range map[string]http.Header{
				"tampered":  stripeHeader(event, time.Now()),
				"too old":   stripeHeader(`{"id":"evt_2"}`, time.Now().Add(-10*time.Minute)),
				"no header": {},
				"other key": {"Stripe-Signature": {"t=" + strconv.FormatInt(time.Now().Unix(), 10) + ",v1=00ff"}},
			} {
				body := `{"id":"evt_2"}`
				if name == "tampered" {
					body = strings.Replace(event, "100", "1000000", 1)
				}
				if r := post("stripe", h, body); r.Status != 401 {
					t.Errorf("%s: %d %s", name, r.Status, r.Body)
				}
			}
			if r := post("nope", stripeHeader(event, time.Now()), event); r.Status != 404 {
				t.Errorf("unknown source: %d", r.Status)
			}

			// Standard Webhooks, as our outgoing webhooks sign.
			body := `{"type":"user.created","user":"u1"}`
			h := http.Header{}
			if err := webhooksig.SetHeaders(h, "msg_abc", time.Now(), []byte(body), standardSecret); err != nil {
				t.Fatal(err)
			}
			if r := post("partner", h, body); r.Status != 200 {
				t.Fatalf("standard: %d %s", r.Status, r.Body)
			}
			if r := post("partner", h, body); r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || !got.Duplicate {
				t.Errorf("standard replay: %d %s", r.Status, r.Body)
			}
			old := http.Header{}
			_ = webhooksig.SetHeaders(old, "msg_old", time.Now().Add(-2*time.Minute), []byte(body), standardSecret)
			if r := post("partner", old, body); r.Status != 401 {
				t.Errorf("outside the 60 s tolerance: %d %s", r.Status, r.Body)
			}

			// The events are kept as jobs, once each.
			var page jobs.ListResult
			s.Super("GET", "/api/jobs?tag=hook-stripe", nil, 200, &page)
			if len(page.Jobs) != 1 || !strings.Contains(string(page.Jobs[0].Args), "charge.succeeded") {
				t.Errorf("stripe events kept: %+v", page.Jobs)
			}

			for _, bad := range []map[string]any{
				{"name": "stripe", "secret": "x"},
				{"name": "Bad Name", "secret": "x"},
				{"name": "n1"},
				{"name": "n2", "secret": "x", "scheme": "github"},
				{"name": "n3", "secret": "x", "kind": "nope"},
				{"name": "n4", "secret": "x", "toleranceSeconds": 0},
			} {
				s.Super("POST", "/api/hooks", bad, 400, nil)
			}
			var changed map[string]any
			s.Super("PATCH", "/api/hooks/partner", map[string]any{"toleranceSeconds": 600}, 200, &changed)
			if changed["toleranceSeconds"] != 600.0 || changed["secret"] != nil {
				t.Errorf("changed %v", changed)
			}
			if r := post("partner", old, `{"type":"user.created","user":"u1"}`); r.Status != 200 {
				t.Errorf("within the new tolerance: %d %s", r.Status, r.Body)
			}
			usersSchema(t, s, "")
			s.Do("GET", "/api/hooks", userToken(t, s), nil, 403, nil)
			s.Super("DELETE", "/api/hooks/partner", nil, 204, nil)
			if r := post("partner", h, body); r.Status != 404 {
				t.Errorf("deleted source: %d", r.Status)
			}
		})
	}
}

// A webhook follows its collection through a rename (it kept the name it
// was created with, so a renamed collection's changes were no longer
// sent), shows the current name, and does not fire for another collection
// later given the old name.
func TestWebhookFollowsARenamedCollection(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		recv, got := receiver(t)
		u, _ := url.Parse(recv.URL)
		s = s.Restart(func(c *config.Config) {
			c.OutboundAllowHosts = []string{u.Host}
			c.EncryptionKey = "webhook-test-key-0123456789abcdef"
		})
		if err := s.App.StartJobs(context.Background()); err != nil {
			t.Fatal(err)
		}
		var orders struct{ ID string }
		s.Super("POST", "/api/collections", map[string]any{"name": "orders", "createRule": "",
			"fields": []map[string]any{{"name": "total", "type": "number"}}}, 200, &orders)
		var hook struct{ ID string }
		s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "events": []string{"create"},
			"filter": "total > 10", "url": recv.URL + "/hook"}, 200, &hook)
		s.Super("PATCH", "/api/collections/orders", map[string]any{"name": "purchases"}, 200, nil)

		s.Do("POST", "/api/collections/purchases/records", "", map[string]any{"total": 42}, 200, nil)
		var d delivered
		if err := json.Unmarshal(nextDelivery(t, got).body, &d); err != nil || d.Collection != "purchases" || d.Record["total"] != 42.0 {
			t.Fatalf("after the rename: %+v (%v)", d, err)
		}
		var shown struct{ Collection string }
		s.Super("GET", "/api/webhooks/"+hook.ID, nil, 200, &shown)
		if shown.Collection != "purchases" {
			t.Errorf("the webhook shows collection %q", shown.Collection)
		}
		// Its filter can still be changed (checked against the collection).
		s.Super("PATCH", "/api/webhooks/"+hook.ID, map[string]any{"filter": "nope > 1"}, 400, nil)
		s.Super("PATCH", "/api/webhooks/"+hook.ID, map[string]any{"filter": "total > 100"}, 200, nil)

		// A field its filter names is renamed: the webhook says its
		// filter no longer works.
		s.Super("PATCH", "/api/collections/purchases", map[string]any{"fields": []map[string]any{
			{"id": fieldID(t, s, "purchases", "total"), "name": "amount", "type": "number"}}}, 200, nil)
		var broken struct{ FilterError string }
		s.Super("GET", "/api/webhooks/"+hook.ID, nil, 200, &broken)
		if !strings.Contains(broken.FilterError, "total") {
			t.Errorf("after the field rename, filterError %q", broken.FilterError)
		}

		// A new collection under the old name is not the webhook's.
		s.Super("POST", "/api/collections", map[string]any{"name": "orders", "createRule": "",
			"fields": []map[string]any{{"name": "total", "type": "number"}}}, 200, nil)
		s.Do("POST", "/api/collections/orders/records", "", map[string]any{"total": 500}, 200, nil)
		noDelivery(t, got)
	})
}

// fieldID returns the id of the field name of collection coll.
func fieldID(t *testing.T, s *testkit.Server, coll, name string) string {
	t.Helper()
	var c struct {
		Fields []struct{ ID, Name string }
	}
	s.Super("GET", "/api/collections/"+coll, nil, 200, &c)
	for _, f := range c.Fields {
		if f.Name == name {
			return f.ID
		}
	}
	t.Fatalf("%s has no field %s", coll, name)
	return ""
}

// A webhook saved before webhooks kept their collection's id gets it at
// start, while its name still names the collection, and then follows a
// rename like any other.
func TestWebhookSavedByNameGetsItsCollectionID(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		recv, got := receiver(t)
		u, _ := url.Parse(recv.URL)
		restart := func() {
			s = s.Restart(func(c *config.Config) {
				c.OutboundAllowHosts = []string{u.Host}
				c.EncryptionKey = "webhook-test-key-0123456789abcdef"
			})
			if err := s.App.StartJobs(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		restart()
		s.Super("POST", "/api/collections", map[string]any{"name": "orders", "createRule": "",
			"fields": []map[string]any{{"name": "total", "type": "number"}}}, 200, nil)
		s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "events": []string{"create"}, "url": recv.URL + "/hook"}, 200, nil)
		// As an older Tortoise saved it: by name only.
		ctx := context.Background()
		st := s.App.Service.Store()
		if err := st.Update(ctx, func(tx store.Tx) error {
			return store.UpdateParamJSON(ctx, tx, "webhooks", func(list *[]map[string]any) error {
				for _, w := range *list {
					delete(w, "collectionId")
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		restart()
		s.Super("PATCH", "/api/collections/orders", map[string]any{"name": "purchases"}, 200, nil)
		s.Do("POST", "/api/collections/purchases/records", "", map[string]any{"total": 7}, 200, nil)
		var d delivered
		if err := json.Unmarshal(nextDelivery(t, got).body, &d); err != nil || d.Collection != "purchases" {
			t.Fatalf("after the rename: %+v (%v)", d, err)
		}
	})
}
