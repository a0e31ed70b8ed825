package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

type batchReq struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    map[string]any    `json:"body,omitempty"`
}

type batchRes struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

type batchFail struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Data    struct {
		Requests map[string]struct {
			Code     string `json:"code"`
			Response struct {
				Status  int                       `json:"status"`
				Message string                    `json:"message"`
				Data    map[string]map[string]any `json:"data"`
			} `json:"response"`
		} `json:"requests"`
	} `json:"data"`
}

// enableBatch turns batches on: they are off by default, as in PocketBase.
func enableBatch(t *testing.T, s *testkit.Server) {
	t.Helper()
	s.Super("PATCH", "/api/settings", map[string]any{"batch": map[string]any{"enabled": true, "maxRequests": 50, "timeout": 3}}, 200, nil)
}

func countRecords(t *testing.T, s *testkit.Server, coll string) int {
	t.Helper()
	var l list
	s.Super("GET", "/api/collections/"+coll+"/records", nil, 200, &l)
	return l.TotalItems
}

// A batch creates, updates, upserts and deletes in one transaction; each
// item answers as it would alone.
func TestBatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		blogSchema(t, s)
		a := create(t, s, "authors", map[string]any{"name": "Ann"})
		old := create(t, s, "posts", map[string]any{"title": "old", "slug": "old", "author": a["id"]})
		var res []batchRes
		s.Super("POST", "/api/batch", map[string]any{"requests": []batchReq{
			{Method: "POST", URL: "/api/collections/posts/records?expand=author", Body: map[string]any{"id": "batchpost000001", "title": "one", "slug": "one", "author": a["id"]}},
			{Method: "PATCH", URL: "/api/collections/posts/records/batchpost000001?fields=id,title", Body: map[string]any{"title": "one, changed"}},
			{Method: "PUT", URL: "/api/collections/posts/records", Body: map[string]any{"id": old["id"], "title": "upserted"}},
			{Method: "PUT", URL: "/api/collections/posts/records", Body: map[string]any{"id": "batchpost000002", "title": "fresh", "slug": "fresh"}},
			{Method: "DELETE", URL: "/api/collections/posts/records/" + old["id"].(string)},
		}}, 200, &res)
		if len(res) != 5 {
			t.Fatalf("results %+v", res)
		}
		if res[0].Status != 200 || res[0].Body["title"] != "one" || res[0].Body["expand"].(map[string]any)["author"].(map[string]any)["name"] != "Ann" {
			t.Errorf("create: %+v", res[0])
		}
		if res[1].Status != 200 || res[1].Body["title"] != "one, changed" || len(res[1].Body) != 2 {
			t.Errorf("update: %+v", res[1])
		}
		if res[2].Body["title"] != "upserted" || res[3].Body["id"] != "batchpost000002" || res[4].Status != 204 || res[4].Body != nil {
			t.Errorf("upserts and delete: %+v", res[2:])
		}
		s.Super("GET", "/api/collections/posts/records/"+old["id"].(string), nil, 404, nil)
		if n := countRecords(t, s, "posts"); n != 2 {
			t.Errorf("%d posts after the batch, want 2", n)
		}
	})
}

// A batch whose third item fails leaves nothing behind, and says which
// item failed and why, in PocketBase's shape.
func TestBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		blogSchema(t, s)
		a := create(t, s, "authors", map[string]any{"name": "Ann"})
		keep := create(t, s, "posts", map[string]any{"title": "keep", "slug": "keep", "author": a["id"]})
		before := countRecords(t, s, "posts")
		r := s.Request("POST", "/api/batch", s.Token, map[string]any{"requests": []batchReq{
			{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"title": "first", "slug": "first"}},
			{Method: "DELETE", URL: "/api/collections/posts/records/" + keep["id"].(string)},
			{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"title": ""}}, // title is required
			{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"title": "never", "slug": "never"}},
		}})
		if r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		var f batchFail
		if err := json.Unmarshal(r.Body, &f); err != nil {
			t.Fatal(err)
		}
		item, ok := f.Data.Requests["2"]
		if f.Message != "Batch transaction failed." || !ok || item.Code != "batch_request_failed" || item.Response.Status != 400 || item.Response.Data["title"]["code"] != "validation_required" {
			t.Errorf("failure body: %s", r.Body)
		}
		if n := countRecords(t, s, "posts"); n != before {
			t.Errorf("%d posts after a failed batch, want %d", n, before)
		}
		s.Super("GET", "/api/collections/posts/records/"+keep["id"].(string), nil, 200, nil)
	})
}

