package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	stripeSecret = "whsec_tortoiseStripeTestSecret"
	stripeBody   = `{"id":"evt_1","object":"event"}`
)

// TestSignStripeVectors checks SignStripe against signatures computed
// without it, with the whole secret string, prefix included, as the key.
func TestSignStripeVectors(t *testing.T) {
	t.Parallel()
	h := hmac.New(sha256.New, []byte(stripeSecret))
	h.Write([]byte("1700000000." + stripeBody))
	direct := "t=1700000000,v1=" + hex.EncodeToString(h.Sum(nil))
	// From the shell, independently of Go:
	//   printf '%s' '1700000000.{"id":"evt_1","object":"event"}' |
	//     openssl dgst -sha256 -hmac whsec_tortoiseStripeTestSecret
	const fromOpenSSL = "t=1700000000,v1=fc9f248a00d1ddda041b8ed68eb45efaff1828f987fe9b5911bcad4e2de90057"

	got, err := SignStripe(stripeSecret, testTime, []byte(stripeBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != direct || got != fromOpenSSL {
		t.Fatalf("SignStripe = %q, want %q (direct HMAC) and %q (openssl)", got, direct, fromOpenSSL)
	}
	if _, err := SignStripe("", testTime, nil); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("SignStripe with an empty secret: %v, want ErrInvalidSecret", err)
	}
}

func TestVerifyStripe(t *testing.T) {
	t.Parallel()
	header, err := SignStripe(stripeSecret, testTime, []byte(stripeBody))
	if err != nil {
		t.Fatal(err)
	}
	good := strings.TrimPrefix(header, "t=1700000000,")
	other, err := SignStripe("whsec_someOtherSecret", testTime, []byte(stripeBody))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.TrimPrefix(other, "t=1700000000,")
	// v0 is Stripe's test-mode scheme; it is ignored even when it matches.
	v0 := "v0=" + strings.TrimPrefix(good, "v1=")

	tests := []struct {
		name      string
		secret    string // stripeSecret if empty
		header    string // the signed header if empty
		body      string // stripeBody if empty
		now       time.Duration
		tolerance time.Duration
		want      error
	}{
		{name: "valid"},
		{name: "wrong secret", secret: "whsec_someOtherSecret", want: ErrBadSignature},
		// Stripe keys the HMAC with the whole string: without its prefix
		// it is another key.
		{name: "secret without prefix", secret: strings.TrimPrefix(stripeSecret, "whsec_"), want: ErrBadSignature},
		{name: "tampered body", body: `{"id":"evt_2","object":"event"}`, want: ErrBadSignature},
		{name: "tampered timestamp", header: "t=1700000001," + good, want: ErrBadSignature},

		{name: "old within tolerance", now: 5 * time.Minute},
		{name: "too old", now: 5*time.Minute + time.Second, want: ErrTimestampTooOld},
		{name: "new within tolerance", now: -5 * time.Minute},
		{name: "too new", now: -5*time.Minute - time.Second, want: ErrTimestampTooNew},
		{name: "custom tolerance", now: 2 * time.Minute, tolerance: time.Minute, want: ErrTimestampTooOld},

		{name: "missing header", header: " ", want: ErrMissingHeader},
		{name: "no t", header: good, want: ErrMalformed},
		{name: "t twice", header: "t=1700000000,t=1700000000," + good, want: ErrMalformed},
		{name: "t not a number", header: "t=now," + good, want: ErrMalformed},
		{name: "t with sign", header: "t=+1700000000," + good, want: ErrMalformed},
		{name: "t empty", header: "t=," + good, want: ErrMalformed},
		{name: "entry without =", header: "t=1700000000,v1," + good, want: ErrMalformed},
		{name: "only v0", header: "t=1700000000," + v0, want: ErrNoSignature},
		{name: "only t", header: "t=1700000000", want: ErrNoSignature},
		{name: "v1 not hex", header: "t=1700000000,v1=zz", want: ErrBadSignature},
		{name: "v1 empty", header: "t=1700000000,v1=", want: ErrBadSignature},

		{name: "second of two v1 valid", header: "t=1700000000," + bad + "," + good + "," + v0},
		{name: "first of two v1 valid", header: "t=1700000000," + good + "," + bad},
		{name: "none of two v1 valid", header: "t=1700000000," + bad + "," + bad, want: ErrBadSignature},
		{name: "t last, spaces, unknown keys", header: " " + good + ", v9=abc ,, t=1700000000 "},
		{name: "uppercase hex", header: "t=1700000000,v1=" + strings.ToUpper(strings.TrimPrefix(good, "v1="))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secret, h, body := tt.secret, tt.header, tt.body
			if secret == "" {
				secret = stripeSecret
			}
			if h == "" {
				h = header
			}
			if body == "" {
				body = stripeBody
			}
			err := VerifyStripe(secret, h, []byte(body), testTime.Add(tt.now), tt.tolerance)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyStripe = %v, want %v", err, tt.want)
			}
		})
	}
	// An empty secret would let anyone sign: it is refused, not used.
	if err := VerifyStripe("", header, []byte(stripeBody), testTime, 0); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("VerifyStripe with an empty secret = %v, want ErrInvalidSecret", err)
	}
}

// FuzzParseStripe checks that parseStripe never panics, and that what it
// returns is what the header says: written back in Stripe's form it parses
// the same.
func FuzzParseStripe(f *testing.F) {
	f.Add("t=1700000000,v1=fc9f248a00d1ddda041b8ed68eb45efaff1828f987fe9b5911bcad4e2de90057")
	f.Add("t=1,v1=a,v1=b,v0=c")
	f.Add(" v1=x ,, t=0 ")
	f.Fuzz(func(t *testing.T, header string) {
		timestamp, ts, sigs, err := parseStripe(header)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseStripe(%q): undocumented error %v", header, err)
			}
			return
		}
		if n, ok := parseUnix(timestamp); !ok || n != ts {
			t.Fatalf("parseStripe(%q): timestamp %q, ts %d", header, timestamp, ts)
		}
		again := "t=" + timestamp
		for _, s := range sigs {
			if strings.ContainsRune(s, ',') {
				t.Fatalf("parseStripe(%q): signature %q holds a comma", header, s)
			}
			if strings.TrimSpace(s) != s {
				return // spaces around an entry are trimmed: not written back the same
			}
			again += ",v1=" + s
		}
		timestamp2, ts2, sigs2, err := parseStripe(again)
		if err != nil || timestamp2 != timestamp || ts2 != ts || !slices.Equal(sigs2, sigs) {
			t.Fatalf("parseStripe(%q) = %q %d %q, its rewrite %q = %q %d %q %v",
				header, timestamp, ts, sigs, again, timestamp2, ts2, sigs2, err)
		}
	})
}
