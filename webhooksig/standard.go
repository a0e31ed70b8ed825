package webhooksig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers. http.Header canonicalizes them
// ("Webhook-Id"); the spec writes them in lower case.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts a Standard Webhooks secret; base64 of the key follows.
const SecretPrefix = "whsec_"

// secretSize is the key length NewSecret draws: the spec asks for 24 to 64
// bytes, and 32 is SHA-256's output size.
const secretSize = 32

// NewSecret returns a new random Standard Webhooks secret, "whsec_" and the
// base64 of 32 bytes from crypto/rand.
func NewSecret() string {
	key := make([]byte, secretSize)
	rand.Read(key) // never fails: crypto/rand crashes the program instead
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// decodeSecret returns the HMAC key of a Standard Webhooks secret: the
// base64 after the "whsec_" prefix, or the whole string when it has no
// prefix, as the reference libraries accept it.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: want %q followed by base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// mac is the v1 signature: HMAC-SHA256 over id.timestamp.body.
func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature value, "v1,<base64>", for a message
// with id sent at ts (cut to whole seconds) with body. The error is
// ErrInvalidSecret, or an empty id.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", errors.New("webhooksig: empty message id")
	}
	sum := mac(key, id, strconv.FormatInt(ts.Unix(), 10), body)
	return "v1," + base64.StdEncoding.EncodeToString(sum), nil
}

// SetHeaders sets the three Standard Webhooks headers on h for a message
// with id sent at ts with body, signed with each of secrets (at least one).
// While a receiver's secret is being rotated, pass the old and the new one:
// the receiver accepts the message with either.
func SetHeaders(h http.Header, id string, ts time.Time, body []byte, secrets ...string) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := Sign(secret, id, ts, body)
		if err != nil {
			return err
		}
		sigs[i] = sig
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return nil
}

// Verify checks that the message made of the Standard Webhooks headers in h
// and body was signed with secret, and that its timestamp is within
// tolerance of now (DefaultTolerance if tolerance is not positive). body must
// be the request body exactly as received. A webhook-signature header
// repeated on several lines is read as one list.
//
// Errors: ErrInvalidSecret, ErrMissingHeader, ErrMalformed (the timestamp is
// not unix seconds), ErrNoSignature, ErrBadSignature, ErrTimestampTooOld,
// ErrTimestampTooNew.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	return verify(key, h.Get(HeaderID), h.Get(HeaderTimestamp),
		strings.Join(h.Values(HeaderSignature), " "), body, now, tolerance)
}

func verify(key []byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	for _, hv := range [...]struct{ name, value string }{
		{HeaderID, id}, {HeaderTimestamp, timestamp}, {HeaderSignature, signature},
	} {
		if strings.TrimSpace(hv.value) == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, hv.name)
		}
	}
	ts, ok := parseUnix(timestamp)
	if !ok {
		return fmt.Errorf("%w: %s is not unix seconds", ErrMalformed, HeaderTimestamp)
	}
	sigs := parseSignatures(signature)
	if len(sigs) == 0 {
		return fmt.Errorf("%w in %s", ErrNoSignature, HeaderSignature)
	}
	// The signature is checked before the timestamp so that the timestamp
	// errors speak of authentic messages only (delayed or replayed ones).
	want := mac(key, id, timestamp, body)
	if !anyEqual(want, sigs, base64.StdEncoding.DecodeString) {
		return ErrBadSignature
	}
	return checkTimestamp(ts, now, tolerance)
}

// parseSignatures returns the still-encoded signatures of the v1 entries of
// a webhook-signature value: space-separated "version,signature" entries.
// Entries of other versions (v1a is the spec's asymmetric one) and entries
// without a comma are skipped, as the reference libraries do.
func parseSignatures(v string) []string {
	var sigs []string
	for _, entry := range strings.Fields(v) {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// anyEqual reports whether one of the encoded signatures decodes to want,
// comparing in constant time. One that does not decode matches nothing.
// Every candidate is compared: which one matched is not secret, but there is
// no reason to make the time depend on it.
func anyEqual(want []byte, sigs []string, decode func(string) ([]byte, error)) bool {
	match := false
	for _, s := range sigs {
		got, err := decode(s)
		if err == nil && hmac.Equal(got, want) {
			match = true
		}
	}
	return match
}
