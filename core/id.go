package core

import (
	"crypto/rand"
	"regexp"
)

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// IDLength is the length of generated record and collection ids.
const IDLength = 15

// NewID returns a random 15-character lowercase alphanumeric id, the
// PocketBase shape, from a cryptographic source.
func NewID() string { return RandomString(IDLength, idAlphabet) }

// RandomString returns n characters drawn uniformly from alphabet.
func RandomString(n int, alphabet string) string {
	buf := make([]byte, n)
	out := make([]byte, n)
	// Rejection sampling keeps the distribution uniform for any alphabet size.
	limit := 256 - 256%len(alphabet)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out[i] = alphabet[int(b)%len(alphabet)]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+$`)

// ValidID reports whether s is an acceptable client-supplied record id:
// 15 lowercase alphanumeric characters.
func ValidID(s string) bool { return len(s) == IDLength && idPattern.MatchString(s) }

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidName reports whether s can name a collection or field: a letter or
// underscore, then letters, digits or underscores, at most 100 characters.
func ValidName(s string) bool { return len(s) <= 100 && namePattern.MatchString(s) }
