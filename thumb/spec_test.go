package thumb

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in   string
		want Spec
	}{
		{"100x300", Spec{W: 100, H: 300}},
		{"100x300t", Spec{W: 100, H: 300, Mode: Top}},
		{"100x300b", Spec{W: 100, H: 300, Mode: Bottom}},
		{"100x300f", Spec{W: 100, H: 300, Mode: Fit}},
		{"0x300", Spec{H: 300}},
		{"100x0", Spec{W: 100}},
		{"0x300f", Spec{H: 300, Mode: Fit}}, // PocketBase's pattern allows it; the mode is moot
		{"1x1", Spec{W: 1, H: 1}},
		{"4096x4096", Spec{W: MaxSide, H: MaxSide}},
		{"0100x050", Spec{W: 100, H: 50}}, // leading zeros, as PocketBase's \d+
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSpec(tc.in)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if again, err := ParseSpec(got.String()); err != nil || again != got {
				t.Fatalf("ParseSpec(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}

	invalid := []struct {
		in, why string // why: a part of the error message
	}{
		{"", "expected WxH"},
		{"x", "expected WxH"},
		{"100", "expected WxH"},
		{"100x", "expected WxH"},
		{"x100", "expected WxH"},
		{"100*100", "expected WxH"},
		{"100X100", "expected WxH"},
		{" 100x100", "expected WxH"},
		{"-1x100", "expected WxH"},
		{"+1x100", "expected WxH"},
		{"100x-1", "expected WxH"},
		{"１00x100", "expected WxH"}, // a full-width digit
		{"100x100 ", "suffix"},
		{"100x100\n", "suffix"},
		{"100x100z", "suffix"},
		{"100x100tt", "suffix"},
		{"100x100T", "suffix"},
		{"100x100x100", "suffix"},
		{"0x0", "both be zero"},
		{"0x0t", "both be zero"},
		{"0x0b", "both be zero"},
		{"0x0f", "both be zero"},
		{"000x00", "both be zero"},
		{"4097x1", "at most 4096"},
		{"1x4097", "at most 4096"},
		{"0x99999999999999999999999999", "at most 4096"},
	}
	for _, tc := range invalid {
		t.Run("invalid/"+tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSpec(tc.in)
			if err == nil {
				t.Fatalf("ParseSpec(%q) = %+v, want an error", tc.in, got)
			}
			if core.KindOf(err) != core.KindInvalid {
				t.Errorf("kind = %v, want invalid", core.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "thumb size") {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
}

func TestSpecCheck(t *testing.T) {
	t.Parallel()
	for _, s := range []Spec{{}, {W: -1, H: 10}, {W: 10, H: MaxSide + 1}, {W: 10, H: 10, Mode: 'x'}} {
		if err := s.check(); core.KindOf(err) != core.KindInvalid {
			t.Errorf("%+v.check() = %v, want an invalid error", s, err)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"100x300", "0x300f", "100x0", "0x0", "4097x1", "1x1t", "100x100z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSpec(s)
		if err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("ParseSpec(%q): kind %v, want invalid", s, core.KindOf(err))
			}
			return
		}
		if err := spec.check(); err != nil {
			t.Fatalf("ParseSpec(%q) = %+v, which fails check: %v", s, spec, err)
		}
		if again, err := ParseSpec(spec.String()); err != nil || again != spec {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
