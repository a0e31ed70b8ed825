// Package settings keeps the settings superusers change at runtime (app
// name and URL, SMTP, trusted proxies, rate limits) and sends mail with
// them. Secrets in the settings (the SMTP password) are sealed with
// AES-GCM under the encryption key and opened only to send mail.
package settings

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/store"
)

// settingsKey is the _params entry holding the settings.
const settingsKey = "settings"

// Settings are the application settings superusers change at runtime
// through /api/settings. The zero value is filled by defaultSettings.
type Settings struct {
	Meta MetaSettings `json:"meta"`
	SMTP SMTPSettings `json:"smtp"`
	// TrustedProxies lists the IPs and CIDRs of reverse proxies whose
	// X-Forwarded-For and X-Real-IP headers are believed. Empty: none are,
	// and the peer address is the client.
	TrustedProxies []string          `json:"trustedProxies"`
	RateLimits     RateLimitSettings `json:"rateLimits"`
}

// MetaSettings name the application. AppURL is where links in mails point:
// it is never taken from a request's Host header.
type MetaSettings struct {
	AppName       string `json:"appName"`
	AppURL        string `json:"appURL"`
	SenderName    string `json:"senderName"`
	SenderAddress string `json:"senderAddress"`
}

// SMTPSettings configure outgoing mail. Without them, mail goes to the dev
// mailbox in the data folder. Password is write-only: stored encrypted,
// never returned.
type SMTPSettings struct {
	Enabled   bool   `json:"enabled"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	TLS       bool   `json:"tls"`
	LocalName string `json:"localName"`
}

// RateLimitSettings throttle requests per client. Rules are matched by
// label ("auth", "signup", ...).
type RateLimitSettings struct {
	Enabled bool            `json:"enabled"`
	Rules   []RateLimitRule `json:"rules"`
}

// RateLimitRule allows MaxRequests per Duration seconds for one label.
type RateLimitRule struct {
	Label       string `json:"label"`
	MaxRequests int    `json:"maxRequests"`
	Duration    int    `json:"duration"`
}

func defaultSettings() Settings {
	return Settings{
		Meta:           MetaSettings{AppName: "Tortoise", AppURL: "http://127.0.0.1:8090", SenderName: "Tortoise", SenderAddress: "no-reply@example.com"},
		SMTP:           SMTPSettings{Port: 587},
		TrustedProxies: []string{},
		RateLimits: RateLimitSettings{Enabled: true, Rules: []RateLimitRule{
			{Label: "auth", MaxRequests: 10, Duration: 60},
			{Label: "signup", MaxRequests: 5, Duration: 60},
		}},
	}
}

// Service reads and changes the settings in a store, and sends mail.
type Service struct {
	store  store.Store
	log    *slog.Logger
	encKey []byte
	// mailbox receives mail while no SMTP server is configured.
	mailbox   *tmail.Mailbox
	templates *tmail.Templates
}

// Options configure a Service.
type Options struct {
	Logger *slog.Logger // default: slog.Default()
	// EncryptionKey (32 bytes) seals secrets in the settings, such as the
	// SMTP password. Without it such secrets cannot be saved.
	EncryptionKey []byte
	// Mailbox is the dev mailbox mail goes to while no SMTP server is
	// configured (nil: such mail fails as unavailable).
	Mailbox *tmail.Mailbox
}

// New returns the settings service over st.
func New(st store.Store, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if k := opts.EncryptionKey; len(k) != 0 && len(k) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(k))
	}
	return &Service{store: st, log: opts.Logger, encKey: opts.EncryptionKey, mailbox: opts.Mailbox, templates: tmail.NewTemplates()}, nil
}

// Mailbox returns the dev mailbox (nil if there is none).
func (s *Service) Mailbox() *tmail.Mailbox { return s.mailbox }

// storedSettings is how settings are kept: the SMTP password encrypted.
type storedSettings struct {
	Settings
	SMTPPasswordEnc string `json:"smtpPasswordEnc,omitempty"`
}

// Settings returns the current settings without their secrets (the SMTP
// password is empty): what superusers see, and all that anything but
// sending mail needs. It never decrypts, so a lost or changed encryption
// key cannot make it fail.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st, err := loadSettings(ctx, s.store)
	if err != nil {
		return Settings{}, err
	}
	st.Settings.SMTP.Password = ""
	return st.Settings, nil
}

// MailSettings returns the current settings for sending mail: when SMTP is
// enabled, with the SMTP password decrypted. Errors: KindUnavailable when
// the stored password cannot be decrypted with the encryption key (it was
// saved under another key), logged, so that mail fails with the reason and
// nothing else does.
func (s *Service) MailSettings(ctx context.Context) (Settings, error) {
	st, err := loadSettings(ctx, s.store)
	if err != nil {
		return Settings{}, err
	}
	out := st.Settings
	out.SMTP.Password = ""
	if st.SMTPPasswordEnc != "" && out.SMTP.Enabled {
		pw, err := s.decrypt(st.SMTPPasswordEnc)
		if err != nil {
			s.log.Error("the SMTP password in the settings cannot be decrypted: the encryption key (TORTOISE_ENCRYPTION_KEY, or .encryption_key in the data folder) is not the one it was saved with; restore that key, or enter the SMTP password again in the settings",
				"err", err)
			return Settings{}, core.Wrap(core.KindUnavailable, err,
				"Mail cannot be sent: the SMTP password in the settings cannot be decrypted with the current encryption key (see the server log).")
		}
		out.SMTP.Password = pw
	}
	return out, nil
}

func loadSettings(ctx context.Context, r store.Reader) (storedSettings, error) {
	st := storedSettings{Settings: defaultSettings()}
	raw, err := r.Param(ctx, settingsKey)
	if core.KindOf(err) == core.KindNotFound {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, core.Internal(err, "decode stored settings")
	}
	return st, nil
}

// HasEncryptedSecrets reports whether the settings in r hold secrets
// encrypted with the encryption key (the SMTP password): the key cannot be
// replaced by a new one without losing them. Errors: those of
// store.Reader.Param but KindNotFound, and KindInternal.
func HasEncryptedSecrets(ctx context.Context, r store.Reader) (bool, error) {
	st, err := loadSettings(ctx, r)
	if err != nil {
		return false, err
	}
	return st.SMTPPasswordEnc != "", nil
}

// UpdateSettings merges a partial JSON object into the settings (objects
// merge key by key, lists and values replace), validates and saves them.
// An SMTP password in the patch is encrypted; an absent one is kept.
func (s *Service) UpdateSettings(ctx context.Context, patch []byte) (Settings, error) {
	var in map[string]any
	if err := json.Unmarshal(patch, &in); err != nil || in == nil {
		return Settings{}, core.Invalid("The request body must be a JSON object.")
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		cur, err := loadSettings(ctx, tx)
		if err != nil {
			return err
		}
		base, _ := json.Marshal(cur.Settings)
		var merged map[string]any
		_ = json.Unmarshal(base, &merged)
		mergeJSON(merged, in)
		b, _ := json.Marshal(merged)
		var next Settings
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&next); err != nil {
			return settingsDecodeError(err)
		}
		if err := next.validate(); err != nil {
			return err
		}
		out := storedSettings{Settings: next, SMTPPasswordEnc: cur.SMTPPasswordEnc}
		if pw := next.SMTP.Password; pw != "" {
			enc, err := s.encrypt(pw)
			if err != nil {
				return err
			}
			out.SMTPPasswordEnc = enc
		}
		out.SMTP.Password = ""
		raw, err := json.Marshal(out)
		if err != nil {
			return core.Internal(err, "encode settings")
		}
		return tx.SetParam(ctx, settingsKey, raw)
	})
	if err != nil {
		return Settings{}, err
	}
	return s.Settings(ctx)
}

// mergeJSON merges src into dst: objects key by key, anything else replaced.
func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeJSON(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// settingsDecodeError names the JSON field and type at fault, never a Go type.
func settingsDecodeError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		name := strings.Trim(strings.TrimPrefix(msg, "unknown field "), `"`)
		return core.FieldInvalid(name, "validation_unknown_field", fmt.Sprintf("Unknown setting %q.", name))
	}
	return core.DecodeError(err, "settings")
}

