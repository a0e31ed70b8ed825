package guard

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	want := map[string]Limits{
		LabelAuth:   {Rule{10, time.Minute}, Rule{10, 10 * time.Minute}},
		LabelSignup: {Rule{10, time.Hour}, Rule{3, time.Hour}},
		LabelOTP:    {Rule{5, 10 * time.Minute}, Rule{3, 15 * time.Minute}},
		LabelReset:  {Rule{5, 10 * time.Minute}, Rule{3, 15 * time.Minute}},
	}
	for label, w := range want {
		got, ok := p.For(label)
		if !ok || got != w {
			t.Errorf("For(%q) = %+v, %v; want %+v", label, got, ok, w)
		}
	}
	if _, ok := p.For("nope"); ok {
		t.Error(`For("nope") ok`)
	}
}

func TestPolicyWithDefaultsKeepsSetRules(t *testing.T) {
	t.Parallel()
	p := Policy{Auth: Limits{PerIP: Rule{Limit: 100, Window: time.Second}}}.WithDefaults()
	if p.Auth.PerIP != (Rule{100, time.Second}) {
		t.Fatalf("set rule overwritten: %+v", p.Auth.PerIP)
	}
	if p.Auth.PerAccount != (Rule{10, 10 * time.Minute}) {
		t.Fatalf("zero rule not defaulted: %+v", p.Auth.PerAccount)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Policy)
		want   []string
	}{
		{"zero limit", func(p *Policy) { p.Auth.PerIP.Limit = 0 }, []string{"guard: policy Auth.PerIP: limit must be at least 1, got 0"}},
		{"negative window", func(p *Policy) { p.OTP.PerAccount.Window = -time.Second }, []string{"OTP.PerAccount: window must be positive"}},
		{"sub-second window", func(p *Policy) { p.Reset.PerIP.Window = time.Millisecond }, []string{"Reset.PerIP: window must be at least 1s"}},
		{"all reported", func(p *Policy) { p.Signup.PerIP.Limit = -1; p.Signup.PerAccount.Window = 0 }, []string{"Signup.PerIP", "Signup.PerAccount"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := DefaultPolicy()
			tt.modify(&p)
			err := p.Validate()
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPolicyDisabled(t *testing.T) {
	t.Parallel()
	p := Policy{Disabled: true}.WithDefaults()
	lim, ok := p.For(LabelAuth)
	if !ok || lim != (Limits{}) {
		t.Fatalf("For on a disabled policy = %+v, %v; want zero limits", lim, ok)
	}
	l := NewLimiter(10)
	for range 100 {
		if ok, _ := l.Allow("k", lim.PerIP, t0); !ok {
			t.Fatal("disabled policy limited")
		}
	}
}
