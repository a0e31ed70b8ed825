package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
)

func TestServerLimitsFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TORTOISE_READ_HEADER_TIMEOUT": "5s",
		"TORTOISE_READ_TIMEOUT":        "20m",
		"TORTOISE_WRITE_TIMEOUT":       "30m",
		"TORTOISE_IDLE_TIMEOUT":        "90s",
		"TORTOISE_MAX_CONNS_PER_IP":    "-1",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := config.Config{}.FromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if c.ReadHeaderTimeout != 5*time.Second || c.ReadTimeout != 20*time.Minute || c.WriteTimeout != 30*time.Minute ||
		c.IdleTimeout != 90*time.Second || c.MaxConnsPerIP != -1 {
		t.Errorf("from env: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}

	d := config.Config{}.WithDefaults()
	if d.ReadHeaderTimeout != 10*time.Second || d.ReadTimeout != 10*time.Minute || d.WriteTimeout != 15*time.Minute ||
		d.IdleTimeout != 2*time.Minute || d.MaxConnsPerIP != 256 {
		t.Errorf("defaults: %+v", d)
	}

	for name, bad := range map[string]string{
		"TORTOISE_READ_TIMEOUT":     "10",
		"TORTOISE_IDLE_TIMEOUT":     "soon",
		"TORTOISE_MAX_CONNS_PER_IP": "many",
	} {
		_, err := config.Config{}.FromEnv(func(k string) (string, bool) { return bad, k == name })
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v", name, bad, err)
		}
	}
	for _, c := range []config.Config{{ReadTimeout: -time.Second}, {MaxConnsPerIP: -2}} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
