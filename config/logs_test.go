package config_test

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/config"
)

func TestLogsDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, env string
		days      int
		on        bool
		err       string
	}{
		{name: "default", days: 7, on: true},
		{name: "a month", env: "30", days: 30, on: true},
		{name: "zero turns it off", env: "0", days: -1},
		{name: "negative", env: "-3", err: "TORTOISE_LOGS_DAYS"},
		{name: "not a number", env: "week", err: "TORTOISE_LOGS_DAYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Config{}.FromEnv(func(k string) (string, bool) {
				return tc.env, k == "TORTOISE_LOGS_DAYS" && tc.env != ""
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%q: %v, want an error naming %s", tc.env, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c = c.WithDefaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.LogsDays != tc.days || c.LogsRequests() != tc.on {
				t.Errorf("%q: days %d, on %v; want %d, %v", tc.env, c.LogsDays, c.LogsRequests(), tc.days, tc.on)
			}
		})
	}
	if err := (config.Config{LogsDays: -2}).WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "logs days") {
		t.Errorf("LogsDays -2: %v", err)
	}
}