func (st *Settings) validate() error {
	errs := core.ValidationErrors{}
	m := &st.Meta
	if strings.TrimSpace(m.AppName) == "" || len(m.AppName) > 255 {
		errs.Add("meta.appName", "validation_required", "Give the app a name (at most 255 characters).")
	}
	if u, err := url.Parse(m.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add("meta.appURL", "validation_is_url", "Must be an absolute http(s) URL.")
	}
	if a, err := mail.ParseAddress(m.SenderAddress); err != nil || a.Address != m.SenderAddress {
		errs.Add("meta.senderAddress", "validation_is_email", "Must be a valid email address.")
	}
	if strings.ContainsAny(m.SenderName, "\r\n") {
		errs.Add("meta.senderName", "validation_invalid_value", "Must be one line.")
	}
	if st.SMTP.Enabled {
		if strings.TrimSpace(st.SMTP.Host) == "" || strings.ContainsAny(st.SMTP.Host, " /\r\n") {
			errs.Add("smtp.host", "validation_required", "Give the SMTP server's host name.")
		}
		if st.SMTP.Port < 1 || st.SMTP.Port > 65535 {
			errs.Add("smtp.port", "validation_invalid_port", "Must be between 1 and 65535.")
		}
	}
	for i, p := range st.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs.Add(fmt.Sprintf("trustedProxies.%d", i), "validation_invalid_ip", fmt.Sprintf("%q is not an IP address or CIDR.", p))
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range st.RateLimits.Rules {
		key := fmt.Sprintf("rateLimits.rules.%d", i)
		switch {
		case r.Label == "" || seen[r.Label]:
			errs.Add(key+".label", "validation_invalid_label", "Labels must be set and unique.")
		case r.MaxRequests < 1:
			errs.Add(key+".maxRequests", "validation_min_number_constraint", "Must be at least 1.")
		case r.Duration < 1 || r.Duration > 86400:
			errs.Add(key+".duration", "validation_invalid_duration", "Must be between 1 and 86400 seconds.")
		}
		seen[r.Label] = true
	}
	return errs.Err()
}

// encrypt seals a secret with AES-GCM under the encryption key.
func (s *Service) encrypt(plain string) (string, error) {
	if len(s.encKey) == 0 {
		return "", core.FieldInvalid("smtp.password", "validation_no_encryption_key",
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
