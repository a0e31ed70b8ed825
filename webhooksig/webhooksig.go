package webhooksig

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// DefaultTolerance is how far a webhook's timestamp may be from now, in
// either direction, when Verify or VerifyStripe is given a tolerance that is
// not positive. Both Standard Webhooks and Stripe use 5 minutes.
const DefaultTolerance = 5 * time.Minute

// Errors of verification, wrapped with a short detail. A caller usually
// answers all of them with a 4xx and logs the kind.
var (
	// ErrInvalidSecret: the secret is empty or, for Standard Webhooks, not
	// base64 after the optional "whsec_" prefix. A configuration error, not
	// the sender's.
	ErrInvalidSecret = errors.New("webhooksig: invalid secret")
	// ErrMissingHeader: a header the scheme requires is absent or empty.
	ErrMissingHeader = errors.New("webhooksig: missing header")
	// ErrMalformed: a header (or, for EventID, the body) cannot be parsed.
	ErrMalformed = errors.New("webhooksig: malformed webhook")
	// ErrNoSignature: the signature header holds no v1 signature, only
	// entries of other versions.
	ErrNoSignature = errors.New("webhooksig: no v1 signature")
	// ErrBadSignature: no v1 signature matches the message and the secret.
	ErrBadSignature = errors.New("webhooksig: signature does not match")
	// ErrTimestampTooOld: the signature matches but the timestamp is more
	// than the tolerance before now (a delayed or replayed message).
	ErrTimestampTooOld = errors.New("webhooksig: timestamp too old")
	// ErrTimestampTooNew: the signature matches but the timestamp is more
	// than the tolerance after now (a clock far ahead).
	ErrTimestampTooNew = errors.New("webhooksig: timestamp too new")
)

// Scheme names a signature scheme, for EventID.
type Scheme int

const (
	StandardWebhooks Scheme = iota + 1 // webhook-id, webhook-timestamp, webhook-signature
	Stripe                             // Stripe-Signature
)

// EventID returns the id that identifies a message for replay protection:
// the webhook-id header for StandardWebhooks, the "id" field of the JSON
// body ("evt_...") for Stripe, which signs no id header. Call it only after
// the message verified: before that the id is whatever anyone sent. A
// missing id is ErrMissingHeader (Standard Webhooks) or ErrMalformed
// (Stripe).
func EventID(s Scheme, h http.Header, body []byte) (string, error) {
	switch s {
	case StandardWebhooks:
		id := h.Get(HeaderID)
		if id == "" {
			return "", fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
		}
		return id, nil
	case Stripe:
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			return "", fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
		}
		if ev.ID == "" {
			return "", fmt.Errorf("%w: body has no \"id\"", ErrMalformed)
		}
		return ev.ID, nil
	default:
		return "", fmt.Errorf("webhooksig: unknown scheme %d", s)
	}
}

// parseUnix parses a timestamp of whole seconds since the Unix epoch as
// both schemes send it: decimal digits only, without sign or leading zeros.
// Requiring the one spelling FormatInt gives keeps the string that was
// signed and the number that is checked the same thing.
func parseUnix(s string) (int64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// checkTimestamp refuses ts (unix seconds) further than tolerance from now.
// Now is cut to whole seconds first, as both schemes' own libraries do.
func checkTimestamp(ts int64, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Sub saturates rather than overflowing for far-off timestamps.
	age := time.Unix(now.Unix(), 0).Sub(time.Unix(ts, 0))
	switch {
	case age > tolerance:
		return fmt.Errorf("%w: sent %s ago, tolerance %s", ErrTimestampTooOld, age, tolerance)
	case age < -tolerance:
		return fmt.Errorf("%w: sent %s ahead, tolerance %s", ErrTimestampTooNew, -age, tolerance)
	}
	return nil
}
