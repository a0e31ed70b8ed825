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

	// Auth holds the options of an auth collection; nil for other types.
	Auth *AuthOptions `json:"-"`
}

// AuthOptions are the settings of an auth collection.
type AuthOptions struct {
	AuthRule     *string      `json:"authRule"`
	ManageRule   *string      `json:"manageRule"`
	AuthToken    TokenConfig  `json:"authToken"`
	PasswordAuth PasswordAuth `json:"passwordAuth"`
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

type plainCollection Collection

// MarshalJSON writes the collection; auth options appear only on auth
// collections, and token secrets never do.
func (c Collection) MarshalJSON() ([]byte, error) {
	type out struct {
		plainCollection
		AuthRule     *string       `json:"authRule,omitempty"`
		ManageRule   *string       `json:"manageRule,omitempty"`
		AuthToken    *TokenConfig  `json:"authToken,omitempty"`
		PasswordAuth *PasswordAuth `json:"passwordAuth,omitempty"`
	}
	o := out{plainCollection: plainCollection(c)}
	if o.Fields == nil {
		o.Fields = []Field{}
	}
	if o.Indexes == nil {
		o.Indexes = []string{}
	}
	if c.Auth != nil {
		o.AuthRule, o.ManageRule = c.Auth.AuthRule, c.Auth.ManageRule
		t := c.Auth.AuthToken
		t.Secret = ""
		o.AuthToken = &t
		o.PasswordAuth = &c.Auth.PasswordAuth
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
	if c.Auth != nil {
		a := *c.Auth
		a.PasswordAuth.IdentityFields = append([]string(nil), a.PasswordAuth.IdentityFields...)
		n.Auth = &a
	}
	return &n
}
