package oauth2_test

import (
	"context"
	"fmt"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
)

// Example shows both halves of auth-with-oauth2 as a server without
// per-login state would run them: the nonce is derived from the PKCE
// verifier the client keeps and sends back with the code.
func Example() {
	ctx := context.Background()
	p, err := oauth2.New(ctx, oauth2.ProviderConfig{
		Name:         "google",
		ClientID:     "CLIENT_ID.apps.googleusercontent.com",
		ClientSecret: "CLIENT_SECRET",
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// auth-methods: everything the client needs to start the login.
	verifier, challenge := oauth2.NewPKCE()
	state := oauth2.NewState()
	authURL := p.AuthCodeURL(state, oauth2.NonceForVerifier(verifier), challenge, "https://app.example.com/redirect")
	fmt.Println(p.Name(), p.DisplayName(), state, authURL, verifier, challenge)

	// auth-with-oauth2: the client posts the code and its verifier back.
	code := "CODE_FROM_THE_REDIRECT"
	user, err := p.Exchange(ctx, code, verifier, "https://app.example.com/redirect", oauth2.VerifierNonce(verifier))
	if err != nil {
		fmt.Println(err) // a *core.Error: KindInvalid or KindUnavailable
		return
	}
	fmt.Println(user.ID, user.Email, user.EmailVerified)
}
