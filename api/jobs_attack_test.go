package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
)

// hookServer boots a server whose jobs run, with an encryption key, that
// may deliver to the test receiver it returns.
func hookServer(t *testing.T, engine string) (*testkit.Server, string, chan received) {
	t.Helper()
	recv, got := receiver(t)
	u, _ := url.Parse(recv.URL)
	s := testkit.NewServer(t, engine).Restart(func(c *config.Config) {
		c.OutboundAllowHosts = []string{u.Host}
		c.EncryptionKey = "attack-test-key-0123456789abcdef"
	})
	if err := s.App.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Super("POST", "/api/collections", map[string]any{"name": "orders", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "total", "type": "number"}, {"name": "note", "type": "text", "hidden": true}},
	}, 200, nil)
	return s, recv.URL, got
}

// A webhook's secret is shown once; deliveries are signed with it. No
// caller of the job or cron routes may have the server sign a body of
// their own with it: a "webhook" job enqueued by hand would be a
// delivery the receiver trusts, of an event that never happened.
func TestAttackJobsCannotForgeWebhookDeliveries(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s, recvURL, got := hookServer(t, engine)
			var hook map[string]any
			s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "events": []string{"create"}, "url": recvURL + "/hook"}, 200, &hook)
			id, _ := hook["id"].(string)
			var jobsKey keyAnswer
			s.Super("POST", "/api/keys", map[string]any{"name": "worker", "scopes": []string{"jobs"}}, 200, &jobsKey)

			forged := map[string]any{"webhook": id, "id": "msg_forged", "body": map[string]any{
				"collection": "orders", "event": "create", "id": "msg_forged",
				"record": map[string]any{"id": "forged", "title": "refund me", "total": 1e6}}}
			refusesKind(t, s, "webhook", forged, map[string]string{"jobs key": "Bearer " + jobsKey.Key, "superuser": s.Token})
			// Nor may an inbound source hand its events to that kind.
			s.Super("POST", "/api/hooks", map[string]any{"name": "forge", "secret": "x", "kind": "webhook"}, 400, nil)
			noDelivery(t, got)

			// Real deliveries still go, and the other kinds still enqueue.
			s.Do("POST", "/api/collections/orders/records", "", map[string]any{"title": "real", "total": 5}, 200, nil)
			if d := nextDelivery(t, got); !json.Valid(d.body) {
				t.Errorf("delivery %s", d.body)
			}
			s.Do("POST", "/api/jobs", "Bearer "+jobsKey.Key, map[string]any{"kind": "email", "args": map[string]any{"to": "a@example.com", "text": "x"},
				"runAt": "2040-01-01T00:00:00Z"}, 200, nil)
		})
	}
}

// A key never reaches the system collections, "not even through a
// collection definition whose rule or relation names one": nor through
// a webhook's filter, which is evaluated on every change and so answers
// yes or no about _superusers or _apiKeys through what gets delivered.
// A key that is not a superuser's may not filter on hidden fields either.
func TestAttackWebhookKeyFilterCannotProbe(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s, recvURL, _ := hookServer(t, engine)
			var hooksKey, superKey keyAnswer
			s.Super("POST", "/api/keys", map[string]any{"name": "integrations", "scopes": []string{"webhooks"}}, 200, &hooksKey)
			s.Super("POST", "/api/keys", map[string]any{"name": "root", "superuser": true}, 200, &superKey)
			probes := []string{
				"@collection._superusers.email ?~ 'a'",
				"@collection._apiKeys.id != ''",
				"@collection._superusers.tokenKey ?~ 'a'",
			}
			for who, token := range map[string]string{"webhooks key": "Bearer " + hooksKey.Key, "superuser key": "Bearer " + superKey.Key} {
				for _, f := range probes {
					r := s.Request("POST", "/api/webhooks", token, map[string]any{"collection": "orders", "filter": f, "url": recvURL + "/hook"})
					var e errBody
					json.Unmarshal(r.Body, &e)
					if r.Status != 400 || e.Data["filter"].Code == "" {
						t.Errorf("%s: webhook filtered by %q: %d %s", who, f, r.Status, r.Body)
					}
				}
				// A plain filter is fine, and changing it to a probe is not.
				var hook map[string]any
				s.Do("POST", "/api/webhooks", token, map[string]any{"collection": "orders", "filter": "total > 10", "url": recvURL + "/hook"}, 200, &hook)
				id, _ := hook["id"].(string)
				s.Do("PATCH", "/api/webhooks/"+id, token, map[string]any{"filter": probes[0]}, 400, nil)
				s.Do("PATCH", "/api/webhooks/"+id, token, map[string]any{"filter": "total > 20"}, 200, nil)
			}
			// Hidden fields: the superuser key's and the account's, not a
			// scoped key's.
			s.Do("POST", "/api/webhooks", "Bearer "+hooksKey.Key, map[string]any{"collection": "orders", "filter": "note = 'x'", "url": recvURL + "/hook"}, 400, nil)
			s.Do("POST", "/api/webhooks", "Bearer "+superKey.Key, map[string]any{"collection": "orders", "filter": "note = 'x'", "url": recvURL + "/hook"}, 200, nil)
			// A superuser account may name what it likes.
			s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "filter": probes[0], "url": recvURL + "/hook"}, 200, nil)
		})
	}
}

