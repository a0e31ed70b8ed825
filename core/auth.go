package core

import "fmt"

// Token lifetimes of auth collections, in seconds.
const (
	SuperuserTokenTTL = 86400     // 1 day
	AuthTokenTTL      = 604800    // 7 days
	MaxTokenTTL       = 315360000 // 10 years
)

// AuthSystemFields are the fields every auth collection has.
func AuthSystemFields() []Field {
	return []Field{
		{ID: "password901924565", Name: "password", Type: FieldPassword, System: true, Hidden: true, Required: true, Min: f64(8), Max: f64(71)},
		{ID: "text2504183744", Name: "tokenKey", Type: FieldText, System: true, Hidden: true, Required: true, Min: f64(30), Max: f64(60), AutogeneratePattern: "[a-zA-Z0-9]{50}"},
		{ID: "email3885137012", Name: "email", Type: FieldEmail, System: true, Required: true},
		{ID: "bool1547992806", Name: "emailVisibility", Type: FieldBool, System: true},
		{ID: "bool256245529", Name: "verified", Type: FieldBool, System: true},
	}
}

// AuthIndexes are the unique indexes of an auth collection's identities;
// emails are unique regardless of case, as people type them.
func AuthIndexes(name string) []string {
	return []string{
		fmt.Sprintf("CREATE UNIQUE INDEX `idx_tokenKey_%s` ON `%s` (`tokenKey`)", name, name),
		fmt.Sprintf("CREATE UNIQUE INDEX `idx_email_%s` ON `%s` (`email` COLLATE NOCASE)", name, name),
	}
}

// DefaultAuthOptions are a new auth collection's options.
func DefaultAuthOptions() AuthOptions {
	return AuthOptions{
		PasswordAuth:       PasswordAuth{Enabled: true, IdentityFields: []string{"email"}},
		OTP:                OTPOptions{Duration: 180, Length: 8},
		MFA:                MFAOptions{Duration: 1800},
		OAuth2:             OAuth2Options{MappedFields: map[string]string{}},
		AuthToken:          TokenConfig{Duration: AuthTokenTTL},
		PasswordResetToken: TokenConfig{Duration: 1800},
		EmailChangeToken:   TokenConfig{Duration: 1800},
		VerificationToken:  TokenConfig{Duration: 259200},
		FileToken:          TokenConfig{Duration: 180},
	}
}

// KeepSecrets carries the token secrets and OAuth2 client secrets of old
// into opts where the decoded body left them empty, and creates the ones
// still missing.
func (opts *AuthOptions) KeepSecrets(old *AuthOptions) {
	pairs := []struct{ dst, src *TokenConfig }{
		{&opts.AuthToken, &old.AuthToken}, {&opts.PasswordResetToken, &old.PasswordResetToken},
		{&opts.EmailChangeToken, &old.EmailChangeToken}, {&opts.VerificationToken, &old.VerificationToken},
		{&opts.FileToken, &old.FileToken},
	}
	for _, p := range pairs {
		if p.dst.Secret == "" {
			p.dst.Secret = p.src.Secret
		}
		if p.dst.Secret == "" {
			p.dst.Secret = RandomString(50, Alphanumeric)
		}
	}
	for i := range opts.OAuth2.Providers {
		p := &opts.OAuth2.Providers[i]
		if p.ClientSecret != "" {
			continue
		}
		for _, op := range old.OAuth2.Providers {
			if op.Name == p.Name {
				p.ClientSecret = op.ClientSecret
			}
		}
	}
}
