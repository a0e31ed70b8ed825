package settings

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/tortoise-dev/tortoise/core"
)

// seal encrypts the secret at key ("smtp.password") with AES-GCM under
// the encryption key. Errors: KindInvalid naming key when there is no
// encryption key, KindInternal.
func (s *Service) seal(plain, key string) (string, error) {
	if len(s.encKey) == 0 {
		return "", core.FieldInvalid(key, "validation_no_encryption_key",
			"Secrets cannot be stored without an encryption key: set TORTOISE_ENCRYPTION_KEY.")
	}
	block, err := aes.NewCipher(s.encKey)
	if err != nil {
		return "", core.Internal(err, "cipher")
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", core.Internal(err, "gcm")
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", core.Internal(err, "nonce")
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// open decrypts the sealed secret at key. Errors: KindUnavailable when it
// cannot be decrypted with the encryption key (it was saved under another
// key), logged with what to do, so that only the part needing the secret
// fails, with the reason.
func (s *Service) open(enc, key string) (string, error) {
	plain, err := s.decrypt(enc)
	if err != nil {
		what, fails := secretNames[key][0], secretNames[key][1]
		s.log.Error(what+" in the settings cannot be decrypted: the encryption key (TORTOISE_ENCRYPTION_KEY, or .encryption_key in the data folder) is not the one it was saved with; restore that key, or enter it again in the settings",
			"setting", key, "err", err)
		return "", core.Wrap(core.KindUnavailable, err,
			"%s: %s in the settings cannot be decrypted with the current encryption key (see the server log).", fails, what)
	}
	return plain, nil
}

// Seal encrypts a secret of another feature (a webhook's signing secret)
// under the encryption key, as the settings' own are; key names it in
// errors and must be listed in secretNames. Errors: as seal.
func (s *Service) Seal(plain, key string) (string, error) { return s.seal(plain, key) }

// Open decrypts what Seal sealed. Errors: as open.
func (s *Service) Open(enc, key string) (string, error) { return s.open(enc, key) }

// secretNames name each secret, and what fails without it, in messages.
var secretNames = map[string][2]string{
	"webhook.secret":    {"a webhook's signing secret", "Webhooks cannot be delivered"},
	"hook.secret":       {"an inbound hook's verification secret", "Inbound hooks cannot be verified"},
	"smtp.password":     {"the SMTP password", "Mail cannot be sent"},
	"s3.secret":         {"the S3 secret (s3.secret)", "Files on S3 cannot be reached"},
	"backups.s3.secret": {"the backups' S3 secret (backups.s3.secret)", "Backups on S3 cannot be reached"},
}

func (s *Service) decrypt(enc string) (string, error) {
	if len(s.encKey) == 0 {
		return "", errors.New("no encryption key")
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(s.encKey)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errors.New("short ciphertext")
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	return string(plain), err
}
