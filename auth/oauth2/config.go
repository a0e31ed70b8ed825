package oauth2

import (
	"fmt"

	"github.com/tortoise-dev/tortoise/core"
)

// ConfigOf reads a provider's configuration as an auth collection keeps it.
func ConfigOf(pc *core.OAuth2Provider) ProviderConfig {
	extra := map[string]string{}
	for k, v := range pc.Extra {
		extra[k] = fmt.Sprint(v)
	}
	return ProviderConfig{
		Name: pc.Name, DisplayName: pc.DisplayName, ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
		DiscoveryURL: pc.DiscoveryURL, AuthURL: pc.AuthURL, TokenURL: pc.TokenURL, UserInfoURL: pc.UserInfoURL,
		PKCE: pc.PKCE, Extra: extra,
	}
}
