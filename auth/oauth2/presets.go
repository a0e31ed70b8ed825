package oauth2

import "slices"

// Preset describes a provider name Tortoise knows, with what configuring
// it takes. The collections API lists them (GET
// /api/collections/meta/oauth2-providers) in PocketBase's shape — name,
// displayName, logo — with Tortoise's own details beside.
type Preset struct {
	// Name is the value of a provider's "name" setting.
	Name string `json:"name"`
	// DisplayName is shown to users unless the configuration names another.
	DisplayName string `json:"displayName"`
	// Logo is part of PocketBase's shape; Tortoise ships no logos, so it
	// is always "".
	Logo string `json:"logo"`
	// OpenID reports an OpenID Connect provider: the login is proven by a
	// verified ID token. GitHub is plain OAuth2 (its REST API says who
	// logged in).
	OpenID bool `json:"openid"`
	// PKCE reports that logins use PKCE (S256) by default; PKCEOptional
	// that a configuration may turn it off ("pkce": false).
	PKCE         bool `json:"pkce"`
	PKCEOptional bool `json:"pkceOptional"`
	// DiscoveryURL is the issuer used when the configuration gives none
	// (microsoft's follows extra.tenant, "common" by default); "" when
	// "discoveryURL" is required.
	DiscoveryURL string `json:"discoveryURL"`
	// Required lists the settings a configuration must give.
	Required []string `json:"required"`
	// Extra lists the keys of the "extra" setting the provider reads;
	// "auth:NAME" stands for any authorization URL parameter.
	Extra []string `json:"extra"`
}

// Presets returns the provider names Tortoise knows, in a fixed order. Any
// other name that Validate accepts is a generic OpenID Connect provider
// configured like "oidc" (PocketBase's "oidc2", "oidc3").
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.Required = slices.Clone(p.Required)
		p.Extra = slices.Clone(p.Extra)
		out[i] = p
	}
	return out
}

var (
	credentials  = []string{"clientId", "clientSecret"}
	withIssuer   = []string{"clientId", "clientSecret", "discoveryURL"}
	commonExtras = []string{ExtraTokenAuthStyle, ExtraAuthParamPrefix + "NAME"}
	oidcExtras   = append(slices.Clone(commonExtras), ExtraPKCEEnforced)
)

var presets = []Preset{
	{Name: OIDC, DisplayName: "OpenID Connect", OpenID: true, PKCE: true, Required: withIssuer, Extra: oidcExtras},
	{Name: Google, DisplayName: "Google", OpenID: true, PKCE: true, DiscoveryURL: googleIssuer, Required: credentials, Extra: oidcExtras},
	{Name: GitHub, DisplayName: "GitHub", PKCE: true, PKCEOptional: true, Required: credentials,
		Extra: append(slices.Clone(commonExtras), ExtraEmailsURL)},
	{Name: Microsoft, DisplayName: "Microsoft", OpenID: true, PKCE: true, DiscoveryURL: "https://login.microsoftonline.com/common/v2.0",
		Required: credentials, Extra: append(slices.Clone(oidcExtras), ExtraTenant)},
	{Name: Apple, DisplayName: "Apple", OpenID: true, PKCE: true, DiscoveryURL: appleIssuer, Required: credentials, Extra: oidcExtras},
	{Name: Auth0, DisplayName: "Auth0", OpenID: true, PKCE: true, Required: withIssuer, Extra: oidcExtras},
}

// presetDisplayName is the display name of preset name, or "".
func presetDisplayName(name string) string {
	for _, p := range presets {
		if p.Name == name {
			return p.DisplayName
		}
	}
	return ""
}
