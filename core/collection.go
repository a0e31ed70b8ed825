package core

import (
	"encoding/json"
	"strings"
)

// CollectionType is base, auth or view.
type CollectionType string

// The collection types. View collections are reserved for a later release.
const (
	TypeBase CollectionType = "base"
	TypeAuth CollectionType = "auth"
	TypeView CollectionType = "view"
)

// SuperusersName is the system auth collection of superusers.
const SuperusersName = "_superusers"

// Collection is a user-defined (or system) table: its fields, indexes and
// access rules. A nil rule means superusers only; "" means everyone.
type Collection struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       CollectionType `json:"type"`
	System     bool           `json:"system"`
	Fields     []Field        `json:"fields"`
	Indexes    []string       `json:"indexes"`
	ListRule   *string        `json:"listRule"`
	ViewRule   *string        `json:"viewRule"`
	CreateRule *string        `json:"createRule"`
	UpdateRule *string        `json:"updateRule"`
	DeleteRule *string        `json:"deleteRule"`
	Created    string         `json:"created"`
	Updated    string         `json:"updated"`
	// ViewQuery is the SELECT a view collection's records come from; ""
	// for other types.
	ViewQuery string `json:"viewQuery,omitempty"`
	// Search makes the collection's text searchable (see SearchOptions);
	// nil when it is not.
	Search *SearchOptions `json:"search,omitempty"`

	// Auth holds the options of an auth collection; nil for other types.
	Auth *AuthOptions `json:"-"`
}

// AuthOptions are the settings of an auth collection, in PocketBase's
// shape. Secrets (token secrets, OAuth2 client secrets) are kept but never
// shown: see Public.
type AuthOptions struct {
	AuthRule     *string       `json:"authRule"`
	ManageRule   *string       `json:"manageRule"`
	AuthAlert    AuthAlert     `json:"authAlert"`
	OAuth2       OAuth2Options `json:"oauth2"`
	PasswordAuth PasswordAuth  `json:"passwordAuth"`
	MFA          MFAOptions    `json:"mfa"`
	OTP          OTPOptions    `json:"otp"`

	AuthToken          TokenConfig `json:"authToken"`
	PasswordResetToken TokenConfig `json:"passwordResetToken"`
	EmailChangeToken   TokenConfig `json:"emailChangeToken"`
	VerificationToken  TokenConfig `json:"verificationToken"`
	FileToken          TokenConfig `json:"fileToken"`
}

// TokenConfig sets how a kind of token is signed and how long it lives.
type TokenConfig struct {
	Secret   string `json:"secret,omitempty"`
	Duration int64  `json:"duration"` // seconds
}

// PasswordAuth enables identity+password login on an auth collection.
type PasswordAuth struct {
	Enabled        bool     `json:"enabled"`
	IdentityFields []string `json:"identityFields"`
}

// AuthAlert mails a user when their account logs in from a new device.
type AuthAlert struct {
	Enabled bool `json:"enabled"`
}

// OTPOptions enable one-time passwords sent by mail.
type OTPOptions struct {
	Enabled  bool  `json:"enabled"`
	Duration int64 `json:"duration"` // seconds a code stays valid
	Length   int   `json:"length"`   // digits
}

// MFAOptions require a second method after the first succeeds.
type MFAOptions struct {
	Enabled  bool   `json:"enabled"`
	Duration int64  `json:"duration"` // seconds to complete the second method
	Rule     string `json:"rule"`     // a filter choosing whom MFA applies to ("" = all)
}

// OAuth2Options enable login through OAuth2/OpenID Connect providers.
type OAuth2Options struct {
	Enabled      bool              `json:"enabled"`
	MappedFields map[string]string `json:"mappedFields"`
	Providers    []OAuth2Provider  `json:"providers"`
}

// OAuth2Provider configures one provider of an auth collection.
type OAuth2Provider struct {
	Name         string         `json:"name"`
	DisplayName  string         `json:"displayName"`
	ClientID     string         `json:"clientId"`
	ClientSecret string         `json:"clientSecret,omitempty"`
	DiscoveryURL string         `json:"discoveryURL,omitempty"`
	AuthURL      string         `json:"authURL,omitempty"`
	TokenURL     string         `json:"tokenURL,omitempty"`
	UserInfoURL  string         `json:"userInfoURL,omitempty"`
	PKCE         *bool          `json:"pkce,omitempty"`
	Extra        map[string]any `json:"extra,omitempty"`
}

