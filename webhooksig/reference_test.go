package webhooksig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/nodetest"
)

// refDir holds the reference side: package.json pins the Standard Webhooks
// JavaScript library, the lock file its dependencies, and ref.mjs answers
// this test on stdin and stdout. node_modules is not committed.
const refDir = "testdata/reference"

type refVerify struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	Body      string `json:"body"`

	header http.Header // as Go signed it
	want   error       // from Verify, and the reference's matching error
}

type refSign struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
}

// TestReferenceImplementation checks Tortoise's signatures against the
// Standard Webhooks reference library (npm standardwebhooks) under Node.js:
// what Go signs the reference verifies, what the reference signs Go
// verifies, and the two agree on what to refuse. It needs node and npm on
// PATH and, the first time, the npm registry; it skips without them, except
// under CI.
func TestReferenceImplementation(t *testing.T) {
	t.Parallel()
	const need = "checking against the Standard Webhooks reference library needs Node.js and npm"
	node := nodetest.Tool(t, "node", need)
	npm := nodetest.Tool(t, "npm", need)
	nodetest.Install(t, npm, refDir, "standardwebhooks/package.json")
	// go test caches results by the files the test reads: read the script
	// so that changing it runs the test again.
	if _, err := os.ReadFile(filepath.Join(refDir, "ref.mjs")); err != nil {
		t.Fatal(err)
	}

	// The reference checks timestamps against its own clock.
	now := time.Now()
	secret, other := NewSecret(), NewSecret()
	const body = `{"type":"record.created","data":{"collection":"posts","id":"r1"}}`
	// Multi-byte UTF-8 and characters JSON encoders like to escape. The
	// reference turns the body into a JavaScript string, so bodies that are
	// not UTF-8 cannot be compared.
	const unicode = `{"title":"Zoë 🐢 <b>&amp;</b> ` + "\u2028" + `"}`
	headers := func(ts time.Time, body string, secrets ...string) http.Header {
		t.Helper()
		h := http.Header{}
		if err := SetHeaders(h, "msg_"+strconv.FormatInt(ts.UnixNano(), 36), ts, []byte(body), secrets...); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// refError is what the reference says for each of Go's errors.
	refError := map[error]string{
		nil:                "",
		ErrBadSignature:    "No matching signature found",
		ErrTimestampTooOld: "Message timestamp too old",
		ErrTimestampTooNew: "Message timestamp too new",
	}
	verify := []refVerify{
		{Name: "valid", Secret: secret, Body: body, header: headers(now, body, secret)},
		{Name: "unicode body", Secret: secret, Body: unicode, header: headers(now, unicode, secret)},
		{Name: "empty body", Secret: secret, Body: "", header: headers(now, "", secret)},
		{Name: "rotation, valid second", Secret: secret, Body: body, header: headers(now, body, other, secret)},
		{Name: "secret without prefix", Secret: strings.TrimPrefix(secret, SecretPrefix), Body: body, header: headers(now, body, secret)},
		{Name: "wrong secret", Secret: other, Body: body, header: headers(now, body, secret), want: ErrBadSignature},
		{Name: "tampered body", Secret: secret, Body: body + " ", header: headers(now, body, secret), want: ErrBadSignature},
		{Name: "too old", Secret: secret, Body: body, header: headers(now.Add(-6*time.Minute), body, secret), want: ErrTimestampTooOld},
		{Name: "too new", Secret: secret, Body: body, header: headers(now.Add(6*time.Minute), body, secret), want: ErrTimestampTooNew},
	}
	for i := range verify {
		c := &verify[i]
		c.ID, c.Timestamp, c.Signature = c.header.Get(HeaderID), c.header.Get(HeaderTimestamp), c.header.Get(HeaderSignature)
		if err := Verify(c.Secret, c.header, []byte(c.Body), now, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: Go Verify = %v, want %v", c.Name, err, c.want)
		}
	}

	sign := []refSign{
		{Name: "json", Secret: secret, ID: "msg_1", Timestamp: 1700000000, Body: body},
		{Name: "unicode", Secret: secret, ID: "msg_2", Timestamp: 1700000000, Body: unicode},
		{Name: "empty body", Secret: secret, ID: "msg_3", Timestamp: 1700000000, Body: ""},
		{Name: "published example", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			ID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Timestamp: 1614265330, Body: `{"test": 2432232314}`},
	}

	var out struct {
		Verify []struct {
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"verify"`
		Sign []struct {
			Name      string `json:"name"`
			Signature string `json:"signature"`
		} `json:"sign"`
	}
	runNode(t, node, map[string]any{"verify": verify, "sign": sign}, &out)

	if len(out.Verify) != len(verify) || len(out.Sign) != len(sign) {
		t.Fatalf("reference answered %d verify and %d sign cases, want %d and %d",
			len(out.Verify), len(out.Sign), len(verify), len(sign))
	}
	for i, c := range verify {
		if got, want := out.Verify[i], refError[c.want]; got.OK != (want == "") || got.Error != want {
			t.Errorf("%s: reference ok=%v error %q, want error %q", c.Name, got.OK, got.Error, want)
		}
	}
	for i, c := range sign {
		got := out.Sign[i].Signature
		h := http.Header{}
		h.Set(HeaderID, c.ID)
		h.Set(HeaderTimestamp, strconv.FormatInt(c.Timestamp, 10))
		h.Set(HeaderSignature, got)
		if err := Verify(c.Secret, h, []byte(c.Body), time.Unix(c.Timestamp, 0), 0); err != nil {
			t.Errorf("%s: Go Verify of the reference's %q: %v", c.Name, got, err)
		}
		want, err := Sign(c.Secret, c.ID, time.Unix(c.Timestamp, 0), []byte(c.Body))
		if err != nil || got != want {
			t.Errorf("%s: reference signed %q, Go %q (%v)", c.Name, got, want, err)
		}
	}
}

// runNode runs ref.mjs with in as its JSON input and decodes its output
// into out.
func runNode(t *testing.T, node string, in, out any) {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "ref.mjs")
	cmd.Dir = refDir
	cmd.Stdin = bytes.NewReader(input)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node ref.mjs: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("node ref.mjs output: %v\n%s", err, stdout)
	}
}