// Each item meets the rules it would meet alone: a guest's batch cannot
// write where a guest cannot, and a superuser's token in one item's
// headers is that item's caller only.
func TestBatchRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		aID := a.Record["id"].(string)
		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "a's", "owner": aID}, 200, &note)
		nid := note["id"].(string)
		for name, items := range map[string][]batchReq{
			"update another's note":      {{Method: "PATCH", URL: "/api/collections/notes/records/" + nid, Body: map[string]any{"text": "mine now"}}},
			"delete another's note":      {{Method: "DELETE", URL: "/api/collections/notes/records/" + nid}},
			"create in another's name":   {{Method: "POST", URL: "/api/collections/notes/records", Body: map[string]any{"text": "forged", "owner": aID}}},
			"upsert over another's note": {{Method: "PUT", URL: "/api/collections/notes/records", Body: map[string]any{"id": nid, "text": "x"}}},
			"make oneself a superuser":   {{Method: "POST", URL: "/api/collections/_superusers/records", Body: map[string]any{"email": "evil@example.com", "password": "pw-123456789", "passwordConfirm": "pw-123456789"}}},
			"delete a user":              {{Method: "DELETE", URL: "/api/collections/users/records/" + aID}},
		} {
			r := s.Request("POST", "/api/batch", b.Token, map[string]any{"requests": items})
			if r.Status != 400 {
				t.Errorf("%s: status %d %s", name, r.Status, r.Body)
			}
		}
		var got map[string]any
		s.Do("GET", "/api/collections/notes/records/"+nid, a.Token, nil, 200, &got)
		if got["text"] != "a's" {
			t.Errorf("note changed: %v", got)
		}
		s.Super("GET", "/api/collections/_superusers/records?filter="+q(`email="evil@example.com"`), nil, 200, &got)
		if got["totalItems"].(float64) != 0 {
			t.Error("a user made a superuser through a batch")
		}
		// A's own token in the item's headers makes that item A's.
		s.Do("POST", "/api/batch", b.Token, map[string]any{"requests": []batchReq{
			{Method: "PATCH", URL: "/api/collections/notes/records/" + nid, Headers: map[string]string{"Authorization": a.Token}, Body: map[string]any{"text": "by a"}},
		}}, 200, nil)
	})
}

