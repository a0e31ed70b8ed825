// Package webhooksig signs the webhooks Tortoise sends and verifies the ones
// it receives, for two schemes:
//
//   - Standard Webhooks (https://www.standardwebhooks.com/), which Tortoise
//     uses for its own outgoing webhooks: headers webhook-id,
//     webhook-timestamp and webhook-signature, the last holding one or more
//     space-separated "v1,<base64 HMAC-SHA256>" entries over
//     id + "." + timestamp + "." + body. The secret is "whsec_" followed by
//     the base64 of the key bytes (NewSecret makes one); the HMAC key is the
//     decoded bytes. Sign, SetHeaders and Verify.
//   - Stripe's Stripe-Signature header, "t=<unix>,v1=<hex HMAC-SHA256>,...",
//     over timestamp + "." + body. Stripe's "whsec_..." secret is used as the
//     HMAC key exactly as written, prefix included, not decoded: the same
//     string means a different key in the two schemes. VerifyStripe, and
//     SignStripe for tests.
//
// Verification compares in constant time, accepts the message when any one
// of its v1 signatures matches (senders sign with the old and the new secret
// while rotating), ignores other signature versions (Standard Webhooks'
// asymmetric v1a, Stripe's test-mode v0), and refuses timestamps further
// than the tolerance from now in either direction (DefaultTolerance when the
// tolerance given is not positive). Every failure wraps one of the Err values
// below, to be told apart with errors.Is; none of them echoes the secret or
// header values. Answer a failure with a 4xx: the sender cannot be trusted,
// so nothing about the request is.
//
// The body must be verified exactly as received, before any decoding.
// Signatures only show who sent a message and when, not that it is new: to
// refuse replays, record each verified message's EventID and refuse ids
// seen before. A message is accepted while now is within the tolerance of
// its timestamp, so an id must be remembered until its timestamp plus the
// tolerance has passed.
package webhooksig
