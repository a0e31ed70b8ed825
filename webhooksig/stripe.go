package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StripeHeader is the header Stripe signs its webhooks in.
const StripeHeader = "Stripe-Signature"

// stripeMAC is Stripe's v1 signature: HMAC-SHA256 keyed with the secret
// string itself over timestamp.body.
func stripeMAC(secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// SignStripe returns a Stripe-Signature value, "t=<unix>,v1=<hex>", for body
// sent at ts, as Stripe would sign it with secret. Tortoise does not send
// Stripe-style webhooks; this is for tests of code that receives them. The
// error is ErrInvalidSecret for an empty secret.
func SignStripe(secret string, ts time.Time, body []byte) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(stripeMAC(secret, t, body)), nil
}

// VerifyStripe checks a Stripe webhook: header is the Stripe-Signature value
// and body the request body exactly as received. secret is the endpoint's
// signing secret ("whsec_..."), used as the key as it is written. The
// timestamp must be within tolerance of now (DefaultTolerance if tolerance is
// not positive); Stripe's own libraries check only that it is not too old,
// this also refuses one too far ahead.
//
// Errors: ErrInvalidSecret (empty), ErrMissingHeader, ErrMalformed (no t, a
// repeated t, an entry that is not key=value), ErrNoSignature (no v1 entry;
// v0 entries are ignored), ErrBadSignature, ErrTimestampTooOld,
// ErrTimestampTooNew.
func VerifyStripe(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	if strings.TrimSpace(header) == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, StripeHeader)
	}
	timestamp, ts, sigs, err := parseStripe(header)
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w in %s", ErrNoSignature, StripeHeader)
	}
	if !anyEqual(stripeMAC(secret, timestamp, body), sigs, hex.DecodeString) {
		return ErrBadSignature
	}
	return checkTimestamp(ts, now, tolerance)
}

// parseStripe splits a Stripe-Signature value into its timestamp, as
// written and as a number, and its still-encoded v1 signatures. Entries are
// comma-separated key=value pairs; keys other than t and v1 are skipped, so
// that new schemes Stripe may add do not break verification, and so are
// empty entries and spaces around entries.
func parseStripe(header string) (timestamp string, ts int64, v1 []string, err error) {
	seenT := false
	for entry := range strings.SplitSeq(header, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		k, v, ok := strings.Cut(entry, "=")
		if !ok {
			return "", 0, nil, fmt.Errorf("%w: %s entry without '='", ErrMalformed, StripeHeader)
		}
		switch k {
		case "t":
			if seenT {
				return "", 0, nil, fmt.Errorf("%w: %s has t twice", ErrMalformed, StripeHeader)
			}
			seenT = true
			if ts, ok = parseUnix(v); !ok {
				return "", 0, nil, fmt.Errorf("%w: %s t is not unix seconds", ErrMalformed, StripeHeader)
			}
			timestamp = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	if !seenT {
		return "", 0, nil, fmt.Errorf("%w: %s has no t", ErrMalformed, StripeHeader)
	}
	return timestamp, ts, v1, nil
}