// Bad batches get a clear 4xx and change nothing.
func TestBatchBadInput(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	// Off by default, as in PocketBase.
	s.Super("POST", "/api/batch", map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/collections/posts/records"}}}, 403, nil)
	enableBatch(t, s)
	blogSchema(t, s)
	tok := s.Token
	many := make([]batchReq, 10000)
	for i := range many {
		many[i] = batchReq{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"title": "x"}}
	}
	for name, body := range map[string]any{
		"10,000 items":        map[string]any{"requests": many},
		"no items":            map[string]any{"requests": []batchReq{}},
		"not json":            "{",
		"requests not a list": map[string]any{"requests": "x"},
		"a route not records": map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/collections", Body: map[string]any{"name": "x"}}}},
		"a read":              map[string]any{"requests": []batchReq{{Method: "GET", URL: "/api/collections/posts/records"}}},
		"unknown collection":  map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/collections/nope/records"}}},
		"bad url":             map[string]any{"requests": []batchReq{{Method: "POST", URL: "%zz"}}},
		"bad fields":          map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/collections/posts/records?fields=" + strings.Repeat("a.", 100)}}},
		"nested batch":        map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/batch"}}},
	} {
		r := s.Request("POST", "/api/batch", tok, body)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s: status %d %.200s", name, r.Status, r.Body)
		}
	}
	if n := countRecords(t, s, "posts"); n != 0 {
		t.Errorf("%d posts after bad batches", n)
	}

	// A number beyond a float64's range fails its item, named as the item
	// alone would name it.
	r := s.Request("POST", "/api/batch", tok, json.RawMessage(`{"requests":[
		{"method":"POST","url":"/api/collections/posts/records","body":{"title":"ok"}},
		{"method":"POST","url":"/api/collections/posts/records","body":{"title":"x","meta":{"n":[1e400]}}}]}`))
	var f batchFail
	if err := json.Unmarshal(r.Body, &f); err != nil {
		t.Fatal(err)
	}
	if item := f.Data.Requests["1"]; r.Status != 400 || item.Response.Data["meta"]["code"] != "validation_invalid_value" {
		t.Errorf("a number out of range: %d %s", r.Status, r.Body)
	}
	if n := countRecords(t, s, "posts"); n != 0 {
		t.Errorf("%d posts after bad batches", n)
	}

	// The SDK's multipart form with @jsonPayload works.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	payload, _ := json.Marshal(map[string]any{"requests": []batchReq{{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"title": "multipart"}}}})
	mw.WriteField("@jsonPayload", string(payload))
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/batch", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || countRecords(t, s, "posts") != 1 {
		t.Errorf("multipart batch: %d", resp.StatusCode)
	}
}

// A multipart batch carries files as "requests.N.FIELD" (or
// "requests[N].FIELD"), as the SDK sends them; all stored or none.
func TestBatchFiles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		cid := filesSchema(t, s)
		payload, _ := json.Marshal(map[string]any{"requests": []batchReq{
			{Method: "POST", URL: "/api/collections/albums/records", Body: map[string]any{"title": "one"}},
			{Method: "POST", URL: "/api/collections/albums/records", Body: map[string]any{"title": "two"}},
		}})
		send := func(parts ...part) (int, []byte) {
			body, ct := multipartBody(t, append([]part{{key: "@jsonPayload", data: payload}}, parts...)...)
			req, _ := http.NewRequest("POST", s.URL+"/api/batch", body)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", s.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		status, b := send(part{key: "requests.0.docs", name: "a.txt", data: []byte("aaa")},
			part{key: "requests[1].cover", name: "c.png", data: pngOf(t, 4, 4)})
		var res []batchRes
		if status != 200 || json.Unmarshal(b, &res) != nil || len(res[0].Body["docs"].([]any)) != 1 || res[1].Body["cover"] == "" {
			t.Fatalf("batch with files: %d %s", status, b)
		}
		resp, got := get(t, s.URL+"/api/files/albums/"+res[0].Body["id"].(string)+"/"+res[0].Body["docs"].([]any)[0].(string), nil)
		if resp.StatusCode != 200 || string(got) != "aaa" {
			t.Errorf("file from a batch: %d %q", resp.StatusCode, got)
		}
		before := blobCount(t, s, cid)
		// The second item's file is refused: nothing of the batch stays.
		for name, parts := range map[string][]part{
			"bad type":   {{key: "requests.0.docs", name: "b.txt", data: []byte("b")}, {key: "requests.1.cover", name: "c.png", data: []byte("not a png")}},
			"no request": {{key: "requests.7.docs", name: "b.txt", data: []byte("b")}},
			"bad key":    {{key: "docs", name: "b.txt", data: []byte("b")}},
		} {
			if status, b := send(parts...); status != 400 {
				t.Errorf("%s: %d %s", name, status, b)
			}
		}
		if n := countRecords(t, s, "albums"); n != 2 || blobCount(t, s, cid) != before {
			t.Errorf("after refused batches: %d records, %d files (want 2, %d)", n, blobCount(t, s, cid), before)
		}
	})
}

