package guard

import (
	"errors"
	"fmt"
	"time"
)

// Route labels: the first part of a limiter key, naming the group of routes a
// Limits applies to.
const (
	LabelAuth   = "auth"   // auth-with-password, auth-with-otp, auth-with-oauth2
	LabelSignup = "signup" // record create on an auth collection
	LabelOTP    = "otp"    // request-otp (sends mail)
	LabelReset  = "reset"  // request-password-reset, request-verification, request-email-change (send mail)
)

// Limits are the two rules for one group of routes: one checked per client
// address (IPKey) and one per account (AccountKey). A zero Rule does not
// limit; Policy.WithDefaults fills zero rules in.
type Limits struct {
	PerIP      Rule
	PerAccount Rule
}

// Policy maps route labels to Limits. Defaults, each a burst then a steady
// refill (see Limiter):
//
//	Auth    per IP 10/1m    per account 10/10m
//	Signup  per IP 10/1h    per account  3/1h
//	OTP     per IP  5/10m   per account  3/15m
//	Reset   per IP  5/10m   per account  3/15m
//
// Auth per account is the guard against online password guessing from many
// addresses: ten tries cover typos, after which one a minute bounds guesses
// to about 1,440 a day per account, while an attacker exhausting a victim's
// allowance delays them by minutes, not locks them out. The mail-sending
// routes are limited per account mostly so the server cannot be used to
// flood one inbox.
type Policy struct {
	Auth   Limits // LabelAuth; default 10/1m per IP, 10/10m per account
	Signup Limits // LabelSignup; default 10/1h per IP, 3/1h per email
	OTP    Limits // LabelOTP; default 5/10m per IP, 3/15m per account
	Reset  Limits // LabelReset; default 5/10m per IP, 3/15m per account

	// Disabled turns all limits off (For returns zero Limits); default false.
	Disabled bool
}

// DefaultPolicy returns the policy with every default filled in.
func DefaultPolicy() Policy { return Policy{}.WithDefaults() }

// WithDefaults returns p with every zero Rule replaced by its default.
func (p Policy) WithDefaults() Policy {
	fill := func(r *Rule, limit int, window time.Duration) {
		if *r == (Rule{}) {
			*r = Rule{Limit: limit, Window: window}
		}
	}
	fill(&p.Auth.PerIP, 10, time.Minute)
	fill(&p.Auth.PerAccount, 10, 10*time.Minute)
	fill(&p.Signup.PerIP, 10, time.Hour)
	fill(&p.Signup.PerAccount, 3, time.Hour)
	fill(&p.OTP.PerIP, 5, 10*time.Minute)
	fill(&p.OTP.PerAccount, 3, 15*time.Minute)
	fill(&p.Reset.PerIP, 5, 10*time.Minute)
	fill(&p.Reset.PerAccount, 3, 15*time.Minute)
	return p
}

// Validate reports every rule that does not limit, naming it, e.g.
// "guard: policy Auth.PerIP: limit must be at least 1, got 0". Call it after
// WithDefaults. A window under a second is refused too, since Retry-After
// counts whole seconds.
func (p Policy) Validate() error {
	var errs []error
	check := func(name string, r Rule) {
		err := r.Validate()
		if err == nil && r.Window < time.Second {
			err = fmt.Errorf("window must be at least 1s, got %s", r.Window)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("guard: policy %s: %w", name, err))
		}
	}
	for _, l := range p.all() {
		check(l.name+".PerIP", l.lim.PerIP)
		check(l.name+".PerAccount", l.lim.PerAccount)
	}
	return errors.Join(errs...)
}

// For returns the Limits for a route label (LabelAuth, ...). ok is false for
// an unknown label. When p.Disabled the Limits are zero, which limit nothing.
func (p Policy) For(label string) (lim Limits, ok bool) {
	for _, l := range p.all() {
		if l.label == label {
			if p.Disabled {
				return Limits{}, true
			}
			return l.lim, true
		}
	}
	return Limits{}, false
}

type namedLimits struct {
	name, label string
	lim         Limits
}

func (p Policy) all() [4]namedLimits {
	return [4]namedLimits{
		{"Auth", LabelAuth, p.Auth},
		{"Signup", LabelSignup, p.Signup},
		{"OTP", LabelOTP, p.OTP},
		{"Reset", LabelReset, p.Reset},
	}
}