// The jobs scope runs the queue; it does not read records. A webhook
// delivery's args hold the record it announces, of any collection and
// whatever its rules, and an inbound event's args the sender's event:
// to a key without the webhooks scope the job routes show such jobs
// without their args and output, and refuse to retry, cancel or delete
// them. Nor may it make inbound events.
func TestAttackJobsKeyCannotReadWebhookPayloads(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s, recvURL, got := hookServer(t, engine)
			s.Super("POST", "/api/webhooks", map[string]any{"collection": "orders", "events": []string{"create"}, "url": recvURL + "/hook"}, 200, nil)
			var jobsKey, bothKey keyAnswer
			s.Super("POST", "/api/keys", map[string]any{"name": "worker", "scopes": []string{"jobs"}}, 200, &jobsKey)
			s.Super("POST", "/api/keys", map[string]any{"name": "ops", "scopes": []string{"jobs", "webhooks"}}, 200, &bothKey)
			s.Do("POST", "/api/collections/orders/records", "", map[string]any{"title": "secret plans", "total": 5}, 200, nil)
			nextDelivery(t, got)

			type page struct {
				Items []struct {
					ID     int64           `json:"id"`
					Kind   string          `json:"kind"`
					Args   json.RawMessage `json:"args"`
					Output json.RawMessage `json:"output"`
				} `json:"items"`
			}
			delivery := func(token string) (id int64, args, output string) {
				t.Helper()
				var p page
				s.Do("GET", "/api/jobs?kind=webhook", token, nil, 200, &p)
				if len(p.Items) != 1 {
					t.Fatalf("%d deliveries listed", len(p.Items))
				}
				return p.Items[0].ID, string(p.Items[0].Args), string(p.Items[0].Output)
			}
			for who, token := range map[string]string{"superuser": s.Token, "jobs+webhooks key": "Bearer " + bothKey.Key} {
				if _, args, _ := delivery(token); !strings.Contains(args, "secret plans") {
					t.Errorf("%s: the delivery's args are %s", who, args)
				}
			}
			id, args, output := delivery("Bearer " + jobsKey.Key)
			if args != "null" || output != "null" {
				t.Errorf("jobs key: a delivery listed with args %s, output %s", args, output)
			}
			if r := s.Request("GET", fmt.Sprintf("/api/jobs/%d", id), "Bearer "+jobsKey.Key, nil); r.Status != 200 || strings.Contains(string(r.Body), "secret plans") {
				t.Errorf("jobs key: GET the delivery answered %d %s", r.Status, r.Body)
			}
			// Nor may it change them: retry (a second send), cancel or
			// delete deliveries another scope's owner relies on.
			for _, op := range []string{"POST /api/jobs/%d/retry", "POST /api/jobs/%d/cancel", "DELETE /api/jobs/%d"} {
				method, path, _ := strings.Cut(fmt.Sprintf(op, id), " ")
				if r := s.Request(method, path, "Bearer "+jobsKey.Key, nil); r.Status != 403 {
					t.Errorf("jobs key: %s %s answered %d %s", method, path, r.Status, r.Body)
				}
			}
			if r := s.Request("POST", fmt.Sprintf("/api/jobs/%d/retry", id), "Bearer "+bothKey.Key, nil); r.Status != 200 {
				t.Errorf("jobs+webhooks key: retry answered %d %s", r.Status, r.Body)
			}

			// An inbound event made by hand would pass for a verified one.
			s.Super("POST", "/api/hooks", map[string]any{"name": "stripe", "secret": "whsec_x"}, 200, nil)
			event := map[string]any{"source": "stripe", "eventId": "evt_1", "body": map[string]any{"type": "invoice.paid"}}
			refusesKind(t, s, "hook", event, map[string]string{"jobs key": "Bearer " + jobsKey.Key, "superuser": s.Token})
		})
	}
}