// Public returns a copy without secrets, fit to show.
func (a AuthOptions) Public() AuthOptions {
	for _, t := range []*TokenConfig{&a.AuthToken, &a.PasswordResetToken, &a.EmailChangeToken, &a.VerificationToken, &a.FileToken} {
		t.Secret = ""
	}
	a.OAuth2.Providers = append([]OAuth2Provider(nil), a.OAuth2.Providers...)
	for i := range a.OAuth2.Providers {
		a.OAuth2.Providers[i].ClientSecret = ""
	}
	if a.OAuth2.Providers == nil {
		a.OAuth2.Providers = []OAuth2Provider{}
	}
	if a.OAuth2.MappedFields == nil {
		a.OAuth2.MappedFields = map[string]string{}
	}
	if a.PasswordAuth.IdentityFields == nil {
		a.PasswordAuth.IdentityFields = []string{}
	}
	return a
}

type plainCollection Collection

// MarshalJSON writes the collection; auth options appear inline only on
// auth collections, and without their secrets.
func (c Collection) MarshalJSON() ([]byte, error) {
	type out struct {
		plainCollection
		*AuthOptions
	}
	o := out{plainCollection: plainCollection(c)}
	if o.Fields == nil {
		o.Fields = []Field{}
	}
	if o.Indexes == nil {
		o.Indexes = []string{}
	}
	if c.Auth != nil {
		pub := c.Auth.Public()
		o.AuthOptions = &pub
	}
	return json.Marshal(o)
}

// StoredJSON encodes the collection with everything it holds, secrets
// included, for the store's own collections table.
func (c *Collection) StoredJSON() ([]byte, error) {
	type stored struct {
		plainCollection
		Auth *AuthOptions `json:"auth,omitempty"`
	}
	return json.Marshal(stored{plainCollection: plainCollection(*c), Auth: c.Auth})
}

// LoadStoredJSON decodes what StoredJSON wrote.
func LoadStoredJSON(data []byte) (*Collection, error) {
	var s struct {
		plainCollection
		Auth *AuthOptions `json:"auth,omitempty"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	c := Collection(s.plainCollection)
	c.Auth = s.Auth
	return &c, nil
}

// Field returns the named field (case-sensitive) or nil.
func (c *Collection) Field(name string) *Field {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i]
		}
	}
	return nil
}

// FieldByID returns the field with the given id or nil.
func (c *Collection) FieldByID(id string) *Field {
	for i := range c.Fields {
		if c.Fields[i].ID == id {
			return &c.Fields[i]
		}
	}
	return nil
}

// IsAuth reports whether c is an auth collection.
func (c *Collection) IsAuth() bool { return c.Type == TypeAuth }

// IsView reports whether c is a view collection: read-only records that a
// SELECT over other collections computes.
func (c *Collection) IsView() bool { return c.Type == TypeView }

// IsSystemName reports whether name is reserved for system collections.
func IsSystemName(name string) bool { return strings.HasPrefix(name, "_") }

// Clone returns a deep copy, so callers can edit without touching shared state.
func (c *Collection) Clone() *Collection {
	n := *c
	n.Fields = make([]Field, len(c.Fields))
	for i, f := range c.Fields {
		n.Fields[i] = f
		n.Fields[i].Values = append([]string(nil), f.Values...)
		n.Fields[i].MimeTypes = append([]string(nil), f.MimeTypes...)
		n.Fields[i].Thumbs = append([]string(nil), f.Thumbs...)
	}
	n.Indexes = append([]string(nil), c.Indexes...)
	if c.Search != nil {
		so := *c.Search
		so.Fields = append([]SearchField(nil), so.Fields...)
		n.Search = &so
	}
	if c.Auth != nil {
		a := *c.Auth
		a.PasswordAuth.IdentityFields = append([]string(nil), a.PasswordAuth.IdentityFields...)
		a.OAuth2.Providers = append([]OAuth2Provider(nil), a.OAuth2.Providers...)
		n.Auth = &a
	}
	return &n
}
