package settings

import (
	"strings"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	st := defaultSettings()
	if err := st.validate(map[string]bool{}); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

func TestCronProblem(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"0 3 * * *", "*/15 * * * *", "0 0-23/2 1,15 * 1-5", "@daily", " @hourly ", "59 23 31 12 6", "0-59/59 * * * *"} {
		if p := cronProblem(expr); p != "" {
			t.Errorf("%q refused: %s", expr, p)
		}
	}
	for _, expr := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
		"*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *", "-1 * * * *", "+1 * * * *", "@reboot", "*/61 * * * *", "1- * * * *"} {
		if cronProblem(expr) == "" {
			t.Errorf("%q accepted", expr)
		}
	}
}

// FuzzCronProblem: any text is judged without panicking, and what passes
// is a macro or five fields of digits, '*', ',', '-' and '/'.
func FuzzCronProblem(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "*/15 * * * *", "@daily", "1-5/2 0 1 1 0", "99999999999999999999 * * * *", "*/-1 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if cronProblem(expr) != "" {
			return
		}
		if cronMacros[strings.TrimSpace(expr)] {
			return
		}
		fields := strings.Fields(expr)
		if len(fields) != 5 {
			t.Fatalf("%q accepted with %d fields", expr, len(fields))
		}
		for _, f := range fields {
			if strings.Trim(f, "0123456789*,-/") != "" {
				t.Fatalf("%q accepted with field %q", expr, f)
			}
		}
	})
}

func TestRuleLabelValid(t *testing.T) {
	t.Parallel()
	for _, l := range []string{"auth", "users:create", "*:auth", "/api/", "/api/batch", "POST /api/collections/", "GET /", "test_a"} {
		if !RuleLabelValid(l) {
			t.Errorf("%q refused", l)
		}
	}
	for _, l := range []string{"", "a b", "*:", ":x", "users:", "/api?x", "POST api", "POST  /api", "a:b:c", "**:x", "/a b"} {
		if RuleLabelValid(l) {
			t.Errorf("%q accepted", l)
		}
	}
}

func TestParseAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.0.0.1": "10.0.0.1/32", " 10.1.2.3/8 ": "10.0.0.0/8", "::1": "::1/128",
		"::ffff:192.0.2.1": "192.0.2.1/32", "::ffff:10.0.0.0/104": "10.0.0.0/8",
	} {
		p, ok := ParseAddress(in)
		if !ok || p.String() != want {
			t.Errorf("ParseAddress(%q) = %v %v, want %s", in, p, ok, want)
		}
	}
	for _, in := range []string{"", "x", "10.0.0.0/33", "10.0.0.1:80", "::ffff:0:0/80"} {
		if _, ok := ParseAddress(in); ok {
			t.Errorf("ParseAddress(%q) accepted", in)
		}
	}
}

// TestBatchTimeoutBounded: a timeout of seconds past what a time.Duration
// holds wrapped around (4394217352542426 s became 1.024 µs, failing every
// batch); past an hour it is refused.
func TestBatchTimeoutBounded(t *testing.T) {
	t.Parallel()
	for timeout, ok := range map[int64]bool{1: true, 3: true, maxBatchTimeout: true, maxBatchTimeout + 1: false, 4394217352542426: false, -1: false} {
		st := defaultSettings()
		st.Batch.Enabled, st.Batch.Timeout = true, timeout
		if err := st.validate(map[string]bool{}); (err == nil) != ok {
			t.Errorf("timeout %d: %v", timeout, err)
		}
	}
}

// TestAppURLBuildsLinks: the settings took application URLs the mail
// links refuse (a query, a fragment, credentials, port 99999), and every
// verification and reset mail then went unsent with the API answering 204.
func TestAppURLBuildsLinks(t *testing.T) {
	t.Parallel()
	for u, ok := range map[string]bool{"https://example.com": true, "http://127.0.0.1:8090": true, "https://example.com/app/": true,
		"https://example.com/?a=b": false, "https://user:pw@example.com": false, "https://example.com/#x": false,
		"https://example.com:99999": false, "https://example.com:": false} {
		st := defaultSettings()
		st.Meta.AppURL = u
		if err := st.validate(map[string]bool{}); (err == nil) != ok {
			t.Errorf("appURL %q: %v", u, err)
		}
	}
}
