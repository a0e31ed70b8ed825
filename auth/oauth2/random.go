package oauth2

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// randomString returns n bytes from crypto/rand, base64url-encoded without
// padding, so the result is safe in URLs and form values as is.
func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms; it
	// crashes the program instead of handing back predictable bytes.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewPKCE returns a fresh RFC 7636 code verifier and its S256 challenge.
// The verifier is 43 characters of base64url (32 random bytes), the
// shortest length the RFC allows and the same shape PocketBase uses.
func NewPKCE() (verifier, challenge string) {
	verifier = randomString(32)
	return verifier, S256Challenge(verifier)
}

// S256Challenge derives the S256 code challenge of a PKCE verifier:
// base64url(sha256(verifier)) without padding.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState returns an unguessable OAuth2 state value (base64url, 43 chars).
func NewState() string { return randomString(32) }

// NewNonce returns an unguessable OpenID Connect nonce (base64url, 43 chars).
func NewNonce() string { return randomString(32) }

// NonceForVerifier derives a nonce from a PKCE code verifier, for servers
// that keep no per-login state: PocketBase's flow hands the verifier to the
// client in auth-methods and gets it back with the code, so the server can
// recompute the nonce it put in the authorization URL instead of storing it.
// The hash is domain-separated from the S256 challenge, and the verifier
// cannot be recovered from the nonce that travels in the browser's URL.
// The nonce starts with a marker no base64url random nonce has, so a
// server nonce is told apart from a native app's own (see VerifierNonce).
func NonceForVerifier(verifier string) string {
	sum := sha256.Sum256([]byte("tortoise-oidc-nonce\x00" + verifier))
	return serverNoncePrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// serverNoncePrefix marks the nonces NonceForVerifier makes. The '.' keeps
// it out of base64url, the alphabet random nonces (AppAuth's among them)
// are drawn from.
const serverNoncePrefix = "tn1."

// isServerNonce reports whether nonce is of the form NonceForVerifier makes.
func isServerNonce(nonce string) bool { return strings.HasPrefix(nonce, serverNoncePrefix) }
