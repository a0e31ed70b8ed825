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
			s.Do("POST", "/api/collections/orders/records", "", map[string]any{"title": "big", "total": 50, "note": "hush"}, 200, &big)
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