// A batch's items meet the rate limit rules they would meet sent alone
// ("memos:create", a method and path), sharing the allowance of single
// requests; an upsert counts as a create. Before, only the batch's own
// rule applied: fifty creates for one.
func TestBatchItemsMeetRateLimitRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		for _, name := range []string{"memos", "todos"} {
			s.Super("POST", "/api/collections", map[string]any{"name": name, "createRule": "", "updateRule": "",
				"fields": []map[string]any{{"name": "text", "type": "text"}}}, 200, nil)
		}
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true, "rules": []any{
			map[string]any{"label": "memos:create", "maxRequests": 3, "duration": 3600},
			map[string]any{"label": "POST /api/collections/todos/records", "maxRequests": 2, "duration": 3600},
			map[string]any{"label": "POST /api/batch", "maxRequests": 100, "duration": 3600}}}}, 200, nil)
		items := func(method, coll string, n int) []batchReq {
			var out []batchReq
			for i := range n {
				out = append(out, batchReq{Method: method, URL: "/api/collections/" + coll + "/records",
					Body: map[string]any{"id": fmt.Sprintf("%s%013d", strings.ToLower(method[:2]), i), "text": "x"}})
			}
			return out
		}

		// A superuser's batch is not limited.
		s.Super("POST", "/api/batch", map[string]any{"requests": items("POST", "memos", 5)}, 200, nil)
		// A guest's: the fourth create is refused, and nothing is written.
		if r := s.Request("POST", "/api/batch", "", map[string]any{"requests": items("PUT", "memos", 5)}); r.Status != 400 ||
			!strings.Contains(string(r.Body), `"3"`) || !strings.Contains(string(r.Body), "Too many requests") {
			t.Errorf("five upserts against memos:create 3: %d %s", r.Status, r.Body)
		}
		if n := countRecords(t, s, "memos"); n != 5 {
			t.Errorf("memos: %d records, want the superuser's 5", n)
		}
		// The three items before it spent the allowance of single creates.
		s.Do("POST", "/api/collections/memos/records", "", map[string]any{"text": "alone"}, 429, nil)
		// A method and path rule counts items too.
		if r := s.Request("POST", "/api/batch", "", map[string]any{"requests": items("POST", "todos", 3)}); r.Status != 400 {
			t.Errorf("three creates against a path rule of 2: %d %s", r.Status, r.Body)
		}
		if n := countRecords(t, s, "todos"); n != 0 {
			t.Errorf("todos: %d records after a refused batch", n)
		}
		// Every way of writing the same path meets the same rules: an
		// escaped slash in an item (routed decoded by the batch, matched
		// by no route of the server's router), the collection's id, and
		// another case of its name.
		var todos map[string]any
		s.Super("GET", "/api/collections/todos", nil, 200, &todos)
		for _, url := range []string{"/api/collections/memos%2Frecords", "/api/collections/MEMOS/records"} {
			r := s.Request("POST", "/api/batch", "", map[string]any{"requests": []batchReq{{Method: "POST", URL: url, Body: map[string]any{"text": "x"}}}})
			if r.Status != 400 || !strings.Contains(string(r.Body), "Too many requests") {
				t.Errorf("an item at %s once memos:create is spent: %d %s", url, r.Status, r.Body)
			}
		}
		for _, path := range []string{"/api/collections/" + todos["id"].(string) + "/records", "/api/collections/Todos/records"} {
			for range 2 {
				s.Request("POST", path, "", map[string]any{"text": "x"})
			}
			if r := s.Request("POST", path, "", map[string]any{"text": "x"}); r.Status != 429 {
				t.Errorf("the path rule of todos at %s: %d after its allowance", path, r.Status)
			}
		}
	})
}
