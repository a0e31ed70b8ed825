// Package tokens signs and verifies the tokens of auth records: HS256
// JWTs keyed by the record's tokenKey and its collection's secret, so that
// rotating either signs every earlier token out.
package tokens

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tortoise-dev/tortoise/core"
)

// Token types, carried in the "type" claim.
const (
	TypeAuth          = "auth"
	TypeVerification  = "verification"  // proves an email address, sent by mail
	TypePasswordReset = "passwordReset" // lets a password be reset, sent by mail
	TypeEmailChange   = "emailChange"   // confirms a new email address, sent to it
	TypeFile          = "file"          // lets its holder download protected files for a few minutes
)

// Claims is the payload of a Tortoise token. The PocketBase SDKs decode it
// client-side (without verifying) to learn who is logged in and until when.
type Claims struct {
	ID           string `json:"id"`
	CollectionID string `json:"collectionId"`
	Type         string `json:"type"`
	Refreshable  bool   `json:"refreshable"`
	// Email is the address a mailed token was issued for; the flows refuse
	// it once the record's email has changed.
	Email string `json:"email,omitempty"`
	// NewEmail is the address an emailChange token changes to.
	NewEmail string `json:"newEmail,omitempty"`
	jwt.RegisteredClaims
}

// SigningKey is the secret a record's tokens are signed with: the record's
// own tokenKey joined with its collection's token secret. Changing either
// (a password change resets tokenKey) invalidates every token issued before.
func SigningKey(tokenKey, collectionSecret string) []byte {
	return []byte(tokenKey + collectionSecret)
}

// Sign issues a token for the record id of collection collectionID.
func Sign(key []byte, id, collectionID, typ string, refreshable bool, ttl time.Duration) (string, error) {
	claims := Claims{
		ID: id, CollectionID: collectionID, Type: typ, Refreshable: refreshable,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}

// SignMailToken issues a token of type typ carrying email (and newEmail,
// for an emailChange token) for the record id of collection collectionID.
// Such tokens are not refreshable.
func SignMailToken(key []byte, id, collectionID, typ, email, newEmail string, ttl time.Duration) (string, error) {
	claims := Claims{
		ID: id, CollectionID: collectionID, Type: typ, Email: email, NewEmail: newEmail,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}

// Peek reads a token's claims without checking its signature, so the caller
// can find the record whose key verifies it. Never trust its result alone.
func Peek(token string) (*Claims, error) {
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return nil, core.Unauthorized("The request requires valid authorization token.")
	}
	if c.ID == "" || c.CollectionID == "" || c.Type == "" {
		return nil, core.Unauthorized("The request requires valid authorization token.")
	}
	return &c, nil
}

// Verify checks a token's HS256 signature against key and its expiry. The
// algorithm is fixed here: the token's own "alg" header is never trusted.
func Verify(token string, key []byte, wantType string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired())
	if err != nil || c.Type != wantType {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, core.Unauthorized("The authorization token has expired.")
		}
		return nil, core.Unauthorized("The request requires valid authorization token.")
	}
	return &c, nil
}