// refusesKind checks that none of the callers of tokens may make a job of
// kind over HTTP, enqueued or as a cron: each answer is a 400 on kind.
func refusesKind(t *testing.T, s *testkit.Server, kind string, args any, tokens map[string]string) {
	t.Helper()
	for who, token := range tokens {
		for path, body := range map[string]map[string]any{
			"/api/jobs":  {"kind": kind, "args": args},
			"/api/crons": {"id": kind + "-" + strconv.Itoa(len(who)), "expression": "@every 1m", "kind": kind, "args": args},
		} {
			r := s.Request("POST", path, token, body)
			var e errBody
			json.Unmarshal(r.Body, &e)
			if r.Status != 400 || e.Data["kind"].Code == "" {
				t.Errorf("%s made a %s job through %s: %d %s", who, kind, path, r.Status, r.Body)
			}
		}
	}
}

// /api/hooks/{name} is public: for a source that is not there it answers
// 404 without reading the body, however large (a body of unknown length
// over the cap would otherwise be read to the cap first).
func TestInboundHookUnknownSourceReadsNothing(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 64<<10)
		for range 80 { // 5 MiB, more than the cap, sent without a length
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	defer pr.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/hooks/nobody", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("an unknown source: %d", resp.StatusCode)
	}
}

// An inbound source may give its events to the app's own kind; a job of
// that kind made by hand would be an event whose signature was never
// checked, so neither /api/jobs nor a cron may make one, and no hand-made
// job may carry the tags that mark webhooks' jobs.
func TestAttackJobsCannotForgeInboundEventsOfACustomKind(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	if err := s.App.Jobs.Register(jobs.Kind{Name: "stripe_event", Handler: func(context.Context, *jobs.Job) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	s.Super("POST", "/api/hooks", map[string]any{"name": "stripe", "scheme": "stripe", "secret": "whsec_x", "kind": "stripe_event"}, 200, nil)
	var jobsKey keyAnswer
	s.Super("POST", "/api/keys", map[string]any{"name": "worker", "scopes": []string{"jobs"}}, 200, &jobsKey)
	forged := map[string]any{"source": "stripe", "eventId": "evt_forged", "body": map[string]any{"type": "checkout.session.completed"}}
	refusesKind(t, s, "stripe_event", forged, map[string]string{"jobs key": "Bearer " + jobsKey.Key, "superuser": s.Token})
	for _, tag := range []string{"hook-stripe", "webhook-abc"} {
		r := s.Request("POST", "/api/jobs", "Bearer "+jobsKey.Key, map[string]any{"kind": "email",
			"args": map[string]any{"to": "a@example.com", "text": "x"}, "tags": []string{tag}, "runAt": "2040-01-01T00:00:00Z"})
		if r.Status != 400 {
			t.Errorf("a hand-made job tagged %s: %d %s", tag, r.Status, r.Body)
		}
	}
}
