package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// testKey is the key of testSecret; its base64 is spelled out so that the
// tests do not derive the secret with the code they check.
const (
	testKey    = "tortoise-webhooksig-test-key-32b"
	testSecret = "whsec_dG9ydG9pc2Utd2ViaG9va3NpZy10ZXN0LWtleS0zMmI="
	testID     = "msg_tortoise_0001"
	testBody   = `{"type":"record.created","data":{"name":"Zoë"}}`
)

var testTime = time.Unix(1700000000, 0)

// TestSignVectors checks Sign against signatures computed without it.
func TestSignVectors(t *testing.T) {
	t.Parallel()
	// The value a plain HMAC of the signed content gives, computed here.
	h := hmac.New(sha256.New, []byte(testKey))
	h.Write([]byte(testID + ".1700000000." + testBody))
	direct := "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))

	tests := []struct {
		name   string
		secret string
		id     string
		ts     time.Time
		body   string
		want   string
	}{
		{name: "direct hmac", secret: testSecret, id: testID, ts: testTime, body: testBody, want: direct},
		// From the shell, independently of Go:
		//   printf '%s' 'msg_tortoise_0001.1700000000.{"type":"record.created","data":{"name":"Zoë"}}' |
		//     openssl dgst -sha256 -hmac tortoise-webhooksig-test-key-32b -binary | base64
		{name: "openssl", secret: testSecret, id: testID, ts: testTime, body: testBody,
			want: "v1,uyLEQt4H8yOlxI4Ays90qEOt9tlYQAeqojyTyiC10Bw="},
		// The example the Standard Webhooks and Svix documentation use.
		{name: "published example", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			id: "msg_p5jXN8AQM9LWM0D4loKWxJek", ts: time.Unix(1614265330, 0), body: `{"test": 2432232314}`,
			want: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{name: "fraction of a second is cut", secret: testSecret, id: testID,
			ts: testTime.Add(999 * time.Millisecond), body: testBody, want: direct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Sign(tt.secret, tt.id, tt.ts, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Sign = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret, id string
		want             error // nil: any error
	}{
		{name: "secret not base64", secret: "whsec_not base64!", id: testID, want: ErrInvalidSecret},
		{name: "empty key", secret: "whsec_", id: testID, want: ErrInvalidSecret},
		{name: "empty secret", secret: "", id: testID, want: ErrInvalidSecret},
		{name: "empty id", secret: testSecret, id: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Sign(tt.secret, tt.id, testTime, nil)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Sign: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// signed returns the headers of the test message, signed with secrets.
func signed(t *testing.T, secrets ...string) http.Header {
	t.Helper()
	h := http.Header{}
	if err := SetHeaders(h, testID, testTime, []byte(testBody), secrets...); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestVerify(t *testing.T) {
	t.Parallel()
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-key-of-the-same-size-32b"))
	good, err := Sign(testSecret, testID, testTime, []byte(testBody))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Sign(other, testID, testTime, []byte(testBody))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		secret    string              // the verifier's; testSecret if empty
		header    func(h http.Header) // changes to the signed headers
		body      string              // testBody if empty
		now       time.Duration       // since testTime
		tolerance time.Duration
		want      error
	}{
		{name: "valid"},
		{name: "secret without prefix", secret: strings.TrimPrefix(testSecret, SecretPrefix)},
		{name: "wrong secret", secret: other, want: ErrBadSignature},
		{name: "tampered body", body: `{"type":"record.deleted","data":{"name":"Zoë"}}`, want: ErrBadSignature},
		{name: "body with trailing newline", body: testBody + "\n", want: ErrBadSignature},
		{name: "tampered id", header: func(h http.Header) { h.Set(HeaderID, "msg_other") }, want: ErrBadSignature},
		{name: "tampered timestamp", header: func(h http.Header) { h.Set(HeaderTimestamp, "1700000001") }, want: ErrBadSignature},

		{name: "old within tolerance", now: 5 * time.Minute},
		{name: "old within tolerance, fractional now", now: 5*time.Minute + 999*time.Millisecond},
		{name: "too old", now: 5*time.Minute + time.Second, want: ErrTimestampTooOld},
		{name: "new within tolerance", now: -5 * time.Minute},
		{name: "too new", now: -5*time.Minute - time.Second, want: ErrTimestampTooNew},
		{name: "custom tolerance too old", now: 2 * time.Minute, tolerance: time.Minute, want: ErrTimestampTooOld},
		{name: "custom tolerance too new", now: -2 * time.Minute, tolerance: time.Minute, want: ErrTimestampTooNew},
		{name: "custom tolerance wider", now: 10 * time.Minute, tolerance: time.Hour},
		{name: "negative tolerance means default", now: 4 * time.Minute, tolerance: -time.Second},
		{name: "far future", header: func(h http.Header) { h.Set(HeaderTimestamp, "9223372036854775807") }, want: ErrBadSignature},

		{name: "missing id", header: func(h http.Header) { h.Del(HeaderID) }, want: ErrMissingHeader},
		{name: "missing timestamp", header: func(h http.Header) { h.Del(HeaderTimestamp) }, want: ErrMissingHeader},
		{name: "missing signature", header: func(h http.Header) { h.Del(HeaderSignature) }, want: ErrMissingHeader},
		{name: "blank signature", header: func(h http.Header) { h.Set(HeaderSignature, "  ") }, want: ErrMissingHeader},
		{name: "no headers", header: func(h http.Header) { clear(h) }, want: ErrMissingHeader},

		{name: "timestamp not a number", header: func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, want: ErrMalformed},
		{name: "timestamp in milliseconds form", header: func(h http.Header) { h.Set(HeaderTimestamp, "1700000000.000") }, want: ErrMalformed},
		{name: "timestamp with sign", header: func(h http.Header) { h.Set(HeaderTimestamp, "+1700000000") }, want: ErrMalformed},
		{name: "timestamp with leading zero", header: func(h http.Header) { h.Set(HeaderTimestamp, "01700000000") }, want: ErrMalformed},
		{name: "timestamp negative", header: func(h http.Header) { h.Set(HeaderTimestamp, "-1") }, want: ErrMalformed},
		{name: "timestamp overflows", header: func(h http.Header) { h.Set(HeaderTimestamp, "99999999999999999999") }, want: ErrMalformed},

		{name: "only other versions", header: func(h http.Header) { h.Set(HeaderSignature, "v1a,"+good[3:]+" v2,"+good[3:]) }, want: ErrNoSignature},
		{name: "entry without comma", header: func(h http.Header) { h.Set(HeaderSignature, good[3:]) }, want: ErrNoSignature},
		{name: "version case matters", header: func(h http.Header) { h.Set(HeaderSignature, "V1,"+good[3:]) }, want: ErrNoSignature},
		{name: "v1 not base64", header: func(h http.Header) { h.Set(HeaderSignature, "v1,@@@") }, want: ErrBadSignature},
		{name: "v1 empty", header: func(h http.Header) { h.Set(HeaderSignature, "v1,") }, want: ErrBadSignature},
		{name: "v1 truncated", header: func(h http.Header) { h.Set(HeaderSignature, good[:len(good)-4]) }, want: ErrBadSignature},

		{name: "second of two valid", header: func(h http.Header) { h.Set(HeaderSignature, bad+" "+good) }},
		{name: "first of two valid", header: func(h http.Header) { h.Set(HeaderSignature, good+" "+bad) }},
		{name: "valid among junk", header: func(h http.Header) { h.Set(HeaderSignature, " v1a,xyz  junk v1,@@@\t"+good+" ") }},
		{name: "none of several valid", header: func(h http.Header) { h.Set(HeaderSignature, bad+" "+bad) }, want: ErrBadSignature},
		{name: "signatures on two header lines", header: func(h http.Header) {
			h.Set(HeaderSignature, bad)
			h.Add(HeaderSignature, good)
		}},

		{name: "verifier secret not base64", secret: "whsec_***", want: ErrInvalidSecret},
		{name: "verifier secret empty", secret: "whsec_", want: ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := signed(t, testSecret)
			if tt.header != nil {
				tt.header(h)
			}
			secret, body := tt.secret, tt.body
			if secret == "" {
				secret = testSecret
			}
			if body == "" {
				body = testBody
			}
			err := Verify(secret, h, []byte(body), testTime.Add(tt.now), tt.tolerance)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	next := NewSecret()
	h := signed(t, testSecret, next)
	if got := h.Get(HeaderID); got != testID {
		t.Errorf("%s = %q, want %q", HeaderID, got, testID)
	}
	if got := h.Get(HeaderTimestamp); got != "1700000000" {
		t.Errorf("%s = %q, want 1700000000", HeaderTimestamp, got)
	}
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Errorf("%s has %d signatures, want 2", HeaderSignature, n)
	}
	// Either secret verifies during the rotation.
	for _, secret := range []string{testSecret, next} {
		if err := Verify(secret, h, []byte(testBody), testTime, 0); err != nil {
			t.Errorf("Verify with one of the two secrets: %v", err)
		}
	}
	if err := SetHeaders(http.Header{}, testID, testTime, nil); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("SetHeaders without a secret = %v, want ErrInvalidSecret", err)
	}
	if err := SetHeaders(http.Header{}, testID, testTime, nil, testSecret, "whsec_!"); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("SetHeaders with a bad second secret = %v, want ErrInvalidSecret", err)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two NewSecret calls gave the same secret")
	}
	for _, s := range []string{a, b} {
		if !strings.HasPrefix(s, SecretPrefix) {
			t.Fatalf("NewSecret = %q, want the %q prefix", s, SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if err != nil || len(key) < 24 || len(key) > 64 {
			t.Fatalf("NewSecret = %q: %d key bytes, err %v; want 24 to 64", s, len(key), err)
		}
	}
	h := http.Header{}
	if err := SetHeaders(h, testID, testTime, []byte(testBody), a); err != nil {
		t.Fatal(err)
	}
	if err := Verify(a, h, []byte(testBody), testTime, 0); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if err := Verify(b, h, []byte(testBody), testTime, 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other secret: %v, want ErrBadSignature", err)
	}
}

// FuzzParseSignatures checks that parseSignatures never panics and returns
// exactly the signatures of the header's v1 entries.
func FuzzParseSignatures(f *testing.F) {
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("v1,abc v1a,def  v1,")
	f.Add("v1 , ,v1 v1,,, \t")
	f.Fuzz(func(t *testing.T, v string) {
		sigs := parseSignatures(v)
		var want []string
		for _, entry := range strings.Fields(v) {
			if s, ok := strings.CutPrefix(entry, "v1,"); ok {
				want = append(want, s)
			}
		}
		if !slices.Equal(sigs, want) {
			t.Fatalf("parseSignatures(%q) = %q, want %q", v, sigs, want)
		}
	})
}

// FuzzVerify checks that no header values make Verify panic or accept a
// message it did not sign, and that every failure is one of the documented
// kinds.
func FuzzVerify(f *testing.F) {
	f.Add(testID, "1700000000", "v1,uyLEQt4H8yOlxI4Ays90qEOt9tlYQAeqojyTyiC10Bw=", []byte(testBody))
	f.Add("", "abc", "v1a,xyz", []byte(nil))
	f.Add("a.b", "0", "v1,", []byte("."))
	key := []byte(testKey)
	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte) {
		err := verify(key, id, timestamp, signature, body, testTime, 0)
		if err == nil {
			// Only the real signature of this exact content verifies.
			want := mac(key, id, timestamp, body)
			found := false
			for _, s := range parseSignatures(signature) {
				got, derr := base64.StdEncoding.DecodeString(s)
				found = found || derr == nil && string(got) == string(want)
			}
			if !found {
				t.Fatalf("verify accepted id %q timestamp %q signature %q", id, timestamp, signature)
			}
			return
		}
		for _, kind := range []error{ErrMissingHeader, ErrMalformed, ErrNoSignature, ErrBadSignature, ErrTimestampTooOld, ErrTimestampTooNew} {
			if errors.Is(err, kind) {
				return
			}
		}
		t.Fatalf("verify: undocumented error %v", err)
	})
}
