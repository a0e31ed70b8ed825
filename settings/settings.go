// Package settings keeps the settings superusers change at runtime through
// /api/settings, in the shape PocketBase documents (meta, smtp, batch,
// trustedProxy, superuserIPs, s3, backups, logs, rateLimits) with
// Tortoise's own keys beside them (trustedProxies), and sends mail with
// them. Secrets in the settings (the SMTP password, the S3 secrets) are
// sealed with AES-GCM under the encryption key, never shown, and opened
// only for the part that uses them (SendMail, S3).
//
// What each key drives and what is only stored is listed on each type;
// docs/compatibility.md has the table for PocketBase users.
package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/store"
)

// settingsKey is the _params entry holding the settings.
const settingsKey = "settings"

// Settings are the application settings superusers change at runtime
// through /api/settings. Lists are never nil. Secrets (SMTP.Password,
// S3.Secret, Backups.S3.Secret) are empty in every Settings this package
// returns but MailSettings' and the S3 getters'.
type Settings struct {
	Meta         MetaSettings         `json:"meta"`
	SMTP         SMTPSettings         `json:"smtp"`
	Batch        BatchSettings        `json:"batch"`
	TrustedProxy TrustedProxySettings `json:"trustedProxy"`
	// SuperuserIPs lists the IPs and CIDRs superusers may call the API
	// from; a request authenticated as a superuser (token or superuser API
	// key) from any other client address is refused with 403. Empty: any
	// address. Enforced by the API.
	SuperuserIPs []string          `json:"superuserIPs"`
	S3           S3Settings        `json:"s3"`
	Backups      BackupsSettings   `json:"backups"`
	Logs         LogsSettings      `json:"logs"`
	RateLimits   RateLimitSettings `json:"rateLimits"`

	// TrustedProxies (Tortoise's own key) lists the IPs and CIDRs of the
	// reverse proxies whose forwarding headers are believed. Empty: none
	// are, and the peer address is the client.
	TrustedProxies []string `json:"trustedProxies"`
}

// MetaSettings name the application. AppURL is where links in mails
// point: it is never taken from a request's Host header. HideControls
// and AccentColor are kept for admin interfaces; Tortoise's server does
// nothing with them.
type MetaSettings struct {
	AppName       string `json:"appName"`
	AppURL        string `json:"appURL"`
	SenderName    string `json:"senderName"`
	SenderAddress string `json:"senderAddress"`
	HideControls  bool   `json:"hideControls"`
	// AccentColor is a CSS color ("#0e7a6d"), or "" for the default.
	AccentColor string `json:"accentColor"`
}

