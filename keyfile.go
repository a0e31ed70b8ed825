package tortoise

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/fsutil"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
)

// keyFileName is the file in the data folder that keeps the encryption key
// of a SQLite deployment started without TORTOISE_ENCRYPTION_KEY.
const keyFileName = ".encryption_key"

// encryptionKey derives the 32-byte key for secrets in the settings from
// the configured key, or, on SQLite without one, from the key file in the
// data folder. PostgreSQL without a configured key has none (nil): secrets
// cannot be saved there.
//
// The key file is created, with a random key readable by the owner only,
// when it is missing and st holds no secrets yet (a new data folder, or
// one that never saved one): nothing is lost then. It is written durably
// (fsutil.WriteFileDurable), so a power cut cannot leave it empty once a
// secret may have been encrypted with it. Anything else refuses to start
// rather than run with a key the secrets were not saved with: an empty or
// blank file (a key derived from nothing is no secret, and not the one the
// secrets were saved with), an unreadable one, and a missing one while st
// holds secrets. A blank configured key is refused too. The errors name the
// file and what to do.
func encryptionKey(ctx context.Context, cfg config.Config, st store.Reader) ([]byte, error) {
	secret := cfg.EncryptionKey
	if secret != "" && strings.TrimSpace(secret) == "" {
		return nil, errors.New("TORTOISE_ENCRYPTION_KEY is blank: set it to the key the secrets in the settings were saved with, or unset it")
	}
	if secret == "" {
		if cfg.IsPostgres() {
			return nil, nil
		}
		var err error
		if secret, err = readKeyFile(ctx, filepath.Join(cfg.Dir, keyFileName), st); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:], nil
}

// lostKeyHelp tells what to do when the key file is lost or damaged.
const lostKeyHelp = "restore it from a backup, or set TORTOISE_ENCRYPTION_KEY to the key it held. " +
	"If the key is lost, write a new one into the file (for example: openssl rand -hex 32 > %s) and enter the SMTP password again in the settings: " +
	"the secrets saved with the old key cannot be read any more"

// readKeyFile returns the key kept in path, creating the file if it is
// missing and st holds no secrets (see encryptionKey).
func readKeyFile(ctx context.Context, path string, st store.Reader) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret := strings.TrimSpace(string(b))
		if secret == "" {
			return "", fmt.Errorf("the encryption key file %s is empty (cut off by a crash?): "+lostKeyHelp, path, path)
		}
		return secret, nil
	case errors.Is(err, os.ErrNotExist):
		secrets, err := settings.HasEncryptedSecrets(ctx, st)
		if err != nil {
			return "", fmt.Errorf("look for secrets in the settings: %w", err)
		}
		if secrets {
			return "", fmt.Errorf("the encryption key file %s is missing, but the settings hold secrets saved with it: "+lostKeyHelp, path, path)
		}
		secret := rand.Text() + rand.Text()
		if err := fsutil.WriteFileDurable(path, []byte(secret+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("create the encryption key file: %w", err)
		}
		return secret, nil
	default:
		return "", fmt.Errorf("read the encryption key file: %w (make it readable by the user running Tortoise, or set TORTOISE_ENCRYPTION_KEY to the key it holds)", err)
	}
}