// SMTPSettings configure outgoing mail. Without them (Enabled false),
// mail goes to the dev mailbox in the data folder. Password is
// write-only: stored sealed, always shown empty.
type SMTPSettings struct {
	Enabled  bool   `json:"enabled"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
	// AuthMethod is "PLAIN" (also "", the default) or "LOGIN". Tortoise's
	// mailer authenticates with PLAIN; LOGIN is accepted and kept so that
	// PocketBase settings load, and not yet used.
	AuthMethod string `json:"authMethod"`
	// TLS connects with implicit TLS (usually port 465); otherwise the
	// connection is upgraded with STARTTLS.
	TLS       bool   `json:"tls"`
	LocalName string `json:"localName"`
}

// BatchSettings configure POST /api/batch.
type BatchSettings struct {
	// Enabled turns the batch route on (default false, as PocketBase).
	Enabled bool `json:"enabled"`
	// MaxRequests is the most requests one batch may carry (default 50).
	MaxRequests int `json:"maxRequests"`
	// Timeout is how many seconds a batch's transaction may take (default 3).
	Timeout int64 `json:"timeout"`
	// MaxBodySize is the largest batch body in bytes; 0 means
	// DefaultBatchMaxBodySize.
	MaxBodySize int64 `json:"maxBodySize"`
}

// DefaultBatchMaxBodySize is the batch body limit when MaxBodySize is 0.
const DefaultBatchMaxBodySize = 128 << 20

// TimeoutDuration returns Timeout as a duration.
func (b BatchSettings) TimeoutDuration() time.Duration {
	return time.Duration(b.Timeout) * time.Second
}

// BodyLimit returns the largest batch body accepted, in bytes.
func (b BatchSettings) BodyLimit() int64 {
	if b.MaxBodySize <= 0 {
		return DefaultBatchMaxBodySize
	}
	return b.MaxBodySize
}

// TrustedProxySettings say how the client address is read from the
// forwarding headers of a trusted proxy (see Settings.TrustedProxies,
// which names the proxies: headers are believed from them only).
type TrustedProxySettings struct {
	// Headers are the header names holding the client address, tried in
	// order ("X-Forwarded-For", "CF-Connecting-IP"). Empty:
	// X-Forwarded-For, then X-Real-IP.
	Headers []string `json:"headers"`
	// UseLeftmostIP takes the leftmost address of the header instead of
	// the rightmost one no trusted proxy vouches for. Only safe when the
	// proxy replaces the header rather than appending to what the client
	// sent.
	UseLeftmostIP bool `json:"useLeftmostIP"`
}

// S3Settings name an S3-compatible bucket. Secret is write-only: stored
// sealed, always shown empty, opened by Service.S3 and BackupsS3.
type S3Settings struct {
	Enabled        bool   `json:"enabled"`
	Bucket         string `json:"bucket"`
	Region         string `json:"region"`
	Endpoint       string `json:"endpoint"`
	AccessKey      string `json:"accessKey"`
	Secret         string `json:"secret"`
	ForcePathStyle bool   `json:"forcePathStyle"`
}

// BackupsSettings schedule backups. Stored and validated; Tortoise does
// not make backups yet, so nothing runs them.
type BackupsSettings struct {
	// Cron is a five-field cron expression or a macro (@daily); "" turns
	// scheduled backups off.
	Cron string `json:"cron"`
	// CronMaxKeep is how many scheduled backups to keep (default 3).
	CronMaxKeep int        `json:"cronMaxKeep"`
	S3          S3Settings `json:"s3"`
}

// LogsSettings configure the request log. Stored and validated; the
// request log comes with the admin, so nothing reads them yet.
type LogsSettings struct {
	MaxDays   int  `json:"maxDays"`
	MinLevel  int  `json:"minLevel"`
	LogIP     bool `json:"logIP"`
	LogAuthID bool `json:"logAuthId"`
}

// RateLimitSettings throttle requests per client address.
//
// Rules are matched as PocketBase documents: a label is a tag
// ("users:create", "*:auth", "posts:list"), a path ("/api/batch"), a
// path prefix ending in "/" ("/api/"), optionally after a method
// ("POST /api/collections/"); the first rule whose label matches the
// request (collection tags first, then the method and path, then
// prefixes) and whose audience fits the caller applies. Superusers and
// ExcludedIPs are never limited by them.
//
// The plain labels "auth", "signup", "otp" and "reset" (Tortoise's own)
// set the per-address limit of the built-in abuse guards on logins,
// sign-ups and the mail-sending routes, which also limit per account.
type RateLimitSettings struct {
	Enabled bool `json:"enabled"`
	// ExcludedIPs are IPs and CIDRs no per-address limit applies to.
	ExcludedIPs []string        `json:"excludedIPs"`
	Rules       []RateLimitRule `json:"rules"`
}

// The audiences of a rate limit rule.
const (
	AudienceAll   = ""       // everyone
	AudienceGuest = "@guest" // callers without a valid token or API key
	AudienceAuth  = "@auth"  // callers with one
)

// RateLimitRule allows MaxRequests per Duration seconds, per client
// address, to the requests its Label matches, for its Audience.
type RateLimitRule struct {
	Label       string `json:"label"`
	Audience    string `json:"audience"`
	Duration    int64  `json:"duration"`
	MaxRequests int    `json:"maxRequests"`
}

// DurationTime returns Duration as a time.Duration.
func (r RateLimitRule) DurationTime() time.Duration {
	return time.Duration(r.Duration) * time.Second
}

func defaultSettings() Settings {
	return Settings{
		Meta:         MetaSettings{AppName: "Tortoise", AppURL: "http://127.0.0.1:8090", SenderName: "Tortoise", SenderAddress: "no-reply@example.com"},
		SMTP:         SMTPSettings{Port: 587},
		Batch:        BatchSettings{MaxRequests: 50, Timeout: 3},
		TrustedProxy: TrustedProxySettings{Headers: []string{}},
		SuperuserIPs: []string{},
		Backups:      BackupsSettings{CronMaxKeep: 3},
		Logs:         LogsSettings{MaxDays: 5, LogIP: true},
		RateLimits: RateLimitSettings{Enabled: true, ExcludedIPs: []string{}, Rules: []RateLimitRule{
			{Label: "auth", MaxRequests: 10, Duration: 60},
			{Label: "signup", MaxRequests: 5, Duration: 60},
		}},
		TrustedProxies: []string{},
	}
}

// fillLists makes nil lists empty, so they encode as [].
func (st *Settings) fillLists() {
	for _, l := range []*[]string{&st.TrustedProxy.Headers, &st.SuperuserIPs, &st.RateLimits.ExcludedIPs, &st.TrustedProxies} {
		if *l == nil {
			*l = []string{}
		}
	}
	if st.RateLimits.Rules == nil {
		st.RateLimits.Rules = []RateLimitRule{}
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
	current   current // the cached settings (current.go)
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
	// Refresh is how long Current may serve settings read from the store
	// before reading them again, which is how long a change made by
	// another process on the same database takes to apply here (default
	// DefaultRefresh; changes made through this Service apply at once).
	Refresh time.Duration
}

// DefaultRefresh is Options.Refresh unless set.
const DefaultRefresh = time.Second

// New returns the settings service over st.
func New(st store.Store, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if k := opts.EncryptionKey; len(k) != 0 && len(k) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(k))
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	s := &Service{store: st, log: opts.Logger, encKey: opts.EncryptionKey, mailbox: opts.Mailbox, templates: tmail.NewTemplates()}
	s.current.refresh = opts.Refresh
	return s, nil
}

// Mailbox returns the dev mailbox (nil if there is none).
func (s *Service) Mailbox() *tmail.Mailbox { return s.mailbox }

// storedSettings is how settings are kept: secrets sealed apart, their
// places in Settings empty.
type storedSettings struct {
	Settings
	SMTPPasswordEnc    string `json:"smtpPasswordEnc,omitempty"`
	S3SecretEnc        string `json:"s3SecretEnc,omitempty"`
	BackupsS3SecretEnc string `json:"backupsS3SecretEnc,omitempty"`
}

// Settings returns the current settings, read from the store, without
// their secrets: what superusers see. It never decrypts, so a lost or
// changed encryption key cannot make it fail. Code on a request's path
// uses Current instead, which does not read the store each time.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st, err := loadSettings(ctx, s.store)
	if err != nil {
		return Settings{}, err
	}
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
	if st.SMTPPasswordEnc != "" && out.SMTP.Enabled {
		pw, err := s.open(st.SMTPPasswordEnc, "smtp.password")
		if err != nil {
			return Settings{}, err
		}
		out.SMTP.Password = pw
	}
	return out, nil
}

// loadSettings reads the stored settings over the defaults, so keys
// added since they were saved get their defaults; secrets are blanked.
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
	st.fillLists()
	st.blankSecrets()
	return st, nil
}

// blankSecrets empties the places of the secrets.
func (st *Settings) blankSecrets() {
	st.SMTP.Password, st.S3.Secret, st.Backups.S3.Secret = "", "", ""
}

// HasEncryptedSecrets reports whether the settings in r hold secrets
// encrypted with the encryption key (the SMTP password, the S3 secrets):
// the key cannot be replaced by a new one without losing them. Errors:
// those of store.Reader.Param but KindNotFound, and KindInternal.
func HasEncryptedSecrets(ctx context.Context, r store.Reader) (bool, error) {
	st, err := loadSettings(ctx, r)
	if err != nil {
		return false, err
	}
	return st.SMTPPasswordEnc != "" || st.S3SecretEnc != "" || st.BackupsS3SecretEnc != "", nil
}

// UpdateSettings merges a partial JSON object into the settings (objects
// merge key by key, lists and values replace), validates and saves them,
// and returns them as Settings does. A secret in the patch is sealed; an
// absent or empty one, or the mask "******" (what older PocketBase
// showed), keeps the stored secret, so settings read, changed and sent
// back whole keep their secrets. Errors: KindInvalid naming the key at
// fault (nothing is saved then), those of the store.
func (s *Service) UpdateSettings(ctx context.Context, patch []byte) (Settings, error) {
	return s.UpdateSettingsChecked(ctx, patch, nil)
}

// UpdateSettingsChecked is UpdateSettings with check run on the settings
// as they would be saved, after they validated, inside the write: an error
// from it saves nothing and is returned. The API uses it to refuse
// superuserIPs that would lock out the superuser making the change.
func (s *Service) UpdateSettingsChecked(ctx context.Context, patch []byte, check func(next *Settings) error) (Settings, error) {
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
		next.fillLists()
		out := storedSettings{SMTPPasswordEnc: cur.SMTPPasswordEnc, S3SecretEnc: cur.S3SecretEnc, BackupsS3SecretEnc: cur.BackupsS3SecretEnc}
		secrets := []struct {
			key   string
			value string
			enc   *string
		}{
			{"smtp.password", next.SMTP.Password, &out.SMTPPasswordEnc},
			{"s3.secret", next.S3.Secret, &out.S3SecretEnc},
			{"backups.s3.secret", next.Backups.S3.Secret, &out.BackupsS3SecretEnc},
		}
		have := map[string]bool{}
		for _, sec := range secrets {
			have[sec.key] = !keepsSecret(sec.value) || *sec.enc != ""
		}
		if err := next.validate(have); err != nil {
			return err
		}
		for _, sec := range secrets {
			if keepsSecret(sec.value) {
				continue
			}
			enc, err := s.seal(sec.value, sec.key)
			if err != nil {
				return err
			}
			*sec.enc = enc
		}
		next.blankSecrets()
		if check != nil {
			if err := check(&next); err != nil {
				return err
			}
		}
		out.Settings = next
		raw, err := json.Marshal(out)
		if err != nil {
			return core.Internal(err, "encode settings")
		}
		return tx.SetParam(ctx, settingsKey, raw)
	})
	s.current.invalidate()
	if err != nil {
		return Settings{}, err
	}
	return s.Settings(ctx)
}

// mask is what older PocketBase versions showed in place of a secret;
// sent back, it means "unchanged".
const mask = "******"

// keepsSecret reports whether v, in a secret's place, keeps the stored one.
func keepsSecret(v string) bool { return v == "" || v == mask }

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
